//! The detectors: one module per pathology family, each reading a prepared view of a
//! [`crate::Run`] ([`Ctx`]) and returning [`crate::Finding`]s. [`diagnose`] runs them all and
//! turns the findings into a verdict, with the reasons a healthy run looks healthy.
//!
//! Principles: detectors read the raw series (smoothing delays and spreads spikes), use robust
//! statistics (medians, MADs), judge progress on a log-step axis (healthy power-law decay is not
//! a plateau), let the learning-rate log explain what it explains (warm restarts, annealing),
//! and compare levels with the data's references (ln V, unigram, bigram, floor) when known.

mod context;
mod excursions;
mod gradients;
mod healthy;
mod periodic;
mod progress;
mod sanity;
mod spikes;
pub mod stats;
mod validation;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use context::{Ctx, RefLevel, Refs};

use serde_json::Value;

use crate::report::{Diagnosis, Finding, FindingKind, SeriesInfo, Severity, Verdict};
use crate::Run;

/// Judge a run: every detector, then the verdict (healthy iff no warning or error).
pub fn diagnose(run: &Run) -> Diagnosis {
    let ctx = Ctx::new(run);
    let mut findings = Vec::new();
    findings.extend(sanity::non_finite(&ctx));
    findings.extend(sanity::invalid_loss(&ctx));
    findings.extend(sanity::init_loss_off(&ctx));
    findings.extend(spikes::detect(&ctx));
    findings.extend(excursions::detect(&ctx));
    findings.extend(validation::overfitting(&ctx));
    findings.extend(validation::leakage(&ctx));
    findings.extend(gradients::detect(&ctx));
    findings.extend(periodic::detect(&ctx));
    let progress = progress::detect(&ctx, &findings);
    findings.extend(progress);
    findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(
            a.start_step
                .unwrap_or(0.0)
                .total_cmp(&b.start_step.unwrap_or(0.0)),
        )
    });
    let verdict = if findings.iter().any(|f| f.severity >= Severity::Warning) {
        Verdict::Unhealthy
    } else {
        Verdict::Healthy
    };
    let healthy_reasons = healthy::reasons(&ctx);
    Diagnosis {
        verdict,
        findings,
        references: run.references.clone(),
        series: SeriesInfo {
            points: run.train_loss.len(),
            has_val: !run.val_loss.is_empty(),
            has_lr: !run.lr.is_empty(),
            has_grad_norm: !run.grad_norm.is_empty(),
        },
        healthy_reasons,
    }
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
pub(crate) fn step_str(s: f64) -> String {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        format!("{}", s as i64)
    } else {
        num(s)
    }
}
