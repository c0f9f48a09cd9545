//! Tests of the progress judgement on a band after the drop: what a quiet validation curve,
//! or the band's own shape without one, says about it when no reference level is known.
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
    let mut run = classifier(0.69, 0);
    let val = std::mem::take(&mut run.val_loss);
    // Without validation (or a vocabulary) the band is all there is to go by: its shape
    // (independent, symmetric log-normal draws) reads as the batches' scatter, information a
    // healthy verdict gives as its reason.
    let f = detect(&Ctx::new(&run), &[]);
    assert_eq!(kinds(&run), vec![FindingKind::Oscillation], "{f:?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].evidence.get("sampling").is_some(), "{f:?}");
    // With validation quiet at its best, nothing is said at all.
    run.val_loss = val;
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

#[test]
fn without_validation_a_band_of_independent_draws_is_sampling_and_a_persistent_one_is_open() {
    // A 5-class classifier at batch 64 after its drop from ln 5: per-batch losses scatter
    // ±15 % around 0.76, one point per step. Independent, symmetric draws: the batches'
    // scatter, judged healthy with that said as a reason.
    let mut rng = Noise::new(23);
    let at = |i: usize| 0.76 + 0.85 * (-(i as f64) / 25.0).exp();
    let independent: Vec<Point> = curve(500, at)
        .into_iter()
        .map(|p| Point {
            value: p.value * (1.0 + 0.15 * rng.normal()),
            ..p
        })
        .collect();
    let run = run_with(independent, None);
    let f = detect(&Ctx::new(&run), &[]);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].evidence.get("sampling").is_some(), "{f:?}");
    let d = crate::detect::diagnose(&run);
    assert_eq!(d.verdict, crate::Verdict::Healthy, "{:?}", d.findings);
    assert!(d.findings.is_empty());
    assert!(d
        .reasons
        .iter()
        .any(|r| r.contains("independent, symmetric draws")));
    // The same spread where deviations persist from point to point (an AR(1) walk, lag-1
    // correlation ~0.7): runs of high and low losses, as when steps overshoot. Not read as
    // sampling (here the runs of high losses are also long enough to be lost progress).
    let mut rng = Noise::new(23);
    let mut walk = 0.0;
    let persistent: Vec<Point> = curve(500, at)
        .into_iter()
        .map(|p| {
            walk = 0.7 * walk + 0.15 * (1.0f64 - 0.49).sqrt() * rng.normal();
            Point {
                value: p.value * (1.0 + walk),
                ..p
            }
        })
        .collect();
    let run = run_with(persistent, None);
    let f = detect(&Ctx::new(&run), &[]);
    assert!(
        f.iter().all(|f| f.evidence.get("sampling").is_none()),
        "{f:?}"
    );
    assert!(
        f.iter().any(|f| f.evidence.get("unexplained").is_some()),
        "{f:?}"
    );
    let d = crate::detect::diagnose(&run);
    assert_ne!(d.verdict, crate::Verdict::Healthy, "{:?}", d.findings);
}

#[test]
fn five_quiet_evaluations_at_their_best_are_enough_to_call_the_band_sampling() {
    // The classifier of the tests above, evaluated every 400 steps instead of every 50: six
    // evaluations over the judged stretch, each within a fraction of a percent of the best.
    // Fixed held-out data that quiet says the model has settled, however widely the batches
    // scatter (task runs: a 2-class mixture at batch 32, validation 0.2287 → 0.2226 over 7
    // evaluations, training ±50 %).
    let mut run = classifier(0.69, 0);
    run.val_loss = run.val_loss.into_iter().step_by(8).collect();
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    // Three evaluations are too few to say validation is not rising: the band is judged on
    // its own.
    run.val_loss = run.val_loss.into_iter().step_by(3).collect();
    assert!(!kinds(&run).is_empty());
}

#[test]
fn a_very_wide_band_of_independent_draws_is_sampling_when_there_are_points_to_read_it() {
    // A 2-class classifier with 10 % label noise at batch 16 after its drop from 0.69: each
    // batch's mean is pulled up by however many noisy labels it drew, so the losses scatter
    // ±40 % around 0.28, as independent, symmetric draws. With a hundred points their shape
    // is read as the batches' scatter, however wide.
    let band = |n: usize, seed: u64| {
        let mut rng = Noise::new(seed);
        let at = |i: usize| 0.28 + 0.41 * (-(i as f64) / 3.0).exp();
        let loss: Vec<Point> = curve(n, at)
            .into_iter()
            .map(|p| Point {
                step: 5.0 * (p.step + 1.0),
                value: p.value * (1.0 + 0.45 * rng.normal()).max(0.05),
            })
            .collect();
        run_with(loss, None)
    };
    let wide = band(120, 3);
    let f = detect(&Ctx::new(&wide), &[]);
    assert!(
        f[0].evidence["relative_noise"].as_f64().unwrap() > 0.3,
        "{f:?}"
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].evidence.get("sampling").is_some(), "{f:?}");
    // Twenty-five points cannot tell independent draws from bounces (the lag-1 estimate
    // alone is off by ±0.2): a band this wide keeps its findings.
    let short = band(25, 3);
    let f = detect(&Ctx::new(&short), &[]);
    assert!(
        f.iter()
            .any(|f| f.kind == FindingKind::Oscillation && f.severity == Severity::Warning),
        "{f:?}"
    );
}

