#!/usr/bin/env bash
# Fault campaign: trains a small model and hurts it the ways real machines do — kill -9 storms,
# SIGTERM and Ctrl-C, damaged checkpoint and log files, two trainers on one run, a full disk —
# then checks that nothing is lost or silently wrong. Prints a PASS/FAIL table; exits 1 on any
# FAIL.
#
# Usage: scripts/fault_campaign.sh [WORK_DIR]     (default: a fresh temp directory)
# Environment: RNNLAB (a prebuilt binary; default: cargo build --release), KILLS (kill -9s in
#   the storm, default 12), STEPS (steps per run, default 240).
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RNNLAB:-}" ]]; then
  cargo build --release -q -p rnnlab --bin rnnlab || exit 1
  RNNLAB=${CARGO_TARGET_DIR:-target}/release/rnnlab
fi
RNNLAB=$(realpath "$RNNLAB")
work=${1:-$(mktemp -d /tmp/rnnlab-faults.XXXXXX)}
mkdir -p "$work"
kills=${KILLS:-12}
steps=${STEPS:-240}
export RNNLAB_DATA="$work/no-data" RNNLAB_CACHE="$work/no-cache"
SMALL=(-q --set model.embed=16 --set model.hidden=64 --set train.batch=8 --set train.bptt=32
       --set train.threads=1 --set train.eval_every=40 --set train.checkpoint_every=20
       --set train.keep_checkpoints=3 --set train.warmup_steps=20)

results=()
record() { # record NAME OK DETAIL
  results+=("$(printf '%-4s  %-44s %s' "$([[ $2 == 1 ]] && echo PASS || echo FAIL)" "$1" "$3")")
}
train() { "$RNNLAB" train "${SMALL[@]}" --runs "$work" "$@"; }
# In the background, as the process itself (not a subshell), so signals reach it.
train_bg() { "$RNNLAB" train "${SMALL[@]}" --runs "$work" "$@" >/dev/null 2>&1 & pid=$!; }
# Step and evaluation lines without wall-clock fields: what must match an uninterrupted run.
numbers() {
  python3 -c '
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(l)
    if "event" in v: continue
    for k in ("time_s", "tok_per_s"): v.pop(k, None)
    print(json.dumps(v, sort_keys=True))' "$1/metrics.jsonl"
}
wait_steps() { # wait_steps RUN N: until the log has N step lines (or 60 s)
  for _ in $(seq 600); do
    [[ -f $1/metrics.jsonl ]] && (( $(grep -c '"loss"' "$1/metrics.jsonl") >= $2 )) && return 0
    sleep 0.1
  done
  return 1
}
ends_whole() { [[ ! -s $1 ]] || [[ $(tail -c1 "$1" | od -An -c | tr -d ' ') == '\n' ]]; }

echo "fault campaign in $work ($steps steps per run, $kills kill -9s)"
train --name reference --steps "$steps" >/dev/null 2>&1
numbers "$work/reference" >"$work/reference.numbers"
[[ -s $work/reference.numbers ]] || { echo "the reference run failed"; exit 1; }

# 1. kill -9 storm: the run is killed at random moments and resumed each time.
run=$work/storm; ok=1; detail=""
train_bg --name storm --steps "$steps"
for i in $(seq "$kills"); do
  sleep "$((RANDOM % 2)).$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  ends_whole "$run/metrics.jsonl" || { ok=0; detail+="torn log after kill $i; "; }
  if [[ -f $run/config.toml ]]; then
    "$RNNLAB" train -q --resume "$run" >/dev/null 2>"$work/storm.err" & pid=$!
  else
    # Killed before it began: resume says to start it again, as a user would.
    "$RNNLAB" train -q --resume "$run" 2>&1 | grep -q "start it again without --resume" \
      || { ok=0; detail+="resume of a run killed before it began did not say what to do; "; }
    train_bg --name storm --steps "$steps"
  fi
done
wait "$pid"; rc=$?
[[ $rc == 0 ]] || { ok=0; detail+="last resume exited $rc: $(tail -1 "$work/storm.err"); "; }
cmp -s <(numbers "$run") "$work/reference.numbers" || { ok=0; detail+="numbers differ from the uninterrupted run; "; }
record "kill -9 storm ($kills kills), resume each" $ok "${detail:-identical to the uninterrupted run}"

# 2-3. SIGTERM and Ctrl-C: a checkpoint, exit 143 / 130, and resume continues exactly.
for sig in TERM INT; do
  run=$work/sig-$sig; ok=1; detail=""
  train_bg --name "sig-$sig" --steps "$steps"
  wait_steps "$run" 50; kill -s "$sig" "$pid"; wait "$pid"; rc=$?
  want=$([[ $sig == TERM ]] && echo 143 || echo 130)
  [[ $rc == "$want" ]] || { ok=0; detail+="exit $rc, want $want; "; }
  tail -1 "$run/metrics.jsonl" | grep -q '"interrupted"' || { ok=0; detail+="no interrupted line; "; }
  "$RNNLAB" train -q --resume "$run" >/dev/null 2>&1 || { ok=0; detail+="resume failed; "; }
  cmp -s <(numbers "$run") "$work/reference.numbers" || { ok=0; detail+="numbers differ; "; }
  record "SIG$sig: checkpoint, exit $want, exact resume" $ok "${detail:-exit $rc, identical after resume}"
done

