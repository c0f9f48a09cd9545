//! The detectors: one module per pathology family, each reading a prepared view of a
//! [`crate::Run`] ([`Ctx`]) and returning [`crate::Finding`]s. [`diagnose`] runs them all and
//! turns the findings into a verdict, with the reasons a healthy run looks healthy.
//!
//! Principles: detectors read the raw series (smoothing delays and spreads spikes), use robust
//! statistics (medians, MADs), judge progress on a log-step axis (healthy power-law decay is not
//! a plateau), let the learning-rate log explain what it explains (warm restarts, annealing),
//! and compare levels with the data's references (ln V, unigram, bigram, floor) when known.

mod band;
mod chance;
mod context;
mod drift;
mod early_breaks;
mod excursions;
mod family;
mod frozen;
mod gradients;
mod guard;
mod healthy;
mod init_loss;
mod mismatch;
mod near_start;
mod pace;
mod periodic;
pub(crate) mod progress;
mod sanity;
mod schedule;
mod spike_tails;
mod spikes;
mod spikes_short;
pub mod stats;
mod trend;
mod underfit;
mod uniform;
mod validation;
mod zeros;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod eval_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use context::{Ctx, RefLevel, Refs};

use serde_json::Value;

use crate::report::{Diagnosis, Finding, FindingKind, SeriesInfo, Severity, Verdict};
use crate::Run;

/// Judge a run: every detector, then the verdict: unhealthy on any warning or error,
/// inconclusive when nothing is wrong but the evidence is too thin, else healthy.
pub fn diagnose(run: &Run) -> Diagnosis {
    let ctx = Ctx::new(run);
    let mut findings = Vec::new();
    findings.extend(sanity::non_finite(&ctx));
    findings.extend(sanity::invalid_loss(&ctx));
    findings.extend(init_loss::init_loss_off(&ctx));
    findings.extend(sanity::saturated(&ctx));
    findings.extend(sanity::frozen_from_the_start(&ctx));
    findings.extend(spikes::detect(&ctx));
    findings.extend(excursions::detect(&ctx));
    findings.extend(validation::overfitting(&ctx));
    let worse = validation::worse_on_both(&ctx, &findings);
    findings.extend(worse);
    findings.extend(frozen::frozen(&ctx));
    findings.extend(mismatch::training_flat_while_validation_learns(&ctx));
    findings.extend(validation::leakage(&ctx));
    findings.extend(gradients::detect(&ctx));
    findings.extend(periodic::detect(&ctx));
    findings.extend(chance::stalled_at_chance_first(&ctx));
    let progress = progress::detect(&ctx, &findings);
    if progress.is_empty() && !findings.iter().any(|f| f.severity >= Severity::Warning) {
        findings.extend(schedule::decayed_too_early(&ctx));
    }
    findings.extend(progress);
    findings.extend(schedule::lr_at_zero(&ctx));
    if !findings
        .iter()
        .any(|f| f.kind == FindingKind::Oscillation && f.severity >= Severity::Warning)
    {
        findings.extend(band::widening(&ctx));
    }
    if let Some(f) = band::crossing_uniform(&ctx, &findings) {
        findings.push(f);
    }
    findings.extend(band::validation_swings(&ctx));
    one_event_one_finding(&mut findings);
    let sampling = band::take_sampling_band(&mut findings);
    findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(
            a.start_step
                .unwrap_or(0.0)
                .total_cmp(&b.start_step.unwrap_or(0.0)),
        )
    });
    // Too few points, a loss whose sign swings about zero, a band no reference can read:
    // each reason the evidence is thin.
    let negative = sanity::negative_of_unknown_kind(&ctx, &findings);
    let thin: Vec<String> = [
        healthy::too_thin(&ctx),
        match &negative {
            Some(sanity::NegativeLoss::SwingsAboutZero(why)) => Some(vec![why.clone()]),
            _ => None,
        },
        band::unexplained_band(&findings),
    ]
    .into_iter()
    .flatten()
    .flatten()
    .collect();
    let inconclusive = (!thin.is_empty()).then_some(thin);
    let (verdict, reasons) = if findings.iter().any(|f| f.severity >= Severity::Warning) {
        (Verdict::Unhealthy, Vec::new())
    } else if let Some(why) = inconclusive {
        (Verdict::Inconclusive, why)
    } else {
        let mut why = healthy::reasons(&ctx);
        why.extend(sampling);
        if let Some(sanity::NegativeLoss::SignedByDesign(note)) = negative {
            why.push(note);
        }
        (Verdict::Healthy, why)
    };
    Diagnosis {
        verdict,
        findings,
        // ln V from the vocabulary size when only that was given; estimates stay out.
        references: crate::References {
            ln_vocab: ctx.refs.ln_vocab,
            ..run.references.clone()
        },
        series: SeriesInfo {
            points: run.train_loss.len(),
            val_points: run.val_loss.len(),
            has_val: !run.val_loss.is_empty(),
            has_lr: !run.lr.is_empty(),
            has_grad_norm: !run.grad_norm.is_empty(),
            steps: run
                .train_loss
                .first()
                .zip(run.train_loss.last())
                .map(|(a, b)| (a.step, b.step)),
            columns: run.columns.clone(),
        },
        reasons,
    }
}

