//! End-to-end: a run that is interrupted and resumed logs exactly what the uninterrupted run
//! logs, and bad resumes fail with errors that name what does not match.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rnnlab::config::Config;
use rnnlab::data::Fetcher;
use rnnlab::train::{train, TrainOptions};

fn small_config() -> Config {
    Config::default()
        .with_overrides(&[
            "model.embed=16".into(),
            "model.hidden=32".into(),
            "model.layers=2".into(),
            "model.dropout=0.1".into(),
            "train.batch=8".into(),
            "train.bptt=16".into(),
            "train.steps=40".into(),
            "train.time=''".into(),
            "train.warmup_steps=5".into(),
            "train.eval_every=10".into(),
            "train.checkpoint_every=20".into(),
            "train.keep_checkpoints=5".into(),
            "train.threads=2".into(),
        ])
        .unwrap()
}

fn options(config: Config, dir: &Path, resume: bool, stop: bool) -> TrainOptions {
    TrainOptions {
        config,
        run_dir: dir.to_path_buf(),
        resume,
        quiet: true,
        stop: Arc::new(AtomicBool::new(stop)),
        fetcher: Fetcher {
            data_dirs: vec![],
            cache_dir: dir.join("no-cache"),
            offline: true,
        },
    }
}

/// The numbers of every step and evaluation line, without wall-clock fields.
fn numbers(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v.get("event").is_some() {
                return None;
            }
            let o = v.as_object_mut().unwrap();
            for k in ["time_s", "tok_per_s"] {
                o.remove(k);
            }
            Some(v.to_string())
        })
        .collect()
}

#[test]
fn interrupted_and_resumed_runs_match_the_uninterrupted_run_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let summary = train(options(small_config(), &whole, false, false)).unwrap();
    assert_eq!(summary.steps, 40);
    let reference = numbers(&whole);
    assert_eq!(reference.len(), 40 + 4, "40 steps and 4 evaluations");

    // Resume from the checkpoint written at step 20, after the later ones are lost.
    let cut = tmp.path().join("cut");
    copy_dir(&whole, &cut);
    std::fs::remove_dir_all(cut.join("checkpoints/step-00000040")).unwrap();
    train(options(small_config(), &cut, true, false)).unwrap();
    assert_eq!(numbers(&cut), reference);

    // Ctrl-C before the first step: a checkpoint at step 0, then a resume.
    let interrupted = tmp.path().join("interrupted");
    let s = train(options(small_config(), &interrupted, false, true)).unwrap();
    assert!(
        s.stopped_because.contains("interrupted"),
        "{}",
        s.stopped_because
    );
    assert!(numbers(&interrupted).is_empty());
    train(options(small_config(), &interrupted, true, false)).unwrap();
    assert_eq!(numbers(&interrupted), reference);
}

