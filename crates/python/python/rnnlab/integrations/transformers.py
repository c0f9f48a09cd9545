"""``DoctorCallback`` for the Hugging Face ``transformers.Trainer``.

::

    from rnnlab.integrations.transformers import DoctorCallback
    trainer = Trainer(..., callbacks=[DoctorCallback(stop_on="error")])
    trainer.train()   # doctor.md and report.html land in args.output_dir

At every logging step the callback diagnoses ``state.log_history`` exactly as ``rnnlab doctor``
reads the ``trainer_state.json`` the Trainer saves, keeps the result in ``.diagnosis``, says when
a new problem appears, and (with ``stop_on``) asks the Trainer to stop.

The Trainer's default ``logging_nan_inf_filter=True`` logs a NaN step's loss as if the step had
not happened; the doctor then sees only the NaN gradient norm (a warning). With
``TrainingArguments(logging_nan_inf_filter=False)`` the NaN loss itself is logged, an error.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any, Optional

from transformers import TrainerCallback  # the framework: imported with this module only

from .._diagnosis import Diagnosis, diagnose_text
from ._common import check_stop_on, describe, say, stopping_finding, write_reports

__all__ = ["DoctorCallback"]


class DoctorCallback(TrainerCallback):
    """Runs rnnlab's doctor on the Trainer's logs as training goes.

    Args:
        stop_on: ``"error"`` stops training when the doctor finds an error (divergence, a NaN or
            infinite loss, …); ``"warning"`` also on warnings (a spike, …); ``None`` never stops.
        output_dir: where ``doctor.md`` and ``report.html`` are written at the end (default:
            the Trainer's ``args.output_dir``); ``write_reports=False`` writes nothing.
        every: diagnose at every ``every``-th logging step (and always at the end).
        vocab_size, steps_per_epoch, corpus: as for :func:`rnnlab.diagnose` (ln V and the
            corpus's reference levels make the judgement sharper).
        verbose: print a line when a new finding appears.

    Attributes: ``diagnosis`` (the latest :class:`rnnlab.Diagnosis`), ``seconds`` (time spent in
    the callback), ``stopped_by`` (the finding that stopped training, if any).
    """

    def __init__(
        self,
        *,
        stop_on: Optional[str] = None,
        output_dir: Optional[os.PathLike] = None,
        write_reports: bool = True,
        every: int = 1,
        vocab_size: Optional[int] = None,
        steps_per_epoch: Optional[float] = None,
        corpus: Optional[os.PathLike] = None,
        verbose: bool = True,
    ) -> None:
        self._threshold = check_stop_on(stop_on)
        if every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self.stop_on = stop_on
        self.output_dir = output_dir
        self.write_reports = write_reports
        self.every = every
        self.options: dict[str, Any] = dict(
            vocab_size=vocab_size, steps_per_epoch=steps_per_epoch, corpus=corpus
        )
        self.verbose = verbose
        self.diagnosis: Optional[Diagnosis] = None
        self.stopped_by = None
        self.seconds = 0.0
        self.reports: list[pathlib.Path] = []
        self._logs_seen = 0
        self._announced: set[tuple] = set()

    def _diagnose(self, state: Any) -> Optional[Diagnosis]:
        if not any("loss" in e or "eval_loss" in e for e in state.log_history):
            return None
        document = {
            "log_history": state.log_history,
            "global_step": state.global_step,
            "max_steps": state.max_steps,
            "num_train_epochs": state.num_train_epochs,
        }
        # The same bytes the Trainer would save as trainer_state.json (NaN spelt as it spells it).
        text = json.dumps(document, default=float)
        try:
            return diagnose_text(text, "trainer_state.json", **self.options)
        except ValueError:
            return None  # nothing the doctor can read yet

    def _update(self, state: Any, control: Any) -> None:
        d = self._diagnose(state)
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
            control.should_training_stop = True
            say(f"stopping training (stop_on={self.stop_on!r}): {describe(stop)}")

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[dict] = None, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            self._logs_seen += 1
            if self._logs_seen % self.every == 0:
                self._update(state, control)
        finally:
            self.seconds += time.perf_counter() - t0
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            d = self._diagnose(state)
            if d is not None:
                self.diagnosis = d
                if self.write_reports and getattr(state, "is_world_process_zero", True):
                    out = pathlib.Path(self.output_dir or args.output_dir)
                    self.reports = list(write_reports(d, out))
                    if self.verbose:
                        say(f"{d.verdict}; wrote {self.reports[0]} and {self.reports[1]}")
        finally:
            self.seconds += time.perf_counter() - t0
        return control
