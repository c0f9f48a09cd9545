#!/usr/bin/env bash
# Generate labelled loss curves from rnnlab's own trainer: healthy runs and runs with its
# `--inject` faults (mostly with the guard off so the fault shows in the curve; a few with the
# guard on: the curve is then the guarded run and the label is what a correct diagnosis says,
# e.g. a spike the guard skipped is still a spike), plus a few natural faults from the config
# (LR far too high/low, a tiny training file, small corpus in fixed-order epochs, no clipping).
# Each run's metrics.jsonl is converted to `<name>.csv` and labelled by rnnlab_convert.py, which
# checks the fault left a visible mark (and labels by what the curve shows if it did not).
#
# Usage: scripts/curve_corpus/rnnlab_runs.sh [OUT_DIR] [SCRATCH_DIR]
#   OUT_DIR      default crates/doctor/corpus/rnnlab
#   SCRATCH_DIR  run directories and small derived data files (default /tmp/rnnlab-corpus-runs)
# Environment: RNNLAB (a prebuilt binary; default: build with cargo build --release),
#   RNNLAB_DATA (corpora; default ../shared/data beside the repository), ONLY (a regex of run
#   names to (re)generate), RESUME=1 (skip runs already in INDEX.tsv), RELABEL=1 (no training:
#   convert and label the run directories already in SCRATCH_DIR), PYTHON (default python3; needs
#   numpy). The WikiText-2 run takes about 8 minutes (full-split evaluation); the rest 2-80 s each.
# Every run is single-threaded (train.threads=1) under nice -n 15, one at a time; deterministic
# (rnnlab is bit-reproducible for a given seed and thread count).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
out=${1:-crates/doctor/corpus/rnnlab}
scratch=${2:-/tmp/rnnlab-corpus-runs}
py=${PYTHON:-python3}
export RNNLAB_DATA=${RNNLAB_DATA:-$repo/../shared/data}
[[ -d $RNNLAB_DATA ]] || RNNLAB_DATA=/work/shared/data
if [[ -z "${RNNLAB:-}" ]]; then
  nice -n 15 cargo build --release -q -p rnnlab --bin rnnlab
  RNNLAB=${CARGO_TARGET_DIR:-target}/release/rnnlab
fi
RNNLAB=$(realpath "$RNNLAB")
mkdir -p "$out" "$scratch/data"
out=$(realpath "$out")

# Small derived corpora (first bytes of public-domain books), made fresh in the scratch dir.
head -c 12000 "$RNNLAB_DATA/alice/alice29.txt" >"$scratch/data/alice-12k.txt"
head -c 6000 "$RNNLAB_DATA/tinyshakespeare/input.txt" >"$scratch/data/shakes-6k.txt"
head -c 40000 "$RNNLAB_DATA/tinyshakespeare/input.txt" >"$scratch/data/shakes-40k.txt"
head -c 60000 "$RNNLAB_DATA/sherlock/input.txt" >"$scratch/data/sherlock-60k.txt"
small=$scratch/data

