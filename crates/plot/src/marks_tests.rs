//! Tests of the finding marks: which mark a finding gets, NaN stretches, spike heights.
use super::*;

fn finding(kind: FindingKind, start: Option<f64>, end: Option<f64>, peak: Option<f64>) -> Finding {
    Finding {
        kind,
        severity: Severity::Warning,
        start_step: start,
        end_step: end,
        peak_step: peak,
        summary: String::new(),
        evidence: Default::default(),
        advice: String::new(),
    }
}

#[test]
fn findings_map_to_marks() {
    assert_eq!(
        mark_of(&finding(
            FindingKind::Spike,
            Some(399.0),
            Some(401.0),
            Some(400.0)
        )),
        Mark::Spike(400.0)
    );
    assert_eq!(
        mark_of(&finding(FindingKind::NonFinite, Some(500.0), None, None)),
        Mark::NonFinite(500.0)
    );
    assert_eq!(
        mark_of(&finding(
            FindingKind::Overfitting,
            Some(100.0),
            Some(800.0),
            None
        )),
        Mark::Range(100.0, 800.0)
    );
    assert_eq!(
        mark_of(&finding(
            FindingKind::InitLossOff,
            Some(0.0),
            Some(0.0),
            None
        )),
        Mark::At(0.0)
    );
    assert_eq!(
        mark_of(&finding(FindingKind::Leakage, None, None, None)),
        Mark::Nowhere
    );
}

#[test]
fn nan_stretches_group_consecutive_points() {
    let v = [1.0, f64::NAN, f64::NAN, 2.0, f64::INFINITY];
    let pts: Vec<Point> = v
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            step: i as f64 * 10.0,
            value,
        })
        .collect();
    assert_eq!(nan_stretches(&pts), [(10.0, 20.0), (40.0, 40.0)]);
}

#[test]
fn spike_value_is_the_local_maximum() {
    let v = [3.0, 3.1, 9.0, 3.0, 12.0];
    let pts: Vec<Point> = v
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            step: i as f64,
            value,
        })
        .collect();
    assert_eq!(spike_value(&pts, 2.0), Some(9.0));
    assert_eq!(
        spike_value(&pts, 100.0),
        Some(12.0),
        "falls back to the nearest finite point"
    );
}
