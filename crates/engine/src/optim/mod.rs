//! Optimizers, gradient clipping, penalties and learning-rate schedules over the flat
//! [`crate::ParamStore`].
//!
//! Every optimizer follows `torch.optim`'s update order and constants exactly, keeps its
//! moments in flat buffers parallel to `ParamStore::values`, and derives `Serialize` so a
//! checkpoint restores it bit for bit. The learning rate is an argument of
//! [`Optimizer::step`], so schedules stay pure functions of the step (see [`schedule`]).

pub mod adam;
pub mod clip;
pub mod penalty;
pub mod rmsprop;
pub mod schedule;
pub mod sgd;

use serde::{Deserialize, Serialize};

use crate::{EngineError, ParamStore, Result};

/// Elementwise passes over the flat buffers run on rayon's current pool (the backend's, inside
/// `Backend::install`) in chunks of this many elements; the chunking never changes a result.
pub(crate) const CHUNK: usize = 1 << 15;

pub use adam::{Adam, AdamConfig, AdamWConfig};
pub use clip::{clip_grad_norm, clip_grad_value, global_norm};
pub use penalty::{add_l1_penalty, add_l2_penalty, weights_only};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{LrSchedule, PlateauConfig, ReduceOnPlateau, Schedule, ThresholdMode};
pub use sgd::{Sgd, SgdConfig};

pub trait Optimizer {
    /// Applies one update to `params.values` from `params.grads` at learning rate `lr`.
    /// Moment buffers are created on the first step; a store of another size is an error.
    fn step(&mut self, params: &mut ParamStore, lr: f32) -> Result<()>;

    /// Updates applied so far.
    fn steps_taken(&self) -> u64;
}

/// Which optimizer to build, as read from a run configuration
/// (e.g. `{"kind": "adam_w", "weight_decay": 0.01}`); omitted fields take PyTorch's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    /// Adam with decoupled weight decay (PyTorch's `AdamW`; default `weight_decay` 0.01).
    AdamW(AdamWConfig),
    RmsProp(RmsPropConfig),
}

/// Any optimizer with its state; serialise it whole into a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnyOptimizer {
    Sgd(Sgd),
    Adam(Adam),
    RmsProp(RmsProp),
}

impl AnyOptimizer {
    /// Builds a fresh optimizer, rejecting invalid hyper-parameters.
    pub fn new(config: &OptimizerConfig) -> Result<Self> {
        Ok(match config {
            OptimizerConfig::Sgd(c) => AnyOptimizer::Sgd(Sgd::new(c.clone())?),
            OptimizerConfig::Adam(c) => AnyOptimizer::Adam(Adam::new(c.clone())?),
            OptimizerConfig::AdamW(c) => AnyOptimizer::Adam(Adam::adamw(c.clone())?),
            OptimizerConfig::RmsProp(c) => AnyOptimizer::RmsProp(RmsProp::new(c.clone())?),
        })
    }

    /// The moment buffers by name (empty until the first step, or when a setting does not
    /// use them), so a checkpoint can store them as tensors instead of inside the serialized
    /// optimizer: take them out before serializing and put them back after reading.
    pub fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<f32>)> {
        match self {
            AnyOptimizer::Sgd(o) => vec![("momentum_buffer", &mut o.momentum_buffer)],
            AnyOptimizer::Adam(o) => vec![
                ("exp_avg", &mut o.exp_avg),
                ("exp_avg_sq", &mut o.exp_avg_sq),
            ],
            AnyOptimizer::RmsProp(o) => vec![
                ("square_avg", &mut o.square_avg),
                ("grad_avg", &mut o.grad_avg),
                ("momentum_buffer", &mut o.momentum_buffer),
            ],
        }
    }
}

impl Optimizer for AnyOptimizer {
    fn step(&mut self, params: &mut ParamStore, lr: f32) -> Result<()> {
        match self {
            AnyOptimizer::Sgd(o) => o.step(params, lr),
            AnyOptimizer::Adam(o) => o.step(params, lr),
            AnyOptimizer::RmsProp(o) => o.step(params, lr),
        }
    }

