"""Labels for the task runs (`task_runs.py`): what the curve shows, read with the checks the
LM generators use (`curve_checks.Curve`), after what was injected. A fault that left no mark is
labelled by what is visible, usually `healthy`, and the reason says so."""

import math

import numpy as np

from curve_checks import Curve, mark_label, plain_spike, with_early_blowup

DESCRIPTIONS = {
    "healthy": "sane settings, no fault",
    "lr_high": "LR far too high",
    "nan": "a weight set to inf at step {s}",
    "bad_batch": "one corrupted batch (inputs or targets x25) at step {s}",
    "lr_excursion": "LR x50 for three steps from step {s}",
    "overfit": "a tiny training set and a wide model, trained long",
    "lr_low": "LR far too low",
    "frozen": "every parameter frozen but the output bias",
    "shuffled_labels": "training labels shuffled (no relation to the inputs)",
}


# A loss that moves under BARELY of its start barely moves; one that moves under SLIGHTLY is
# either reading, a run near its floor or one barely learning: the curve alone cannot tell,
# whatever the fault behind it (a sane fine-tune moving 4 % and an LR set too low moving 4 %).
BARELY, SLIGHTLY = 0.03, 0.05


def one_hard_example(c, ms):
    """Whether a jump `ms` = (idx, z, rise, base) of a classifier's batch-mean cross-entropy
    starts under 0.1 nats and rises less than that: what one confidently wrong example adds
    to a batch near zero (-ln 0.05 / 32 = 0.09), however large its z (1e-6 -> 5e-6)."""
    return c["task"] in ("cls", "txtcls") and ms[3] < 0.1 and ms[2] < 0.1


def local_max_spike(cv, half=25):
    """Strongest isolated rise after the first 5 points, (idx, z, rise, base), with z against
    the noise around the point (a loss that falls toward 0 is noisier early than late: the whole
    curve's noise would make an early batch's wobble a spike)."""
    x = cv.loss
    if len(x) < 12:
        return None
    r = x - cv.rolling_median(9)
    best = None
    for i in range(5, len(x)):
        if not np.isfinite(x[i]):
            continue
        pre = x[max(0, i - 7):i]
        pre = pre[np.isfinite(pre)]
        if len(pre) < 2:
            continue
        base = float(np.median(pre[-5:]))
        near = np.concatenate([r[max(0, i - half):i], r[i + 1:i + 1 + half]])
        near = near[np.isfinite(near)]
        if len(near) < 5:
            continue
        noise = max(1e-12, 1.4826 * float(np.median(np.abs(near - np.median(near)))))
        z = (float(x[i]) - base) / noise
        if best is None or z > best[1]:
            best = (i, z, float(x[i]) - base, base)
    return best


def label_run(c, rows):
    """(labels, confidence, reason) of a task run's curve."""
    return with_early_blowup(Curve(rows), *label_by_fault(c, rows))


