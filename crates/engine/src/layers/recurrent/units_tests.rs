//! The unit split (`team.rs`, `units.rs`) against the batch split: the same bits as one thread
//! for this crate's own kernels at 2, 3, 4 and 8 threads (the last two oversubscribe a small
//! machine), gradient checks through it, and the rule that picks it.

use super::team::{self, forced, Split};
use super::tests::{gradient_check_with, one_step, problem_sized, KINDS};
use super::*;
use crate::backend::{CpuBackend, Kernels};

/// One training step on a stack of `hidden` units (dropout, d_final, every gradient),
/// forcing `split` where the backend allows it; also returns the split that ran.
fn step(kind: CellKind, hidden: usize, be: &CpuBackend, split: Split) -> (Vec<f32>, Split) {
    let mut p = problem_sized(kind, (24, hidden), 2, 5, 7, 21);
    let mut cache = StackCache::default();
    let out = forced(split, || one_step(&mut p, be, &mut cache, 8));
    (out, cache.split)
}

fn bits(a: &[f32]) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn unit_split_gives_the_bits_of_one_thread_for_every_step_kernel() {
    // 40 units: panels of 16, 16 and a ragged 8; 64: four whole panels (8 threads → 4 workers).
    for kernels in [Kernels::Avx2, Kernels::Avx512, Kernels::Mixed] {
        if !kernels.available() {
            println!("SKIP: this CPU cannot run the {} kernels", kernels.name());
            continue;
        }
        for kind in KINDS {
            for hidden in [40, 64] {
                let one = CpuBackend::with_kernels(1, kernels);
                let (want, ran) = step(kind, hidden, &one, Split::Units);
                assert_eq!(ran, Split::Batch, "one thread takes the batch split");
                for threads in [2, 3, 4, 8] {
                    let be = CpuBackend::with_kernels(threads, kernels);
                    let (got, ran) = step(kind, hidden, &be, Split::Units);
                    assert_eq!(ran, Split::Units);
                    let what = format!("{kernels:?} {kind:?} H={hidden} threads={threads}");
                    if kernels == Kernels::Mixed {
                        // The gemm crate's large products may add in another order per split.
                        assert_close(&want, &got, 1e-5, &what);
                    } else {
                        assert_eq!(bits(&want), bits(&got), "{what}");
                    }
                    let (batch, ran) = step(kind, hidden, &be, Split::Batch);
                    assert_eq!(ran, Split::Batch);
                    // The batch split itself is 1e-4 from one thread here (`kernel_tests.rs`): a
                    // ReLU RNN with these weights grows, and its weight gradients add the
                    // partitions in another order.
                    assert_close(&batch, &got, 1e-4, &format!("{what} vs batch split"));
                }
            }
        }
    }
}

fn assert_close(want: &[f32], got: &[f32], tol: f32, what: &str) {
    assert_eq!(want.len(), got.len(), "{what}: length");
    for (i, (a, b)) in want.iter().zip(got).enumerate() {
        assert!(
            (a - b).abs() <= tol * a.abs().max(1.0),
            "{what} [{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn gradients_match_central_differences_through_the_unit_split() {
    // gradient_check's stacks have 4 units: one panel, one worker, so the rule keeps the batch
    // split; 20 units (a whole panel and a ragged one) give two workers.
    // (The bit test above carries the other kernel sets and thread counts over from here.)
    // Not RnnRelu: at 17 units its f32 central differences miss by more than the tolerance
    // under the batch split too (it grows with these weights); the bit test covers it.
    let kernels = Kernels::best();
    let cases = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru].map(|k| (k, 2));
    for (kind, threads) in cases.into_iter().chain([(CellKind::Lstm, 4)]) {
        let be = CpuBackend::with_kernels(threads, kernels);
        if be.step_kernel().is_none() {
            println!(
                "SKIP: the {} kernels have no per-step kernel to split",
                kernels.name()
            );
            return;
        }
        let (worst, skipped) = forced(Split::Units, || gradient_check_with(kind, &be, None, 17));
        println!("{kind:?} threads={threads} unit split: worst relative error {worst:.2e}");
        assert!(skipped <= 3, "too many values at ReLU kinks: {skipped}");
    }
}

#[test]
fn the_rule_takes_the_unit_split_for_large_weights_at_four_threads_or_more() {
    let be = |threads| CpuBackend::with_kernels(threads, Kernels::best());
    let dims = |kind, hidden| Dims {
        kind,
        input: 64,
        hidden,
        layers: 1,
    };
    let has_kernel = be(1).step_kernel().is_some();
    for (kind, hidden, threads, want) in [
        (CellKind::Lstm, 512, 4, Split::Units),
        (CellKind::Lstm, 1024, 16, Split::Units),
        (CellKind::Gru, 512, 8, Split::Units),
        (CellKind::Lstm, 512, 2, Split::Batch), // measured: no faster at 2 threads
        (CellKind::Lstm, 512, 1, Split::Batch),
        (CellKind::Lstm, 64, 8, Split::Batch), // 64 KiB of W_hh: fits any core's cache
        (CellKind::RnnTanh, 256, 4, Split::Units),
        (CellKind::Lstm, 16, 8, Split::Batch), // one panel of units: no team
    ] {
        let want = if has_kernel { want } else { Split::Batch };
        let got = team::rule(&be(threads), &dims(kind, hidden));
        assert_eq!(got, want, "{kind:?} H={hidden} threads={threads}");
    }
    // The portable kernels have no per-step kernel to split.
    let portable = CpuBackend::with_kernels(4, Kernels::Portable);
    assert_eq!(
        team::rule(&portable, &dims(CellKind::Lstm, 512)),
        Split::Batch
    );
    // Without RNNLAB_SPLIT the batch split is taken until the rule is measured.
    if std::env::var_os("RNNLAB_SPLIT").is_none() {
        assert_eq!(
            team::choose(&be(8), &dims(CellKind::Lstm, 512)),
            Split::Batch
        );
    }
}

#[test]
fn unit_ranges_are_whole_panels_covering_every_unit() {
    for hidden in [1usize, 16, 20, 40, 512, 1000] {
        for workers in 1..=hidden.div_ceil(16).min(16) {
            let r: Vec<_> = (0..workers)
                .map(|w| team::units(hidden, workers, w))
                .collect();
            assert_eq!(r[0].start, 0);
            assert_eq!(r[workers - 1].end, hidden);
            assert!(r.windows(2).all(|p| p[0].end == p[1].start));
            assert!(r.iter().all(|u| u.start % 16 == 0 && !u.is_empty()));
        }
    }
}
