#!/usr/bin/env python3
"""Generate labelled loss curves from small PyTorch runs that are not language models trained
from scratch: classifiers, regressions and fine-tunes, the curves people paste beside their LMs.

Each run is drawn from (seed, index): a task, a model, an optimizer and LR, a batch, how it logs
(interval, mean or last batch, which columns, validation every so often), and either sane
settings (healthy) or an injected fault. Tasks:

- `txtcls`: which of 2-6 books a 48-character window comes from (real text from $CURVE_DATA),
  hashed character trigrams into a bag-of-features MLP; cross-entropy starting near ln C.
- `cls`: a Gaussian-mixture classifier with 2-50 classes and 0-20 % label noise (a floor above 0).
- `reg`: a regression on a random teacher network, targets scaled ×1-1000 (a squared error's
  level says nothing on its own), mean-squared or L1 loss.
- `ft`: a character LSTM pre-trained (unlogged) on one book, then fine-tuned on another: the
  log starts far below ln V, as a fine-tune's does. The vocabulary is given half the time.

The label says what the curve shows (`task_labels.label_run`), not what was injected; no run
passes the doctor anything but the CSV (and, for half the fine-tunes, the vocabulary). Output in
the format of `crates/doctor/corpus/pytorch` (names `pt-t<seed>-<i>-<task>-<fault>`).

    python3 scripts/curve_corpus/task_runs.py --out /tmp/tasks --count 40 --seed 1
"""

import argparse
import math
import os
import random
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curve_checks import fmt, read_index, split_of, write_index  # noqa: E402
from pytorch_runs import CORPORA, make_plan, read_csv, read_text  # noqa: E402
from task_labels import label_run  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = ["txtcls", "cls", "cls", "reg", "ft"]
FAULT_SHARES = [
    ("healthy", 45), ("lr_high", 8), ("nan", 6), ("bad_batch", 8), ("lr_excursion", 5),
    ("overfit", 9), ("lr_low", 6), ("frozen", 5), ("shuffled_labels", 5),
]
SHORT = {"healthy": "ok", "lr_high": "lrhigh", "nan": "nan", "bad_batch": "badbatch",
         "lr_excursion": "lrexc", "overfit": "overfit", "lr_low": "lrlow", "frozen": "frozen",
         "shuffled_labels": "shuffled"}
BOOKS = ["tinyshakespeare", "alice", "sherlock", "war_and_peace", "enwik8", "wikitext2"]


# ---------------------------------------------------------------- data


def text_windows(rng, books, n, width=48):
    """n (window, book index) pairs drawn from the books."""
    xs, ys = [], []
    for _ in range(n):
        b = rng.randrange(len(books))
        t = books[b]
        off = rng.randrange(0, len(t) - width)
        xs.append(t[off:off + width])
        ys.append(b)
    return xs, ys


def trigram_features(windows, buckets=2048):
    """Counts of hashed character trigrams: a bag-of-features view of each window."""
    x = np.zeros((len(windows), buckets), dtype=np.float32)
    for i, w in enumerate(windows):
        for j in range(len(w) - 2):
            x[i, zlib.crc32(w[j:j + 3].encode()) % buckets] += 1.0
    return torch.from_numpy(x)


