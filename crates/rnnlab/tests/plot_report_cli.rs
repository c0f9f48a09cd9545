//! `rnnlab plot` and `rnnlab report` on hand-written run directories (metrics.jsonl + meta.json
//! as README's "The run directory" describes them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SPIKE_STEP: u32 = 150;

fn loss_at(step: u32, spike: bool) -> f64 {
    if spike && step == SPIKE_STEP {
        return 8.5;
    }
    let noise = ((step as f64 * 78.233).sin() * 43758.5453).fract() * 0.05;
    2.0 + 2.0 * (-(step as f64) / 50.0).exp() + noise
}

/// A run directory `root/name` with 300 steps, evaluations every 50, and optionally a spike.
fn make_run(root: &Path, name: &str, spike: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        r#"{"vocab_size": 65, "tokenizer": "char", "data": "test", "references": {"ln_vocab": 4.174387, "unigram": 3.3, "bigram": 2.5, "floor": null}, "steps_per_epoch": 100}"#,
    )
    .unwrap();
    let mut f = std::fs::File::create(dir.join("metrics.jsonl")).unwrap();
    for s in 0..300u32 {
        writeln!(
            f,
            r#"{{"step":{s},"epoch":{},"tokens":{},"loss":{},"lr":0.002,"grad_norm":1.1,"clipped":false,"tok_per_s":4000,"time_s":{}}}"#,
            s as f64 / 100.0,
            s * 256,
            loss_at(s, spike),
            s as f64 * 0.05
        )
        .unwrap();
        if s % 50 == 49 {
            writeln!(
                f,
                r#"{{"step":{},"epoch":{},"tokens":{},"val_loss":{},"val_ppl":9.0,"val_bpc":3.1,"time_s":1.0}}"#,
                s + 1,
                (s + 1) as f64 / 100.0,
                (s + 1) * 256,
                loss_at(s, false) + 0.1
            )
            .unwrap();
        }
    }
    dir
}

fn rnnlab(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "rnnlab failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plot_overlays_runs_to_svg_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    let lstm = make_run(tmp.path(), "lstm-run", true);
    let gru = make_run(tmp.path(), "gru-run", false);
    let svg = tmp.path().join("loss.svg");
    let out = rnnlab(&[
        "plot".as_ref(),
        lstm.as_os_str(),
        gru.as_os_str(),
        "-o".as_ref(),
        svg.as_os_str(),
        "--smooth".as_ref(),
        "0.8".as_ref(),
    ]);
    ok(&out);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") || text.contains("<svg"), "not SVG");
    assert!(
        text.contains("lstm-run") && text.contains("gru-run"),
        "legend lacks a run"
    );
    assert!(
        text.contains(&format!("spike @ {SPIKE_STEP}")) || text.contains(&SPIKE_STEP.to_string()),
        "spike step not labelled"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("lstm-run") && stdout.contains("wrote"),
        "{stdout}"
    );

    let png = tmp.path().join("loss.png");
    ok(&rnnlab(&[
        "plot".as_ref(),
        lstm.join("metrics.jsonl").as_os_str(),
        "-o".as_ref(),
        png.as_os_str(),
        "--log-y".as_ref(),
        "--log-x".as_ref(),
        "--width".as_ref(),
        "640".as_ref(),
        "--height".as_ref(),
        "400".as_ref(),
    ]));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, right after the chunk header.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (640, 400));
}