def label_by_fault(c, rows):
    """(labels, confidence, reason) from the injected fault and what the curve shows."""
    cv = Curve(rows)
    fault, interval = c["fault"], c["interval"]
    s = c["fault_step"]
    desc = DESCRIPTIONS[fault].format(s=s)
    n = len(cv.loss)
    L0, Lend = cv.start_level(), cv.level(0.8, 1.0)
    moved = (L0 - Lend) / max(abs(L0), 1e-12)

    def healthy_or_what(prefix):
        if cv.first_nonfinite is not None:
            return f"non_finite@{cv.first_nonfinite}", "high", prefix + f"; the loss is non-finite from step {cv.first_nonfinite}"
        ms = local_max_spike(cv)
        of = cv.val_rise()
        if ms and plain_spike(ms[1], ms[2], ms[3]) and not one_hard_example(c, ms):
            st = int(cv.steps[ms[0]])
            # A spike on a run whose validation climbs: either finding is a fair first answer.
            also = f"; validation rises from {of[1]:.4g} at step {of[0]} to {of[2]:.4g}" if of else ""
            return f"spike@{st}" + ("|overfitting" if of else ""), "medium", prefix + f"; but the curve has a spike at step {st} ({ms[3]:.4g} -> {ms[3] + ms[2]:.4g}, z={ms[1]:.0f})" + also
        if of:
            return "overfitting", "medium", prefix + f"; validation rises from {of[1]:.4g} at step {of[0]} to {of[2]:.4g}"
        mem = memorised()
        if mem:
            return "overfitting", "high", prefix + mem
        if n <= 8:
            return "healthy|inconclusive", "high", prefix + f"; only {n} logged points ({L0:.4g} -> {Lend:.4g})"
        if moved < BARELY:
            return "stagnation", "medium", prefix + f"; but the loss barely moves ({L0:.4g} -> {Lend:.4g})"
        if moved < SLIGHTLY:
            return "healthy|stagnation", "low", prefix + (
                f"; the loss moves only {100 * moved:.0f} % ({L0:.4g} -> {Lend:.4g}): near its floor or "
                "barely learning, either reading")
        return "healthy", "high", prefix + f"; loss {L0:.4g} -> {Lend:.4g}"

    def memorised():
        # Training at ~0 while validation is no better than a uniform guess: the model learned
        # its examples by heart, whether or not validation climbed while it was logged.
        fin = cv.val[np.isfinite(cv.val)]
        if chance is None or len(fin) < 1 or Lend >= 0.05 * chance:
            return None
        v_end = float(np.median(fin[-3:]))
        if v_end < chance:
            return None
        return (f"; training ends at {Lend:.3g} while validation sits at {v_end:.4g}, above the "
                f"chance level ln {c['classes']} = {chance:.4g}: the training set is memorised")

    if cv.first_nonfinite is not None:
        return f"non_finite@{cv.first_nonfinite}", "high", desc + f"; the loss is non-finite from step {cv.first_nonfinite}"

    # A classifier that ends at ln C predicts the class prior: stuck at chance, however far it
    # fell from a blown-up start.
    chance = math.log(c["classes"]) if c["task"] in ("cls", "txtcls") else None
    at_chance = chance is not None and 0.95 * chance <= Lend <= 1.1 * chance and cv.rel_noise_late() < 0.1
    if n > 8 and at_chance and fault not in ("overfit", "shuffled_labels"):
        return "stagnation", "high", desc + f"; ends at {Lend:.4g}, chance level ln {c['classes']} = {chance:.4g}"

    if fault in ("healthy", "nan"):
        return healthy_or_what(desc + ("" if fault == "healthy" else " but no non-finite value was logged"))

    if fault in ("bad_batch", "lr_excursion"):
        lo = int(math.ceil(s / interval) * interval)
        sp = cv.spike_at(lo, lo + 2 * interval + (3 if fault == "lr_excursion" else 0))
        if sp is None or not (sp[1] >= 6 and sp[2] >= 0.04 * abs(sp[3])):
            return healthy_or_what(desc + f"; no visible mark at the logged steps (noise {cv.noise():.3g})")
        i, z, rise, base = sp
        txt = f"{desc}; logged loss {base + rise:.4g} at step {int(cv.steps[i])} vs preceding level {base:.4g} (z={z:.0f})"
        return mark_label(cv, sp, txt, lambda: healthy_or_what(desc)[0], L0, Lend)

    if fault == "lr_high":
        if Lend > 1.1 * L0:
            return "divergence|instability", "high", desc + f"; ends above its start ({L0:.4g} -> {Lend:.4g})"
        if moved < 0.05:
            return "stagnation|oscillation|instability", "medium", desc + f"; no progress ({L0:.4g} -> {Lend:.4g}, late noise {cv.rel_noise_late():.2f})"
        if cv.rel_noise_late() >= 0.1:
            return "oscillation|instability", "medium", desc + f"; still improving but in a wide band (rel. noise {cv.rel_noise_late():.2f})"
        ms = local_max_spike(cv)
        if ms and plain_spike(ms[1], ms[2], ms[3]) and not one_hard_example(c, ms):
            st = int(cv.steps[ms[0]])
            return f"spike@{st}|instability", "medium", desc + f"; a jump at step {st} (z={ms[1]:.0f})"
        return healthy_or_what(desc + "; the run copes with it")

    if fault == "shuffled_labels" and moved >= 0.05:
        # Training memorises labels that mean nothing: what validation shows decides.
        fin = cv.val[np.isfinite(cv.val)]
        if len(fin) >= 3 and float(np.median(fin[-2:])) >= 0.95 * float(fin[0]):
            return "overfitting|stagnation", "high", desc + (
                f"; training falls ({L0:.4g} -> {Lend:.4g}) while validation never improves "
                f"({fin[0]:.4g} -> {fin[-1]:.4g}): it memorises noise")

    if fault in ("lr_low", "frozen", "shuffled_labels"):
        of = cv.val_rise()
        if moved < SLIGHTLY:
            lab = "stagnation|overfitting" if of else "stagnation"
            if moved >= BARELY:
                return lab + "|healthy", "low", desc + (
                    f"; the loss moves only {100 * moved:.0f} % ({L0:.4g} -> {Lend:.4g}): barely learning, "
                    "or near its floor, either reading")
            return lab, "high" if moved < 0.02 else "medium", desc + f"; the loss barely moves ({L0:.4g} -> {Lend:.4g})"
        # Training's medians can drift with batch noise; validation on fixed data that never
        # beats its first evaluation says no more than that nothing held out was learned.
        fin = cv.val[np.isfinite(cv.val)]
        if len(fin) >= 4 and float(fin[0]) - float(fin.min()) < 0.01 * abs(float(fin[0])):
            lab = "stagnation|overfitting" if of else "stagnation"
            return lab, "medium", desc + (
                f"; validation never beats its first evaluation ({fin[0]:.4g}, best {fin.min():.4g} "
                f"over {len(fin)} evaluations) while training goes {L0:.4g} -> {Lend:.4g}")
        mid = cv.level(0.45, 0.55)
        if (mid - Lend) / max(abs(mid), 1e-12) < 0.02:
            lab = "stagnation|overfitting" if of else "stagnation"
            return lab, "medium", desc + f"; an early drop ({L0:.4g} -> {mid:.4g}), then flat to {Lend:.4g} for the second half"
        if fault == "lr_low":
            return "underfitting|stagnation|healthy", "low", desc + f"; still falling slowly ({L0:.4g} -> {Lend:.4g})"
        return healthy_or_what(desc + f"; the loss still falls ({L0:.4g} -> {Lend:.4g})")

    if fault == "overfit":
        of = cv.val_rise()
        if of:
            return "overfitting", "high", desc + f"; validation bottoms at {of[1]:.4g} (step {of[0]}) and ends at {of[2]:.4g} while training falls to {Lend:.4g}"
        return healthy_or_what(desc + "; validation did not rise")

    raise ValueError(fault)