# name | fault (for the labeller) | guard | arguments
S="--set model.embed=32"
runs=(
  # ---- healthy ----
  "rl-builtin-lstm-ok|healthy|off|--data builtin --steps 600 --set model.hidden=64"
  "rl-builtin-gru-adamw-ok|healthy|off|--data builtin --steps 700 --set model.cell=gru --set model.hidden=96 --set train.optimizer=adamw --set train.weight_decay=0.01"
  "rl-shakes-lstm-ok|healthy|off|--data tiny-shakespeare --steps 800 --set model.hidden=128 --set train.eval_every=100"
  "rl-shakes-gru2-step-ok|healthy|off|--data tiny-shakespeare --steps 900 --set model.cell=gru --set model.layers=2 --set model.hidden=64 --set train.schedule=step --set train.step_size=300 --set train.gamma=0.5"
  "rl-builtin-rnntanh-ok|healthy|off|--data builtin --steps 800 --set model.cell=rnn_tanh --set model.hidden=128 --set train.lr=0.002"
  "rl-ptb-lstm-word-ok|healthy|off|--data ptb --steps 400 --set data.vocab_size=2000 --set model.hidden=64 --set train.batch=16 --set train.bptt=35 --set train.eval_every=100"
  "rl-wp-gru-byte-ok|healthy|off|--data war-and-peace --tokenizer byte --steps 700 --set model.cell=gru --set model.hidden=96 --set train.eval_every=150"
  "rl-alice-lstm-windows-ok|healthy|off|--data alice --steps 500 --set model.hidden=96 --set train.carry_state=false --set train.eval_every=50"
  "rl-sherlock-lstm-sgd-ok|healthy|off|--data sherlock --steps 800 --set model.hidden=96 --set train.optimizer=sgd --set train.lr=1.0 --set train.momentum=0.0 --set train.schedule=constant --set train.warmup_steps=0"
  "rl-builtin-rmsprop-ok|healthy|off|--data builtin --steps 600 --set model.hidden=64 --set train.optimizer=rmsprop --set train.lr=0.002"
  "rl-shakes-cosrestart-ok|healthy|off|--data tiny-shakespeare --steps 900 --set model.hidden=96 --set train.schedule=cosine_restarts --set train.step_size=300"
  "rl-builtin-plateau-ok|healthy|off|--data builtin --steps 800 --set model.cell=gru --set model.hidden=64 --set train.schedule=plateau --set train.step_size=2 --set train.gamma=0.5 --set train.eval_every=50"
  "rl-shakes-exp-ok|healthy|off|--data tiny-shakespeare --steps 700 --set model.hidden=64 --set train.schedule=exponential --set train.gamma=0.999"
  "rl-wiki-gru-word-ok|healthy|off|--data wikitext-2 --steps 350 --set data.vocab_size=2000 --set model.cell=gru --set model.hidden=64 --set train.batch=16 --set train.bptt=35 --set train.eval_every=70"
  "rl-builtin-bpe-ok|healthy|off|--data builtin --tokenizer bpe --set data.vocab_size=320 --steps 500 --set model.hidden=64"
  "rl-enwik8-lstm-byte-ok|healthy|off|--data enwik8-small --tokenizer byte --steps 600 --set model.hidden=96 --set train.eval_every=200"
  "rl-builtin-relu-ok|healthy|off|--data builtin --steps 700 --set model.cell=rnn_relu --set model.hidden=96 --set train.lr=0.001"
  "rl-shakes-lstm2-dropout-ok|healthy|off|--data tiny-shakespeare --steps 800 --set model.layers=2 --set model.hidden=64 --set model.dropout=0.2"
  "rl-ptb-char-gru-ok|healthy|off|--data ptb --tokenizer char --steps 600 --set model.cell=gru --set model.hidden=64 --set train.eval_every=200"
  "rl-builtin-short-ok|healthy|off|--data builtin --steps 300 --set model.hidden=48 --set train.schedule=constant --set train.warmup_steps=20"
  "rl-sherlock-word-lstm-ok|healthy|off|--data sherlock --tokenizer word --set data.vocab_size=1500 --steps 400 --set model.hidden=64 --set train.batch=16 --set train.bptt=32 --set train.eval_every=100"
  "rl-builtin-lstm-guarded-ok|healthy|full|--data builtin --steps 600 --set model.hidden=64 --set train.seed=7"
  # ---- injected faults, guard off ----
  "rl-builtin-lstm-badbatch|bad-batch@400|off|--data builtin --steps 700 --set model.hidden=64 --inject bad-batch@400"
  "rl-shakes-gru-badbatch|bad-batch@250|off|--data tiny-shakespeare --steps 600 --set model.cell=gru --set model.hidden=96 --inject bad-batch@250"
  "rl-ptb-lstm-badbatch|bad-batch@300|off|--data ptb --steps 400 --set data.vocab_size=2000 --set model.hidden=64 --set train.batch=16 --set train.bptt=35 --inject bad-batch@300"
  "rl-builtin-lstm-badbatch-noclip|bad-batch@450|off|--data builtin --steps 700 --set model.hidden=64 --set train.clip=0 --inject bad-batch@450"
  "rl-builtin-lstm-corrupt|corrupt-text@300|off|--data builtin --steps 600 --set model.hidden=64 --inject corrupt-text@300"
  "rl-shakes-rnntanh-corrupt|corrupt-text@500|off|--data tiny-shakespeare --steps 800 --set model.cell=rnn_tanh --set model.hidden=96 --set train.lr=0.002 --inject corrupt-text@500"
  "rl-builtin-lstm-nan|nan@500|off|--data builtin --steps 700 --set model.hidden=64 --inject nan@500"
  "rl-shakes-gru-nan|nan@350|off|--data tiny-shakespeare --steps 500 --set model.cell=gru --set model.hidden=64 --inject nan@350"
  "rl-wp-lstm-byte-nan|nan@200|off|--data war-and-peace --tokenizer byte --steps 400 --set model.hidden=64 --inject nan@200"
  "rl-builtin-lstm-lrspike|lr-spike@250:0.1|off|--data builtin --steps 600 --set model.hidden=64 --inject lr-spike@250:0.1"
  "rl-shakes-lstm-lrspike5|lr-spike@400:0.5:5|off|--data tiny-shakespeare --steps 700 --set model.hidden=64 --inject lr-spike@400:0.5:5"
  "rl-builtin-gru-lrspike3|lr-spike@300:0.05:3|off|--data builtin --steps 600 --set model.cell=gru --set model.hidden=64 --inject lr-spike@300:0.05:3"
  "rl-alice-lstm-sgd-lrspike|lr-spike@350:20|off|--data alice --steps 600 --set model.hidden=64 --set train.optimizer=sgd --set train.lr=0.5 --set train.clip=0 --set train.carry_state=false --inject lr-spike@350:20"
  "rl-builtin-lstm-badbatch-nan|bad-batch@300,nan@700|off|--data builtin --steps 900 --set model.hidden=64 --inject bad-batch@300 --inject nan@700"
  "rl-shakes-gru-badbatch-lrspike|bad-batch@200,lr-spike@600:0.1|off|--data tiny-shakespeare --steps 800 --set model.cell=gru --set model.hidden=64 --inject bad-batch@200 --inject lr-spike@600:0.1"
  "rl-builtin-relu-corrupt|corrupt-text@600|off|--data builtin --steps 900 --set model.cell=rnn_relu --set model.hidden=64 --set train.lr=0.001 --inject corrupt-text@600"
  "rl-sherlock-gru-badbatch|bad-batch@1000|off|--data sherlock --steps 1300 --set model.cell=gru --set model.hidden=48 --set train.batch=16 --inject bad-batch@1000"
  # ---- natural faults from the config, guard off ----
  "rl-builtin-lstm-lrhigh|lr-high|off|--data builtin --steps 600 --set model.hidden=64 --set train.lr=0.08 --set train.schedule=constant"
  "rl-shakes-rnntanh-sgd-lrhigh|lr-high|off|--data tiny-shakespeare --steps 600 --set model.cell=rnn_tanh --set model.hidden=64 --set train.optimizer=sgd --set train.momentum=0.9 --set train.lr=8 --set train.clip=0 --set train.schedule=constant"
  "rl-builtin-gru-lrlow|lr-low|off|--data builtin --steps 600 --set model.cell=gru --set model.hidden=64 --set train.lr=0.000001"
  "rl-shakes-lstm-sgd-lrlow|lr-low|off|--data tiny-shakespeare --steps 600 --set model.hidden=64 --set train.optimizer=sgd --set train.momentum=0 --set train.lr=0.001 --set train.schedule=constant"
  "rl-alice12k-lstm-overfit|overfit|off|--data $small/alice-12k.txt --steps 1500 --set train.schedule=constant --set model.hidden=256 --set train.batch=8 --set train.bptt=32 --set train.carry_state=false --set train.eval_every=20 --set data.split=[0.8,0.1,0.1]"
  "rl-shakes6k-gru-overfit|overfit|off|--data $small/shakes-6k.txt --steps 1500 --set train.schedule=constant --set model.cell=gru --set model.hidden=128 --set train.batch=4 --set train.bptt=32 --set train.carry_state=false --set train.eval_every=20 --set data.split=[0.8,0.1,0.1]"
  "rl-shakes40k-lstm-epochs|epochs|off|--data $small/shakes-40k.txt --steps 700 --set model.hidden=128 --set train.batch=16 --set train.bptt=64 --set train.eval_every=35 --set train.schedule=constant"
  "rl-sherlock60k-gru-epochs|epochs|off|--data $small/sherlock-60k.txt --steps 800 --set model.cell=gru --set model.hidden=96 --set train.batch=8 --set train.bptt=64 --set train.eval_every=100 --set train.schedule=constant"
  "rl-builtin-relu-noclip|noclip|off|--data builtin --steps 600 --set model.cell=rnn_relu --set model.hidden=96 --set train.optimizer=sgd --set train.momentum=0.9 --set train.lr=0.3 --set train.clip=0 --set train.schedule=constant"
  # ---- injected faults, guard on ----
  "rl-builtin-lstm-badbatch-guard|bad-batch@400|full|--data builtin --steps 700 --set model.hidden=64 --inject bad-batch@400"
  "rl-builtin-lstm-nan-guard|nan@500|full|--data builtin --steps 700 --set model.hidden=64 --inject nan@500"
  # (an LR spike the guard leaves alone logs the same curve as rl-builtin-lstm-lrspike: not kept)
  "rl-shakes-gru-corrupt-skip|corrupt-text@300|skip|--data tiny-shakespeare --steps 600 --set model.cell=gru --set model.hidden=64 --inject corrupt-text@300"
  "rl-shakes-lstm-badbatch-skip|bad-batch@350|skip|--data tiny-shakespeare --steps 600 --set model.hidden=64 --inject bad-batch@350"
  "rl-builtin-gru-nan-skip|nan@300|skip|--data builtin --steps 600 --set model.cell=gru --set model.hidden=64 --inject nan@300"
)

