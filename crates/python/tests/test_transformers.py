"""DoctorCallback in a real Hugging Face Trainer (tiny GPT-2 from a config, CPU, no downloads)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import rnnlab  # noqa: E402
from frameworks import hf_trainer  # noqa: E402
from rnnlab.integrations.transformers import DoctorCallback  # noqa: E402

BAD = 35  # 0-based update index of the bad batch; the Trainer logs it as global step BAD + 1


def test_callback_reports_the_spike_at_the_bad_batch(tmp_path):
    cb = DoctorCallback(vocab_size=16)
    trainer = hf_trainer(tmp_path, [cb], bad_step=BAD)
    trainer.train()
    assert trainer.state.global_step == 50
    d = cb.diagnosis
    assert d is not None and d.verdict == "unhealthy", d and d.to_terminal()
    spikes = [f for f in d.findings if f.kind == "spike"]
    assert spikes, d.to_terminal()
    assert spikes[0].step == BAD + 1, d.to_terminal()
    logged = {e["step"]: e["loss"] for e in trainer.state.log_history if "loss" in e}
    assert max(logged, key=logged.get) == BAD + 1
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "spike" in html
    assert "spike" in (tmp_path / "doctor.md").read_text()
    # What the callback concluded is what `rnnlab doctor` says of the Trainer's own log.
    state = tmp_path / "trainer_state.json"
    trainer.state.save_to_json(str(state))
    assert json.loads(rnnlab.diagnose(state, vocab_size=16).to_json()) == json.loads(d.to_json())


def test_callback_stops_training_on_nan(tmp_path):
    cb = DoctorCallback(stop_on="error", write_reports=False)
    # By default the Trainer logs a NaN step's loss as if it were not there (the doctor then
    # sees only the NaN gradient norm, a warning): let the NaN through.
    trainer = hf_trainer(tmp_path, [cb], bad_step=30, bad="nan", logging_nan_inf_filter=False)
    trainer.train()
    assert cb.stopped_by is not None and cb.stopped_by.kind == "non_finite"
    assert trainer.state.global_step == 31  # stopped at the first NaN log
    assert not (tmp_path / "report.html").exists()


def test_healthy_run_stays_quiet(tmp_path):
    cb = DoctorCallback(stop_on="error", every=10)
    trainer = hf_trainer(tmp_path, [cb])
    trainer.train()
    assert cb.stopped_by is None and trainer.state.global_step == 50
    assert not [f for f in cb.diagnosis.findings if f.kind in ("spike", "non_finite", "divergence")]
    assert (tmp_path / "report.html").exists()
