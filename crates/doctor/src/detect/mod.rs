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
mod tests {
    //! Whole-diagnosis near-misses: runs that look odd but are healthy.
    use super::*;
    use crate::detect::test_support::{curve, per_epoch, run_with, warned, Noise};
    use crate::Point;

    fn noisy(points: Vec<Point>, sd: f64, seed: u64) -> Vec<Point> {
        let mut rng = Noise::new(seed);
        points
            .into_iter()
            .map(|p| Point {
                value: p.value + sd * rng.normal(),
                ..p
            })
            .collect()
    }

    fn assert_healthy(run: &Run) {
        let d = diagnose(run);
        assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
        assert!(!d.reasons.is_empty());
    }

    #[test]
    fn batch_four_noise_with_a_steady_log_step_decline_is_healthy() {
        let loss = curve(5000, |i| 1.3 + 2.9 / (1.0 + i as f64 / 30.0).powf(0.4));
        let mut run = run_with(noisy(loss, 0.3, 11), Some(65));
        run.lr = curve(5000, |_| 1e-3);
        assert_healthy(&run);
    }

    #[test]
    fn cosine_with_warm_restarts_is_healthy_and_the_restarts_explained() {
        let (n, cycle) = (2000usize, 500usize);
        let lr = |i: usize| {
            1e-3 * (0.02
                + 0.98
                    * 0.5
                    * (1.0 + ((i % cycle) as f64 / cycle as f64 * std::f64::consts::PI).cos()))
        };
        let loss = curve(n, |i| {
            let k = i % cycle;
            let bump = if i >= cycle {
                0.35 * (-(k as f64) / 40.0).exp()
            } else {
                0.0
            };
            1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5) + bump
        });
        let mut run = run_with(noisy(loss, 0.03, 12), Some(65));
        run.lr = curve(n, lr);
        let d = diagnose(&run);
        assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
        assert!(
            d.findings.iter().all(|f| f.severity == Severity::Info),
            "{}",
            d.to_terminal()
        );
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("warm restarts at steps 500, 1000, 1500")),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn a_step_decay_schedule_is_healthy() {
        let n = 3000usize;
        let lr = |i: usize| 1e-2 * 0.1f64.powi((i / 1000) as i32);
        let loss = curve(n, |i| {
            let drop = 0.25 * (i / 1000) as f64;
            1.6 + 2.5 / (1.0 + i as f64 / 20.0).powf(0.5) - drop
        });
        let mut run = run_with(noisy(loss, 0.04, 13), Some(65));
        run.lr = curve(n, lr);
        assert_healthy(&run);
    }

    #[test]
    fn a_short_healthy_run_of_fifty_points_is_healthy() {
        let loss = curve(50, |i| 2.3 + 1.9 * (-(i as f64) / 12.0).exp());
        assert_healthy(&run_with(noisy(loss, 0.03, 14), Some(65)));
    }

    #[test]
    fn irregular_steps_with_gaps_are_fine() {
        let loss: Vec<Point> = curve(3000, |i| 1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5))
            .into_iter()
            .filter(|p| !(800.0..1400.0).contains(&p.step) && (p.step as usize) % 3 != 1)
            .collect();
        assert_healthy(&run_with(noisy(loss, 0.03, 15), Some(65)));
    }

    #[test]
    fn an_empty_run_is_inconclusive_and_says_why() {
        let d = diagnose(&Run::default());
        assert_eq!(d.verdict, Verdict::Inconclusive);
        assert!(d.reasons[0].contains("too few"), "{:?}", d.reasons);
        let json: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(json["verdict"], "inconclusive");
    }

    #[test]
    fn one_spike_is_one_finding() {
        // A single batch sends the loss to 50.3; the trend bins see a short bump too.
        let mut loss = noisy(
            curve(2000, |i| 1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5)),
            0.02,
            16,
        );
        for (k, v) in [50.3, 30.0, 12.0, 5.0].into_iter().enumerate() {
            loss[1000 + k].value = v;
        }
        let d = diagnose(&run_with(loss, Some(65)));
        assert_eq!(warned(&d), [FindingKind::Spike], "{}", d.to_terminal());
    }

    #[test]
    fn an_epoch_mean_jump_after_an_lr_excursion_is_one_finding() {
        // A regression logged as means with validation at every point (task run 71-004): the
        // LR jumps ×47 for one step at 120 and the mean jumps 1.28 → 5.86, back by 170. The
        // jump (read as an epoch mean's instability) and the climb it leaves are one event.
        let rows = [
            (8.184, 6.711),
            (4.634, 2.909),
            (2.065, 1.723),
            (1.995, 1.472),
            (1.512, 1.491),
            (1.381, 1.347),
            (1.550, 1.452),
            (1.194, 1.366),
            (1.229, 1.387),
            (1.280, 1.386),
            (1.148, 1.290),
            (2.112, 6.172),
            (5.865, 4.735),
            (3.753, 3.487),
            (2.854, 2.459),
            (2.144, 1.943),
            (1.635, 1.622),
            (1.478, 1.438),
            (1.311, 1.368),
            (1.371, 1.351),
            (1.044, 1.330),
            (1.146, 1.314),
            (1.271, 1.312),
            (1.271, 1.296),
            (1.090, 1.290),
            (1.200, 1.290),
            (1.023, 1.290),
            (1.121, 1.289),
            (1.153, 1.289),
            (1.435, 1.289),
        ];
        let at = |i: usize, v: f64| Point {
            step: 10.0 * (i + 1) as f64,
            value: v,
        };
        let mut run = run_with(
            rows.iter().enumerate().map(|(i, r)| at(i, r.0)).collect(),
            None,
        );
        run.val_loss = rows.iter().enumerate().map(|(i, r)| at(i, r.1)).collect();
        run.lr = (0..30)
            .map(|i| {
                at(
                    i,
                    if i == 11 {
                        0.0713
                    } else {
                        0.0022 * (1.0 - i as f64 / 30.0)
                    },
                )
            })
            .collect();
        let d = diagnose(&run);
        assert_eq!(
            warned(&d),
            [FindingKind::Instability],
            "{}",
            d.to_terminal()
        );
        // A classifier's means (task run 76-031): LR ×50 at step 190, the mean 0.58 → 2.61,
        // and still a tenth above its earlier level after: the jump says the lost ground itself.
        let rows = [
            (1.559, 1.556),
            (1.494, 1.483),
            (1.448, 1.373),
            (1.278, 1.220),
            (0.983, 1.055),
            (1.015, 0.925),
            (1.008, 0.844),
            (0.873, 0.795),
            (0.663, 0.777),
            (0.737, 0.795),
            (0.941, 0.765),
            (0.818, 0.749),
            (0.767, 0.757),
            (0.747, 0.747),
            (0.678, 0.766),
            (0.553, 0.755),
            (0.619, 0.782),
            (0.585, 0.758),
            (2.606, 1.437),
            (1.060, 1.177),
            (1.270, 1.083),
            (1.112, 1.027),
            (0.949, 0.960),
            (0.948, 0.898),
            (0.765, 0.865),
            (0.912, 0.835),
            (0.643, 0.817),
            (0.844, 0.804),
            (0.902, 0.799),
            (0.985, 0.787),
        ];
        run.train_loss = rows.iter().enumerate().map(|(i, r)| at(i, r.0)).collect();
        run.val_loss = rows.iter().enumerate().map(|(i, r)| at(i, r.1)).collect();
        run.lr = (0..30)
            .map(|i| at(i, if i == 18 { 0.0315 } else { 0.00063 }))
            .collect();
        let d = diagnose(&run);
        let instabilities = warned(&d)
            .into_iter()
            .filter(|k| *k == FindingKind::Instability)
            .count();
        assert_eq!(instabilities, 1, "{}", d.to_terminal());
    }

    #[test]
    fn validation_frozen_after_the_lr_reached_zero_is_the_one_lr_finding() {
        // An exponential decay that reaches 0 at step 80 of 300 (rnnlab draw 34, run 028):
        // training scatters around 1.85 from there and validation reads 1.853 at every
        // evaluation from step 100. The LR at 0 explains the frozen evaluations: one finding.
        let mut rng = crate::detect::test_support::Noise::new(5);
        let train: Vec<Point> = (0..300)
            .map(|i| Point {
                step: i as f64,
                value: (1.85 + 2.0 * (-(i as f64) / 15.0).exp()) * (1.0 + 0.02 * rng.normal()),
            })
            .collect();
        let mut run = run_with(train, Some(47));
        run.val_loss = (1..=15)
            .map(|k| {
                let step = 20.0 * k as f64;
                let value = if step >= 100.0 {
                    1.853
                } else {
                    1.85 + 2.0 * (-step / 15.0).exp()
                };
                Point { step, value }
            })
            .collect();
        run.lr = (0..300)
            .map(|i| Point {
                step: i as f64,
                value: if i < 80 { 0.6 * 0.9f64.powi(i) } else { 0.0 },
            })
            .collect();
        let d = diagnose(&run);
        let stalls = d
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Stagnation && f.severity >= Severity::Warning)
            .count();
        assert_eq!(stalls, 1, "{}", d.to_terminal());
        assert!(d
            .findings
            .iter()
            .any(|f| f.evidence.contains_key("lr_zero_from")));
    }

    #[test]
    fn six_epochs_with_validation_at_each_are_enough_six_losses_alone_are_not() {
        let mut run = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.92, 0.66]), None);
        assert_eq!(diagnose(&run).verdict, Verdict::Inconclusive);
        run.val_loss = per_epoch(&[1.4, 1.1, 0.97, 0.9, 0.86, 0.84]);
        let d = diagnose(&run);
        assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    }

    #[test]
    fn six_losses_each_lower_than_the_last_are_healthy_so_far() {
        // A maintainer's reference log, one line per epoch: every value under the one before.
        let run = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.72, 0.66]), None);
        let d = diagnose(&run);
        assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
        assert!(
            d.reasons[0].contains("lower than the one before"),
            "{:?}",
            d.reasons
        );
        // Five points are too few, and so is a fall of 2 % in all (a flat stretch).
        let five = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.72]), None);
        assert_eq!(diagnose(&five).verdict, Verdict::Inconclusive);
        let flat = run_with(per_epoch(&[2.00, 1.998, 1.995, 1.99, 1.985, 1.98]), None);
        assert_eq!(diagnose(&flat).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn three_points_are_not_healthy() {
        let loss = vec![
            Point {
                step: 0.0,
                value: 2.3,
            },
            Point {
                step: 1.0,
                value: 2.1,
            },
            Point {
                step: 2.0,
                value: 2.0,
            },
        ];
        let d = diagnose(&run_with(loss, None));
        assert_eq!(d.verdict, Verdict::Inconclusive, "{}", d.to_terminal());
        assert!(
            d.reasons.iter().any(|r| r.contains("at least")),
            "{:?}",
            d.reasons
        );
    }
}
