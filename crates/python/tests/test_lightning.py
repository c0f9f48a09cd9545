"""DoctorCallback in a real Lightning Trainer (a tiny nn.RNN char model, CPU)."""

from __future__ import annotations

import pathlib

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")

import rnnlab  # noqa: E402
from frameworks import lightning_module, lightning_trainer  # noqa: E402
from rnnlab.integrations.lightning import DoctorCallback  # noqa: E402

BAD = 35  # 0-based optimizer step of the bad batch (Lightning's metrics.csv numbers it so too)


def test_callback_reports_the_spike_at_the_bad_batch(tmp_path):
    cb = DoctorCallback(vocab_size=16)
    trainer = lightning_trainer(tmp_path, [cb])
    trainer.fit(lightning_module(bad_step=BAD))
    assert trainer.global_step == 50 and len(cb.steps) == 50
    d = cb.diagnosis
    assert d is not None and d.verdict == "unhealthy", d and d.to_terminal()
    spikes = [f for f in d.findings if f.kind == "spike"]
    assert spikes and spikes[0].step == BAD, d.to_terminal()
    assert max(range(50), key=lambda i: cb.losses[i]) == BAD
    assert cb.val_steps == [25.0, 50.0] and d.series.has_val and d.series.has_grad_norm
    assert d.series.val_points == 2
    out = pathlib.Path(trainer.log_dir)
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "spike" in (out / "doctor.md").read_text()
    # The rnnlab-format log it leaves says the same to the CLI's reader.
    again = rnnlab.diagnose(out / "metrics.jsonl", vocab_size=16)
    assert [(f.kind, f.step) for f in again.findings] == [(f.kind, f.step) for f in d.findings]
    # Lightning's own CSV log read by the doctor puts the spike at the same step.
    from_csv = rnnlab.diagnose(out / "metrics.csv", vocab_size=16)
    assert [f.step for f in from_csv.findings if f.kind == "spike"][:1] == [BAD], from_csv.to_terminal()


def test_callback_stops_training_on_nan(tmp_path):
    cb = DoctorCallback(stop_on="error", every=1, write_reports=False)
    trainer = lightning_trainer(tmp_path, [cb])
    trainer.fit(lightning_module(bad_step=30, bad="nan"))
    assert cb.stopped_by is not None and cb.stopped_by.kind == "non_finite"
    assert trainer.global_step == 31
