"""``rnnlab.watch``: an rnnlab-format ``metrics.jsonl`` from a hand-written training loop."""

from __future__ import annotations

import json
import math
import os
import pathlib
import time
from typing import Any, Optional, Union

from ._diagnosis import Diagnosis, diagnose

PathLike = Union[str, "os.PathLike[str]"]


def _num(x: Any) -> Any:
    """A number as rnnlab's log writes it: non-finite values as the strings NaN/inf/-inf."""
    if hasattr(x, "item") and callable(x.item):  # a tensor or numpy scalar
        x = x.item()
    x = float(x)
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "NaN"
    return "inf" if x > 0 else "-inf"


def grad_norm(parameters: Any) -> float:
    """The global L2 norm of the gradients of ``parameters`` (a module or an iterable of
    tensors), as ``clip_grad_norm_`` computes it before clipping; ``nan``/``inf`` when a
    gradient is not finite, 0.0 when there are none."""
    import torch

    if isinstance(parameters, torch.nn.Module):
        parameters = parameters.parameters()
    grads = [p.grad.detach() for p in parameters if getattr(p, "grad", None) is not None]
    if not grads:
        return 0.0
    foreach_norm = getattr(torch, "_foreach_norm", None)
    if foreach_norm is not None:  # one fused call per device and dtype, as clip_grad_norm_ does
        norms = [n.float().to(grads[0].device) for n in foreach_norm(grads, 2.0)]
    else:  # pragma: no cover - old PyTorch
        norms = [torch.linalg.vector_norm(g.float(), 2.0) for g in grads]
    return float(torch.linalg.vector_norm(torch.stack(norms), 2.0))