t_all=$(date +%s)
for r in "${runs[@]}"; do
  IFS='|' read -r name fault guard args <<<"$r"
  if [[ -n "${ONLY:-}" && ! $name =~ $ONLY ]]; then continue; fi
  if [[ -n "${RESUME:-}" && -f "$out/$name.csv" ]] && grep -q "^$name	" "$out/INDEX.tsv" 2>/dev/null; then continue; fi
  t0=$(date +%s)
  if [[ -n "${RELABEL:-}" ]]; then  # convert and label the existing run directory again
    [[ -f "$scratch/$name/metrics.jsonl" ]] || continue
  else
  rm -rf "${scratch:?}/$name"
  # shellcheck disable=SC2086  # args split on spaces on purpose
  if ! nice -n 15 "$RNNLAB" train -q --runs "$scratch" --name "$name" --guard "$guard" \
      --set train.threads=1 --set train.sample_every=0 $S $args >"$scratch/$name.log" 2>&1; then
    echo "run $name failed:"; tail -5 "$scratch/$name.log"; continue
  fi
  fi
  printf '%4ss  ' $(($(date +%s) - t0))
  "$py" scripts/curve_corpus/rnnlab_convert.py "$scratch/$name" "$out" "$name" "$fault" "$guard" \
    "scripts/curve_corpus/rnnlab_runs.sh ($name: --guard $guard ${args//$small/SCRATCH/data})"
done
echo "done in $(($(date +%s) - t_all))s"
