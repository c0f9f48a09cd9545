"""``rnnlab.diagnose`` and what it returns."""

from __future__ import annotations

import html
import json
import math
import os
import pathlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import _rnnlab

PathLike = Union[str, "os.PathLike[str]"]
Source = Any  # a path, paths, a mapping of columns, a DataFrame, or (step, loss) pairs


@dataclass(frozen=True)
class Finding:
    """One problem (or note) the doctor found: the fields of ``rnnlab doctor --json``."""

    kind: str
    """``spike``, ``divergence``, ``non_finite``, ``overfitting``, … (the README lists them)."""
    severity: str
    """``info``, ``warning`` or ``error``."""
    start_step: Optional[float]
    end_step: Optional[float]
    peak_step: Optional[float]
    summary: str
    """One sentence with numbers."""
    evidence: dict
    """The statistics and reference levels used, by name."""
    advice: str
    """Concrete next steps."""
    extra: dict = field(default_factory=dict)
    """Fields the JSON has beyond these (newer doctors may add some)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Finding":
        known = {k: d.get(k) for k in _FINDING_FIELDS}
        known["evidence"] = dict(known["evidence"] or {})
        extra = {k: v for k, v in d.items() if k not in _FINDING_FIELDS}
        return cls(**known, extra=extra)

    @property
    def step(self) -> Optional[float]:
        """Where to look: the peak, else the start."""
        return self.peak_step if self.peak_step is not None else self.start_step


_FINDING_FIELDS = (
    "kind",
    "severity",
    "start_step",
    "end_step",
    "peak_step",
    "summary",
    "evidence",
    "advice",
)


@dataclass(frozen=True)
class References:
    """Loss levels the data allows, in nats per token (``None`` when unknown)."""

    ln_vocab: Optional[float] = None
    unigram: Optional[float] = None
    bigram: Optional[float] = None
    floor: Optional[float] = None


@dataclass(frozen=True)
class SeriesInfo:
    """What the run's curves hold."""

    points: int = 0
    val_points: int = 0
    """Validation points read (0 when there is no validation curve)."""
    has_val: bool = False
    has_lr: bool = False
    has_grad_norm: bool = False
    steps: Optional[tuple] = None
    """The training curve's first and last step, as read."""
    columns: Optional[dict] = None
    """Which column or tag each series was read from (``{"train_loss": "loss", ...}``)."""


