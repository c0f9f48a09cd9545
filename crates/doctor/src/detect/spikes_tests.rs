//! Tests of the spike detector: constructed series with bad batches, quiet and noisy
//! baselines, epoch-level logs, and the near-misses that are not spikes.
use super::*;
use crate::detect::test_support::{curve, decaying, per_epoch, run_with, warned, Noise};
use crate::{Event, Point};

#[test]
fn a_short_zigzag_keeps_its_noise_scale() {
    // Fifteen single-batch losses bouncing ±30 % around 0.8: a three-point median is the point
    // itself at every turn, so the residuals' MAD alone collapses to ~0 and a bounce of 3×
    // reads as z > 1000. The spread of successive differences keeps the scale honest.
    let values = [
        5.17, 3.90, 1.17, 1.11, 0.66, 0.88, 0.61, 0.71, 0.82, 1.18, 2.48, 1.34, 0.55, 0.61, 0.85,
    ];
    let (_, scale) = baseline_and_scale(&values);
    assert!(scale[10] > 0.1, "scale {:?}", scale[10]);
    let loss = curve(values.len(), |i| values[i]);
    assert!(warned(&diagnose_spikes(&loss)).is_empty());
    // A real bad batch in the same paste still stands out: 8× the level.
    let mut bad = values;
    bad[10] = 6.5;
    let loss = curve(bad.len(), |i| bad[i]);
    assert_eq!(warned(&diagnose_spikes(&loss)), vec![FindingKind::Spike]);
}

fn diagnose_spikes(loss: &[Point]) -> crate::report::Diagnosis {
    crate::diagnose(&run_with(loss.to_vec(), None))
}

#[test]
fn a_short_tail_block_does_not_shrink_the_noise_scale() {
    // 42 single-batch losses of a char GRU (±4 % around 2.5): the noise is measured in blocks
    // of 40, and a 2-point remainder quiet by chance once halved the scale of the whole log
    // when its block was smoothed with the first (a 12 % wobble of one batch read z 9).
    let mut rng = Noise::new(11);
    let mut xs: Vec<f64> = (0..40).map(|_| 2.5 * (1.0 + 0.04 * rng.normal())).collect();
    let whole = baseline_and_scale(&xs).1[20];
    xs.extend([2.5, 2.5]);
    let with_tail = baseline_and_scale(&xs).1[20];
    assert!(with_tail > 0.8 * whole, "{with_tail} vs {whole}");
}

#[test]
fn a_smooth_early_fall_does_not_shrink_a_short_logs_noise_scale() {
    // 43 single-batch losses of a char GRU logged every 7 steps: a smooth fall 4.1 → 2.3 over
    // the first 14 points (every 5-point median there is the point itself), then ±2 % around
    // 2.25. A batch 11 % up is within what such a log does; one 45 % up is a bad batch.
    let mut rng = Noise::new(5);
    let mut values: Vec<f64> = (0..14)
        .map(|i| 2.25 + 1.85 * (-(i as f64) / 4.0).exp())
        .collect();
    values.extend((0..29).map(|_| 2.25 * (1.0 + 0.02 * rng.normal())));
    let mut wobble = values.clone();
    wobble[26] = 2.25 * 1.11;
    let loss = curve(wobble.len(), |i| wobble[i]);
    assert!(detect(&Ctx::new(&run_with(loss, None))).is_empty());
    let mut bad = values;
    bad[26] = 2.25 * 1.45;
    let loss = curve(bad.len(), |i| bad[i]);
    let f = detect(&Ctx::new(&run_with(loss, None)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(26.0));
}

#[test]
fn a_spike_in_a_six_line_paste_is_found() {
    let values = [0.66, 0.80, 4.27, 0.77, 0.56, 0.82];
    let loss = curve(values.len(), |i| values[i]);
    let f = detect(&Ctx::new(&run_with(loss, None)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].peak_step, f[0].severity),
        (Some(2.0), Severity::Warning)
    );
    // A short healthy fall from a high start is not a spike.
    let falling: Vec<Point> = [10.9, 6.1, 4.2, 3.3, 2.9, 2.6, 2.5]
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            step: 10.0 * i as f64,
            value,
        })
        .collect();
    assert!(detect(&Ctx::new(&run_with(falling, None))).is_empty());
}

