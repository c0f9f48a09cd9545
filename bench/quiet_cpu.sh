#!/usr/bin/env bash
# The quiet-machine benchmark: rnnlab against PyTorch on a CPU that nothing else runs on (the
# GPU machine's host CPU), each run pinned with taskset to distinct physical cores. The figures
# to quote come from here; a shared machine's are for direction only.
#
#   bench/quiet_cpu.sh            # the full run: about 40 minutes with the defaults below
#   QUICK=1 bench/quiet_cpu.sh    # a dry run of every part: 1 s per config, 1 pair, 1-2 threads
#
# That host has no Rust: build the release binaries on a machine with cargo and bring them along
# (the GPU tool's `carry`); the script looks for them in $BIN_DIR (default
# $CARGO_TARGET_DIR/release/examples, else target/release/examples) and builds them itself only
# where cargo exists:
#   cargo build --release -p rnnlab-engine --example train_bench --example fma_peak
# Its python3 has PyTorch, so bench/pytorch_peer.py runs with it as it is (no venv, no network).
#
# Settings (environment; defaults in brackets):
#   THREADS           thread counts of the comparison                         ["2 8"]
#   CONFIGS           configs of the comparison                               [a,b,c,d,e]
#   REPEATS           pairs per config and thread count; the side that runs
#                     first alternates from pair to pair                      [3]
#   SECONDS_PER_CONFIG  timed seconds of each run, after its warm-up          [5]
#   SCALING_THREADS   thread counts of the scaling runs; empty: none          ["1 2 4 8 16"]
#   SCALING_CONFIGS   configs of the scaling runs                             [b,c]
#   SCALING_REPEATS   pairs per scaling point                                 [3]
#   SCALING_SPLITS    how rnnlab splits the recurrence across threads in the scaling
#                     runs (RNNLAB_SPLIT), each run in every pair: "batch" (the default),
#                     "rule" (the candidate default: batch rows below 4 threads, hidden
#                     units from 4 for large W_hh), "units"; the rows say which
#                                                                  ["rule batch units"]
#   KERNELS           rnnlab's kernel sets (RNNLAB_GEMM), each run in every pair;
#                     native vs mixed decides the x86 default ("native mixed")
#                     e.g. "native mixed avx2 crate"
#   PYTHON            Python with torch                                       [python3]
#   OUT               folder for the raw JSON lines and report.txt   [bench-quiet-DATE]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${QUICK:-}" ]; then
  : "${KERNELS:=native}" "${THREADS:=1 2}" "${CONFIGS:=a}" "${REPEATS:=1}" "${SECONDS_PER_CONFIG:=1}"
  : "${SCALING_THREADS=1 2}" "${SCALING_CONFIGS:=a}" "${SCALING_REPEATS:=1}" "${FMA_SECONDS:=0.3}"
  : "${SCALING_SPLITS:=rule units}"
fi
THREADS=${THREADS:-2 8}
CONFIGS=${CONFIGS:-a,b,c,d,e}
REPEATS=${REPEATS:-3}
SECONDS_PER_CONFIG=${SECONDS_PER_CONFIG:-5}
SCALING_THREADS=${SCALING_THREADS-1 2 4 8 16}
SCALING_CONFIGS=${SCALING_CONFIGS:-b,c}
SCALING_REPEATS=${SCALING_REPEATS:-3}
SCALING_SPLITS=${SCALING_SPLITS:-rule batch units}
FMA_SECONDS=${FMA_SECONDS:-2}
KERNELS=${KERNELS:-native mixed}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-bench-quiet-$(date +%Y%m%d-%H%M%S)}

BIN_DIR=${BIN_DIR:-${CARGO_TARGET_DIR:-target}/release/examples}
if [ ! -x "$BIN_DIR/train_bench" ] || [ ! -x "$BIN_DIR/fma_peak" ]; then
  if command -v cargo >/dev/null 2>&1; then
    cargo build --release --quiet -p rnnlab-engine --example train_bench --example fma_peak
  else
    echo "quiet_cpu: no $BIN_DIR/train_bench or fma_peak and no cargo to build them;" >&2
    echo "  build them elsewhere (see the top of this script) and set BIN_DIR" >&2
    exit 1
  fi
fi
RNNLAB="$BIN_DIR/train_bench"
FMA="$BIN_DIR/fma_peak"
"$PYTHON" -c "import torch" || {
  echo "quiet_cpu: $PYTHON has no torch (set PYTHON)" >&2
  exit 1
}
command -v taskset >/dev/null || {
  echo "quiet_cpu: taskset (util-linux) is missing" >&2
  exit 1
}
mkdir -p "$OUT"