class Diagnosis:
    """The doctor's answer about one run: a verdict, findings, and their renderings.

    ``str(d)`` is the terminal report, ``d.to_json()`` exactly ``rnnlab doctor --json``,
    ``d.to_markdown()`` exactly ``rnnlab doctor --markdown``. In Jupyter a ``Diagnosis`` shows
    its verdict, findings and plot.
    """

    __slots__ = ("_raw", "_json")

    def __init__(self, raw: "_rnnlab.RawDiagnosis") -> None:
        self._raw = raw
        self._json: Optional[dict] = None

    def _data(self) -> dict:
        if self._json is None:
            self._json = json.loads(self._raw.to_json())
        return self._json

    @property
    def name(self) -> str:
        """The run's name (file or folder name, or the ``name`` given)."""
        return self._raw.name

    @property
    def verdict(self) -> str:
        """``healthy`` or ``unhealthy`` (or another verdict the doctor gives)."""
        return self._raw.verdict

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    @property
    def findings(self) -> list[Finding]:
        return [Finding.from_dict(f) for f in self._data().get("findings", [])]

    @property
    def references(self) -> References:
        r = self._data().get("references") or {}
        return References(**{k: r.get(k) for k in ("ln_vocab", "unigram", "bigram", "floor")})

    @property
    def series(self) -> SeriesInfo:
        s = self._data().get("series") or {}
        info = {k: s[k] for k in ("points", "val_points", "has_val", "has_lr", "has_grad_norm", "columns") if k in s}
        if s.get("steps") is not None:
            info["steps"] = tuple(s["steps"])
        return SeriesInfo(**info)

    @property
    def reasons(self) -> list[str]:
        """Why the doctor judged as it did, in sentences."""
        from_json = self._data().get("reasons")
        if isinstance(from_json, list):
            return [r if isinstance(r, str) else json.dumps(r) for r in from_json]
        return list(self._raw.reasons())

    @property
    def warnings(self) -> list[str]:
        """What the reader warned about while loading the curves (the CLI prints these as
        ``warning: …``; :func:`diagnose` also issues them as Python warnings)."""
        return list(self._raw.warnings())

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict:
        """The JSON as Python objects."""
        return json.loads(self._raw.to_json())

    def to_json(self) -> str:
        """Exactly what ``rnnlab doctor --json`` prints (without the final newline)."""
        return self._raw.to_json()

    def to_markdown(self) -> str:
        """Exactly what ``rnnlab doctor --markdown`` prints: for issues and notebooks."""
        return self._raw.to_markdown()

    def to_terminal(self) -> str:
        return self._raw.to_terminal()

    def train_loss(self) -> list[tuple[float, float]]:
        """The training-loss points the doctor read, as ``(step, loss)`` pairs."""
        return self._raw.train_loss()

    def plot(
        self,
        path: Optional[PathLike] = None,
        *,
        format: str = "svg",
        smooth: float = 0.9,
        log_x: bool = False,
        log_y: bool = False,
        width: int = 1200,
        height: int = 720,
        title: Optional[str] = None,
    ) -> Union[str, bytes, pathlib.Path]:
        """The loss chart with the findings marked, as ``rnnlab plot`` draws it.

        With ``path``, writes SVG or PNG by the file's extension and returns the path; without,
        returns the SVG text (``format="svg"``) or the PNG bytes (``format="png"``).
        """
        opts = dict(smooth=smooth, log_x=log_x, log_y=log_y, width=width, height=height, title=title)
        if path is not None:
            self._raw.write_plot(os.fspath(path), **opts)
            return pathlib.Path(path)
        if format == "svg":
            return self._raw.svg(**opts)
        if format == "png":
            return self._raw.png(**opts)
        raise ValueError(f"format must be 'svg' or 'png', not {format!r}")

    def report_html(self, title: Optional[str] = None) -> str:
        """The self-contained HTML report page as text."""
        return self._raw.report_html(title=title)

    def report(self, path: PathLike, *, title: Optional[str] = None) -> pathlib.Path:
        """Writes the self-contained, zoomable HTML report (``rnnlab report``) to ``path``."""
        page = self._raw.report_html(title=title)
        path = pathlib.Path(path)
        path.write_text(page, encoding="utf-8")
        return path

    def __str__(self) -> str:
        return self._raw.to_terminal()

    def __repr__(self) -> str:
        where = ", ".join(f"{f.kind}@{_step(f.step)}" for f in self.findings)
        return f"<Diagnosis {self.name!r}: {self.verdict}{' — ' + where if where else ''}>"

    def _repr_svg_(self) -> str:
        return self._raw.svg(width=900, height=480)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(f.severity),
                html.escape(f.kind),
                html.escape(_steps(f)),
                html.escape(f.summary),
                html.escape(f.advice),
            )
            for f in self.findings
        )
        table = (
            "<table><thead><tr><th>severity</th><th>kind</th><th>steps</th><th>summary</th>"
            f"<th>fix</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else "<p>No findings.</p>"
        )
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        colour = {"healthy": "#1a7f37", "unhealthy": "#cf222e"}.get(self.verdict, "#9a6700")
        try:
            svg = self._repr_svg_()
        except ValueError:  # nothing finite to draw
            svg = ""
        return (
            f'<div class="rnnlab-diagnosis"><h3>{html.escape(self.name)}: '
            f'<span style="color:{colour}">{html.escape(self.verdict)}</span></h3>'
            f"{'<ul>' + reasons + '</ul>' if reasons else ''}{table}{svg}</div>"
        )


def _step(s: Optional[float]) -> str:
    if s is None:
        return "—"
    return str(int(s)) if float(s).is_integer() else str(s)


def _steps(f: Finding) -> str:
    if f.start_step is not None and f.end_step is not None and f.start_step != f.end_step:
        return f"{_step(f.start_step)}–{_step(f.end_step)}"
    return _step(f.peak_step if f.peak_step is not None else f.start_step)


def _number(value: Any, column: str, row: int) -> Optional[float]:
    if value is None:
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"column {column!r}, row {row}: {value!r} is not a number") from None


def _to_list(values: Any) -> list:
    if hasattr(values, "tolist") and callable(values.tolist):  # numpy arrays, tensors, Series
        return values.tolist()
    return list(values)


def _columns_of_mapping(data: Mapping[str, Any]) -> list[tuple[str, list[Optional[float]]]]:
    columns = []
    for name, values in data.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"column {name!r} is not a list of numbers")
        columns.append((str(name), [_number(v, str(name), i) for i, v in enumerate(_to_list(values))]))
    return columns


def _columns_of_records(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Optional[float]]]]:
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if v is None or isinstance(v, (int, float)) or hasattr(v, "item"):
                names.setdefault(str(k))
    return [
        (n, [_number(r.get(n), n, i) for i, r in enumerate(records)])
        for n in names
    ]


def _is_dataframe(obj: Any, library: str) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] == library and hasattr(obj, "columns")


def _columns_of_pandas(df: Any) -> list[tuple[str, list[Optional[float]]]]:
    if not any(str(c).lower() in ("step", "global_step", "steps") for c in df.columns) and df.index.name:
        df = df.reset_index()
    columns = []
    for name in df.columns:
        series = df[name]
        try:
            values = series.astype("float64").tolist()
        except (TypeError, ValueError):
            continue  # text, timestamps: not a curve
        # pandas has one spelling for "no value here" and "NaN": a missing cell, as `to_csv` writes it.
        columns.append((str(name), [None if math.isnan(v) else v for v in values]))
    return columns