#[test]
fn a_spike_in_a_short_paste_of_a_loss_below_zero_is_found() {
    // A WaveGlow flow NLL pasted into an issue, seven points every 20 steps: -4.07 … -4.32,
    // then 4191.68, then back to -2.41. No ratio to a negative median says that; the rise in
    // units of the level's own size does.
    let values = [-4.066, -4.49, -4.454, -4.322, 4191.68, -2.409, -2.908];
    let loss = curve(values.len(), |i| values[i]);
    let f = detect(&Ctx::new(&run_with(loss, None)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(4.0));
    assert!(
        f[0].summary.contains("above the baseline"),
        "{}",
        f[0].summary
    );
    // The same paste wandering from -4.3 to -3.1 and back is no spike.
    let wander = [-4.066, -4.49, -4.454, -4.322, -3.1, -3.9, -4.1];
    let loss = curve(wander.len(), |i| wander[i]);
    assert!(detect(&Ctx::new(&run_with(loss, None))).is_empty());
}

#[test]
fn a_sixteen_point_band_is_judged_on_the_noise_it_really_has() {
    // One epoch of per-batch losses logged every 50 steps, ±0.1 around 0.5 with nothing
    // standing out: a 3-point median understates such noise by half, which once made the
    // 0.76 a "spike". A point at 2.0 in the same band still is one.
    let band = [
        0.434, 0.485, 0.458, 0.382, 0.529, 0.551, 0.547, 0.294, 0.688, 0.759, 0.511, 0.465, 0.493,
        0.555, 0.602, 0.461,
    ];
    assert!(find(&band, 0.0, |_| None).is_empty());
    let mut bad = band;
    bad[9] = 2.0;
    let found = find(&bad, 0.0, |_| None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].peak, 9);
}

#[test]
fn a_bump_invisible_on_the_runs_scale_is_not_a_spike() {
    // A fine-tune's epoch losses falling from 0.36 through three decades: 0.0076 → 0.019
    // at epoch 10 is 2.5× its neighbours but 3 % of where the run started. The same epoch
    // at 0.2 is a spike.
    let epochs = [
        0.3608, 0.1679, 0.1339, 0.0934, 0.0694, 0.0247, 0.0103, 0.0057, 0.0076, 0.0189, 0.0059,
        0.0041, 0.0064, 0.0012, 0.0019, 0.0006, 0.0012, 0.0008, 0.0002, 0.0002,
    ];
    let run = run_with(per_epoch(&epochs), None);
    assert!(detect(&Ctx::new(&run)).is_empty());
    let mut bad = epochs;
    bad[9] = 0.2;
    let run = run_with(per_epoch(&bad), None);
    let found = detect(&Ctx::new(&run));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peak_step, Some(10.0));
}

#[test]
fn a_jump_far_out_of_a_quiet_late_level_is_a_spike_though_small_beside_the_start() {
    // Pre-training logged every 50 steps as a mean: 5.3 at the first point, 0.48 by the
    // end with batches varying by 0.005, then 0.64 and 0.58 for two points and back. The
    // jump is 3 % of the start but a third of the level, far out of the noise.
    let mut loss = curve(92, |i| {
        0.4 + 4.9 * (-(i as f64) / 1.5).exp()
            + 0.2 / (1.0 + i as f64 / 10.0)
            + 0.004 * ((i * 7 % 5) as f64 - 2.0) / 2.0
    });
    for p in loss.iter_mut() {
        p.step *= 50.0;
    }
    let level = loss[81].value;
    loss[82].value = level + 0.16;
    loss[83].value = level + 0.10;
    let found = detect(&Ctx::new(&run_with(loss.clone(), None)));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peak_step, Some(loss[82].step));
}

