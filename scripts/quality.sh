#!/usr/bin/env bash
# Reproduces the quality goals of the train issue and prints each run's numbers:
#   builtin       the default command; validation loss within 0.15 nats of the exact floor
#   shakespeare   configs/shakespeare-2x512.toml: validation 1.487 within 6.5 minutes
#   best          configs/shakespeare-best.toml: validation <= 1.42 within 60 minutes
#   ptb           configs/ptb-small.toml: test perplexity <= 114.5 within 45 minutes
# Usage: scripts/quality.sh [builtin] [shakespeare] [best] [ptb]   (default: builtin shakespeare)
# Corpora come from $RNNLAB_DATA, ../shared/data, or are downloaded once.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p rnnlab
bin=target/release/rnnlab
runs=${RUNS:-runs/quality}
mkdir -p "$runs"
stamp=$(date +%Y%m%d-%H%M%S)

first_below() { # first_below RUN LEVEL: time and step of the first evaluation at or below LEVEL
  python3 - "$1/metrics.jsonl" "$2" <<'PY'
import json, sys
level = float(sys.argv[2])
for line in open(sys.argv[1]):
    r = json.loads(line)
    v = r.get("val_loss")
    if isinstance(v, (int, float)) and v <= level:
        print(f"reached {v:.4f} <= {level} at step {r['step']} after {r['time_s']/60:.2f} min")
        break
else:
    print(f"never reached {level}")
PY
}

for goal in "${@:-builtin shakespeare}"; do
  for g in $goal; do
    name="$g-$stamp"
    case "$g" in
      builtin) "$bin" train -q --name "$name" --runs "$runs" ;;
      shakespeare) "$bin" train -q --name "$name" --runs "$runs" --config configs/shakespeare-2x512.toml
                   first_below "$runs/$name" 1.487 ;;
      best) "$bin" train -q --name "$name" --runs "$runs" --config configs/shakespeare-best.toml
            first_below "$runs/$name" 1.42 ;;
      ptb) "$bin" train -q --name "$name" --runs "$runs" --config configs/ptb-small.toml
           "$bin" eval "$runs/$name" --split test ;;
      *) echo "unknown goal $g" >&2; exit 2 ;;
    esac
    "$bin" doctor "$runs/$name" | head -3
  done
done
