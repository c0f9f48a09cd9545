#!/usr/bin/env python3
"""Convert one rnnlab run directory into a corpus curve (CSV) and label it.

    rnnlab_convert.py RUN_DIR OUT_DIR NAME FAULT GUARD SOURCE

FAULT is what was done to the run: `healthy`, `bad-batch@S`, `corrupt-text@S`, `nan@S`,
`lr-spike@S:LR[:N]`, `lr-high`, `lr-low`, `overfit`, `epochs`, `noclip` (several joined by `,`).
The label says what the curve shows: a fault that left no visible mark is labelled by what is
visible and the reason says so. A spike the guard skipped is still a spike (the curve logs it).
"""

import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curve_checks import (  # noqa: E402
    HEADER_INDEX_REFS, Curve, above_uniform_label, plain_spike, fmt, read_index, split_of, stall_label,
    with_early_blowup, write_index)


def num(v):
    if v is None:
        return None
    if isinstance(v, str):
        return {"NaN": float("nan"), "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}[v]
    return float(v)


def load(run_dir):
    steps, vals, events = {}, {}, []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if "event" in r:
                events.append(r)
            elif "val_loss" in r:
                vals[int(r["step"])] = r
            elif "loss" in r:
                steps[int(r["step"])] = r
    with open(os.path.join(run_dir, "meta.json")) as f:
        meta = json.load(f)
    rows = []
    for s in sorted(set(steps) | set(vals)):
        row = {"step": s}
        if s in steps:
            r = steps[s]
            row["loss"] = num(r["loss"])
            row["lr"] = num(r.get("lr"))
            row["grad_norm"] = num(r.get("grad_norm"))
            row["epoch"] = num(r.get("epoch"))
        if s in vals:
            row["val_loss"] = num(vals[s]["val_loss"])
            row.setdefault("epoch", num(vals[s].get("epoch")))
        rows.append(row)
    return rows, meta, events


def label(rows, meta, events, faults, guard):
    cv = Curve(rows)
    V = meta["vocab_size"]
    lnV = math.log(V)
    ref = meta.get("references", {})
    refs = (ref.get("unigram") or 0.8 * lnV, ref.get("bigram") or 0.6 * lnV)
    n = len(cv.loss)
    noise = cv.noise()
    L0, Lend = cv.start_level(), cv.level(0.85, 1.0)
    guard_ev = [e for e in events if str(e.get("event", "")).startswith("guard")]
    gtxt = ""
    if guard_ev:
        kinds = sorted({e["event"] for e in guard_ev})
        gtxt = f"; guard {guard} acted {len(guard_ev)}x ({', '.join(kinds)}) from step {guard_ev[0]['step']}"

    def overfit():
        # A validation curve with a non-finite value is read by the non-finite checks instead.
        return cv.val_rise() if np.isfinite(cv.val).all() else None

    def healthy(prefix):
        if cv.first_nonfinite is not None:
            return f"non_finite@{cv.first_nonfinite}", "high", prefix + f"; loss non-finite from step {cv.first_nonfinite}"
        ms = cv.max_spike()
        if ms and plain_spike(ms[1], ms[2], ms[3]):
            s = int(cv.steps[ms[0]])
            return f"spike@{s}", "medium", prefix + f"; unplanned spike at step {s} ({ms[3]:.3f} -> {ms[3] + ms[2]:.3f}, z={ms[1]:.0f})"
        of = overfit()
        if of:
            return "overfitting", "medium", prefix + f"; validation rises from {of[1]:.3f} at step {of[0]} to {of[2]:.3f}"
        dpd = cv.drop_per_doubling()
        if Lend > 0.98 * L0 or (dpd < 0.06 and Lend > refs[1] + 0.1):
            lab, lev = stall_label(cv, refs, lnV)
            return lab, "medium", prefix + f"; but the loss stalls ({L0:.3f} -> {Lend:.3f}, drop/doubling {dpd:.3f}, bigram {refs[1]:.3f})"
        if Lend > lnV:
            return above_uniform_label(L0, Lend, lnV, prefix)
        if Lend > refs[1] + max(0.05, 0.3 * (refs[0] - refs[1])):
            return "healthy|underfitting", "medium", prefix + f"; still improving (drop/doubling {dpd:.3f}) but ends above the bigram level: loss {L0:.3f} -> {Lend:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f}), early in training"
        return "healthy", "high", prefix + f"; loss {L0:.3f} -> {Lend:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f})"

    reqs, confs, texts = [], [], []
    for fault in faults:
        kind, _, arg = fault.partition("@")
        if kind == "healthy":
            return healthy("no fault" + gtxt)
        if kind == "nan":
            s = int(arg)
            nf = cv.first_nonfinite
            if nf is None:
                reqs.append(None)
                texts.append(f"nan@{s} injected but nothing non-finite was logged")
                continue
            reqs.append(f"non_finite@{nf}")
            confs.append("high")
            after = cv.loss[cv.steps > nf]
            stays = "stays NaN" if len(after) and not np.isfinite(after).any() else (
                "the run ends there" if not len(after) else "finite again after it")
            texts.append(f"nan@{s} injected; logged loss non-finite at step {nf}, {stays}")
            continue
        if kind in ("bad-batch", "corrupt-text", "lr-spike"):
            s = int(arg.split(":")[0])
            extra = int(arg.split(":")[2]) if kind == "lr-spike" and arg.count(":") >= 2 else 1
            if cv.first_nonfinite is not None and s <= cv.first_nonfinite <= s + 2 + extra:
                reqs.append(f"non_finite@{cv.first_nonfinite}")
                confs.append("high")
                texts.append(f"{fault}: loss turned non-finite at step {cv.first_nonfinite}")
                continue
            sp = cv.spike_at(s, s + 2 + extra)
            if sp is None or sp[1] < 6 or sp[2] < 0.04 * sp[3]:
                reqs.append(None)
                texts.append(f"{fault} left no visible mark (noise {noise:.3g})")
                continue
            i, z, rise, base = sp
            st = int(cv.steps[i])
            rec = cv.recovery_points(i, base)
            t = f"{fault}: loss {base + rise:.3f} at step {st} vs preceding {base:.3f} (z={z:.0f})"
            if rec is not None and rec <= max(10, n // 25):
                rest = None if plain_spike(z, rise, base) else healthy(t)[0]
                if rest and " + " not in rest:
                    reqs.append(f"spike@{st}|{rest}")
                    confs.append("low")
                    texts.append(t + f", back within {rec} steps; a mark this weak in a run with no fault is "
                                 "labelled by the rest: either reading")
                else:
                    reqs.append(f"spike@{st}")
                    confs.append("high" if z >= 10 and rise >= 0.1 * base else "medium")
                    texts.append(t + f", back within {rec} steps")
            elif rec is not None:
                reqs.append(f"spike@{st}|instability")
                confs.append("medium")
                texts.append(t + f", recovers slowly ({rec} steps)")
            elif Lend - base > 0.3 * max(L0 - base, 1e-6):
                reqs.append("divergence|instability")
                confs.append("medium")
                texts.append(t + f", never recovers (end {Lend:.3f}, start {L0:.3f})")
            else:
                reqs.append(f"spike@{st}|instability|upward_drift")
                confs.append("medium")
                texts.append(t + f", stays a little above (end {Lend:.3f})")
            continue
        if kind in ("lr-high", "noclip"):
            if cv.first_nonfinite is not None:
                return f"non_finite@{cv.first_nonfinite}", "high", f"{fault}; loss non-finite from step {cv.first_nonfinite}" + gtxt
            best = float(np.nanmin(cv.rolling_median(15)))
            dpd, rn = cv.drop_per_doubling(), cv.rel_noise_late()
            gr = cv.grad[np.isfinite(cv.grad)]
            ratio = float(np.max(gr) / max(1e-12, np.median(gr))) if len(gr) > 5 else 0.0
            if Lend - best > max(0.3, 0.3 * (L0 - best)):
                return "divergence|instability", "medium", f"{fault}; best {best:.3f}, end {Lend:.3f} (start {L0:.3f})" + gtxt
            if kind == "noclip" and ratio > 10:
                if not cv.grad_peak_early():
                    return "exploding_gradients", "medium", f"{fault}; grad norm peaks {ratio:.0f}x its median" + gtxt
                # An early peak alone is what healthy runs show too: either reading.
                rest = healthy(f"{fault}; grad norm peaks {ratio:.0f}x its median, but in the first 5% of the run")[0]
                if " + " not in rest:
                    return ("exploding_gradients|" + rest, "low", f"{fault}; grad norm peaks {ratio:.0f}x its median, "
                            "but in the first 5% of the run, where healthy runs peak as high: either reading" + gtxt)
                return "exploding_gradients", "medium", f"{fault}; grad norm peaks {ratio:.0f}x its median" + gtxt
            if dpd < 0.06 and Lend > 0.5 * L0:
                st, lev = stall_label(cv, refs, lnV)
                if rn > 0.08:
                    return "oscillation + " + st, "medium", f"{fault}; stalled at {lev:.3f} in a wide band (rel. noise {rn:.3f})" + gtxt
                return st + "|oscillation", "medium", f"{fault}; stalled at {lev:.3f} (drop/doubling {dpd:.3f})" + gtxt
            if rn > 0.08:
                return "oscillation|instability", "medium", f"{fault}; improving in a wide band (rel. noise {rn:.3f})" + gtxt
            return healthy(f"{fault} left no visible mark" + gtxt)
        if kind == "lr-low":
            dpd = cv.drop_per_doubling()
            if dpd < 0.06 or (Lend > refs[1] and Lend > 0.9 * L0):
                st, lev = stall_label(cv, refs, lnV)
                return st, "high", f"{fault}; ends at {lev:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f}), drop/doubling {dpd:.3f}"
            if Lend > refs[1] + 0.1:
                return "underfitting|stagnation", "medium", f"{fault}; still above bigram ({Lend:.3f} vs {refs[1]:.3f})"
            return healthy(f"{fault}: still learning (end {Lend:.3f})")
        if kind == "overfit":
            of = overfit()
            # Overfitting is validation rising while training falls; a tiny file at a high LR
            # can make training itself climb far from its best (SGD at 0.86: 1.38 -> 2.89).
            best = float(np.nanmin(cv.rolling_median()))
            if of and Lend > best + max(0.3, 0.25 * best):
                return "divergence|overfitting", "medium", f"tiny training file; training itself climbs from {best:.3f} to {Lend:.3f} and validation from {of[1]:.3f} (step {of[0]}) to {of[2]:.3f}"
            if of:
                return "overfitting", "high", f"tiny training file; validation bottoms at {of[1]:.3f} (step {of[0]}) and ends at {of[2]:.3f}, training ends at {Lend:.3f}"
            return healthy("tiny training file, but validation did not rise")
        if kind == "epochs":
            P = meta["steps_per_epoch"]
            rm = cv.rolling_median(int(2 * P) | 1)
            r = cv.loss - rm
            r = r[np.isfinite(r)]
            ac = float("nan")
            if 2 <= P <= len(r) / 3:
                a, b = r[:-P] - r.mean(), r[P:] - r.mean()
                ac = float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum() + 1e-12))
            of = overfit()
            if ac == ac and ac > 0.3:
                return "periodic" + ("|overfitting" if of else ""), "high" if ac > 0.5 else "medium", \
                    f"small corpus, {P} steps/epoch in fixed order; detrended loss autocorrelation {ac:.2f} at one epoch" + \
                    (f"; validation rises {of[1]:.3f} -> {of[2]:.3f}" if of else "")
            return healthy(f"small corpus in fixed order ({P} steps/epoch) but no repeat visible (ac {ac:.2f})")
        raise ValueError(fault)
    got = [r for r in reqs if r]
    txt = "; ".join(texts) + gtxt
    if not got:
        return healthy(txt)
    conf = "high" if all(c == "high" for c in confs) else "medium"
    return " + ".join(got), conf, txt


