#!/usr/bin/env bash
# Training speed of rnnlab against PyTorch on this machine, one table side by side.
#
#   bench/compare.sh [THREADS...]        default: 2        e.g. bench/compare.sh 1 2
#   CONFIGS=a,b SECONDS_PER_CONFIG=6 bench/compare.sh 2
#
# For each config rnnlab and PyTorch run back to back (each in a fresh process), so a change of
# machine load hits both alike; the ratio is the number to read.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=("${@:-2}")
CONFIGS=${CONFIGS:-a,b,c,d,e}
SECONDS_PER_CONFIG=${SECONDS_PER_CONFIG:-4}
PEAK_PER_CORE=97 # GFLOP/s, measured FMA peak of one core of this machine

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p rnnlab-engine --example train_bench
RNNLAB="$CARGO_TARGET_DIR/release/examples/train_bench"
PYTHON=${PYTHON:-python3}
"$PYTHON" bench/pytorch_peer.py --config a --seconds 0 --json >/dev/null # venv + torch ready

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for n in "${THREADS[@]}"; do
  for c in ${CONFIGS//,/ }; do
    "$RNNLAB" --threads "$n" --config "$c" --seconds "$SECONDS_PER_CONFIG" --json >>"$results"
    "$PYTHON" bench/pytorch_peer.py --threads "$n" --config "$c" \
      --seconds "$SECONDS_PER_CONFIG" --json >>"$results"
  done
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "$results" "$PEAK_PER_CORE" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peak = float(sys.argv[2])
by = {(r["impl"], r["config"], r["threads"]): r for r in rows}
print(f"{'cfg':<4}{'model':<20}{'thr':>4}{'rnnlab tok/s':>14}{'torch tok/s':>13}{'ratio':>7}"
      f"{'rnnlab GF/s':>13}{'% FMA peak':>11}{'torch GF/s':>12}{'rnnlab MB':>11}{'torch MB':>10}"
      f"{'GF/cpu-s rnnlab':>17}{'torch':>7}")
for (impl, cfg, thr), r in by.items():
    if impl != "rnnlab":
        continue
    t = by.get(("pytorch", cfg, thr))
    ratio = r["tok_s"] / t["tok_s"] if t else float("nan")
    print(f"{cfg:<4}{r['model']:<20}{thr:>4}{r['tok_s']:>14.0f}{t['tok_s'] if t else 0:>13.0f}"
          f"{ratio:>6.2f}x{r['gflops']:>13.1f}{100 * r['gflops'] / (peak * thr):>10.0f}%"
          f"{t['gflops'] if t else 0:>12.1f}{r['peak_mb']:>11.0f}{t['peak_mb'] if t else 0:>10.0f}"
          f"{r['gflop_per_cpu_s']:>17.1f}{t['gflop_per_cpu_s'] if t else 0:>7.1f}")
PY
