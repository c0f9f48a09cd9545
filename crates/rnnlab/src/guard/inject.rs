//! Fault injection, a testing and demonstration aid for the guard (`--inject`, repeatable, or
//! `guard.inject = [...]` in the config):
//!
//! | spec | what happens at that step |
//! |---|---|
//! | `bad-batch@400` | the batch's targets are replaced by uniformly random token ids (inputs kept): a mislabelled batch |
//! | `corrupt-text@300` | the whole batch becomes random text: every stream is a run of uniformly random tokens, targets shifted by one as usual |
//! | `nan@500` | the loss and every gradient become NaN after the backward pass, as an overflow in the loss would make them |
//! | `lr-spike@250:0.1` | the learning rate is 0.1 for step 250 (`lr-spike@250:0.1:5`: for steps 250–254), replacing the schedule, the plateau factor and the guard's own factor |
//!
//! Steps count optimizer steps from 0, as in `metrics.jsonl`. The random ids come from a
//! generator seeded by the training seed and the step, so an injected run is reproducible and
//! resumes bit-identically.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::ConfigError;
use crate::data::Batch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    BadBatch { step: u64 },
    CorruptText { step: u64 },
    Nan { step: u64 },
    LrSpike { step: u64, lr: f32, steps: u64 },
}

impl Fault {
    /// Parses one spec such as `lr-spike@250:0.1`.
    pub fn parse(spec: &str) -> Result<Fault, ConfigError> {
        let bad = |message: String| ConfigError::Value {
            key: "guard.inject".into(),
            message: format!("`{spec}`: {message}"),
        };
        let (kind, rest) = spec.trim().split_once('@').ok_or_else(|| {
            bad("expected KIND@STEP, e.g. bad-batch@400, nan@500, corrupt-text@300, lr-spike@250:0.1".into())
        })?;
        let mut fields = rest.split(':');
        let step_text = fields.next().unwrap_or_default();
        let step: u64 = step_text
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{step_text}` is not a step number")))?;
        let extra: Vec<&str> = fields.collect();
        let no_extra = |fault: Fault| {
            if extra.is_empty() {
                Ok(fault)
            } else {
                Err(bad(format!("`{kind}` takes no `:` arguments")))
            }
        };
        match kind.trim() {
            "bad-batch" => no_extra(Fault::BadBatch { step }),
            "corrupt-text" => no_extra(Fault::CorruptText { step }),
            "nan" => no_extra(Fault::Nan { step }),
            "lr-spike" => {
                let lr: f32 = extra
                    .first()
                    .and_then(|t| t.trim().parse().ok())
                    .filter(|lr: &f32| lr.is_finite() && *lr > 0.0)
                    .ok_or_else(|| bad("expected lr-spike@STEP:LR[:STEPS] with LR > 0".into()))?;
                let steps = match extra.get(1) {
                    None => 1,
                    Some(t) => t
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&n: &u64| n > 0)
                        .ok_or_else(|| bad(format!("`{t}` is not a positive step count")))?,
                };
                if extra.len() > 2 {
                    return Err(bad("expected lr-spike@STEP:LR[:STEPS]".into()));
                }
                Ok(Fault::LrSpike { step, lr, steps })
            }
            other => Err(bad(format!(
                "unknown fault `{other}` (one of bad-batch, corrupt-text, nan, lr-spike)"
            ))),
        }
    }

    fn hits(&self, at: u64) -> bool {
        match *self {
            Fault::BadBatch { step } | Fault::CorruptText { step } | Fault::Nan { step } => {
                step == at
            }
            Fault::LrSpike { step, steps, .. } => (step..step.saturating_add(steps)).contains(&at),
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Fault::BadBatch { step } => format!("bad-batch@{step} (random targets)"),
            Fault::CorruptText { step } => format!("corrupt-text@{step} (random text)"),
            Fault::Nan { step } => format!("nan@{step} (NaN loss and gradients)"),
            Fault::LrSpike { step, lr, steps } => {
                format!("lr-spike@{step}:{lr}:{steps} (learning rate {lr} for {steps} step(s))")
            }
        }
    }
}

/// The faults of one run.
#[derive(Debug, Clone, Default)]
pub struct Injector {
    faults: Vec<Fault>,
    seed: u64,
}

impl Injector {
    pub fn new(specs: &[String], seed: u64) -> Result<Injector, ConfigError> {
        Ok(Injector {
            faults: specs
                .iter()
                .map(|s| Fault::parse(s))
                .collect::<Result<_, _>>()?,
            seed,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Descriptions of the faults injected at `step` (for incident files).
    pub fn at(&self, step: u64) -> Vec<String> {
        self.faults
            .iter()
            .filter(|f| f.hits(step))
            .map(Fault::describe)
            .collect()
    }

    fn rng(&self, step: u64, salt: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(
            self.seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt,
        )
    }

    /// The learning rate of `step`: an `lr-spike` replaces it.
    pub fn lr(&self, step: u64, lr: f32) -> f32 {
        self.faults
            .iter()
            .find_map(|f| match *f {
                Fault::LrSpike { lr: spike, .. } if f.hits(step) => Some(spike),
                _ => None,
            })
            .unwrap_or(lr)
    }

    /// Corrupts the batch of `step` in place; returns whether it did.
    pub fn corrupt_batch(&self, step: u64, batch: &mut Batch, vocab: usize) -> bool {
        let mut changed = false;
        for f in self.faults.iter().filter(|f| f.hits(step)) {
            match f {
                Fault::BadBatch { .. } => {
                    let mut rng = self.rng(step, 0xbad);
                    for t in &mut batch.targets {
                        *t = rng.random_range(0..vocab as u32);
                    }
                    changed = true;
                }
                Fault::CorruptText { .. } => {
                    let mut rng = self.rng(step, 0x7e47);
                    let (t_len, b) = (batch.seq_len, batch.batch_size);
                    // One random token run per stream, time-major like the real batch.
                    let text: Vec<u32> = (0..(t_len + 1) * b)
                        .map(|_| rng.random_range(0..vocab as u32))
                        .collect();
                    batch.inputs.copy_from_slice(&text[..t_len * b]);
                    batch.targets.copy_from_slice(&text[b..]);
                    changed = true;
                }
                _ => {}
            }
        }
        changed
    }

    /// Makes the loss and gradients of `step` NaN; returns whether it did.
    pub fn poison(&self, step: u64, loss: &mut f64, grads: &mut [f32]) -> bool {
        if !self
            .faults
            .iter()
            .any(|f| matches!(f, Fault::Nan { .. }) && f.hits(step))
        {
            return false;
        }
        *loss = f64::NAN;
        grads.fill(f32::NAN);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        // 3 steps x 2 streams, time-major; stream 0 reads 0 1 2 3, stream 1 reads 10 11 12 13.
        Batch {
            inputs: vec![0, 10, 1, 11, 2, 12],
            targets: vec![1, 11, 2, 12, 3, 13],
            seq_len: 3,
            batch_size: 2,
            reset_state: false,
        }
    }

    #[test]
    fn specs_parse_and_bad_ones_name_the_key_and_entry() {
        assert_eq!(
            Fault::parse("bad-batch@400").unwrap(),
            Fault::BadBatch { step: 400 }
        );
        assert_eq!(
            Fault::parse("lr-spike@250:0.1").unwrap(),
            Fault::LrSpike {
                step: 250,
                lr: 0.1,
                steps: 1
            }
        );
        assert_eq!(
            Fault::parse("lr-spike@250:0.1:5").unwrap(),
            Fault::LrSpike {
                step: 250,
                lr: 0.1,
                steps: 5
            }
        );
        for (spec, needle) in [
            ("bad-batch", "KIND@STEP"),
            ("nan@x", "`x` is not a step"),
            ("explode@3", "unknown fault `explode`"),
            ("lr-spike@3", "LR > 0"),
            ("lr-spike@3:-1", "LR > 0"),
            ("lr-spike@3:0.1:0", "positive step count"),
            ("nan@3:1", "takes no"),
        ] {
            let err = Fault::parse(spec).unwrap_err().to_string();
            assert!(
                err.contains("guard.inject") && err.contains(spec) && err.contains(needle),
                "{spec}: {err}"
            );
        }
    }

    #[test]
    fn bad_batch_randomises_targets_only_and_reproducibly() {
        let inj = Injector::new(&["bad-batch@7".into()], 1).unwrap();
        let mut b = batch();
        assert!(!inj.corrupt_batch(6, &mut b, 50));
        assert_eq!(b, batch());
        assert!(inj.corrupt_batch(7, &mut b, 50));
        assert_eq!(b.inputs, batch().inputs);
        assert_ne!(b.targets, batch().targets);
        assert!(b.targets.iter().all(|&t| t < 50));
        let mut again = batch();
        inj.corrupt_batch(7, &mut again, 50);
        assert_eq!(again, b, "same seed and step, same corruption");
    }

    #[test]
    fn corrupt_text_keeps_targets_shifted_by_one_per_stream() {
        let inj = Injector::new(&["corrupt-text@2".into()], 9).unwrap();
        let mut b = batch();
        assert!(inj.corrupt_batch(2, &mut b, 1000));
        assert_ne!(b.inputs, batch().inputs);
        // target at (t, s) is the input at (t + 1, s)
        for t in 0..b.seq_len - 1 {
            for s in 0..b.batch_size {
                assert_eq!(
                    b.targets[t * b.batch_size + s],
                    b.inputs[(t + 1) * b.batch_size + s]
                );
            }
        }
    }

    #[test]
    fn lr_spikes_and_nan_hit_only_their_steps() {
        let inj = Injector::new(&["lr-spike@5:0.1:2".into(), "nan@9".into()], 0).unwrap();
        let lrs: Vec<f32> = (3..9).map(|s| inj.lr(s, 0.001)).collect();
        assert_eq!(lrs, [0.001, 0.001, 0.1, 0.1, 0.001, 0.001]);
        let (mut loss, mut grads) = (1.0, vec![0.5f32; 4]);
        assert!(!inj.poison(8, &mut loss, &mut grads));
        assert_eq!(loss, 1.0);
        assert!(inj.poison(9, &mut loss, &mut grads));
        assert!(loss.is_nan() && grads.iter().all(|g| g.is_nan()));
        assert_eq!(inj.at(9).len(), 1);
        assert!(inj.at(5)[0].starts_with("lr-spike@5:0.1:2"));
        assert!(inj.at(4).is_empty());
    }
}
