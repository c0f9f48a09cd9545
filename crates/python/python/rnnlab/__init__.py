"""rnnlab: is this loss normal?

rnnlab's loss-curve doctor, training guard and pictures, compiled from the same Rust crates as
the ``rnnlab`` command line, for PyTorch loops, the Hugging Face ``Trainer`` and Lightning::

    import rnnlab
    d = rnnlab.diagnose("runs/mine")            # any log `rnnlab doctor` reads, or in-memory data
    print(d.verdict, [f.kind for f in d.findings])
    d.plot("loss.png"); d.report("report.html")

    guard = rnnlab.Guard()                      # streaming: one call per optimizer step
    if guard.observe(step, loss.item(), grad_norm).skip:
        optimizer.zero_grad(); continue

Framework integrations are imported on first use, so ``import rnnlab`` needs none of them:
``rnnlab.torch.guarded_step``, ``rnnlab.integrations.transformers.DoctorCallback``,
``rnnlab.integrations.lightning.DoctorCallback``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _rnnlab
from ._diagnosis import Diagnosis, Finding, References, RnnlabWarning, SeriesInfo, diagnose
from ._watch import Watch, watch

__version__: str = _rnnlab.__version__

__all__ = [
    "Diagnosis",
    "Finding",
    "References",
    "RnnlabWarning",
    "SeriesInfo",
    "Watch",
    "diagnose",
    "watch",
    "__version__",
]

try:  # the guard arrives with the doctor's streaming detector (doctor::online)
    from ._guard import Action, Guard  # noqa: F401

    __all__ += ["Action", "Guard"]
except ImportError:  # pragma: no cover - only in builds without it
    pass

_LAZY = ("torch", "integrations")

if TYPE_CHECKING:  # pragma: no cover
    from . import integrations, torch  # noqa: F401


def __getattr__(name: str) -> Any:
    # `rnnlab.torch` and `rnnlab.integrations` import their frameworks: only on first use.
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
