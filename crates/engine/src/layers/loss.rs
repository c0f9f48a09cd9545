//! Fused log-softmax + cross-entropy over `logits[N, V]` with integer targets.
//!
//! Each row is read once for its maximum, once to exponentiate (stored in place) and once to
//! scale into the gradient `(softmax − onehot) / count`, so the logits buffer becomes the
//! gradient without a separate softmax pass. Subtracting the row maximum keeps `exp` finite for
//! any logits (tested at 1e4). Per-row losses are summed in row order in f64, so the result does
//! not depend on how rows were split across threads.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::check_len;
use crate::{EngineError, Result};

/// Rows × vocab below which splitting across threads costs more than it saves.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Result of a cross-entropy evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropy {
    /// Mean negative log-likelihood over counted tokens (0 when none was counted).
    pub mean: f64,
    /// Sum of the negative log-likelihoods of counted tokens.
    pub sum: f64,
    /// Tokens counted, i.e. not equal to the ignore index.
    pub count: usize,
}

impl CrossEntropy {
    fn from_sum(sum: f64, count: usize) -> Self {
        let mean = if count == 0 { 0.0 } else { sum / count as f64 };
        CrossEntropy { mean, sum, count }
    }
}

/// Checks shapes and target ids; returns the number of counted (non-ignored) tokens.
fn validate(
    logits_len: usize,
    targets: &[u32],
    vocab: usize,
    ignore_index: Option<u32>,
) -> Result<usize> {
    if vocab == 0 {
        return Err(EngineError::Config(
            "cross-entropy over an empty vocabulary".into(),
        ));
    }
    check_len("cross-entropy logits", targets.len() * vocab, logits_len)?;
    let mut count = 0;
    for (i, &t) in targets.iter().enumerate() {
        if Some(t) == ignore_index {
            continue;
        }
        if t as usize >= vocab {
            return Err(EngineError::shape(
                format!("cross-entropy target at row {i}"),
                format!("< {vocab} or the ignore index"),
                t,
            ));
        }
        count += 1;
    }
    Ok(count)
}

/// SIMD width the row loops are written for; plain arrays of this many lanes let the
/// compiler vectorise them without `unsafe` or target-specific code.
const LANES: usize = 8;

/// Largest element of a row. NaN elements are skipped here; they still reach the loss
/// through [`exp_nonpositive`], which propagates NaN.
#[inline(always)]
fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = if x > *m { x } else { *m };
        }
    }
    let mut max = tail.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for m in lanes {
        max = max.max(m);
    }
    max
}

/// `exp(x)` for `x <= 0` (arguments are logits minus their row maximum), written with plain
/// arithmetic so whole rows vectorise; libm's scalar `expf` made the loss the slowest part
/// of a word-level output layer. Cephes' single-precision polynomial: within 2 ulp of the
/// true value (tested), 0 below −87.3 where f32 leaves the normal range, NaN for NaN.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const MIN_ARG: f32 = -87.3;
    // 1.5 · 2²³: adding it rounds to an integer held in the low mantissa bits.
    const ROUNDER: f32 = 12_582_912.0;
    let xc = if x < MIN_ARG { MIN_ARG } else { x };
    let shifted = xc * LOG2E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let poly = p * r * r + r + 1.0;
    // 2^n from the integer in `shifted`'s mantissa (n ≥ −126 thanks to the clamp).
    let n_int = shifted.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    let y = poly * scale;
    if x < MIN_ARG {
        0.0
    } else {
        y
    }
}

/// Replaces `row` with `exp((row − max) · inv_t)` and returns the sum of the results.
#[inline(always)]
fn exp_shifted_in_place(row: &mut [f32], max: f32, inv_t: f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, x) in lanes.iter_mut().zip(chunk.iter_mut()) {
            *x = exp_nonpositive((*x - max) * inv_t);
            *s += *x;
        }
    }
    let mut sum: f64 = lanes.iter().map(|&s| s as f64).sum();
    for x in chunks.into_remainder() {
        *x = exp_nonpositive((*x - max) * inv_t);
        sum += *x as f64;
    }
    sum
}

