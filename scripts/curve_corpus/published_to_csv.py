#!/usr/bin/env python3
"""Convert transcribed published training logs into the doctor's corpus CSVs.

Usage: python3 scripts/curve_corpus/published_to_csv.py RAWDIR [RAWDIR...] OUTDIR

Every RAWDIR/<name>.txt (from all RAWDIRs; a name may appear in only one) becomes OUTDIR/<name>.csv (header step,loss,val_loss,lr,grad_norm[,epoch]).
A raw file starts with '#' header lines:
  #src owner/repo@commit:path      (informational)
  #fmt hf | csv | text
  #cols ...                         (hf: column order of training lines, e.g. step,loss,lr,grad_norm,epoch)
  #map col=srccol ...               (csv: which source column feeds each corpus column; step=@row uses 1-based row index;
                                    a space in a source column name is written %20)
  #re  <python regex with named groups step,loss,val_loss,lr,grad_norm,epoch>   (text; may repeat)
                                    ppl / val_ppl (a group, a #map key or a #cols name) take a logged
                                    PERPLEXITY: written as its log, the loss a reader of the log sees
  #stepmul N                        (optional: multiply the step column, e.g. Keras epoch 0-based -> +1 via #stepadd 1)
  #stepadd N
  #labels / #conf / #vocab / #spe / #reason   (the label columns of INDEX.tsv; when present the script
                                              also writes OUTDIR/INDEX.tsv, split = crc32(name) % 2)
Formats:
  hf   : HF Trainer trainer_state.json log_history transcribed one entry per line:
         training entries as whitespace-separated values in #cols order ('-' = absent),
         evaluation entries as 'E <step> <eval_loss> [epoch]'.
  csv  : a CSV file as the run wrote it (Keras CSVLogger, Lightning metrics.csv, history.csv ...);
         rows sharing a step are merged (Lightning writes train and val rows separately).
  text : console log lines; each '#re' regex is tried on every line and its named groups fill the row
         for that step (rows with the same step merge).
"""
import csv, io, math, os, re, sys, zlib

COLS = ["step", "loss", "val_loss", "lr", "grad_norm", "epoch"]


def num(v):
    v = v.strip().strip(',')
    if v in ("", "-", "None", "null"):
        return None
    lv = v.lower()
    if lv in ("nan", "-nan"):
        return float("nan")
    if lv in ("inf", "+inf", "infinity"):
        return float("inf")
    if lv in ("-inf", "-infinity"):
        return float("-inf")
    return float(v)


def fmt(x):
    if x is None:
        return ""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def parse(path):
    meta = {"re": []}
    body = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") and not body:
                key, _, val = line[1:].partition(" ")
                if key == "re":
                    meta["re"].append(re.compile(val))
                else:
                    meta[key] = val.strip()
            else:
                body.append(line)
    rows = {}

    def put(step, **kv):
        r = rows.setdefault(step, {})
        for k, v in kv.items():
            if v is not None:
                r[k] = v

    f = meta["fmt"]
    if f == "hf":
        cols = meta["cols"].split(",")
        for line in body:
            p = line.split()
            if not p:
                continue
            if p[0] == "E":
                kv = {"val_loss": num(p[2])}
                if len(p) > 3:
                    kv["epoch"] = num(p[3])
                put(num(p[1]), **kv)
            else:
                kv = {c: num(v) for c, v in zip(cols, p)}
                put(kv.pop("step"), **kv)
    elif f == "csv":
        m = {k: v.replace("%20", " ") for k, v in (x.split("=", 1) for x in meta["map"].split())}
        rd = csv.DictReader(io.StringIO("\n".join(body)))
        for i, r in enumerate(rd, 1):
            r = {k.strip(): v for k, v in r.items() if k is not None}
            step = i if m["step"] == "@row" else num(r[m["step"]])
            if step is None:
                continue
            kv = {c: num(r.get(m[c], "") or "") for c in COLS[1:] + ["ppl", "val_ppl"] if c in m}
            put(step, **kv)
    elif f == "text":
        for line in body:
            for rx in meta["re"]:
                mm = rx.search(line)
                if mm:
                    g = {k: num(v) for k, v in mm.groupdict().items() if v is not None}
                    put(g.pop("step"), **g)
    else:
        raise SystemExit(f"{path}: unknown fmt {f}")
    for r in rows.values():
        for ppl, loss in (("ppl", "loss"), ("val_ppl", "val_loss")):
            v = r.pop(ppl, None)
            if v is not None:
                r[loss] = math.log(v) if v > 0 else (float("nan") if math.isnan(v) else float("-inf"))
    mul = float(meta.get("stepmul", 1))
    add = float(meta.get("stepadd", 0))
    out = []
    for s in sorted(rows):
        r = rows[s]
        if all(r.get(c) is None for c in ("loss", "val_loss")):
            continue
        out.append((s * mul + add, r))
    return out, meta


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    rawdirs, outdir = sys.argv[1:-1], sys.argv[-1]
    os.makedirs(outdir, exist_ok=True)
    index = []
    raws = {}
    for rawdir in rawdirs:
        for fn in os.listdir(rawdir):
            if fn.endswith(".txt"):
                if fn[:-4] in raws:
                    raise SystemExit(f"{fn}: in {raws[fn[:-4]]} and {rawdir}")
                raws[fn[:-4]] = rawdir
    for name in sorted(raws):
        rows, meta = parse(os.path.join(raws[name], name + ".txt"))
        if "labels" in meta:
            # A labelled run without its source or the reading behind its label cannot be
            # checked by anyone later: refuse it rather than write an empty column.
            for key in ("src", "reason"):
                if not meta.get(key, "").strip():
                    raise SystemExit(f"{raws[name]}/{name}.txt: no #{key} line (every labelled run needs one)")
            split = "holdout" if zlib.crc32(name.encode("utf-8")) % 2 == 1 else "tune"
            index.append("\t".join([name, split, meta["labels"], meta.get("conf", "medium"),
                                    meta.get("vocab", ""), meta.get("spe", ""), meta["src"],
                                    meta.get("reason", "")]))
        has_epoch = any(r.get("epoch") is not None for _, r in rows)
        cols = COLS if has_epoch else COLS[:-1]
        with open(os.path.join(outdir, name + ".csv"), "w", encoding="utf-8") as o:
            o.write(",".join(cols) + "\n")
            for s, r in rows:
                o.write(",".join([fmt(s)] + [fmt(r.get(c)) for c in cols[1:]]) + "\n")
        print(f"{name}: {len(rows)} rows")
    if index:
        with open(os.path.join(outdir, "INDEX.tsv"), "w", encoding="utf-8") as o:
            o.write("name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason\n")
            o.write("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
