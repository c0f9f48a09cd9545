//! Tests of the judgement of a loss at or above ln V: constructed curves for each reason a
//! language model learned nothing, and the advice each gets.
use crate::detect::progress::detect;
use crate::detect::test_support::{curve, noisy, run_with, Noise};
use crate::detect::Ctx;
use crate::report::FindingKind;
use crate::Point;

/// `f(i)` times a log-normal factor of relative spread `sd`.
fn scattered(n: usize, sd: f64, seed: u64, f: impl Fn(usize) -> f64) -> Vec<Point> {
    let mut rng = Noise::new(seed);
    curve(n, f)
        .into_iter()
        .map(|p| Point {
            value: p.value * (sd * rng.normal()).exp(),
            ..p
        })
        .collect()
}

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

#[test]
fn a_wide_band_at_ln_v_means_steps_too_large_not_too_small() {
    // A uniform guess's loss is ln V on every batch; bouncing ±15 % around it (SGD at LR 40)
    // is confident predictions thrown about, and the fix is a lower LR, never a higher one.
    let run = run_with(scattered(600, 0.15, 3, |_| 65f64.ln()), Some(65));
    let found = detect(&Ctx::new(&run), &[]);
    let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![FindingKind::Oscillation, FindingKind::Stagnation]
    );
    assert!(found
        .iter()
        .all(|f| f.advice.contains("lower the learning rate")
            || f.advice.contains("Lower the learning rate")));
    assert!(!found
        .iter()
        .any(|f| f.advice.contains("Raise the learning rate")));
}

#[test]
fn a_wide_band_just_above_ln_v_has_diverged() {
    // 15 % above ln V in a ±20 % band (under the 20 % a quiet loss needs): worse than a
    // uniform guess, from steps too large.
    let run = run_with(scattered(600, 0.2, 5, |_| 1.15 * 65f64.ln()), Some(65));
    assert_eq!(
        kinds(&run),
        vec![FindingKind::Divergence, FindingKind::Oscillation]
    );
}

#[test]
fn climbing_back_to_ln_v_after_learning_is_divergence() {
    // Down from ln V = 4.17 to 2.6 by step 150, then back up to ln V by step 300 and stuck
    // there: the model forgot what it learned (a higher LR would only repeat it).
    let lnv = 65f64.ln();
    let run = run_with(
        noisy(600, 0.03, 6, |i| {
            let i = i as f64;
            if i < 150.0 {
                lnv - 1.57 * i / 150.0
            } else if i < 300.0 {
                2.6 + (lnv - 2.6) * (i - 150.0) / 150.0
            } else {
                lnv
            }
        }),
        Some(65),
    );
    let found = detect(&Ctx::new(&run), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Divergence);
    assert!(
        found[0].summary.contains("climbs back"),
        "{}",
        found[0].summary
    );
}

#[test]
fn bouncing_above_ln_v_in_a_wide_band_has_diverged_not_stalled() {
    // SGD at LR 80: the loss never gets under ln V = 4.2 and swings ±40% around 7. The first
    // logged point is already after the blow-up; the wide band (against a bad init's narrow
    // one, below) says the steps are too large: diverged, in a band, not a call for more LR.
    let run = run_with(scattered(600, 0.4, 8, |_| 7.0), Some(68));
    let found = detect(&Ctx::new(&run), &[]);
    let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![FindingKind::Divergence, FindingKind::Oscillation]
    );
    assert!(found[0].advice.contains("Lower the learning rate"));
    assert!(
        found[0].summary.contains("wide band"),
        "{}",
        found[0].summary
    );
}

#[test]
fn a_loss_that_climbs_from_ln_v_to_far_above_it_has_diverged() {
    // The first loss is a sane 4.2 ≈ ln 68; the next step blows up to ~20 and the run swings
    // there: the same band as above, but the model got there from a uniform guess.
    let mut loss = scattered(600, 0.3, 8, |_| 20.0);
    loss[0].value = 4.2;
    let run = run_with(loss, Some(68));
    let found = detect(&Ctx::new(&run), &[]);
    let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![FindingKind::Divergence, FindingKind::Oscillation]
    );
    assert!(
        found[0].summary.contains("climbs from 4.2"),
        "{}",
        found[0].summary
    );
}