def make_data(rng, c):
    """(x_train, y_train, x_valid, y_valid) for the run's task; sets c['classes'] / c['vocab']."""
    torch.manual_seed(rng.randrange(1 << 30))
    n_tr, n_va = c["n_train"], 1000
    task = c["task"]
    if task == "txtcls":
        names = rng.sample(BOOKS, c["classes"])
        books = []
        for nm in names:
            t = read_text(CORPORA[nm][0])
            off = rng.randrange(0, max(1, len(t) - 200_000))
            books.append(t[off:off + 200_000])
        c["books"] = names
        # The first 80 % of each book's slice trains, the rest validates.
        xtr, ytr = text_windows(rng, [b[:len(b) * 4 // 5] for b in books], n_tr)
        xva, yva = text_windows(rng, [b[len(b) * 4 // 5:] for b in books], n_va)
        return (trigram_features(xtr), torch.tensor(ytr), trigram_features(xva), torch.tensor(yva))
    if task == "cls":
        # Centers N(0, s² I) lie s·sqrt(2d) apart: scaled so two classes sit `separation`
        # noise widths apart whatever the dimension (else 64 dimensions separate anything).
        C, d = c["classes"], c["dim"]
        centers = torch.randn(C, d) * c["separation"] / math.sqrt(2 * d)
        def draw(n):
            y = torch.randint(0, C, (n,))
            x = centers[y] + torch.randn(n, d)
            flip = torch.rand(n) < c["label_noise"]
            y = torch.where(flip, torch.randint(0, C, (n,)), y)
            return x, y
        return (*draw(n_tr), *draw(n_va))
    if task == "reg":
        d = c["dim"]
        teacher = nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, 1))
        with torch.no_grad():
            def draw(n):
                x = torch.randn(n, d)
                y = (teacher(x) + 0.1 * torch.randn(n, 1)) * c["scale"]
                return x, y
            return (*draw(n_tr), *draw(n_va))
    raise ValueError(task)


def char_ids(text, vocab):
    idx = {ch: i for i, ch in enumerate(vocab)}
    return torch.tensor([idx.get(ch, 0) for ch in text])


# ---------------------------------------------------------------- models


class CharLM(nn.Module):
    def __init__(self, V, hidden):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.rnn = nn.LSTM(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, V)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


def mlp(d_in, d_out, hidden, layers):
    mods, d = [], d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


# ---------------------------------------------------------------- run


def draw_config(rng, fault):
    c = {"fault": fault, "task": rng.choice(TASKS)}
    c["optimizer"] = rng.choice(["adam", "adam", "adamw", "sgdm"])
    c["batch"] = rng.choice([8, 16, 32, 64, 128])
    c["steps"] = rng.choice([300, 500, 800, 1200])
    c["interval"] = rng.choice([1, 1, 5, 10, 10, 25])
    c["reduce"] = rng.choice(["mean", "last"])
    c["schedule"] = rng.choice(["constant", "constant", "cosine", "step"])
    c["col_lr"] = rng.random() < 0.5
    c["col_grad"] = rng.random() < 0.4
    c["col_epoch"] = rng.random() < 0.5
    c["col_val"] = rng.random() < 0.7 or fault == "overfit"
    c["n_train"] = rng.choice([2000, 5000, 20000])
    c["hidden"] = rng.choice([32, 64, 128, 256])
    c["layers"] = rng.choice([1, 2, 3])
    if c["task"] == "txtcls":
        c["classes"] = rng.randint(2, 6)
    elif c["task"] == "cls":
        c["classes"] = rng.choice([2, 3, 5, 10, 20, 50])
        c["dim"] = rng.choice([8, 16, 32, 64])
        c["separation"] = rng.uniform(2.0, 6.0)
        c["label_noise"] = rng.choice([0.0, 0.0, 0.05, 0.1, 0.2])
    elif c["task"] == "reg":
        c["dim"] = rng.choice([4, 8, 16])
        c["scale"] = rng.choice([1.0, 1.0, 10.0, 100.0, 1000.0])
        c["loss"] = rng.choice(["mse", "mse", "l1"])
    else:
        c["pretrain_steps"] = rng.choice([300, 600, 1000])
        c["bptt"] = rng.choice([32, 64])
        c["batch"] = rng.choice([8, 16, 32])
        c["steps"] = rng.choice([200, 400, 600])
        c["give_vocab"] = rng.random() < 0.5
    base = {"adam": 1e-3, "adamw": 1e-3, "sgdm": 0.05}[c["optimizer"]]
    if c["task"] == "ft":
        base *= 0.5
    c["lr"] = base * 10 ** rng.uniform(-0.5, 0.5)
    if fault == "lr_high":
        c["lr"] *= 10 ** rng.uniform(1.3, 2.5)
    elif fault == "lr_low":
        c["lr"] *= 10 ** rng.uniform(-3.5, -2.5)
    elif fault == "overfit":
        c["n_train"] = rng.choice([64, 128, 256])
        c["hidden"] = 256
        c["steps"] = rng.choice([800, 1200, 1500])
        c["label_noise"] = max(c.get("label_noise", 0.0), 0.1)
        if c["task"] == "ft":
            c["ft_chars"] = rng.choice([2000, 4000])
            c["steps"] = rng.choice([400, 600])
    c["fault_step"] = int(c["steps"] * rng.uniform(0.3, 0.8))
    m = rng.randint(5, 20)
    c["val_every"] = max(c["interval"], c["steps"] // m // c["interval"] * c["interval"])
    return c


def lr_at(c, step):
    lr = c["lr"]
    if c["schedule"] == "cosine":
        lr *= 0.5 * (1 + math.cos(math.pi * step / c["steps"]))
    elif c["schedule"] == "step":
        lr *= 0.3 ** (step // max(1, c["steps"] // 3))
    if c["fault"] == "lr_excursion" and c["fault_step"] <= step < c["fault_step"] + 3:
        lr *= 50
    return lr


def make_opt(c, params):
    if c["optimizer"] == "sgdm":
        return torch.optim.SGD(params, lr=c["lr"], momentum=0.9)
    cls = torch.optim.AdamW if c["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=c["lr"])


def train_run(c, rng):
    """Train the run; rows of {step, loss?, val_loss?, lr?, grad_norm?, epoch}."""
    torch.manual_seed(rng.randrange(1 << 30))
    task = c["task"]
    if task == "ft":
        return train_finetune(c, rng)
    xtr, ytr, xva, yva = make_data(rng, c)
    if c["fault"] == "shuffled_labels" and task != "reg":
        ytr = ytr[torch.randperm(len(ytr))]
    if task == "reg":
        model = mlp(xtr.shape[1], 1, c["hidden"], c["layers"])
        loss_fn = nn.MSELoss() if c["loss"] == "mse" else nn.L1Loss()
    else:
        model = mlp(xtr.shape[1], c["classes"], c["hidden"], c["layers"])
        loss_fn = nn.CrossEntropyLoss()
    if c["fault"] == "frozen":
        for p in list(model.parameters())[:-1]:
            p.requires_grad_(False)
    opt = make_opt(c, [p for p in model.parameters() if p.requires_grad])
    n = len(xtr)
    per_epoch = max(1, n // c["batch"])
    c["steps_per_epoch"] = per_epoch
    perm, pos = torch.randperm(n), 0

    def batch():
        nonlocal perm, pos
        if pos + c["batch"] > n:
            perm, pos = torch.randperm(n), 0
        idx = perm[pos:pos + c["batch"]]
        pos += c["batch"]
        return xtr[idx], ytr[idx]

    def evaluate():
        with torch.no_grad():
            return float(loss_fn(model(xva), yva))

    return loop(c, model, opt, batch, evaluate, loss_fn)


def train_finetune(c, rng):
    a, b = rng.sample(["tinyshakespeare", "alice", "sherlock", "war_and_peace"], 2)
    ta, tb = read_text(CORPORA[a][0]), read_text(CORPORA[b][0])
    vocab = sorted(set(ta) | set(tb))
    c["vocab"] = len(vocab)
    c["books"] = [a, b]
    ida = char_ids(ta[:300_000], vocab)
    # Fine-tune text and validation text from one stretch of the second book, split 90/10
    # after the first min(200k, 70 %) characters (a tiny fine-tune set for the overfit fault).
    n_ft = min(c.get("ft_chars", 200_000), len(tb) * 7 // 10)
    off = rng.randrange(0, max(1, len(tb) - n_ft - 20_000))
    idb = char_ids(tb[off:off + n_ft], vocab)
    idv = char_ids(tb[off + n_ft:off + n_ft + 20_000], vocab)
    model = CharLM(len(vocab), min(128, max(64, c["hidden"])))
    loss_fn = nn.CrossEntropyLoss()
    T, B = c["bptt"], c["batch"]

    def windows(ids, gen):
        starts = torch.randint(0, len(ids) - T - 1, (B,), generator=gen)
        x = torch.stack([ids[s:s + T] for s in starts])
        y = torch.stack([ids[s + 1:s + T + 1] for s in starts])
        return x, y

    gen = torch.Generator().manual_seed(rng.randrange(1 << 30))
    pre = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(c["pretrain_steps"]):
        x, y = windows(ida, gen)
        loss = loss_fn(model(x).reshape(-1, len(vocab)), y.reshape(-1))
        pre.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        pre.step()
    if c["fault"] == "frozen":
        for p in list(model.parameters())[:-1]:
            p.requires_grad_(False)
    opt = make_opt(c, [p for p in model.parameters() if p.requires_grad])
    c["steps_per_epoch"] = max(1, len(idb) // (B * T))
    val_x = torch.stack([idv[s:s + T] for s in range(0, len(idv) - T - 1, T)][:200])
    val_y = torch.stack([idv[s + 1:s + T + 1] for s in range(0, len(idv) - T - 1, T)][:200])
    shuffled = c["fault"] == "shuffled_labels"

    def batch():
        x, y = windows(idb, gen)
        if shuffled:
            y = y.reshape(-1)[torch.randperm(y.numel(), generator=gen)].reshape(y.shape)
        return x, y

    def flat_loss(out, y):
        return loss_fn(out.reshape(-1, len(vocab)), y.reshape(-1))

    def evaluate():
        with torch.no_grad():
            return float(flat_loss(model(val_x), val_y))

    return loop(c, model, opt, batch, evaluate, flat_loss)


def loop(c, model, opt, batch, evaluate, loss_fn):
    rows, acc = [], []
    poisoned = False
    for step in range(1, c["steps"] + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(c, step)
        x, y = batch()
        if c["fault"] == "bad_batch" and step == c["fault_step"]:
            # Features x25 (classifiers, regressions; and targets x25 for a regression), or a
            # fine-tune's token windows paired with another row's targets.
            x = x * 25.0 if x.dtype.is_floating_point else x
            if not x.dtype.is_floating_point or c["task"] == "reg":
                y = y * 25.0 if y.dtype.is_floating_point else y[torch.randperm(len(y))]
        if c["fault"] == "nan" and step == c["fault_step"]:
            poisoned = True
            with torch.no_grad():
                next(iter(p for p in model.parameters() if p.requires_grad)).mul_(float("inf"))
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        gn = float(nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad],
                                            1e9 if c["fault"] in ("lr_high", "bad_batch") else 5.0))
        opt.step()
        acc.append(float(loss))
        if step % c["interval"] == 0:
            v = acc[-1] if c["reduce"] == "last" else float(np.mean(acc))
            acc = []
            row = {"step": step, "loss": v, "lr": lr_at(c, step), "grad_norm": gn,
                   "epoch": step / c["steps_per_epoch"]}
            if c["col_val"] and step % c["val_every"] == 0:
                row["val_loss"] = float("nan") if poisoned else evaluate()
            rows.append(row)
            if not math.isfinite(v) and len([r for r in rows if not math.isfinite(r["loss"])]) >= 5:
                break
    return rows


def write_csv(path, rows, c):
    cols = ["step", "loss", "val_loss"] + (["lr"] if c["col_lr"] else []) + \
        (["grad_norm"] if c["col_grad"] else []) + (["epoch"] if c["col_epoch"] else [])
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            out = [str(r["step"]), fmt(r.get("loss")), fmt(r.get("val_loss"))]
            if c["col_lr"]:
                out.append(fmt(r["lr"]))
            if c["col_grad"]:
                out.append(fmt(r["grad_norm"]))
            if c["col_epoch"]:
                out.append(f"{r['epoch']:.5g}")
            f.write(",".join(out) + "\n")


def describe(c):
    t = c["task"]
    if t == "txtcls":
        what = f"book-of-origin classifier, {c['classes']} classes ({', '.join(c['books'])}), trigram-bag MLP"
    elif t == "cls":
        what = (f"Gaussian-mixture classifier, {c['classes']} classes, dim {c['dim']}, centers "
                f"{c['separation']:.2f} sd apart, label noise {c['label_noise']:g}")
    elif t == "reg":
        what = f"teacher-network regression, dim {c['dim']}, targets x{c['scale']:g}, {c['loss']} loss"
    else:
        what = (f"char LSTM fine-tune {c['books'][0]} -> {c['books'][1]} after {c['pretrain_steps']} "
                f"pre-training steps, V={c['vocab']}")
    return (f"{what}; {c['layers']}x{c['hidden']} MLP, n_train {c['n_train']}, B={c['batch']}, "
            f"{c['optimizer']} lr {c['lr']:.3g} {c['schedule']}, log every {c['interval']} ({c['reduce']})"
            if t != "ft" else
            f"{what}; B={c['batch']} T={c['bptt']}, {c['optimizer']} lr {c['lr']:.3g} {c['schedule']}, "
            f"log every {c['interval']} ({c['reduce']})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--relabel", action="store_true",
                    help="label the existing CSVs again (no training), e.g. after changing a check")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    index_path = os.path.join(a.out, "INDEX.tsv")
    index = read_index(index_path)
    t_all = time.time()
    for i, fault in enumerate(make_plan(a.count, a.seed, FAULT_SHARES, salt=23)):
        rng = random.Random(a.seed * 1000003 + i * 7717 + 555)
        c = draw_config(rng, fault)
        name = f"pt-t{a.seed}-{i:03d}-{c['task']}-{SHORT[fault]}"
        t0 = time.time()
        if a.relabel:
            if name not in index:
                continue
            old = index[name].split("\t")
            rows = read_csv(os.path.join(a.out, name + ".csv"))
            labels, conf, reason = label_run(c, rows)
            old[2], old[3] = labels, conf
            old[7] = reason + " [" + old[7].split(" [", 1)[1]
            index[name] = "\t".join(old)
            write_index(index_path, index)
            continue
        rows = train_run(c, rng)
        labels, conf, reason = label_run(c, rows)
        write_csv(os.path.join(a.out, name + ".csv"), rows, c)
        vocab = str(c["vocab"]) if c["task"] == "ft" and c["give_vocab"] else ""
        spe = str(c["steps_per_epoch"]) if c["col_epoch"] else ""
        reason = (reason + " [" + describe(c) + "]").replace("\t", " ").replace("\n", " ")
        src = f"scripts/curve_corpus/task_runs.py --count {a.count} --seed {a.seed} (run {i})"
        index[name] = "\t".join([name, split_of(name), labels, conf, vocab, spe, src, reason])
        write_index(index_path, index)
        print(f"[{i:3d}] {name:34s} {time.time() - t0:5.1f}s pts={len(rows):4d} {labels:36s} {conf}", flush=True)
    print(f"done in {time.time() - t_all:.0f}s")


if __name__ == "__main__":
    main()
