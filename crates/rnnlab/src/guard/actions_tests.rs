//! Tests of the guard's decisions, snapshots, rollbacks and learning-rate factor.

use super::actions::*;
use super::snapshot::Restorable;
use crate::config::GuardConfig;
use crate::data::DataPosition;
use doctor::online::MonitorConfig;
use engine::optim::AnyOptimizer;
use engine::optim::{AdamConfig, OptimizerConfig};
use engine::rng::seeded;
use engine::rng::EngineRng;
use engine::ParamStore;

struct Trainer {
    params: ParamStore,
    optimizer: AnyOptimizer,
    rng: EngineRng,
}

impl Trainer {
    fn new() -> Trainer {
        let mut params = ParamStore::new();
        params.add("w", &[3]);
        Trainer {
            params,
            optimizer: AnyOptimizer::new(&OptimizerConfig::Adam(AdamConfig::default())).unwrap(),
            rng: seeded(1),
        }
    }
    fn parts(&mut self) -> Restorable<'_> {
        Restorable {
            params: &mut self.params,
            optimizer: &mut self.optimizer,
            rng: &mut self.rng,
        }
    }
}

fn monitor_config(config: &GuardConfig, mode: Mode) -> MonitorConfig {
    MonitorConfig {
        mode,
        ..config.monitor_config().unwrap()
    }
}

fn wobble(i: u64) -> f64 {
    ((i as f64 * 12.9898).sin() * 43758.5453).fract()
}

/// Runs steps `from..to` with `loss(step)`, applying accepted updates as a weight
/// change of +1 so a rollback is visible in the weights; returns the decisions.
fn drive(
    g: &mut GuardState,
    t: &mut Trainer,
    config: &GuardConfig,
    mode: Mode,
    steps: std::ops::Range<u64>,
    loss: impl Fn(u64) -> f64,
) -> Vec<(u64, Action)> {
    let mut out = Vec::new();
    for step in steps {
        g.maybe_snapshot(config, mode, step, DataPosition::default(), t.parts());
        let l = loss(step);
        let mc = monitor_config(config, mode);
        let d = g.decide(&mc, config, step, l, 1.0 + 0.05 * wobble(step), false);
        match d.action {
            Action::Apply => {
                g.applied(&mc, l, 1.0);
                t.params.values[0] += 1.0;
            }
            Action::Skip => {}
            Action::Rollback => {
                g.rollback(config, d.reason, t.parts()).unwrap();
            }
            Action::Stop => {
                g.restore_for_stop(t.parts()).unwrap();
            }
        }
        if d.action != Action::Apply {
            out.push((step, d.action));
        }
        if d.action == Action::Stop {
            break;
        }
    }
    out
}

fn healthy(step: u64) -> f64 {
    2.0 * (1.0 + 0.02 * wobble(step))
}

#[test]
fn one_bad_step_is_skipped_and_nothing_else_happens() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..300, |s| {
        if s == 150 {
            9.0
        } else {
            healthy(s)
        }
    });
    assert_eq!(acts, [(150, Action::Skip)]);
    assert_eq!(t.params.values[0], 299.0, "every other update applied");
    assert_eq!(g.lr_scale, 1.0);
    assert_eq!(g.skips_total(), 1);
}

#[test]
fn a_nan_is_applied_when_the_guard_is_off_and_skipped_otherwise() {
    let config = GuardConfig::default();
    for (mode, want) in [
        (Mode::Off, Action::Apply),
        (Mode::Skip, Action::Skip),
        (Mode::Full, Action::Skip),
    ] {
        let mut g = GuardState::new(&config);
        assert_eq!(
            g.decide(
                &monitor_config(&config, mode),
                &config,
                0,
                f64::NAN,
                1.0,
                false
            )
            .action,
            want,
            "{mode:?}"
        );
    }
    let off_switch = GuardConfig {
        skip_non_finite: false,
        ..GuardConfig::default()
    };
    let mut g = GuardState::new(&off_switch);
    assert_eq!(
        g.decide(
            &monitor_config(&off_switch, Mode::Full),
            &off_switch,
            0,
            f64::NAN,
            1.0,
            false
        )
        .action,
        Action::Apply
    );
}

#[test]
fn repeated_spikes_roll_back_to_the_state_before_them_and_keep_the_lr() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    // Damage shows from step 173 on and lasts until a rollback.
    let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..176, |s| {
        if s >= 173 {
            6.0
        } else {
            healthy(s)
        }
    });
    assert_eq!(
        acts,
        [
            (173, Action::Skip),
            (174, Action::Skip),
            (175, Action::Rollback)
        ]
    );
    // Snapshot at 150 (state after 150 updates) is the one restored; going back to before
    // the trouble undid it, so the learning rate keeps its schedule.
    assert_eq!(t.params.values[0], 150.0);
    assert_eq!(g.lr_scale, 1.0);
    assert_eq!(g.rollbacks_total(), 1);
    // Healthy again: no more actions, and a new snapshot only after a clean stretch.
    let acts = drive(&mut g, &mut t, &config, Mode::Full, 176..400, healthy);
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(g.snapshot_steps(), [300, 350]);
    assert_eq!(g.lr_scale_at(&config, 400), 1.0);
}

