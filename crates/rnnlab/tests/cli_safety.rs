//! End-to-end through the `rnnlab` binary: signals, one trainer per run, validation before
//! anything is written, damaged checkpoints, and a monotone learning rate under `--time`.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnnlab");

const TINY: &[&str] = &[
    "-q",
    "--set",
    "model.embed=8",
    "--set",
    "model.hidden=16",
    "--set",
    "train.batch=4",
    "--set",
    "train.bptt=16",
    "--set",
    "train.threads=1",
    "--set",
    "train.warmup_steps=10",
    "--set",
    "train.eval_every=10",
    "--set",
    "train.checkpoint_every=10",
];

fn train_cmd(runs: &Path, name: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("train")
        .args(TINY)
        .arg("--runs")
        .arg(runs)
        .arg("--name")
        .arg(name)
        .args(extra)
        .env("RNNLAB_DATA", runs.join("no-data"))
        .env("RNNLAB_CACHE", runs.join("no-cache"));
    c
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts a long run and waits until it has logged `lines` step lines; the caller waits for it.
#[allow(clippy::zombie_processes)]
fn start_long(runs: &Path, name: &str, lines: usize) -> Child {
    let mut c = train_cmd(runs, name, &["--steps", "1000000"]);
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = runs.join(name).join("metrics.jsonl");
    let start = Instant::now();
    loop {
        let n = std::fs::read_to_string(&log)
            .map(|t| t.lines().filter(|l| l.contains("\"loss\"")).count())
            .unwrap_or(0);
        if n >= lines {
            return child;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never started");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn events(run: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Some((v["step"].as_u64()?, v.get("event")?.as_str()?.to_string()))
        })
        .collect()
}

#[test]
fn sigterm_and_ctrl_c_save_a_checkpoint_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    for (sig, status) in [("-TERM", 143), ("-INT", 130)] {
        let name = format!("run{status}");
        let child = start_long(tmp.path(), &name, 15);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(status), "{}", stderr(&out));
        let run = tmp.path().join(&name);
        let ev = events(&run);
        let (step, last) = ev.last().unwrap().clone();
        assert_eq!(last, "interrupted", "{ev:?}");
        assert!(
            run.join(format!("checkpoints/step-{step:08}/manifest.json"))
                .is_file(),
            "checkpoint of step {step}"
        );
        // And it goes on from there.
        let more = (step + 5).to_string();
        let out = run_resume(&run, &["--steps", &more]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn run_resume(run: &Path, extra: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("train")
        .arg("-q")
        .arg("--resume")
        .arg(run)
        .args(extra)
        .env("RNNLAB_DATA", run.join("no-data"))
        .env("RNNLAB_CACHE", run.join("no-cache"));
    run_output(c)
}

fn run_output(c: Command) -> Output {
    run(c)
}

#[test]
fn a_second_trainer_on_a_run_is_refused_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let first = start_long(tmp.path(), "shared", 3);
    let pid = first.id();
    let want = format!("in use by another trainer (process {pid})");
    // A second fresh start under the same name, and a resume while it trains.
    let out = run(train_cmd(tmp.path(), "shared", &["--steps", "20"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    let out = run_resume(&tmp.path().join("shared"), &[]);
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    signal(&first, "-TERM");
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    // The log is one run's: its step lines count up by one.
    let text = std::fs::read_to_string(tmp.path().join("shared/metrics.jsonl")).unwrap();
    let steps: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("\"loss\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(steps.windows(2).all(|w| w[1] == w[0] + 1), "{steps:?}");
}

#[test]
fn bad_input_fails_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "model.cell=transformer"], "model.cell"),
        (&["--set", "train.lr=-0.001"], "`train.lr`"),
        (&["--set", "train.lr=0"], "`train.lr`"),
        (&["--steps", "0"], "--steps 0"),
        (&["--set", "hidden=64"], "did you mean `model.hidden`"),
        (&["--data", "/nonexistent/corpus.txt"], "corpus.txt"),
        (&["--set", "guard.inject=['nonsense@x']"], "nonsense"),
    ];
    for (i, (args, want)) in cases.iter().enumerate() {
        let name = format!("bad{i}");
        let out = run(train_cmd(tmp.path(), &name, args));
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("schedule"),
            "{args:?} blamed on the schedule: {err}"
        );
        assert!(
            !tmp.path().join(&name).exists(),
            "{args:?} left a run directory behind"
        );
    }
    // A corpus that cannot be fetched (offline, or a build without downloads) into a runs
    // folder that does not exist yet: no empty `runs/` is left behind either.
    let fresh = tmp.path().join("fresh-runs");
    let out = run({
        let mut c = train_cmd(&fresh, "ptb", &["--data", "ptb"]);
        c.env("RNNLAB_OFFLINE", "1")
            .env("RNNLAB_DATA", tmp.path().join("no-data"))
            .env("RNNLAB_CACHE", tmp.path().join("no-cache"));
        c
    });
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ptb"), "{}", stderr(&out));
    assert!(!fresh.exists(), "an empty runs folder was left behind");
    // --dry-run checks and writes nothing; --print-config lists every key as written.
    let out = run(train_cmd(tmp.path(), "dry", &["--dry-run"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!tmp.path().join("dry").exists());
    let out = run(train_cmd(tmp.path(), "print", &["--print-config"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lr = 0.003\n"), "{text}");
    assert!(text.contains("hidden = 16  (default 256)"), "{text}");
    assert!(!tmp.path().join("print").exists());
}

#[test]
fn damaged_checkpoints_are_named_and_resume_falls_back_to_an_intact_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(train_cmd(tmp.path(), "r", &["--steps", "30"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let run_dir = tmp.path().join("r");
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(config.contains("tokenizer = \"char\""), "{config}");
    assert!(config.contains("lr = 0.003\n"), "{config}");

    // The run is also a TensorBoard log, which the doctor reads as the same curves.
    let tb = doctor::formats::load(&run_dir.join("tensorboard"), &Default::default()).unwrap();
    assert_eq!(tb.train_loss.len(), 30);
    assert_eq!(tb.val_loss.len(), 3);
    let jsonl = doctor::formats::load(&run_dir, &Default::default()).unwrap();
    let close = tb
        .train_loss
        .iter()
        .zip(&jsonl.train_loss)
        .all(|(a, b)| a.step == b.step && (a.value - b.value).abs() < 1e-5);
    assert!(close, "the TensorBoard curve is the metrics.jsonl curve");

    // eval says which checkpoint it scored and what the vocabulary lacks.
    let text = tmp.path().join("other.txt");
    std::fs::write(&text, "the cat sat on the mat. ☃☃ ".repeat(40)).unwrap();
    let out = run({
        let mut c = Command::new(BIN);
        c.arg("eval").arg(&run_dir).arg("--file").arg(&text);
        c
    });
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(said.contains("(best, step 30)"), "{said}");
    assert!(
        said.contains("80 character(s) not in the vocabulary"),
        "{said}"
    );

    // Overwrite bytes in the middle of the best weights: eval names the damage.
    let best = run_dir.join("checkpoints/best/model.safetensors");
    let mut bytes = std::fs::read(&best).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 8].copy_from_slice(b"garbage!");
    std::fs::write(&best, bytes).unwrap();
    let out = run({
        let mut c = Command::new(BIN);
        c.arg("eval").arg(&run_dir).arg("--split").arg("valid");
        c
    });
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("is damaged: checksum mismatch in model.safetensors"),
        "{err}"
    );
    assert!(!err.contains("Metadata"), "{err}");

    // The newest periodic checkpoint is damaged: resume says so and uses the one before.
    let newest = run_dir.join("checkpoints/step-00000030/trainer.msgpack");
    let mut bytes = std::fs::read(&newest).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    let out = run_resume(&run_dir, &["--steps", "40"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("step-00000030 is damaged: checksum mismatch in trainer.msgpack"),
        "{err}"
    );
    assert!(
        err.contains("resuming from") && err.contains("step-00000020"),
        "{err}"
    );
    let ev = events(&run_dir);
    assert_eq!(ev.last().unwrap(), &(40, "end".to_string()), "{ev:?}");
    // The checkpoint lines of the first run up to the one resumed from are still there.
    assert!(ev.contains(&(10, "checkpoint".into())) && ev.contains(&(20, "checkpoint".into())));
}

/// Step lines' (step, lr) of a run.
fn lrs(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"loss\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["lr"].as_f64().unwrap())
        })
        .collect()
}

#[test]
fn the_learning_rate_never_rises_after_warmup_under_a_time_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(train_cmd(tmp.path(), "t", &["--time", "5s"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let run_dir: PathBuf = tmp.path().join("t");
    let lr = lrs(&run_dir);
    assert!(lr.len() > 40, "{} steps", lr.len());
    let after: Vec<_> = lr.iter().filter(|(s, _)| *s >= 10).collect();
    for w in after.windows(2) {
        assert!(
            w[1].1 <= w[0].1,
            "the LR rose from {:?} to {:?}",
            w[0],
            w[1]
        );
    }
    let (first, last) = (after[0].1, after.last().unwrap().1);
    assert!(last < 0.5 * first, "it decays: {first} -> {last}");

    // Extending it by steps continues the decay instead of jumping back up.
    let end = lr.last().unwrap().0 + 1;
    let more = (end + 30).to_string();
    let out = run_resume(&run_dir, &["--steps", &more]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("schedule continues"), "{err}");
    let lr2 = lrs(&run_dir);
    let before = lr.last().unwrap().1;
    for &(s, v) in lr2.iter().filter(|(s, _)| *s >= end) {
        assert!(v <= before * 1.000001, "step {s}: {v} > {before}");
    }
}

#[test]
fn train_with_a_dashboard_ends_when_the_run_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = train_cmd(
        tmp.path(),
        "dash",
        &["--steps", "12", "--dashboard", "--port", "0"],
    );
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`rnnlab train --dashboard` kept serving after the run ended");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
}

#[test]
fn tensorboards_own_loader_reads_the_event_file() {
    use std::io::Write;
    let has_tb = Command::new("python3")
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tb {
        if std::env::var_os("RNNLAB_REQUIRE_TENSORBOARD").is_some_and(|v| v != "0") {
            panic!("python3 cannot import tensorboard (RNNLAB_REQUIRE_TENSORBOARD is set)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: tensorboards_own_loader_reads_the_event_file: python3 cannot import tensorboard"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run(train_cmd(
        tmp.path(),
        "tb",
        &["--steps", "20", "--set", "train.checkpoint_every=10"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let script = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'tensors': 0})
ea.Reload()
for t in ('train/loss', 'train/lr', 'train/grad_norm', 'val/loss'):
    print(t, len(ea.Scalars(t)))
print('steps', ','.join(str(s.step) for s in ea.Scalars('train/loss')))
print('events', [e.tensor_proto.string_val[0].decode() for e in ea.Tensors('events')][-1])
"#;
    let load = || {
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(tmp.path().join("tb/tensorboard"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = load();
    for line in [
        "train/loss 20",
        "train/lr 20",
        "train/grad_norm 20",
        "val/loss 2",
    ] {
        assert!(said.contains(line), "{line} in {said}");
    }
    assert!(said.contains("events end: reached step 20"), "{said}");
    // Resumed from the checkpoint of step 10 (the one of step 20 lost): steps 10–19 are redone
    // into a second event file, and TensorBoard shows each step once, in order.
    let run_dir = tmp.path().join("tb");
    std::fs::remove_dir_all(run_dir.join("checkpoints/step-00000020")).unwrap();
    let out = run_resume(&run_dir, &["--steps", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = load();
    let steps: Vec<String> = (0..20).map(|s| s.to_string()).collect();
    assert!(said.contains("train/loss 20"), "{said}");
    assert!(
        said.contains(&format!("steps {}", steps.join(","))),
        "{said}"
    );
}
