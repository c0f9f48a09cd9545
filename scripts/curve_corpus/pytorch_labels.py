"""Reading a PyTorch corpus run's curve back: what did the injected fault leave?

`label_run(c, rows, V)` gives (labels, confidence, reason) from the fault `pytorch_runs.py`
injected (in `c`) and what the logged curve shows: a fault that left no visible mark is labelled
by what is visible, usually `healthy`, and the reason says so.
"""

import math

import numpy as np

from curve_checks import Curve, above_uniform_label, mark_label, plain_spike, stall_label, with_early_blowup


def label_run(c, rows, V):
    """(labels, confidence, reason) from the injected fault and what the curve shows. A loss
    that turned non-finite is the first thing any reader sees, whatever the fault was meant to do
    (a frozen embedding with AdamW at a high LR can blow up)."""
    labels, conf, reason = label_by_fault(c, rows, V)
    cv = Curve(rows)
    s = cv.first_nonfinite
    if s is not None and "non_finite" not in labels:
        return f"non_finite@{s}", "high", reason + f"; the loss turned non-finite at step {s}"
    return with_early_blowup(cv, labels, conf, reason)


def label_by_fault(c, rows, V):
    """(labels, confidence, reason) from the injected fault and what the curve shows."""
    cv = Curve(rows)
    lnV = math.log(V)
    refs = c["refs"]
    fault = c["fault"]
    n = len(cv.loss)
    noise = cv.noise()
    L0 = cv.start_level()
    Lend = cv.level(0.85, 1.0)
    interval = c["interval"]
    desc = c["fault_desc"]

    def vis_spike(step_lo):
        hi = step_lo + 2 * interval + (c.get("exc", (0, 0))[1] if fault == "lr_excursion" else 0)
        sp = cv.spike_at(step_lo, hi)
        if sp is None:
            return None
        i, z, rise, base = sp
        if z >= 6 and rise >= 0.04 * base:
            return sp
        return None

    overfit_check = cv.val_rise

    def healthy_or_what(prefix):
        """A run meant healthy (or whose fault left no mark): check nothing else shows."""
        if cv.first_nonfinite is not None:
            return f"non_finite@{cv.first_nonfinite}", "high", prefix + f"; the loss is non-finite from step {cv.first_nonfinite}"
        ms = cv.max_spike()
        of = overfit_check()
        if ms and plain_spike(ms[1], ms[2], ms[3]):
            s = int(cv.steps[ms[0]])
            # A spike on a run whose validation climbs: either finding is a fair first answer.
            also = f"; validation rises from {of[1]:.3f} at step {of[0]} to {of[2]:.3f}" if of else ""
            return f"spike@{s}" + ("|overfitting" if of else ""), "medium", prefix + f"; but the curve has an unplanned spike at step {s} ({ms[3]:.3f} -> {ms[3] + ms[2]:.3f}, z={ms[1]:.0f})" + also
        # Training still above a uniform guess has memorised nothing, whatever validation does.
        if of and Lend <= lnV:
            return "overfitting", "medium", prefix + f"; validation rises from {of[1]:.3f} at step {of[0]} to {of[2]:.3f} at the end"
        dpd = cv.drop_per_doubling()
        if n > 8 and Lend > refs[0] + 0.05 and dpd / max(Lend, 1e-6) < 0.1:
            return "underfitting|stagnation|unigram_plateau", "medium", prefix + f"; but it ends above the unigram level ({L0:.3f} -> {Lend:.3f}, unigram {refs[0]:.3f}, drop/doubling {dpd:.3f})"
        if Lend > L0 - 0.02 * L0 or (n > 8 and dpd < 0.06 and Lend > refs[1] + 0.1):
            lab, lev = stall_label(cv, refs, lnV)
            return lab, "medium", prefix + f"; but the loss stalls ({L0:.3f} -> {Lend:.3f}, drop/doubling {dpd:.3f}, bigram {refs[1]:.3f})"
        if Lend > lnV:
            return above_uniform_label(L0, Lend, lnV, prefix)
        if n <= 8:
            return "healthy|inconclusive", "high", prefix + f"; only {n} logged points ({L0:.3f} -> {Lend:.3f})"
        if Lend > refs[1] + max(0.05, 0.3 * (refs[0] - refs[1])):
            return "healthy|underfitting", "medium", prefix + f"; still improving (drop/doubling {dpd:.3f}) but ends above the bigram level: loss {L0:.3f} -> {Lend:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f}), early in training"
        return "healthy", "high", prefix + f"; loss {L0:.3f} -> {Lend:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f})"

    if fault in ("healthy", "healthy_short"):
        return healthy_or_what("sane settings, no fault")

    if fault == "nan":
        if cv.first_nonfinite is None:
            return healthy_or_what(desc + " but no non-finite value was logged")
        s = cv.first_nonfinite
        tail = "the run stops" if c.get("stop_on_nan") else "stays NaN"
        return f"non_finite@{s}", "high", f"{desc}; logged loss is NaN from step {s} and {tail}"

    if fault in ("bad_batch", "lr_excursion", "reinit", "optim_reset", "sched_restart"):
        if cv.first_nonfinite is not None:
            s = cv.first_nonfinite
            return f"non_finite@{s}", "high", f"{desc}; the loss turned non-finite at step {s}"
        fs = c["fault_steps"][0]
        lo = int(math.ceil(fs / interval) * interval)
        sp = vis_spike(lo)
        if sp is None:
            return healthy_or_what(desc + "; no visible mark at the logged steps (noise %.3g)" % noise)
        i, z, rise, base = sp
        s = int(cv.steps[i])
        txt = f"{desc}; logged loss {base + rise:.3f} at step {s} vs preceding level {base:.3f} (z={z:.0f} against noise {noise:.3g})"
        labels, conf, reason = mark_label(cv, sp, txt, lambda: healthy_or_what(desc)[0], L0, Lend)
        if fault == "sched_restart" and " + " not in labels and "healthy" not in labels.split("|"):
            # The logged LR jumps back to its peak: on the curve a planned warm restart and a
            # resume bug look alike, and a bump after one is either reading.
            labels, reason = labels + "|healthy", reason + "; the logged LR restarts with it: a warm restart reads the same"
        return labels, conf, reason

    if fault in ("lr_grow", "no_zero_grad"):
        # A loop bug from a known step: the curve shows what it did after it (blow-up, a climb,
        # a stall in a band), read as for an LR set too high; a logged gradient norm that ends
        # ten times where it ran early shows it too (accumulated gradients, a growing step).
        labels, conf, reason = label_by_fault(dict(c, fault="lr_high"), rows, V)
        # The bug's damage grows to the end of the run: the level of its last twentieth (three
        # points at least: two are noise), not the last 15 %'s median, says whether the climb
        # undid the training.
        best = float(np.nanmin(cv.rolling_median(5)))
        last = cv.loss[np.isfinite(cv.loss)]
        tail = float(np.median(last[-max(3, -(-len(last) // 20)):])) if len(last) else float("nan")
        if "non_finite" not in labels and "divergence" not in labels and tail - best > max(0.3, 0.3 * (L0 - best)):
            labels, conf = "divergence|instability", "medium"
            reason += f"; the last twentieth stands at {tail:.3f}, {tail - best:.3f} above the best {best:.3f}"
        gr = cv.grad[np.isfinite(cv.grad)] if c["col_grad"] else np.array([])
        if len(gr) >= 10 and "non_finite" not in labels:
            early = float(np.median(gr[: max(3, int(0.3 * len(gr)))]))
            late = float(np.median(gr[-max(2, len(gr) // 10):]))
            if late >= 10 * max(early, 1e-12):
                healthy_reading = any(x.startswith("healthy") for x in labels.split("|"))
                labels = "exploding_gradients" if healthy_reading else f"exploding_gradients + {labels}"
                reason += f"; the gradient norm grows from {early:.3g} to {late:.3g} (median early vs last tenth)"
        return labels, conf, reason

    if fault == "dropout_huge":
        return healthy_or_what(desc)

    if fault in ("scrambled_targets", "tiny_clip"):
        fault = "lr_low"

    if fault == "loss_sum":
        # A sum over B x T tokens starts at B x T times ln V: far above a fresh model's loss per
        # token, whatever follows (an SGD step B x T times too large can blow up: non-finite
        # values are labelled as such in label_run).
        if L0 > lnV + max(0.5, 0.15 * lnV):
            return "init_loss_off", "high", f"{desc}; first logged loss {L0:.1f} vs ln V {lnV:.3f} per token"
        return healthy_or_what(desc + f"; first logged loss {L0:.3f} is not far from ln V {lnV:.3f}")

    if fault == "lr_to_zero":
        # No updates after the cut: the loss holds the level it had, with only batch noise.
        s = c["fault_steps"][0]
        after = cv.loss[(cv.steps > s) & np.isfinite(cv.loss)]
        if len(after) >= 5:
            lab, lev = stall_label(cv, refs, lnV)
            return lab, "high" if c["col_lr"] else "medium", (
                f"{desc}; the loss holds {lev:.3f} from there (ln V {lnV:.3f}, unigram {refs[0]:.3f}, "
                f"bigram {refs[1]:.3f}, {len(after)} logged points after the cut)")
        return healthy_or_what(desc + f"; only {len(after)} logged points after the cut")

    if fault == "smooth_huge":
        # The smoothed target's entropy is a floor the loss cannot pass: read as for a model
        # that cannot get lower (LR far too low, frozen layers).
        fault = "lr_low"

    if fault == "wd_huge":
        # Decay that pulls every weight to zero holds the model near a uniform or unigram guess:
        # read as for a model that cannot learn (LR far too low, frozen layers). With a large
        # LR the same decay overshoots (each step flips and grows the weights) and the loss
        # ends blown up far past a uniform guess: read as for an LR far too high.
        fault = "lr_high" if Lend > 2 * lnV else "lr_low"

    if fault == "repeat_batch":
        of = overfit_check()
        if of:
            return "overfitting", "high", f"{desc}; validation bottoms at {of[1]:.3f} (step {of[0]}) and ends at {of[2]:.3f} while training falls to {Lend:.3f}"
        # Three or four evaluations are too few for overfit_check's noise estimate, but a last
        # one 20 % above the best while training fell is the rise itself.
        v = cv.val[np.isfinite(cv.val)]
        if 3 <= len(v) < 5 and int(np.argmin(v)) < len(v) - 1 and v[-1] > 1.2 * v.min() and Lend < L0:
            return "overfitting", "medium", f"{desc}; validation {v.min():.3f} at best, {v[-1]:.3f} at the end ({len(v)} evaluations) while training falls to {Lend:.3f}"
        return healthy_or_what(desc + "; validation did not rise")

    if fault in ("lr_high", "osc_stag", "exploding"):
        conf = "medium"
        ratio = None
        if c["col_grad"]:
            gr = cv.grad[np.isfinite(cv.grad)]
            if len(gr) > 5:
                ratio = float(np.max(gr) / max(1e-12, np.median(gr)))
        if cv.first_nonfinite is not None:
            s = cv.first_nonfinite
            lab = f"non_finite@{s}"
            if fault == "exploding" and ratio is not None and ratio > 10:
                lab += " + exploding_gradients"
            return lab, "high", f"{desc}; loss non-finite from step {s}" + (f"; grad norm peaks {ratio:.0f}x its median" if ratio else "")
        best = float(np.nanmin(cv.rolling_median(5)))
        dpd = cv.drop_per_doubling()
        rn = cv.rel_noise_late()
        if Lend - best > max(0.3, 0.3 * (L0 - best)):
            lab = "divergence|instability"
            txt = f"{desc}; best smoothed loss {best:.3f}, end {Lend:.3f} (start {L0:.3f})"
        elif dpd < 0.06 and Lend > 0.5 * L0:
            st, lev = stall_label(cv, refs, lnV)
            if rn > 0.08:
                lab = "oscillation + " + st
                txt = f"{desc}; stalled at {lev:.3f} (drop/doubling {dpd:.3f}) in a wide band (rel. noise {rn:.3f})"
            else:
                lab = st + "|oscillation"
                txt = f"{desc}; stalled at {lev:.3f} (drop/doubling {dpd:.3f}, rel. noise {rn:.3f})"
        elif rn > 0.08:
            lab = "oscillation|instability"
            txt = f"{desc}; still improving but in a wide band (rel. noise {rn:.3f})"
        else:
            lab = None
            txt = desc
        if fault == "exploding" and ratio is not None and ratio > 10:
            # An early peak alone is what healthy runs show too: either reading.
            if cv.grad_peak_early() and not (lab and "divergence" in lab):
                rest = lab or healthy_or_what(desc)[0]
                if " + " not in rest:
                    return ("exploding_gradients|" + rest, "low", txt + f"; grad norm peaks {ratio:.0f}x its median, "
                            "but in the first 5% of the run, where healthy runs peak as high: either reading")
            lab = "exploding_gradients" + (" + " + lab if lab and "divergence" in lab else "")
            return lab, "medium", txt + f"; grad norm peaks {ratio:.0f}x its median"
        if lab is None:
            if fault == "exploding":
                ms = cv.max_spike()
                if ms and ms[1] >= 8 and ms[2] >= 0.1 * ms[3]:
                    s = int(cv.steps[ms[0]])
                    return f"spike@{s}|exploding_gradients|instability", "medium", desc + f"; loss spike at {s} ({ms[3]:.3f} -> {ms[3] + ms[2]:.3f})"
            return healthy_or_what(desc + "; left no visible mark")
        return lab, conf, txt

    if fault in ("lr_low", "frozen", "init_stag"):
        dpd = cv.drop_per_doubling()
        init_txt = ""
        prefix = ""
        if fault == "init_stag":
            if L0 > lnV + max(0.5, 0.15 * lnV):
                prefix = "init_loss_off + "
                init_txt = f"; starts at {L0:.3f} vs ln V {lnV:.3f}"
            else:
                init_txt = f"; the large init left the start at {L0:.3f} (ln V {lnV:.3f}), not off"
        if dpd < 0.06 or (Lend > refs[1] and dpd < 0.1 * Lend / 1.0 and Lend > 0.9 * L0):
            st, lev = stall_label(cv, refs, lnV)
            return prefix + st, "high" if dpd < 0.03 else "medium", f"{desc}{init_txt}; ends at {lev:.3f} (ln V {lnV:.3f}, unigram {refs[0]:.3f}, bigram {refs[1]:.3f}), drop/doubling {dpd:.3f}"
        if Lend > refs[1] + 0.1 and fault != "frozen":
            return prefix + "underfitting|stagnation", "medium", f"{desc}{init_txt}; still above bigram ({Lend:.3f} vs {refs[1]:.3f}), drop/doubling {dpd:.3f}"
        if prefix:
            return "init_loss_off", "medium", f"{desc}{init_txt}; but it then learns (end {Lend:.3f})"
        return healthy_or_what(desc + f"; still learning (end {Lend:.3f}, drop/doubling {dpd:.3f})")

    if fault == "init_scale":
        if L0 > lnV + max(0.5, 0.15 * lnV):
            return "init_loss_off", "high", f"{desc}; first logged loss {L0:.3f} vs ln V {lnV:.3f}, then {Lend:.3f} at the end"
        return healthy_or_what(desc + f"; first logged loss {L0:.3f} is not far from ln V {lnV:.3f}")

    if fault == "overfit":
        of = overfit_check()
        if of:
            return "overfitting", "high", f"{desc}; validation bottoms at {of[1]:.3f} (step {of[0]}) and ends at {of[2]:.3f} while training falls to {Lend:.3f}"
        return healthy_or_what(desc + "; validation did not rise")

    if fault == "leak":
        vend = float(np.nanmedian(cv.val[-3:])) if len(cv.val) >= 3 else float("nan")
        if Lend < 0.6 * refs[1] and (not math.isfinite(vend) or vend < 0.6 * refs[1]):
            return "leakage", "high", f"{desc}; train ends at {Lend:.3f} and validation at {vend:.3f}, far below bigram {refs[1]:.3f}"
        return healthy_or_what(desc + f"; losses did not collapse (train {Lend:.3f}, val {vend:.3f})")

    if fault in ("periodic", "state_reset"):
        if c.get("reset_kind") == "zero_every_batch":
            return healthy_or_what(desc)
        P = c["period_steps"]
        lag = P / interval
        rm = cv.rolling_median(int(2 * lag) | 1)
        r = cv.loss - rm
        r = r[np.isfinite(r)]
        ac = float("nan")
        if 2 <= lag <= len(r) / 3:
            # A period that is not a whole number of logged points (21 steps logged every 2)
            # is read between the two whole lags around it.
            def ac_at(lg):
                a, b = r[:-lg] - r.mean(), r[lg:] - r.mean()
                return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum() + 1e-12))
            lo = int(math.floor(lag + 1e-9))
            w = lag - lo if lag - lo > 1e-9 else 0.0
            ac = ac_at(lo) if w == 0.0 else (1 - w) * ac_at(lo) + w * ac_at(lo + 1)
        of = overfit_check()
        extra = f"; validation rises from {of[1]:.3f} to {of[2]:.3f}" if of else ""
        if ac == ac and ac > 0.3:
            lab = "periodic" if fault == "periodic" else "periodic|spike"
            if of:
                lab += "|overfitting"
            return lab, "high" if ac > 0.5 else "medium", f"{desc}; detrended loss autocorrelation {ac:.2f} at the period ({P} steps){extra}"
        if fault == "state_reset":
            ms = cv.max_spike()
            if ms and ms[1] >= 8 and ms[2] > 0.05 * ms[3]:
                return "spike|periodic", "medium", desc + f"; bumps visible (largest z={ms[1]:.0f}) but not regular at the logged resolution (ac {ac:.2f})"
        if ac == ac and ac >= 0.2:
            # The fault is there and its mark is weak: a detector that calls it periodic is
            # as right as one that does not.
            lab, _, why = healthy_or_what(desc + f"; a weak repeat at the period (autocorrelation {ac:.2f}, under the 0.3 this labeller calls periodic): either reading")
            return lab + "|periodic", "low", why
        return healthy_or_what(desc + f"; no repeat at the period visible (autocorrelation {ac:.2f})")

    raise ValueError(fault)
