#!/usr/bin/env python3
"""Generate labelled loss curves from small PyTorch recurrent language models.

Each run is drawn from (seed, index): cell (RNN tanh/relu, LSTM, GRU), layers, sizes, tokens
(char or word), corpus, batch, BPTT, optimizer, LR, schedule, dropout, how it logs (interval,
mean or last batch, which columns), and either sane settings (healthy) or an injected fault.
After each run the curve is checked for the mark the fault should leave; the label says what
the curve shows (a fault that left no visible mark is labelled by what is visible, usually
`healthy`, and the reason says so). Output: `<name>.csv` per run and `INDEX.tsv`, in the format
of `crates/doctor/corpus/README` / the corpus spec.

    python3 scripts/curve_corpus/pytorch_runs.py --out crates/doctor/corpus/pytorch --count 120 --seed 1

`--novel [SET]` draws from faults no detector was tuned on instead (NOVEL_SHARES: set 1 loop
bugs, set 2 data and regularisation bugs), in a seed space of their own, to measure how the
doctor's judgement carries over to what it has never seen.

Deterministic given --seed and --count (single-threaded CPU torch). Corpora are read from
$CURVE_DATA, else ../shared/data beside the repository, else /work/shared/data.
"""

import argparse
import math
import os
import random
import sys
import time
import zlib
from collections import Counter

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curve_checks import HEADER_INDEX, Curve, above_uniform_label, plain_spike, fmt, read_index, split_of, stall_label, write_index  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def data_dir():
    for d in (os.environ.get("CURVE_DATA"), os.path.join(REPO, "..", "shared", "data"), "/work/shared/data"):
        if d and os.path.isdir(d):
            return d
    sys.exit("no corpus folder: set CURVE_DATA to the shared/data folder")


# name -> (kind, train file, valid file or None); kind 'char' or 'word' is the natural tokenisation
CORPORA = {
    "tinyshakespeare": ("tinyshakespeare/input.txt", None),
    "alice": ("alice/alice29.txt", None),
    "sherlock": ("sherlock/input.txt", None),
    "war_and_peace": ("war_and_peace/warpeace_input.txt", None),
    "ptb": ("ptb/ptb.train.txt", "ptb/ptb.valid.txt"),
    "ptb_char": ("ptb/ptb.char.train.txt", "ptb/ptb.char.valid.txt"),
    "wikitext2": ("wikitext-2/train.txt", "wikitext-2/valid.txt"),
    "enwik8": ("enwik8_prefix/enwik8_small", None),
}
CHAR_CORPORA = ["tinyshakespeare", "alice", "sherlock", "war_and_peace", "ptb_char", "enwik8"]
WORD_CORPORA = ["ptb", "wikitext2", "tinyshakespeare", "sherlock", "war_and_peace"]

_text_cache = {}


def read_text(rel):
    if rel not in _text_cache:
        with open(os.path.join(data_dir(), rel), "rb") as f:
            _text_cache[rel] = f.read().decode("utf-8", errors="replace")
    return _text_cache[rel]


