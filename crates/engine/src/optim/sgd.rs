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
    pub(crate) momentum_buffer: Vec<f32>,
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
        let u = SgdUpdate {
            lr,
            momentum,
            keep,
            weight_decay,
            nesterov,
            first,
        };
        let pairs = params
            .values
            .par_chunks_mut(CHUNK)
            .zip(params.grads.par_chunks(CHUNK));
        if momentum != 0.0 {
            let buffers = self.momentum_buffer.par_chunks_mut(CHUNK);
            pairs
                .zip(buffers)
                .for_each(|((ps, gs), bs)| sgd_momentum_update(ps, gs, bs, &u));
        } else {
            pairs.for_each(|(ps, gs)| sgd_update(ps, gs, &u));
        }
        self.steps += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.steps
    }
}

/// The per-step scalars of an SGD update.
struct SgdUpdate {
    lr: f32,
    momentum: f32,
    /// `1 − dampening`.
    keep: f32,
    weight_decay: f32,
    nesterov: bool,
    /// The momentum buffer starts as a copy of the first gradient.
    first: bool,
}

impl SgdUpdate {
    #[inline(always)]
    fn decayed(&self, p: f32, g: f32) -> f32 {
        if self.weight_decay != 0.0 {
            g + self.weight_decay * p
        } else {
            g
        }
    }
}

crate::simd::avx2_or_baseline! {
    fn sgd_update(ps: &mut [f32], gs: &[f32], u: &SgdUpdate) {
        for (p, &g) in ps.iter_mut().zip(gs) {
            *p += -u.lr * u.decayed(*p, g);
        }
    }
}

crate::simd::avx2_or_baseline! {
    fn sgd_momentum_update(ps: &mut [f32], gs: &[f32], bs: &mut [f32], u: &SgdUpdate) {
        for ((p, &g), b) in ps.iter_mut().zip(gs).zip(bs) {
            let d = u.decayed(*p, g);
            *b = if u.first { d } else { u.momentum * *b + u.keep * d };
            *p += -u.lr * if u.nesterov { d + u.momentum * *b } else { *b };
        }
    }
}
