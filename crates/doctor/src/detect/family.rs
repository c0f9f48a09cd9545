//! What kind of loss a curve is, inferred from its values when nobody said: the language-model
//! references (ln V, unigram, an implausibly low loss) only apply to a per-token
//! cross-entropy, and a summed multi-head loss or a regression loss must not be judged by them.
//!
//! A cross-entropy is never negative, starts near ln(number of classes) (so under ~1000 even
//! with a wild initialisation), and settles under ln(270k) ≈ 12.5, the largest vocabulary
//! tokenizers use. A curve that breaks one of these is something else, and the report says so.

use crate::detect::num;
use crate::Point;

/// ln of the largest vocabulary in use (≈ 262k tokens): where a per-token cross-entropy settles
/// at the worst (a model that learned nothing sits at ln V).
pub const MAX_LN_VOCAB: f64 = 12.5;
/// No cross-entropy starts this high: that needs logits thousands of nats apart.
const MAX_CROSS_ENTROPY: f64 = 1000.0;
/// A start at least this high is an output space the size of a vocabulary (ln 55), not a
/// handful of classes: only then is a loss collapsing toward zero implausible.
pub const LM_SIZED_START: f64 = 4.0;

#[derive(Debug, Clone, PartialEq)]
pub enum LossFamily {
    /// A per-token (or per-example) cross-entropy; `lm_sized` when its start or a known
    /// vocabulary says the output space is a vocabulary, not a few classes.
    CrossEntropy { lm_sized: bool, why: String },
    /// Anything else (a regression loss, a sum of several losses, a log-likelihood that can
    /// go negative): no language-model reference applies.
    Other { why: String },
}

impl LossFamily {
    pub fn is_cross_entropy(&self) -> bool {
        matches!(self, LossFamily::CrossEntropy { .. })
    }

    pub fn lm_sized(&self) -> bool {
        matches!(self, LossFamily::CrossEntropy { lm_sized: true, .. })
    }

    /// What the report says it assumed.
    pub fn assumption(&self) -> String {
        match self {
            LossFamily::CrossEntropy { why, .. } => {
                format!("read as a per-token cross-entropy ({why})")
            }
            LossFamily::Other { why } => format!(
                "not read as a per-token cross-entropy ({why}): language-model reference levels \
                 are not applied"
            ),
        }
    }

    /// The family a loss's own name gives away, where it names a loss that is no per-token
    /// cross-entropy: a regression error (`mse`, `val_mae`, `smooth_l1`), a variational bound
    /// (`train_elbo_loss`, `kld`), an overlap or metric-learning loss (`dice`, `giou`,
    /// `triplet`), CTC. `None` where the name says nothing (`loss`, `train/loss`) or names a
    /// cross-entropy: then the values decide.
    pub fn named(name: &str) -> Option<LossFamily> {
        const NOT_CROSS_ENTROPY: &[&str] = &[
            "mse",
            "rmse",
            "mae",
            "l1",
            "l2",
            "smoothl1",
            "huber",
            "mape",
            "smape",
            "elbo",
            "kl",
            "kld",
            "dice",
            "iou",
            "giou",
            "diou",
            "ciou",
            "triplet",
            "contrastive",
            "hinge",
            "ctc",
            "wasserstein",
            "chamfer",
            "infonce",
            "ntxent",
        ];
        let lower = name.to_ascii_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let joined = words.concat();
        let hit = words
            .iter()
            .find(|w| NOT_CROSS_ENTROPY.contains(w))
            .map(|w| w.to_string())
            .or_else(|| {
                ["smoothl1", "squarederror", "absoluteerror", "kldiv"]
                    .into_iter()
                    .find(|p| joined.contains(p))
                    .map(str::to_string)
            })?;
        Some(LossFamily::Other {
            why: format!("its name \"{name}\" says it is a {hit} loss"),
        })
    }