/// Sum of `exp(row − max)` without writing anything.
#[inline(always)]
fn exp_shifted_sum(row: &[f32], max: f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (s, &x) in lanes.iter_mut().zip(chunk) {
            *s += exp_nonpositive(x - max);
        }
    }
    let head: f64 = lanes.iter().map(|&s| s as f64).sum();
    head + tail
        .iter()
        .map(|&x| exp_nonpositive(x - max) as f64)
        .sum::<f64>()
}

crate::simd::avx2_or_baseline! {
    /// Turns one row of logits into `(softmax − onehot(target)) · scale` and returns its
    /// negative log-likelihood. A NaN or infinite logit makes the loss NaN (so guards see it).
    fn row_loss_and_grad(row: &mut [f32], target: usize, scale: f32) -> f64 {
        let max = row_max(row);
        let shifted_target = (row[target] - max) as f64;
        let sum = exp_shifted_in_place(row, max, 1.0);
        let norm = (scale as f64 / sum) as f32;
        for x in row.iter_mut() {
            *x *= norm;
        }
        row[target] -= scale;
        sum.ln() - shifted_target
    }
}

crate::simd::avx2_or_baseline! {
    /// Negative log-likelihood of one row without modifying it.
    fn row_loss(row: &[f32], target: usize) -> f64 {
        let max = row_max(row);
        exp_shifted_sum(row, max).ln() - (row[target] - max) as f64
    }
}

/// Mean cross-entropy of `logits[N, vocab]` against `targets[N]`, replacing `logits` with
/// `d(mean loss)/d(logits)`. Rows whose target equals `ignore_index` get zero gradient and
/// are left out of the mean; if every row is ignored the loss is 0 and the gradient is zero.
pub fn softmax_cross_entropy_in_place(
    backend: &dyn Backend,
    logits: &mut [f32],
    targets: &[u32],
    vocab: usize,
    ignore_index: Option<u32>,
) -> Result<CrossEntropy> {
    let count = validate(logits.len(), targets, vocab, ignore_index)?;
    let scale = if count == 0 { 0.0 } else { 1.0 / count as f32 };
    let row_losses = Mutex::new(vec![0.0f64; targets.len()]);
    let chunks = if logits.len() >= PARALLEL_MIN_ELEMENTS {
        backend.threads()
    } else {
        1
    };
    backend.for_each_chunk(logits, vocab, chunks, &|_, offset, chunk| {
        let first_row = offset / vocab;
        let mut local = Vec::with_capacity(chunk.len() / vocab);
        for (r, row) in chunk.chunks_exact_mut(vocab).enumerate() {
            let t = targets[first_row + r];
            if Some(t) == ignore_index {
                row.fill(0.0);
                local.push(0.0);
            } else {
                local.push(row_loss_and_grad(row, t as usize, scale));
            }
        }
        let mut all = row_losses.lock().unwrap_or_else(|e| e.into_inner());
        all[first_row..first_row + local.len()].copy_from_slice(&local);
    });
    let row_losses = row_losses.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(CrossEntropy::from_sum(row_losses.iter().sum(), count))
}

/// Like [`softmax_cross_entropy_in_place`] but leaves `logits` intact and writes the gradient
/// into `dlogits` (same shape).
pub fn softmax_cross_entropy(
    backend: &dyn Backend,
    logits: &[f32],
    targets: &[u32],
    vocab: usize,
    ignore_index: Option<u32>,
    dlogits: &mut [f32],
) -> Result<CrossEntropy> {
    check_len("cross-entropy gradient buffer", logits.len(), dlogits.len())?;
    dlogits.copy_from_slice(logits);
    softmax_cross_entropy_in_place(backend, dlogits, targets, vocab, ignore_index)
}

