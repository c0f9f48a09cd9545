//! Tests of the TensorBoard event-file reader.

use super::testwrite::*;
use super::*;

fn parse(bytes: &[u8]) -> Result<Run, DoctorError> {
    parse_file(
        bytes,
        Path::new("logs/events.out.tfevents.1"),
        &LoadOptions::default(),
    )
}

#[test]
fn simple_and_tensor_scalars_by_tag() {
    let mut out = Vec::new();
    header(&mut out);
    for step in 0..5 {
        simple(&mut out, step, "train/loss", 4.0 - step as f32 * 0.5);
        simple(&mut out, step, "train/lr", 0.001);
    }
    tensor(
        &mut out,
        4,
        "val/loss",
        TensorProto {
            dtype: DT_FLOAT,
            tensor_content: 2.5f32.to_le_bytes().to_vec(),
            ..TensorProto::default()
        },
    );
    tensor(
        &mut out,
        4,
        "grad_norm",
        TensorProto {
            dtype: DT_DOUBLE,
            double_val: vec![0.75],
            ..TensorProto::default()
        },
    );
    let run = parse(&out).unwrap();
    assert_eq!(run.train_loss.len(), 5);
    assert_eq!(
        run.train_loss[4],
        Point {
            step: 4.0,
            value: 2.0
        }
    );
    assert_eq!(run.lr.len(), 5);
    assert_eq!(
        run.val_loss,
        vec![Point {
            step: 4.0,
            value: 2.5
        }]
    );
    assert_eq!(
        run.grad_norm,
        vec![Point {
            step: 4.0,
            value: 0.75
        }]
    );
}

#[test]
fn several_runs_in_a_folder_are_named_and_chosen_with_run() {
    let dir = std::env::temp_dir().join(format!("doctor-tb-runs-{}", std::process::id()));
    for (run, base) in [("lstm", 2.0f32), ("gru", 3.0)] {
        for sub in ["train", "val"] {
            std::fs::create_dir_all(dir.join(run).join(sub)).unwrap();
            let mut out = Vec::new();
            header(&mut out);
            for step in 0..3 {
                simple(&mut out, step, "loss", base - step as f32 * 0.25);
            }
            let file = dir.join(run).join(sub).join("events.out.tfevents.1.host");
            std::fs::write(file, out).unwrap();
        }
    }
    let all = parse_dir(&dir, &LoadOptions::default());
    let one = parse_dir(
        &dir,
        &LoadOptions {
            run: Some("gru".into()),
            ..LoadOptions::default()
        },
    );
    let missing = parse_dir(
        &dir,
        &LoadOptions {
            run: Some("rnn".into()),
            ..LoadOptions::default()
        },
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let e = all.unwrap_err().to_string();
    assert!(
        e.contains("2 TensorBoard runs: gru, lstm") && e.contains("--run"),
        "{e}"
    );
    let one = one.unwrap();
    assert_eq!(one.train_loss[0].value, 3.0);
    assert_eq!(one.val_loss.len(), 3);
    let e = missing.unwrap_err().to_string();
    assert!(e.contains("no TensorBoard run `rnn`"), "{e}");
}

#[test]
fn keras_split_folders_share_a_tag() {
    let dir = std::env::temp_dir().join(format!("doctor-tb-{}", std::process::id()));
    for (sub, base) in [("train", 2.0f32), ("validation", 2.5)] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        let mut out = Vec::new();
        header(&mut out);
        for epoch in 0..3 {
            simple(&mut out, epoch, "epoch_loss", base - epoch as f32 * 0.25);
        }
        std::fs::write(dir.join(sub).join("events.out.tfevents.1.host"), out).unwrap();
    }
    let run = parse_dir(&dir, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!(run.train_loss[0].value, 2.0);
    assert_eq!(run.val_loss[0].value, 2.5);
    assert_eq!(run.val_loss.len(), 3);
}

#[test]
fn half_precision_scalars() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc000), -2.0);
    assert!(f16_to_f32(0x7e00).is_nan());
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
}

#[test]
fn no_loss_tag_lists_the_tags() {
    let mut out = Vec::new();
    simple(&mut out, 1, "accuracy", 0.5);
    let err = parse(&out).unwrap_err().to_string();
    assert!(err.contains("found tags: accuracy"), "{err}");
}

/// Generates a ~100 MB event file and times parsing it (run with `--release --ignored --nocapture`).
#[test]
#[ignore]
fn speed_100_mb() {
    let mut out = Vec::with_capacity(110 << 20);
    header(&mut out);
    let mut step = 0;
    while out.len() < 100 << 20 {
        simple(&mut out, step, "train/loss", 3.0 + (step % 7) as f32 * 0.01);
        simple(&mut out, step, "train/lr", 0.001);
        simple(&mut out, step, "train/grad_norm", 0.5);
        step += 1;
    }
    let start = std::time::Instant::now();
    let run = parse(&out).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "parsed {:.1} MB ({} steps) in {secs:.3} s",
        out.len() as f64 / 1e6,
        run.train_loss.len()
    );
    assert_eq!(run.train_loss.len(), step as usize);
}
