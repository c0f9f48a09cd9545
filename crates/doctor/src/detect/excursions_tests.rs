//! Tests of the excursion judgements: divergence, instability and upward drift from
//! constructed curves, and the bumps that are none of them.
use super::*;
use crate::detect::test_support::{cosine_restarts, curve, run_with, spaced, Noise};
use crate::Point;

#[test]
fn persistent_noise_on_a_smooth_decline_rarely_makes_an_episode() {
    // 250 single-step logs (about one point per trend bin), noise 2.5 % of the level that
    // persists from step to step (stretches of easier and harder text, lag-1 correlation
    // 0.7): the lowest of 240 such levels sits well under where the run stands. Measured
    // from the running minimum, 4 of these 40 seeds made an episode; from where the run
    // stood, at most one may.
    let flagged: Vec<u64> = (0..40)
        .filter(|&seed| {
            let mut rng = Noise::new(seed);
            let mut drift = 0.0;
            let loss: Vec<Point> = curve(250, |i| 1.9 + 2.0 * (-(i as f64) / 25.0).exp())
                .into_iter()
                .map(|p| {
                    drift = 0.7 * drift + 0.714 * rng.normal();
                    Point {
                        value: p.value + 0.05 * drift,
                        ..p
                    }
                })
                .collect();
            !detect(&Ctx::new(&run_with(loss, Some(69)))).is_empty()
        })
        .collect();
    assert!(flagged.len() <= 1, "seeds with an episode: {flagged:?}");
}

fn noisy(vals: Vec<Point>, sd: f64, seed: u64) -> Vec<Point> {
    let mut rng = Noise::new(seed);
    vals.into_iter()
        .map(|p| Point {
            value: p.value + sd * rng.normal(),
            ..p
        })
        .collect()
}

fn healthy(i: usize) -> f64 {
    1.5 + 2.6 / (1.0 + i as f64 / 40.0).sqrt()
}