# One logical CPU per physical core, on the socket of the first; cores other than the one that
# holds CPU 0 (interrupts, housekeeping) first, that one last.
mapfile -t PHYS < <(lscpu -p=CPU,CORE,SOCKET | grep -v '^#' | awk -F, '
  !seen[$3 "," $2]++ { print $3 "," ($1 == 0 ? 1 : 0) "," $2 "," $1 }' |
  sort -t, -k1,1n -k2,2n -k3,3n | cut -d, -f4)
# The first N of them, comma-separated; empty when the machine has fewer physical cores.
cpus() {
  local n=$1
  ((n <= ${#PHYS[@]})) || return 0
  local IFS=,
  echo "${PHYS[*]:0:n}"
}

report() { tee -a "$OUT/report.txt"; }
{
  echo "quiet_cpu: $(date -u +%FT%TZ) on $(hostname)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), ${#PHYS[@]} physical cores," \
    "$(nproc) logical CPUs"
  echo "vector extensions: $(grep -o -w 'avx2\|fma\|avx512[a-z_0-9]*\|amx[a-z_0-9]*' /proc/cpuinfo |
    sort -u | tr '\n' ' ')"
  echo "torch: $("$PYTHON" -c 'import torch; print(torch.__version__)')"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "physical cores used, in order: ${PHYS[*]}"
} | report

# The FMA peak of the thread counts used: the 100 % that the executed GFLOP/s are shares of.
for n in $(echo $THREADS $SCALING_THREADS | tr ' ' '\n' | sort -nu); do
  set -- $(cpus "$n")
  [ $# -gt 0 ] || continue
  taskset -c "$1" "$FMA" --threads "$n" --seconds "$FMA_SECONDS" --json >>"$OUT/fma.jsonl"
done
echo "FMA peak (register-only loop, pinned):" | report
"$PYTHON" - "$OUT/fma.jsonl" <<'PY' | report
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    per_core = r["gflops"] / r["threads"]
    print(f"  {r['isa']:<7}{r['threads']:>3} threads {r['gflops']:>8.1f} GFLOP/s ({per_core:.1f} per core)")
PY

# rnnlab (each kernel set in KERNELS) and PyTorch back to back on the same cores.
run_rnnlab() { # threads cpus config file
  for k in $KERNELS; do
    for s in $SPLITS; do
      RNNLAB_SPLIT=$s RNNLAB_GEMM=$k taskset -c "$2" "$RNNLAB" --threads "$1" \
        --config "$3" --seconds "$SECONDS_PER_CONFIG" --json >>"$4"
    done
  done
}
run_pytorch() { # threads cpus config file
  taskset -c "$2" "$PYTHON" bench/pytorch_peer.py --threads "$1" --config "$3" \
    --seconds "$SECONDS_PER_CONFIG" --json >>"$4"
}
pairs() { # file repeats configs threads...
  local file=$1 repeats=$2 configs=$3
  shift 3
  for r in $(seq "$repeats"); do
    local pair=$r
    for n in "$@"; do
      local list
      list=$(cpus "$n")
      if [ -z "$list" ]; then
        ((r > 1)) || echo "  $n threads: skipped, the machine has ${#PHYS[@]} physical cores" | report
        continue
      fi
      for c in ${configs//,/ }; do
        # Alternate which side runs first, from one config to the next and from one repeat of
        # a config to the next, so a drift in the machine's state (clock, heat) does not always
        # fall on the same side.
        if ((pair++ % 2 == 0)); then
          run_rnnlab "$n" "$list" "$c" "$file"
          run_pytorch "$n" "$list" "$c" "$file"
        else
          run_pytorch "$n" "$list" "$c" "$file"
          run_rnnlab "$n" "$list" "$c" "$file"
        fi
      done
    done
  done
}

echo "comparison: threads $THREADS, configs $CONFIGS, $REPEATS pairs, ${SECONDS_PER_CONFIG}s each" | report
# shellcheck disable=SC2086
SPLITS=batch pairs "$OUT/comparison.jsonl" "$REPEATS" "$CONFIGS" $THREADS
"$PYTHON" bench/summarize.py "$OUT/comparison.jsonl" --peak-json "$OUT/fma.jsonl" | report

if [ -n "$SCALING_THREADS" ]; then
  echo "thread scaling: threads $SCALING_THREADS, configs $SCALING_CONFIGS, splits $SCALING_SPLITS, $SCALING_REPEATS pairs" | report
  # shellcheck disable=SC2086
  SPLITS=$SCALING_SPLITS pairs "$OUT/scaling.jsonl" "$SCALING_REPEATS" "$SCALING_CONFIGS" \
    $SCALING_THREADS
  "$PYTHON" bench/summarize.py "$OUT/scaling.jsonl" --peak-json "$OUT/fma.jsonl" --scaling | report
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | report
echo "raw JSON lines and this report: $OUT/"
