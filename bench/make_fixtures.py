#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures for the engine's recurrent layers.

For torch.nn.RNN (tanh, relu), LSTM and GRU with 2 layers it draws random float32 weights,
input and initial state with a fixed seed, runs forward and backward in float64 (so that the
reference itself carries no float32 rounding), and stores everything in
crates/engine/tests/fixtures/<kind>.json:

    loss = sum(output * r) + sum(h_n * s_h) [+ sum(c_n * s_c) for LSTM]

Run by hand (needs torch):
    python3 -m venv bench/.venv && bench/.venv/bin/pip install torch
    bench/.venv/bin/python bench/make_fixtures.py
"""

import json
import pathlib

import torch

INPUT, HIDDEN, LAYERS, T, B = 5, 7, 2, 4, 3
OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "crates/engine/tests/fixtures"


def f32_uniform(gen, shape, bound):
    """Uniform float32 values, returned as float64 holding exactly those values."""
    x = (torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1) * bound
    return x.to(torch.float64)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def per_layer(t):
    """[layers, B, H] -> list of flat [B*H] lists."""
    return [flat(t[k]) for k in range(t.shape[0])]


def make(kind, seed):
    gen = torch.Generator().manual_seed(seed)
    if kind in ("rnn_tanh", "rnn_relu"):
        net = torch.nn.RNN(INPUT, HIDDEN, LAYERS, nonlinearity=kind[4:])
    elif kind == "lstm":
        net = torch.nn.LSTM(INPUT, HIDDEN, LAYERS)
    else:
        net = torch.nn.GRU(INPUT, HIDDEN, LAYERS)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(f32_uniform(gen, p.shape, 0.6))
    lstm = kind == "lstm"
    x = f32_uniform(gen, (T, B, INPUT), 1.0).requires_grad_()
    h0 = f32_uniform(gen, (LAYERS, B, HIDDEN), 0.5).requires_grad_()
    c0 = f32_uniform(gen, (LAYERS, B, HIDDEN), 0.5).requires_grad_() if lstm else None
    r = f32_uniform(gen, (T, B, HIDDEN), 1.0)
    s_h = f32_uniform(gen, (LAYERS, B, HIDDEN), 1.0)
    s_c = f32_uniform(gen, (LAYERS, B, HIDDEN), 1.0) if lstm else None

    if lstm:
        out, (h_n, c_n) = net(x, (h0, c0))
        loss = (out * r).sum() + (h_n * s_h).sum() + (c_n * s_c).sum()
    else:
        out, h_n = net(x, h0)
        c_n = None
        loss = (out * r).sum() + (h_n * s_h).sum()
    loss.backward()

    fixture = {
        "kind": kind,
        "input_size": INPUT,
        "hidden": HIDDEN,
        "layers": LAYERS,
        "t": T,
        "b": B,
        "torch_version": torch.__version__,
        "params": {name: flat(p) for name, p in net.named_parameters()},
        "x": flat(x),
        "h0": per_layer(h0),
        "c0": per_layer(c0) if lstm else [],
        "r": flat(r),
        "s_h": per_layer(s_h),
        "s_c": per_layer(s_c) if lstm else [],
        "output": flat(out),
        "h_n": per_layer(h_n),
        "c_n": per_layer(c_n) if lstm else [],
        "grads": {name: flat(p.grad) for name, p in net.named_parameters()},
        "dx": flat(x.grad),
        "dh0": per_layer(h0.grad),
        "dc0": per_layer(c0.grad) if lstm else [],
    }
    path = OUT_DIR / f"{kind}.json"
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for seed, kind in enumerate(["rnn_tanh", "rnn_relu", "lstm", "gru"]):
        make(kind, 1234 + seed)


if __name__ == "__main__":
    main()