#[test]
fn a_bad_batch_is_found_at_its_step() {
    let mut loss = decaying(800, 0.03, 1);
    loss[400].value += 6.0;
    let f = detect(&Ctx::new(&run_with(loss, Some(65))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(400.0));
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn a_modest_jump_on_a_quiet_mean_logged_curve_is_a_spike_and_in_noise_is_not() {
    // Each logged point a mean over many batches: the noise is a thousandth of the level,
    // and a bad batch lifts one mean by 16 %.
    let mut quiet = decaying(100, 0.002, 7);
    quiet[60].value *= 1.16;
    let f = detect(&Ctx::new(&run_with(quiet, Some(61))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(60.0));
    // The same 16 % on single-batch logs with a 4 % spread is within what sampling does.
    let mut noisy = decaying(100, 0.1, 7);
    noisy[60].value *= 1.16;
    assert!(detect(&Ctx::new(&run_with(noisy, Some(61)))).is_empty());
}

#[test]
fn a_jump_in_epoch_means_is_lost_progress_not_a_bad_batch() {
    // Keras-style: one training and one validation mean per epoch.
    let mut epochs: Vec<f64> = (0..30)
        .map(|e| 0.1 + 0.9 * (-(e as f64) / 6.0).exp())
        .collect();
    epochs[18] = 0.45;
    let mut run = run_with(per_epoch(&epochs), None);
    let spike = detect(&Ctx::new(&run));
    assert_eq!(spike.len(), 1, "{spike:?}");
    assert_eq!(
        spike[0].kind,
        FindingKind::Spike,
        "training points alone may be steps"
    );
    run.val_loss = per_epoch(&epochs.iter().map(|v| v + 0.05).collect::<Vec<_>>());
    let found = detect(&Ctx::new(&run));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Instability);
    assert_eq!(found[0].peak_step, Some(19.0));
    assert!(
        found[0].summary.contains("epoch-mean"),
        "{}",
        found[0].summary
    );
}

#[test]
fn the_guard_skip_is_attached_to_the_spike() {
    let mut loss = decaying(800, 0.03, 2);
    loss[400].value += 6.0;
    let mut run = run_with(loss, Some(65));
    run.events.push(Event {
        step: 400.0,
        kind: "guard_skip".into(),
        detail: String::new(),
    });
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info, "handled by the guard");
    assert!(f[0].advice.starts_with("Handled"), "{}", f[0].advice);
    assert!(
        f[0].summary.contains("skipped the update at step 400"),
        "{}",
        f[0].summary
    );
}

#[test]
fn a_small_bump_at_an_epoch_start_is_expected() {
    let mut train = decaying(600, 0.01, 5);
    train[300].value *= 1.4;
    let mut run = run_with(train, None);
    let warning = |run: &crate::Run| {
        detect(&Ctx::new(run))
            .into_iter()
            .filter(|f| f.severity >= Severity::Warning)
            .count()
    };
    assert_eq!(warning(&run), 1, "without epochs it is a spike");
    run.steps_per_epoch = Some(300.0);
    assert_eq!(warning(&run), 0, "at an epoch start it is expected");
    run.train_loss[300].value *= 2.0;
    assert_eq!(warning(&run), 1, "a big jump is still a spike");
}

#[test]
fn heavy_but_ordinary_noise_is_not_a_spike() {
    // Batch-4-like noise: wide, but no outlier stands 8 robust sd and 10% above the level.
    let loss = decaying(3000, 0.25, 3);
    assert!(detect(&Ctx::new(&run_with(loss, Some(65)))).is_empty());
}

#[test]
fn a_small_bump_on_a_quiet_curve_is_not_a_spike_but_a_bad_batch_is() {
    let mut loss = decaying(500, 0.01, 4);
    loss[250].value *= 1.06; // 6%: under the relative threshold
    assert!(detect(&Ctx::new(&run_with(loss.clone(), None))).is_empty());
    // A batch of random targets lifts a word model's loss by 15–18% (4.26 → 5.04): far out
    // of the noise, and a spike even though well under 1.2× its level.
    loss[250].value *= 1.15 / 1.06;
    let f = detect(&Ctx::new(&run_with(loss, None)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(250.0));
}

#[test]
fn a_dozen_hard_batches_near_zero_are_a_heavy_tail_not_events() {
    // A fine-tuned classifier logged one batch every 10 steps: ~3e-4 most of the time, and one
    // batch in forty, at random, holding a misclassified example (0.05-0.3). (Bumps at a
    // fixed rhythm would be a cycle: see the periodic test below.)
    let mut rng = Noise::new(23);
    let loss: Vec<Point> = curve(500, |i| 0.0003 + 0.6 * (-(i as f64) / 30.0).exp())
        .into_iter()
        .enumerate()
        .map(|(i, p)| Point {
            value: if i > 60 && rng.normal() > 1.96 {
                p.value + 0.05 + 0.25 * rng.normal().abs().min(1.0)
            } else {
                p.value
            },
            ..p
        })
        .collect();
    let f = detect(&Ctx::new(&run_with(loss, None)));
    let total = f[0].evidence["spikes_total"].as_f64().unwrap_or(0.0);
    assert!(total >= 10.0, "{total} bumps found");
    assert!(
        f.iter().all(|f| f.severity == Severity::Info),
        "{:?}",
        f.iter()
            .map(|f| (f.kind, f.severity, f.peak_step))
            .collect::<Vec<_>>()
    );
}

#[test]
fn spikes_on_a_cycle_are_one_periodic_finding_and_scattered_ones_are_spikes() {
    let with_spikes_at = |at: &[usize]| {
        let mut loss = decaying(600, 0.01, 21);
        for &i in at {
            loss[i].value *= 2.5;
        }
        loss
    };
    // A hidden state replaced by noise every 65 steps.
    let found = detect(&Ctx::new(&run_with(
        with_spikes_at(&[70, 135, 200, 265, 330, 395]),
        Some(65),
    )));
    let periodic: Vec<&Finding> = found
        .iter()
        .filter(|f| f.kind == FindingKind::Periodic)
        .collect();
    assert_eq!(periodic.len(), 1, "{found:?}");
    assert!(
        periodic[0].summary.contains("every 65 steps"),
        "{}",
        periodic[0].summary
    );
    assert!(found
        .iter()
        .filter(|f| f.kind == FindingKind::Spike)
        .all(|f| f.severity == Severity::Info));
    // The same number of bad batches at no particular rhythm: four spikes, no cycle.
    let found = detect(&Ctx::new(&run_with(
        with_spikes_at(&[70, 100, 260, 480]),
        Some(65),
    )));
    assert!(
        found.iter().all(|f| f.kind == FindingKind::Spike),
        "{found:?}"
    );
    assert_eq!(found.len(), 4);
}

#[test]
fn a_cycle_whose_next_spike_is_cut_off_by_the_end_of_the_log_has_not_diverged() {
    // Spikes every 65 steps, each taking 15 steps to recover; the log stops 6 steps into the
    // fifth one.
    let mut loss = decaying(336, 0.01, 22);
    for start in [70usize, 135, 200, 265, 330] {
        for k in 0..15 {
            if let Some(p) = loss.get_mut(start + k) {
                p.value *= 1.0 + 2.0 * (-(k as f64) / 4.0).exp();
            }
        }
    }
    let d = crate::diagnose(&run_with(loss, Some(65)));
    assert_eq!(warned(&d), vec![FindingKind::Periodic], "{:?}", d.findings);
}

#[test]
fn a_spike_that_leaves_the_loss_a_quarter_higher_also_reports_the_lost_ground() {
    // An LR jump at step 200: 1.9 → 12, back to 2.4 within 40 steps and staying there, 25 %
    // above where the run stood. A one-step jump (a bad batch) is one spike.
    let run_of = |lasting: f64| {
        let loss: Vec<Point> = curve(400, |i| {
            let base = 1.5 + 2.0 * (-(i as f64) / 40.0).exp();
            match i {
                0..=199 => base,
                200 if lasting == 0.0 => base + 10.0,
                _ if lasting == 0.0 => base,
                _ => base + lasting + 10.0 * (-((i - 200) as f64) / 5.0).exp(),
            }
        });
        crate::diagnose(&run_with(loss, Some(82)))
    };
    let lasting = run_of(0.45);
    let kinds = warned(&lasting);
    assert!(kinds.contains(&FindingKind::Spike), "{kinds:?}");
    assert!(
        kinds.contains(&FindingKind::Instability) || kinds.contains(&FindingKind::Divergence),
        "{kinds:?}"
    );
    assert_eq!(warned(&run_of(0.0)), vec![FindingKind::Spike]);
}

#[test]
fn a_last_point_thousands_of_times_the_level_is_a_spike() {
    // A detector's per-step total loss (a TF Object Detection API thread): 0.1-0.8 for 30
    // steps, then 3418 on the last line. The last points have no level after them and went
    // unjudged, so the run read as having one spike (11.9 at step 22) and nothing at the end.
    let values = [
        0.688, 0.648, 0.603, 0.589, 0.625, 0.576, 0.744, 0.582, 0.824, 0.841, 0.123, 0.198, 0.182,
        0.146, 0.315, 0.237, 0.256, 0.159, 0.092, 0.185, 0.826, 0.609, 11.85, 0.120, 0.274, 0.802,
        0.140, 0.391, 0.148, 0.537, 3418.0,
    ];
    let f = detect(&Ctx::new(&run_with(
        curve(values.len(), |i| values[i]),
        None,
    )));
    assert!(
        f.iter()
            .any(|f| f.peak_step == Some(30.0) && f.summary.contains("the log ends there")),
        "{f:?}"
    );
    // Two far up in a row at the end are a climb: the divergence's, not a spike.
    let mut climb = values;
    climb[29] = 900.0;
    let f = detect(&Ctx::new(&run_with(curve(climb.len(), |i| climb[i]), None)));
    assert!(f.iter().all(|f| f.peak_step != Some(30.0)), "{f:?}");
    // Twice the level on the last line is within what a trend or a hard batch does there.
    let mut mild = values;
    mild[30] = 0.9;
    let f = detect(&Ctx::new(&run_with(curve(mild.len(), |i| mild[i]), None)));
    assert!(f.iter().all(|f| f.peak_step != Some(30.0)), "{f:?}");
}

#[test]
fn a_jump_on_the_last_point_does_not_claim_a_recovery() {
    // A pasted log whose last line jumps: nothing after it says whether it came back.
    let values = [0.66, 0.64, 0.61, 0.63, 0.60, 0.58, 0.59, 2.4];
    let f = detect(&Ctx::new(&run_with(
        curve(values.len(), |i| values[i]),
        None,
    )));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].summary.contains("the log ends there"),
        "{}",
        f[0].summary
    );
    assert!(!f[0].summary.contains("recovers"), "{}", f[0].summary);
    // Nine epoch means jumping on their last epoch: the same.
    let mut epochs: Vec<f64> = (0..9)
        .map(|e| 0.1 + 0.9 * (-(e as f64) / 6.0).exp())
        .collect();
    epochs[8] = 1.5;
    let mut run = run_with(per_epoch(&epochs), None);
    run.val_loss = per_epoch(&epochs.iter().map(|v| v + 0.05).collect::<Vec<_>>());
    let found = detect(&Ctx::new(&run));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].summary.contains("the log ends there") && !found[0].summary.contains("  "),
        "{}",
        found[0].summary
    );
}