#[test]
fn a_wide_band_of_log_normal_batch_losses_is_sampling() {
    // A 20-class classifier at batch 8 near its floor, no validation: 300 batch losses
    // scattering by factors (log-normal, σ 0.5) around 0.15 after a drop from ln 20. Read on
    // the linear scale their long upper tail looks like bursts upward; on the log scale they
    // are symmetric, independent draws: the batches' scatter.
    let mut rng = Noise::new(29);
    let at = |i: usize| 0.15 + 2.85 * (-(i as f64) / 6.0).exp();
    let loss: Vec<Point> = curve(300, at)
        .into_iter()
        .map(|p| Point {
            step: 5.0 * (p.step + 1.0),
            value: p.value * (0.5 * rng.normal()).exp(),
        })
        .collect();
    let run = run_with(loss, None);
    let f = detect(&Ctx::new(&run), &[]);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].evidence.get("sampling").is_some(), "{f:?}");
}

/// A fine-tune logged every 10 steps: training falls 2.4 → 1.9 in its first 40 steps and then
/// holds there (±2 %); validation every 50 steps, from `first_eval` (a multiple of 10).
fn fine_tune(first_eval: f64, first_val: Option<f64>) -> crate::Run {
    let mut rng = Noise::new(41);
    let at = |i: usize| 1.9 + 0.5 * (-(i as f64) / 4.0).exp();
    let loss: Vec<Point> = curve(60, at)
        .into_iter()
        .map(|p| Point {
            step: 10.0 * (p.step + 1.0),
            value: p.value * (1.0 + 0.02 * rng.normal()),
        })
        .collect();
    let mut run = run_with(loss, None);
    run.val_loss = (0..12)
        .map(|k| first_eval + 50.0 * k as f64)
        .filter(|&s| s <= 600.0)
        .map(|s| Point {
            step: s,
            value: at((s / 10.0) as usize - 1) + 0.001 * (s / 50.0 % 2.0),
        })
        .collect();
    if let (Some(v), Some(p)) = (first_val, run.val_loss.first_mut()) {
        p.value = v;
    }
    run
}

#[test]
fn validation_that_fell_a_tenth_and_settled_at_its_best_is_converged() {
    // Validation 2.20 at its first evaluation, then down to 1.90 and quiet at its best (a
    // 14 % fall, not the 30 % a model stuck at its start could not fake): the run learned what
    // it could early and settled, not a stall (task runs: char-LSTM fine-tunes at 2.60 → 2.24,
    // regressions at 1.01 → 0.82).
    let run = fine_tune(20.0, None);
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
}

#[test]
fn one_high_first_evaluation_is_no_fall_when_the_next_ones_sit_still() {
    // The same training seen from step 200 on, when it has settled: validation 2.20 at its
    // first evaluation, then 1.90 from the second on. Its median start is where it ends, so the
    // fall is one high evaluation, and the flat run is judged as before (a BCE classifier at
    // its label prior: 0.480, 0.442, 0.437, … 0.423).
    let mut run = fine_tune(200.0, Some(2.2));
    run.train_loss.retain(|p| p.step >= 200.0);
    let f = detect(&Ctx::new(&run), &[]);
    assert!(f.iter().any(|f| f.kind == FindingKind::Stagnation), "{f:?}");
}

/// A 5-class classifier at batch 16 (task draw 79): its last batch losses every 25 steps fall
/// 1.5 → 0.75 and then scatter ±22 %; five evaluations, only four of them in the judged
/// window, too few for a validation trend.
fn five_evaluations(val: [f64; 5]) -> crate::Run {
    let loss = [
        1.508, 1.258, 1.25, 0.9733, 0.7865, 0.754, 0.664, 0.7485, 0.7479, 0.8055, 0.7495, 0.6714,
        0.8764, 0.7806, 0.626, 0.4764, 0.5884, 0.8554, 1.294, 0.5924, 0.723, 0.9194, 1.156, 0.6996,
        0.5919, 0.9174, 0.7907, 0.7498, 0.8198, 1.068, 0.3919, 0.2976,
    ];
    let mut run = run_with(
        loss.iter()
            .enumerate()
            .map(|(i, &value)| Point {
                step: 25.0 * (i + 1) as f64,
                value,
            })
            .collect(),
        None,
    );
    run.val_loss = val
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            step: 150.0 * (i + 1) as f64,
            value,
        })
        .collect();
    run
}

#[test]
fn a_few_evaluations_settled_at_their_best_say_the_band_is_sampling() {
    // Validation 0.864, 0.793, 0.787, 0.786, 0.786: the last three within 0.1 % of each other
    // at its best, after a fall of 9 %. The model converged; the band is the batches' scatter.
    let run = five_evaluations([0.8641, 0.793, 0.787, 0.7862, 0.7859]);
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    // Validation that never left its first evaluation is no convergence: the band and the
    // stall stay.
    let run = five_evaluations([0.787, 0.7875, 0.787, 0.7862, 0.7859]);
    assert!(
        kinds(&run).contains(&FindingKind::Stagnation),
        "{:?}",
        detect(&Ctx::new(&run), &[])
    );
    // Nor do last evaluations still swinging by 5 %.
    let run = five_evaluations([0.8641, 0.793, 0.80, 0.76, 0.7859]);
    assert!(
        kinds(&run).contains(&FindingKind::Stagnation),
        "{:?}",
        detect(&Ctx::new(&run), &[])
    );
}