#[test]
fn bad_resumes_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut config = small_config();
    config.train.steps = 2;
    config.train.checkpoint_every = 0;
    train(options(config.clone(), &run, false, false)).unwrap();

    // A second run into the same directory without --resume.
    let err = train(options(config.clone(), &run, false, false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");

    // A resume that changes the model.
    let mut other = config.clone();
    other.model.hidden = 64;
    let err = train(options(other, &run, true, false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.hidden"), "{err}");

    // Going on for longer is allowed.
    let mut longer = config.clone();
    longer.train.steps = 4;
    let s = train(options(longer, &run, true, false)).unwrap();
    assert_eq!(s.steps, 4);

    // A resume of a directory that holds no run.
    let err = train(options(config, &tmp.path().join("empty"), true, false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("config.toml"), "{err}");
}

fn count(run: &Path, pattern: &str) -> usize {
    std::fs::read_to_string(run)
        .unwrap()
        .matches(pattern)
        .count()
}

#[test]
fn stuck_states_resume_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    train(options(small_config(), &whole, false, false)).unwrap();
    let reference = numbers(&whole);

    // Resuming a finished run repeats neither its last evaluation nor its sample.
    let again = train(options(small_config(), &whole, true, false)).unwrap();
    assert_eq!(again.steps, 40);
    assert!(again.final_val.is_some());
    assert_eq!(numbers(&whole), reference);
    assert_eq!(count(&whole.join("samples.txt"), "=== step 40 ==="), 1);
    assert_eq!(count(&whole.join("metrics.jsonl"), "\"event\":\"end\""), 1);
    // Its checkpoint lines survive the resume.
    assert_eq!(
        count(&whole.join("metrics.jsonl"), "\"event\":\"checkpoint\""),
        2
    );

    // Killed before its first checkpoint: a fresh start says what to do, a resume starts over.
    let early = tmp.path().join("early");
    copy_dir(&whole, &early);
    std::fs::remove_dir_all(early.join("checkpoints")).unwrap();
    let err = train(options(small_config(), &early, false, false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("stopped before its first checkpoint"), "{err}");
    assert!(err.contains("--resume") && err.contains("delete"), "{err}");
    train(options(small_config(), &early, true, false)).unwrap();
    assert_eq!(numbers(&early), reference);
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

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// An Adam run whose guard snapshots every 10 steps: its checkpoints keep the optimizer's
/// moments and the guard's snapshot in `trainer.safetensors` (4 bytes a number), so a
/// checkpoint is the weights, two moments, and one snapshot of weights and two moments:
/// 6 times the weights and a little. A resume from it is exact, and a checkpoint written
/// before the tensor file existed (everything in `trainer.msgpack`) resumes exactly too.
#[test]
fn checkpoints_keep_buffers_as_tensors_and_old_checkpoints_still_resume() {
    use rnnlab::checkpoint::{self, CheckpointInfo, STATE_TENSORS};
    use rnnlab::train::state::TrainerState;

    let mut config = small_config();
    config.guard.snapshot_every = 10;
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    train(options(config.clone(), &whole, false, false)).unwrap();
    let reference = numbers(&whole);
    let s20 = whole.join("checkpoints/step-00000020");
    let weights = std::fs::metadata(s20.join("model.safetensors"))
        .unwrap()
        .len();
    let ratio = dir_bytes(&s20) as f64 / weights as f64;
    println!("checkpoint / weights = {ratio:.3}");
    assert!(s20.join(STATE_TENSORS).exists());
    assert!((6.0..6.2).contains(&ratio), "{ratio}");

    let cut = tmp.path().join("cut");
    copy_dir(&whole, &cut);
    std::fs::remove_dir_all(cut.join("checkpoints/step-00000040")).unwrap();
    train(options(config.clone(), &cut, true, false)).unwrap();
    assert_eq!(numbers(&cut), reference);

    // The same checkpoint in the old layout.
    let old = tmp.path().join("old");
    copy_dir(&whole, &old);
    std::fs::remove_dir_all(old.join("checkpoints/step-00000040")).unwrap();
    let o20 = old.join("checkpoints/step-00000020");
    let info: CheckpointInfo = checkpoint::read_info(&o20).unwrap();
    let state: TrainerState = checkpoint::read_trainer_state(&o20, info.params).unwrap();
    assert_eq!(
        state.guard.snapshot_steps(),
        [10],
        "one snapshot, from step 10"
    );
    let files: Vec<(String, Vec<u8>)> = [
        (
            "model.safetensors".to_string(),
            std::fs::read(o20.join("model.safetensors")).unwrap(),
        ),
        (
            "trainer.msgpack".to_string(),
            rmp_serde::to_vec_named(&state).unwrap(),
        ),
        (
            "checkpoint.json".to_string(),
            serde_json::to_vec(&info).unwrap(),
        ),
    ]
    .into();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    checkpoint::write_files(&o20, &refs).unwrap();
    assert!(!o20.join(STATE_TENSORS).exists());
    train(options(config, &old, true, false)).unwrap();
    assert_eq!(numbers(&old), reference);
}

/// `train.eval_batch` sets how many validation streams score the model: the default scores
/// with `train.batch` streams, and one stream scores the same weights differently (the state
/// carries through the whole validation text). Training itself is the same.
#[test]
fn eval_batch_sets_the_validation_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let val = |dir: &Path| -> Vec<(u64, f64)> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Some((v["step"].as_u64()?, v.get("val_loss")?.as_f64()?))
            })
            .collect()
    };
    let train_losses = |dir: &Path| -> Vec<String> {
        numbers(dir)
            .into_iter()
            .filter(|l| !l.contains("val_loss"))
            .collect()
    };
    let default = tmp.path().join("default");
    train(options(small_config(), &default, false, false)).unwrap();
    let one = tmp.path().join("one");
    let config = small_config()
        .with_overrides(&["train.eval_batch=1".into()])
        .unwrap();
    train(options(config, &one, false, false)).unwrap();
    let (a, b) = (val(&default), val(&one));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && y.1.is_finite()));
    assert_ne!(a, b, "one stream scored like eight");
    assert_eq!(train_losses(&default), train_losses(&one));
}
