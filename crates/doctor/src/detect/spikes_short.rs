//! Spikes in a short paste (fewer than 10 points): too few to measure a noise scale, so a
//! point is judged against its neighbours' level alone (`spikes.rs` calls this for short logs).

use crate::detect::spikes::Spike;
use crate::detect::stats::{median, robust_sd};

/// A short paste (fewer than 10 points) has no noise to measure: a point counts as a spike
/// when it stands at least `SHORT_RATIO` times above the median of its neighbours (two on each
/// side) and well above the highest of them. The first point is left out (a run starts high).
/// A loss below zero (a flow's NLL at -4.3, then 4192) is measured the same way on the size
/// of its level: the rise over the median must be 1.5 times the median's magnitude, and over
/// the highest neighbour half of that one's.
const SHORT_RATIO: f64 = 2.5;

pub(crate) fn find_short(xs: &[f64]) -> Vec<Spike> {
    let n = xs.len();
    let mut out = Vec::new();
    for i in 1..n {
        let near: Vec<f64> = (i.saturating_sub(2)..(i + 3).min(n))
            .filter(|&j| j != i)
            .map(|j| xs[j])
            .collect();
        if near.len() < 2 {
            continue;
        }
        let base = median(&near);
        let highest = near.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let clears = |level: f64, share: f64| xs[i] - level >= share * level.abs();
        if base != 0.0 && clears(base, SHORT_RATIO - 1.0) && clears(highest, 0.5) {
            // The spread of the neighbours stands in for the noise scale.
            let scale = robust_sd(&near).max(0.05 * base.abs());
            out.push(Spike {
                onset: i,
                peak: i,
                end: i,
                z: (xs[i] - base) / scale,
                base,
                scale,
            });
        }
    }
    out
}
