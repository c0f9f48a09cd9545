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
bugs, set 2 data and regularisation bugs, set 3 loss and schedule bugs, set 4 resume bugs), in
a seed space of their own, to measure how the doctor's judgement carries over to what it has
never seen.

Deterministic given --seed and --count (single-threaded CPU torch). Corpora are read from
$CURVE_DATA, else ../shared/data beside the repository, else /work/shared/data.
"""

import argparse
import math
import os
import random
import sys
import time
from collections import Counter

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curve_checks import fmt, read_index, split_of, write_index  # noqa: E402
from pytorch_faults import CHAR_CORPORA, place_fault, setup_fault  # noqa: E402
from pytorch_labels import label_run  # noqa: E402

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
    # Loss and schedule bugs: the loss summed over a batch's tokens instead of averaged, label
    # smoothing so strong the target is nearly uniform, an LR that drops to zero part-way (a
    # scheduler stepped per batch where it expects epochs).
    3: [("healthy", 40), ("loss_sum", 20), ("smooth_huge", 20), ("lr_to_zero", 20)],
    # Resume bugs: a run restarted from a checkpoint part-way whose weights come back freshly
    # initialised, whose optimizer state is not restored, or whose LR schedule starts over.
    4: [("healthy", 40), ("reinit", 20), ("optim_reset", 20), ("sched_restart", 20)],
}


def make_plan(count, seed, shares=FAULT_SHARES, salt=11):
    """Which fault each of `count` runs gets: the shares rounded, topped up at random, shuffled
    (a generator of its own passes its own `salt`)."""
    total = sum(w for _, w in shares)
    plan = []
    for k, w in shares:
        plan += [k] * int(round(count * w / total))
    rng = random.Random(seed * 7919 + salt)
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
        if fault in ("reinit", "optim_reset") and k == c["fault_steps"][0]:
            if fault == "reinit":
                fresh = LM(c["cell"], V, c["embed"], c["hidden"], c["layers"], c["dropout"])
                model.load_state_dict(fresh.state_dict())
            opt = make_optimizer(c, params)
        restarted = fault == "sched_restart" and k >= c["fault_steps"][0]
        lr = lr_at(c, k - c["fault_steps"][0] + 1 if restarted else k, plateau_factor)
        if exc and exc[0] <= k < exc[0] + exc[1]:
            lr = lr * exc[2]
        if fault == "lr_grow" and k > c["fault_steps"][0]:
            lr = lr * c["grow"] ** (k - c["fault_steps"][0])
        if fault == "lr_to_zero" and k > c["fault_steps"][0]:
            lr = 0.0
        for pg in opt.param_groups:
            pg["lr"] = lr
        logits, h = model(x, h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1),
                                           reduction=c.get("reduction", "mean"),
                                           label_smoothing=c.get("label_smoothing", 0.0))
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
         "scrambled_targets": "scrambled", "tiny_clip": "tinyclip", "dropout_huge": "dropout",
         "loss_sum": "losssum", "smooth_huge": "smooth", "lr_to_zero": "lrzero",
         "reinit": "reinit", "optim_reset": "optreset", "sched_restart": "schedrestart"}


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
