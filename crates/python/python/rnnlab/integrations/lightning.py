"""``DoctorCallback`` for Lightning (``lightning.pytorch``, or the older ``pytorch_lightning``).

::

    from rnnlab.integrations.lightning import DoctorCallback
    trainer = L.Trainer(callbacks=[DoctorCallback(stop_on="error")])
    trainer.fit(model, data)   # doctor.md, report.html (and metrics.jsonl) land in trainer.log_dir

The callback records every optimizer step's training loss (what ``training_step`` returns, or the
logged ``train_loss``/``loss`` metric), the learning rate, the global gradient norm before
clipping and the logged ``val_loss``; every ``log_every_n_steps`` it diagnoses them, keeps the
result in ``.diagnosis``, says when a new problem appears and (with ``stop_on``) stops the
Trainer. Steps are 0-based optimizer-update indices, as Lightning's ``metrics.csv`` numbers them.
"""

from __future__ import annotations

import math
import os
import pathlib
import time
from typing import Any, Optional, Sequence

try:  # the framework: imported with this module only
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the older package name
    from pytorch_lightning import Callback  # type: ignore[no-redef]

from .. import _rnnlab
from .._diagnosis import Diagnosis
from .._watch import grad_norm as _grad_norm
from ._common import check_stop_on, describe, say, stopping_finding, write_reports

__all__ = ["DoctorCallback"]

_LOSS_KEYS = ("train_loss_step", "train_loss", "train/loss", "loss")
_VAL_KEYS = ("val_loss", "val/loss", "valid_loss", "validation_loss", "val_loss_epoch")


def _scalar(x: Any) -> Optional[float]:
    if x is None:
        return None
    if isinstance(x, dict):
        x = x.get("loss")
        if x is None:
            return None
    try:
        return float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError):
        return None


def _first(metrics: Any, keys: Sequence[str]) -> Optional[float]:
    for k in keys:
        if k in metrics:
            return _scalar(metrics[k])
    return None


