"""``rnnlab.Guard`` and its ``Action``: compiled (the doctor's streaming monitor)."""

from ._rnnlab import Action, Guard

__all__ = ["Action", "Guard"]