#[test]
fn a_bad_init_stuck_high_is_a_stall_but_one_still_climbing_has_diverged() {
    // Both start at 3× ln V = 12.7 (a bad init) in a narrow band; one stays, one climbs ×1.5
    // over the run.
    let stays = run_with(noisy(400, 0.2, 4, |_| 12.7), Some(68));
    assert_eq!(kinds(&stays), vec![FindingKind::Stagnation]);
    let climbs = run_with(
        noisy(400, 0.2, 4, |i| 12.7 * (1.0 + 0.5 * i as f64 / 400.0)),
        Some(68),
    );
    assert_eq!(kinds(&climbs), vec![FindingKind::Divergence]);
}

#[test]
fn stuck_at_ln_v_is_stagnation() {
    let run = run_with(noisy(600, 0.002, 4, |_| 65f64.ln() + 0.005), Some(65));
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
}

#[test]
fn stuck_at_ln_v_under_heavy_noise_is_still_stagnation() {
    let run = run_with(noisy(600, 0.3, 9, |_| 65f64.ln() + 0.005), Some(65));
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
}

#[test]
fn a_loss_blown_far_above_ln_v_that_falls_back_is_instability_not_underfitting() {
    // SGD at LR 0.24 on a word GRU (V = 1000, ln V = 6.91): 6.95 at step 1, 32 by step 10,
    // then falling to ~10 by step 540, still above a uniform guess's loss. The model is not
    // too small: the LR wrecked it, and the finding says so whatever spikes ride on it.
    let lnv = 1000f64.ln();
    let blown = |peak_every: usize| {
        let mut t = scattered(540, 0.05, 11, |i| {
            if i == 0 {
                lnv
            } else {
                10.0 + 22.0 * (-(i as f64) / 150.0).exp()
            }
        });
        for (i, p) in t.iter_mut().enumerate() {
            if peak_every > 0 && i > 50 && i % peak_every == 0 {
                p.value *= 1.6;
            }
        }
        run_with(t, Some(1000))
    };
    for peak_every in [0, 97] {
        let d = crate::detect::diagnose(&blown(peak_every));
        let f = d
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Instability && f.evidence.contains_key("blown_up"))
            .unwrap_or_else(|| panic!("{:?}", d.findings));
        assert!(f.summary.contains("above ln V"), "{}", f.summary);
        assert!(!d
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Underfitting));
    }
    // Starting that high (a bad init, said by init_loss_off) is no blow-up.
    let run = run_with(
        scattered(540, 0.05, 11, |i| 10.0 + 22.0 * (-(i as f64) / 150.0).exp()),
        Some(1000),
    );
    assert!(!kinds(&run).contains(&FindingKind::Instability));
    // Nor is a run back under 1.2 ln V.
    let run = run_with(
        scattered(540, 0.05, 11, |i| {
            if i == 0 {
                lnv
            } else {
                5.5 + 22.0 * (-(i as f64) / 100.0).exp()
            }
        }),
        Some(1000),
    );
    assert!(!kinds(&run).contains(&FindingKind::Instability));
}

#[test]
fn stuck_within_a_tenth_of_ln_v_is_a_uniform_guess_too() {
    // A character model (V = 42, ln V = 3.74) drops to 3.42 in its first tenth and holds there
    // for the rest of the run: 91.5 % of ln V, far above any unigram level (0.6-0.8 ln V), is
    // a model that learned next to nothing.
    let l = 42f64.ln();
    let held = |i: usize| 0.915 * l + 0.08 * l * (-(i as f64) / 6.0).exp();
    let run = run_with(noisy(400, 0.002, 5, held), Some(42));
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
}