#[test]
fn plot_refuses_bad_input_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let run = make_run(tmp.path(), "r", false);
    let missing = tmp.path().join("no-such-run");
    let out = rnnlab(&[
        "plot".as_ref(),
        missing.as_os_str(),
        "-o".as_ref(),
        tmp.path().join("x.svg").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-run"));

    let out = rnnlab(&[
        "plot".as_ref(),
        run.as_os_str(),
        "-o".as_ref(),
        tmp.path().join("x.gif").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));

    let out = rnnlab(&[
        "plot".as_ref(),
        run.as_os_str(),
        "-o".as_ref(),
        tmp.path().join("x.svg").as_os_str(),
        "--smooth".as_ref(),
        "1.5".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--smooth"));
}

#[test]
fn report_includes_config_samples_incidents_and_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let run = make_run(tmp.path(), "lstm-run", true);
    std::fs::write(
        run.join("config.toml"),
        "[model]\ncell = \"lstm\"\nhidden = 128\n",
    )
    .unwrap();
    std::fs::write(
        run.join("samples.txt"),
        "=== step 100 ===\nthe quick brown\n\n=== step 200 ===\nfox & <dog>\n\n",
    )
    .unwrap();
    std::fs::create_dir(run.join("incidents")).unwrap();
    std::fs::write(
        run.join("incidents")
            .join(format!("step-{SPIKE_STEP:08}.json")),
        format!(r#"{{"step":{SPIKE_STEP},"action":"skip","loss":8.5,"batch_text":"xq<z>"}}"#),
    )
    .unwrap();
    let html_path = tmp.path().join("report.html");
    let out = rnnlab(&[
        "report".as_ref(),
        run.as_os_str(),
        "-o".as_ref(),
        html_path.as_os_str(),
    ]);
    ok(&out);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("hidden = 128"), "config missing");
    assert!(
        html.contains("fox &amp; &lt;dog&gt;"),
        "sample missing or unescaped"
    );
    assert!(html.contains("<h3>step 200</h3>"));
    assert!(html.contains("xq&lt;z&gt;"), "incident batch text missing");
    assert!(html.contains(&format!("step {SPIKE_STEP} — skip")));
    assert!(html.contains("<code>spike</code>"), "spike finding missing");
    assert!(
        !html.contains("data-live"),
        "a static report must not subscribe to events"
    );
    // Self-contained: no external scripts or styles.
    assert!(!html.contains("<script src") && !html.contains("<link"));
}

#[test]
fn plot_reads_split_train_and_val_logs_as_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (train, val) = (logs.join("train.csv"), logs.join("val.csv"));
    let mut t = String::from("step,loss\n");
    let mut v = String::from("step,val_loss\n");
    for s in 0..300u32 {
        t.push_str(&format!("{s},{}\n", loss_at(s, false)));
        if s % 50 == 0 {
            v.push_str(&format!("{s},{}\n", loss_at(s, false) + 0.1));
        }
    }
    std::fs::write(&train, t).unwrap();
    std::fs::write(&val, v).unwrap();
    let svg = tmp.path().join("split.svg");
    let out = rnnlab(&[
        "plot".as_ref(),
        train.as_os_str(),
        val.as_os_str(),
        "-o".as_ref(),
        svg.as_os_str(),
    ]);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs: Vec<&str> = stdout.lines().filter(|l| l.contains(" points")).collect();
    assert_eq!(runs.len(), 1, "one run, as the doctor reads it: {stdout}");
    assert!(runs[0].contains("306 points"), "{stdout}");
}

#[test]
fn doctor_plot_and_report_name_several_tensorboard_runs_and_take_run() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("tb");
    for name in ["lstm", "gru"] {
        let dir = logs.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = rnnlab::tensorboard::EventWriter::create(&dir).unwrap();
        for s in 0..200u64 {
            w.scalars(s, &[("train/loss", loss_at(s as u32, false))])
                .unwrap();
        }
        w.flush().unwrap();
    }
    let svg = tmp.path().join("tb.svg");
    let html = tmp.path().join("tb.html");
    for cmd in ["doctor", "plot", "report"] {
        let mut args: Vec<&std::ffi::OsStr> = vec![cmd.as_ref(), logs.as_os_str()];
        if cmd == "plot" {
            args.extend::<[&std::ffi::OsStr; 2]>(["-o".as_ref(), svg.as_os_str()]);
        }
        if cmd == "report" {
            args.extend::<[&std::ffi::OsStr; 2]>(["-o".as_ref(), html.as_os_str()]);
        }
        let out = rnnlab(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cmd}: several runs need --run");
        assert!(
            err.contains("2 TensorBoard runs: gru/tensorboard, lstm/tensorboard")
                && err.contains("--run"),
            "{cmd}: {err}"
        );
        args.extend::<[&std::ffi::OsStr; 2]>(["--run".as_ref(), "gru".as_ref()]);
        let out = rnnlab(&args);
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{cmd} --run gru: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(svg.is_file());
    assert!(html.is_file());
}

#[test]
fn doctor_reads_a_paste_from_standard_input() {
    use std::io::Write as _;
    // The issue's six console values: a spike any person sees.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["doctor", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"0.66, 0.80, 4.27, 0.77, 0.56, 0.82\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "unhealthy", "{json}");
    assert_eq!(json["findings"][0]["kind"], "spike", "{json}");
    // `-` with other paths is refused with a message, not read as a file named "-".
    let out = rnnlab(&["doctor".as_ref(), "-".as_ref(), "other.csv".as_ref()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
}
