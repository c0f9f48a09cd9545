#!/usr/bin/env bash
# Demonstrates the training guard on the default model (LSTM 1x256 on the built-in corpus):
# a clean run, and runs with faults injected, with the guard on (`full`, the default) and off.
# Prints each run's final validation loss, the guard's actions and the doctor's findings, then
# checks the guard issue's claims one by one (PASS/FAIL):
#   - bad-batch@400: guarded ends within 1% of the clean run; the doctor finds the spike at 400
#     in the unguarded run and names the guard's skip in the guarded one;
#   - nan@500: guarded finishes with a finite loss; unguarded, the doctor reports non_finite at 500;
#   - lr-spike@250:0.1: guarded rolls back to the state before the spike and recovers; a brief
#     excursion does not come back, so the LR keeps its schedule (it is lowered only when trouble
#     returns after a rollback, guard.lr_lower_after); the incident names the step and the action;
#   - for every injected fault, the guarded run never ends worse than the unguarded one (within
#     0.2 % run-to-run noise), or, where the fault happened to help the unguarded run below the
#     clean one, no worse than the clean run (all a guard that undoes the fault can give);
#   - the plain default command (`rnnlab train`, 2 minutes) triggers no guard action;
#   - the guard's cost per step (examples/guard_bench.rs).
#
# Usage: scripts/guard_demo.sh [RUNS_DIR]          (default runs/guard-demo-<time>)
# Environment: STEPS (steps of the comparison runs, default 1000), JOBS (runs at once, default 1),
#   THREADS (threads per run, default: rnnlab's own), RNNLAB and GUARD_BENCH (prebuilt binaries),
#   SKIP_DEFAULT=1 (leave out the 2-minute default run), EXTRA (more arguments for every run,
#   e.g. "--set model.hidden=32" for a quick smoke test). Needs python3 for the report.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RNNLAB:-}" || -z "${GUARD_BENCH:-}" ]]; then
  cargo build --release -q -p rnnlab --bin rnnlab --example guard_bench
  target=${CARGO_TARGET_DIR:-target}
  RNNLAB=${RNNLAB:-$target/release/rnnlab}
  GUARD_BENCH=${GUARD_BENCH:-$target/release/examples/guard_bench}
fi
out=${1:-runs/guard-demo-$(date +%Y%m%d-%H%M%S)}
steps=${STEPS:-1000}
jobs=${JOBS:-1}
mkdir -p "$out"

threads=()
[[ -n "${THREADS:-}" ]] && threads=(--set "train.threads=$THREADS")
# shellcheck disable=SC2206  # EXTRA splits on spaces on purpose
threads+=(${EXTRA:-})

# name | extra arguments
runs=(
  "clean|"
  "bad-batch-full|--inject bad-batch@400"
  "bad-batch-off|--inject bad-batch@400 --guard off"
  "nan-full|--inject nan@500"
  "nan-off|--inject nan@500 --guard off"
  "lr-spike-full|--inject lr-spike@250:0.1"
  "lr-spike-off|--inject lr-spike@250:0.1 --guard off"
  "corrupt-text-full|--inject corrupt-text@300"
  "corrupt-text-off|--inject corrupt-text@300 --guard off"
)

train_one() { # train_one NAME ARGS...
  local name=$1; shift
  rm -rf "${out:?}/$name"
  "$RNNLAB" train -q --runs "$out" --name "$name" "${threads[@]}" "$@" >"$out/$name.log" 2>&1 \
    || { echo "run $name failed:"; tail -5 "$out/$name.log"; return 1; }
  echo "  finished $name"
}

