"""Shared helpers of the curve-corpus generators: reading a logged curve back (noise, spikes,
levels, progress per doubling of steps), CSV number formatting and INDEX.tsv handling.
numpy only, so the rnnlab generator needs no torch."""

import math
import os
import zlib

import numpy as np

HEADER_INDEX = "name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason"
# rnnlab's own runs carry the unigram and bigram entropies of their data in meta.json, and the
# doctor reads them there: the rnnlab corpus records them so it is scored with what it sees.
HEADER_INDEX_REFS = HEADER_INDEX + "\tunigram\tbigram\tfloor"


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    return str(v)


def kendall_tau(xs):
    """Kendall's tau of `xs` against their order: +1 for a strictly rising sequence."""
    n = len(xs)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    return float(sum(np.sign(xs[j] - xs[i]) for i, j in pairs)) / max(1, len(pairs))


class Curve:
    def __init__(self, rows):
        tr = [r for r in rows if "loss" in r]
        self.steps = np.array([r["step"] for r in tr], dtype=np.float64)
        self.loss = np.array([r["loss"] for r in tr], dtype=np.float64)
        self.grad = np.array([r.get("grad_norm", np.nan) for r in tr], dtype=np.float64)
        va = [r for r in rows if "val_loss" in r]
        self.vsteps = np.array([r["step"] for r in va], dtype=np.float64)
        self.val = np.array([r["val_loss"] for r in va], dtype=np.float64)
        fin = np.isfinite(self.loss)
        self.first_nonfinite = int(self.steps[~fin][0]) if (~fin).any() else None
        self.fin = fin

    def val_rise(self):
        """(step of the lowest validation, lowest, end level) when validation rises clearly from
        its lowest (by 0.05 (10 % of a lowest under 0.5), 3 % and three times its noise, or by
        1 % and three times its noise after five or more climbs in a row; the lowest not among
        the last two evaluations), else None; needs five finite evaluations.

        The noise is the median step-to-step change. When validation climbs at every evaluation
        after its lowest (three or more) while training still falls, that median is the climb
        itself, so the noise is taken from second differences instead, which a steady climb
        leaves near zero. So it is, more generally, when the evaluations after the lowest climb
        in order more often than not (Kendall's tau >= 0.5 over four or more): the noise is then
        the spread of the step-to-step changes around their median change, the climb's pace."""
        v = self.val
        fin = np.isfinite(v)
        if fin.sum() < 5:
            return None
        imin = int(np.nanargmin(v))
        vmin = float(v[imin])
        vend = float(np.nanmedian(v[-max(2, len(v) // 8):]))
        f = v[fin]
        vnoise = float(np.median(np.abs(np.diff(f))))
        after = v[imin:]
        strictly = len(after) >= 4 and np.isfinite(after).all() and (np.diff(after) > 0).all() \
            and self.train_falls_after(self.vsteps[imin])
        if strictly:
            # median |second difference| of white noise is 1.65 sd
            vnoise = min(vnoise, float(np.median(np.abs(f[2:] - 2 * f[1:-1] + f[:-2]))) / 1.65)
        if len(after) >= 4 and np.isfinite(after).all() and kendall_tau(after) >= 0.5 \
                and self.train_falls_after(self.vsteps[imin]):
            d = np.diff(after)
            vnoise = min(vnoise, float(np.median(np.abs(d - np.median(d)))))
        # Five or more climbs in a row (1 in 120 in random order) need no size to be a rise: a
        # per cent is enough (a tiny training set learned to 1e-4 while validation goes 0.562,
        # 0.563, 0.570 … 0.590 over eleven evaluations).
        floor = 0.01 * abs(vmin) if strictly and len(after) >= 6 else max(min(0.05, 0.1 * abs(vmin)), 0.03 * vmin)
        if vend - vmin > max(floor, 3 * vnoise) and imin < len(v) - 2:
            return int(self.vsteps[imin]), vmin, vend
        return None

    def train_falls_after(self, step):
        """Whether training ends (median of its last eighth) more than 2 % below its median over
        the stretch of logged steps ending at `step` (an eighth of the points)."""
        x, st = self.loss, self.steps
        k = max(2, len(x) // 8)
        i = int(np.searchsorted(st, step, side="right"))
        at, end = x[max(0, i - k):i], x[-k:]
        at, end = at[np.isfinite(at)], end[np.isfinite(end)]
        return len(at) > 0 and len(end) > 0 and float(np.median(end)) < 0.98 * float(np.median(at))

    def grad_peak_early(self, frac=0.05):
        """Whether the largest finite gradient norm lies in the first `frac` of the logged steps:
        the early transient, where the healthy runs of these generators peak as high (10x to
        2e5x their median: 42 of ~650 healthy PyTorch runs with a gradient log, 4 of ~110 rnnlab ones), so the log
        alone cannot show that such a peak was an explosion rather than a clipped transient."""
        g = np.where(np.isfinite(self.grad), self.grad, -np.inf)
        if len(self.steps) < 2 or not np.isfinite(g).any():
            return False
        s = self.steps[int(np.argmax(g))]
        return s - self.steps[0] <= frac * (self.steps[-1] - self.steps[0])

    def rolling_median(self, w=9):
        x = self.loss
        out = np.full_like(x, np.nan)
        for i in range(len(x)):
            seg = x[max(0, i - w // 2): i + w // 2 + 1]
            seg = seg[np.isfinite(seg)]
            if len(seg):
                out[i] = np.median(seg)
        return out

    def noise(self):
        x = self.loss
        rm = self.rolling_median(9)
        r = (x - rm)[np.isfinite(x) & np.isfinite(rm)]
        if len(r) < 5:
            return 1e-3
        return max(1e-4, 1.4826 * float(np.median(np.abs(r - np.median(r)))))

    def index_of(self, step):
        return int(np.searchsorted(self.steps, step))

    def spike_at(self, lo_step, hi_step):
        """Largest rise over the preceding level among logged steps in [lo, hi]: (idx, z, rise, base)."""
        noise = self.noise()
        best = None
        for i in range(len(self.loss)):
            if not (lo_step <= self.steps[i] <= hi_step) or not np.isfinite(self.loss[i]):
                continue
            pre = self.loss[max(0, i - 7):i]
            pre = pre[np.isfinite(pre)]
            if len(pre) < 2:
                continue
            base = float(np.median(pre[-5:]))
            rise = float(self.loss[i]) - base
            z = rise / noise
            if best is None or z > best[1]:
                best = (i, z, rise, base)
        return best

    def recovery_points(self, i, base):
        """Logged points after i until the loss is back near `base` (None if never)."""
        noise = self.noise()
        thr = base + max(3 * noise, 0.02 * abs(base))
        for j in range(i + 1, len(self.loss)):
            seg = self.loss[j:j + 3]
            seg = seg[np.isfinite(seg)]
            if len(seg) and np.median(seg) <= thr:
                return j - i
        return None

    def level(self, frac_from, frac_to):
        n = len(self.loss)
        a, b = int(n * frac_from), max(int(n * frac_from) + 1, int(n * frac_to))
        seg = self.loss[a:b]
        seg = seg[np.isfinite(seg)]
        return float(np.median(seg)) if len(seg) else float("nan")

    def start_level(self):
        seg = self.loss[: max(1, min(3, len(self.loss)))]
        seg = seg[np.isfinite(seg)]
        return float(np.median(seg)) if len(seg) else float("nan")

    def drop_per_doubling(self):
        """Fit loss against log2(step) over the last two doublings: drop per doubling (nats)."""
        if len(self.steps) < 6:
            return float("nan")
        hi = self.steps[-1]
        m = (self.steps >= hi / 4) & self.fin
        if m.sum() < 4:
            return float("nan")
        xs, ys = np.log2(self.steps[m]), self.loss[m]
        slope = np.polyfit(xs, ys, 1)[0]
        return float(-slope)

    def rel_noise_late(self):
        n = len(self.loss)
        seg = self.loss[n // 2:]
        rm = self.rolling_median(9)[n // 2:]
        ok = np.isfinite(seg) & np.isfinite(rm)
        if ok.sum() < 5:
            return 0.0
        r = seg[ok] - rm[ok]
        return float(1.4826 * np.median(np.abs(r)) / max(1e-6, np.median(seg[ok])))

    def early_blowup(self):
        """A jump among the first 5 points (from the third on) that stands at 3x or more both the
        median of the points before it and that of the 5 after it, (idx, z, rise, base), or None.
        The first points fall fast, so `max_spike` starts after them; a loss of 4.4, 4.1, then
        74 and 272, back to 3.3, is a blow-up anyone sees all the same."""
        x = self.loss
        best = None
        for i in range(2, min(5, len(x))):
            before, after = x[:i], x[i + 1:i + 6]
            before, after = before[np.isfinite(before)], after[np.isfinite(after)]
            if not np.isfinite(x[i]) or len(before) < 2 or len(after) < 3:
                continue
            base = max(float(np.median(before)), float(np.median(after)))
            if base <= 0 or x[i] < 3 * base:
                continue
            z = (float(x[i]) - base) / self.noise()
            if best is None or z > best[1]:
                best = (i, z, float(x[i]) - base, base)
        return best

    def max_spike(self):
        """Strongest isolated rise anywhere after the first 5 points (idx, z, rise, base)."""
        if len(self.steps) < 12:
            return None
        lo = self.steps[5]
        return self.spike_at(lo, self.steps[-1])


def with_early_blowup(cv, labels, conf, reason):
    """A run read as healthy whose first points blow up (`Curve.early_blowup`) reads as a spike
    there, as a plain spike later in the run does (the healthy reading and its underfitting
    alternative give way; the other alternatives, a fault's weak mark or a gradient explosion,
    stay). Any reading without a healthy alternative stands: the blow-up is a second event."""
    alts = labels.split("|")
    if " + " in labels or "healthy" not in alts or len(cv.steps) < 12:
        return labels, conf, reason
    e = cv.early_blowup()
    if e is None:
        return labels, conf, reason
    s = int(cv.steps[e[0]])
    kept = [a for a in alts if a not in ("healthy", "underfitting", "inconclusive")]
    return ("|".join(kept + [f"spike@{s}"]), "medium",
            reason + f"; but its first points blow up at step {s} ({e[3]:.4g} -> {e[3] + e[2]:.4g})")


def plain_spike(z, rise, base):
    """Whether a jump is one the labellers call a spike in a run with no fault injected (robust
    z >= 12 against the curve's noise and a rise of 15 % of the level). A fault's mark weaker than
    that is labelled `spike@S|<what the rest shows>`: the same bump in a healthy run is healthy."""
    return z >= 12 and rise >= 0.15 * base


def mark_label(cv, mark, txt, rest_label, L0, Lend):
    """The label of a fault's visible jump `mark` = (idx, z, rise, base) whose description is
    `txt`: a spike when the loss is back within max(5, n/25) points (one too weak for a spike in
    a run with no fault is either reading: `spike@S|<rest_label()>`), a spike or instability when
    it recovers slowly, divergence when it never does and holds most of the ground it lost."""
    i, z, rise, base = mark
    s = int(cv.steps[i])
    n = len(cv.loss)
    rec = cv.recovery_points(i, base)
    if rec is not None and rec <= max(5, n // 25):
        if not plain_spike(z, rise, base):
            rest = rest_label()
            if " + " not in rest:
                return (f"spike@{s}|{rest}", "low", txt + f", back within {rec} points; a mark this weak in a run "
                        "with no fault is labelled by the rest: either reading")
        return f"spike@{s}", "high" if z >= 10 and rise >= 0.1 * base else "medium", txt + f", back within {rec} points"
    if rec is not None:
        return f"spike@{s}|instability", "medium", txt + f", recovers slowly ({rec} points)"
    if Lend - base > 0.3 * max(L0 - base, 1e-6):
        return "divergence|instability", "medium", txt + f", never recovers (end {Lend:.3f}, start {L0:.3f})"
    return f"spike@{s}|instability|upward_drift", "medium", txt + f", stays a little above (end {Lend:.3f})"


def above_uniform_label(L0, Lend, lnV, prefix):
    """The label of a run whose loss ends above ln V, worse than a uniform guess however fast it
    still falls: never healthy. A start already far above ln V is a bad start as well."""
    if L0 > lnV + max(0.5, 0.15 * lnV):
        return ("init_loss_off|instability|divergence", "medium", prefix + f"; but it starts at {L0:.3f} and "
                f"still ends above ln V ({Lend:.3f} vs {lnV:.3f}): worse than a uniform guess throughout")
    return ("divergence|instability", "medium", prefix + f"; but it ends above ln V ({Lend:.3f} vs {lnV:.3f}), "
            "worse than a uniform guess")


def stall_label(cv, refs, lnV):
    """Name a stalled run by its level: the doctor's rule (ln V / unigram / between / elsewhere)."""
    h1, h2 = refs
    lev = cv.level(0.8, 1.0)
    if abs(lev - lnV) < 0.1 * lnV or lev > lnV:
        return "stagnation", lev
    if abs(lev - h1) <= 0.08 * h1:
        return "unigram_plateau|underfitting|stagnation", lev
    if h2 < lev < h1:
        return "underfitting|stagnation", lev
    return "stagnation|underfitting", lev


def split_of(name):
    return "holdout" if zlib.crc32(name.encode("utf-8")) % 2 == 1 else "tune"


def read_index(path):
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            lines = f.read().splitlines()
        for ln in lines[1:]:
            if ln.strip():
                rows[ln.split("\t")[0]] = ln
    return rows


def write_index(path, rows, header=HEADER_INDEX):
    with open(path + ".tmp", "w") as f:
        f.write(header + "\n")
        for k in sorted(rows):
            f.write(rows[k] + "\n")
    os.replace(path + ".tmp", path)