/// A spike and the short instability it leaves in the trend are one event: the instability
/// episode that holds a spike's peak is dropped, the spike (which says more) stays.
fn one_event_one_finding(findings: &mut Vec<Finding>) {
    // A cycle of spikes whose next one is cut off by the end of the log leaves a rise that
    // "does not come back": that is the cycle, not a divergence.
    let next_of_cycle: Vec<(f64, f64)> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Periodic)
        .filter_map(|f| {
            let d = f.evidence.get("period_steps")?.as_f64()?;
            let last = f
                .evidence
                .get("spike_steps")?
                .as_array()?
                .last()?
                .as_f64()?;
            Some((last, d))
        })
        .collect();
    // The same cycle of events seen twice (as spikes and as the bad stretches they leave): one.
    let mut cycles_seen: Vec<f64> = Vec::new();
    findings.retain(|f| {
        if f.kind != FindingKind::Periodic || !f.evidence.contains_key("spike_steps") {
            return true;
        }
        let Some(d) = f.evidence.get("period_steps").and_then(|v| v.as_f64()) else {
            return true;
        };
        let again = cycles_seen.iter().any(|&c| (c - d).abs() <= 0.15 * d);
        cycles_seen.push(d);
        !again
    });
    // The same cycle seen twice (as a repeating pattern and as its spikes): the spikes say more.
    findings.retain(|f| {
        f.kind != FindingKind::Periodic
            || f.evidence.contains_key("spike_steps")
            || !next_of_cycle.iter().any(|&(_, d)| {
                f.evidence
                    .get("steps_per_epoch")
                    .and_then(|v| v.as_f64())
                    .is_some_and(|p| (p - d).abs() <= 0.15 * d)
            })
    });
    findings.retain(|f| {
        !matches!(f.kind, FindingKind::Divergence | FindingKind::UpwardDrift)
            || !next_of_cycle.iter().any(|&(last, d)| {
                f.start_step.is_some_and(|s| s >= last + 0.5 * d)
                    && f.peak_step.is_some_and(|p| p >= last + 0.8 * d)
            })
    });
    // Validation at exactly 0 at every evaluation is a loss not measured: not leakage too.
    let validation_unmeasured = findings.iter().any(frozen::is_unmeasured_validation);
    findings.retain(|f| !(validation_unmeasured && f.kind == FindingKind::Leakage));
    // Guard interventions the gradient judgement names as handled (the norm spiked, the guard
    // skipped that update) are that finding's: not again as interventions with no loss spike.
    let handled_by_gradients: Vec<f64> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::ExplodingGradients)
        .filter_map(|f| f.evidence.get("handled_steps").and_then(|v| v.as_array()))
        .flatten()
        .filter_map(|v| v.as_f64())
        .collect();
    findings.retain(|f| {
        let Some(steps) = f.evidence.get("guard_steps").and_then(|v| v.as_array()) else {
            return true;
        };
        !steps
            .iter()
            .filter_map(|v| v.as_f64())
            .all(|s| handled_by_gradients.contains(&s))
    });
    // Validation frozen after the LR reached 0 is that LR, said once: no update, no change.
    let lr_zero_from = findings
        .iter()
        .find_map(|f| f.evidence.get("lr_zero_from").and_then(|v| v.as_f64()));
    if let Some(zero) = lr_zero_from {
        findings.retain(|f| {
            !(f.evidence.contains_key("frozen_evals") && f.start_step.is_some_and(|s| s >= zero))
        });
    }
    // A spike after which the loss stays a tenth or more above where it was has cost progress
    // that the spike finding alone does not tell: the lost ground stays a finding of its own.
    // (Spikes of a cycle are the cycle's business.)
    let lost_ground = |f: &Finding| {
        if f.evidence.get("in_cycle").and_then(|v| v.as_bool()) == Some(true) {
            return false;
        }
        let get = |k: &str| f.evidence.get(k).and_then(|v| v.as_f64());
        matches!((get("level_before"), get("level_after")), (Some(b), Some(a)) if a > 1.1 * b)
    };
    // On an epoch-level log a spike is reported as instability (the mean of an epoch lost
    // ground); it is still the spike judgement, and the climb it leaves the same event.
    let spike_like = |f: &Finding| {
        f.kind == FindingKind::Spike
            || (f.kind == FindingKind::Instability && f.evidence.contains_key("robust_z"))
    };
    let peaks: Vec<f64> = findings
        .iter()
        // (An epoch-mean jump already says the ground it lost: it is an instability itself.)
        .filter(|f| spike_like(f) && (f.kind == FindingKind::Instability || !lost_ground(f)))
        .filter_map(|f| f.peak_step)
        .collect();
    // (A run blown up above ln V for its whole length is no episode a spike leaves.)
    findings.retain(|f| {
        f.kind != FindingKind::Instability
            || spike_like(f)
            || f.evidence.contains_key("blown_up")
            || !peaks.iter().any(|&p| {
                f.start_step.is_some_and(|s| s <= p) && f.end_step.is_some_and(|e| p <= e)
            })
    });
}