    /// Infers the family of `train` (finite points) given what the user told.
    pub fn infer(train: &[Point], vocab_known: bool, init: f64, settled: f64) -> LossFamily {
        if vocab_known {
            return LossFamily::CrossEntropy {
                lm_sized: true,
                why: "the vocabulary size is known".into(),
            };
        }
        let min = train.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
        if min < 0.0 {
            return LossFamily::Other {
                why: format!("it goes negative ({})", num(min)),
            };
        }
        if init > MAX_CROSS_ENTROPY {
            return LossFamily::Other {
                why: format!("it starts at {}, beyond any cross-entropy", num(init)),
            };
        }
        if settled > MAX_LN_VOCAB {
            return LossFamily::Other {
                why: format!(
                    "it settles at {}, above ln of any vocabulary ({}): a sum of losses or a \
                     regression loss",
                    num(settled),
                    num(MAX_LN_VOCAB)
                ),
            };
        }
        // A bad start falls under ln V within a few steps (or, held up by the LR, sits still
        // until it drops); a loss that spends a third of its run above where any cross-entropy
        // lives, falling all the while, falls the way a regression's error does.
        let above: Vec<f64> = train
            .iter()
            .map(|p| p.value)
            .filter(|v| *v > MAX_LN_VOCAB)
            .collect();
        let third = above.len() / 3;
        let falling = third > 0
            && crate::detect::stats::median(&above[above.len() - third..])
                < 0.7 * crate::detect::stats::median(&above[..third]);
        if 3 * above.len() > train.len() && falling {
            let above = above.len();
            return LossFamily::Other {
                why: format!(
                    "{above} of its {} points lie above ln of any vocabulary ({}): a regression \
                     or summed loss",
                    train.len(),
                    num(MAX_LN_VOCAB)
                ),
            };
        }
        // The first logged value counts too: a run that logs its start at ln 4 and then blows
        // up to 112 did not start vocabulary-sized, whatever the median of its first points.
        let first = train.first().map_or(init, |p| p.value);
        // A first value beyond any vocabulary's ln (twice the largest: a sum of two heads) is
        // a blow-up or a bad scale, which says nothing of how many outputs there are.
        let blown_up = first.max(init) > 2.0 * MAX_LN_VOCAB;
        LossFamily::CrossEntropy {
            lm_sized: !blown_up && init.min(first) >= LM_SIZED_START,
            why: format!(
                "non-negative, settles at {} under ln of the largest vocabularies",
                num(settled)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::curve;

    fn family(init: f64, end: f64) -> LossFamily {
        let train = curve(200, |i| end + (init - end) * (-(i as f64) / 20.0).exp());
        LossFamily::infer(&train, false, init, end)
    }

    #[test]
    fn a_loss_named_for_a_regression_or_a_bound_is_no_cross_entropy() {
        for name in [
            "train_elbo_loss",
            "val/mse",
            "loss_smooth_l1",
            "KLD",
            "mean_squared_error",
            "dice_loss",
        ] {
            assert!(LossFamily::named(name).is_some(), "{name}");
        }
        for name in [
            "loss",
            "train/loss",
            "eval_loss",
            "ce_loss",
            "nll",
            "lm loss",
            "model",
        ] {
            assert!(LossFamily::named(name).is_none(), "{name}");
        }
    }

    #[test]
    fn families_from_values() {
        assert!(family(10.9, 3.2).lm_sized());
        assert!(family(2.3, 0.05).is_cross_entropy() && !family(2.3, 0.05).lm_sized());
        // A sum of several heads that settles high, and an MSE in the millions.
        assert!(!family(24.8, 16.0).is_cross_entropy());
        assert!(!family(6.3e6, 2.0e4).is_cross_entropy());
        assert!(!family(6.3e6, 0.5).is_cross_entropy());
        // An MSE regression falling steadily from 145 to 9 (CGCNN): above 12.5 most of the
        // way, unlike a cross-entropy's bad start, which drops under ln V within a few steps.
        let regression = curve(128, |i| 145.0 * (1.0 + i as f64).powf(-0.55));
        assert!(!LossFamily::infer(&regression, false, 145.0, 10.0).is_cross_entropy());
        // A PINN's MSE printed every 10 iterations, 403 → 8.1: above 12.5 for 13 of its 31
        // points, falling steadily, as a regression does (a third of the run, not half).
        let pinn = curve(31, |i| 8.1 + 395.0 * (-(i as f64) / 2.7).exp());
        assert!(!LossFamily::infer(&pinn, false, 403.1, 8.1).is_cross_entropy());
        let bad_start = curve(128, |i| 3.0 + 140.0 * (-(i as f64) / 3.0).exp());
        assert!(LossFamily::infer(&bad_start, false, 143.0, 3.0).is_cross_entropy());
        let negative = curve(100, |i| 1.0 - i as f64 * 0.05);
        assert!(!LossFamily::infer(&negative, false, 1.0, -3.9).is_cross_entropy());
        assert!(LossFamily::infer(&negative, true, 1.0, -3.9).is_cross_entropy());
    }

    #[test]
    fn a_start_logged_at_a_few_classes_loss_is_not_vocabulary_sized_after_a_blow_up() {
        // A 4-class classifier logs ln 4 = 1.39 at step 1, blows up to 112, 10.4, 7.2 under an
        // LR far too high, and settles back at ln 4: the median of its first points (7.2) is
        // vocabulary-sized, its start was not; its stall at chance must stay visible.
        let mut train = curve(300, |_| 1.3863);
        for (i, v) in [1.39, 112.1, 10.38, 7.21, 2.22].into_iter().enumerate() {
            train[i].value = v;
        }
        let f = LossFamily::infer(&train, false, 7.21, 1.3863);
        assert!(f.is_cross_entropy() && !f.lm_sized(), "{f:?}");
        // Started at 7.2 itself: an output space the size of a vocabulary.
        train[0].value = 7.3;
        assert!(LossFamily::infer(&train, false, 7.21, 1.3863).lm_sized());
    }

    #[test]
    fn a_start_beyond_any_vocabulary_says_nothing_of_the_output_space() {
        // A 5-class classifier at an LR far too high: its first mean over ten steps is 43.7,
        // then 5.6, and it sits at ln 5 from then on. The start is a blow-up, not the loss of
        // a uniform guess over a vocabulary: its stall at chance must stay visible.
        let mut train = curve(50, |_| 1.6212);
        train[0].value = 43.7;
        train[1].value = 5.6;
        let f = LossFamily::infer(&train, false, 5.6, 1.6212);
        assert!(f.is_cross_entropy() && !f.lm_sized(), "{f:?}");
        let run = crate::detect::test_support::run_with(train, None);
        let stuck = crate::detect::chance::stuck_at_chance(&crate::detect::Ctx::new(&run));
        assert!(stuck.is_some());
    }
}
