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

#[test]
fn a_plateau_found_after_the_window_before_a_step_decay_is_judged_without_a_panic() {
    // A frozen-layer char LSTM (ln V = ln 72) logged every 44 steps, its LR cut ×0.25 at
    // steps 660 and 1320: the judging window ends before the first cut, and the level the
    // loss settles at is reached only after it, so the band's window started after it ended
    // and slicing it panicked (a PyTorch corpus draw, seed 191).
    let values = [
        3.06964, 2.7425, 2.67681, 2.63904, 2.60812, 2.59131, 2.56031, 2.55624, 2.57052, 2.53108,
        2.52694, 2.53114, 2.50516, 2.52201, 2.51609, 2.49348, 2.50168, 2.49877, 2.50497, 2.49905,
        2.49951, 2.49766, 2.49307, 2.50232, 2.48567, 2.48447, 2.4992, 2.48777, 2.49095, 2.4892,
        2.48271, 2.48492, 2.48318, 2.50394, 2.49469, 2.4793, 2.47769, 2.46963, 2.4794, 2.48524,
    ];
    let val = [
        2.65328, 2.57369, 2.53145, 2.50257, 2.48854, 2.4728, 2.46944, 2.45866, 2.45954, 2.45599,
        2.4555, 2.45406, 2.45454, 2.45359, 2.45236, 2.45107, 2.45123, 2.44945, 2.44927, 2.44903,
    ];
    let at = |i: usize| 44.0 * (i + 1) as f64;
    let mut run = run_with(
        (0..values.len())
            .map(|i| crate::Point {
                step: at(i),
                value: values[i],
            })
            .collect(),
        Some(72),
    );
    run.val_loss = (0..val.len())
        .map(|i| crate::Point {
            step: 88.0 * (i + 1) as f64,
            value: val[i],
        })
        .collect();
    run.lr = (0..values.len())
        .map(|i| crate::Point {
            step: at(i),
            value: if at(i) < 660.0 {
                0.01
            } else if at(i) < 1320.0 {
                0.0025
            } else {
                0.000625
            },
        })
        .collect();
    let d = crate::diagnose(&run);
    assert!(
        d.findings
            .iter()
            .all(|f| f.kind != FindingKind::Oscillation),
        "{d:?}"
    );
    // Whatever is found spans forwards (it read "stagnation at steps 1540–1276").
    for f in &d.findings {
        if let (Some(a), Some(b)) = (f.start_step, f.end_step) {
            assert!(a <= b, "{f:?}");
        }
    }
}

/// 40 points every 17 steps of a char model (ln V = ln 73) under a step decay: LR 0.05, ×0.1
/// at step 230 and again at 510. `loss(i)` gives point i before noise.
fn step_decayed(seed: u64, loss: impl Fn(usize) -> f64) -> crate::Run {
    let at = |i: usize| 17.0 * (i + 1) as f64;
    let mut points = noisy(40, 0.012, seed, loss);
    for (i, p) in points.iter_mut().enumerate() {
        p.step = at(i);
    }
    let mut run = run_with(points, Some(73));
    run.lr = (0..40)
        .map(|i| crate::Point {
            step: at(i),
            value: 0.05
                * if at(i) < 230.0 {
                    1.0
                } else if at(i) < 510.0 {
                    0.1
                } else {
                    0.01
                },
        })
        .collect();
    run
}

#[test]
fn a_loss_as_flat_after_an_early_lr_cut_as_before_it_has_stalled() {
    // Only the output bias trains (PyTorch corpus, seed 121): 3.94 → 3.2 by the third point,
    // then 3.2 for the remaining 37, before the first cut and after both. Under a dozen
    // points precede the cut, too few to judge a pace: the flat stretch after it is judged
    // with them.
    let run = step_decayed(3, |i| 3.2 + 0.74 * (-(i as f64) / 0.8).exp());
    let found = kinds(&run);
    assert!(
        found
            .iter()
            .any(|k| matches!(k, FindingKind::Stagnation | FindingKind::UnigramPlateau)),
        "{found:?}"
    );
    // A run still falling up to the cut, that settles after it, is annealed, not stalled.
    let run = step_decayed(3, |i| {
        let t = (i.min(13) as f64 + 1.0).ln();
        2.0 + 1.9 * (-0.45 * t * t).exp() + 0.3 * (1.0 - i.min(13) as f64 / 13.0)
    });
    assert!(kinds(&run).is_empty(), "{:?}", kinds(&run));
}
