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
PEAK_PER_CORE=97 # GFLOP/s, measured FMA peak of one core of this machine

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p rnnlab-engine --example train_bench
RNNLAB="$CARGO_TARGET_DIR/release/examples/train_bench"
PYTHON=${PYTHON:-python3}
"$PYTHON" bench/pytorch_peer.py --config a --seconds 0 --json >/dev/null # venv + torch ready

results=$(mktemp)
trap 'rm -f "$results"' EXIT
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
"$PYTHON" - "$results" "$PEAK_PER_CORE" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peak = float(sys.argv[2])
# Each (impl, config, threads) has one row per repeat; run k of rnnlab and run k of PyTorch ran
# back to back, so the ratio of each pair is taken first and the median of those is reported.
by = {}
for r in rows:
    by.setdefault((r["impl"], r["config"], r["threads"]), []).append(r)
med = lambda xs: statistics.median(xs) if xs else float("nan")
def m(rs, key):
    return med([r[key] for r in rs])
repeats = max(len(v) for v in by.values())
# GF/s are model FLOPs per second (the same count for both); "executed" is what rnnlab ran,
# which is less where its first layer looks up a projected embedding, and gives % of peak.
print(f"{'cfg':<4}{'model':<20}{'thr':>4}{'rnnlab tok/s':>14}{'torch tok/s':>13}{'ratio':>7}"
      f"{'rnnlab GF/s':>13}{'executed':>10}{'% FMA peak':>11}{'torch GF/s':>12}{'rnnlab MB':>11}{'torch MB':>10}"
      f"{'GF/cpu-s rnnlab':>17}{'torch':>7}" + (f"{'ratio range':>16}" if repeats > 1 else ""))
for (impl, cfg, thr), rs in by.items():
    if impl != "rnnlab":
        continue
    ts = by.get(("pytorch", cfg, thr), [])
    ratios = [r["tok_s"] / t["tok_s"] for r, t in zip(rs, ts)]
    line = (f"{cfg:<4}{rs[0]['model']:<20}{thr:>4}{m(rs, 'tok_s'):>14.0f}{m(ts, 'tok_s') if ts else 0:>13.0f}"
            f"{med(ratios):>6.2f}x{m(rs, 'gflops'):>13.1f}{m(rs, 'gflops_executed'):>10.1f}"
            f"{100 * m(rs, 'gflops_executed') / (peak * thr):>10.0f}%"
            f"{m(ts, 'gflops') if ts else 0:>12.1f}{m(rs, 'peak_mb'):>11.0f}{m(ts, 'peak_mb') if ts else 0:>10.0f}"
            f"{m(rs, 'gflop_per_cpu_s'):>17.1f}{m(ts, 'gflop_per_cpu_s') if ts else 0:>7.1f}")
    if repeats > 1 and ratios:
        line += f"{min(ratios):>9.2f}–{max(ratios):.2f}x"
    print(line)
if repeats > 1:
    print(f"medians of {repeats} back-to-back pairs per config")
PY
