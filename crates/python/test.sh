#!/usr/bin/env bash
# The Python package's tests: builds the `rnnlab` wheel from source with maturin, installs it
# into a fresh virtual environment with real PyTorch, transformers and Lightning from PyPI, and
# runs pytest (crates/python/tests). Also builds the `rnnlab` binary the CLI-parity tests
# compare against.
#
#   crates/python/test.sh                 # what CI runs
#   crates/python/test.sh -k guard        # extra arguments go to pytest
#
# RNNLAB_PY_VENV=DIR: the environment to (re)create (default: $CARGO_TARGET_DIR/python-venv).
# RNNLAB_PY_REUSE=1: keep an existing environment and its packages (quicker local reruns).
# PYTHON: the interpreter to build the environment from (default: python3, needs >= 3.9).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${RNNLAB_PY_VENV:-$target/python-venv}"
python="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

if [[ "${RNNLAB_PY_REUSE:-0}" != 1 || ! -x "$venv/bin/python" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -c 'import sys; assert sys.version_info >= (3, 9), sys.version'

echo "== python: $("$py" --version); installing maturin, pytest and the frameworks from PyPI"
start=$SECONDS
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q maturin pytest torch "transformers[torch]" lightning pandas
"$py" -c 'import torch, transformers, lightning; print("   torch", torch.__version__, "| transformers", transformers.__version__, "| lightning", lightning.__version__)'
echo "   ($((SECONDS - start)) s)"

echo "== building the wheel (maturin build --release)"
start=$SECONDS
wheels="$target/python-wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --release --strip --quiet -m "$here/Cargo.toml" -o "$wheels" -i "$py"
wheel=$(ls "$wheels"/rnnlab-*.whl)
"$py" -m pip install -q --force-reinstall --no-deps "$wheel"
echo "   $(basename "$wheel") ($((SECONDS - start)) s)"

echo "== building the rnnlab binary for the CLI-parity tests"
cargo build --quiet -p rnnlab --bin rnnlab
export RNNLAB_BIN="$target/debug/rnnlab"

echo "== pytest"
cd "$here"
set +e
"$py" -m pytest tests -q -rs -p no:cacheprovider "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "error: pytest collected no tests in $here/tests" >&2
  exit 1
fi
exit $status