#[test]
fn a_rise_that_never_returns_is_divergence() {
    let loss = noisy(
        curve(1000, |i| {
            if i < 600 {
                healthy(i)
            } else {
                healthy(600) + (i - 600) as f64 * 0.01
            }
        }),
        0.03,
        1,
    );
    let f = detect(&Ctx::new(&run_with(loss, Some(65))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Divergence);
    assert!((f[0].start_step.unwrap() - 600.0).abs() < 60.0);
}

#[test]
fn a_bad_stretch_that_recovers_is_instability() {
    let bump = |i: usize| {
        if (300..500).contains(&i) {
            0.6 * (((i - 300) as f64) / 200.0 * std::f64::consts::PI).sin()
        } else {
            0.0
        }
    };
    let loss = noisy(curve(1000, |i| healthy(i) + bump(i)), 0.03, 2);
    let f = detect(&Ctx::new(&run_with(loss, Some(65))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Instability);
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn a_small_bump_of_a_word_model_is_data_order_not_instability() {
    // Word-level loss at ~6.4 after a fast drop from ln V: a harder stretch of text lifts
    // it by 0.35 (5%) or 0.9 (14%) for a few dozen steps; many times the noise, but not a
    // lost share of the run. The same shape lifting it by 1.5 (23%) is instability.
    let with_bump = |height: f64| {
        let bump = move |i: usize| {
            if (400..460).contains(&i) {
                height * (((i - 400) as f64) / 60.0 * std::f64::consts::PI).sin()
            } else {
                0.0
            }
        };
        let loss = noisy(
            curve(1000, |i| 6.2 + 3.0 * (-(i as f64) / 40.0).exp() + bump(i)),
            0.02,
            4,
        );
        detect(&Ctx::new(&run_with(loss, Some(10_000))))
    };
    assert!(with_bump(0.35).is_empty(), "{:?}", with_bump(0.35));
    assert!(with_bump(0.9).is_empty(), "{:?}", with_bump(0.9));
    let f = with_bump(1.5);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Instability);
}

#[test]
fn a_slow_drift_in_a_sparse_log_is_upward_drift_too() {
    // 60 points, one every 25 steps: the fall, then a steady climb of 7 noise sd over the last
    // two thirds of the run. The stretches compared widen to hold five points each.
    let sparse = |drift: f64, rng: &mut Noise| -> Vec<Point> {
        (0..60)
            .map(|i| {
                let x = (i * 25) as f64;
                let climb = if x > 400.0 {
                    drift * (x - 400.0) / 1100.0
                } else {
                    0.0
                };
                Point {
                    step: x,
                    value: 1.0 + 2.0 * (-x / 100.0).exp() + climb + 0.02 * rng.normal(),
                }
            })
            .collect()
    };
    let drifting = (0..10)
        .filter(|&seed| {
            let f = detect(&Ctx::new(&run_with(
                sparse(0.14, &mut Noise::new(seed)),
                None,
            )));
            f.iter().any(|f| f.kind == FindingKind::UpwardDrift)
        })
        .count();
    assert!(drifting >= 8, "{drifting} of 10 seeds");
    let flat = (0..10)
        .filter(|&seed| {
            !detect(&Ctx::new(&run_with(
                sparse(0.0, &mut Noise::new(seed)),
                None,
            )))
            .is_empty()
        })
        .count();
    assert_eq!(flat, 0);
}

#[test]
fn a_slow_drift_of_one_noise_sd_that_never_returns_is_upward_drift() {
    let mut rng = Noise::new(8);
    let loss: Vec<crate::Point> = curve(3000, |i| {
        let x = i as f64;
        1.5 + 2.0 * (-x / 100.0).exp()
            + if x > 1000.0 {
                0.05 * (x - 1000.0) / 2000.0
            } else {
                0.0
            }
    })
    .into_iter()
    .map(|p| crate::Point {
        value: p.value + 0.05 * rng.normal(),
        ..p
    })
    .collect();
    let f = detect(&Ctx::new(&run_with(loss.clone(), Some(65))));
    assert!(
        f.iter().any(|f| f.kind == FindingKind::UpwardDrift),
        "{f:?}"
    );
    // The same noise on a flat end is healthy.
    let flat: Vec<crate::Point> = loss
        .iter()
        .map(|p| crate::Point {
            value: p.value
                - if p.step > 1000.0 {
                    0.05 * (p.step - 1000.0) / 2000.0
                } else {
                    0.0
                },
            ..*p
        })
        .collect();
    assert!(detect(&Ctx::new(&run_with(flat, Some(65)))).is_empty());
    // The same drift while every evaluation after the best falls: harder batches, not a
    // worse model.
    let mut run = run_with(loss, Some(65));
    run.val_loss = spaced(&[1.90, 1.80, 1.75, 1.72, 1.70, 1.69], 500.0, 500.0);
    let f = detect(&Ctx::new(&run));
    assert!(
        f.iter().all(|f| f.kind != FindingKind::UpwardDrift),
        "{f:?}"
    );
}

/// A healthy decay bumped up by `height` at the start of every `cycle` steps after the first,
/// the bump fading over 60 steps.
fn bumped_every(n: usize, cycle: usize, height: f64) -> Vec<Point> {
    let loss = curve(n, |i| {
        let k = i % cycle;
        let bump = if i >= cycle && k < 60 {
            height * (1.0 - k as f64 / 60.0)
        } else {
            0.0
        };
        healthy(i) + bump
    });
    noisy(loss, 0.02, 3)
}

#[test]
fn warm_restart_bumps_are_explained_by_the_lr_log() {
    // SGDR: cosine cycles of 250 steps; each restart bumps the loss, which then recovers.
    let cycle = 250usize;
    let loss = bumped_every(1000, cycle, 0.3);
    let mut run = run_with(loss, Some(65));
    run.lr = cosine_restarts(1000, cycle, 1e-3);
    let f = detect(&Ctx::new(&run));
    assert!(f.iter().all(|x| x.severity == Severity::Info), "{f:?}");
    assert!(!f.is_empty());
}

#[test]
fn a_restart_that_throws_the_loss_back_above_ln_v_is_not_explained() {
    // The same SGDR cycles, but the third restart's LR sends the loss from ~1.9 to 4.6,
    // above ln 65 = 4.17, where it stays for most of the cycle.
    let cycle = 250usize;
    let loss = noisy(
        curve(1000, |i| {
            let k = i % cycle;
            if i >= 3 * cycle && k < 200 {
                4.6 - 0.5 * k as f64 / 200.0
            } else {
                healthy(i)
            }
        }),
        0.02,
        3,
    );
    let mut run = run_with(loss, Some(65));
    run.lr = cosine_restarts(1000, cycle, 1e-3);
    let f = detect(&Ctx::new(&run));
    assert!(
        f.iter().any(|x| x.severity == Severity::Warning
            && matches!(x.kind, FindingKind::Instability | FindingKind::Divergence)),
        "{f:?}"
    );
}

#[test]
fn single_batch_noise_that_shrinks_with_the_loss_is_not_instability() {
    // A fine-tune logged every 100 steps, one batch each: the spread is 40 % of the level,
    // wide while the loss is high and narrow at the end, so a run of noisy points early
    // reaches well above the run's typical (late) noise. Ten seeds, none flagged.
    for seed in 0..10 {
        let mut rng = Noise::new(100 + seed);
        let loss: Vec<Point> = curve(150, |i| 0.01 + 0.3 * (-(i as f64) / 25.0).exp())
            .into_iter()
            .map(|p| Point {
                value: p.value * (0.4 * rng.normal()).exp(),
                ..p
            })
            .collect();
        let f = detect(&Ctx::new(&run_with(loss, None)));
        assert!(
            f.iter().all(|f| f.severity < Severity::Warning),
            "seed {seed}: {f:?}"
        );
    }
}

#[test]
fn steady_healthy_decay_has_no_excursion() {
    let loss = noisy(curve(2000, healthy), 0.08, 4);
    assert!(detect(&Ctx::new(&run_with(loss, Some(65)))).is_empty());
}

#[test]
fn a_short_log_whose_loss_only_climbs_has_diverged() {
    // A pose model fine-tuned on 100 images: 2.77, 4.75, 7.59, 10.47, 12.69, 14.89, 17.62 per
    // 100 iterations, too few points for the episode view.
    let points = |values: &[f64]| spaced(values, 100.0, 100.0);
    let run = run_with(
        points(&[2.766, 4.747, 7.590, 10.472, 12.689, 14.893, 17.622]),
        None,
    );
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Divergence);
    // A short log that falls and creeps back, or climbs by little, or ends below its peak, is
    // not this.
    for values in [
        &[3.0, 2.0, 1.8, 1.9, 2.2, 2.4][..],
        &[2.0, 2.1, 2.2, 2.3, 2.4, 2.5][..],
        &[2.0, 3.0, 4.0, 5.0, 6.0, 5.5][..],
    ] {
        assert!(detect(&Ctx::new(&run_with(points(values), None))).is_empty());
    }
}

#[test]
fn a_jump_right_after_the_first_logged_point_that_stays_is_divergence() {
    // A pre-training log window resumed at step 47700: 1.47, then ~14 ± 0.3 for 80 logs.
    let mut rng = Noise::new(40);
    let mut loss: Vec<Point> = (0..81)
        .map(|i| Point {
            step: 47700.0 + 10.0 * i as f64,
            value: 14.1 + 0.3 * rng.normal(),
        })
        .collect();
    loss[0].value = 1.47;
    let run = run_with(loss.clone(), None);
    let found = detect(&Ctx::new(&run));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Divergence);
    assert_eq!(found[0].peak_step, Some(47710.0));
    // A first point over the rest is a run's ordinary fast start.
    loss[0].value = 40.0;
    assert!(detect(&Ctx::new(&run_with(loss, None))).is_empty());
}

