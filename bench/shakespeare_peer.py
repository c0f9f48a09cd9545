#!/usr/bin/env python3
"""PyTorch peer of `rnnlab train --config configs/shakespeare-2x512.toml`: the train issue's
reference run, timed on this machine so rnnlab's time to a validation loss can be compared
with PyTorch's in the same session.

Tiny Shakespeare, char level, 90/10 contiguous split, vocabulary from the training part;
nn.Embedding(65, 64) + 2x512 nn.LSTM + nn.Linear, PyTorch's default init; B=32 contiguous
streams with the hidden state carried (detached) across T=64 windows; Adam 2e-3, clip 1;
a stateful, token-weighted evaluation of the whole validation part every --eval-every steps.
Prints one JSON line per evaluation: step, tokens, training seconds (evaluation excluded),
val_loss. Stops at --target or after --minutes of training.

    python3 bench/shakespeare_peer.py [--threads 2] [--target 1.487] [--minutes 16]

Runs inside bench/.venv like bench/pytorch_peer.py.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_peer  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def ensure_venv():
    """Re-exec inside bench/.venv, letting pytorch_peer.py create it (with torch) if needed."""
    if os.path.realpath(sys.prefix) == os.path.realpath(pytorch_peer.VENV):
        return
    subprocess.check_call(
        [sys.executable, pytorch_peer.__file__, "--config", "a", "--seconds", "0", "--json"],
        stdout=subprocess.DEVNULL,
    )
    me = os.path.abspath(__file__)
    os.execv(pytorch_peer.VENV_PYTHON, [pytorch_peer.VENV_PYTHON, me] + sys.argv[1:])


def streams(ids, batch):
    """[batch, n] contiguous streams, the remainder dropped (as rnnlab's batcher)."""
    n = (len(ids) - 1) // batch
    x = ids[: n * batch].view(batch, n)
    y = ids[1 : n * batch + 1].view(batch, n)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--target", type=float, default=1.487)
    ap.add_argument("--minutes", type=float, default=16.0)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--data", default=os.path.join(DATA, "tinyshakespeare", "input.txt"))
    args = ap.parse_args()
    ensure_venv()
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    text = open(args.data, encoding="utf-8").read()
    cut = int(len(text) * 0.9)
    train_text, val_text = text[:cut], text[cut:]
    vocab = sorted(set(train_text))
    index = {c: i for i, c in enumerate(vocab)}
    encode = lambda s: torch.tensor([index[c] for c in s if c in index], dtype=torch.long)
    B, T, H, E, V = 32, 64, 512, 64, len(vocab)
    tx, ty = streams(encode(train_text), B)
    vx, vy = streams(encode(val_text), B)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(V, E)
            self.rnn = nn.LSTM(E, H, 2)
            self.decoder = nn.Linear(H, V)

        def forward(self, x, state):
            out, state = self.rnn(self.encoder(x), state)
            return self.decoder(out), state

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for i in range(0, vx.shape[1], T):
                x, y = vx[:, i : i + T].t(), vy[:, i : i + T].t()
                logits, state = model(x, state)
                total += loss_fn(logits.reshape(-1, V), y.reshape(-1)).item() * y.numel()
                count += y.numel()
        model.train()
        return total / count

    step, trained, state = 0, 0.0, None
    print(json.dumps({"step": 0, "tokens": 0, "time_s": 0.0, "val_loss": evaluate()}), flush=True)
    while True:
        for i in range(0, tx.shape[1] - T + 1, T):
            if i == 0:
                state = None  # reset at each epoch start, as rnnlab does
            start = time.perf_counter()
            x, y = tx[:, i : i + T].t(), ty[:, i : i + T].t()
            if state is not None:
                state = tuple(s.detach() for s in state)
            logits, state = model(x, state)
            loss = loss_fn(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            trained += time.perf_counter() - start
            step += 1
            if step % args.eval_every == 0:
                val = evaluate()
                row = {"step": step, "tokens": step * B * T, "time_s": round(trained, 1)}
                print(json.dumps(dict(row, val_loss=round(val, 4))), flush=True)
                if val <= args.target or trained >= args.minutes * 60 or math.isnan(val):
                    return


if __name__ == "__main__":
    main()
