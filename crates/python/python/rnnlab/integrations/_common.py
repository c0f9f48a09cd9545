"""What the framework callbacks share: when to stop, what to write at the end."""

from __future__ import annotations

import pathlib
import sys
from typing import Optional

from .._diagnosis import Diagnosis, Finding

_SEVERITY = {"info": 0, "warning": 1, "error": 2}


def check_stop_on(stop_on: Optional[str]) -> Optional[int]:
    if stop_on is None:
        return None
    if stop_on not in ("warning", "error"):
        raise ValueError(f"stop_on must be None, 'warning' or 'error', not {stop_on!r}")
    return _SEVERITY[stop_on]


def stopping_finding(d: Diagnosis, threshold: Optional[int]) -> Optional[Finding]:
    """The first finding at least as severe as `threshold`, if any."""
    if threshold is None:
        return None
    for f in d.findings:
        if _SEVERITY.get(f.severity, 0) >= threshold:
            return f
    return None


def write_reports(d: Diagnosis, out_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """`doctor.md` and `report.html` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "doctor.md"
    md.write_text(d.to_markdown(), encoding="utf-8")
    html = d.report(out_dir / "report.html")
    return md, html


def say(message: str) -> None:
    print(f"[rnnlab] {message}", file=sys.stderr, flush=True)


def describe(f: Finding) -> str:
    from .._diagnosis import _steps

    return f"{f.severity} {f.kind} at step {_steps(f)}: {f.summary}"