#[test]
fn a_lone_jump_on_the_last_batch_of_an_epoch_is_a_partial_batch() {
    // A Lightning binary classifier logging every step, 57 steps per epoch (blind batch 92):
    // 0.28 → 0.56 at step 113, the last batch of epoch 2, back at the next step. The batch at
    // an epoch's edge is the dataset's remainder, a few examples whose mean loss is noisy.
    let per_step = |at: usize| {
        let mut rng = Noise::new(7);
        let mut loss: Vec<Point> = (0..331)
            .map(|i| Point {
                step: i as f64,
                value: 0.25 + 0.35 * (-(i as f64) / 60.0).exp() + 0.02 * rng.normal(),
            })
            .collect();
        loss[at].value *= 2.2;
        let mut run = run_with(loss, None);
        run.steps_per_epoch = Some(57.0);
        crate::diagnose(&run)
    };
    assert!(warned(&per_step(113)).is_empty());
    // The same jump in the middle of an epoch is a bad batch.
    assert_eq!(warned(&per_step(90)), vec![FindingKind::Spike]);
}

#[test]
fn a_jump_of_a_few_hundredths_near_zero_is_one_hard_example_not_a_bad_batch() {
    // A binary CNN logged one batch per step: ~0.006 once fitted, and at step 143 one batch at
    // 0.063 (10× the baseline, robust z 22), back at the next step: one confidently wrong
    // example in a batch. A jump to 0.5 there is a batch the model could not take.
    let run_of = |peak: f64| {
        let mut rng = Noise::new(7);
        let loss: Vec<Point> = curve(300, |i| 0.006 + 0.7 * (-(i as f64) / 20.0).exp())
            .into_iter()
            .enumerate()
            .map(|(i, p)| Point {
                value: match i {
                    143 => peak,
                    0..=50 => p.value,
                    _ => p.value * (1.0 + 0.15 * rng.normal()),
                },
                ..p
            })
            .collect();
        run_with(loss, None)
    };
    let warns = |f: &[Finding]| {
        f.iter()
            .any(|f| f.kind == FindingKind::Spike && f.severity >= Severity::Warning)
    };
    let small = detect(&Ctx::new(&run_of(0.063)));
    assert!(!warns(&small), "{small:?}");
    assert!(small.iter().any(|f| f.summary.contains("one hard example")));
    assert!(warns(&detect(&Ctx::new(&run_of(0.5)))));
}