def fmt_ref(v):
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else ""


def main():
    run_dir, out, name, fault, guard, source = sys.argv[1:7]
    rows, meta, events = load(run_dir)
    labels, conf, reason = with_early_blowup(Curve(rows), *label(rows, meta, events, fault.split(","), guard))
    with open(os.path.join(run_dir, "config.toml")) as f:
        cfg = f.read()

    def key(k):
        for line in cfg.splitlines():
            if line.split("=")[0].strip() == k:
                return line.split("=", 1)[1].strip().strip('"')
        return "?"
    desc = (f"{key('cell')} {key('layers')}x{key('hidden')}, {meta['tokenizer']} {os.path.basename(meta['data'])} V={meta['vocab_size']}, "
            f"{key('optimizer')} lr {key('lr')} {key('schedule')}, clip {key('clip')}, guard {guard}")
    reason = (reason + " [" + desc + "]").replace("\t", " ").replace("\n", " ")
    with open(os.path.join(out, name + ".csv"), "w") as f:
        f.write("step,loss,val_loss,lr,grad_norm,epoch\n")
        for r in rows:
            f.write(",".join([str(r["step"]), fmt(r.get("loss")), fmt(r.get("val_loss")), fmt(r.get("lr")),
                              fmt(r.get("grad_norm")), fmt(r.get("epoch"))]) + "\n")
    index_path = os.path.join(out, "INDEX.tsv")
    index = read_index(index_path)
    refs = meta.get("references") or {}
    index[name] = "\t".join([name, split_of(name), labels, conf, str(meta["vocab_size"]),
                             str(meta["steps_per_epoch"]), source, reason,
                             fmt_ref(refs.get("unigram")), fmt_ref(refs.get("bigram")),
                             fmt_ref(refs.get("floor"))])
    write_index(index_path, index, HEADER_INDEX_REFS)
    print(f"{name:40s} {labels:40s} {conf}")


if __name__ == "__main__":
    main()
