//! End-to-end: tiny runs through `train::train` with faults injected, checked against a clean
//! run and read back with the doctor. Tiny model (LSTM 32), a small generated text and a few
//! hundred steps keep each run well under a second or two.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use doctor::formats::{load, LoadOptions};
use doctor::{diagnose, Diagnosis, Finding, FindingKind, Severity};
use serde_json::Value;

use crate::config::{Config, GuardConfig};
use crate::data::Fetcher;
use crate::train::{train, RunSummary, TrainOptions};

const STEPS: u64 = 300;

/// Sentences from a tiny grammar, deterministic: enough structure for the loss to fall well
/// below the unigram level within a few hundred steps.
fn corpus(dir: &Path) -> PathBuf {
    corpus_of(dir, 80_000)
}

fn corpus_of(dir: &Path, chars: usize) -> PathBuf {
    let subjects = ["the cat", "a dog", "my friend", "the old man", "her sister"];
    let verbs = ["sees", "likes", "finds", "keeps", "wants"];
    let objects = [
        "the ball",
        "a red hat",
        "some bread",
        "the green door",
        "a small box",
    ];
    let mut state = 12345u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let mut text = String::new();
    while text.len() < chars {
        text.push_str(subjects[next(subjects.len())]);
        text.push(' ');
        text.push_str(verbs[next(verbs.len())]);
        text.push(' ');
        text.push_str(objects[next(objects.len())]);
        text.push_str(if next(4) == 0 { ".\n" } else { ". " });
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn config(corpus: &Path, guard: &str, inject: &[&str]) -> Config {
    let mut c = Config::default()
        .with_overrides(&[
            format!(
                "data.path={}",
                toml::Value::String(corpus.display().to_string())
            ),
            "data.tokenizer=char".into(),
            "model.embed=16".into(),
            "model.hidden=32".into(),
            format!("train.steps={STEPS}"),
            "train.time=''".into(),
            "train.batch=8".into(),
            "train.bptt=16".into(),
            "train.lr=0.01".into(),
            "train.warmup_steps=20".into(),
            "train.eval_every=100".into(),
            "train.checkpoint_every=100".into(),
            "train.keep_checkpoints=5".into(),
            "train.threads=1".into(),
            format!("guard.mode={guard}"),
        ])
        .unwrap();
    c.guard.inject = inject.iter().map(|s| s.to_string()).collect();
    c
}

fn run(config: Config, dir: &Path, resume: bool) -> RunSummary {
    train(TrainOptions {
        config,
        run_dir: dir.to_path_buf(),
        resume,
        quiet: true,
        stop: Arc::new(AtomicBool::new(false)),
        fetcher: Fetcher {
            data_dirs: vec![],
            cache_dir: dir.join("no-cache"),
            offline: true,
        },
    })
    .unwrap()
}

fn lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(step, event)` of every guard event.
fn guard_events(dir: &Path) -> Vec<(u64, String)> {
    lines(dir)
        .iter()
        .filter_map(|v| {
            let e = v.get("event")?.as_str()?;
            e.starts_with("guard_")
                .then(|| (v["step"].as_u64().unwrap(), e.to_string()))
        })
        .collect()
}

fn incident(dir: &Path, step: u64) -> Value {
    let p = dir.join("incidents").join(format!("step-{step}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn doctor(dir: &Path) -> Diagnosis {
    diagnose(&load(dir, &LoadOptions::default()).unwrap())
}

fn non_finite_finding(d: &Diagnosis) -> &Finding {
    d.findings
        .iter()
        .find(|f| f.kind == FindingKind::NonFinite)
        .unwrap_or_else(|| panic!("{:#?}", d.findings))
}

fn final_val(s: &RunSummary) -> f64 {
    s.final_val.unwrap().loss
}

#[test]
fn a_bad_batch_is_skipped_and_the_run_ends_where_the_clean_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let clean = run(config(&text, "full", &[]), &tmp.path().join("clean"), false);
    assert!(
        guard_events(&tmp.path().join("clean")).is_empty(),
        "a healthy run triggers no action"
    );
    assert_eq!(clean.guard.skips, 0);

    let guarded_dir = tmp.path().join("guarded");
    let guarded = run(
        config(&text, "full", &["bad-batch@200"]),
        &guarded_dir,
        false,
    );
    assert_eq!(
        guard_events(&guarded_dir),
        [(200, "guard_skip".to_string())]
    );
    let (c, g) = (final_val(&clean), final_val(&guarded));
    assert!(
        (g - c).abs() / c < 0.01,
        "guarded {g} vs clean {c}: more than 1% apart"
    );
    let inc = incident(&guarded_dir, 200);
    assert_eq!(inc["action"], "skip");
    assert_eq!(inc["reason"], "loss_spike");
    assert!(inc["statistics"]["loss_z"].as_f64().unwrap() > 6.0);
    assert!(inc["injected"][0]
        .as_str()
        .unwrap()
        .starts_with("bad-batch@200"));
    assert_eq!(inc["batch"]["input_text"].as_array().unwrap().len(), 8);
    assert_eq!(
        inc["batch"]["target_text"][0]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        16
    );

    let off_dir = tmp.path().join("off");
    run(config(&text, "off", &["bad-batch@200"]), &off_dir, false);
    assert!(guard_events(&off_dir).is_empty());
    assert!(!off_dir.join("incidents").exists());
    let spike_at_200 = |d: &Diagnosis| {
        d.findings
            .iter()
            .find(|f| f.kind == FindingKind::Spike && f.peak_step == Some(200.0))
            .cloned()
    };
    let unguarded = doctor(&off_dir);
    let spike = spike_at_200(&unguarded).unwrap_or_else(|| panic!("{:#?}", unguarded.findings));
    assert!(spike.evidence["guard_events"]
        .as_array()
        .unwrap()
        .is_empty());
    let guarded = doctor(&guarded_dir);
    let spike = spike_at_200(&guarded).unwrap_or_else(|| panic!("{:#?}", guarded.findings));
    assert!(
        spike.summary.contains("skipped the update"),
        "{}",
        spike.summary
    );
}

#[test]
fn a_healthy_run_across_epoch_starts_triggers_no_action() {
    let tmp = tempfile::tempdir().unwrap();
    // 20k characters: about 150 batches per epoch, so 300 steps cross an epoch start, where
    // the zeroed hidden state makes the first batch cost more.
    let text = corpus_of(tmp.path(), 20_000);
    let dir = tmp.path().join("healthy");
    let s = run(config(&text, "full", &[]), &dir, false);
    let epoch_starts = lines(&dir)
        .windows(2)
        .filter(|w| {
            let e = |v: &Value| v.get("epoch").and_then(Value::as_f64).map(f64::floor);
            w[0].get("loss").is_some() && w[1].get("loss").is_some() && e(&w[0]) != e(&w[1])
        })
        .count();
    assert!(epoch_starts >= 1, "the run must cross an epoch start");
    assert!(guard_events(&dir).is_empty(), "{:?}", guard_events(&dir));
    assert_eq!((s.guard.skips, s.guard.rollbacks), (0, 0));

    // A corrupt batch right at an epoch start (zeroed state) is still caught.
    let first_of_epoch_2 = lines(&dir)
        .iter()
        .find(|v| v.get("loss").is_some() && v["epoch"].as_f64().unwrap() > 1.0)
        .map(|v| v["step"].as_u64().unwrap())
        .unwrap();
    let bad = tmp.path().join("bad-at-epoch-start");
    let spec = format!("bad-batch@{first_of_epoch_2}");
    run(config(&text, "full", &[&spec]), &bad, false);
    assert_eq!(
        guard_events(&bad),
        [(first_of_epoch_2, "guard_skip".to_string())]
    );
    assert_eq!(
        incident(&bad, first_of_epoch_2)["statistics"]["fresh_state"],
        true
    );
}

#[test]
fn a_nan_is_skipped_when_guarded_and_poisons_the_run_when_off() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let guarded_dir = tmp.path().join("guarded");
    let guarded = run(config(&text, "full", &["nan@150"]), &guarded_dir, false);
    assert!(final_val(&guarded).is_finite());
    assert_eq!(guarded.steps, STEPS);
    assert_eq!(
        guard_events(&guarded_dir),
        [(150, "guard_skip".to_string())]
    );
    let inc = incident(&guarded_dir, 150);
    assert_eq!(inc["reason"], "non_finite");
    assert_eq!(inc["observed"]["loss"], "NaN");
    // The doctor sees the NaN, and that the guard kept it out of the weights.
    let d = doctor(&guarded_dir);
    let f = non_finite_finding(&d);
    assert_eq!(f.severity, Severity::Warning, "{}", f.summary);
    assert_eq!(f.start_step, Some(150.0));

    let off_dir = tmp.path().join("off");
    let off = run(config(&text, "off", &["nan@150"]), &off_dir, false);
    assert!(final_val(&off).is_nan(), "the NaN update was applied");
    let d = doctor(&off_dir);
    let f = non_finite_finding(&d);
    assert_eq!(f.start_step, Some(150.0));
    assert_eq!(f.severity, Severity::Error, "{}", f.summary);
}

#[test]
fn an_lr_spike_rolls_back_lowers_the_lr_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let clean = run(config(&text, "full", &[]), &tmp.path().join("clean"), false);
    let dir = tmp.path().join("spiked");
    // By default the first rollback keeps the rate (it undoes a brief spike by itself, as the
    // run without the setting below shows); lowering it at once exercises the lowered path.
    let mut kept = config(&text, "full", &["lr-spike@160:1.0"]);
    let kept_dir = tmp.path().join("kept");
    let kept_run = run(kept.clone(), &kept_dir, false);
    assert_eq!(kept_run.guard.rollbacks, 1);
    assert_eq!(kept_run.guard.lr_scale, 1.0);
    kept.guard.lr_lower_after = 0;
    let spiked = run(kept, &dir, false);
    let events = guard_events(&dir);
    let rollback = events
        .iter()
        .find(|(_, e)| e == "guard_rollback")
        .unwrap_or_else(|| panic!("no rollback in {events:?}"));
    assert!(rollback.0 > 160 && rollback.0 < 170, "{events:?}");
    assert_eq!(spiked.guard.rollbacks, 1);
    // Lowered at the rollback, on its way back to the schedule by the end.
    assert!(
        spiked.guard.lr_scale > 0.5 && spiked.guard.lr_scale < 1.0,
        "{}",
        spiked.guard.lr_scale
    );
    let inc = incident(&dir, rollback.0);
    assert_eq!(inc["action"], "rollback");
    assert_eq!(inc["step"], rollback.0);
    assert_eq!(
        inc["rollback"]["to_step"], 150,
        "the snapshot before the spike"
    );
    assert_eq!(inc["rollback"]["lr_scale_after"], 0.5);
    // The learning rate after the rollback is half the clean run's at the same step, and once
    // the run has been calm it climbs back towards the schedule.
    let lr_at = |d: &Path, step: u64| {
        lines(d)
            .iter()
            .find(|v| v["step"] == step && v.get("lr").is_some())
            .map(|v| v["lr"].as_f64().unwrap())
            .unwrap()
    };
    let ratio = |step| lr_at(&dir, step) / lr_at(&tmp.path().join("clean"), step);
    let calm = rollback.0 + GuardConfig::default().snapshot_every;
    assert!(
        (ratio(rollback.0 + 10) - 0.5).abs() < 1e-6,
        "lr ratio {}",
        ratio(rollback.0 + 10)
    );
    assert!((ratio(calm) - 0.5).abs() < 1e-6, "lr ratio {}", ratio(calm));
    let (r1, r2) = (ratio(calm + 20), ratio(calm + 60));
    assert!(0.5 < r1 && r1 < r2 && r2 < 1.0, "lr ratios {r1} {r2}");
    // Recovered: right after the rollback the training loss is back at its level before the
    // spike, and the run goes on learning (its last evaluation beats the one before).
    let train_median = |range: std::ops::Range<u64>| {
        let mut xs: Vec<f64> = lines(&dir)
            .iter()
            .filter(|v| v.get("loss").is_some() && range.contains(&v["step"].as_u64().unwrap()))
            .map(|v| v["loss"].as_f64().unwrap())
            .collect();
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let (before, after) = (
        train_median(140..160),
        train_median(rollback.0 + 1..rollback.0 + 21),
    );
    assert!(after < before * 1.1, "before {before}, after {after}");
    let vals: Vec<f64> = lines(&dir)
        .iter()
        .filter_map(|v| v.get("val_loss").and_then(Value::as_f64))
        .collect();
    assert!(vals[vals.len() - 1] < vals[vals.len() - 2], "{vals:?}");
    assert!(final_val(&spiked) < final_val(&clean) * 1.5);
}

#[test]
fn trouble_that_rollbacks_cannot_fix_stops_with_a_checkpoint_from_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let dir = tmp.path().join("doomed");
    // A learning rate of 5 from step 160 to the end: every rollback meets it again.
    let s = run(config(&text, "full", &["lr-spike@160:5:1000"]), &dir, false);
    assert!(
        s.stopped_because.contains("guard stopped"),
        "{}",
        s.stopped_because
    );
    assert!(s.steps < STEPS);
    let events = guard_events(&dir);
    assert_eq!(events.iter().filter(|e| e.1 == "guard_rollback").count(), 3);
    let (stop_step, last) = events.last().unwrap();
    assert_eq!(last, "guard_stop");
    let inc = incident(&dir, *stop_step);
    assert_eq!(inc["action"], "stop");
    assert!(inc["restored_step"].as_u64().unwrap() <= 160);
    let saved = dir.join("checkpoints").join(super::BEFORE_TROUBLE);
    assert!(saved.join("model.safetensors").exists());
    // The run still ends properly, evaluating the restored state.
    assert!(final_val(&s).is_finite());
    assert!(
        final_val(&s) < 3.0,
        "the restored model had learned: {}",
        final_val(&s)
    );
}

#[test]
fn corrupt_text_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let dir = tmp.path().join("corrupt");
    run(config(&text, "skip", &["corrupt-text@220"]), &dir, false);
    // The batch after it may be skipped too: its hidden state was carried from the bad text.
    let events = guard_events(&dir);
    assert_eq!(events[0], (220, "guard_skip".to_string()));
    assert!(
        events
            .iter()
            .all(|(s, e)| (220..=221).contains(s) && e == "guard_skip"),
        "{events:?}"
    );
    let inc = incident(&dir, 220);
    assert!(inc["injected"][0]
        .as_str()
        .unwrap()
        .starts_with("corrupt-text"));
}

/// The numbers of every step and evaluation line, without wall-clock fields.
fn numbers(dir: &Path) -> Vec<String> {
    lines(dir)
        .into_iter()
        .filter(|v| v.get("event").is_none())
        .map(|mut v| {
            let o = v.as_object_mut().unwrap();
            o.remove("time_s");
            o.remove("tok_per_s");
            v.to_string()
        })
        .collect()
}

#[test]
fn a_resumed_run_keeps_the_lowered_lr_and_the_guard_state() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let whole = tmp.path().join("whole");
    let mut cfg = config(&text, "full", &["lr-spike@160:1.0", "bad-batch@250"]);
    cfg.guard.lr_lower_after = 0;
    let first = run(cfg.clone(), &whole, false);
    let events = guard_events(&whole);
    assert!(events.iter().any(|e| e.1 == "guard_rollback"), "{events:?}");
    assert!(
        events.contains(&(250, "guard_skip".to_string())),
        "{events:?}"
    );

    // Resume from the checkpoint at step 200 (after the rollback) with the later ones lost.
    let cut = tmp.path().join("cut");
    copy_dir(&whole, &cut);
    std::fs::remove_dir_all(cut.join("checkpoints/step-00000300")).unwrap();
    let resumed = run(cfg, &cut, true);
    assert_eq!(resumed.guard.lr_scale, first.guard.lr_scale);
    assert!(resumed.guard.lr_scale < 1.0);
    assert_eq!(numbers(&cut), numbers(&whole));
    assert_eq!(guard_events(&cut), events);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn bad_guard_settings_fail_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus_of(tmp.path(), 2_000);
    let dir = tmp.path().join("never");
    for (config, key) in [
        (config(&text, "full", &["nan@x"]), "guard.inject"),
        (config(&text, "sometimes", &[]), "guard.mode"),
    ] {
        let err = train(TrainOptions {
            config,
            run_dir: dir.clone(),
            resume: false,
            quiet: true,
            stop: Arc::new(AtomicBool::new(false)),
            fetcher: Fetcher {
                data_dirs: vec![],
                cache_dir: dir.join("no-cache"),
                offline: true,
            },
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(key), "{err}");
        assert!(!dir.exists());
    }
}