/// Mean cross-entropy without a gradient, for evaluation. Rows run on the backend's threads;
/// their losses are summed in row order, so the result does not depend on the thread count.
pub fn cross_entropy(
    backend: &dyn Backend,
    logits: &[f32],
    targets: &[u32],
    vocab: usize,
    ignore_index: Option<u32>,
) -> Result<CrossEntropy> {
    let count = validate(logits.len(), targets, vocab, ignore_index)?;
    let row_nll = |(row, &t): (&[f32], &u32)| {
        if Some(t) == ignore_index {
            0.0
        } else {
            row_loss(row, t as usize)
        }
    };
    let mut losses = Vec::new();
    if logits.len() >= PARALLEL_MIN_ELEMENTS && backend.threads() > 1 {
        backend.install(&mut || {
            losses = logits
                .par_chunks_exact(vocab)
                .zip(targets)
                .map(row_nll)
                .collect()
        });
    } else {
        losses = logits
            .chunks_exact(vocab)
            .zip(targets)
            .map(row_nll)
            .collect();
    }
    Ok(CrossEntropy::from_sum(losses.iter().sum(), count))
}

fn check_rows(what: &str, len: usize, vocab: usize) -> Result<()> {
    if vocab == 0 || len / vocab * vocab != len {
        return Err(EngineError::shape(
            what,
            format!("a positive multiple of vocab {vocab}"),
            len,
        ));
    }
    Ok(())
}

/// Replaces each row of `x[N, vocab]` with its log-softmax.
pub fn log_softmax_in_place(x: &mut [f32], vocab: usize) -> Result<()> {
    check_rows("log-softmax input length", x.len(), vocab)?;
    for row in x.chunks_exact_mut(vocab) {
        let max = row_max(row);
        let log_sum = exp_shifted_sum(row, max).ln() as f32;
        for v in row.iter_mut() {
            *v = *v - max - log_sum;
        }
    }
    Ok(())
}

