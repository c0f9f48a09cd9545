//! Dropout with inverted scaling: kept elements are multiplied by `1/(1-p)` at training time so
//! that evaluation is the identity.
//!
//! Tensors are time-major `[T, B, F]`. *Standard* dropout draws one keep/drop decision per
//! element; *locked* (variational) dropout draws one `[B, F]` mask per sequence and reuses it at
//! every timestep, as in AWD-LSTM. The mask is kept so that the backward pass (and a gradient
//! check) sees exactly the forward's decisions.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::check_len;
use crate::rng::EngineRng;
use crate::{EngineError, Result};

/// Dropout configuration: drop probability `p` in `[0, 1)`, and whether the mask is locked
/// over time (one `[B, F]` mask per sequence).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    pub p: f32,
    pub locked: bool,
}

impl Dropout {
    pub fn new(p: f32, locked: bool) -> Result<Self> {
        let d = Dropout { p, locked };
        d.validate()?;
        Ok(d)
    }

    /// `p` must lie in `[0, 1)`: `p = 1` would divide by zero in the inverted scaling.
    pub fn validate(&self) -> Result<()> {
        if (0.0..1.0).contains(&self.p) {
            Ok(())
        } else {
            Err(EngineError::Config(format!(
                "dropout probability must be in [0, 1), got {}",
                self.p
            )))
        }
    }

    /// Draws a fresh mask for a `[t, b, features]` tensor into `mask` (reusing its storage).
    /// With `p = 0` the mask becomes the identity and no random numbers are drawn.
    pub fn sample(
        &self,
        rng: &mut EngineRng,
        t: usize,
        b: usize,
        features: usize,
        mask: &mut DropoutMask,
    ) -> Result<()> {
        self.validate()?;
        if self.p == 0.0 {
            mask.clear();
            return Ok(());
        }
        let period = if self.locked {
            b * features
        } else {
            t * b * features
        };
        let keep_scale = 1.0 / (1.0 - self.p);
        mask.scale.clear();
        mask.scale.extend((0..period).map(|_| {
            if rng.random::<f32>() < self.p {
                0.0
            } else {
                keep_scale
            }
        }));
        mask.len = t * b * features;
        Ok(())
    }

    /// Training-time forward: samples a mask for `x` (`[t, b, features]`) and applies it in place.
    pub fn forward_in_place(
        &self,
        rng: &mut EngineRng,
        x: &mut [f32],
        t: usize,
        b: usize,
        features: usize,
        mask: &mut DropoutMask,
    ) -> Result<()> {
        check_len("dropout input [T*B*F]", t * b * features, x.len())?;
        self.sample(rng, t, b, features, mask)?;
        mask.apply_in_place(x)
    }
}

/// The scale factors of one sampled mask: each element is `0` or `1/(1-p)`. An empty mask is
/// the identity (evaluation, or `p = 0`). A locked mask stores one `[B, F]` period that
/// repeats over time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DropoutMask {
    scale: Vec<f32>,
    /// Number of elements of the tensor the mask was sampled for.
    len: usize,
}

impl DropoutMask {
    /// A mask with given scale factors repeating with period `scale.len()` over a tensor of
    /// `len` elements. Useful for tests and for replaying a mask.
    pub fn from_scale(scale: Vec<f32>, len: usize) -> Result<Self> {
        if scale.is_empty() || (len / scale.len()) * scale.len() != len {
            return Err(EngineError::shape(
                "dropout mask period (must divide the tensor length)",
                format!("a divisor of {len}"),
                scale.len(),
            ));
        }
        Ok(DropoutMask { scale, len })
    }

    /// Makes the mask the identity.
    pub fn clear(&mut self) {
        self.scale.clear();
        self.len = 0;
    }

    pub fn is_identity(&self) -> bool {
        self.scale.is_empty()
    }

    /// Scale factors for the `len` elements starting at flat index `offset` of the tensor, or
    /// `None` for the identity. The range must not cross a period boundary, which holds for any
    /// run of rows inside one timestep.
    pub fn slice(&self, offset: usize, len: usize) -> Option<&[f32]> {
        if self.scale.is_empty() {
            return None;
        }
        let start = offset % self.scale.len();
        Some(&self.scale[start..start + len])
    }

