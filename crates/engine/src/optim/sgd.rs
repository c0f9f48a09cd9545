//! Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay,
//! step for step as `torch.optim.SGD`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_lr, check_range, ensure_state, Optimizer, CHUNK};
use crate::{EngineError, ParamStore, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    /// L2 penalty added to the gradient (`grad += weight_decay · param`).
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    pub config: SgdConfig,
    steps: u64,
    /// Momentum buffer; empty until the first step (and always without momentum).
    momentum_buffer: Vec<f32>,
}

impl Sgd {
    pub fn new(config: SgdConfig) -> Result<Self> {
        check_range("sgd momentum", config.momentum, 0.0, 1.0, true)?;
        check_range("sgd dampening", config.dampening, 0.0, 1.0, true)?;
        check_range(
            "sgd weight_decay",
            config.weight_decay,
            0.0,
            f64::INFINITY,
            false,
        )?;
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return Err(EngineError::Config(
                "sgd nesterov needs momentum > 0 and dampening 0".into(),
            ));
        }
        Ok(Sgd {
            config,
            steps: 0,
            momentum_buffer: Vec::new(),
        })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut ParamStore, lr: f32) -> Result<()> {
        check_lr(lr)?;
        let SgdConfig {
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } = self.config;
        // PyTorch starts the buffer as a copy of the first gradient, not with dampening.
        let first = self.momentum_buffer.is_empty();
        if momentum != 0.0 {
            ensure_state(
                "sgd momentum buffer",
                &mut self.momentum_buffer,
                params.len(),
            )?;
        }
        let keep = (1.0 - dampening) as f32;
        let (momentum, weight_decay) = (momentum as f32, weight_decay as f32);
        let decayed = |p: f32, g: f32| {
            if weight_decay != 0.0 {
                g + weight_decay * p
            } else {
                g
            }
        };
        let pairs = params
            .values
            .par_chunks_mut(CHUNK)
            .zip(params.grads.par_chunks(CHUNK));
        if momentum != 0.0 {
            let buffers = self.momentum_buffer.par_chunks_mut(CHUNK);
            pairs.zip(buffers).for_each(|((ps, gs), bs)| {
                for ((p, &g), b) in ps.iter_mut().zip(gs).zip(bs) {
                    let d = decayed(*p, g);
                    *b = if first { d } else { momentum * *b + keep * d };
                    *p += -lr * if nesterov { d + momentum * *b } else { *b };
                }
            });
        } else {
            pairs.for_each(|(ps, gs)| {
                for (p, &g) in ps.iter_mut().zip(gs) {
                    *p += -lr * decayed(*p, g);
                }
            });
        }
        self.steps += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.steps
    }
}
