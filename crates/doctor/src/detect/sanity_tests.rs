//! Tests of the sanity checks: non-finite and invalid losses, the initial loss.

use super::*;
use crate::detect::test_support::{curve, run_with, spaced};

#[test]
fn nan_is_reported_at_its_first_step() {
    let mut loss = curve(200, |i| 4.0 - i as f64 * 0.01);
    for p in loss.iter_mut().skip(120) {
        p.value = f64::NAN;
    }
    let run = run_with(loss, Some(65));
    let f = non_finite(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].start_step, Some(120.0));
    assert_eq!(f[0].severity, Severity::Error);
}

#[test]
fn a_nan_the_guard_skipped_is_a_warning_that_names_the_guard() {
    let mut loss = curve(300, |i| 4.0 - i as f64 * 0.005);
    loss[150].value = f64::NAN;
    let mut run = run_with(loss, Some(65));
    run.events.push(crate::Event {
        step: 150.0,
        kind: "guard_skip".into(),
        detail: "non-finite loss".into(),
    });
    let f = non_finite(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].start_step, Some(150.0));
    assert!(f[0].summary.contains("guard"), "{}", f[0].summary);

    // A guard event at another step does not excuse this NaN.
    run.events[0].step = 40.0;
    assert_eq!(non_finite(&Ctx::new(&run))[0].severity, Severity::Error);
    // Nor does a skip when the loss stays NaN afterwards.
    run.events[0].step = 150.0;
    for p in run.train_loss.iter_mut().skip(150) {
        p.value = f64::NAN;
    }
    assert_eq!(non_finite(&Ctx::new(&run))[0].severity, Severity::Error);
}

#[test]
fn a_lone_gradient_overflow_is_only_info() {
    let mut run = run_with(curve(300, |i| 4.0 - i as f64 * 0.005), Some(65));
    run.grad_norm = curve(300, |_| 0.5);
    run.grad_norm[100].value = f64::INFINITY;
    let f = non_finite(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);
    // A fp16 LoRA fine-tune logging every 20 steps: grad_norm nan at its first log (the loss
    // scaler calibrating), one value in 75 — still the scaler.
    let mut short = run_with(curve(75, |i| 0.8 - i as f64 * 0.005), None);
    short.grad_norm = curve(75, |_| 2.0);
    short.grad_norm[0].value = f64::NAN;
    assert_eq!(non_finite(&Ctx::new(&short))[0].severity, Severity::Info);
    // An overflow that comes with the loss jumping 30x is no skipped step.
    run.train_loss[100].value *= 30.0;
    assert_eq!(non_finite(&Ctx::new(&run))[0].severity, Severity::Warning);
}

#[test]
fn negative_cross_entropy_is_invalid() {
    // A language model's loss (the vocabulary is known) that crosses zero: a bug.
    let run = run_with(curve(100, |i| 1.0 - i as f64 * 0.02), Some(65));
    let f = invalid_loss(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].start_step, Some(51.0));
    assert_eq!(f[0].severity, Severity::Error);
    // So is one whose name says cross-entropy or CTC, vocabulary or not.
    for name in [
        "loss_ce",
        "train/ctc_loss",
        "CrossEntropyLoss",
        "val_logloss",
    ] {
        let mut named = run_with(curve(100, |i| 1.0 - i as f64 * 0.02), None);
        named.columns.train_loss = Some(name.into());
        assert_eq!(
            invalid_loss(&Ctx::new(&named))[0].severity,
            Severity::Error,
            "{name}"
        );
    }
}

