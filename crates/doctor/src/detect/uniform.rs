//! A language model whose loss sits at (or above) ln V, the loss of a uniform guess over the
//! vocabulary, has learned nothing — but why decides the fix, and it shows in the curve:
//! - A uniform prediction's loss is exactly ln V on every batch: sitting there, the loss has
//!   no batch noise. A wide band at ln V is a model making confident predictions that are
//!   wrong half the time: steps too large to keep anything (lower the LR), not too small.
//! - Back at ln V after having been clearly below it, the model forgot what it learned
//!   (divergence), which a higher LR would repeat.
//! - Above ln V the updates destroy what they learn; only a bad init that starts there and
//!   sits still, in a narrow band, is a stall.
//! - Only a quiet loss at ln V from the start is a model not learning at all (raise the LR,
//!   check that the optimizer steps).

use serde_json::{json, Value};

use crate::detect::stats::rolling_median;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// Relative noise (robust sd / level) above which a stalled run is called oscillating.
pub const WIDE_NOISE: f64 = 0.08;
/// A loss this far above ln V is worse than a uniform guess whatever its noise ...
const ABOVE_UNIFORM: f64 = 1.2;
/// ... and this far above it when it thrashes in a wide band.
const ABOVE_UNIFORM_THRASHING: f64 = 1.05;

/// What the progress judgement measured of a run whose level is near or above ln V.
pub struct AtUniform<'a> {
    pub ctx: &'a Ctx<'a>,
    pub ln_vocab: f64,
    /// The level judged (validation's when there is one).
    pub level: f64,
    /// The training curve's level at the end of the judging window.
    pub train_level: f64,
    /// Relative noise of the training curve over the judging window.
    pub band: f64,
    /// The training loss still climbs over the window.
    pub rising: bool,
    pub onset: f64,
    pub to: f64,
    pub rate_text: &'a str,
    pub lr_text: &'a str,
    pub evidence: Value,
}

