//! The prepared view of a run every detector reads: finite series, the trend bins, the
//! reference levels (known or estimated) and what the learning-rate log says.

use crate::detect::family::LossFamily;
use crate::detect::stats::{self, Bins};
use crate::detect::{num, step_str};
use crate::{Point, Run};

/// How many bins the trend view uses at most: enough resolution for staircases and episodes,
/// few enough that bin medians average out per-batch noise.
const TREND_BINS: usize = 240;

/// A reference loss level and whether it was measured (metadata, corpus) or estimated from ln V.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefLevel {
    pub value: f64,
    pub estimated: bool,
}

/// The largest vocabulary judged as an alphabet (letters, digits, punctuation: 45–130 symbols
/// in English text); bytes (256) and larger sets have a long tail of rare symbols.
const ALPHABET_MAX: usize = 200;

/// Reference levels in nats per token.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    pub ln_vocab: Option<f64>,
    pub unigram: Option<RefLevel>,
    pub bigram: Option<RefLevel>,
    pub floor: Option<f64>,
}

impl Refs {
    /// Known levels from the run; with only ln V, natural text's unigram and bigram entropies
    /// estimated as fixed fractions of it (see below), which is good enough to tell "ignores
    /// context" from "learned something". Estimates are marked so the report says so.
    pub fn of(run: &Run) -> Refs {
        let r = &run.references;
        let ln_vocab = r
            .ln_vocab
            .or_else(|| run.vocab_size.filter(|&v| v > 1).map(|v| (v as f64).ln()))
            .filter(|v| v.is_finite() && *v > 0.0);
        let alphabet = run.vocab_size.map_or_else(
            || ln_vocab.is_some_and(|l| l <= (ALPHABET_MAX as f64).ln()),
            |v| v <= ALPHABET_MAX,
        );
        // An alphabet's characters sit near 0.8 / 0.6 of ln V; larger vocabularies, whose
        // frequencies follow Zipf's law, near 0.72 / 0.5: words and subwords (12 corpora,
        // V 500–10k in crates/doctor/corpus: 0.64–0.83 and 0.3–0.7), and also bytes and
        // Unicode character sets (V 256–500: bigram 0.42–0.49 ln V), whose many rare symbols
        // raise ln V more than the entropy.
        let (uni, bi) = if alphabet { (0.80, 0.60) } else { (0.72, 0.50) };
        let estimate = |ratio: f64| {
            ln_vocab.map(|l| RefLevel {
                value: ratio * l,
                estimated: true,
            })
        };
        let known = |v: Option<f64>| {
            v.filter(|x| x.is_finite()).map(|value| RefLevel {
                value,
                estimated: false,
            })
        };
        Refs {
            ln_vocab,
            unigram: known(r.unigram).or_else(|| estimate(uni)),
            bigram: known(r.bigram).or_else(|| estimate(bi)),
            floor: r.floor.filter(|x| x.is_finite()),
        }
    }
}

/// Everything a detector needs, computed once.
pub struct Ctx<'a> {
    pub run: &'a Run,
    /// Finite training losses before the first non-finite one (validation when no training
    /// curve was logged).
    pub train: Vec<Point>,
    /// Whether `train` is really the validation curve.
    pub train_is_val: bool,
    pub val: Vec<Point>,
    pub lr: Vec<Point>,
    pub grad: Vec<Point>,
    pub refs: Refs,
    /// Trend view of `train`.
    pub bins: Bins,
    /// Robust noise of the bin medians.
    pub bin_noise: f64,
    /// Offset for the log-step axis: `ln(step + log_offset)`.
    pub log_offset: f64,
    /// Steps where the LR jumped back up after having decayed (warm restarts).
    pub lr_restarts: Vec<f64>,
    /// Steps where the LR dropped abruptly (step-decay schedules).
    pub lr_drops: Vec<f64>,
    /// Short jumps of the LR far above its level that come straight back (a manual change or a
    /// scheduler bug, not a schedule): neither restarts nor drops.
    pub lr_excursions: Vec<LrExcursion>,
    /// The schedule's largest LR (excursions left out).
    pub lr_max: Option<f64>,
    /// What kind of loss this is (decides whether language-model references apply).
    pub family: LossFamily,
}

