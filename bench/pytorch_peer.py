#!/usr/bin/env python3
"""PyTorch peer of `cargo run --release -p rnnlab-engine --example train_bench`.

Trains the same char-level models (nn.Embedding + nn.LSTM/GRU/RNN + nn.Linear, Adam,
clip_grad_norm_) on random tokens with the same shapes, and measures the same things: the
median training-step time after a warm-up as tokens/s, GFLOP/s with rnnlab's FLOP count, and
the peak resident memory of a fresh subprocess per config (resource.getrusage).

    python3 bench/pytorch_peer.py [--threads N] [--config a,b,...] [--seconds S] [--json]

Run it with any Python: one that has torch runs it as it is (a machine without network, such
as the GPU machine's host); any other re-executes it inside bench/.venv, creating that venv and
installing torch (`pip install torch`) when missing.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")

VOCAB, EMBED, SEQ = 65, 64, 64
# name: (cell, layers, hidden, batch) — the configs.
CONFIGS = {
    "a": ("LSTM", 1, 256, 32),
    "b": ("LSTM", 2, 512, 32),
    "c": ("LSTM", 1, 1024, 64),
    "d": ("GRU", 2, 512, 32),
    "e": ("RNN-tanh", 2, 512, 32),
}
GATES = {"LSTM": 4, "GRU": 3, "RNN-tanh": 1}


def ensure_venv():
    """Re-exec inside bench/.venv (created, with torch, if missing) unless this Python has torch."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return
    if not os.path.exists(VENV_PYTHON):
        print("pytorch_peer: creating bench/.venv", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    probe = subprocess.run([VENV_PYTHON, "-c", "import torch"], capture_output=True)
    if probe.returncode != 0:
        print("pytorch_peer: installing torch into bench/.venv", file=sys.stderr)
        subprocess.check_call([VENV_PYTHON, "-m", "pip", "install", "torch"])
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])


def forward_flops_per_token(cell, layers, hidden):
    """The same count as rnnlab's `LanguageModel::forward_flops_per_token`."""
    g = GATES[cell]
    first = g * hidden * (EMBED + hidden)
    rest = (layers - 1) * g * hidden * 2 * hidden
    return 2.0 * (first + rest + hidden * VOCAB)


def run_child(name, threads, seconds):
    import resource

    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    cell, layers, hidden, batch = CONFIGS[name]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(VOCAB, EMBED)
            rnn = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(cell)
            if rnn is None:
                self.rnn = nn.RNN(EMBED, hidden, layers, nonlinearity="tanh")
            else:
                self.rnn = rnn(EMBED, hidden, layers)
            self.decoder = nn.Linear(hidden, VOCAB)

        def forward(self, x, state):
            out, state = self.rnn(self.encoder(x), state)
            return self.decoder(out), state

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(7)
    batches = [
        (
            torch.randint(0, VOCAB, (SEQ, batch), generator=gen),
            torch.randint(0, VOCAB, (SEQ, batch), generator=gen),
        )
        for _ in range(4)
    ]

    def zero_state():
        h = torch.zeros(layers, batch, hidden)
        return (h, torch.zeros_like(h)) if cell == "LSTM" else h

    def detach(s):
        return tuple(x.detach() for x in s) if isinstance(s, tuple) else s.detach()

    state = zero_state()

    def step(i):
        nonlocal state
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=False)
        logits, state = model(x, detach(state))
        loss = loss_fn(logits.view(-1, VOCAB), y.view(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(2):
        step(i)
    times, start, loss = [], time.perf_counter(), 0.0
    cpu_start = time.process_time()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        s = time.perf_counter()
        loss = step(len(times))
        times.append(time.perf_counter() - s)
    cpu_per_step = (time.process_time() - cpu_start) / len(times)
    times.sort()
    median = times[len(times) // 2]
    tok_s = SEQ * batch / median
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    print(
        json.dumps(
            {
                "impl": "pytorch",
                "torch": torch.__version__,
                "config": name,
                "model": f"{cell} {layers}x{hidden} B={batch}",
                "threads": threads,
                "steps": len(times),
                "step_ms": median * 1e3,
                "tok_s": tok_s,
                "gflops": 3.0 * forward_flops_per_token(cell, layers, hidden) * tok_s / 1e9,
                "peak_mb": peak_mb,
                "cpu_ms_per_step": cpu_per_step * 1e3,
                "gflop_per_cpu_s": 3.0 * forward_flops_per_token(cell, layers, hidden)
                * SEQ * batch / cpu_per_step / 1e9,
                "loss": loss,
            }
        )
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--config", default="a,b,c,d,e")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    names = args.config.split(",")
    for n in names + ([args.child] if args.child else []):
        if n not in CONFIGS:
            p.error(f"unknown config `{n}` (a, b, c, d, e)")
    ensure_venv()
    if args.child:
        return run_child(args.child, args.threads, args.seconds)
    if not args.json:
        print(f"{'config':<6} {'model':<22} {'threads':>7} {'tok/s':>10} {'GFLOP/s':>9} "
              f"{'step ms':>8} {'peak MB':>9} {'GFLOP/cpu-s':>12}")
    for name in names:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", name,
             "--threads", str(args.threads), "--seconds", str(args.seconds)],
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            sys.exit(f"config {name} failed:\n{out.stderr}")
        line = out.stdout.strip().splitlines()[-1]
        if args.json:
            print(line, flush=True)
            continue
        r = json.loads(line)
        print(f"{name:<6} {r['model']:<22} {args.threads:>7} {r['tok_s']:>10.0f} "
              f"{r['gflops']:>9.1f} {r['step_ms']:>8.1f} {r['peak_mb']:>9.0f} "
              f"{r['gflop_per_cpu_s']:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