    fn steps_taken(&self) -> u64 {
        match self {
            AnyOptimizer::Sgd(o) => o.steps_taken(),
            AnyOptimizer::Adam(o) => o.steps_taken(),
            AnyOptimizer::RmsProp(o) => o.steps_taken(),
        }
    }
}

/// `torch.lerp` exactly: which formula it uses depends on the weight.
#[inline(always)]
pub(crate) fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

/// Rejects a learning rate that is negative or not finite.
pub(crate) fn check_lr(lr: f32) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(EngineError::Config(format!(
            "learning rate must be finite and non-negative, got {lr}"
        )))
    }
}

/// Checks `value` lies in `[lo, hi)` (or `[lo, hi]` when `hi_inclusive`), naming `field`.
pub(crate) fn check_range(
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<()> {
    let ok = value >= lo && (value < hi || (hi_inclusive && value == hi));
    if ok {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(EngineError::Config(format!(
            "{field} must be in [{lo}, {hi}{close}, got {value}"
        )))
    }
}

/// Makes `buf` the size of the store on first use; afterwards its size must match.
pub(crate) fn ensure_state(what: &str, buf: &mut Vec<f32>, len: usize) -> Result<()> {
    if buf.is_empty() {
        buf.resize(len, 0.0);
        Ok(())
    } else {
        crate::error::check_len(what, len, buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Updates and norms on the backend's threads equal the single-threaded ones bit for bit,
    /// over a store spanning several chunks and a ragged last one.
    #[test]
    fn threads_do_not_change_a_single_bit() {
        use crate::backend::{Backend, CpuBackend};
        let n = 3 * CHUNK + 1234;
        let run = |threads: usize| {
            let be = CpuBackend::new(threads);
            let mut p = ParamStore::new();
            p.add("w", &[n]);
            let configs = [
                r#"{"kind":"sgd","momentum":0.9,"weight_decay":0.01}"#,
                r#"{"kind":"sgd"}"#,
                r#"{"kind":"adam_w"}"#,
            ];
            let mut out = Vec::new();
            for text in configs {
                let mut opt = AnyOptimizer::new(&serde_json::from_str(text).unwrap()).unwrap();
                for step in 0..3 {
                    be.install(&mut || p.zero_grads());
                    for (i, g) in p.grads.iter_mut().enumerate() {
                        *g = ((i * 7919 + step) % 1000) as f32 * 1e-3 - 0.5;
                    }
                    let mut norm = 0.0;
                    be.install(&mut || {
                        norm = clip::clip_grad_norm(&mut p, 1.0).unwrap();
                        opt.step(&mut p, 0.1).unwrap();
                    });
                    out.push(norm.to_bits());
                }
            }
            (
                out,
                p.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn config_parses_with_pytorch_defaults() {
        let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"adam_w"}"#).unwrap();
        assert_eq!(c, OptimizerConfig::AdamW(AdamWConfig::default()));
        let OptimizerConfig::AdamW(w) = c else {
            panic!("{c:?}")
        };
        assert_eq!((w.weight_decay, w.beta2), (0.01, 0.999));
        let c: OptimizerConfig =
            serde_json::from_str(r#"{"kind":"sgd","momentum":0.9,"nesterov":true}"#).unwrap();
        let OptimizerConfig::Sgd(s) = &c else {
            panic!("{c:?}")
        };
        assert_eq!((s.momentum, s.nesterov, s.weight_decay), (0.9, true, 0.0));
        let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"rms_prop"}"#).unwrap();
        assert_eq!(c, OptimizerConfig::RmsProp(RmsPropConfig::default()));
        assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind":"lion"}"#).is_err());
    }

    #[test]
    fn invalid_hyper_parameters_are_errors() {
        let bad = [
            r#"{"kind":"sgd","momentum":-0.1}"#,
            r#"{"kind":"sgd","nesterov":true}"#,
            r#"{"kind":"adam","beta1":1.0}"#,
            r#"{"kind":"adam","eps":-1.0}"#,
            r#"{"kind":"rms_prop","alpha":1.5}"#,
        ];
        for text in bad {
            let c: OptimizerConfig = serde_json::from_str(text).unwrap();
            assert!(AnyOptimizer::new(&c).is_err(), "{text}");
        }
    }

    #[test]
    fn step_rejects_bad_lr_and_resized_store() {
        let mut p = ParamStore::new();
        p.add("w", &[3]);
        let mut opt = AnyOptimizer::new(&OptimizerConfig::Adam(AdamConfig::default())).unwrap();
        assert!(opt.step(&mut p, f32::NAN).is_err());
        assert!(opt.step(&mut p, -1.0).is_err());
        opt.step(&mut p, 0.1).unwrap();
        p.add("v", &[2]);
        assert!(matches!(
            opt.step(&mut p, 0.1),
            Err(EngineError::Shape { .. })
        ));
    }
}

#[cfg(test)]
mod reference_tests;

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    fn store_with_grads(step: usize) -> ParamStore {
        let mut p = ParamStore::new();
        p.add("a", &[3, 2]);
        p.add("b", &[4]);
        for (i, v) in p.values.iter_mut().enumerate() {
            *v = (i as f32 * 0.61).sin();
        }
        reset_grads(&mut p, step);
        p
    }

    fn reset_grads(p: &mut ParamStore, step: usize) {
        for (i, g) in p.grads.iter_mut().enumerate() {
            *g = ((i * 7 + step * 3) as f32 * 0.37).cos();
        }
    }

    /// Runs three steps, checkpoints through JSON, then checks that the restored optimizer's
    /// next two steps are bit-identical to the original's.
    fn round_trip(config: OptimizerConfig) {
        let mut opt = AnyOptimizer::new(&config).unwrap();
        let mut p = store_with_grads(0);
        for step in 0..3 {
            reset_grads(&mut p, step);
            opt.step(&mut p, 0.05).unwrap();
        }
        let text = serde_json::to_string(&opt).unwrap();
        let mut restored: AnyOptimizer = serde_json::from_str(&text).unwrap();
        assert_eq!(restored, opt, "{config:?}");
        let mut q = p.clone();
        for step in 3..5 {
            reset_grads(&mut p, step);
            reset_grads(&mut q, step);
            opt.step(&mut p, 0.05).unwrap();
            restored.step(&mut q, 0.05).unwrap();
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.values), bits(&q.values), "{config:?}");
        assert_eq!(restored.steps_taken(), 5);

        // The moment buffers taken out by name and put back into a copy serialized without
        // them restore the same optimizer.
        let mut bare = opt.clone();
        let taken: Vec<(&str, Vec<f32>)> = bare
            .buffers_mut()
            .into_iter()
            .map(|(n, b)| (n, std::mem::take(b)))
            .collect();
        assert!(taken.iter().any(|(_, b)| b.len() == p.len()), "{config:?}");
        let mut back: AnyOptimizer =
            serde_json::from_str(&serde_json::to_string(&bare).unwrap()).unwrap();
        assert_ne!(back, opt);
        for ((name, buf), (taken_name, values)) in back.buffers_mut().into_iter().zip(taken) {
            assert_eq!(name, taken_name);
            *buf = values;
        }
        assert_eq!(back, opt, "{config:?}");
    }

    #[test]
    fn every_optimizer_resumes_bit_identically() {
        round_trip(OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
            ..Default::default()
        }));
        round_trip(OptimizerConfig::Adam(AdamConfig::default()));
        round_trip(OptimizerConfig::AdamW(AdamWConfig::default()));
        round_trip(OptimizerConfig::RmsProp(RmsPropConfig {
            centered: true,
            momentum: 0.9,
            ..Default::default()
        }));
    }

    #[test]
    fn restoring_without_moments_would_differ() {
        // Guards the test above: a fresh Adam (no moments, step 0) takes a different step.
        let mut opt = AnyOptimizer::new(&OptimizerConfig::Adam(AdamConfig::default())).unwrap();
        let mut p = store_with_grads(0);
        for step in 0..3 {
            reset_grads(&mut p, step);
            opt.step(&mut p, 0.05).unwrap();
        }
        let mut fresh = AnyOptimizer::new(&OptimizerConfig::Adam(AdamConfig::default())).unwrap();
        let mut q = p.clone();
        opt.step(&mut p, 0.05).unwrap();
        fresh.step(&mut q, 0.05).unwrap();
        assert_ne!(p.values, q.values);
    }
}
