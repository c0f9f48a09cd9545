#!/usr/bin/env python3
"""Random draws of rnnlab's own runs for the doctor's corpus: settings and faults picked by a
seeded generator, so a draw is a fresh sample to score before any change looks at it (the
fixed list in `rnnlab_runs.sh` is what the detectors were tuned beside).

    rnnlab_draws.py --seed N --count K [--out DIR] [--scratch DIR] [--rnnlab BIN]

Each run: a corpus and tokenizer, a cell, width and depth, an optimizer with a learning rate
around its usual value, a schedule, a batch and BPTT length, and (about half the time) one
fault: an `--inject` fault at a random step (mostly with the guard off, so it shows in the
curve), or a natural one from the settings (LR far too high or low, no clipping on a ReLU RNN,
a tiny file trained for many epochs). `rnnlab_convert.py` converts and labels each run by what
its curve shows. Runs are named `rl-dN-KKK-<cell>-<fault>`; single-threaded, one at a time.
"""

import argparse
import math
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# name, tokenizer choices
CORPORA = [
    ("builtin", ["char", "char", "bpe"]),
    ("tiny-shakespeare", ["char", "char", "byte"]),
    ("alice", ["char"]),
    ("sherlock", ["char", "word"]),
    ("war-and-peace", ["char", "byte"]),
    ("ptb", ["word", "char"]),
]
# usual learning rate per optimizer (a draw scatters ×/÷ 3 around it)
OPTIMIZERS = {"adam": 3e-3, "adamw": 3e-3, "rmsprop": 2e-3, "sgd": 1.0}
SCHEDULES = ["cosine", "cosine", "constant", "step", "exponential", "cosine_restarts", "plateau"]
FAULTS = [
    ("healthy", 10),
    ("bad-batch", 3),
    ("corrupt-text", 2),
    ("nan", 2),
    ("lr-spike", 3),
    ("lr-high", 2),
    ("lr-low", 2),
    ("noclip", 1),
    ("overfit", 1),
]


