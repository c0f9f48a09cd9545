"""rnnlab.Guard and rnnlab.torch.guarded_step in a real PyTorch loop."""

from __future__ import annotations

import math
import random

import pytest

import rnnlab


def noisy(i: int, rng: random.Random) -> float:
    return 3.0 * math.exp(-i / 200) + 1.0 + 0.03 * rng.random()


def test_guard_skips_nan_and_spikes_and_answers_ok_otherwise():
    g = rnnlab.Guard(mode="skip")
    rng = random.Random(0)
    for i in range(100):
        a = g.observe(i, noisy(i, rng), 1.0 + 0.1 * rng.random())
        assert a.ok and not a.skip and a.kind == "ok" and a.reason is None, a
    a = g.observe(100, float("nan"), 1.0)
    assert a.skip and not a.ok and a.kind == "skip" and a.reason == "non_finite", a
    assert not a.rollback and not a.stop and a.step == 100 and math.isnan(a.loss)
    a = g.observe(101, 40.0, 30.0, lr=1e-3)
    assert a.skip and a.reason in ("loss_spike", "grad_spike") and a.lr == 1e-3
    assert isinstance(a.reading, dict) and a.reading["loss_median"] > 0
    assert g.observe(102, noisy(102, rng), 1.0).ok
    assert g.skips == 2 and g.next_step == 103 and g.mode == "skip"
    assert "skip at step 101" in repr(a)


def test_guard_off_only_watches_and_bad_settings_are_errors():
    g = rnnlab.Guard(mode="off")
    assert g.observe(0, float("nan")).ok
    with pytest.raises(ValueError, match="mode"):
        rnnlab.Guard(mode="sometimes")
    with pytest.raises(ValueError, match="window"):
        rnnlab.Guard(window=1)
    assert rnnlab.Guard(z_loss=8).config()["z_loss"] == 8


def _loop(guard, steps, bad_step, keep=True):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    x_all, y_all = torch.randn(steps, 32, 8, generator=g), torch.randint(0, 4, (steps, 32), generator=g)
    before = after = None
    actions = []
    for step in range(steps):
        x, y = x_all[step], y_all[step]
        if step == bad_step:
            x = x.clone()
            x[0, 0] = float("nan")  # a NaN in the batch: NaN loss, NaN gradients
            before = {k: v.clone() for k, v in model.state_dict().items()}
            moments = {k: v.clone() for k, v in opt.state_dict()["state"][0].items() if torch.is_tensor(v)}
        loss = torch.nn.functional.cross_entropy(model(x), y)
        actions.append(rnnlab.torch.guarded_step(model, opt, loss, guard, clip=1.0, batch=(x, y), keep_batch=keep))
        if step == bad_step:
            after = {k: v.clone() for k, v in model.state_dict().items()}
            moments_after = {k: v.clone() for k, v in opt.state_dict()["state"][0].items() if torch.is_tensor(v)}
    return model, actions, before, after, moments, moments_after


def test_guarded_step_keeps_a_nan_batch_out_of_the_weights():
    torch = pytest.importorskip("torch")
    guard = rnnlab.Guard()
    model, actions, before, after, moments, moments_after = _loop(guard, 60, bad_step=40)
    assert actions[40].skip and actions[40].reason == "non_finite"
    assert all(a.ok for i, a in enumerate(actions) if i != 40)
    # The weights and Adam's moments at the NaN step are exactly what they were before it.
    for k in before:
        assert torch.equal(before[k], after[k]), k
    for k in moments:
        assert torch.equal(moments[k], moments_after[k]), k
    assert all(torch.isfinite(p).all() for p in model.parameters())
    (incident,) = rnnlab.torch.incidents(guard)
    assert incident.step == 40 and incident.action == "skip" and math.isnan(incident.loss)
    x, y = incident.batch
    assert math.isnan(x[0, 0].item()) and x.device.type == "cpu"


def test_without_the_guard_the_nan_reaches_the_weights():
    torch = pytest.importorskip("torch")
    model, actions, *_ = _loop(rnnlab.Guard(mode="off"), 45, bad_step=40)
    assert actions[40].ok
    assert not all(torch.isfinite(p).all() for p in model.parameters())


def test_rollback_restores_the_snapshot():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    guard = rnnlab.Guard(rollback_after=2, recent=5)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    kinds = []
    for step in range(80):
        loss = torch.nn.functional.mse_loss(model(x), y)
        if step >= 60:
            loss = loss * 1e4  # a burst of spikes
        a = rnnlab.torch.guarded_step(model, opt, loss, guard, clip=None, snapshot_every=10)
        kinds.append(a.kind)
        if a.stop:
            break
    assert "rollback" in kinds, kinds
    assert guard.rollbacks >= 1 and guard.has_snapshot and guard.snapshot_step <= 60
    assert all(torch.isfinite(p).all() for p in model.parameters())
