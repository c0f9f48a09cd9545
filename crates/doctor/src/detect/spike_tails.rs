//! When a spike is only the tail of the run's own noise: bumps of one size recurring at random
//! (hard batches logged one at a time), or a jump that is large on the linear scale but
//! ordinary on the log scale of a loss that scatters by factors near its floor.

use crate::detect::spikes::Spike;
use crate::detect::stats::robust_sd;

/// Several bumps of similar size, recurring every few dozen points, are the tail of this run's
/// noise (hard batches logged one at a time), not events: no single one stands out from the
/// others the way a poisoned batch does.
/// Ten or more such bumps are a tail however far apart (a fine-tuned classifier's single-batch
/// losses near 0, with a batch holding one hard example every few dozen steps). Sizes are
/// compared as jumps, not z: near 0 the noise scale collapses and z runs to the thousands.
pub(crate) fn heavy_tailed(xs: &[f64], spikes: &[Spike]) -> bool {
    if spikes.len() < 3 || (xs.len() > 30 * spikes.len() && spikes.len() < 10) {
        return false;
    }
    let mut ratios: Vec<f64> = spikes.iter().map(|s| xs[s.peak] - s.base).collect();
    ratios.sort_by(f64::total_cmp);
    let typical = ratios[ratios.len() / 2];
    ratios[ratios.len() - 1] <= 3.0 * typical
}

/// Per-batch losses near a floor scatter by factors, not by amounts: a classifier at 0.01 logs
/// 0.0003 and 0.14 from one batch to the next. Where the log of the loss moves by this much
/// from point to point (robust sd, over √2), the noise is multiplicative and wide, and the
/// linear scale's MAD, set by the many small values, understates its tail.
const WIDE_LOG_NOISE: f64 = 0.5;
/// On such a series a spike must also stand this far out on the log scale.
const Z_LOG: f64 = 3.0;
/// Nor may it stand this many times above the highest of its neighbours: values near 0 widen
/// the log noise, but a tail's batch does not tower over the rest of the tail the way a bad
/// batch does (0.09 → 3.5 where no neighbour tops 0.75).
const TAIL_REACH: f64 = 2.5;
/// Points on each side of a spike whose log-scale noise is measured.
const LOG_NOISE_REACH: usize = 20;

/// Whether a spike is only the tail of a wide multiplicative noise: the points around it move
/// by factors (log noise ≥ [`WIDE_LOG_NOISE`]), the peak over its base is under [`Z_LOG`]
/// of that noise on the log scale, and under [`TAIL_REACH`] times the highest point around it.
/// A poisoned batch on such a run (0.01 → 3) still stands out.
pub(crate) fn within_multiplicative_noise(xs: &[f64], s: &Spike) -> bool {
    let lo = s.onset.saturating_sub(LOG_NOISE_REACH);
    let hi = (s.end + 1 + LOG_NOISE_REACH).min(xs.len());
    let around: Vec<f64> = xs[lo..s.onset]
        .iter()
        .chain(&xs[s.end + 1..hi])
        .copied()
        .collect();
    if around.len() < 6 || s.base <= 0.0 || around.iter().any(|&v| !(v > 0.0 && v.is_finite())) {
        return false;
    }
    let steps: Vec<f64> = around.windows(2).map(|p| (p[1] / p[0]).ln()).collect();
    let log_noise = robust_sd(&steps) / std::f64::consts::SQRT_2;
    let tail_top = around.iter().copied().fold(0.0, f64::max);
    log_noise >= WIDE_LOG_NOISE
        && (xs[s.peak] / s.base).ln() < Z_LOG * log_noise
        && xs[s.peak] < TAIL_REACH * tail_top
}

#[cfg(test)]
#[path = "spike_tails_tests.rs"]
mod tests;
