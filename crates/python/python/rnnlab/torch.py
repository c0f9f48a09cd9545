"""PyTorch helpers: :func:`guarded_step` runs one optimizer step under a :class:`rnnlab.Guard`.

::

    guard = rnnlab.Guard()
    for batch in data:
        loss = loss_fn(model(batch.x), batch.y)
        action = rnnlab.torch.guarded_step(model, optimizer, loss, guard, clip=1.0, batch=batch)
        if action.stop:
            break
    for incident in rnnlab.torch.incidents(guard):   # the batches that were kept out
        print(incident.step, incident.reason, incident.batch)
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

import torch  # the framework: imported with this module only

from ._rnnlab import Action, Guard
from ._watch import Watch

__all__ = ["Incident", "guarded_step", "incidents", "snapshot", "restore"]


@dataclass
class Incident:
    """A step the guard kept out of the weights."""

    step: int
    action: str
    reason: Optional[str]
    loss: float
    grad_norm: Optional[float]
    lr: Optional[float]
    batch: Any = None
    """The offending batch (detached, on the CPU), when ``keep_batch=True`` and one was given."""
    reading: dict = field(default_factory=dict)


@dataclass
class _GuardState:
    incidents: list = field(default_factory=list)
    snapshot: Optional[dict] = None


_STATES: "weakref.WeakKeyDictionary[Guard, _GuardState]" = weakref.WeakKeyDictionary()


def _state(guard: Guard) -> _GuardState:
    st = _STATES.get(guard)
    if st is None:
        st = _STATES[guard] = _GuardState()
    return st


def incidents(guard: Guard) -> list:
    """The :class:`Incident` list :func:`guarded_step` recorded for ``guard``."""
    return _state(guard).incidents


def _to_cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", copy=True)
    if isinstance(x, dict):
        return {k: _to_cpu(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_cpu(v) for v in x) if not hasattr(x, "_fields") else type(x)(*(_to_cpu(v) for v in x))
    return copy.deepcopy(x)


def snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer, guard: Guard) -> None:
    """Keeps a copy of the model's and optimizer's state (on the CPU) for a later rollback, and
    tells the guard a good state exists."""
    _state(guard).snapshot = {
        "model": _to_cpu(model.state_dict()),
        "optimizer": _to_cpu(optimizer.state_dict()),
    }
    guard.snapshot_taken()


def restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, guard: Guard) -> bool:
    """Loads the last :func:`snapshot` back; False when there is none."""
    snap = _state(guard).snapshot
    if snap is None:
        return False
    model.load_state_dict(snap["model"])
    optimizer.load_state_dict(snap["optimizer"])
    return True


def _parameters(model: Any, optimizer: torch.optim.Optimizer) -> list:
    if model is not None:
        return [p for p in model.parameters() if p.requires_grad]
    return [p for g in optimizer.param_groups for p in g["params"]]


def guarded_step(
    model: Optional[torch.nn.Module],
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    guard: Guard,
    clip: Optional[float] = 1.0,
    *,
    step: Optional[int] = None,
    batch: Any = None,
    keep_batch: bool = True,
    backward: bool = True,
    scaler: Any = None,
    snapshot_every: Optional[int] = None,
    fresh_state: bool = False,
    watch: Optional[Watch] = None,
) -> Action:
    """One optimizer step under the guard; returns the guard's :class:`rnnlab.Action`.

    Runs ``loss.backward()`` (unless ``backward=False``: the gradients are already there),
    measures the global gradient norm before clipping and clips it to ``clip`` (``None``: no
    clipping), asks ``guard.observe(step, loss, grad_norm, lr)``, and then:

    - ``ok``: ``optimizer.step()`` (through ``scaler`` for mixed precision);
    - ``skip``: no update at all: weights and optimizer moments stay as they were;
    - ``rollback``: the last snapshot is restored (``snapshot_every`` keeps one every that many
      quiet steps, or call :func:`snapshot` yourself) and the guard told;
    - ``stop``: the last snapshot is restored, if any; the caller should end training.

    Gradients are zeroed in every case. A step that is not applied is recorded in
    :func:`incidents` with the batch (detached, on the CPU) when ``batch`` is given and
    ``keep_batch``. With ``watch``, the step and any guard action are logged to its
    ``metrics.jsonl``. ``step`` defaults to one more than the guard's last.
    """
    if step is None:
        step = guard.next_step
    if backward:
        (scaler.scale(loss) if scaler is not None else loss).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    params = _parameters(model, optimizer)
    max_norm = float("inf") if clip is None else float(clip)
    if params:
        gn = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    else:
        gn = None
    loss_value = float(loss.detach().item())
    lr = float(optimizer.param_groups[0]["lr"]) if optimizer.param_groups else None
    action = guard.observe(int(step), loss_value, gn, lr, fresh_state)
    if action.ok:
        if scaler is not None:
            scaler.step(optimizer)
        else:
            optimizer.step()
    else:
        if action.rollback:
            if model is not None and restore(model, optimizer, guard):
                guard.rolled_back()
        elif action.stop:
            if model is not None and restore(model, optimizer, guard):
                guard.restored_for_stop()
        _state(guard).incidents.append(
            Incident(
                step=int(step),
                action=action.kind,
                reason=action.reason,
                loss=loss_value,
                grad_norm=gn,
                lr=lr,
                batch=_to_cpu(batch) if keep_batch and batch is not None else None,
                reading=action.reading or {},
            )
        )
    if scaler is not None:
        scaler.update()
    optimizer.zero_grad(set_to_none=True)
    if watch is not None:
        watch.log(
            loss_value,
            step=int(step),
            grad_norm=gn,
            lr=lr,
            clipped=None if clip is None or gn is None else not gn <= clip,
        )
        if not action.ok:
            watch.event(action.event, action.describe or "", step=int(step))
    if (
        action.ok
        and model is not None
        and snapshot_every
        and int(step) % snapshot_every == 0
        and guard.quiet_for(int(step), snapshot_every)
    ):
        snapshot(model, optimizer, guard)
    return action
