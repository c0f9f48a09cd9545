//! The layer checks through every set of matrix-product kernels this CPU runs ([`Kernels`]):
//! the `gemm` crate (the path ARM64 takes by default, tested here on x86-64), this crate's
//! AVX-512 and AVX2 kernels, and `matrixmultiply`. Each backend is built with its kernels
//! ([`CpuBackend::with_kernels`]), so the tests run in parallel without an environment switch.

use super::tests::{gradient_check, one_step, problem_sized, KINDS};
use super::*;
use crate::backend::{CpuBackend, Kernels};

/// The kernel sets this CPU runs, with a visible note for each one it cannot.
fn kernels_here() -> Vec<Kernels> {
    Kernels::ALL
        .into_iter()
        .filter(|k| {
            if !k.available() {
                println!("SKIP: this CPU cannot run the {} kernels", k.name());
            }
            k.available()
        })
        .collect()
}

#[test]
fn gradients_match_central_differences_with_every_kernel_set() {
    for kernels in kernels_here() {
        for kind in KINDS {
            for threads in [1, 2, 4, 8] {
                let be = CpuBackend::with_kernels(threads, kernels);
                let (worst, skipped) = gradient_check(kind, &be, None);
                println!(
                    "{} {kind:?} threads={threads}: worst relative error {worst:.2e}",
                    kernels.name()
                );
                assert!(skipped <= 3, "too many values at ReLU kinks: {skipped}");
            }
        }
    }
}

/// One training step (forward with dropout, backward: outputs, states and every gradient) of a
/// stack wide enough for full and ragged tiles of every kernel (hidden 40: two and a half
/// 16-column panels per gate; 4 gates × 40 = 160 columns for the LSTM).
fn wide_step(kind: CellKind, kernels: Kernels, threads: usize) -> Vec<f32> {
    let mut p = problem_sized(kind, (24, 40), 2, 5, 13, 21);
    let be = CpuBackend::with_kernels(threads, kernels);
    one_step(&mut p, &be, &mut StackCache::default(), 8)
}

#[test]
fn avx512_matches_avx2_and_every_other_kernel_set() {
    if !Kernels::Avx512.available() {
        println!("SKIP: no AVX-512F on this CPU: AVX-512 kernels not compared");
        return;
    }
    for kind in KINDS {
        let wide = wide_step(kind, Kernels::Avx512, 2);
        for other in kernels_here() {
            let got = wide_step(kind, other, 2);
            let worst = assert_close(&wide, &got, &format!("{kind:?} avx512 vs {}", other.name()));
            println!(
                "{kind:?} avx512 vs {}: worst error {worst:.1e}",
                other.name()
            );
            if other == Kernels::Avx2 {
                // Same blocking and order of additions: not a bit apart.
                assert!(
                    wide.iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{kind:?}: avx512 and avx2 differ in some bits"
                );
            }
        }
    }
}

/// Asserts `got` within 1e-4 of `want` relative to `max(|want|, 1)` (sums of products added in
/// another order); returns the worst error on that scale.
fn assert_close(want: &[f32], got: &[f32], what: &str) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, (a, b)) in want.iter().zip(got).enumerate() {
        let err = (a - b).abs() / a.abs().max(1.0);
        assert!(err <= 1e-4, "{what} [{i}]: {a} vs {b}");
        worst = worst.max(err);
    }
    worst
}

#[test]
fn every_kernel_set_repeats_its_bits_and_agrees_across_thread_counts() {
    for kernels in kernels_here() {
        for kind in KINDS {
            let one = wide_step(kind, kernels, 1);
            let again = wide_step(kind, kernels, 1);
            assert!(
                one.iter()
                    .zip(&again)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{kind:?} {kernels:?}: a rerun changed bits"
            );
            let three = wide_step(kind, kernels, 3);
            assert_close(
                &one,
                &three,
                &format!("{kind:?} {kernels:?} 1 vs 3 threads"),
            );
        }
    }
}
