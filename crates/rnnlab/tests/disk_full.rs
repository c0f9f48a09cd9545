//! End-to-end: the disk fills up while a checkpoint is written. The run stops with one error
//! that names the file and says what to do; the earlier checkpoint and the metrics log are
//! untouched, and resuming once space is back gives exactly the uninterrupted run.
//!
//! "Full" is made real with the kernel's file-size limit (`ulimit -f`), which fails writes past
//! the limit with EFBIG the way a full disk fails them with ENOSPC; SIGXFSZ is ignored so the
//! write returns an error instead of killing the process.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rnnlab");

fn train(args: &[&str], file_limit_kib: Option<u32>) -> Output {
    let mut cmd = match file_limit_kib {
        Some(kib) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
                .arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    cmd.arg("train").arg("-q").args(args).output().unwrap()
}

const SMALL: &[&str] = &[
    "--set",
    "model.embed=16",
    "--set",
    "model.hidden=48",
    "--set",
    "train.batch=8",
    "--set",
    "train.bptt=16",
    "--set",
    "train.eval_every=10",
    "--set",
    "train.checkpoint_every=10",
    "--set",
    "train.keep_checkpoints=5",
    "--set",
    "train.threads=1",
    "--steps",
    "40",
];

/// Step and evaluation lines without the wall-clock fields.
fn numbers(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("metrics.jsonl line {l:?} is damaged: {e}"));
            if v.get("event").is_some() {
                return None;
            }
            let o = v.as_object_mut().unwrap();
            o.remove("time_s");
            o.remove("tok_per_s");
            Some(v.to_string())
        })
        .collect()
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_full_disk_while_checkpointing_loses_nothing_and_resume_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().to_str().unwrap();
    let mut args = SMALL.to_vec();
    args.extend(["--runs", runs, "--name", "whole"]);
    let out = train(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = tmp.path().join("whole");
    let reference = numbers(&whole);

    // A copy of the run that lost everything after step 20: resuming it writes step-30 next.
    let cut = tmp.path().join("cut");
    let status = Command::new("cp")
        .args(["-r", whole.to_str().unwrap(), cut.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let ckpts = cut.join("checkpoints");
    for late in ["step-00000030", "step-00000040"] {
        std::fs::remove_dir_all(ckpts.join(late)).unwrap();
    }
    let step20 = files_of(&ckpts.join("step-00000020"));
    let weights = step20.iter().find(|(n, _)| n == "model.safetensors");
    let weights_len = weights.unwrap().1.len();
    // Small enough that the checkpoint cannot be written, large enough for everything else.
    let limit_kib = (weights_len / 1024 / 2) as u32;
    assert!(
        limit_kib >= 24,
        "weights {weights_len} bytes: model too small"
    );

    let out = train(&["--resume", cut.to_str().unwrap()], Some(limit_kib));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run should stop: {stderr}");
    assert!(
        stderr.contains(&format!("{}", ckpts.display())) && stderr.contains("model.safetensors"),
        "the error names the file: {stderr}"
    );
    assert!(
        stderr.contains("out of disk space") && stderr.contains("--resume"),
        "the error says what to do: {stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert_eq!(errors[0].matches("File too large").count(), 1, "{stderr}");

    // Nothing earlier is damaged and no half-written checkpoint is left behind.
    assert_eq!(files_of(&ckpts.join("step-00000020")), step20);
    let names: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "leftovers: {names:?}"
    );
    let logged = numbers(&cut);
    assert_eq!(logged[..], reference[..logged.len()], "the log is intact");

    // Space is back: the resumed run ends exactly where the uninterrupted one did.
    let out = train(&["--resume", cut.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(numbers(&cut), reference);
}