/// Trouble from step 173 that is still there after the first rollback: a second rollback
/// in the same episode. Returns the step of the last flag.
fn trouble_that_comes_back(g: &mut GuardState, t: &mut Trainer, config: &GuardConfig) -> u64 {
    let acts = drive(g, t, config, Mode::Full, 0..182, |s| {
        if (173..181).contains(&s) {
            6.0
        } else {
            healthy(s)
        }
    });
    let rollbacks: Vec<u64> = acts
        .iter()
        .filter(|a| a.1 == Action::Rollback)
        .map(|a| a.0)
        .collect();
    assert_eq!(rollbacks.len(), 2, "{acts:?}");
    acts.last().unwrap().0
}

#[test]
fn trouble_that_comes_back_after_a_rollback_halves_the_lr_until_calm() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    let last_flag = trouble_that_comes_back(&mut g, &mut t, &config);
    assert_eq!(g.lr_scale, 0.5);
    // The second rollback goes to the older snapshot (100 updates), from before the first
    // one; step 181, healthy, has been applied since.
    assert_eq!(t.params.values[0], 101.0);
    drive(&mut g, &mut t, &config, Mode::Full, 182..600, healthy);
    // The lowered rate holds through a calm stretch, then returns to the schedule.
    let calm = last_flag + config.snapshot_every;
    assert_eq!(g.lr_scale_at(&config, calm - 1), 0.5);
    let half = calm + config.lr_restore_steps / 2;
    assert!((g.lr_scale_at(&config, half) - 0.75).abs() < 1e-6);
    assert_eq!(g.lr_scale_at(&config, calm + config.lr_restore_steps), 1.0);
    let keep = GuardConfig {
        lr_restore_steps: 0,
        ..config.clone()
    };
    assert_eq!(
        g.lr_scale_at(&keep, 10_000),
        0.5,
        "restoring can be turned off"
    );
}

#[test]
fn lr_lower_after_zero_halves_the_lr_at_the_first_rollback() {
    let config = GuardConfig {
        lr_lower_after: 0,
        ..GuardConfig::default()
    };
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    drive(&mut g, &mut t, &config, Mode::Full, 0..176, |s| {
        if s >= 173 {
            6.0
        } else {
            healthy(s)
        }
    });
    assert_eq!(g.rollbacks_total(), 1);
    assert_eq!(g.lr_scale, 0.5);
}

#[test]
fn new_trouble_stops_the_restoration_where_it_got_to() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    let last_flag = trouble_that_comes_back(&mut g, &mut t, &config);
    let halfway = last_flag + config.snapshot_every + config.lr_restore_steps / 2;
    drive(&mut g, &mut t, &config, Mode::Full, 182..halfway, healthy);
    // One spike half-way through the restoration: skipped, and the factor holds at 0.75.
    let acts = drive(
        &mut g,
        &mut t,
        &config,
        Mode::Full,
        halfway..halfway + 1,
        |_| 9.0,
    );
    assert_eq!(acts, [(halfway, Action::Skip)]);
    assert!((g.lr_scale - 0.75).abs() < 1e-3, "{}", g.lr_scale);
    assert!((g.lr_scale_at(&config, halfway + 10) - g.lr_scale).abs() < 1e-7);
}

#[test]
fn skip_mode_never_rolls_back() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    let acts = drive(&mut g, &mut t, &config, Mode::Skip, 0..200, |s| {
        if s >= 100 {
            6.0
        } else {
            healthy(s)
        }
    });
    assert!(acts.iter().all(|(_, a)| *a == Action::Skip));
    assert_eq!(acts.len(), 100);
    assert!(g.snapshot_steps().is_empty());
}

#[test]
fn trouble_that_outlasts_max_rollbacks_stops_at_a_state_from_before_it() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..1000, |s| {
        if s >= 120 {
            6.0
        } else {
            healthy(s)
        }
    });
    let rollbacks = acts.iter().filter(|a| a.1 == Action::Rollback).count();
    assert_eq!(rollbacks as u32, config.max_rollbacks);
    assert_eq!(acts.last().unwrap().1, Action::Stop);
    // Good state: the older snapshot (step 50), never one taken inside the trouble.
    assert_eq!(t.params.values[0], 50.0);
    // The first rollback keeps the rate; each one after it halves it.
    assert!((g.lr_scale - 0.5f32.powi(2)).abs() < 1e-7);
}

#[test]
fn the_state_round_trips_through_a_checkpoint() {
    let config = GuardConfig::default();
    let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
    drive(&mut g, &mut t, &config, Mode::Full, 0..120, healthy);
    // The encoding checkpoints use for the trainer state.
    let bytes = rmp_serde::to_vec_named(&g).unwrap();
    let back: GuardState = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(back, g);
    // A checkpoint keeps the newest snapshot only.
    assert_eq!(g.snapshot_steps(), [50, 100]);
    let saved = g.for_checkpoint();
    assert_eq!(saved.snapshot_steps(), [100]);
    let one = rmp_serde::to_vec_named(&saved).unwrap().len();
    assert!(one < bytes.len(), "{one} vs {} bytes", bytes.len());
    let bad = GuardConfig {
        mode: "maybe".into(),
        ..GuardConfig::default()
    };
    assert!(bad
        .monitor_config()
        .unwrap_err()
        .to_string()
        .contains("guard.mode"));
}