def _selftest():
    rows = [{"step": i, "loss": 2.0 * math.exp(-i / 30) + 0.5} for i in range(1, 201)]
    c = {"fault": "healthy", "interval": 1, "fault_step": 100, "task": "reg"}
    assert label_run(c, rows)[0] == "healthy", label_run(c, rows)
    flat = [{"step": i, "loss": 1.6 + 0.001 * np.sin(i)} for i in range(1, 201)]
    assert label_run(dict(c, fault="frozen"), flat)[0] == "stagnation"
    # Validation that climbs at every evaluation after its lowest is a rise, even though its
    # step-to-step changes are all climb and no noise.
    vals = {40: 2.216, 80: 2.134, 120: 2.142, 160: 2.192, 200: 2.266}
    rising = [dict(r, val_loss=vals[r["step"]]) if r["step"] in vals else r for r in rows]
    assert label_run(c, rising)[0] == "overfitting", label_run(c, rising)
    # A climb that mostly goes up but not at every evaluation (task run t38-015: 0.435, 0.460,
    # 0.445, 0.441, 0.452, 0.482, 0.534 while training halves): its step-to-step changes are
    # mostly the climb, so they say little of the noise; their spread around the climb's
    # pace does. Validation that only wanders after its lowest stays no rise.
    wvals = {25: 0.474, 50: 0.435, 75: 0.460, 100: 0.445, 125: 0.441, 150: 0.452, 175: 0.482, 200: 0.534}
    climbing = [dict(r, val_loss=wvals[r["step"]]) if r["step"] in wvals else r for r in rows]
    assert label_run(c, climbing)[0] == "overfitting", label_run(c, climbing)
    uvals = dict(zip(wvals, [0.474, 0.435, 0.480, 0.445, 0.475, 0.441, 0.47, 0.452]))
    wandering = [dict(r, val_loss=uvals[r["step"]]) if r["step"] in uvals else r for r in rows]
    assert label_run(c, wandering)[0] == "healthy", label_run(c, wandering)
    # Eleven evaluations in a row, each above the last, after a tiny training set was learned
    # to 1e-4: a rise of 5 %, under the 0.05 a wandering one needs, and no noise made it.
    mvals = {20 * k: 0.5618 + 0.003 * k - 0.0001 * k * k for k in range(1, 11)}
    mem = [{"step": i, "loss": 0.65 * math.exp(-i / 8) + 1e-4} for i in range(1, 201)]
    creeping = [dict(r, val_loss=mvals[r["step"]]) if r["step"] in mvals else r for r in mem]
    assert label_run(c, creeping)[0] == "overfitting", label_run(c, creeping)
    # A classifier's loss is small: a climb of 0.033 from 0.164 (+20 %) is a rise there.
    low = [{"step": i, "loss": 0.2 * math.exp(-i / 30) + 0.01} for i in range(1, 201)]
    lvals = {40: 0.30, 80: 0.164, 120: 0.175, 160: 0.186, 200: 0.197}
    low = [dict(r, val_loss=lvals[r["step"]]) if r["step"] in lvals else r for r in low]
    assert label_run(c, low)[0] == "overfitting", label_run(c, low)
    # A spike on that run leaves the climb a right answer too.
    spiked = [dict(r, loss=3 * r["loss"]) if r["step"] == 150 else r for r in low]
    assert label_run(c, spiked)[0] == "spike@150|overfitting", label_run(c, spiked)
    # A two-class classifier trained to ~0 on a tiny set, its validation flat at 1.73 (above
    # ln 2 from its first evaluation on): memorised, though validation never climbed.
    cls = dict(c, fault="overfit", task="txtcls", classes=2)
    zero = [{"step": i, "loss": 0.7 * math.exp(-i / 5)} for i in range(1, 201)]
    flat_val = [dict(r, val_loss=1.727) if r["step"] % 40 == 0 else r for r in zero]
    assert label_run(cls, flat_val)[0] == "overfitting", label_run(cls, flat_val)
    # The same training with validation under chance is a fit that generalises.
    fine_val = [dict(r, val_loss=0.3) if r["step"] % 40 == 0 else r for r in zero]
    assert label_run(cls, fine_val)[0] == "healthy", label_run(cls, fine_val)
    # A frozen regression whose batch losses drift 12 % lower by chance between the start and
    # end medians, while validation sits at 6.55e4 at every evaluation: nothing was learned.
    drift = [{"step": i, "loss": 7.0e4 - 40.0 * i + 9e3 * math.sin(i * 1.7)} for i in range(1, 201)]
    dead = [dict(r, val_loss=6.553e4 - 0.1 * r["step"]) if r["step"] % 20 == 0 else r for r in drift]
    assert label_run(dict(c, fault="frozen"), dead)[0] == "stagnation", label_run(dict(c, fault="frozen"), dead)
    # A loss that moves 4 % reads either way, whether the LR was sane or too low.
    slight = [{"step": i, "loss": 2.0 - 0.08 * i / 200 + 0.002 * math.sin(i)} for i in range(1, 201)]
    assert label_run(c, slight)[0] == "healthy|stagnation", label_run(c, slight)
    assert label_run(dict(c, fault="lr_low"), slight)[0] == "stagnation|healthy"
    # A classifier memorised at ~1e-6 whose batch loss jumps to 5e-6 (task draw 87, run 21):
    # one hard example near zero, no spike; the memorising is what it shows.
    tiny = [{"step": i, "loss": 0.7 * math.exp(-i / 5) + 1e-6} for i in range(1, 201)]
    tiny = [dict(r, loss=5e-6) if r["step"] == 150 else r for r in tiny]
    tiny = [dict(r, val_loss=1.6) if r["step"] % 40 == 0 else r for r in tiny]
    assert label_run(cls, tiny)[0] == "overfitting", label_run(cls, tiny)
    # The same jump on a regression's loss stays a spike.
    assert label_run(c, tiny)[0].startswith("spike@150"), label_run(c, tiny)
    # A blow-up among the first points is a spike, though the spike search starts after the
    # early fall (a char RNN: 4.40, 4.11, then 74.5 and 272, back to 9 and 3.3).
    blown = [dict(r, loss=v) for r, v in zip(rows[:4], (2.4, 2.3, 40.0, 120.0))] + rows[4:]
    assert label_run(c, blown)[0] == "spike@4", label_run(c, blown)
    # A fast early fall with no such jump stays healthy.
    assert label_run(c, [dict(r, loss=3 * r["loss"]) if r["step"] <= 3 else r for r in rows])[0] == "healthy"
    # Validation that improves on its first evaluation keeps the run's own reading.
    alive = [dict(r, val_loss=6.9e4 - 30.0 * r["step"]) if r["step"] % 20 == 0 else r for r in drift]
    assert label_run(dict(c, fault="frozen"), alive)[0] != "stagnation", label_run(dict(c, fault="frozen"), alive)


if __name__ == "__main__":
    _selftest()
    print("ok")
