"""rnnlab.watch: a hand-written PyTorch loop logged as an rnnlab run folder."""

from __future__ import annotations

import json
import math

import pytest

import rnnlab

STEP_FIELDS = ["step", "epoch", "tokens", "loss", "lr", "grad_norm", "clipped", "tok_per_s", "time_s"]
EVAL_FIELDS = ["step", "epoch", "tokens", "val_loss", "val_ppl", "val_bpc", "time_s"]


def test_watch_writes_rnnlab_metrics_from_a_torch_loop(tmp_path, cli):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(64, 8), torch.randint(0, 4, (64,))
    run = tmp_path / "run"
    with rnnlab.watch(run, optimizer=opt, model=model, vocab_size=4, steps_per_epoch=10,
                      tokens_per_step=64, clip=1.0) as w:
        for step in range(30):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            rec = w.log(loss)  # grad norm read from the model before clipping
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 9:
                w.eval(loss.item() + 0.1)
        w.event("checkpoint", "step-30")
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [l for l in lines if "loss" in l]
    assert [list(l) for l in steps] == [STEP_FIELDS] * 30
    assert [l["step"] for l in steps] == list(range(30))
    assert steps[0]["lr"] == 1e-2 and steps[-1]["tokens"] == 30 * 64
    assert steps[3]["epoch"] == pytest.approx(0.3)
    assert rec["grad_norm"] > 0
    evals = [l for l in lines if "val_loss" in l]
    assert [list(l) for l in evals] == [EVAL_FIELDS] * 3 and evals[0]["step"] == 10
    assert evals[0]["val_bpc"] == pytest.approx(evals[0]["val_loss"] / math.log(2))
    events = [l for l in lines if "event" in l]
    assert [e["event"] for e in events] == ["checkpoint", "end"]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["vocab_size"] == 4 and meta["steps_per_epoch"] == 10
    d = w.diagnose()
    assert d.series.points == 30 and d.series.has_val and d.series.has_lr and d.series.has_grad_norm
    assert d.references.ln_vocab == pytest.approx(math.log(4))
    import subprocess

    done = subprocess.run([str(cli), "doctor", "--json", str(run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert d.to_json() + "\n" == done.stdout


def test_non_finite_values_and_interruptions(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with rnnlab.watch(run) as w:
            w.log(2.0, grad_norm=1.0)
            w.log(float("nan"), grad_norm=float("inf"))
            raise KeyboardInterrupt
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[1]["loss"] == "NaN" and lines[1]["grad_norm"] == "inf"
    assert "epoch" not in lines[0]  # unknown epochs are not made up
    assert lines[-1]["event"] == "interrupted"
    with pytest.raises(ValueError, match="not open"):
        w.log(1.0)