def log_uniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def draw(rng, k, seed, small):
    data, toks = rng.choice(CORPORA)
    tok = rng.choice(toks)
    cell = rng.choice(["lstm", "lstm", "gru", "gru", "rnn_tanh", "rnn_relu"])
    hidden = rng.choice([32, 48, 64, 96, 128, 192])
    layers = rng.choice([1, 1, 1, 2])
    opt = rng.choice(list(OPTIMIZERS))
    lr = OPTIMIZERS[opt] * log_uniform(rng, 1 / 3, 3)
    if cell == "rnn_relu":
        lr *= 0.3
    steps = rng.choice([300, 400, 500, 600, 800])
    sched = rng.choice(SCHEDULES)
    batch = rng.choice([8, 16, 32])
    bptt = rng.choice([16, 32, 64])
    fault = rng.choices([f for f, _ in FAULTS], weights=[w for _, w in FAULTS])[0]
    guard = "off"
    args = ["--data", data, "--tokenizer", tok, "--steps", str(steps),
            "--set", f"model.cell={cell}", "--set", f"model.hidden={hidden}",
            "--set", f"model.layers={layers}", "--set", f"train.optimizer={opt}",
            "--set", f"train.batch={batch}", "--set", f"train.bptt={bptt}",
            "--set", f"train.schedule={sched}", "--set", f"train.step_size={steps // 3}",
            # gamma is per step: the step schedule halves the LR every third of the run, the
            # exponential one decays it to 1/20 over the run (0.5 per step would reach 0 by
            # step 80: no update after that).
            "--set", f"train.gamma={0.5 if sched != 'exponential' else 0.05 ** (1 / steps):.6g}",
            "--set", f"train.warmup_steps={rng.choice([0, 20, 50])}",
            "--set", f"train.seed={seed * 1000 + k}",
            "--set", f"train.eval_every={rng.choice([50, 100, 100, 200])}"]
    if layers > 1 or rng.random() < 0.3:
        args += ["--set", f"model.dropout={rng.choice([0.1, 0.2, 0.3])}"]
    if tok in ("word", "bpe"):
        args += ["--set", f"data.vocab_size={rng.choice([500, 1000, 2000]) if tok == 'word' else 320}"]
    if opt == "sgd":
        args += ["--set", f"train.momentum={rng.choice([0.0, 0.9])}"]
    label_fault = fault
    at = rng.randint(steps // 4, steps * 3 // 4)
    if fault in ("bad-batch", "corrupt-text", "nan"):
        label_fault = f"{fault}@{at}"
        args += ["--inject", label_fault]
        if rng.random() < 0.25:
            guard = rng.choice(["full", "skip"])
    elif fault == "lr-spike":
        spike_lr = lr * rng.choice([10, 30, 100])
        n = rng.choice([1, 1, 3, 5])
        label_fault = f"lr-spike@{at}:{spike_lr:.3g}" + (f":{n}" if n > 1 else "")
        args += ["--inject", label_fault]
    elif fault == "lr-high":
        lr *= rng.choice([20, 50, 100])
        args += ["--set", "train.schedule=constant"]
    elif fault == "lr-low":
        lr /= rng.choice([300, 1000, 3000])
    elif fault == "noclip":
        cell = "rnn_relu"
        args += ["--set", "model.cell=rnn_relu", "--set", "train.clip=0"]
        lr *= 3
    elif fault == "overfit":
        args = ["--data", os.path.join(small, "alice-12k.txt"), "--tokenizer", "char",
                "--steps", "1500", "--set", f"model.cell={cell}", "--set", "model.hidden=256",
                "--set", "train.schedule=constant", "--set", "train.batch=8",
                "--set", "train.bptt=32", "--set", "train.carry_state=false",
                "--set", "train.eval_every=20", "--set", "data.split=[0.8,0.1,0.1]",
                "--set", f"train.optimizer={opt}", "--set", f"train.seed={seed * 1000 + k}"]
    args += ["--set", f"train.lr={lr:.4g}"]
    short = {"healthy": "ok", "bad-batch": "badbatch", "corrupt-text": "corrupt", "nan": "nan",
             "lr-spike": "lrspike", "lr-high": "lrhigh", "lr-low": "lrlow", "noclip": "noclip",
             "overfit": "overfit"}[fault]
    name = f"rl-d{seed}-{k:03d}-{cell.replace('_', '')}-{short}"
    return name, label_fault, guard, args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(REPO, "crates/doctor/corpus/rnnlab"))
    ap.add_argument("--scratch", default="/tmp/rnnlab-corpus-draws")
    ap.add_argument("--rnnlab", default=os.path.join(REPO, "target/release/rnnlab"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    data_dir = os.environ.get("RNNLAB_DATA", os.path.join(os.path.dirname(REPO), "shared/data"))
    small = os.path.join(a.scratch, "data")
    os.makedirs(small, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(data_dir, "alice/alice29.txt"), "rb") as f:
        open(os.path.join(small, "alice-12k.txt"), "wb").write(f.read(12000))
    env = dict(os.environ, RNNLAB_DATA=data_dir)
    t_all = time.time()
    for k in range(a.count):
        name, fault, guard, args = draw(rng, k, a.seed, small)
        run_dir = os.path.join(a.scratch, name)
        subprocess.run(["rm", "-rf", run_dir], check=True)
        t0 = time.time()
        cmd = ["nice", "-n", "15", a.rnnlab, "train", "-q", "--runs", a.scratch, "--name", name,
               "--guard", guard, "--set", "train.threads=1", "--set", "train.sample_every=0",
               "--set", "model.embed=32"] + args
        with open(run_dir + ".log", "w") as log:
            if subprocess.run(cmd, stdout=log, stderr=log, env=env).returncode != 0:
                print(f"run {name} failed (see {run_dir}.log)")
                continue
        print(f"{time.time() - t0:5.0f}s  ", end="", flush=True)
        source = f"scripts/curve_corpus/rnnlab_draws.py --seed {a.seed} --count {a.count} (run {k}: --guard {guard} {' '.join(args).replace(small, 'SCRATCH/data')})"
        subprocess.run([sys.executable, os.path.join(HERE, "rnnlab_convert.py"), run_dir, a.out,
                        name, fault, guard, source], check=True)
    print(f"done in {time.time() - t_all:.0f}s")


if __name__ == "__main__":
    main()
