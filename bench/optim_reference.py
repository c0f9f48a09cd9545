"""Reference numbers for the engine's optimizer and plateau tests, from torch.optim.

Run by hand (needs torch):  bench/.venv/bin/python bench/optim_reference.py
The printed arrays are pasted into crates/engine/src/optim/reference_tests.rs.
Gradients are small exact binary fractions so Rust builds the very same f32 inputs.
"""

import torch

P0 = [0.5, -1.25, 2.0, 0.0, -0.3]
LR_FACTORS = [1.0, 0.5, 1.0, 2.0]  # the lr changes between steps to exercise lr-dependent terms


def grad(step, i):
    return ((i * 3 + step * 5) % 7 - 3) / 4.0


CASES = [
    ("sgd_plain", torch.optim.SGD, 0.1, {}),
    ("sgd_momentum_wd", torch.optim.SGD, 0.1, dict(momentum=0.9, weight_decay=0.01)),
    ("sgd_nesterov", torch.optim.SGD, 0.1, dict(momentum=0.9, nesterov=True)),
    ("sgd_dampening", torch.optim.SGD, 0.1, dict(momentum=0.9, dampening=0.5)),
    ("adam_default", torch.optim.Adam, 0.01, {}),
    ("adam_l2", torch.optim.Adam, 0.01, dict(weight_decay=0.1)),
    ("adamw", torch.optim.AdamW, 0.01, dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("rmsprop_default", torch.optim.RMSprop, 0.01, {}),
    ("rmsprop_centered_momentum", torch.optim.RMSprop, 0.01,
     dict(centered=True, momentum=0.5, weight_decay=0.01)),
]


def fmt(values):
    return "[" + ", ".join(repr(v) for v in values) + "]"


def main():
    torch.set_default_dtype(torch.float32)
    for name, cls, lr, kwargs in CASES:
        p = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float32))
        opt = cls([p], lr=lr, foreach=False, **kwargs)
        print(f"// {name}: {cls.__name__}(lr={lr}, {kwargs})")
        for step, factor in enumerate(LR_FACTORS):
            for group in opt.param_groups:
                group["lr"] = lr * factor
            p.grad = torch.tensor([grad(step, i) for i in range(len(P0))], dtype=torch.float32)
            opt.step()
            print(f"const {name.upper()}_{step}: [f32; 5] = {fmt(p.detach().tolist())};")
    # ReduceLROnPlateau as in the word-LM example: factor 0.25, patience 0, threshold 0.
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=20.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.25, patience=0, threshold=0.0)
    losses = [5.0, 4.0, 4.0, 3.5, 3.6, 3.4, 3.4, 3.4]
    lrs = []
    for loss in losses:
        sched.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    print(f"// ReduceLROnPlateau(factor=0.25, patience=0, threshold=0) on {losses}")
    print(f"const PLATEAU_LRS: [f64; {len(lrs)}] = {fmt(lrs)};")
    # Same with patience 1, cooldown 1, threshold 0.1 rel, min_lr 1.0.
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=20.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=1, threshold=0.1, cooldown=1, min_lr=1.0)
    losses = [10.0, 9.5, 9.2, 8.0, 7.9, 7.8, 7.7, 7.6, 7.5, 7.4, 7.3, 7.2]
    lrs = []
    for loss in losses:
        sched.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    print(f"// ReduceLROnPlateau(factor=0.5, patience=1, threshold=0.1, cooldown=1, min_lr=1) on {losses}")
    print(f"const PLATEAU_PATIENT_LRS: [f64; {len(lrs)}] = {fmt(lrs)};")


if __name__ == "__main__":
    main()