/// The LR jumping from `before` to `peak` at step `start` and staying up until `end`
/// (inclusive), then falling straight back. Serialises as a finding's `lr_excursion` evidence.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LrExcursion {
    pub start: f64,
    pub end: f64,
    pub before: f64,
    pub peak: f64,
}

impl LrExcursion {
    /// "a jump of the learning rate from … to … (×…) at step …", for a finding's summary.
    pub fn describe(&self) -> String {
        format!(
            "a jump of the learning rate from {} to {} (×{:.0}) at step {}{}",
            num(self.before),
            num(self.peak),
            self.peak / self.before,
            step_str(self.start),
            if self.end > self.start {
                format!(" that lasted until step {}", step_str(self.end))
            } else {
                String::new()
            }
        )
    }
}

fn finite_prefix(points: &[Point]) -> Vec<Point> {
    points
        .iter()
        .take_while(|p| p.value.is_finite() && p.step.is_finite())
        .copied()
        .collect()
}

impl<'a> Ctx<'a> {
    pub fn new(run: &'a Run) -> Ctx<'a> {
        let mut train = finite_prefix(&run.train_loss);
        let val = finite_prefix(&run.val_loss);
        let mut train_is_val = false;
        if train.len() < 5 && val.len() > train.len() {
            train = val.clone();
            train_is_val = true;
        }
        let lr: Vec<Point> = run
            .lr
            .iter()
            .filter(|p| p.value.is_finite() && p.step.is_finite())
            .copied()
            .collect();
        let grad: Vec<Point> = run
            .grad_norm
            .iter()
            .filter(|p| p.value.is_finite() && p.step.is_finite())
            .copied()
            .collect();
        let bins = Bins::of(&train, TREND_BINS);
        let bin_noise = bins.noise();
        let log_offset = stats::log_step_offset(&train);
        let lr_excursions = lr_excursions(&lr);
        let (lr_restarts, lr_drops) = lr_changes(&lr, &lr_excursions);
        let lr_max = lr
            .iter()
            .filter(|p| {
                !lr_excursions
                    .iter()
                    .any(|e| (e.start..=e.end).contains(&p.step))
            })
            .map(|p| p.value)
            .reduce(f64::max);
        let refs = Refs::of(run);
        let mut ctx = Ctx {
            run,
            refs,
            train,
            train_is_val,
            val,
            lr,
            grad,
            bins,
            bin_noise,
            log_offset,
            lr_restarts,
            lr_drops,
            lr_excursions,
            lr_max,
            family: LossFamily::Other { why: String::new() },
        };
        // A known vocabulary says language model whatever the column is called; otherwise the
        // loss's name, where it gives the family away, is firmer than its values.
        let name = if ctx.train_is_val {
            &run.columns.val_loss
        } else {
            &run.columns.train_loss
        };
        let named = name
            .as_deref()
            .filter(|_| ctx.refs.ln_vocab.is_none())
            .and_then(LossFamily::named);
        ctx.family = named.unwrap_or_else(|| {
            LossFamily::infer(
                &ctx.train,
                ctx.refs.ln_vocab.is_some(),
                ctx.init_level(),
                ctx.final_level(),
            )
        });
        ctx
    }

    pub fn first_step(&self) -> f64 {
        self.train.first().map_or(0.0, |p| p.step)
    }

    pub fn last_step(&self) -> f64 {
        self.train.last().map_or(0.0, |p| p.step)
    }

    /// Whether the log starts at the beginning of training (its first step within the first
    /// 2 % of the run, 10 steps, or its first logging interval: HF's first log is at
    /// `logging_steps`), not mid-run (an excerpt, a resumed run).
    pub fn starts_at_beginning(&self) -> bool {
        let interval = crate::detect::stats::logging_interval(&self.train);
        self.first_step() <= 10f64.max(0.02 * self.last_step()).max(1.5 * interval)
    }

    /// Position on the log-step axis, in doublings.
    pub fn log2_step(&self, step: f64) -> f64 {
        (step + self.log_offset).max(1e-9).log2()
    }

    /// The LR in effect at `step`, when logged.
    /// The LR excursion that starts within `window` steps before `onset` or at the latest at
    /// `peak`: the loss answers an LR change on the step after it.
    pub fn lr_excursion_before(&self, onset: f64, peak: f64, window: f64) -> Option<LrExcursion> {
        self.lr_excursions
            .iter()
            .copied()
            .find(|e| e.start >= onset - window && e.start <= peak)
    }

    pub fn lr_at(&self, step: f64) -> Option<f64> {
        stats::value_at(&self.lr, step)
    }

    /// Whether the LR's warm restarts could make a loss pattern that repeats every `period`
    /// steps: the restart cycle (the median gap between restarts), or two or three of it,
    /// within 10 %. A single restart has no cycle to compare with, so it explains any period.
    pub fn restarts_explain(&self, period: f64) -> bool {
        match self.lr_restarts.len() {
            0 => false,
            1 => true,
            _ => {
                let gaps: Vec<f64> = self.lr_restarts.windows(2).map(|w| w[1] - w[0]).collect();
                let cycle = stats::median(&gaps);
                (1..=3).any(|k| (period - k as f64 * cycle).abs() <= 0.1 * k as f64 * cycle)
            }
        }
    }

    /// Whether the LR log shows a warm restart within `window` steps before `step` (or just
    /// after it, as logs are coarse).
    pub fn restart_near(&self, step: f64, window: f64) -> Option<f64> {
        self.lr_restarts
            .iter()
            .rev()
            .copied()
            .find(|&r| r <= step + window * 0.5 && r >= step - window)
    }

    /// Level of the training curve around `step`: median of the bins within ±`half` bins.
    pub fn level_near(&self, step: f64, half: usize) -> f64 {
        if self.bins.is_empty() {
            return f64::NAN;
        }
        let i = self
            .bins
            .step
            .partition_point(|&s| s < step)
            .min(self.bins.len() - 1);
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(self.bins.len());
        stats::median(&self.bins.value[a..b])
    }

    /// One point per epoch, each a mean over the whole epoch (Keras' CSVLogger, Lightning's
    /// `*_epoch` metrics): evenly spaced training points with a validation loss at (nearly)
    /// every one of them, at most a few hundred.
    pub fn epoch_level(&self) -> bool {
        let n = self.train.len();
        if !(5..=300).contains(&n) || self.train_is_val || self.val.len() * 5 < n * 4 {
            return false;
        }
        let gap = self.train[1].step - self.train[0].step;
        let even = gap > 0.0
            && self
                .train
                .windows(2)
                .all(|w| (w[1].step - w[0].step - gap).abs() <= 1e-6 * gap.max(1.0));
        let paired = self
            .val
            .iter()
            .filter(|v| {
                self.train
                    .binary_search_by(|t| t.step.total_cmp(&v.step))
                    .is_ok()
            })
            .count();
        // A known epoch longer than the logging gap says the points are not epochs.
        let under_an_epoch = self.run.steps_per_epoch.is_some_and(|spe| gap < 0.9 * spe);
        even && paired * 5 >= n * 4 && !under_an_epoch
    }

    /// Median of the first few training points: the loss the run started at.
    pub fn init_level(&self) -> f64 {
        let k = (self.train.len() / 50).clamp(1, 5);
        let v: Vec<f64> = self.train.iter().take(k).map(|p| p.value).collect();
        stats::median(&v)
    }

    /// Median of the last ~5% of training points (at least 1, at most 5 bins' worth).
    pub fn final_level(&self) -> f64 {
        let n = self.train.len();
        if n == 0 {
            return f64::NAN;
        }
        let k = (n / 20).max(1);
        let v: Vec<f64> = self.train[n - k..].iter().map(|p| p.value).collect();
        stats::median(&v)
    }
}

/// Abrupt LR changes: upward jumps after decay (restarts) and downward steps (decay schedules).
/// An LR this many times its previous value starts an excursion, which must fall back to
/// within [`EXCURSION_BACK`]× that value, in one step, within [`EXCURSION_POINTS`] points.
const EXCURSION_JUMP: f64 = 3.0;
const EXCURSION_BACK: f64 = 1.5;
const EXCURSION_POINTS: usize = 20;
/// The share of its peak an excursion's LR still holds at its last high point: a cosine warm
/// restart also jumps up and comes back, but decays to the bottom first (0.0063 → 0.0007
/// before 0.0001), where an injected or mistaken LR holds its level until it is undone.
const EXCURSION_HELD: f64 = 0.5;

fn lr_excursions(lr: &[Point]) -> Vec<LrExcursion> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < lr.len() {
        let before = lr[i - 1].value;
        if !(before > 0.0 && lr[i].value > EXCURSION_JUMP * before) {
            i += 1;
            continue;
        }
        let high = EXCURSION_BACK * before;
        let last = (i + EXCURSION_POINTS).min(lr.len());
        // The first point back at the old level; every point up to it stayed high, and the
        // fall into it is abrupt (a warm restart decays smoothly instead).
        let back = (i + 1..last).find(|&j| lr[j].value <= high);
        let peak = |j: usize| lr[i..j].iter().map(|p| p.value).fold(0.0, f64::max);
        match back {
            Some(j)
                if lr[i..j].iter().all(|p| p.value > high)
                    && lr[j - 1].value >= EXCURSION_HELD * peak(j) =>
            {
                out.push(LrExcursion {
                    start: lr[i].step,
                    end: lr[j - 1].step,
                    before,
                    peak: peak(j),
                });
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Warm restarts and abrupt drops of the LR, leaving out the jumps into and out of
/// `excursions`.
fn lr_changes(lr: &[Point], excursions: &[LrExcursion]) -> (Vec<f64>, Vec<f64>) {
    let (mut restarts, mut drops) = (Vec::new(), Vec::new());
    let mut running_max: f64 = 0.0;
    let inside = |step: f64| excursions.iter().any(|e| (e.start..=e.end).contains(&step));
    for w in lr.windows(2) {
        let (a, b) = (w[0].value, w[1].value);
        if inside(w[0].step) || inside(w[1].step) {
            continue;
        }
        running_max = running_max.max(a);
        if a > 0.0 && b > 1.5 * a && a < 0.7 * running_max {
            restarts.push(w[1].step);
        }
        if b > 0.0 && b < 0.6 * a {
            drops.push(w[1].step);
        }
    }
    (restarts, drops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(vals: &[f64]) -> Vec<Point> {
        vals.iter()
            .enumerate()
            .map(|(i, &v)| Point {
                step: i as f64,
                value: v,
            })
            .collect()
    }

    #[test]
    fn a_coarse_log_from_its_first_interval_starts_at_the_beginning_an_excerpt_does_not() {
        let every = |from: usize, to: usize, by: usize| -> crate::Run {
            crate::detect::test_support::run_with(
                (from..=to)
                    .step_by(by)
                    .map(|s| Point {
                        step: s as f64,
                        value: 3.0 - s as f64 / 10_000.0,
                    })
                    .collect(),
                None,
            )
        };
        // HF Trainer, logging_steps 500 over 3000 steps: the first log is at step 500.
        assert!(Ctx::new(&every(500, 3000, 500)).starts_at_beginning());
        // Steps 490-650 of a longer run, every 10.
        assert!(!Ctx::new(&every(490, 650, 10)).starts_at_beginning());
    }

    #[test]
    fn an_alphabet_gets_character_ratios_and_bytes_or_words_the_zipf_ones() {
        let bigram_share = |vocab: usize| {
            let run = crate::detect::test_support::run_with(pts(&[3.0; 10]), Some(vocab));
            let refs = Refs::of(&run);
            refs.bigram.unwrap().value / (vocab as f64).ln()
        };
        assert!((bigram_share(65) - 0.60).abs() < 1e-9);
        assert!((bigram_share(256) - 0.50).abs() < 1e-9);
        assert!((bigram_share(500) - 0.50).abs() < 1e-9);
    }

    #[test]
    fn restarts_and_drops_are_told_apart_from_warmup() {
        let lr = pts(&[0.1, 0.5, 1.0, 0.6, 0.2, 1.0, 0.5, 0.1, 0.1]);
        let (restarts, drops) = lr_changes(&lr, &[]);
        assert_eq!(restarts, vec![5.0]);
        assert_eq!(drops, vec![4.0, 6.0, 7.0]);
    }

    /// Cosine decay from 0.01 over 600 steps after 50 warmup steps.
    fn schedule(i: usize) -> f64 {
        if i < 50 {
            0.01 * (i + 1) as f64 / 50.0
        } else {
            let x = (i - 50) as f64 / 550.0;
            0.001 + 0.009 * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
        }
    }

    #[test]
    fn a_brief_lr_jump_is_an_excursion_not_a_restart() {
        let mut vals: Vec<f64> = (0..600).map(schedule).collect();
        vals[400] = 0.5; // late in the decay: without the rule it would look like a restart
        for v in &mut vals[200..203] {
            *v = 0.2;
        }
        let lr = pts(&vals);
        let found = lr_excursions(&lr);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].start, found[0].end), (200.0, 202.0));
        assert_eq!(
            (found[1].start, found[1].end, found[1].peak),
            (400.0, 400.0, 0.5)
        );
        assert!((found[1].before - schedule(399)).abs() < 1e-12);
        let (restarts, drops) = lr_changes(&lr, &found);
        assert!(
            restarts.is_empty() && drops.is_empty(),
            "{restarts:?} {drops:?}"
        );
        let run = Run {
            lr: lr.clone(),
            ..Run::default()
        };
        let ctx = Ctx::new(&run);
        assert_eq!(ctx.lr_max, Some(0.01), "the schedule's peak, not the jump");
        assert_eq!(ctx.lr_excursion_before(401.0, 403.0, 2.0), Some(found[1]));
        assert_eq!(ctx.lr_excursion_before(410.0, 420.0, 2.0), None);
    }

    #[test]
    fn warmup_and_warm_restarts_are_not_excursions() {
        // Warmup from 1e-5, then cosine cycles of 40 steps that restart to the peak.
        let vals: Vec<f64> = (0..400)
            .map(|i| {
                if i < 20 {
                    1e-5 + 0.01 * i as f64 / 20.0
                } else {
                    let x = ((i - 20) % 40) as f64 / 40.0;
                    0.0005 + 0.0095 * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
                }
            })
            .collect();
        let lr = pts(&vals);
        assert!(lr_excursions(&lr).is_empty());
        let (restarts, _) = lr_changes(&lr, &[]);
        assert_eq!(restarts.len(), 9, "{restarts:?}");
    }

    #[test]
    fn coarsely_logged_warm_restarts_are_restarts_not_excursions() {
        // Cosine cycles of 9 logged points from 0.0064 down to 0.0003: each comes back to
        // where it jumped from within a few points, as an excursion does, but decays there
        // instead of holding its level.
        let vals: Vec<f64> = (0..60)
            .map(|i| {
                let x = (i % 9) as f64 / 9.0;
                1e-4 + 0.0063 * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
            })
            .collect();
        let lr = pts(&vals);
        assert!(lr_excursions(&lr).is_empty(), "{:?}", lr_excursions(&lr));
        let (restarts, _) = lr_changes(&lr, &[]);
        assert_eq!(restarts, vec![9.0, 18.0, 27.0, 36.0, 45.0, 54.0]);
        let run = Run {
            lr,
            ..Run::default()
        };
        let ctx = Ctx::new(&run);
        assert!(ctx.restarts_explain(9.0) && ctx.restarts_explain(18.5));
        assert!(!ctx.restarts_explain(5.0) && !ctx.restarts_explain(13.0));
    }

    #[test]
    fn references_are_estimated_by_vocabulary_kind() {
        let run = Run {
            vocab_size: Some(65),
            ..Run::default()
        };
        let r = Refs::of(&run);
        assert!((r.ln_vocab.unwrap() - 65f64.ln()).abs() < 1e-12);
        assert!(r.unigram.unwrap().estimated);
        let big = Run {
            vocab_size: Some(50257),
            ..Run::default()
        };
        let word = Refs::of(&big).unigram.unwrap();
        assert!(word.estimated);
        assert!((word.value - 0.72 * 50257f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn a_run_without_training_losses_is_judged_on_validation() {
        let run = Run {
            val_loss: pts(&[3.0, 2.5, 2.2, 2.0, 1.9, 1.85]),
            ..Run::default()
        };
        let ctx = Ctx::new(&run);
        assert!(ctx.train_is_val);
        assert_eq!(ctx.train.len(), 6);
    }
}
