#!/usr/bin/env python3
"""Summarises the JSON lines of `train_bench --json` and `bench/pytorch_peer.py --json` runs.

    python3 bench/summarize.py RESULTS.jsonl [--peak-per-core GFLOPS | --peak-json FMA.jsonl]

Rows are grouped by (implementation and kernels, config, threads). rnnlab run k of a group is
paired with PyTorch run k of the same config and threads (the scripts run them back to back),
the ratio of each pair taken first: the table gives medians with [min-max] ranges over the
repeats, the ratio's median and range, and rnnlab's executed GFLOP/s as a share of the FMA peak
(a fixed per-core figure, or the `fma_peak --json` measurement at that thread count).
"""

import argparse
import json
import statistics


def load_peaks(path):
    """{threads: GFLOP/s} of the widest vectors measured by `fma_peak --json`."""
    peaks, width = {}, {}
    rank = {"avx2": 1, "avx512": 2}
    for line in open(path):
        if not line.strip().startswith("{"):
            continue
        r = json.loads(line)
        t, w = r["threads"], rank.get(r["isa"], 0)
        if w >= width.get(t, -1):
            peaks[t], width[t] = r["gflops"], w
    return peaks


def print_scaling(by, med):
    """Median tok/s of each implementation and config by thread count, with the speed-up over
    the fewest threads measured and the parallel efficiency (speed-up / thread ratio)."""
    print(f"\n{'impl':<18}{'cfg':<4}{'thr':>4}{'tok/s':>10}{'speed-up':>10}{'efficiency':>11}")
    series = {}
    for (name, cfg, thr), rs in by.items():
        series.setdefault((name, cfg), {})[thr] = med([r["tok_s"] for r in rs])
    for (name, cfg), points in sorted(series.items()):
        base_t = min(points)
        for thr in sorted(points):
            up = points[thr] / points[base_t]
            print(f"{name:<18}{cfg:<4}{thr:>4}{points[thr]:>10.0f}{up:>9.2f}x"
                  f"{100 * up * base_t / thr:>10.0f}%")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--peak-per-core", type=float)
    p.add_argument("--peak-json")
    p.add_argument("--scaling", action="store_true", help="also tok/s by threads per config")
    args = p.parse_args()
    peaks = load_peaks(args.peak_json) if args.peak_json else {}

    def peak(threads):
        if threads in peaks:
            return peaks[threads]
        if peaks:  # scale the nearest measured count
            t = min(peaks, key=lambda n: abs(n - threads))
            return peaks[t] / t * threads
        return (args.peak_per_core or float("nan")) * threads

    rows = [json.loads(l) for l in open(args.results) if l.strip().startswith("{")]
    by = {}
    for r in rows:
        name = r["impl"] + (f"[{r['kernels']}]" if r.get("kernels") else "")
        by.setdefault((name, r["config"], r["threads"]), []).append(r)
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    rng = lambda xs: f"[{min(xs):.0f}-{max(xs):.0f}]" if len(xs) > 1 else ""
    repeats = max((len(v) for v in by.values()), default=0)
    print(f"{'cfg':<4}{'model':<19}{'thr':>4} {'rnnlab':<16}{'rnnlab tok/s':>22}"
          f"{'torch tok/s':>22}{'ratio':>7}{'ratio range':>14}{'exec GF/s':>10}"
          f"{'% peak':>7}{'torch GF/s':>11}{'MB rnnlab':>10}{'torch':>7}"
          f"{'GF/cpu-s rnnlab':>16}{'torch':>7}")
    for (name, cfg, thr), rs in sorted(by.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        if not name.startswith("rnnlab"):
            continue
        ts = by.get(("pytorch", cfg, thr), [])
        ratios = [r["tok_s"] / t["tok_s"] for r, t in zip(rs, ts)]
        tok = [r["tok_s"] for r in rs]
        ttok = [t["tok_s"] for t in ts]
        executed = med([r["gflops_executed"] for r in rs])
        line = (
            f"{cfg:<4}{rs[0]['model']:<19}{thr:>4} {name[6:].strip('[]') or '-':<16}"
            f"{med(tok):>9.0f} {rng(tok):>12}"
            f"{med(ttok):>9.0f} {rng(ttok):>12}"
            f"{med(ratios):>6.2f}x"
            f"{(f'{min(ratios):.2f}-{max(ratios):.2f}x' if len(ratios) > 1 else ''):>14}"
            f"{executed:>10.1f}{100 * executed / peak(thr):>6.0f}%"
            f"{med([t['gflops'] for t in ts]):>11.1f}"
            f"{med([r['peak_mb'] for r in rs]):>10.0f}{med([t['peak_mb'] for t in ts]):>7.0f}"
            f"{med([r['gflop_per_cpu_s'] for r in rs]):>16.1f}"
            f"{med([t['gflop_per_cpu_s'] for t in ts]):>7.1f}"
        )
        print(line)
    if repeats > 1:
        print(f"medians and [min-max] of up to {repeats} back-to-back pairs per row")
    if args.scaling:
        print_scaling(by, med)
    if peaks:
        shown = ", ".join(f"{t}: {g:.0f}" for t, g in sorted(peaks.items()))
        print(f"FMA peak, GFLOP/s by threads (widest vectors): {shown}")


if __name__ == "__main__":
    main()
