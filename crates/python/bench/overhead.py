"""What rnnlab costs inside a training loop, measured.

    python crates/python/bench/overhead.py            # after installing the wheel

1. ``Guard.observe`` per call (target: under 5 µs), on a noisy falling loss with a spike now and
   then, so that the window statistics, not only the fast path, are measured.
2. The Hugging Face ``DoctorCallback`` against a 50-step run of a tiny GPT-2 on the CPU, logging
   (and so diagnosing) at every step (target: under 1 % of the run): the time spent inside
   the callback, and the run's time with and without it.
3. The same for the Lightning ``DoctorCallback`` (diagnosing every step).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import rnnlab  # noqa: E402


def bench_guard(calls: int) -> float:
    rng = random.Random(0)
    losses = []
    for i in range(calls):
        x = 3.0 * math.exp(-i / 20000) + 1.0 + 0.05 * rng.random()
        if i % 997 == 500:
            x *= 4.0
        losses.append(x)
    grads = [1.0 + 0.1 * rng.random() for _ in range(calls)]
    best = math.inf
    for _ in range(3):
        g = rnnlab.Guard(mode="skip")
        observe = g.observe
        t0 = time.perf_counter()
        for i in range(calls):
            observe(i, losses[i], grads[i])
        best = min(best, (time.perf_counter() - t0) / calls)
    print(f"Guard.observe: {best * 1e6:.2f} µs per call (best of 3 x {calls} calls; "
          f"skipped {g.skips}) — target < 5 µs")
    return best


def bench_hf(repeats: int) -> float:
    from frameworks import hf_trainer
    from rnnlab.integrations.transformers import DoctorCallback
    import transformers

    transformers.logging.set_verbosity_error()
    with_cb, without, inside = [], [], []
    for r in range(repeats):
        for use in (True, False) if r % 2 == 0 else (False, True):
            with tempfile.TemporaryDirectory() as d:
                cbs = [DoctorCallback(verbose=False)] if use else []
                trainer = hf_trainer(d, cbs)
                t0 = time.perf_counter()
                trainer.train()
                took = time.perf_counter() - t0
            if use:
                with_cb.append(took)
                inside.append(cbs[0].seconds)
            else:
                without.append(took)
    run = statistics.median(with_cb)
    cb = statistics.median(inside)
    print(f"HF DoctorCallback: {cb * 1e3:.1f} ms inside the callback over a 50-step run of "
          f"{run * 1e3:.0f} ms = {100 * cb / run:.2f} % (target < 1 %); run without it "
          f"{statistics.median(without) * 1e3:.0f} ms (median of {repeats})")
    return cb / run


def bench_lightning(repeats: int) -> float:
    from frameworks import lightning_module, lightning_trainer
    from rnnlab.integrations.lightning import DoctorCallback
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    runs, inside = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            cb = DoctorCallback(verbose=False, every=1)
            trainer = lightning_trainer(d, [cb], logger=False)
            t0 = time.perf_counter()
            trainer.fit(lightning_module())
            runs.append(time.perf_counter() - t0)
            inside.append(cb.seconds)
    run, cb = statistics.median(runs), statistics.median(inside)
    print(f"Lightning DoctorCallback: {cb * 1e3:.1f} ms inside the callback over a 50-step run "
          f"of {run * 1e3:.0f} ms = {100 * cb / run:.2f} % (diagnosing every step)")
    return cb / run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-frameworks", action="store_true")
    a = ap.parse_args()
    print(f"rnnlab {rnnlab.__version__}, Python {sys.version.split()[0]}")
    bench_guard(a.calls)
    if not a.skip_frameworks:
        bench_hf(a.repeats)
        bench_lightning(a.repeats)


if __name__ == "__main__":
    main()
