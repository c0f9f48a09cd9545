//! Helpers of the SVG structure tests: reading elements and texts back from a rendered SVG,
//! the shared curves and small constructed runs and diagnoses.

use crate::style::{self, hex};
use crate::Frame;
use doctor::{Diagnosis, Finding, FindingKind, Point, References, Run, Severity};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The attributes of every `<tag …>` element.
pub(crate) fn elements(svg: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag} ");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let rest = &svg[i + open.len()..];
            let end = rest.find('>').unwrap_or(rest.len());
            let mut attrs = HashMap::new();
            let mut s = &rest[..end];
            while let Some(eq) = s.find("=\"") {
                let key = s[..eq].trim().to_string();
                let after = &s[eq + 2..];
                let close = after.find('"').unwrap_or(after.len());
                attrs.insert(key, after[..close].to_string());
                s = &after[(close + 1).min(after.len())..];
            }
            attrs
        })
        .collect()
}

pub(crate) fn points(e: &HashMap<String, String>) -> Vec<(f64, f64)> {
    e["points"]
        .split_whitespace()
        .filter_map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

pub(crate) fn polylines_with(
    svg: &str,
    stroke: &str,
    opacity: Option<&str>,
) -> Vec<HashMap<String, String>> {
    elements(svg, "polyline")
        .into_iter()
        .filter(|e| e["stroke"] == stroke && opacity.is_none_or(|o| e["opacity"] == o))
        .collect()
}

/// Text contents of all `<text>` elements.
pub(crate) fn texts(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .filter_map(|t| {
            Some(
                t.split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_string(),
            )
        })
        .collect()
}

pub(crate) fn curve(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/curves/synthetic")
        .join(name);
    if p.is_file() {
        Some(p)
    } else {
        crate::test_skip::skip(
            "RNNLAB_REQUIRE_FIXTURES",
            name,
            &format!("{} is missing (no shared curves here)", p.display()),
        );
        None
    }
}

/// A shared synthetic curve with the corpus' reference levels (V = 65, unigram and bigram from
/// the curves' README), diagnosed by the doctor.
pub(crate) fn load_curve(name: &str) -> Option<(Run, Diagnosis)> {
    let path = curve(name)?;
    let opts = doctor::formats::LoadOptions {
        vocab_size: Some(65),
        ..Default::default()
    };
    let mut run = doctor::formats::load(&path, &opts).expect("shared curve loads");
    run.references.unigram = Some(3.347);
    run.references.bigram = Some(2.484);
    let diagnosis = doctor::diagnose(&run);
    Some((run, diagnosis))
}

pub(crate) fn finding(kind: FindingKind, severity: Severity, start: f64, end: f64) -> Finding {
    Finding {
        kind,
        severity,
        start_step: Some(start),
        end_step: Some(end),
        peak_step: None,
        summary: format!("{} here", kind.name()),
        evidence: Default::default(),
        advice: String::new(),
    }
}

pub(crate) fn diagnosis(findings: Vec<Finding>) -> Diagnosis {
    Diagnosis {
        verdict: if findings.is_empty() {
            doctor::Verdict::Healthy
        } else {
            doctor::Verdict::Unhealthy
        },
        findings,
        references: References::default(),
        series: doctor::report::SeriesInfo {
            points: 0,
            val_points: 0,
            has_val: false,
            has_lr: false,
            has_grad_norm: false,
            steps: None,
            columns: Default::default(),
        },
        reasons: Vec::new(),
    }
}

/// A made-up run: a decaying loss with NaN at steps 250..=259, validation every 50 steps, an lr.
pub(crate) fn synthetic_run(name: &str, scale: f64) -> Run {
    let train_loss = (0..400)
        .map(|i| {
            let value = if (250..260).contains(&i) {
                f64::NAN
            } else {
                scale * (1.5 + 2.5 * (-(i as f64) / 60.0).exp())
            };
            Point {
                step: i as f64,
                value,
            }
        })
        .collect();
    let val_loss = (0..400)
        .step_by(50)
        .map(|i| Point {
            step: i as f64,
            value: scale * (1.6 + 2.5 * (-(i as f64) / 60.0).exp()),
        })
        .collect();
    let lr = (0..400)
        .map(|i| Point {
            step: i as f64,
            value: 1e-3 * (1.0 - i as f64 / 400.0),
        })
        .collect();
    Run {
        name: name.into(),
        train_loss,
        val_loss,
        lr,
        references: References {
            ln_vocab: Some(4.174),
            floor: Some(1.2),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub(crate) fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1.5
}

/// A horizontal dashed reference line sits at `value`'s pixel row.
pub(crate) fn has_reference_line_at(svg: &str, frame: &Frame, value: f64) -> bool {
    let (_, y) = frame
        .pixel(frame.x.scale.inverse(frame.x.lo), value)
        .unwrap();
    polylines_with(svg, &hex(style::REFERENCE), None)
        .iter()
        .filter(|e| points(e).iter().all(|p| near(p.1, y)))
        .count()
        > 10
}