#[test]
fn a_short_log_that_jumps_far_above_its_first_point_and_stays_has_diverged() {
    // Graph WaveNet's MAE every 50 iterations (9 points), DSen2-CR's Keras running mean
    // (6 points) that goes on to 4e11, and SRFBN's batch loss in an issue titled "Gradient
    // explosion" (8 points, blind batch 96): too short for noise, not for three times the
    // first at every point after it.
    let wavenet = [
        11.53, 377.6, 352.3, 376.3, 415.7, 427.5, 403.1, 421.1, 383.1,
    ];
    let dsen = [2.6256, 1288.05, 858.96, 1.634e11, 1.587e11, 3.865e11];
    let srfbn = [
        27.9309, 101.4834, 108.1363, 108.7495, 120.2120, 114.4348, 102.5588, 105.85,
    ];
    for values in [&wavenet[..], &dsen[..], &srfbn[..]] {
        let run = run_with(spaced(values, 0.0, 50.0), None);
        let found = detect(&Ctx::new(&run));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::Divergence);
        assert_eq!(found[0].peak_step, Some(50.0));
    }
    // Twice the first is a noisy short start, not a break; so is a later point back near it.
    let run = run_with(spaced(&[1.0, 2.0, 1.8, 2.1, 1.9, 2.05], 0.0, 50.0), None);
    assert!(detect(&Ctx::new(&run)).is_empty());
    let run = run_with(spaced(&[1.0, 4.0, 3.5, 1.2, 3.9, 4.1], 0.0, 50.0), None);
    assert!(detect(&Ctx::new(&run)).is_empty());
}