/// Where a finding sits on the step axis.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub peak: Option<f64>,
}

impl Span {
    pub fn at(step: f64) -> Span {
        Span {
            start: Some(step),
            end: Some(step),
            peak: Some(step),
        }
    }

    pub fn range(start: f64, end: f64) -> Span {
        Span {
            start: Some(start),
            end: Some(end),
            peak: None,
        }
    }

    pub fn with_peak(mut self, peak: f64) -> Span {
        self.peak = Some(peak);
        self
    }
}

/// Build a finding; numbers in `evidence` are rounded to 4 significant digits, non-finite
/// ones become null.
pub(crate) fn finding(
    kind: FindingKind,
    severity: Severity,
    span: Span,
    summary: String,
    evidence: Value,
    advice: impl Into<String>,
) -> Finding {
    let evidence = match round_numbers(evidence) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Finding {
        kind,
        severity,
        start_step: span.start,
        end_step: span.end,
        peak_step: span.peak,
        summary,
        evidence,
        advice: advice.into(),
    }
}

fn round_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = stats::round4(n.as_f64().unwrap_or(f64::NAN));
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(round_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, round_numbers(v))).collect())
        }
        other => other,
    }
}

/// Format a number for a sentence: 4 significant digits, no trailing noise.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let r = stats::round4(x);
    if r.abs() >= 1e5 || (r != 0.0 && r.abs() < 1e-3) {
        format!("{r:.3e}")
    } else {
        let s = format!("{r}");
        s
    }
}

/// Format a step: integral steps without a decimal point.
pub fn step_str(s: f64) -> String {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        format!("{}", s as i64)
    } else {
        num(s)
    }
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;