def _columns_of_polars(df: Any) -> list[tuple[str, list[Optional[float]]]]:
    columns = []
    for name in df.columns:
        series = df.get_column(name)
        if not series.dtype.is_numeric():
            continue
        # polars keeps null (no value) apart from NaN (a non-finite value): both survive.
        columns.append((str(name), [None if v is None else float(v) for v in series.to_list()]))
    return columns


def _is_pathlike(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def diagnose(
    source: Source,
    *,
    vocab_size: Optional[int] = None,
    steps_per_epoch: Optional[float] = None,
    corpus: Optional[PathLike] = None,
    tokenizer: str = "char",
    name: Optional[str] = None,
    step_col: Optional[str] = None,
    loss_col: Optional[str] = None,
    val_col: Optional[str] = None,
    lr_col: Optional[str] = None,
    grad_col: Optional[str] = None,
    pattern: Optional[str] = None,
) -> Diagnosis:
    """Is this loss normal? Reads a run's curves and diagnoses them, as ``rnnlab doctor`` does.

    ``source`` is one of:

    - a path (str or ``os.PathLike``) to anything ``rnnlab doctor`` reads: an rnnlab run folder
      or ``metrics.jsonl``, CSV/TSV, TensorBoard event files or folders, a Hugging Face
      ``trainer_state.json`` or output folder, Lightning's ``metrics.csv``, W&B exports, text
      logs; or a list of such paths, read as one run (e.g. ``train/`` and ``val/`` event folders);
    - a mapping of columns, ``{"step": [...], "loss": [...], "val_loss": [...]}`` (any header
      name a CSV may use; ``None`` is a missing value, ``float("nan")`` a NaN loss);
    - a pandas or polars DataFrame (pandas' NaN is a missing cell, as ``to_csv`` writes it);
    - a list of ``(step, loss)`` pairs, or a list of dicts (rows, like ``log_history``).

    The keyword arguments are the CLI's flags: ``vocab_size`` (gives ln V, the loss a fresh
    model starts near), ``steps_per_epoch``, ``corpus`` (a training text whose reference levels
    are computed, with ``tokenizer="char"``), the column overrides and the text-log ``pattern``.

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for input the doctor
    cannot read, with the message the CLI prints.
    """
    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        steps_per_epoch=None if steps_per_epoch is None else float(steps_per_epoch),
        corpus=None if corpus is None else os.fspath(corpus),
        tokenizer=tokenizer,
        step_col=step_col,
        loss_col=loss_col,
        val_col=val_col,
        lr_col=lr_col,
        grad_col=grad_col,
    )
    if vocab_size is not None and (isinstance(vocab_size, bool) or int(vocab_size) != vocab_size or vocab_size < 0):
        raise ValueError(f"vocab_size must be a non-negative integer, not {vocab_size!r}")
    if _is_pathlike(source):
        return _warned(Diagnosis(_rnnlab.diagnose_paths([os.fspath(source)], pattern=pattern, **common)))
    if pattern is not None:
        raise ValueError("pattern applies to text logs: give a path")
    label = name or "data"
    if isinstance(source, Mapping):
        columns = _columns_of_mapping(source)
    elif _is_dataframe(source, "pandas"):
        columns = _columns_of_pandas(source)
    elif _is_dataframe(source, "polars"):
        columns = _columns_of_polars(source)
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, bytearray)):
        items = list(source)
        if items and all(_is_pathlike(x) for x in items):
            return _warned(Diagnosis(_rnnlab.diagnose_paths([os.fspath(x) for x in items], **common)))
        if items and all(isinstance(x, Mapping) for x in items):
            columns = _columns_of_records(items)
        else:
            steps, losses = [], []
            for i, item in enumerate(items):
                try:
                    step, loss = item
                except (TypeError, ValueError):
                    raise ValueError(
                        f"item {i} is {item!r}: expected (step, loss) pairs, row dicts or paths"
                    ) from None
                steps.append(_number(step, "step", i))
                losses.append(_number(loss, "loss", i))
            columns = [("step", steps), ("loss", losses)]
    else:
        raise TypeError(
            "source must be a path, a list of paths, a mapping of columns, a pandas or polars "
            f"DataFrame, or a list of (step, loss) pairs; got {type(source).__name__}"
        )
    return _warned(Diagnosis(_rnnlab.diagnose_columns(columns, name=label, **common)))


def _warned(d: Diagnosis) -> Diagnosis:
    for w in d.warnings:
        warnings.warn(w, RnnlabWarning, stacklevel=3)
    return d


class RnnlabWarning(UserWarning):
    """Something the doctor's reader noticed in the input (the CLI's ``warning: …`` lines)."""


def diagnose_text(data: Union[str, bytes], file_name: str, **kwargs: Any) -> Diagnosis:
    """Diagnoses a log held in memory, read as a file called ``file_name`` would be (the name
    picks the format: ``trainer_state.json``, ``metrics.jsonl``, ``x.csv``, a text log…)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if "corpus" in kwargs and kwargs["corpus"] is not None:
        kwargs["corpus"] = os.fspath(kwargs["corpus"])
    return Diagnosis(_rnnlab.diagnose_bytes(bytes(data), file_name, **kwargs))