#[test]
fn a_climb_in_the_last_points_of_a_log_is_divergence() {
    // YOLOv5 on a custom set: the total loss sits at 0.0541-0.0545 for epochs 37-43, then
    // 0.0597 and 0.0637 as the log ends (mAP collapsing with it). The ends of a log had no
    // judge at all.
    let values = [
        0.1524, 0.0991, 0.0799, 0.0697, 0.0652, 0.0630, 0.0617, 0.0606, 0.0544, 0.0545, 0.0542,
        0.0544, 0.0543, 0.0541, 0.0541, 0.0597, 0.0637,
    ];
    let run = run_with(spaced(&values, 0.0, 1.0), None);
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Divergence);
    assert_eq!(f[0].start_step, Some(15.0));
    // Coming back down at the last point, or a rise inside the noise, is not this.
    let mut back = values;
    back[16] = 0.0580;
    assert!(detect(&Ctx::new(&run_with(spaced(&back, 0.0, 1.0), None))).is_empty());
    let mut small = values;
    (small[15], small[16]) = (0.0560, 0.0565);
    assert!(detect(&Ctx::new(&run_with(spaced(&small, 0.0, 1.0), None))).is_empty());
}

#[test]
fn bad_stretches_on_a_cycle_are_one_periodic_finding() {
    // A hidden state reset every 150 steps (no LR schedule to explain it): each reset throws
    // the loss up for a while. That was a dozen instability findings; it is one cycle.
    let f = detect(&Ctx::new(&run_with(bumped_every(1200, 150, 0.8), Some(65))));
    let warned: Vec<_> = f
        .iter()
        .filter(|x| x.severity >= Severity::Warning)
        .collect();
    assert_eq!(warned.len(), 1, "{f:?}");
    assert_eq!(warned[0].kind, FindingKind::Periodic);
    let period = warned[0].evidence["period_steps"].as_f64().unwrap();
    assert!((period - 150.0).abs() <= 15.0, "{period}");
}

#[test]
fn a_training_rise_while_every_evaluation_falls_is_not_divergence() {
    // A word model's last-batch loss, logged every 25 steps, climbs 4.40 → 4.86 and stays
    // (harder batches) while validation falls at every evaluation, 4.77 → 4.36.
    let train = spaced(
        &[4.482, 4.404, 4.302, 4.508, 4.953, 4.872, 4.859, 4.862],
        25.0,
        25.0,
    );
    let mut run = run_with(train.clone(), Some(1000));
    assert!(
        detect(&Ctx::new(&run))
            .iter()
            .any(|f| f.kind == FindingKind::Divergence),
        "without validation the rise is a divergence"
    );
    run.val_loss = spaced(
        &[4.771, 4.593, 4.559, 4.456, 4.419, 4.376, 4.366, 4.362],
        25.0,
        25.0,
    );
    let found = detect(&Ctx::new(&run));
    assert!(
        !found.iter().any(|f| f.kind == FindingKind::Divergence),
        "{found:?}"
    );
}