echo "training ${#runs[@]} runs of $steps steps (default model, $jobs at a time) into $out"
pids=()
for r in "${runs[@]}"; do
  name=${r%%|*}; args=${r#*|}
  # shellcheck disable=SC2086  # the extra arguments split on spaces on purpose
  train_one "$name" --steps "$steps" $args &
  pids+=($!)
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
done
if [[ -z "${SKIP_DEFAULT:-}" ]]; then
  echo "training the plain default command (time-bounded) as the false-alarm check"
  train_one default &
  pids+=($!)
fi
for p in "${pids[@]}"; do wait "$p"; done

for d in "$out"/*/; do
  "$RNNLAB" doctor --json "$d" >"${d%/}.doctor.json"
done
bench=$("$GUARD_BENCH" 30 "${THREADS:-0}")

python3 - "$out" "$bench" <<'PY'
import json, os, statistics, sys

out, bench = sys.argv[1], sys.argv[2]

def lines(name):
    with open(os.path.join(out, name, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f]

def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity"))

def final_val(name):
    vals = [num(r["val_loss"]) for r in lines(name) if "val_loss" in r]
    return vals[-1]

def events(name):
    return [(r["step"], r["event"]) for r in lines(name) if str(r.get("event", "")).startswith("guard_")]

def doctor(name):
    with open(os.path.join(out, name + ".doctor.json")) as f:
        return json.load(f)

def findings(name, kind=None):
    return [f for f in doctor(name)["findings"] if kind is None or f["kind"] == kind]

def losses(name, lo, hi):
    return [num(r["loss"]) for r in lines(name) if "loss" in r and lo <= r["step"] < hi]

def where(f):
    s = f["peak_step"] if f["peak_step"] is not None else f["start_step"]
    return "-" if s is None else f"{s:.0f}"

names = [n for n in ["clean", "bad-batch-full", "bad-batch-off", "nan-full", "nan-off",
                     "lr-spike-full", "lr-spike-off", "corrupt-text-full", "corrupt-text-off",
                     "default"]
         if os.path.isdir(os.path.join(out, n))]
clean = final_val("clean")
print()
print(f"{'run':<18} {'steps':>6} {'final val':>10} {'vs clean':>9}  {'guard actions':<34} doctor findings (warning/error, and spikes)")
for n in names:
    steps = max(r["step"] for r in lines(n) if "loss" in r) + 1
    v = final_val(n)
    rel = "" if n in ("clean", "default") else f"{100 * (v - clean) / clean:+.2f}%"
    ev = events(n)
    acts = ", ".join(f"{e.replace('guard_', '')}@{s}" for s, e in ev[:4]) + (" …" if len(ev) > 4 else "")
    fs = [f for f in findings(n) if f["severity"] != "info" or f["kind"] == "spike"]
    fd = ", ".join(f"{f['kind']}@{where(f)}({f['severity'][0]})" for f in fs[:4]) or doctor(n)["verdict"]
    print(f"{n:<18} {steps:>6} {v:>10.4f} {rel:>9}  {acts or 'none':<34} {fd}")

checks = []
def check(claim, ok, detail):
    checks.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {claim}: {detail}")

print()
g = final_val("bad-batch-full")
check("bad-batch@400 guarded ends within 1% of clean", abs(g - clean) / clean < 0.01,
      f"{g:.4f} vs {clean:.4f} ({100 * (g - clean) / clean:+.3f}%)")
off_spike = [f for f in findings("bad-batch-off", "spike") if f["peak_step"] == 400]
check("doctor finds a spike at 400 in the unguarded bad-batch run", bool(off_spike),
      off_spike[0]["summary"] if off_spike else "no spike at 400")
on_spike = [f for f in findings("bad-batch-full", "spike") if f["evidence"].get("guard_events")]
check("doctor reports the guard's skip in the guarded bad-batch run", bool(on_spike),
      "; ".join(on_spike[0]["evidence"]["guard_events"]) if on_spike else "no guard event attached")
n = final_val("nan-full")
check("nan@500 guarded continues and finishes",
      n == n and abs(n) != float("inf") and (500, "guard_skip") in events("nan-full"),
      f"final val {n:.4f}, actions {events('nan-full')}")
nf = findings("nan-off", "non_finite")
check("doctor reports non_finite at 500 in the unguarded nan run", bool(nf) and nf[0]["start_step"] == 500,
      nf[0]["summary"] if nf else "no non_finite finding")
ev = events("lr-spike-full")
rb = [s for s, e in ev if e == "guard_rollback"]
if rb:
    inc = json.load(open(os.path.join(out, "lr-spike-full", "incidents", f"step-{rb[0]}.json")))
    before = statistics.median(losses("lr-spike-full", 230, 250))
    after = statistics.median(losses("lr-spike-full", rb[0] + 1, rb[0] + 21))
    spike = max(losses("lr-spike-full", 250, rb[0] + 1))
    last = max(r["step"] for r in lines("clean") if "lr" in r)
    lr_at = lambda name: [r["lr"] for r in lines(name) if r.get("step") == last and "lr" in r][0]
    lr_ratio = lr_at("lr-spike-full") / lr_at("clean")
    low = [r["lr"] for r in lines("lr-spike-full") if r.get("step") == rb[0] + 10 and "lr" in r][0]
    low_ratio = low / [r["lr"] for r in lines("clean") if r.get("step") == rb[0] + 10 and "lr" in r][0]
    # One rollback undoes the excursion: the LR stays on the schedule; a second rollback in
    # the episode would have halved it (and the schedule would be back by the end).
    lowered = len(rb) > 1
    lr_ok = lowered or abs(low_ratio - 1.0) < 1e-6
    check("lr-spike@250:0.1 guarded rolls back to before the spike, recovers and keeps the schedule",
          inc["action"] == "rollback" and inc["step"] == rb[0] and inc["rollback"]["to_step"] <= 250
          and lr_ok and abs(lr_ratio - 1.0) < 1e-6 and after < 1.1 * before,
          f"incident step-{rb[0]}.json: action {inc['action']}, restored step {inc['rollback']['to_step']}, "
          f"lr factor {inc['rollback']['lr_scale_after']} (lr ratio to clean at step {last}: {lr_ratio:.3f}); "
          f"train loss {before:.3f} before, {spike:.3f} at the spike, {after:.3f} in the 20 steps after the rollback; "
          f"final val {final_val('lr-spike-full'):.4f} (unguarded {final_val('lr-spike-off'):.4f}, clean {clean:.4f})")
else:
    check("lr-spike@250:0.1 guarded rolls back and recovers", False, f"no rollback in {ev}")
for fault in ["bad-batch", "nan", "lr-spike", "corrupt-text"]:
    if not all(os.path.isdir(os.path.join(out, f"{fault}-{m}")) for m in ("full", "off")):
        continue
    g, u = final_val(f"{fault}-full"), final_val(f"{fault}-off")
    # A NaN is the worst ending there is. A fault can also happen to help (an LR excursion acts
    # like a warm restart): an unguarded run that ends below the clean run was lucky, and a
    # guard that undoes the fault can at best give the clean run's result, so that counts too.
    ok = g == g and (u != u or g <= u * 1.002 or g <= clean * 1.002)
    why = "" if u != u or g <= u * 1.002 or not ok else \
        f" (the unguarded run ended {100 * (1 - u / clean):.2f} % below the clean run: the fault helped it; the guarded one ends at the clean run's level)"
    check(f"{fault}: the guarded run ends no worse than the unguarded one (or than the clean run)", ok,
          f"guarded {g:.4f}, unguarded {u:.4f}, clean {clean:.4f}{why}")
if "default" in names:
    d = events("default")
    steps = max(r["step"] for r in lines("default") if "loss" in r) + 1
    check("the plain default run triggers no guard action", not d, f"{steps} steps, actions: {d or 'none'}")
print()
print(bench)
print()
print(f"{sum(checks)} of {len(checks)} checks passed")
sys.exit(0 if all(checks) else 1)
PY
