#!/usr/bin/env python3
"""Check a corpus folder against the corpus format: INDEX.tsv header and columns (rnnlab's adds its
reference levels), one CSV per row
with the exact header, ascending steps, numbers only; split = crc32(name) % 2; labels parse.
Prints counts per label kind.   verify.py DIR [DIR...]"""

import math
import os
import re
import sys
import zlib
from collections import Counter

from curve_checks import HEADER_INDEX as HEADER, HEADER_INDEX_REFS
KINDS = set("non_finite init_loss_off spike divergence instability exploding_gradients vanishing_gradients "
            "stagnation unigram_plateau underfitting oscillation upward_drift overfitting leakage periodic "
            "invalid_loss".split())
ALT = re.compile(r"^(healthy|inconclusive|([a-z_]+)(@(\d+(\.\d+)?)(~(\d+(\.\d+)?))?)?)$")


def check(d):
    errs = []
    lines = open(os.path.join(d, "INDEX.tsv"), encoding="utf-8").read().split("\n")
    # rnnlab's index adds the reference levels its runs record (unigram, bigram, floor).
    if lines[0] not in (HEADER, HEADER_INDEX_REFS):
        errs.append("bad INDEX header")
    ncols = lines[0].count("\t") + 1
    kinds = Counter()
    labels = Counter()
    names = set()
    for ln in lines[1:]:
        if not ln:
            continue
        f = ln.split("\t")
        if len(f) != ncols:
            errs.append(f"{f[0]}: {len(f)} columns, the header has {ncols}")
            continue
        name, split, lab, conf, vocab, spe, src, reason = f[:8]
        for ref in f[8:]:
            try:
                if ref and not float(ref) > 0:
                    raise ValueError
            except ValueError:
                errs.append(f"{name}: reference level {ref!r} is not a positive number")
        if not re.fullmatch(r"[a-z0-9_-]+", name) or name in names:
            errs.append(f"{name}: bad or duplicate name")
        names.add(name)
        want = "holdout" if zlib.crc32(name.encode("utf-8")) % 2 == 1 else "tune"
        if split != want:
            errs.append(f"{name}: split {split}, crc32 says {want}")
        if conf not in ("high", "medium", "low"):
            errs.append(f"{name}: confidence {conf}")
        # Steps per epoch may be fractional (gradient accumulation over a ragged last batch).
        if vocab and not vocab.isdigit() or spe and not re.fullmatch(r"\d+(\.\d+)?", spe):
            errs.append(f"{name}: vocab not an integer or steps_per_epoch not a number")
        if not src or not reason:
            errs.append(f"{name}: empty source or reason")
        for req in lab.split(" + "):
            for alt in req.split("|"):
                m = ALT.match(alt)
                if not m or (m.group(2) and m.group(2) not in KINDS):
                    errs.append(f"{name}: label part {alt!r} does not parse")
                else:
                    kinds[m.group(2) or m.group(1)] += 1
        labels[re.sub(r"@\d+(~\d+)?", "@S", lab)] += 1
        path = os.path.join(d, name + ".csv")
        if not os.path.exists(path):
            errs.append(f"{name}: no CSV")
            continue
        rows = open(path).read().split("\n")
        # step and loss always; the optional columns, in this order, only where the run logs
        # them (task runs log with and without LR, gradient-norm and epoch columns).
        cols = rows[0].split(",")
        optional = ["val_loss", "lr", "grad_norm", "epoch"]
        if cols[:2] != ["step", "loss"] or any(c not in optional for c in cols[2:]) \
                or cols[2:] != sorted(cols[2:], key=optional.index):
            errs.append(f"{name}: CSV header {rows[0]!r}")
        ncol = rows[0].count(",") + 1
        prev = -math.inf
        nloss = 0
        nval = 0
        for r in rows[1:]:
            if not r:
                continue
            cells = r.split(",")
            if len(cells) != ncol:
                errs.append(f"{name}: row {r!r} has {len(cells)} cells")
                break
            try:
                vals = [float(c) if c else None for c in cells]
            except ValueError:
                errs.append(f"{name}: non-number in {r!r}")
                break
            if vals[0] is None or vals[0] <= prev:
                errs.append(f"{name}: steps not ascending at {r!r}")
                break
            prev = vals[0]
            nloss += vals[1] is not None
            nval += "val_loss" in cols and vals[cols.index("val_loss")] is not None
        # A validation-only log is a run the doctor reads (it judges the validation curve).
        if nloss == 0 and nval == 0:
            errs.append(f"{name}: no loss at all")
    csvs = {f[:-4] for f in os.listdir(d) if f.endswith(".csv")}
    for extra in sorted(csvs - names):
        errs.append(f"{extra}.csv has no INDEX row")
    return errs, kinds, labels, len(names)


def main():
    bad = 0
    for d in sys.argv[1:]:
        errs, kinds, labels, n = check(d)
        print(f"== {d}: {n} curves, {len(errs)} problems")
        for e in errs:
            print("  ", e)
        print("  label strings:", ", ".join(f"{k} {v}" for k, v in labels.most_common()))
        print("  kinds named:", ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
        bad += len(errs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
