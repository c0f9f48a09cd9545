//! Gradient clipping with PyTorch's semantics. The global norm is accumulated in f64 and the
//! pre-clip value is returned, because the training log and the loss-curve doctor need it.

use rayon::prelude::*;

use super::CHUNK;
use crate::{EngineError, ParamStore, Result};

/// Euclidean norm of all gradients together. Sums run per fixed-size chunk in eight f64
/// lanes (so they vectorise), then in chunk order: the result does not depend on the thread
/// count.
pub fn global_norm(grads: &[f32]) -> f32 {
    let partial: Vec<f64> = grads.par_chunks(CHUNK).map(sum_of_squares).collect();
    partial.iter().sum::<f64>().sqrt() as f32
}

crate::simd::avx2_or_baseline! {
    fn sum_of_squares(xs: &[f32]) -> f64 {
        let mut lanes = [0f64; 8];
        let mut eights = xs.chunks_exact(8);
        for e in &mut eights {
            for (l, &x) in lanes.iter_mut().zip(e) {
                *l += x as f64 * x as f64;
            }
        }
        let tail: f64 = eights
            .remainder()
            .iter()
            .map(|&x| x as f64 * x as f64)
            .sum();
        lanes.iter().sum::<f64>() + tail
    }
}

/// Scales all gradients by `max_norm / (norm + 1e-6)` when that is below one (as
/// `torch.nn.utils.clip_grad_norm_`) and returns the norm before clipping. A non-finite norm
/// is returned untouched and the gradients are left as they are, so the caller can skip the
/// step instead of spreading NaN into every weight.
pub fn clip_grad_norm(params: &mut ParamStore, max_norm: f32) -> Result<f32> {
    if !(max_norm > 0.0 && max_norm.is_finite()) {
        return Err(EngineError::Config(format!(
            "clip max_norm must be positive and finite, got {max_norm}"
        )));
    }
    let norm = global_norm(&params.grads);
    if !norm.is_finite() {
        return Ok(norm);
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        params.grads.par_chunks_mut(CHUNK).for_each(|c| {
            for g in c {
                *g *= coef;
            }
        });
    }
    Ok(norm)
}

/// Clamps every gradient to `[-clip, clip]` (as `torch.nn.utils.clip_grad_value_`) and
/// returns how many were changed.
pub fn clip_grad_value(params: &mut ParamStore, clip: f32) -> Result<usize> {
    if !(clip > 0.0 && clip.is_finite()) {
        return Err(EngineError::Config(format!(
            "clip value must be positive and finite, got {clip}"
        )));
    }
    let mut changed = 0;
    for g in &mut params.grads {
        let c = g.clamp(-clip, clip);
        if c != *g {
            changed += 1;
            *g = c;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(grads: &[f32]) -> ParamStore {
        let mut p = ParamStore::new();
        p.add("a", &[2]);
        p.add("b", &[grads.len() - 2]);
        p.grads.copy_from_slice(grads);
        p
    }

    #[test]
    fn norm_spans_all_parameters() {
        assert_eq!(global_norm(&[3.0, 0.0, 4.0]), 5.0);
        assert_eq!(global_norm(&[]), 0.0);
        // f64 accumulation: a million 1e-3 values is exactly 1.
        let many = vec![1e-3f32; 1_000_000];
        assert!((global_norm(&many) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn clip_returns_pre_clip_norm_and_rescales() {
        let mut p = store(&[3.0, 0.0, 4.0, 0.0]);
        let norm = clip_grad_norm(&mut p, 1.0).unwrap();
        assert_eq!(norm, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(p.grads, vec![3.0 * coef, 0.0, 4.0 * coef, 0.0]);
        assert!((global_norm(&p.grads) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn clip_below_threshold_leaves_grads_alone() {
        let mut p = store(&[0.3, 0.4, 0.0]);
        assert!((clip_grad_norm(&mut p, 1.0).unwrap() - 0.5).abs() < 1e-7);
        assert_eq!(p.grads, vec![0.3, 0.4, 0.0]);
    }

    #[test]
    fn non_finite_norm_is_reported_not_spread() {
        let mut p = store(&[f32::INFINITY, 1.0, 2.0]);
        assert!(clip_grad_norm(&mut p, 1.0).unwrap().is_infinite());
        assert_eq!(&p.grads[1..], &[1.0, 2.0]);
        let mut p = store(&[f32::NAN, 1.0, 2.0]);
        assert!(clip_grad_norm(&mut p, 1.0).unwrap().is_nan());
    }

    #[test]
    fn value_clip_clamps_each_gradient() {
        let mut p = store(&[-2.0, 0.5, 3.0, -0.1]);
        assert_eq!(clip_grad_value(&mut p, 1.0).unwrap(), 2);
        assert_eq!(p.grads, vec![-1.0, 0.5, 1.0, -0.1]);
    }

    #[test]
    fn bad_thresholds_are_errors() {
        let mut p = store(&[1.0, 1.0, 1.0]);
        assert!(clip_grad_norm(&mut p, 0.0).is_err());
        assert!(clip_grad_norm(&mut p, f32::NAN).is_err());
        assert!(clip_grad_value(&mut p, -1.0).is_err());
    }
}
