//! Tests of the progress judgement with validation beside training: what a quiet validation
//! curve says about a wide or flat training band when no reference level is known.
use super::*;
use crate::detect::test_support::{curve, run_with, Noise};
use crate::Point;

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

/// A classifier at batch 8 after a fast drop from `start` to 0.28: per-batch losses scatter
/// ±20 % (one point every 50 steps); validation from `first_eval` on sits quietly near 0.28.
fn classifier(start: f64, first_eval: usize) -> crate::Run {
    let mut rng = Noise::new(17);
    let at = |i: usize| 0.28 + (start - 0.28) * (-(i as f64) / 3.0).exp();
    let loss: Vec<Point> = curve(60, at)
        .into_iter()
        .map(|p| Point {
            step: 50.0 * (p.step + 1.0),
            value: p.value * (0.2 * rng.normal()).exp(),
        })
        .collect();
    let mut run = run_with(loss, None);
    run.val_loss = curve(60, |i| at(i) + 0.0015 * (i % 3) as f64)
        .into_iter()
        .skip(first_eval)
        .map(|p| Point {
            step: 50.0 * (p.step + 1.0),
            ..p
        })
        .collect();
    run
}

#[test]
fn a_classifier_whose_validation_settled_at_its_best_is_converged_not_bouncing() {
    // A fine-tuned classifier at batch 8: per-batch losses scatter ±20 % around 0.3 after a
    // fast drop from ln 2; validation, evaluated every 50 steps, sits quietly at its best.
    let mut rng = Noise::new(17);
    let loss: Vec<Point> = curve(60, |i| 0.28 + 0.41 * (-(i as f64) / 3.0).exp())
        .into_iter()
        .map(|p| Point {
            step: 50.0 * (p.step + 1.0),
            value: p.value * (0.2 * rng.normal()).exp(),
        })
        .collect();
    let mut run = run_with(loss, None);
    // Without validation (or a vocabulary) the band is all there is to go by, and it cannot be
    // told from the batches' scatter: information only, the verdict left open.
    let f = detect(&Ctx::new(&run), &[]);
    assert_eq!(kinds(&run), vec![FindingKind::Oscillation], "{f:?}");
    assert_eq!(f[0].severity, Severity::Info);
    run.val_loss = curve(60, |i| 0.28 + 0.40 * (-(i as f64) / 3.0).exp())
        .into_iter()
        .map(|p| Point {
            step: 50.0 * (p.step + 1.0),
            ..p
        })
        .collect();
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
}

#[test]
fn validation_first_evaluated_after_the_drop_still_says_the_band_is_sampling() {
    // The same classifier, evaluated only from step 1000, when training has already fallen
    // from 0.69 to 0.28: validation starts at its settled level, so it never "fell well below
    // its first evaluation". The training loss did, before it: a converged run, not a band of
    // LR-driven bounces (task runs: a 2-class mixture at label noise 0.2, val 0.404 → 0.377).
    let run = classifier(0.69, 20);
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    // A first loss far off (a blow-up, reported as init_loss_off) is no start to have fallen
    // from: the fall from it is a recovery, and the band keeps its findings.
    let blown = finding(
        FindingKind::InitLossOff,
        Severity::Warning,
        Span::range(50.0, 50.0),
        String::new(),
        json!({}),
        "",
    );
    let f = detect(&Ctx::new(&run), &[blown]);
    assert!(!f.is_empty(), "{f:?}");
}