#[test]
fn a_negative_loss_of_unknown_kind_is_judged_by_its_shape_unless_its_sign_swings() {
    // A flow's NLL sitting near -4.3, or a negative Dice loss falling from -0.46 to -0.88:
    // negative by design. With nothing saying what the loss is, the finding informs, the
    // shape is judged like any other, and the healthy verdict says what would make it a bug
    // (readers of 40 such published runs call 32 healthy).
    let verdict = |values: &[f64]| {
        let run = run_with(curve(values.len(), |i| values[i]), None);
        let f = invalid_loss(&Ctx::new(&run));
        assert_eq!(f[0].severity, Severity::Info, "{f:?}");
        crate::detect::diagnose(&run)
    };
    let flow: Vec<f64> = (0..30)
        .map(|i| -4.3 + 0.3 * ((i * 7 % 5) as f64 - 2.0) / 2.0)
        .collect();
    let dice: Vec<f64> = (0..60)
        .map(|i| -0.88 + 0.42 * (-(i as f64) / 8.0).exp())
        .collect();
    for values in [&flow[..], &dice[..]] {
        let d = verdict(values);
        assert_eq!(
            d.verdict,
            crate::report::Verdict::Healthy,
            "{}",
            d.to_terminal()
        );
        assert!(d
            .reasons
            .iter()
            .any(|r| r.contains("signed by design") && r.contains("--vocab-size")));
    }
    // A policy-gradient loss that swings about zero (+0.8, -1.1, +0.3 …) has no floor to
    // measure progress against: inconclusive, saying so.
    let policy: Vec<f64> = (0..40)
        .map(|i| [0.8, -1.1, 0.3, -0.4, 1.2, -0.7][i % 6] * (1.0 + 0.01 * i as f64))
        .collect();
    let d = verdict(&policy);
    assert_eq!(
        d.verdict,
        crate::report::Verdict::Inconclusive,
        "{}",
        d.to_terminal()
    );
    assert!(d.reasons.iter().any(|r| r.contains("changes sign")));
    // Five epochs of a GluonTS DeepAR Gaussian NLL (0.19 -> -0.40) are too few either way.
    let deepar = [0.188573, -0.131554, -0.273915, -0.33702, -0.398353];
    assert_eq!(
        verdict(&deepar).verdict,
        crate::report::Verdict::Inconclusive
    );
    // A Gaussian NLL says so by its name: still not a cross-entropy.
    let mut nll = run_with(curve(20, |i| 0.5 - 0.1 * i as f64), None);
    nll.columns.train_loss = Some("nll_loss".into());
    assert_eq!(invalid_loss(&Ctx::new(&nll))[0].severity, Severity::Info);
}

#[test]
fn a_loss_that_jumps_and_repeats_to_the_last_digit_has_saturated() {
    // A Caffe captioner: 184.354 at iteration 0, then 1746.73 at 100, 200 and 300 (87.34 per
    // token, −ln(FLT_MIN), times 20 tokens).
    let points = |values: &[f64]| spaced(values, 0.0, 100.0);
    let run = run_with(points(&[184.354, 1746.73, 1746.73, 1746.73]), None);
    let f = saturated(&Ctx::new(&run)).expect("saturated");
    assert_eq!(f.kind, FindingKind::Divergence);
    assert_eq!(f.start_step, Some(100.0));
    // Two repeats, a repeat that is no jump, and one that the log leaves are not this.
    for values in [
        &[184.354, 1746.73, 1746.73][..],
        &[2.31, 2.30, 2.30, 2.30][..],
        &[184.354, 1746.73, 1746.73, 1746.73, 150.0][..],
    ] {
        assert!(saturated(&Ctx::new(&run_with(points(values), None))).is_none());
    }
}

#[test]
fn a_loss_that_prints_the_same_value_at_every_log_is_frozen() {
    // StudioGAN's DCGAN on Tiny-ImageNet: the discriminator loss is 13.82 at steps 100-500.
    let points = |values: &[f64]| spaced(values, 100.0, 100.0);
    let run = run_with(points(&[13.82; 5]), None);
    let f = frozen_from_the_start(&Ctx::new(&run)).expect("frozen");
    assert_eq!(f.kind, FindingKind::Stagnation);
    // Four logs, a value that moves by two units of its last printed digit once, or exact
    // zeros (invalid, elsewhere) are not this. (One unit is the printing's rounding.)
    for values in [
        &[13.82; 4][..],
        &[13.82, 13.82, 13.80, 13.82, 13.82][..],
        &[0.0; 6][..],
    ] {
        assert!(frozen_from_the_start(&Ctx::new(&run_with(points(values), None))).is_none());
    }
}

#[test]
fn a_loss_equal_to_float32_precision_at_every_log_is_frozen() {
    // A Keras LSTM's CSVLogger, five epochs: 0.48743418, 0.48743412, 0.48743403, 0.48743409,
    // 0.48743418 — the same loss up to the rounding of a float32 sum.
    let points = |values: &[f64]| spaced(values, 0.0, 1.0);
    let stuck = [0.48743418, 0.48743412, 0.48743403, 0.48743409, 0.48743418];
    let f = frozen_from_the_start(&Ctx::new(&run_with(points(&stuck), None))).expect("frozen");
    assert_eq!(f.kind, FindingKind::Stagnation);
    // A change in the fifth digit is a loss that moves.
    let moving = [0.48743, 0.48741, 0.48739, 0.48738, 0.48736];
    assert!(frozen_from_the_start(&Ctx::new(&run_with(points(&moving), None))).is_none());
}

