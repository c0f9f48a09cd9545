"""Callbacks for training frameworks. Each submodule imports its framework when it is imported:
``rnnlab.integrations.transformers`` needs ``transformers``, ``rnnlab.integrations.lightning``
needs ``lightning`` (or ``pytorch_lightning``); ``import rnnlab`` needs neither."""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("transformers", "lightning")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'rnnlab.integrations' has no attribute {name!r}")