impl AtUniform<'_> {
    fn thrashing(&self) -> bool {
        self.band >= WIDE_NOISE
    }

    /// The lowest the training curve got (median of neighbouring trend bins) and where, when
    /// it was clearly (5 % of ln V, and 3 bin noises) below where it ends.
    fn forgotten_best(&self) -> Option<(f64, f64)> {
        let bins = &self.ctx.bins;
        let smooth = rolling_median(&bins.value, 2);
        let (i, best) = smooth
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        let margin = (0.05 * self.ln_vocab).max(3.0 * self.ctx.bin_noise);
        (self.train_level - best > margin).then_some((best, bins.step[i]))
    }

    /// Whether the loss got above ln V by climbing there: it started under it (or near it), or
    /// its first logged point, a mean over the first steps, is followed by higher ones (the LR
    /// blew the model up in those steps; a bad init can only fall from its start).
    fn climbed(&self) -> bool {
        self.ctx.train[0].value <= ABOVE_UNIFORM * self.ln_vocab
            || crate::detect::init_loss::head_climbs(&self.ctx.train)
    }

    /// A training loss that climbed above ln V and, though it falls again, still stands above
    /// it at the end of the judging window: the updates wrecked the model early and it has not
    /// recovered even a uniform guess's loss. Not underfitting (nothing says the model is too
    /// small): the LR is. `None` where the loss started above ln V (a bad init, said by
    /// init_loss_off) or stands under [`ABOVE_UNIFORM`] ln V.
    pub fn blown_up_and_recovering(&self) -> Option<Finding> {
        let l = self.ln_vocab;
        if self.train_level <= ABOVE_UNIFORM * l || !self.climbed() {
            return None;
        }
        let t = &self.ctx.train;
        let peak = t
            .iter()
            .max_by(|a, b| a.value.total_cmp(&b.value))
            .copied()?;
        Some(finding(
            FindingKind::Instability,
            Severity::Warning,
            Span::range(self.ctx.first_step(), self.to).with_peak(peak.step),
            format!(
                "Loss blows up from {} at step {} to {} at step {} and, though it falls again, still                  stands at {} at step {}, above ln V = {} (a uniform guess): the updates wrecked the                  model early and it has not yet recovered even a uniform guess's loss{} ({}).",
                num(t[0].value),
                step_str(t[0].step),
                num(peak.value),
                step_str(peak.step),
                num(self.train_level),
                step_str(self.to),
                num(l),
                self.lr_text,
                self.rate_text
            ),
            self.with(json!({ "blown_up": true, "first_loss": t[0].value, "peak_loss": peak.value,
                              "peak_step": peak.step })),
            "Lower the learning rate ×0.1 (with SGD on an RNN keep it at 0.1–1, with Adam at 1e-3 or              below), clip gradients at 1.0, and warm the LR up over the first 100–200 steps.",
        ))
    }

    fn with(&self, extra: Value) -> Value {
        let mut e = self.evidence.clone();
        if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
            m.extend(x);
        }
        e
    }

    fn band_finding(&self) -> Finding {
        finding(
            FindingKind::Oscillation,
            Severity::Warning,
            Span::range(self.onset, self.to),
            format!(
                "Loss swings in a wide band (robust sd {:.0}% of the level {}) at or above ln V = {}: a \
                 uniform guess's loss is ln V on every batch, so a band this wide means confident \
                 predictions, right on some batches and badly wrong on others{} ({}).",
                100.0 * self.band,
                num(self.level),
                num(self.ln_vocab),
                self.lr_text,
                self.rate_text
            ),
            self.with(json!({ "onset_step": self.onset, "relative_noise": self.band })),
            "Lower the learning rate ×0.1 and clip gradients at 1.0; with SGD on an RNN keep the LR \
             at 0.1–1, with Adam at 1e-3 or below.",
        )
    }

    /// The findings for a level at or above `0.9 ln V`; `stalled`: no progress over the
    /// window (else the run still falls, slowly).
    pub fn judge(&self, stalled: bool) -> Vec<Finding> {
        let l = self.ln_vocab;
        let level = self.level;
        let thrashing = self.thrashing();
        let worse = level > ABOVE_UNIFORM * l || (thrashing && level > ABOVE_UNIFORM_THRASHING * l);
        let first = self.ctx.train[0].value;
        let climbed = first <= ABOVE_UNIFORM * l;
        if worse && (climbed || self.rising || thrashing) {
            let how = if climbed {
                format!(
                    "climbs from {} at step {} to",
                    num(first),
                    step_str(self.ctx.first_step())
                )
            } else if self.rising {
                "keeps climbing to".to_string()
            } else {
                format!(
                    "bounces in a wide band (robust sd {:.0}% of the level) around",
                    100.0 * self.band
                )
            };
            let mut out = vec![self.diverged(
                format!(
                    "Loss {how} {}, above ln V = {} (a uniform guess), and stays there: the updates \
                     destroy what the model learns{} ({}).",
                    num(level),
                    num(l),
                    self.lr_text,
                    self.rate_text
                ),
                json!({ "first_loss": first, "climbed_from_start": climbed, "rising": self.rising }),
            )];
            if thrashing {
                out.push(self.band_finding());
            }
            return out;
        }
        if worse {
            // A bad init (the first loss far above ln V) that sits still in a narrow band.
            return vec![self.stall(
                format!(
                    "Loss stays at {}, above ln V = {} (a uniform guess): every step undoes what the \
                     last one learned ({}).",
                    num(level),
                    num(l),
                    self.rate_text
                ),
                "Lower the learning rate ×0.1, clip gradients at 1.0, and check the output layer's init \
                 and the loss reduction (per-token mean).",
            )];
        }
        if let Some((best, at)) = self.forgotten_best() {
            let mut out = vec![self.diverged(
                format!(
                    "Loss climbs back from {} at step {} to {}, a uniform guess's loss (ln V = {}): the \
                     model forgot what it had learned{} ({}).",
                    num(best),
                    step_str(at),
                    num(self.train_level),
                    num(l),
                    self.lr_text,
                    self.rate_text
                ),
                json!({ "best_level": best, "best_step": at }),
            )];
            if thrashing {
                out.push(self.band_finding());
            }
            return out;
        }
        if thrashing {
            return vec![
                self.band_finding(),
                self.stall(
                    format!(
                        "Loss makes no progress inside that band: level {} ≈ ln V = {} from step {} to {} \
                         ({}).",
                        num(level),
                        num(l),
                        step_str(self.onset),
                        step_str(self.to),
                        self.rate_text
                    ),
                    "The steps are too large for the model to keep anything: lower the learning rate \
                     ×0.1 rather than raising it.",
                ),
            ];
        }
        let text = if stalled {
            format!(
                "Loss stays at {} ≈ ln V = {} (a uniform guess): the model is not learning ({}).",
                num(level),
                num(l),
                self.rate_text
            )
        } else {
            format!(
                "Loss is still at {} by step {}, {} ln V = {} (a uniform guess), and falls only \
                 slowly{}: the model is barely learning ({}).",
                num(level),
                step_str(self.to),
                if level > l { "above" } else { "near" },
                num(l),
                self.lr_text,
                self.rate_text
            )
        };
        vec![self.stall(
            text,
            "Raise the learning rate ×10 (Adam: 1e-3 to 3e-3 for small models; SGD on an RNN: 0.1–1); \
             check that optimizer.step() runs, that zero_grad() is not called between backward() and \
             step(), and that no layer is frozen.",
        )]
    }

    fn diverged(&self, text: String, extra: Value) -> Finding {
        finding(
            FindingKind::Divergence,
            Severity::Error,
            Span::range(self.onset, self.to),
            text,
            self.with(extra),
            "Lower the learning rate ×0.1 and clip gradients at 1.0; check the loss reduction (a \
             per-token mean, not a sum) and add 200+ warmup steps.",
        )
    }

    fn stall(&self, text: String, advice: &str) -> Finding {
        finding(
            FindingKind::Stagnation,
            Severity::Warning,
            Span::range(self.onset, self.to),
            text,
            self.with(json!({ "onset_step": self.onset })),
            advice,
        )
    }
}

#[cfg(test)]
#[path = "uniform_tests.rs"]
mod tests;