class DoctorCallback(Callback):
    """Runs rnnlab's doctor on a Lightning run as it trains.

    Args:
        stop_on: ``"error"`` stops training when the doctor finds an error (divergence, a NaN or
            infinite loss, …); ``"warning"`` also on warnings (a spike, …); ``None`` never stops.
        output_dir: where ``doctor.md``, ``report.html`` and ``metrics.jsonl`` (rnnlab's format)
            are written at the end (default: ``trainer.log_dir``, else ``default_root_dir``);
            ``write_reports=False`` writes nothing.
        every: diagnose every ``every`` optimizer steps (default: ``trainer.log_every_n_steps``).
        loss_key, val_key: the metric names to read when ``training_step`` returns no loss
            (default: the first of ``train_loss_step``, ``train_loss``, ``train/loss``, ``loss``;
            ``val_loss``, ``val/loss``, …).
        grad_norm: record the global gradient norm before clipping (one pass over the grads).
        vocab_size, steps_per_epoch, corpus: as for :func:`rnnlab.diagnose`.
        verbose: print a line when a new finding appears.

    Attributes: ``diagnosis``, ``seconds`` (time spent in the callback), ``stopped_by``,
    ``steps``, ``losses``, ``val_steps``, ``val_losses``, ``lrs``, ``grad_norms``.
    """

    def __init__(
        self,
        *,
        stop_on: Optional[str] = None,
        output_dir: Optional[os.PathLike] = None,
        write_reports: bool = True,
        every: Optional[int] = None,
        loss_key: Optional[str] = None,
        val_key: Optional[str] = None,
        grad_norm: bool = True,
        vocab_size: Optional[int] = None,
        steps_per_epoch: Optional[float] = None,
        corpus: Optional[os.PathLike] = None,
        verbose: bool = True,
    ) -> None:
        super().__init__()
        self._threshold = check_stop_on(stop_on)
        if every is not None and every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self.stop_on = stop_on
        self.output_dir = output_dir
        self.write_reports = write_reports
        self.every = every
        self.loss_keys = (loss_key,) if loss_key else _LOSS_KEYS
        self.val_keys = (val_key,) if val_key else _VAL_KEYS
        self.record_grad_norm = grad_norm
        self.options: dict[str, Any] = dict(
            vocab_size=vocab_size, steps_per_epoch=steps_per_epoch, corpus=corpus
        )
        self._raw_options: dict[str, Any] = dict(
            vocab_size=vocab_size,
            steps_per_epoch=None if steps_per_epoch is None else float(steps_per_epoch),
            corpus=None if corpus is None else os.fspath(corpus),
        )
        self.verbose = verbose
        self.diagnosis: Optional[Diagnosis] = None
        self.stopped_by = None
        self.seconds = 0.0
        self.reports: list[pathlib.Path] = []
        self.steps: list[Optional[float]] = []
        self.losses: list[Optional[float]] = []
        self.lrs: list[Optional[float]] = []
        self.grad_norms: list[Optional[float]] = []
        self.val_steps: list[float] = []
        self.val_losses: list[Optional[float]] = []
        self._pending_grad_norm: Optional[float] = None
        self._announced: set[tuple] = set()

    # -- recording -------------------------------------------------------------------------
    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if not self.record_grad_norm:
            return
        t0 = time.perf_counter()
        # Lightning calls this hook before it clips (gradient_clip_val): the pre-clip norm.
        self._pending_grad_norm = _grad_norm(pl_module)
        self.seconds += time.perf_counter() - t0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        t0 = time.perf_counter()
        try:
            if trainer.global_step == (self.steps[-1] + 1 if self.steps else 0):
                return  # no optimizer step happened (gradient accumulation)
            step = trainer.global_step - 1
            loss = _scalar(outputs)
            if loss is None:
                loss = _first(trainer.callback_metrics, self.loss_keys)
            if loss is None:
                return
            lr = None
            if trainer.optimizers:
                lr = float(trainer.optimizers[0].param_groups[0]["lr"])
            self.steps.append(float(step))
            self.losses.append(loss)
            self.lrs.append(lr)
            self.grad_norms.append(self._pending_grad_norm)
            self._pending_grad_norm = None
            every = self.every or max(1, int(getattr(trainer, "log_every_n_steps", 50) or 50))
            if len(self.steps) % every == 0:
                self._update(trainer)
        finally:
            self.seconds += time.perf_counter() - t0

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        t0 = time.perf_counter()
        v = _first(trainer.callback_metrics, self.val_keys)
        if v is not None:
            self.val_steps.append(float(trainer.global_step))
            self.val_losses.append(v)
        self.seconds += time.perf_counter() - t0

    # -- judging ---------------------------------------------------------------------------
    def columns(self) -> dict[str, list[Optional[float]]]:
        """What was recorded, as the columns :func:`rnnlab.diagnose` reads (one row per step,
        validation rows after the training rows)."""
        n, m = len(self.steps), len(self.val_steps)
        cols: dict[str, list[Optional[float]]] = {
            "step": self.steps + self.val_steps,
            "loss": self.losses + [None] * m,
            "val_loss": [None] * n + self.val_losses,
        }
        if any(x is not None for x in self.lrs):
            cols["lr"] = self.lrs + [None] * m
        if any(x is not None for x in self.grad_norms):
            cols["grad_norm"] = self.grad_norms + [None] * m
        return cols

    def _diagnose(self) -> Optional[Diagnosis]:
        if not self.steps and not self.val_steps:
            return None
        try:
            # The columns hold floats and None already: straight to the compiled reader.
            return Diagnosis(_rnnlab.diagnose_columns(list(self.columns().items()), name="lightning", **self._raw_options))
        except ValueError:
            return None

    def _update(self, trainer: Any) -> None:
        d = self._diagnose()
        if d is None:
            return
        self.diagnosis = d
        for f in d.findings:
            key = (f.kind, f.start_step)
            if f.severity != "info" and key not in self._announced:
                self._announced.add(key)
                if self.verbose:
                    say(describe(f))
        stop = stopping_finding(d, self._threshold)
        if stop is not None and self.stopped_by is None:
            self.stopped_by = stop
            trainer.should_stop = True
            say(f"stopping training (stop_on={self.stop_on!r}): {describe(stop)}")

    def _out_dir(self, trainer: Any) -> pathlib.Path:
        if self.output_dir is not None:
            return pathlib.Path(self.output_dir)
        log_dir = getattr(trainer, "log_dir", None)
        return pathlib.Path(log_dir or trainer.default_root_dir)

    def _write_metrics(self, out: pathlib.Path) -> pathlib.Path:
        from .._watch import _num
        import json

        path = out / "metrics.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for step, loss, lr, gn in zip(self.steps, self.losses, self.lrs, self.grad_norms):
                rec: dict[str, Any] = {"step": int(step), "loss": _num(loss if loss is not None else math.nan)}
                if lr is not None:
                    rec["lr"] = lr
                if gn is not None:
                    rec["grad_norm"] = _num(gn)
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            for step, v in zip(self.val_steps, self.val_losses):
                f.write(json.dumps({"step": int(step), "val_loss": _num(v)}, separators=(",", ":")) + "\n")
        return path

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        t0 = time.perf_counter()
        try:
            d = self._diagnose()
            if d is None:
                return
            self.diagnosis = d
            if self.write_reports and getattr(trainer, "is_global_zero", True):
                out = self._out_dir(trainer)
                self.reports = list(write_reports(d, out))
                self.reports.append(self._write_metrics(out))
                if self.verbose:
                    say(f"{d.verdict}; wrote {', '.join(str(p) for p in self.reports)}")
        finally:
            self.seconds += time.perf_counter() - t0