#[test]
fn a_loss_printed_to_four_digits_that_never_leaves_its_last_digit_is_frozen() {
    // Keras LSTM(1) + a softmax over one unit (a Stack Overflow question, blind batch 98): the
    // progress bar prints 0.7534, 0.7533, 0.7534, 0.7534, 0.7534 for epochs 1-5. At the log's
    // own precision nothing moves.
    let points = |values: &[f64]| spaced(values, 1.0, 1.0);
    let stuck = [0.7534, 0.7533, 0.7534, 0.7534, 0.7534];
    let f = frozen_from_the_start(&Ctx::new(&run_with(points(&stuck), None))).expect("frozen");
    assert_eq!(f.kind, FindingKind::Stagnation);
    // Two units of the last digit is a loss that moves, however slowly.
    let creeping = [0.7534, 0.7533, 0.7532, 0.7531, 0.7530];
    assert!(frozen_from_the_start(&Ctx::new(&run_with(points(&creeping), None))).is_none());
    // Printed to one significant digit (a self-critical caption fine-tune's fairseq log:
    // −0.006, −0.005), a unit of the last digit is a sixth of the value: nothing says the loss
    // does not move.
    let coarse = [-0.006, -0.006, -0.006, -0.005, -0.006];
    assert!(frozen_from_the_start(&Ctx::new(&run_with(points(&coarse), None))).is_none());
}

#[test]
fn a_loss_frozen_from_its_second_log_is_frozen() {
    // A Keras MLP fed digit labels 0-9 under a binary cross-entropy (a Data Science SE
    // question, blind batch 113): epoch 1's mean is -55.0254, then -55.0284 at every epoch.
    // The first log averages the steps before the network saturated.
    let points = |values: &[f64]| spaced(values, 1.0, 1.0);
    let stuck = [
        -55.0254, -55.0284, -55.0284, -55.0284, -55.0284, -55.0284, -55.0284,
    ];
    let f = frozen_from_the_start(&Ctx::new(&run_with(points(&stuck), None))).expect("frozen");
    assert_eq!(f.kind, FindingKind::Stagnation);
    assert_eq!(f.start_step, Some(2.0));
    // A first drop, then a loss that keeps moving in its last digits, is no frozen run.
    let settling = [0.9, 0.5012, 0.5009, 0.5007, 0.5004, 0.5001];
    assert!(frozen_from_the_start(&Ctx::new(&run_with(points(&settling), None))).is_none());
    // Four equal logs after the first are too few to say.
    assert!(frozen_from_the_start(&Ctx::new(&run_with(points(&stuck[..5]), None))).is_none());
}

#[test]
// A pasted loss of -0.3927 is data, not an approximation of π/8.
#[allow(clippy::approx_constant)]
fn a_negative_loss_that_keeps_falling_without_slowing_is_invalid_whatever_its_kind() {
    // A VAE whose Gaussian likelihood's learnable scale collapses on 0/1 data (Lightning, every
    // 50 steps): −65,000 → −457,000 and still falling at the same pace. A flow's NLL from −88
    // to −124 over 300 epochs slows as it goes: negative by design, and levelling off.
    let runaway = run_with(curve(60, |i| -65_000.0 - 6_500.0 * i as f64), None);
    let f = invalid_loss(&Ctx::new(&runaway));
    assert_eq!(f[0].severity, Severity::Error, "{f:?}");
    assert!(f[0].summary.contains("without slowing"), "{}", f[0].summary);
    let levelling = run_with(
        curve(300, |i| -124.0 + 36.0 * (-(i as f64) / 80.0).exp()),
        None,
    );
    assert_eq!(
        invalid_loss(&Ctx::new(&levelling))[0].severity,
        Severity::Info
    );
    // A negative Dice loss that doubles at its pace over ten epochs stays above −1, where a
    // similarity bottoms out: learning, not exploiting.
    let dice = [
        -0.0853, -0.2196, -0.245, -0.2607, -0.3141, -0.3927, -0.4538, -0.4979, -0.5239, -0.5417,
    ];
    assert_eq!(
        invalid_loss(&Ctx::new(&run_with(spaced(&dice, 1.0, 1.0), None)))[0].severity,
        Severity::Info
    );
    // A negative loss that shrinks toward zero is no runaway either.
    let shrinking = run_with(curve(40, |i| -50.0 + i as f64), None);
    assert_eq!(
        invalid_loss(&Ctx::new(&shrinking))[0].severity,
        Severity::Info
    );
}
