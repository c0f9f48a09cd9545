"""Shared fixtures: the labelled curves in ../shared/curves and the `rnnlab` binary."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
CURVES = REPO.parent / "shared" / "curves"


def rnnlab_binary() -> pathlib.Path | None:
    """`$RNNLAB_BIN`, else a built `rnnlab` under the target folder, else on PATH."""
    if os.environ.get("RNNLAB_BIN"):
        return pathlib.Path(os.environ["RNNLAB_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "rnnlab"
        if p.is_file():
            return p
    found = shutil.which("rnnlab")
    return pathlib.Path(found) if found else None


def skip_or_fail(reason: str) -> None:
    """Skips, visibly; where CI has the fixtures (RNNLAB_REQUIRE_FIXTURES=1) a missing one fails."""
    if os.environ.get("RNNLAB_REQUIRE_FIXTURES") == "1":
        pytest.fail(f"{reason} (RNNLAB_REQUIRE_FIXTURES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    path = rnnlab_binary()
    if path is None or not path.is_file():
        skip_or_fail("no `rnnlab` binary: build it (cargo build -p rnnlab) or set RNNLAB_BIN")
    return path


@pytest.fixture(scope="session")
def curves() -> pathlib.Path:
    if not CURVES.is_dir():
        skip_or_fail(f"{CURVES} missing: the CLI-parity test over the labelled curves is skipped")
    return CURVES
