//! Tests of the progress judgement under LR schedules: an anneal explains a flat end, and the
//! pace is judged before it.
use super::*;
use crate::detect::test_support::{curve, noisy, run_with};

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

/// 800 noisy steps of `loss` (ln V = ln 65) under a cosine decay of the LR from 5e-3 to 0
/// (under a quarter of its peak from step ~530 on).
fn annealed(sd: f64, seed: u64, loss: impl Fn(usize) -> f64) -> crate::Run {
    let n = 800;
    let mut run = run_with(noisy(n, sd, seed, loss), Some(65));
    run.lr = curve(n, |i| {
        5e-3 * 0.5 * (1.0 + (i as f64 / n as f64 * std::f64::consts::PI).cos())
    });
    run
}

#[test]
fn cosine_annealed_convergence_is_not_stagnation() {
    let run = annealed(0.04, 7, |i| 1.5 + 2.6 / (1.0 + i as f64 / 20.0).powf(0.5));
    assert!(kinds(&run).is_empty());
}

#[test]
fn underfitting_judged_before_an_anneal_says_where_the_run_stood_then() {
    let run = annealed(0.03, 8, |i| 2.4 + 1.8 / (1.0 + i as f64 / 10.0).powf(0.3));
    let found = detect(&Ctx::new(&run), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Underfitting);
    assert!(
        found[0].summary.starts_with("Loss stands at")
            && found[0].summary.contains("before the LR anneals"),
        "{}",
        found[0].summary
    );
}
