//! RMSprop, step for step as `torch.optim.RMSprop`: optional momentum and the centered
//! variant, `eps` added outside the square root.

use serde::{Deserialize, Serialize};

use super::{check_lr, check_range, ensure_state, lerp, Optimizer};
use crate::{ParamStore, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
}

impl Default for RmsPropConfig {
    /// PyTorch's defaults.
    fn default() -> Self {
        RmsPropConfig {
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmsProp {
    pub config: RmsPropConfig,
    steps: u64,
    pub(crate) square_avg: Vec<f32>,
    /// Only when centered.
    pub(crate) grad_avg: Vec<f32>,
    /// Only with momentum.
    pub(crate) momentum_buffer: Vec<f32>,
}

impl RmsProp {
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        check_range("rmsprop alpha", config.alpha, 0.0, 1.0, true)?;
        check_range("rmsprop eps", config.eps, 0.0, f64::INFINITY, false)?;
        check_range(
            "rmsprop weight_decay",
            config.weight_decay,
            0.0,
            f64::INFINITY,
            false,
        )?;
        check_range("rmsprop momentum", config.momentum, 0.0, 1.0, true)?;
        Ok(RmsProp {
            config,
            steps: 0,
            square_avg: Vec::new(),
            grad_avg: Vec::new(),
            momentum_buffer: Vec::new(),
        })
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, params: &mut ParamStore, lr: f32) -> Result<()> {
        check_lr(lr)?;
        let RmsPropConfig {
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
        } = self.config;
        let n = params.len();
        ensure_state("rmsprop square_avg", &mut self.square_avg, n)?;
        if centered {
            ensure_state("rmsprop grad_avg", &mut self.grad_avg, n)?;
        }
        if momentum > 0.0 {
            ensure_state("rmsprop momentum buffer", &mut self.momentum_buffer, n)?;
        }
        let one_minus_alpha = (1.0 - alpha) as f32;
        let (alpha, eps) = (alpha as f32, eps as f32);
        let (weight_decay, momentum) = (weight_decay as f32, momentum as f32);
        for (i, (p, &g)) in params.values.iter_mut().zip(&params.grads).enumerate() {
            let g = if weight_decay != 0.0 {
                g + weight_decay * *p
            } else {
                g
            };
            let sq = self.square_avg[i] * alpha + one_minus_alpha * g * g;
            self.square_avg[i] = sq;
            let avg = if centered {
                let ga = lerp(self.grad_avg[i], g, one_minus_alpha);
                self.grad_avg[i] = ga;
                (sq - ga * ga).sqrt() + eps
            } else {
                sq.sqrt() + eps
            };
            if momentum > 0.0 {
                let b = self.momentum_buffer[i] * momentum + g / avg;
                self.momentum_buffer[i] = b;
                *p += -lr * b;
            } else {
                *p += -lr * (g / avg);
            }
        }
        self.steps += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.steps
    }
}
