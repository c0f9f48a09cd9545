//! Adam and AdamW, step for step as `torch.optim.Adam` / `AdamW` (single-tensor path):
//! bias corrections in f64 from the step count, `eps` added outside the square root, and
//! AdamW's decay applied to the parameter (`p *= 1 − lr·wd`) before the moment update.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_lr, check_range, ensure_state, lerp, Optimizer, CHUNK};
use crate::{ParamStore, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Adam: L2 added to the gradient. AdamW: decoupled decay of the parameter.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// PyTorch's `Adam` defaults.
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// The same fields as [`AdamConfig`] with PyTorch's `AdamW` defaults (weight decay 0.01),
/// so a config that names AdamW but omits `weight_decay` gets 0.01 as in PyTorch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled: `param *= 1 − lr · weight_decay` before the Adam update.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig::from(AdamConfig {
            weight_decay: 0.01,
            ..AdamConfig::default()
        })
    }
}

impl From<AdamConfig> for AdamWConfig {
    fn from(c: AdamConfig) -> Self {
        AdamWConfig {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
        }
    }
}

impl From<AdamWConfig> for AdamConfig {
    fn from(c: AdamWConfig) -> Self {
        AdamConfig {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub config: AdamConfig,
    /// True for AdamW.
    pub decoupled_weight_decay: bool,
    steps: u64,
    pub(crate) exp_avg: Vec<f32>,
    pub(crate) exp_avg_sq: Vec<f32>,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Result<Self> {
        check_range("adam beta1", config.beta1, 0.0, 1.0, false)?;
        check_range("adam beta2", config.beta2, 0.0, 1.0, false)?;
        check_range("adam eps", config.eps, 0.0, f64::INFINITY, false)?;
        check_range(
            "adam weight_decay",
            config.weight_decay,
            0.0,
            f64::INFINITY,
            false,
        )?;
        Ok(Adam {
            config,
            decoupled_weight_decay: false,
            steps: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
        })
    }

    /// AdamW: Adam with decoupled weight decay.
    pub fn adamw(config: AdamWConfig) -> Result<Self> {
        Ok(Adam {
            decoupled_weight_decay: true,
            ..Self::new(config.into())?
        })
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut ParamStore, lr: f32) -> Result<()> {
        check_lr(lr)?;
        ensure_state("adam exp_avg", &mut self.exp_avg, params.len())?;
        ensure_state("adam exp_avg_sq", &mut self.exp_avg_sq, params.len())?;
        let AdamConfig {
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.config;
        let t = (self.steps + 1) as f64;
        // Scalars in f64 as Python computes them, rounded once to f32 as torch does.
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2 = 1.0 - beta2.powf(t);
        let step_size = (lr as f64 / bias_correction1) as f32;
        let bias_correction2_sqrt = bias_correction2.sqrt() as f32;
        let one_minus_beta1 = (1.0 - beta1) as f32;
        let one_minus_beta2 = (1.0 - beta2) as f32;
        let decay = (1.0 - lr as f64 * weight_decay) as f32;
        let l2 = if self.decoupled_weight_decay {
            0.0
        } else {
            weight_decay as f32
        };
        let hyper = AdamUpdate {
            step_size,
            bias_correction2_sqrt,
            one_minus_beta1,
            one_minus_beta2,
            beta2: beta2 as f32,
            eps: eps as f32,
            decay: (self.decoupled_weight_decay && weight_decay != 0.0).then_some(decay),
            l2,
        };
        let moments = self
            .exp_avg
            .par_chunks_mut(CHUNK)
            .zip(self.exp_avg_sq.par_chunks_mut(CHUNK));
        let pairs = params
            .values
            .par_chunks_mut(CHUNK)
            .zip(params.grads.par_chunks(CHUNK));
        pairs
            .zip(moments)
            .for_each(|((ps, gs), (ms, vs))| adam_update(ps, gs, ms, vs, &hyper));
        self.steps += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.steps
    }
}

/// The per-step scalars of an Adam update, already rounded to `f32`.
struct AdamUpdate {
    step_size: f32,
    bias_correction2_sqrt: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    beta2: f32,
    eps: f32,
    /// AdamW's `1 − lr·wd`, applied to the weight before the update.
    decay: Option<f32>,
    /// Adam's L2 penalty added to the gradient (0 for AdamW).
    l2: f32,
}

crate::simd::avx2_or_baseline! {
    /// One chunk of weights `ps` with gradients `gs` and moments `ms`, `vs`.
    fn adam_update(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], u: &AdamUpdate) {
        let moments = ms.iter_mut().zip(vs.iter_mut());
        for ((p, &g), (m, v)) in ps.iter_mut().zip(gs).zip(moments) {
            if let Some(decay) = u.decay {
                *p *= decay;
            }
            let g = if u.l2 != 0.0 { g + u.l2 * *p } else { g };
            *m = lerp(*m, g, u.one_minus_beta1);
            *v = *v * u.beta2 + u.one_minus_beta2 * g * g;
            let denom = v.sqrt() / u.bias_correction2_sqrt + u.eps;
            *p += -u.step_size * (*m / denom);
        }
    }
}