class Watch:
    """Records a training loop as rnnlab's ``metrics.jsonl`` (the schema the README gives and
    ``rnnlab`` itself writes), plus a ``meta.json`` with what is known about the run, so that
    ``rnnlab doctor``, ``rnnlab report``, ``rnnlab dashboard`` and :func:`rnnlab.diagnose` read
    it. Each line is written and flushed as it is logged: a crash loses nothing logged before.

    Use it through :func:`watch`.
    """

    def __init__(
        self,
        run_dir: PathLike,
        *,
        optimizer: Any = None,
        model: Any = None,
        vocab_size: Optional[int] = None,
        steps_per_epoch: Optional[float] = None,
        tokens_per_step: Optional[int] = None,
        clip: Optional[float] = None,
        append: bool = False,
    ) -> None:
        self.run_dir = pathlib.Path(run_dir)
        self.optimizer = optimizer
        self.model = model
        self.vocab_size = vocab_size
        self.steps_per_epoch = steps_per_epoch
        self.tokens_per_step = tokens_per_step
        self.clip = clip
        self.append = append
        self.step = 0
        """The next step's number (0-based optimizer update index, as rnnlab counts)."""
        self.tokens = 0
        self._file: Any = None
        self._start = 0.0
        self._last = 0.0

    @property
    def path(self) -> pathlib.Path:
        return self.run_dir / "metrics.jsonl"

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> "Watch":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"written_by": "rnnlab-python"}
        if self.vocab_size is not None:
            meta["vocab_size"] = int(self.vocab_size)
            meta["references"] = {"ln_vocab": math.log(self.vocab_size)} if self.vocab_size > 0 else {}
        if self.steps_per_epoch is not None:
            meta["steps_per_epoch"] = float(self.steps_per_epoch)
        (self.run_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        self._file = open(self.path, "a" if self.append else "w", encoding="utf-8")
        self._start = self._last = time.perf_counter()
        return self

    def close(self, event: str = "end", detail: str = "") -> None:
        if self._file is not None:
            self.event(event, detail, step=self.step)
            self._file.close()
            self._file = None

    def __enter__(self) -> "Watch":
        return self.open() if self._file is None else self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close("end")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted", "KeyboardInterrupt")
        else:
            self.close("interrupted", f"{exc_type.__name__}: {exc}")

    # -- records ---------------------------------------------------------------------------
    def _write(self, record: dict) -> None:
        if self._file is None:
            raise ValueError(f"{self.path}: the watch is not open (use `with rnnlab.watch(...)`)")
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def _epoch(self, step: float, epoch: Optional[float]) -> Optional[float]:
        if epoch is not None:
            return float(epoch)
        if self.steps_per_epoch:
            return step / float(self.steps_per_epoch)
        return None

    def log(
        self,
        loss: Any,
        *,
        step: Optional[int] = None,
        grad_norm: Any = None,
        lr: Optional[float] = None,
        tokens: Optional[int] = None,
        epoch: Optional[float] = None,
        clipped: Optional[bool] = None,
    ) -> dict:
        """Records one optimizer step: its loss (a float or a scalar tensor) and, when known,
        the pre-clip global gradient norm (``clip_grad_norm_`` returns it; with ``model=`` and no
        ``grad_norm`` it is computed from the model's gradients now, so call ``log`` before
        clipping), the learning rate (read from ``optimizer=`` when not given), the tokens in
        the batch (or ``tokens_per_step=``) and the epoch (or ``steps_per_epoch=``). Returns the
        record written. ``step`` defaults to one more than the last."""
        now = time.perf_counter()
        if step is None:
            step = self.step
        self.step = int(step) + 1
        if grad_norm is None and self.model is not None:
            grad_norm = _grad_norm_of(self.model)
        if lr is None and self.optimizer is not None:
            lr = float(self.optimizer.param_groups[0]["lr"])
        batch_tokens = tokens if tokens is not None else self.tokens_per_step
        if batch_tokens is not None:
            self.tokens += int(batch_tokens)
        record: dict[str, Any] = {"step": int(step)}
        ep = self._epoch(step, epoch)
        if ep is not None:
            record["epoch"] = ep
        record["tokens"] = self.tokens
        record["loss"] = _num(loss)
        if lr is not None:
            record["lr"] = float(lr)
        if grad_norm is not None:
            gn = _num(grad_norm)
            record["grad_norm"] = gn
            if clipped is None and self.clip is not None:
                clipped = not isinstance(gn, float) or gn > self.clip
        if clipped is not None:
            record["clipped"] = bool(clipped)
        dt = now - self._last
        record["tok_per_s"] = (batch_tokens or 0) / dt if dt > 0 else 0.0
        record["time_s"] = now - self._start
        self._last = now
        self._write(record)
        return record

    def eval(self, val_loss: Any, *, step: Optional[int] = None, epoch: Optional[float] = None) -> dict:
        """Records a validation loss (nats per token) after ``step`` updates (default: the
        updates logged so far), with its perplexity and bits per token."""
        step = self.step if step is None else int(step)
        v = float(val_loss.item() if hasattr(val_loss, "item") else val_loss)
        record: dict[str, Any] = {"step": step}
        ep = self._epoch(step, epoch)
        if ep is not None:
            record["epoch"] = ep
        record["tokens"] = self.tokens
        record["val_loss"] = _num(v)
        record["val_ppl"] = _num(math.exp(v) if v < 700 else math.inf)
        record["val_bpc"] = _num(v / math.log(2))
        record["time_s"] = time.perf_counter() - self._start
        self._write(record)
        return record

    def event(self, event: str, detail: str = "", *, step: Optional[int] = None) -> dict:
        """Records something the loop did (``checkpoint``, ``lr_reduced``, ``guard_skip``…);
        the doctor and the pictures mark it."""
        record = {"step": self.step if step is None else int(step), "event": str(event), "detail": str(detail)}
        self._write(record)
        return record

    def diagnose(self, **kwargs: Any) -> Diagnosis:
        """The doctor's diagnosis of what was logged so far."""
        if self._file is not None:
            self._file.flush()
        return diagnose(self.run_dir, **kwargs)


def _grad_norm_of(model: Any) -> float:
    return grad_norm(model)


def watch(
    run_dir: PathLike,
    *,
    optimizer: Any = None,
    model: Any = None,
    vocab_size: Optional[int] = None,
    steps_per_epoch: Optional[float] = None,
    tokens_per_step: Optional[int] = None,
    clip: Optional[float] = None,
    append: bool = False,
) -> Watch:
    """A context manager that records a hand-written loop as an rnnlab run folder::

        with rnnlab.watch("runs/mine", optimizer=opt, vocab_size=65) as w:
            for batch in data:
                loss = model(batch)
                loss.backward()
                gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # pre-clip norm
                opt.step(); opt.zero_grad()
                w.log(loss, grad_norm=gn)
                if w.step % 100 == 0:
                    w.eval(evaluate(model))
        print(w.diagnose())

    It writes ``run_dir/metrics.jsonl`` (step, epoch, tokens, loss, lr, grad_norm, clipped,
    tok_per_s, time_s per step; val_loss, val_ppl, val_bpc per evaluation; events, and ``end``
    or ``interrupted`` on leaving) and ``run_dir/meta.json``, which ``rnnlab doctor``,
    ``rnnlab report`` and ``rnnlab dashboard`` read.
    """
    return Watch(
        run_dir,
        optimizer=optimizer,
        model=model,
        vocab_size=vocab_size,
        steps_per_epoch=steps_per_epoch,
        tokens_per_step=tokens_per_step,
        clip=clip,
        append=append,
    )
