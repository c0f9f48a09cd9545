#!/usr/bin/env bash
# Training speed of rnnlab against PyTorch on this machine, one table side by side.
#
#   bench/compare.sh [THREADS...]        default: 2        e.g. bench/compare.sh 1 2
#   CONFIGS=a,b SECONDS_PER_CONFIG=6 bench/compare.sh 2
#   REPEATS=5 CONFIGS=b bench/compare.sh 2   # five back-to-back pairs per config; medians
#
# For each config rnnlab and PyTorch run back to back (each in a fresh process), so a change of
# machine load hits both alike; the ratio is the number to read.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=("${@:-2}")
CONFIGS=${CONFIGS:-a,b,c,d,e}
SECONDS_PER_CONFIG=${SECONDS_PER_CONFIG:-4}
REPEATS=${REPEATS:-1}
# GFLOP/s of one core's FMA peak; unset: measured with examples/fma_peak.rs (widest vectors)
PEAK_PER_CORE=${PEAK_PER_CORE:-}

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p rnnlab-engine --example train_bench --example fma_peak
RNNLAB="$CARGO_TARGET_DIR/release/examples/train_bench"
PYTHON=${PYTHON:-python3}
"$PYTHON" bench/pytorch_peer.py --config a --seconds 0 --json >/dev/null # venv + torch ready

results=$(mktemp)
peaks=$(mktemp)
trap 'rm -f "$results" "$peaks"' EXIT
if [ -n "$PEAK_PER_CORE" ]; then
  peak_args=(--peak-per-core "$PEAK_PER_CORE")
else
  "$CARGO_TARGET_DIR/release/examples/fma_peak" --threads 1 --json >"$peaks"
  peak_args=(--peak-json "$peaks")
fi
run_rnnlab() {
  "$RNNLAB" --threads "$1" --config "$2" --seconds "$SECONDS_PER_CONFIG" --json >>"$results"
}
run_pytorch() {
  "$PYTHON" bench/pytorch_peer.py --threads "$1" --config "$2" \
    --seconds "$SECONDS_PER_CONFIG" --json >>"$results"
}
for r in $(seq "$REPEATS"); do
  for n in "${THREADS[@]}"; do
    for c in ${CONFIGS//,/ }; do
      # Every other repeat PyTorch goes first, so a load that drifts during a pair does not
      # always fall on the same side.
      if ((r % 2)); then
        run_rnnlab "$n" "$c"
        run_pytorch "$n" "$c"
      else
        run_pytorch "$n" "$c"
        run_rnnlab "$n" "$c"
      fi
    done
  done
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/summarize.py "$results" "${peak_args[@]}"