    /// `x *= mask` elementwise. The backward pass is the same operation on the gradient.
    pub fn apply_in_place(&self, x: &mut [f32]) -> Result<()> {
        if self.is_identity() {
            return Ok(());
        }
        check_len("tensor under a dropout mask", self.len, x.len())?;
        for block in x.chunks_mut(self.scale.len()) {
            for (v, s) in block.iter_mut().zip(&self.scale) {
                *v *= s;
            }
        }
        Ok(())
    }

    /// `out = x * mask` elementwise (a copy when the mask is the identity).
    pub fn apply(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        check_len("dropout output", x.len(), out.len())?;
        out.copy_from_slice(x);
        self.apply_in_place(out)
    }

    /// Gradient through the mask, in place: `dy *= mask`.
    pub fn backward_in_place(&self, dy: &mut [f32]) -> Result<()> {
        self.apply_in_place(dy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn rejects_bad_probabilities() {
        assert!(Dropout::new(1.0, false).is_err());
        assert!(Dropout::new(-0.1, true).is_err());
        assert!(Dropout::new(f32::NAN, false).is_err());
        assert!(Dropout::new(0.0, false).is_ok());
    }

    #[test]
    fn standard_mask_drops_about_p_and_keeps_the_mean() {
        let d = Dropout::new(0.3, false).unwrap();
        let (t, b, f) = (20, 10, 50);
        let mut x = vec![1.0; t * b * f];
        let mut mask = DropoutMask::default();
        d.forward_in_place(&mut seeded(1), &mut x, t, b, f, &mut mask)
            .unwrap();
        let zeros = x.iter().filter(|v| **v == 0.0).count() as f32 / x.len() as f32;
        assert!((zeros - 0.3).abs() < 0.03, "dropped fraction {zeros}");
        let mean = x.iter().sum::<f32>() / x.len() as f32;
        assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
        // Standard dropout differs between timesteps.
        assert_ne!(x[..b * f], x[b * f..2 * b * f]);
    }

    #[test]
    fn locked_mask_repeats_over_time_and_backward_uses_it() {
        let d = Dropout::new(0.5, true).unwrap();
        let (t, b, f) = (4, 3, 5);
        let mut x: Vec<f32> = (0..t * b * f).map(|i| i as f32 + 1.0).collect();
        let mut mask = DropoutMask::default();
        d.forward_in_place(&mut seeded(7), &mut x, t, b, f, &mut mask)
            .unwrap();
        for step in 1..t {
            for i in 0..b * f {
                let here = x[step * b * f + i] == 0.0;
                assert_eq!(here, x[i] == 0.0, "step {step} element {i}");
            }
        }
        let mut dy = vec![1.0; t * b * f];
        mask.backward_in_place(&mut dy).unwrap();
        for (g, v) in dy.iter().zip(&x) {
            assert_eq!(*g == 0.0, *v == 0.0);
            if *g != 0.0 {
                assert_eq!(*g, 2.0);
            }
        }
        assert!(mask.apply_in_place(&mut [0.0; 3]).is_err());
    }

    #[test]
    fn zero_probability_and_cleared_masks_are_the_identity() {
        let d = Dropout::new(0.0, false).unwrap();
        let mut x = vec![2.0; 12];
        let mut mask = DropoutMask::default();
        d.forward_in_place(&mut seeded(3), &mut x, 2, 2, 3, &mut mask)
            .unwrap();
        assert_eq!(x, vec![2.0; 12]);
        assert!(mask.is_identity());
        assert!(mask.slice(4, 2).is_none());
    }

    #[test]
    fn same_seed_same_mask() {
        let d = Dropout::new(0.4, false).unwrap();
        let (mut a, mut b) = (DropoutMask::default(), DropoutMask::default());
        d.sample(&mut seeded(5), 3, 4, 5, &mut a).unwrap();
        d.sample(&mut seeded(5), 3, 4, 5, &mut b).unwrap();
        assert_eq!(a, b);
        assert!(DropoutMask::from_scale(vec![1.0; 4], 10).is_err());
    }
}
