//! L2 and L1 penalties added straight into the gradients, for the parameters a filter picks
//! (e.g. [`weights_only`] to spare biases). Each returns the penalty's value so the training
//! log can report the regularised loss.

use crate::params::ParamEntry;
use crate::{EngineError, ParamStore, Result};

/// Filter that skips biases (names ending in `bias` or containing `.bias`/`bias_`).
pub fn weights_only(entry: &ParamEntry) -> bool {
    !(entry.name.ends_with("bias") || entry.name.contains(".bias") || entry.name.contains("bias_"))
}

fn check_coeff(what: &str, coeff: f32) -> Result<()> {
    if coeff >= 0.0 && coeff.is_finite() {
        Ok(())
    } else {
        Err(EngineError::Config(format!(
            "{what} coefficient must be finite and non-negative, got {coeff}"
        )))
    }
}

/// Calls `f(grad, weight)` for every element of every parameter `include` selects.
fn for_each_selected(
    params: &mut ParamStore,
    include: impl Fn(&ParamEntry) -> bool,
    mut f: impl FnMut(&mut f32, f32),
) {
    let ranges: Vec<_> = params
        .entries()
        .iter()
        .filter(|e| include(e))
        .map(|e| e.range())
        .collect();
    for r in ranges {
        for (g, &w) in params.grads[r.clone()].iter_mut().zip(&params.values[r]) {
            f(g, w);
        }
    }
}

/// Adds `coeff · w` to the gradient of every selected parameter and returns
/// `coeff / 2 · Σ w²`, the penalty whose gradient that is (the same as SGD `weight_decay`).
pub fn add_l2_penalty(
    params: &mut ParamStore,
    coeff: f32,
    include: impl Fn(&ParamEntry) -> bool,
) -> Result<f64> {
    check_coeff("L2", coeff)?;
    let mut sum_sq = 0.0f64;
    for_each_selected(params, include, |g, w| {
        *g += coeff * w;
        sum_sq += w as f64 * w as f64;
    });
    Ok(0.5 * coeff as f64 * sum_sq)
}

/// Adds `coeff · sign(w)` (0 at w = 0) to the gradient of every selected parameter and
/// returns `coeff · Σ |w|`.
pub fn add_l1_penalty(
    params: &mut ParamStore,
    coeff: f32,
    include: impl Fn(&ParamEntry) -> bool,
) -> Result<f64> {
    check_coeff("L1", coeff)?;
    let mut sum_abs = 0.0f64;
    for_each_selected(params, include, |g, w| {
        if w != 0.0 {
            *g += coeff * w.signum();
        }
        sum_abs += w.abs() as f64;
    });
    Ok(coeff as f64 * sum_abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ParamStore {
        let mut p = ParamStore::new();
        let w = p.add("rnn.weight_ih_l0", &[3]);
        let b = p.add("rnn.bias_ih_l0", &[1]);
        let d = p.add("decoder.bias", &[1]);
        p.value_mut(w).copy_from_slice(&[2.0, -1.0, 0.0]);
        p.value_mut(b)[0] = 5.0;
        p.value_mut(d)[0] = -3.0;
        p.grads.fill(1.0);
        p
    }

    #[test]
    fn l2_adds_scaled_weights_and_reports_half_square_sum() {
        let mut p = store();
        let value = add_l2_penalty(&mut p, 0.1, |_| true).unwrap();
        assert!((value - 0.05 * (4.0 + 1.0 + 25.0 + 9.0)).abs() < 1e-6);
        let want = [1.2, 0.9, 1.0, 1.5, 0.7];
        for (g, w) in p.grads.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{:?}", p.grads);
        }
    }

    #[test]
    fn l1_adds_sign_and_skips_filtered_biases() {
        let mut p = store();
        let value = add_l1_penalty(&mut p, 0.5, weights_only).unwrap();
        assert_eq!(value, 0.5 * 3.0);
        assert_eq!(p.grads, vec![1.5, 0.5, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn negative_coefficient_is_an_error() {
        let mut p = store();
        assert!(add_l2_penalty(&mut p, -0.1, |_| true).is_err());
        assert!(add_l1_penalty(&mut p, f32::NAN, |_| true).is_err());
    }
}