#[test]
fn a_blow_up_right_after_a_fresh_start_that_comes_back_is_instability() {
    // ln 81 = 4.39: the first log sits there, the next ones near 50, and the loss is back
    // under its first value only at step 120.
    let values: Vec<f64> = (0..200)
        .map(|i| match i {
            0 => 4.40,
            1..=119 => 50.0 - 45.0 * (i as f64 / 120.0) + if i % 2 == 0 { 3.0 } else { -3.0 },
            _ => 4.2 - 0.004 * (i - 120) as f64,
        })
        .collect();
    let f = detect(&Ctx::new(&run_with(spaced(&values, 1.0, 1.0), Some(81))));
    let blow_up: Vec<&Finding> = f
        .iter()
        .filter(|f| f.kind == FindingKind::Instability)
        .collect();
    assert_eq!(blow_up.len(), 1, "{f:?}");
    let end = blow_up[0].end_step.unwrap();
    assert!(
        blow_up[0].start_step == Some(2.0) && (100.0..=121.0).contains(&end),
        "{f:?}"
    );
    // Without a vocabulary the first log is no known fresh start (a GAN's generator loss
    // rises from 0.009 as it should).
    let f = detect(&Ctx::new(&run_with(spaced(&values, 1.0, 1.0), None)));
    assert!(
        f.iter().all(|f| f.kind != FindingKind::Instability),
        "{f:?}"
    );
}

#[test]
fn a_rise_that_turns_down_while_the_warmup_lr_keeps_climbing_is_no_instability() {
    // A detector's running loss over warmup (blind batch 136): 1.10 → 1.79 by iteration 16
    // as more boxes get matched, then down while the LR doubles on to its peak at 30.
    let loss = curve(122, |i| {
        let it = 2.0 * (i + 1) as f64;
        if it <= 16.0 {
            1.10 + 0.69 * (it - 2.0) / 14.0
        } else {
            0.72 + 1.07 * (-(it - 16.0) / 60.0).exp()
        }
    });
    let loss: Vec<Point> = loss
        .into_iter()
        .enumerate()
        .map(|(i, p)| Point {
            step: 2.0 * (i + 1) as f64,
            ..p
        })
        .collect();
    let warmup = |step: f64| 7.8e-4 * (step / 30.0).min(1.0);
    let mut run = run_with(loss, None);
    run.lr = run
        .train_loss
        .iter()
        .map(|p| Point {
            step: p.step,
            value: warmup(p.step),
        })
        .collect();
    let kinds = |run: &crate::Run| -> Vec<FindingKind> {
        detect(&Ctx::new(run)).iter().map(|f| f.kind).collect()
    };
    assert!(
        !kinds(&run).contains(&FindingKind::Instability),
        "{:?}",
        kinds(&run)
    );
    // An LR that steps down on the way (a restart) and then climbs higher says nothing about
    // the rate that made the rise.
    for p in &mut run.lr {
        if p.step > 16.0 {
            p.value = if p.step <= 24.0 { 1e-5 } else { 1e-3 };
        }
    }
    assert!(kinds(&run).contains(&FindingKind::Instability));
    // At a constant LR the same climb and return is the run losing ground.
    for p in &mut run.lr {
        p.value = 7.8e-4;
    }
    assert!(kinds(&run).contains(&FindingKind::Instability));
}

#[test]
fn a_climb_that_grows_noisier_as_it_goes_is_still_divergence() {
    // A 3-layer GRU word model (V = 1000) logged every 10 steps whose LR schedule grows ×1.02
    // per step from step 163 (a novel-fault draw): it stands at 4.4-4.7 (±0.15), then the
    // climb to 5.2-5.8 swings ever wider. Measured against its own swings the climb was lost;
    // against where the run stood it is plain.
    let values = [
        4.77561, 5.06138, 4.74403, 4.75173, 4.62339, 4.70206, 4.32266, 4.59837, 4.58291, 4.897,
        4.61446, 5.11261, 4.74192, 4.58949, 4.50748, 4.39557, 4.64885, 4.3715, 4.43091, 4.7423,
        4.52768, 4.7071, 4.68553, 4.66061, 4.68589, 4.74735, 4.44882, 4.57001, 4.49834, 4.20186,
        4.36108, 4.50352, 5.18289, 4.41763, 5.0079, 5.42309, 5.48629, 5.07471, 4.89505, 5.77601,
    ];
    let loss = spaced(&values, 10.0, 10.0);
    let f = detect(&Ctx::new(&run_with(loss, Some(1000))));
    assert!(f.iter().any(|f| f.kind == FindingKind::Divergence), "{f:?}");
}