/// Replaces each row of `x[N, vocab]` with its softmax, optionally at a sampling temperature
/// (`logits / temperature`; must be positive).
pub fn softmax_in_place(x: &mut [f32], vocab: usize, temperature: f32) -> Result<()> {
    check_rows("softmax input length", x.len(), vocab)?;
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(EngineError::Config(format!(
            "softmax temperature must be positive and finite, got {temperature}"
        )));
    }
    let inv_t = 1.0 / temperature;
    for row in x.chunks_exact_mut(vocab) {
        let max = row_max(row);
        let sum = exp_shifted_in_place(row, max, inv_t);
        let norm = (1.0 / sum) as f32;
        for v in row.iter_mut() {
            *v *= norm;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_uniform, seeded};
    use crate::CpuBackend;

    fn logits(n: usize, v: usize, scale: f32, seed: u64) -> Vec<f32> {
        let mut x = vec![0.0; n * v];
        fill_uniform(&mut seeded(seed), &mut x, scale);
        x
    }

    #[test]
    fn matches_hand_computed_value() {
        // Row [0, ln 3]: softmax = [1/4, 3/4]; target 1 → loss −ln(3/4).
        let be = CpuBackend::single_thread();
        let mut x = vec![0.0, 3f32.ln(), 1.0, 1.0];
        let ce = softmax_cross_entropy_in_place(&be, &mut x, &[1, 0], 2, None).unwrap();
        let want = (-(0.75f64).ln() + 2f64.ln()) / 2.0;
        assert!((ce.mean - want).abs() < 1e-6, "{} vs {want}", ce.mean);
        assert_eq!(ce.count, 2);
        let g = [0.25 / 2.0, (0.75 - 1.0) / 2.0, (0.5 - 1.0) / 2.0, 0.5 / 2.0];
        for (a, b) in x.iter().zip(g) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn gradient_matches_finite_differences_with_ignore_index() {
        let be = CpuBackend::single_thread();
        let (n, v) = (5, 7);
        let x = logits(n, v, 3.0, 11);
        let targets = [3u32, 0, 99, 6, 3];
        let mut grad = vec![0.0; x.len()];
        let ce = softmax_cross_entropy(&be, &x, &targets, v, Some(99), &mut grad).unwrap();
        assert_eq!(ce.count, 4);
        assert!(grad[2 * v..3 * v].iter().all(|&g| g == 0.0));
        let eval = cross_entropy(&be, &x, &targets, v, Some(99)).unwrap();
        assert!((eval.mean - ce.mean).abs() < 1e-9);
        let h = 1e-2f32;
        for j in 0..x.len() {
            let mut xp = x.clone();
            xp[j] += h;
            let up = cross_entropy(&be, &xp, &targets, v, Some(99)).unwrap().mean;
            xp[j] -= 2.0 * h;
            let down = cross_entropy(&be, &xp, &targets, v, Some(99)).unwrap().mean;
            let numeric = (up - down) / (2.0 * h as f64);
            assert!(
                (numeric - grad[j] as f64).abs() < 1e-4,
                "logit {j}: numeric {numeric} vs analytic {}",
                grad[j]
            );
        }
    }

    #[test]
    fn stable_for_huge_logits() {
        let be = CpuBackend::single_thread();
        // Shifting every logit of a row by 1e4 must not change loss or gradient.
        let base = logits(3, 6, 2.0, 5);
        let shifted: Vec<f32> = base.iter().map(|x| x + 1e4).collect();
        let t = [0u32, 5, 2];
        let mut g0 = vec![0.0; base.len()];
        let mut g1 = vec![0.0; base.len()];
        let a = softmax_cross_entropy(&be, &base, &t, 6, None, &mut g0).unwrap();
        let b = softmax_cross_entropy(&be, &shifted, &t, 6, None, &mut g1).unwrap();
        assert!(a.mean.is_finite() && b.mean.is_finite());
        // 1e4 + x in f32 rounds x to ~1e-3, so compare loosely.
        assert!((a.mean - b.mean).abs() < 5e-3, "{} vs {}", a.mean, b.mean);
        for (x, y) in g0.iter().zip(&g1) {
            assert!((x - y).abs() < 5e-3);
        }
        // A confident row at 1e4: loss ≈ 0 for the right target, ≈ 1e4 for the wrong one.
        let mut x = vec![1e4, -1e4, 0.0];
        let right = softmax_cross_entropy_in_place(&be, &mut x, &[0], 3, None).unwrap();
        assert!(right.mean.abs() < 1e-6);
        let wrong = cross_entropy(&be, &[1e4, -1e4, 0.0], &[2], 3, None).unwrap();
        assert!((wrong.mean - 1e4).abs() < 1e-2);
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let (n, v) = (301, 200); // large enough to be split
        let x = logits(n, v, 4.0, 9);
        let targets: Vec<u32> = (0..n as u32).map(|i| (i * 37) % v as u32).collect();
        let mut a = x.clone();
        let mut b = x.clone();
        let one = CpuBackend::new(1);
        let two = CpuBackend::new(2);
        let ra = softmax_cross_entropy_in_place(&one, &mut a, &targets, v, Some(5)).unwrap();
        let rb = softmax_cross_entropy_in_place(&two, &mut b, &targets, v, Some(5)).unwrap();
        assert_eq!(ra.sum.to_bits(), rb.sum.to_bits());
        assert_eq!(a, b);
        // Evaluation's loss (no gradient) agrees with itself across threads and with training's.
        let ea = cross_entropy(&one, &x, &targets, v, Some(5)).unwrap();
        let eb = cross_entropy(&two, &x, &targets, v, Some(5)).unwrap();
        assert_eq!(ea.sum.to_bits(), eb.sum.to_bits());
        assert_eq!(ea.count, ra.count);
        assert!((ea.mean - ra.mean).abs() < 1e-6 * ra.mean.abs());
        // Gradient rows of counted tokens sum to zero (softmax sums to one).
        let row_sum: f32 = a[..v].iter().sum();
        assert!(row_sum.abs() < 1e-6);
    }

    #[test]
    fn all_ignored_gives_zero_loss_and_gradient() {
        let be = CpuBackend::single_thread();
        let mut x = logits(2, 3, 1.0, 1);
        let ce = softmax_cross_entropy_in_place(&be, &mut x, &[7, 7], 3, Some(7)).unwrap();
        assert_eq!((ce.mean, ce.count), (0.0, 0));
        assert!(x.iter().all(|&g| g == 0.0));
    }

    #[test]
    fn fast_exp_is_within_two_ulp_over_its_range() {
        let mut worst = 0.0f64;
        let mut x = 0.0f32;
        while x > -87.0 {
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x -= 0.000_37;
        }
        assert!(
            worst < 2.0 * f32::EPSILON as f64,
            "worst relative error {worst:e}"
        );
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
        // Near the bottom of the normal range the result is still accurate.
        let low = exp_nonpositive(-87.0) as f64;
        assert!((low / (-87.0f64).exp() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn row_kernels_match_a_naive_softmax() {
        // Lengths around the lane width exercise the tails.
        for v in [1usize, 7, 8, 9, 65, 1000] {
            let x = logits(1, v, 20.0, v as u64);
            let max = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(row_max(&x), max, "v={v}");
            let naive: f64 = x.iter().map(|&a| ((a - max) as f64).exp()).sum();
            let fast = exp_shifted_sum(&x, max);
            assert!(
                (fast / naive - 1.0).abs() < 1e-6,
                "v={v}: {fast} vs {naive}"
            );
            let mut y = x.clone();
            let in_place = exp_shifted_in_place(&mut y, max, 1.0);
            assert!((in_place / naive - 1.0).abs() < 1e-6);
            for (e, &a) in y.iter().zip(&x) {
                let want = ((a - max) as f64).exp();
                assert!((*e as f64 - want).abs() <= 2.5e-7 * want.max(1e-30));
            }
        }
    }

    #[test]
    fn nan_logits_give_nan_loss() {
        let be = CpuBackend::single_thread();
        let ce = cross_entropy(&be, &[0.0, f32::NAN], &[0], 2, None).unwrap();
        assert!(ce.mean.is_nan());
        let mut row = vec![0.5; 20];
        row[13] = f32::NAN;
        let ce = softmax_cross_entropy_in_place(&be, &mut row, &[2], 20, None).unwrap();
        assert!(ce.mean.is_nan());
        let inf = cross_entropy(&be, &[0.0, f32::INFINITY, 1.0], &[0], 3, None).unwrap();
        assert!(
            inf.mean.is_nan(),
            "an infinite logit is reported, not hidden"
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let be = CpuBackend::single_thread();
        let mut x = vec![0.0; 6];
        assert!(softmax_cross_entropy_in_place(&be, &mut x, &[0, 3], 3, None).is_err());
        assert!(softmax_cross_entropy_in_place(&be, &mut x, &[0], 3, None).is_err());
        assert!(softmax_cross_entropy_in_place(&be, &mut x, &[0, 1], 0, None).is_err());
        let mut small = vec![0.0; 3];
        assert!(softmax_cross_entropy(&be, &x, &[0, 1], 3, None, &mut small).is_err());
        assert!(cross_entropy(&be, &x, &[0, 5], 3, None).is_err());
        assert!(log_softmax_in_place(&mut x, 4).is_err());
        assert!(softmax_in_place(&mut x, 3, 0.0).is_err());
    }

    #[test]
    fn softmax_helpers_agree() {
        let mut p = vec![1.0, 2.0, 3.0, 1e4, 1e4, -1e4];
        let mut lp = p.clone();
        softmax_in_place(&mut p, 3, 1.0).unwrap();
        log_softmax_in_place(&mut lp, 3).unwrap();
        for (a, b) in p.iter().zip(&lp) {
            assert!((a - b.exp()).abs() < 1e-6);
        }
        assert!((p[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[3] - 0.5).abs() < 1e-6 && p[5] == 0.0);
        // Low temperature sharpens towards the argmax.
        let mut cold = vec![1.0, 2.0, 3.0];
        softmax_in_place(&mut cold, 3, 0.1).unwrap();
        assert!(cold[2] > 0.99);
    }
}
