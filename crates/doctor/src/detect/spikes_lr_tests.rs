//! Tests of the spike detector where the learning rate's log names a cause: a brief LR jump
//! before the loss's, and warm restarts.
use super::*;
use crate::detect::test_support::{cosine_restarts, curve, decaying, run_with};

#[test]
fn a_spike_right_after_an_lr_jump_blames_the_lr_not_the_batch() {
    let mut loss = decaying(800, 0.03, 4);
    loss[401].value += 6.0;
    let mut run = run_with(loss, Some(65));
    run.lr = curve(800, |i| if i == 400 { 0.3 } else { 0.003 });
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].summary.contains(
            "right after a jump of the learning rate from 0.003 to 0.3 (×100) at step 400"
        ),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].advice.starts_with("The learning rate caused this"),
        "{}",
        f[0].advice
    );
    assert_eq!(f[0].evidence["lr_excursion"]["start"], 400.0);
    // The same spike with a steady LR is put on the batch.
    run.lr = curve(800, |_| 0.003);
    let f = detect(&Ctx::new(&run));
    assert!(
        f[0].advice.starts_with("Inspect the batch of step 401"),
        "{}",
        f[0].advice
    );
}

#[test]
fn a_modest_jump_during_an_lr_excursion_is_a_spike_and_without_it_is_noise() {
    // LR ×100 for a step lifts the next loss 0.22 above its neighbours (about 7 noise sd,
    // 10 % of the level): too little to call a spike on its own, but the logged cause says
    // what it is.
    let mut loss = decaying(800, 0.03, 4);
    loss[401].value = 0.5 * (loss[400].value + loss[402].value) + 0.22;
    let mut run = run_with(loss, Some(65));
    run.lr = curve(800, |i| if i == 400 { 0.3 } else { 0.003 });
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Spike);
    run.lr = curve(800, |_| 0.003);
    assert!(detect(&Ctx::new(&run)).is_empty());
}

#[test]
fn a_jump_after_a_brief_lr_excursion_that_lingers_is_still_a_spike() {
    // LR ×30 for three steps: the loss jumps 0.5 and stays 0.45 up for a dozen steps, so the
    // level after the jump is no baseline for it; the level before the LR jump is.
    let mut loss = decaying(800, 0.03, 5);
    for (k, p) in loss[401..416].iter_mut().enumerate() {
        p.value += if k < 2 { 0.5 } else { 0.45 };
    }
    let mut run = run_with(loss, Some(65));
    run.lr = curve(800, |i| if (400..403).contains(&i) { 0.09 } else { 0.003 });
    let f = detect(&Ctx::new(&run));
    assert!(
        f.iter()
            .any(|f| f.kind == FindingKind::Spike && (f.peak_step.unwrap() - 401.0).abs() <= 3.0),
        "{f:?}"
    );
}

#[test]
fn a_jump_above_ln_v_at_a_warm_restart_is_not_the_restarts_doing() {
    // Cosine cycles of 100 steps; the bad batch lands on the restart at step 300 and lifts the
    // loss from ~2.2 to 4.6, above ln 65 = 4.17, then the loss is back at once.
    let with_jump = |to: f64| {
        let mut loss = decaying(500, 0.02, 9);
        loss[300].value = to;
        let mut run = run_with(loss, Some(65));
        run.lr = cosine_restarts(500, 100, 1e-2);
        detect(&Ctx::new(&run))
    };
    let above = with_jump(4.6);
    assert_eq!(above.len(), 1, "{above:?}");
    assert_eq!(above[0].severity, Severity::Warning, "{}", above[0].summary);
    // A jump that stays under where the run started is what a restart does: noted only.
    let within = with_jump(3.1);
    assert!(!within.is_empty());
    assert!(
        within.iter().all(|f| f.severity == Severity::Info),
        "{within:?}"
    );
}

#[test]
fn a_warm_restart_explains_only_a_jump_that_follows_it_closely() {
    // Cosine cycles of 100 steps (restarts at 100, 200, 300, 400); one batch at `at` jumps to
    // 3.1, under where the run started (~4), in a log kept every `every` steps.
    let jump_at = |at: usize, every: usize| {
        let mut loss = decaying(500, 0.02, 9);
        loss[at].value = 3.1;
        let mut run = run_with(loss.into_iter().step_by(every).collect(), Some(65));
        run.lr = cosine_restarts(500, 100, 1e-2)
            .into_iter()
            .step_by(every)
            .collect();
        detect(&Ctx::new(&run))
    };
    let explained = |f: Vec<Finding>| {
        assert!(!f.is_empty());
        f.iter().all(|f| f.severity == Severity::Info)
    };
    // Two steps after the restart, or the next point of a log every 10 steps: the restart's.
    assert!(explained(jump_at(302, 1)));
    assert!(explained(jump_at(310, 10)));
    // The step before it, when the LR was still at the bottom of its cycle: not the restart.
    assert!(!explained(jump_at(299, 1)));
    // Six points after it in the log every 10 steps: long past what the restart did.
    assert!(!explained(jump_at(360, 10)));
}

#[test]
fn an_lr_jump_just_before_the_loss_jump_outweighs_an_earlier_restart() {
    // Warm restarts every 100 steps, and at step 308 one step's LR 100 times the schedule
    // (rnnlab draw 59, run 19: 3.15 to 3.85 at step 130, ten steps after a restart). The
    // restart at 300 excuses a jump that follows it this closely; the LR jump is the nearer
    // cause, and the jump is a spike the LR made.
    let with_lr_jump = |jump: bool| {
        let mut loss = decaying(500, 0.02, 9);
        loss[309].value = 3.1;
        let mut run = run_with(loss, Some(65));
        run.lr = cosine_restarts(500, 100, 1e-2);
        if jump {
            run.lr[308].value = 1.0;
        }
        detect(&Ctx::new(&run))
    };
    let f = with_lr_jump(true);
    let spike = f
        .iter()
        .find(|f| f.kind == FindingKind::Spike)
        .expect("spike");
    assert_eq!(spike.severity, Severity::Warning, "{}", spike.summary);
    assert_eq!(spike.evidence["lr_excursion"]["start"], 308.0);
    // Without the LR jump the restart explains it: noted only.
    assert!(with_lr_jump(false)
        .iter()
        .all(|f| f.severity == Severity::Info));
}