# 4. A damaged newest checkpoint: resume names it, falls back, and still ends identical.
run=$work/damaged; ok=1; detail=""
train_bg --name damaged --steps "$steps"
wait_steps "$run" 130; kill -9 "$pid"; wait "$pid" 2>/dev/null
newest=$(ls -d "$run"/checkpoints/step-* | tail -1)
printf 'garbage!' | dd of="$newest/model.safetensors" bs=1 seek=4000 conv=notrunc status=none
"$RNNLAB" train -q --resume "$run" >/dev/null 2>"$work/damaged.err" || { ok=0; detail+="resume failed; "; }
grep -q "is damaged: checksum mismatch in model.safetensors" "$work/damaged.err" || { ok=0; detail+="damage not named; "; }
grep -q "resuming from" "$work/damaged.err" || { ok=0; detail+="fallback not said; "; }
cmp -s <(numbers "$run") "$work/reference.numbers" || { ok=0; detail+="numbers differ; "; }
record "damaged newest checkpoint on --resume" $ok "${detail:-$(grep -o 'resuming from .*' "$work/damaged.err" | sed "s|$work/||")}"

# 5. eval and sample on damaged weights: one clear error.
cp -r "$work/reference" "$work/evaldmg"
printf 'garbage!' | dd of="$work/evaldmg/checkpoints/best/model.safetensors" bs=1 seek=3000 conv=notrunc status=none
for cmd in eval sample; do
  out=$("$RNNLAB" "$cmd" "$work/evaldmg" 2>&1); rc=$?
  ok=0; [[ $rc != 0 ]] && grep -q "is damaged: checksum mismatch in model.safetensors" <<<"$out" && ok=1
  record "$cmd on a damaged best checkpoint" $ok "exit $rc: $(tail -1 <<<"$out" | sed "s|$work/||" | cut -c1-90)"
done

# 6. A torn metrics log: the doctor reads up to the last whole line and says so.
cp -r "$work/reference" "$work/torn"
printf '{"step": 999, "lo' >>"$work/torn/metrics.jsonl"
out=$("$RNNLAB" doctor "$work/torn" 2>&1 >/dev/null); rc=$?
ok=0; [[ $rc == 0 ]] && grep -q "cut off" <<<"$out" && ok=1
record "doctor on a torn metrics.jsonl" $ok "$(sed "s|$work/||" <<<"$out" | head -1 | cut -c1-100)"

# 7. Two writers: a second fresh start and a resume while one trains are refused.
run=$work/two; ok=1; detail=""
train_bg --name two --steps 100000
wait_steps "$run" 5
out=$(train --name two --steps 50 2>&1); rc=$?
[[ $rc != 0 ]] && grep -q "process $pid" <<<"$out" || { ok=0; detail+="second start: $out; "; }
out=$("$RNNLAB" train -q --resume "$run" 2>&1); rc=$?
[[ $rc != 0 ]] && grep -q "process $pid" <<<"$out" || { ok=0; detail+="resume: $out; "; }
kill -TERM "$pid"; wait "$pid"
python3 -c '
import json, sys
s = [json.loads(l)["step"] for l in open(sys.argv[1]) if "\"loss\"" in l]
sys.exit(0 if s == list(range(len(s))) else 1)' "$run/metrics.jsonl" || { ok=0; detail+="log interleaved; "; }
record "two trainers on one run" $ok "${detail:-refused: $(tail -1 <<<"$out" | sed "s|$work/||" | cut -c1-80)}"

# 8. A full disk: a real small tmpfs where the machine allows mounting one, else `ulimit -f`.
disk=$work/disk; mkdir -p "$disk"
# Room for the token cache (about 9.5 MB) but not for every checkpoint after it.
if mount -t tmpfs -o size=11m tmpfs "$disk" 2>/dev/null; then how="11 MiB tmpfs"; else how="ulimit -f 1500"; fi
ok=1; detail=""
if [[ $how == "ulimit"* ]]; then
  out=$(bash -c "trap '' XFSZ; ulimit -f 1500; exec \"\$0\" \"\$@\"" "$RNNLAB" train "${SMALL[@]}" --runs "$disk" --name full --steps "$steps" 2>&1); rc=$?
else
  out=$("$RNNLAB" train "${SMALL[@]}" --runs "$disk" --name full --steps "$steps" 2>&1); rc=$?
fi
[[ $rc != 0 ]] || { ok=0; detail+="the run did not notice; "; }
grep -q "out of disk space" <<<"$out" || { ok=0; detail+="no out-of-space hint: $(tail -1 <<<"$out"); "; }
ends_whole "$disk/full/metrics.jsonl" || { ok=0; detail+="log ends in a partial line; "; }
[[ -d $disk/full ]] || { ok=0; detail+="no run directory left to resume; "; }
cp -r "$disk/full" "$work/full" 2>/dev/null
mountpoint -q "$disk" && umount "$disk"
"$RNNLAB" train -q --resume "$work/full" >/dev/null 2>&1 || { ok=0; detail+="resume failed; "; }
cmp -s <(numbers "$work/full") "$work/reference.numbers" || { ok=0; detail+="numbers differ; "; }
record "full disk ($how), then resume" $ok "${detail:-$(grep -o 'error: .*' <<<"$out" | sed "s|$disk/||" | cut -c1-70)…}"

# 9. Bad input leaves nothing behind.
ok=1
for bad in "--set train.lr=-0.001" "--set model.cell=transformer" "--steps 0" "--set hidden=64"; do
  # shellcheck disable=SC2086
  train --name bad $bad >/dev/null 2>&1 && ok=0
  [[ -e $work/bad ]] && ok=0
done
record "bad settings write nothing" $ok "lr<0, unknown cell, --steps 0, key without section"

echo
printf '%s\n' "${results[@]}"
fails=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL')
echo
echo "$(( ${#results[@]} - fails )) passed, $fails failed"
[[ $fails == 0 ]]