def load_tokens(rng, corpus, level, n_train, n_valid, vocab_cap):
    """Token id arrays (train, valid) and the vocabulary size, from a slice of the corpus."""
    rel_train, rel_valid = CORPORA[corpus]
    text = read_text(rel_train)
    if level == "char":
        if not rel_valid:
            n_valid = min(n_valid, len(text) // 10)
            n_train = min(n_train, len(text) - n_valid - 1)
        need = n_train + (0 if rel_valid else n_valid)
        off = rng.randrange(0, max(1, len(text) - need))
        tr = text[off:off + n_train]
        if rel_valid:
            vt = read_text(rel_valid)
            voff = rng.randrange(0, max(1, len(vt) - n_valid))
            va = vt[voff:voff + n_valid]
        else:
            va = text[off + n_train:off + n_train + n_valid]
        vocab = sorted(set(tr))
        idx = {c: i for i, c in enumerate(vocab)}
        unk = len(vocab)
        tr_ids = [idx[c] for c in tr]
        va_ids = [idx.get(c, unk) for c in va]
        V = len(vocab) + (1 if unk in va_ids else 0)
    else:
        words = text.replace("\n", " <eos> ").split()
        if not rel_valid:
            n_valid = min(n_valid, len(words) // 10)
            n_train = min(n_train, len(words) - n_valid - 1)
        need = n_train + (0 if rel_valid else n_valid)
        off = rng.randrange(0, max(1, len(words) - need))
        tr = words[off:off + n_train]
        if rel_valid:
            vw = read_text(rel_valid).replace("\n", " <eos> ").split()
            voff = rng.randrange(0, max(1, len(vw) - n_valid))
            va = vw[voff:voff + n_valid]
        else:
            va = words[off + n_train:off + n_train + n_valid]
        counts = Counter(tr)
        keep = [w for w, _ in counts.most_common(vocab_cap - 1)]
        idx = {w: i for i, w in enumerate(keep)}
        unk = len(keep)
        tr_ids = [idx.get(w, unk) for w in tr]
        va_ids = [idx.get(w, unk) for w in va]
        V = len(keep) + 1
    return np.array(tr_ids, dtype=np.int64), np.array(va_ids, dtype=np.int64), V


def references(ids, V):
    """Unigram entropy and bigram conditional entropy (nats) of a token array."""
    c1 = np.bincount(ids, minlength=V).astype(np.float64)
    p1 = c1[c1 > 0] / c1.sum()
    h1 = float(-(p1 * np.log(p1)).sum())
    pair = ids[:-1] * V + ids[1:]
    _, cnt = np.unique(pair, return_counts=True)
    prev = np.bincount(ids[:-1], minlength=V).astype(np.float64)
    # H(next | prev) = H(prev, next) - H(prev)
    pj = cnt / cnt.sum()
    hj = float(-(pj * np.log(pj)).sum())
    pp = prev[prev > 0] / prev.sum()
    hp = float(-(pp * np.log(pp)).sum())
    return h1, hj - hp


class LM(nn.Module):
    def __init__(self, cell, V, E, H, L, dropout):
        super().__init__()
        self.cell = cell
        self.enc = nn.Embedding(V, E)
        self.drop = nn.Dropout(dropout)
        if cell == "lstm":
            self.rnn = nn.LSTM(E, H, L, dropout=dropout if L > 1 else 0.0, batch_first=True)
        elif cell == "gru":
            self.rnn = nn.GRU(E, H, L, dropout=dropout if L > 1 else 0.0, batch_first=True)
        else:
            nl = "tanh" if cell == "rnn_tanh" else "relu"
            self.rnn = nn.RNN(E, H, L, nonlinearity=nl, dropout=dropout if L > 1 else 0.0, batch_first=True)
        self.dec = nn.Linear(H, V)
        self.L, self.H = L, H

    def zero_state(self, B):
        z = torch.zeros(self.L, B, self.H)
        return (z, z.clone()) if self.cell == "lstm" else z

    def forward(self, x, h):
        out, h = self.rnn(self.drop(self.enc(x)), h)
        return self.dec(self.drop(out)), h


def detach(h):
    return tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()


def map_state(h, f):
    return tuple(f(t) for t in h) if isinstance(h, tuple) else f(h)


# ---------------------------------------------------------------------------------------------
# Cost model (seconds per step on one thread), calibrated on a 2-core x86 VM under load; only
# used to size runs, so its error changes run length, not determinism.

def step_cost(cfg, V):
    g = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[cfg["cell"]]
    BT = cfg["batch"] * cfg["bptt"]
    H, E, L = cfg["hidden"], cfg["embed"], cfg["layers"]
    flops = 6.0 * BT * (g * H * (E + H) + (L - 1) * g * H * 2 * H + H * V)
    return 0.5 * (0.004 + 0.15e-3 * cfg["bptt"] * L + flops / 12e9 + BT * V * 1e-7)


# ---------------------------------------------------------------------------------------------
# The plan: which runs are healthy, which carry which fault.

FAULT_SHARES = [
    ("healthy", 40), ("healthy_short", 4),
    ("bad_batch", 7), ("lr_excursion", 6), ("nan", 6), ("lr_high", 6), ("lr_low", 5),
    ("overfit", 5), ("periodic", 5), ("state_reset", 4), ("frozen", 5), ("leak", 4),
    ("init_scale", 4), ("exploding", 5), ("osc_stag", 3), ("init_stag", 3),
]

# Faults no detector was tuned on (--novel): bugs people write into their own loops. Healthy
# runs keep their share so a draw still measures false alarms.
NOVEL_SHARES = {
    1: [("healthy", 40), ("lr_grow", 15), ("no_zero_grad", 15), ("wd_huge", 15), ("repeat_batch", 15)],
    # Data and regularisation bugs: targets shuffled within each batch from the start (only
    # token frequencies are left to learn), clipping at a norm so small every step is a crawl,
    # dropout so heavy the training loss sits far above the validation loss.
    2: [("healthy", 40), ("scrambled_targets", 20), ("tiny_clip", 20), ("dropout_huge", 20)],
}


def make_plan(count, seed, shares=FAULT_SHARES):
    total = sum(w for _, w in shares)
    plan = []
    for k, w in shares:
        plan += [k] * int(round(count * w / total))
    rng = random.Random(seed * 7919 + 11)
    while len(plan) < count:
        plan.append(rng.choice([k for k, _ in shares]))
    plan = plan[:count]
    rng.shuffle(plan)
    return plan


def draw_config(rng, kind):
    c = {}
    c["cell"] = rng.choice(["lstm", "lstm", "gru", "gru", "rnn_tanh", "rnn_relu"])
    c["layers"] = rng.choice([1, 1, 1, 2, 2, 3])
    c["hidden"] = rng.choice([32, 48, 64, 96, 128, 128, 192, 256])
    c["embed"] = rng.choice([16, 32, 64, 128]) if rng.random() < 0.8 else c["hidden"]
    c["level"] = "char" if rng.random() < 0.65 else "word"
    c["corpus"] = rng.choice(CHAR_CORPORA if c["level"] == "char" else WORD_CORPORA)
    c["batch"] = rng.choice([2, 4, 8, 16, 16, 32, 32, 64, 128])
    c["bptt"] = rng.choice([16, 24, 32, 35, 48, 64, 100, 128])
    c["vocab_cap"] = rng.choice([500, 1000, 1000, 2000])
    c["mode"] = "stream" if rng.random() < 0.55 else "random"  # carried state vs random windows
    opt = rng.choice(["adam", "adam", "adamw", "sgd", "sgdm", "rmsprop"])
    c["optimizer"] = opt
    if c["cell"] == "rnn_relu" and opt in ("sgd", "sgdm"):
        lr = 10 ** rng.uniform(-1.7, -1.0)
    elif opt in ("adam", "adamw"):
        lr = 10 ** rng.uniform(-3.2, -2.2)
    elif opt == "rmsprop":
        lr = 10 ** rng.uniform(-3.4, -2.6)
    elif opt == "sgdm":
        lr = 10 ** rng.uniform(-1.5, -0.6)
    else:
        lr = 10 ** rng.uniform(-0.7, 0.3)
    c["lr"] = lr
    c["clip"] = rng.choice([0.25, 0.5, 1.0, 1.0, 5.0]) if rng.random() < 0.8 else 0.0
    if c["cell"].startswith("rnn") and c["clip"] == 0.0:
        c["clip"] = 1.0
    c["schedule"] = rng.choice(["constant", "step", "cosine", "cosine_restarts", "warmup_linear", "plateau"])
    c["dropout"] = rng.choice([0.0, 0.0, 0.1, 0.2, 0.3])
    c["interval"] = rng.choice([1, 1, 2, 5, 10, 10, 20, 25, 50])
    c["reduce"] = "mean" if rng.random() < 0.6 else "last"
    c["col_lr"] = rng.random() < 0.5
    c["col_grad"] = rng.random() < 0.45
    c["col_val"] = rng.random() < 0.55
    c["col_epoch"] = rng.random() < 0.3
    c["log_first"] = rng.random() < 0.3
    c["points"] = rng.randint(40, 220)
    c["budget_s"] = rng.uniform(4, 16)
    c["init_scale"] = 1.0
    c["weight_decay"] = rng.choice([0.0, 0.0, 1e-5, 1e-2]) if opt == "adamw" else 0.0
    c["n_train"] = None
    c["epochs_target"] = None
    return c


def size_run(c, V):
    """Pick steps (and shrink batch/bptt/hidden if needed) so the run fits its time budget."""
    min_steps = c.get("min_steps", 250)
    for _ in range(12):
        cost = step_cost(c, V)
        if c["budget_s"] / cost >= min_steps:
            break
        if c["batch"] > 8:
            c["batch"] //= 2
        elif c["hidden"] > 64:
            c["hidden"] //= 2
        elif c["bptt"] > 32:
            c["bptt"] //= 2
        elif c["batch"] > 4:
            c["batch"] //= 2
        elif c["bptt"] > 16:
            c["bptt"] //= 2
        elif c["hidden"] > 32:
            c["hidden"] //= 2
        elif c["layers"] > 1:
            c["layers"] -= 1
        else:
            break
    cost = step_cost(c, V)
    max_steps = int(c["budget_s"] / cost)
    if c["fault"] != "healthy_short":
        c["points"] = max(c["points"], -(-min_steps // c["interval"]))
    want = c["interval"] * c["points"]
    if want > max_steps:
        # fewer points, or a shorter interval, rather than a longer run
        c["interval"] = max(1, min(c["interval"], max_steps // 40))
        want = min(max_steps, c["interval"] * c["points"])
    c["steps"] = max(c["interval"] * 8, (want // c["interval"]) * c["interval"])
    c["est_s"] = c["steps"] * cost


# ---------------------------------------------------------------------------------------------

def lr_at(c, k, plateau_factor):
    """LR of update k (1-based) before any excursion."""
    base, n = c["lr"], c["steps"]
    s = c["schedule"]
    if s == "constant":
        return base
    if s == "step":
        return base * (c["gamma"] ** (k // c["step_size"]))
    if s == "cosine":
        return c["lr_min"] + (base - c["lr_min"]) * 0.5 * (1 + math.cos(math.pi * min(1.0, k / n)))
    if s == "cosine_restarts":
        t0, mult = c["t0"], c["tmult"]
        kk, t = k, t0
        while kk >= t:
            kk -= t
            t *= mult
        return c["lr_min"] + (base - c["lr_min"]) * 0.5 * (1 + math.cos(math.pi * kk / t))
    if s == "warmup_linear":
        w = c["warmup"]
        if k < w:
            return base * (k + 1) / w
        return base * max(0.02, 1 - (k - w) / max(1, n - w))
    if s == "plateau":
        return base * plateau_factor
    raise ValueError(s)


def schedule_params(rng, c):
    n = c["steps"]
    c["gamma"] = rng.choice([0.1, 0.25, 0.5])
    c["step_size"] = max(c["interval"] * 3, int(n * rng.uniform(0.25, 0.45)))
    c["lr_min"] = c["lr"] * rng.choice([0.0, 0.01, 0.1])
    c["t0"] = max(c["interval"] * 4, int(n * rng.uniform(0.15, 0.35)))
    c["tmult"] = rng.choice([1, 2])
    c["warmup"] = max(1, int(n * rng.uniform(0.02, 0.1)))
    c["plateau_patience"] = rng.choice([2, 3, 5])


class Batcher:
    def __init__(self, ids, c, rng):
        self.ids = torch.from_numpy(ids)
        self.B, self.T = c["batch"], c["bptt"]
        self.mode = c["mode"]
        self.g = torch.Generator().manual_seed(rng.randrange(1 << 30))
        if self.mode == "stream":
            nb = len(ids) // self.B
            self.streams = self.ids[: nb * self.B].view(self.B, nb)
            self.per_epoch = max(1, (nb - 1) // self.T)
        else:
            self.per_epoch = max(1, (len(ids) - 1) // (self.B * self.T))
        self.pos = 0

    def next(self):
        """(x, y, new_epoch)"""
        if self.mode == "stream":
            new = self.pos == 0
            i = self.pos * self.T
            x = self.streams[:, i:i + self.T]
            y = self.streams[:, i + 1:i + 1 + self.T]
            self.pos = (self.pos + 1) % self.per_epoch
            return x, y, new
        starts = torch.randint(0, len(self.ids) - self.T - 1, (self.B,), generator=self.g)
        rows = torch.stack([self.ids[s:s + self.T + 1] for s in starts.tolist()])
        self.pos = (self.pos + 1) % self.per_epoch
        return rows[:, :-1], rows[:, 1:], False


def make_optimizer(c, params):
    o, lr = c["optimizer"], c["lr"]
    # An L2 penalty for the optimizers without decoupled decay (only the wd_huge fault sets it).
    l2 = c.get("l2", 0.0)
    if o == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=l2)
    if o == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=c["weight_decay"])
    if o == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=l2)
    if o == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=l2)
    return torch.optim.RMSprop(params, lr=lr, alpha=0.99, weight_decay=l2)


def leak_inputs(x, y, p, g):
    if p >= 1.0:
        return y.clone()
    m = torch.rand(x.shape, generator=g) < p
    return torch.where(m, y, x)


def evaluate(model, va, c, V):
    model.eval()
    T = 64
    n = min((len(va) - 1) // T, 48)
    ids = torch.from_numpy(va[: n * T + 1])
    x = ids[:-1].view(n, T)
    y = ids[1:].view(n, T)
    if c.get("leak_p", 0) > 0:
        x = leak_inputs(x, y, c["leak_p"], torch.Generator().manual_seed(5))
    with torch.no_grad():
        h = model.zero_state(n)
        logits, _ = model(x, h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    model.train()
    return float(loss)


def train_run(c, tr, va, V, rng):
    torch.manual_seed(rng.randrange(1 << 30))
    model = LM(c["cell"], V, c["embed"], c["hidden"], c["layers"], c["dropout"])
    fault = c["fault"]
    if c["init_scale"] != 1.0:
        with torch.no_grad():
            model.dec.weight.normal_(0.0, c["init_scale"])
            model.dec.bias.normal_(0.0, c["init_scale"])
    if c.get("whh_scale", 1.0) != 1.0:
        with torch.no_grad():
            for name, p in model.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    p.mul_(c["whh_scale"])
    if fault == "frozen":
        for name, p in model.named_parameters():
            if c["freeze"] == "all_but_bias":
                p.requires_grad_(name == "dec.bias")
            elif c["freeze"] == "enc_rnn":
                p.requires_grad_(name.startswith("dec"))
            elif c["freeze"] == "rnn":
                p.requires_grad_(not name.startswith("rnn"))
            elif c["freeze"] == "enc":
                p.requires_grad_(not name.startswith("enc"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(c, params)
    batcher = Batcher(tr, c, rng)
    c["steps_per_epoch"] = batcher.per_epoch
    g = torch.Generator().manual_seed(rng.randrange(1 << 30))
    h = None
    rows = []
    acc_loss, acc_grad, n_acc = 0.0, 0.0, 0
    plateau_factor, plateau_best, plateau_bad = 1.0, float("inf"), 0
    interval, steps = c["interval"], c["steps"]
    val_every = c.get("val_every", 0)
    exc = c.get("exc")  # (start, n, factor)
    stop_at = None
    repeat = None  # the batch a repeat_batch fault serves forever
    for k in range(1, steps + 1):
        x, y, new_epoch = batcher.next()
        if fault == "repeat_batch" and k >= c["fault_steps"][0]:
            repeat = repeat or (x, y)
            x, y = repeat
        if c["mode"] == "stream":
            if h is None or (new_epoch and not c.get("no_epoch_reset")):
                h = model.zero_state(x.shape[0])
            else:
                h = detach(h)
            if fault == "state_reset" and c["reset_kind"] == "noise" and k % c["reset_every"] == 0:
                scale = c["reset_scale"]
                h = map_state(h, lambda t: torch.randn(t.shape, generator=g) * scale)
            if fault == "state_reset" and c["reset_kind"] == "zero_every_batch":
                h = model.zero_state(x.shape[0])
        else:
            h = model.zero_state(x.shape[0])
        if fault == "bad_batch" and k in c["fault_steps"]:
            if c["bad_kind"] == "random_targets":
                y = torch.randint(0, V, y.shape, generator=g)
            else:
                s = torch.cat([x[:, :1], y], dim=1).reshape(-1)
                s = s[torch.randperm(len(s), generator=g)].view(x.shape[0], -1)
                x, y = s[:, :-1], s[:, 1:]
        if fault == "scrambled_targets":
            flat = y.reshape(-1)
            y = flat[torch.randperm(flat.numel(), generator=g)].view(y.shape)
        if c.get("leak_p", 0) > 0 and k >= c.get("leak_from", 1):
            x = leak_inputs(x, y, c["leak_p"], g)
        lr = lr_at(c, k, plateau_factor)
        if exc and exc[0] <= k < exc[0] + exc[1]:
            lr = lr * exc[2]
        if fault == "lr_grow" and k > c["fault_steps"][0]:
            lr = lr * c["grow"] ** (k - c["fault_steps"][0])
        for pg in opt.param_groups:
            pg["lr"] = lr
        logits, h = model(x, h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        if fault == "nan" and k == c["fault_step"]:
            loss = loss * float("nan")
        if not (fault == "no_zero_grad" and k > c["fault_steps"][0]):
            opt.zero_grad()
        loss.backward()
        gn = 0.0
        for p in params:
            if p.grad is not None:
                gn += float(p.grad.detach().pow(2).sum())
        gn = math.sqrt(gn) if math.isfinite(gn) else float("nan")
        if c["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, c["clip"])
        opt.step()
        lv = loss.item()
        if c["reduce"] == "mean":
            acc_loss += lv
            acc_grad += gn
            n_acc += 1
        if k % interval == 0 or k == 1 and c["log_first"] or k == steps:
            if c["reduce"] == "mean" and n_acc:
                ll, gg = acc_loss / n_acc, acc_grad / n_acc
            else:
                ll, gg = lv, gn
            acc_loss, acc_grad, n_acc = 0.0, 0.0, 0
            row = {"step": k, "loss": ll, "lr": lr, "grad_norm": gg,
                   "epoch": k / batcher.per_epoch}
            rows.append(row)
        if val_every and k % val_every == 0:
            vl = evaluate(model, va, c, V)
            if rows and rows[-1]["step"] == k:
                rows[-1]["val_loss"] = vl
            else:
                rows.append({"step": k, "val_loss": vl, "epoch": k / batcher.per_epoch})
            if c["schedule"] == "plateau":
                if vl < plateau_best - 1e-3:
                    plateau_best, plateau_bad = vl, 0
                else:
                    plateau_bad += 1
                    if plateau_bad > c["plateau_patience"]:
                        plateau_factor *= 0.5
                        plateau_bad = 0
        elif c["schedule"] == "plateau" and not val_every and k % max(interval, 10) == 0:
            if lv < plateau_best - 1e-3:
                plateau_best, plateau_bad = lv, 0
            else:
                plateau_bad += 1
                if plateau_bad > 3 * c["plateau_patience"]:
                    plateau_factor *= 0.5
                    plateau_bad = 0
        if not math.isfinite(lv) and c.get("stop_on_nan"):
            if stop_at is None:
                stop_at = k + interval * c.get("nan_extra_points", 0)
        if stop_at is not None and k >= stop_at:
            if rows[-1]["step"] != k:
                rows.append({"step": k, "loss": lv, "lr": lr, "grad_norm": gn, "epoch": k / batcher.per_epoch})
            break
    return rows


# ---------------------------------------------------------------------------------------------
# Reading the curve back: what did the fault leave?

def label_run(c, rows, V):
    """(labels, confidence, reason) from the injected fault and what the curve shows. A loss
    that turned non-finite is the first thing any reader sees, whatever the fault was meant to do
    (a frozen embedding with AdamW at a high LR can blow up)."""
    labels, conf, reason = label_by_fault(c, rows, V)
    s = Curve(rows).first_nonfinite
    if s is not None and "non_finite" not in labels:
        return f"non_finite@{s}", "high", reason + f"; the loss turned non-finite at step {s}"
    return labels, conf, reason


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

    def overfit_check():
        if len(cv.val) < 5:
            return None
        fin = np.isfinite(cv.val)
        if fin.sum() < 5:
            return None
        v = cv.val
        imin = int(np.nanargmin(v))
        vmin = float(v[imin])
        vend = float(np.nanmedian(v[-max(2, len(v) // 8):]))
        vnoise = float(np.nanmedian(np.abs(np.diff(v[fin])))) if fin.sum() > 2 else 0.01
        if vend - vmin > max(0.05, 0.03 * vmin, 3 * vnoise) and imin < len(v) - 2:
            return int(cv.vsteps[imin]), vmin, vend
        return None

    def healthy_or_what(prefix):
        """A run meant healthy (or whose fault left no mark): check nothing else shows."""
        if cv.first_nonfinite is not None:
            return f"non_finite@{cv.first_nonfinite}", "high", prefix + f"; the loss is non-finite from step {cv.first_nonfinite}"
        ms = cv.max_spike()
        if ms and plain_spike(ms[1], ms[2], ms[3]):
            s = int(cv.steps[ms[0]])
            return f"spike@{s}", "medium", prefix + f"; but the curve has an unplanned spike at step {s} ({ms[3]:.3f} -> {ms[3] + ms[2]:.3f}, z={ms[1]:.0f})"
        of = overfit_check()
        if of:
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

    if fault in ("bad_batch", "lr_excursion"):
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
        rec = cv.recovery_points(i, base)
        txt = f"{desc}; logged loss {base + rise:.3f} at step {s} vs preceding level {base:.3f} (z={z:.0f} against noise {noise:.3g})"
        if rec is not None and rec <= max(5, n // 25):
            if not plain_spike(z, rise, base):
                rest = healthy_or_what(desc)[0]
                if " + " not in rest:
                    return (f"spike@{s}|{rest}", "low", txt + f", back within {rec} points; a mark this weak in a run "
                            "with no fault is labelled by the rest: either reading")
            return f"spike@{s}", "high" if z >= 10 and rise >= 0.1 * base else "medium", txt + f", back within {rec} points"
        if rec is not None:
            return f"spike@{s}|instability", "medium", txt + f", recovers slowly ({rec} points)"
        progress = L0 - base
        if Lend - base > 0.3 * max(progress, 1e-6):
            return "divergence|instability", "medium", txt + f", never recovers (end {Lend:.3f}, start {L0:.3f})"
        return f"spike@{s}|instability|upward_drift", "medium", txt + f", stays a little above (end {Lend:.3f})"

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
        parts = []
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


# ---------------------------------------------------------------------------------------------

def setup_fault(rng, c, kind):
    c["fault"] = kind
    c["fault_desc"] = "sane settings"
    if kind == "healthy":
        c["col_val"] = c["col_val"] or rng.random() < 0.3
        c["val_big"] = True
    elif kind == "healthy_short":
        c["points"] = rng.randint(4, 8)
        c["interval"] = rng.choice([10, 20, 25, 50])
        c["log_first"] = False
        c["budget_s"] = 4
    elif kind == "bad_batch":
        c["bad_kind"] = rng.choice(["random_targets", "random_targets", "random_targets", "shuffled_text"])
        if rng.random() < 0.6:
            c["interval"] = min(c["interval"], rng.choice([1, 2, 5]))
        c["batch"] = max(c["batch"], 8)
        c["clip"] = c["clip"] if rng.random() < 0.5 else 0.0
        if c["cell"].startswith("rnn"):
            c["clip"] = 1.0
    elif kind == "lr_excursion":
        c["exc_factor"] = rng.choice([30, 100, 300])
        c["exc_len"] = rng.choice([1, 2, 3, 5, 10])
    elif kind == "nan":
        c["stop_on_nan"] = rng.random() < 0.5
        c["nan_extra_points"] = rng.choice([0, 1, 2, 5])
    elif kind in ("lr_high", "osc_stag"):
        if c["optimizer"] in ("sgd", "sgdm"):
            c["lr"] = 10 ** rng.uniform(1.0, 2.3) / (10 if c["optimizer"] == "sgdm" else 1)
            c["clip"] = rng.choice([0.0, c["clip"]])
        else:
            c["lr"] = 10 ** rng.uniform(-1.3, -0.3)
        c["schedule"] = rng.choice(["constant", "constant", "cosine", "step"]) if kind == "lr_high" else "constant"
        if kind == "osc_stag":
            c["cell"] = rng.choice(["lstm", "gru"])
            c["optimizer"] = "sgd"
            c["clip"] = rng.choice([0.25, 0.5, 1.0])
            c["lr"] = rng.choice([10.0, 20.0, 40.0]) / c["clip"]
            c["interval"] = rng.choice([1, 2, 5])
            c["reduce"] = "last"
        c["fault_desc"] = f"LR far too high ({c['optimizer']} lr {c['lr']:.3g})"
        c["min_steps"] = 500
    elif kind == "lr_low":
        f = 10 ** rng.uniform(-3.5, -2.5)
        c["lr"] *= f
        c["schedule"] = rng.choice(["constant", "cosine", "step"])
        c["fault_desc"] = f"LR far too low ({c['optimizer']} lr {c['lr']:.3g})"
        c["min_steps"] = 500
    elif kind == "overfit":
        c["n_train"] = rng.choice([1500, 3000, 6000]) if c["level"] == "char" else rng.choice([800, 1500, 3000])
        c["hidden"] = rng.choice([128, 192, 256])
        c["cell"] = rng.choice(["lstm", "gru"])
        c["optimizer"] = rng.choice(["adam", "adamw", "rmsprop"])
        c["lr"] = rng.choice([2e-3, 3e-3, 5e-3])
        c["dropout"] = 0.0
        c["mode"] = "random"
        c["batch"] = rng.choice([8, 16, 32])
        c["bptt"] = rng.choice([32, 48, 64])
        c["col_val"] = True
        c["clip"] = 1.0
        c["schedule"] = rng.choice(["constant", "constant", "cosine"])
        c["min_steps"] = 300
        c["fault_desc"] = f"trained on a tiny subset ({c['n_train']} tokens) for many epochs"
    elif kind == "periodic":
        c["mode"] = "stream"
        c["interval"] = rng.choice([1, 1, 2])
        c["reduce"] = "last" if c["interval"] == 1 else c["reduce"]
        c["batch"] = rng.choice([8, 16, 32])
        c["bptt"] = rng.choice([32, 48, 64])
        c["per_epoch_target"] = rng.randint(12, 40)
        c["n_train"] = c["batch"] * (c["bptt"] * c["per_epoch_target"] + 1)
        c["col_epoch"] = True
        c["cell"] = rng.choice(["lstm", "gru", "lstm"])
        c["optimizer"] = rng.choice(["adam", "adamw"])
        c["lr"] = rng.choice([2e-3, 3e-3, 5e-3])
        c["clip"] = 1.0
        c["schedule"] = rng.choice(["constant", "cosine"])
        c["hidden"] = rng.choice([64, 128, 192])
        c["layers"] = rng.choice([1, 1, 2])
        c["min_steps"] = 200
    elif kind == "state_reset":
        c["mode"] = "stream"
        c["reset_kind"] = rng.choice(["noise", "noise", "noise", "zero_every_batch"])
        c["reset_scale"] = rng.choice([30.0, 60.0, 100.0])
        c["interval"] = rng.choice([1, 1, 2, 5])
        c["reduce"] = "last" if rng.random() < 0.6 else c["reduce"]
        c["cell"] = rng.choice(["lstm", "gru"])
        c["level"] = "char"
        c["corpus"] = rng.choice(CHAR_CORPORA)
        c["bptt"] = rng.choice([16, 24, 32])
        c["batch"] = rng.choice([8, 16, 32])
        c["clip"] = c["clip"] or 1.0
        c["min_steps"] = 200
    elif kind == "frozen":
        c["freeze"] = rng.choice(["all_but_bias", "enc_rnn", "enc_rnn", "all_but_bias", "enc"])
        c["optimizer"] = rng.choice(["adam", "adamw", "rmsprop"])
        c["lr"] = rng.choice([0.03, 0.05, 0.1]) if c["freeze"] == "all_but_bias" else rng.choice([0.01, 0.02])
        c["schedule"] = rng.choice(["constant", "constant", "cosine", "step"])
        c["min_steps"] = 600
        c["fault_desc"] = {"all_but_bias": "every weight frozen but the output bias",
                           "enc_rnn": "embedding and recurrent layers frozen (only the head trains)",
                           "rnn": "recurrent layers frozen", "enc": "embedding frozen"}[c["freeze"]]
    elif kind == "leak":
        c["leak_p"] = rng.choice([1.0, 1.0, 0.7])
        c["col_val"] = True
        c["cell"] = rng.choice(["lstm", "gru"])
        c["layers"] = 1
        c["optimizer"] = rng.choice(["adam", "adamw"])
        c["lr"] = rng.choice([3e-3, 5e-3])
        c["hidden"] = max(64, c["hidden"])
        c["embed"] = max(32, c["embed"])
        c["dropout"] = 0.0
        c["min_steps"] = 400
        if c["level"] == "word" and rng.random() < 0.7:
            c["level"] = "char"
            c["corpus"] = rng.choice(CHAR_CORPORA)
        c["fault_desc"] = f"target leak: inputs replaced by the targets with probability {c['leak_p']} (train and validation)"
    elif kind == "init_scale":
        c["init_scale"] = rng.choice([1.0 + 1e-9, 2.0, 3.0, 5.0])
        c["log_first"] = True if rng.random() < 0.7 else c["log_first"]
        c["interval"] = min(c["interval"], rng.choice([1, 5, 10]))
        c["fault_desc"] = f"output layer initialised N(0, {c['init_scale']:.3g}) (weights and bias)"
    elif kind == "init_stag":
        c["init_scale"] = rng.choice([2.0, 3.0, 5.0])
        c["optimizer"] = rng.choice(["sgd", "adam"])
        c["lr"] = 1e-5 if c["optimizer"] == "sgd" else 1e-7
        c["schedule"] = "constant"
        c["log_first"] = True
        c["interval"] = min(c["interval"], 10)
        c["min_steps"] = 500
        c["fault_desc"] = f"output layer initialised N(0, {c['init_scale']:g}) and LR {c['lr']:g} ({c['optimizer']})"
    elif kind == "lr_grow":
        c["grow_total"] = rng.choice([30.0, 100.0, 1000.0])
        c["schedule"] = "constant"
        c["min_steps"] = 400
    elif kind == "no_zero_grad":
        c["min_steps"] = 400
    elif kind == "wd_huge":
        wd = rng.choice([0.3, 1.0, 3.0])
        if c["optimizer"] == "adamw":
            c["weight_decay"] = wd * 10
        else:
            c["l2"] = wd * (0.1 if c["optimizer"] in ("adam", "rmsprop") else 1.0)
        c["min_steps"] = 400
        c["fault_desc"] = (f"weight decay {c['weight_decay']:g} (AdamW)" if c["optimizer"] == "adamw"
                           else f"L2 weight decay {c['l2']:g} ({c['optimizer']})")
    elif kind == "repeat_batch":
        c["col_val"] = True
        c["min_steps"] = 400
    elif kind == "scrambled_targets":
        c["min_steps"] = 400
        c["fault_desc"] = "data bug: targets shuffled within each batch (inputs and targets no longer aligned)"
    elif kind == "tiny_clip":
        c["clip"] = rng.choice([1e-4, 3e-4, 1e-3])
        c["optimizer"] = rng.choice(["sgd", "sgdm"])
        c["lr"] = rng.choice([0.1, 0.3, 1.0])
        c["schedule"] = rng.choice(["constant", "cosine"])
        c["min_steps"] = 400
        c["fault_desc"] = f"gradients clipped at norm {c['clip']:g} ({c['optimizer']} lr {c['lr']:g}): every step a crawl"
    elif kind == "dropout_huge":
        c["dropout"] = rng.choice([0.7, 0.8, 0.9])
        c["layers"] = max(2, c["layers"])
        c["col_val"] = True
        c["min_steps"] = 400
        c["fault_desc"] = f"dropout {c['dropout']:g} between layers and before the head"
    elif kind == "exploding":
        c["cell"] = rng.choice(["rnn_tanh", "rnn_relu", "rnn_relu", "rnn_relu", "lstm"])
        c["clip"] = 0.0
        c["whh_scale"] = rng.choice([1.0, 1.5, 2.0]) if c["cell"] != "lstm" else 1.0
        c["optimizer"] = rng.choice(["sgd", "sgdm"])
        c["lr"] = 10 ** rng.uniform(-1.0, 0.0) * (3 if c["cell"] != "rnn_relu" else 1) / (3 if c["optimizer"] == "sgdm" else 1)
        c["min_steps"] = 400
        c["col_grad"] = rng.random() < 0.8
        c["bptt"] = rng.choice([64, 100, 128])
        c["fault_desc"] = f"no gradient clipping, {c['cell']} (W_hh x{c['whh_scale']:g}), {c['optimizer']} lr {c['lr']:.3g}"


def place_fault(rng, c):
    n, interval = c["steps"], c["interval"]
    kind = c["fault"]
    if kind == "bad_batch":
        s = rng.randint(int(0.3 * n), int(0.85 * n))
        if c["reduce"] == "last" and rng.random() < 0.75:
            s = max(interval, (s // interval) * interval)
        c["fault_steps"] = [s]
        c["fault_desc"] = f"bad batch ({c['bad_kind'].replace('_', ' ')}) at step {s}" + (", no clipping" if c["clip"] == 0 else "")
    elif kind == "lr_excursion":
        s = rng.randint(int(0.3 * n), int(0.8 * n))
        if c["reduce"] == "last" and rng.random() < 0.6:
            s = max(interval, (s // interval) * interval - rng.randint(0, c["exc_len"] - 1))
        c["exc"] = (s, c["exc_len"], c["exc_factor"])
        c["fault_steps"] = [s]
        c["fault_desc"] = f"LR x{c['exc_factor']} for {c['exc_len']} step(s) from step {s}"
    elif kind == "nan":
        s = rng.randint(int(0.35 * n), int(0.9 * n))
        c["fault_step"] = s
        c["fault_desc"] = f"NaN injected into the loss at step {s}"
    elif kind == "state_reset":
        if c["reset_kind"] == "noise":
            c["reset_every"] = interval * rng.randint(5, 15)
            c["period_steps"] = c["reset_every"]
            c["fault_desc"] = f"hidden-state bug: state replaced by N(0,{c['reset_scale']:g}) noise every {c['reset_every']} steps"
        else:
            c["fault_desc"] = "hidden-state bug: state reset every batch in a contiguous stream (no visible mark expected)"
    elif kind == "periodic":
        c["fault_desc"] = "unshuffled fixed-order epochs on a small set"
    elif kind == "lr_grow":
        s = rng.randint(int(0.2 * n), int(0.6 * n))
        c["grow"] = c["grow_total"] ** (1.0 / max(1, n - s))
        c["fault_steps"] = [s]
        c["fault_desc"] = f"LR schedule bug: the LR grows x{c['grow']:.4g} per step from step {s} (x{c['grow_total']:g} by the end)"
    elif kind == "no_zero_grad":
        s = rng.randint(int(0.2 * n), int(0.6 * n))
        c["fault_steps"] = [s]
        c["fault_desc"] = f"optimizer.zero_grad() dropped from step {s}: gradients accumulate"
    elif kind == "repeat_batch":
        s = rng.randint(int(0.2 * n), int(0.5 * n))
        c["fault_steps"] = [s]
        c["fault_desc"] = f"data-loader bug: the batch of step {s} is served again at every later step"


def plan_run(seed, i, kind, novel=0):
    # Each novel set gets a seed space of its own: otherwise its healthy runs repeat the
    # default draw's healthy runs at the same seed and index, curve for curve.
    rng = random.Random(seed * 1000003 + i * 7717 + 987_654_321 * novel)
    c = draw_config(rng, kind)
    setup_fault(rng, c, kind)
    if c["level"] == "char":
        n_train = c["n_train"] or rng.choice([100_000, 200_000, 400_000])
        n_valid = 20_000
    else:
        n_train = c["n_train"] or rng.choice([60_000, 120_000, 200_000])
        n_valid = 8_000
    tr, va, V = load_tokens(rng, c["corpus"], c["level"], n_train, n_valid, c["vocab_cap"])
    size_run(c, V)
    if kind == "periodic":
        per = max(1, (len(tr) // c["batch"] - 1) // c["bptt"])
        ep = max(5, int(c["steps"] / per))
        c["steps"] = max(per * 5, min(c["steps"], per * ep))
        c["steps"] = (c["steps"] // c["interval"]) * c["interval"]
        c["period_steps"] = per
    if kind == "overfit":
        c["val_every"] = c["interval"] * max(1, c["steps"] // (c["interval"] * rng.randint(15, 40)))
    elif c["col_val"]:
        m = rng.randint(3, 20)
        c["val_every"] = c["interval"] * max(1, c["steps"] // (c["interval"] * m))
        if rng.random() < 0.1:
            c["val_every"] = max(7, c["steps"] // m)
    schedule_params(rng, c)
    place_fault(rng, c)
    return c, tr, va, V, rng


def write_csv(path, rows, c):
    cols = ["step", "loss", "val_loss", "lr", "grad_norm"]
    with_epoch = c["col_epoch"]
    with open(path, "w") as f:
        f.write(",".join(cols + (["epoch"] if with_epoch else [])) + "\n")
        for r in rows:
            out = [str(r["step"]), fmt(r.get("loss")), fmt(r.get("val_loss")),
                   fmt(r.get("lr")) if c["col_lr"] and "loss" in r else "",
                   fmt(r.get("grad_norm")) if c["col_grad"] and "loss" in r else ""]
            if with_epoch:
                out.append(f"{r['epoch']:.5g}")
            f.write(",".join(out) + "\n")


def read_csv(path):
    """Rows of a curve CSV back as dicts (empty cells left out)."""
    with open(path) as f:
        lines = f.read().split("\n")
    cols = lines[0].split(",")
    rows = []
    for ln in lines[1:]:
        if not ln:
            continue
        r = {}
        for k, v in zip(cols, ln.split(",")):
            if v:
                r[k] = int(v) if k == "step" else float(v)
        rows.append(r)
    return rows


SHORT = {"healthy": "ok", "healthy_short": "short", "bad_batch": "badbatch", "lr_excursion": "lrexc",
         "nan": "nan", "lr_high": "lrhigh", "lr_low": "lrlow", "overfit": "overfit",
         "periodic": "epochs", "state_reset": "statebug", "frozen": "frozen", "leak": "leak",
         "init_scale": "init", "exploding": "noclip", "osc_stag": "lrband", "init_stag": "initstall",
         "lr_grow": "lrgrow", "no_zero_grad": "nozerograd", "wd_huge": "wdhuge", "repeat_batch": "repeatbatch",
         "scrambled_targets": "scrambled", "tiny_clip": "tinyclip", "dropout_huge": "dropout"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "crates/doctor/corpus/pytorch"))
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", type=str, default="", help="comma-separated run indices to (re)generate")
    ap.add_argument("--resume", action="store_true", help="skip runs already in INDEX.tsv")
    ap.add_argument("--dry", action="store_true", help="print the plan and estimated times only")
    ap.add_argument("--novel", nargs="?", type=int, const=1, default=0, metavar="SET",
                    help="draw from a set of faults no detector was tuned on (NOVEL_SHARES, set 1 by "
                         "default); names start pt-n<seed> (set 1) or pt-n<set>x<seed>")
    ap.add_argument("--relabel", action="store_true",
                    help="label the existing CSVs again (no training), e.g. after changing a check")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(a.out, exist_ok=True)
    index_path = os.path.join(a.out, "INDEX.tsv")
    index = read_index(index_path)
    plan = make_plan(a.count, a.seed, NOVEL_SHARES[a.novel] if a.novel else FAULT_SHARES)
    tag = {0: "s", 1: "n"}.get(a.novel, f"n{a.novel}x")
    only = {int(x) for x in a.only.split(",") if x.strip()} if a.only else None
    t_all = time.time()
    for i, kind in enumerate(plan):
        if only is not None and i not in only:
            continue
        c, tr, va, V, rng = plan_run(a.seed, i, kind, a.novel)
        name = f"pt-{tag}{a.seed}-{i:03d}-{c['cell'].replace('_', '')}-{c['level']}-{SHORT[kind]}"
        if a.dry:
            print(f"{name:45s} steps={c['steps']:5d} int={c['interval']:3d} B={c['batch']:3d} T={c['bptt']:3d} "
                  f"H={c['hidden']:3d}x{c['layers']} V={V:5d} est={c['est_s']:.1f}s")
            continue
        if a.resume and name in index and os.path.exists(os.path.join(a.out, name + ".csv")):
            continue
        c["refs"] = references(tr, V)
        t0 = time.time()
        if a.relabel:
            path = os.path.join(a.out, name + ".csv")
            if not os.path.exists(path):
                continue
            c["steps_per_epoch"] = Batcher(tr, c, rng).per_epoch
            rows = read_csv(path)
        else:
            rows = train_run(c, tr, va, V, rng)
        dt = time.time() - t0
        labels, conf, reason = label_run(c, rows, V)
        if not a.relabel:
            write_csv(os.path.join(a.out, name + ".csv"), rows, c)
        spe = str(c["steps_per_epoch"]) if c["col_epoch"] else ""
        cfg = (f"{c['cell']} {c['layers']}x{c['hidden']} emb {c['embed']}, {c['level']} {c['corpus']} V={V}, "
               f"B={c['batch']} T={c['bptt']} {c['mode']}, {c['optimizer']} lr {c['lr']:.3g} {c['schedule']}, "
               f"clip {c['clip']:g}, dropout {c['dropout']:g}, log every {c['interval']} ({c['reduce']})")
        reason = (reason + " [" + cfg + "]").replace("\t", " ").replace("\n", " ")
        src = f"scripts/curve_corpus/pytorch_runs.py --count {a.count} --seed {a.seed}{' --novel' if a.novel == 1 else f' --novel {a.novel}' if a.novel else ''} (run {i})"
        index[name] = "\t".join([name, split_of(name), labels, conf, str(V), spe, src, reason])
        write_index(index_path, index)
        print(f"[{i:3d}] {name:45s} {dt:5.1f}s (est {c['est_s']:.1f}) pts={len(rows):4d} {labels:40s} {conf}", flush=True)
    if not a.dry:
        print(f"done in {time.time() - t_all:.0f}s")


if __name__ == "__main__":
    main()
