//! Tests of format detection and the loaders' errors (folder discovery: `folders_tests.rs`).
use super::*;

pub(super) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("doctor-formats-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn detection_by_name_then_content() {
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(
        detect(&p("a/events.out.tfevents.1.x"), b""),
        Format::TensorBoard
    );
    assert_eq!(
        detect(&p("trainer_state.json"), b"{}"),
        Format::JsonDocument
    );
    assert_eq!(detect(&p("x.jsonl"), b""), Format::JsonLines);
    assert_eq!(detect(&p("x.tsv"), b"step\tloss\n"), Format::Table);
    assert_eq!(
        detect(&p("x.json"), b"{\n \"log_history\": []\n}"),
        Format::JsonDocument
    );
    assert_eq!(
        detect(&p("x.json"), b"{\"step\":1,\"loss\":2}\n"),
        Format::JsonLines
    );
    assert_eq!(detect(&p("x.txt"), b"step,loss\n1,2.5\n"), Format::Table);
    assert_eq!(
        detect(&p("x.txt"), b"step 0: train loss 4.2, val loss 4.3\n"),
        Format::Text
    );
    // Lines that end with a comma (a pretty-printed JSON list's `"loss_gen": 0.0093,`) split
    // into a named number and nothing: text, not a table.
    assert_eq!(
        detect(
            &p("x.log"),
            b"\"loss_gen\": 0.0093,\n\"loss_gen\": 0.0156,\n"
        ),
        Format::Text
    );
    let mut tb = Vec::new();
    tfrecord::write_record(&mut tb, b"x");
    assert_eq!(detect(&p("run.bin"), &tb), Format::TensorBoard);
}

#[test]
fn python_dict_log_falls_back_to_text() {
    let log = "{'loss': 2.5, 'learning_rate': 1e-05, 'epoch': 0.5}\n\
               {'eval_loss': 2.4, 'epoch': 0.5}\n{'loss': 2.0, 'learning_rate': 1e-05, 'epoch': 1.0}\n";
    let run = load_bytes(
        log.as_bytes(),
        Path::new("stdout.log"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert_eq!(run.val_loss.len(), 1);
    assert_eq!(run.lr.len(), 2);
    // Garbage that looks like JSON keeps the JSON error.
    let err = load_bytes(b"{ nope", Path::new("x"), &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("JSON"), "{err}");
}

#[test]
fn an_end_of_run_summary_says_what_it_is() {
    let summary = br#"{
"epoch": 1.36,
"total_flos": 1.6e+20,
"train_loss": 0.2447,
"train_runtime": 28624.551
}"#;
    let err = load_bytes(
        summary,
        Path::new("all_results.json"),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("all_results.json"), "{err}");
    assert!(
        err.contains("end-of-run summary") && err.contains("trainer_state.json"),
        "{err}"
    );
}

#[test]
fn a_text_log_that_starts_like_json_says_both_readings_failed() {
    let text = b"{\n \"bagging_fraction\": 0.8\n}\nsomething that is not a metric\n";
    let err = load_bytes(text, Path::new("lgbm.txt"), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lgbm.txt") && err.contains("read as JSON"),
        "{err}"
    );
    assert!(
        err.contains("read as a text log") && err.contains("--pattern"),
        "{err}"
    );
}

#[test]
fn a_git_lfs_pointer_says_what_it_is() {
    let bytes = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n";
    let err = load_bytes(bytes, Path::new("metrics.jsonl"), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.jsonl") && err.contains("git lfs pull"),
        "{err}"
    );
}

#[test]
fn column_options_on_a_text_log_are_an_error_not_ignored() {
    let opts = LoadOptions {
        loss_col: Some("foo".into()),
        ..LoadOptions::default()
    };
    let err = load_bytes(
        b"step 1 loss 2.0\nstep 2 loss 1.9\n",
        Path::new("log.txt"),
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--loss-col") && err.contains("--pattern"),
        "{err}"
    );
}

#[test]
fn a_tensorboard_json_download_is_read_like_the_csv_one() {
    // TensorBoard's other download button: `[[wall_time, step, value], …]` on one line.
    let dir = temp_dir("tbjson");
    let file = dir.join("run-train-tag-train_loss.json");
    std::fs::write(
        &file,
        "[[1688704569.88,56,524.1],[1688704633.95,113,510.9],[1688704700.1,170,480.2]]",
    )
    .unwrap();
    let run = load(&file, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(run.train_loss.len(), 3);
    assert_eq!(run.train_loss[1].step, 113.0);
    assert_eq!(run.train_loss[2].value, 480.2);
}

#[test]
fn a_table_of_component_losses_names_them_all() {
    // A cGAN's history holds `D_loss` and `G_loss` lists: one is judged, and the report says
    // which others there are (the text reader already did).
    let text = br#"{"epoch": [1, 2, 3], "D_loss": [0.7, 0.6, 0.5], "G_loss": [2.1, 1.9, 1.8]}"#;
    let run = load_bytes(text, Path::new("history.json"), &LoadOptions::default()).unwrap();
    let taken = run.columns.train_loss.clone().unwrap();
    let warning = run
        .warnings
        .iter()
        .find(|w| w.contains("several losses"))
        .expect("a warning");
    assert!(
        warning.contains("\"D_loss\"") && warning.contains("\"G_loss\""),
        "{warning}"
    );
    assert!(warning.contains(&taken));
    // A total beside its parts, or one loss at two granularities, says nothing.
    let total = b"step,loss,loss_cls,loss_box\n1,2.0,1.5,0.5\n2,1.8,1.4,0.4\n";
    let run = load_bytes(total, Path::new("m.csv"), &LoadOptions::default()).unwrap();
    assert!(
        run.warnings.iter().all(|w| !w.contains("several losses")),
        "{:?}",
        run.warnings
    );
    let granular = b"step,train_loss_step,train_loss_epoch\n1,2.0,\n2,1.8,1.9\n";
    let run = load_bytes(granular, Path::new("metrics.csv"), &LoadOptions::default()).unwrap();
    assert!(
        run.warnings.iter().all(|w| !w.contains("several losses")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_chosen_loss_brings_its_own_models_validation_and_lr() {
    // A history of two models (`reg_*` 30 epochs, `cls_*` 19): `--loss-col reg_loss` judged
    // the regression against the classifier's validation (at ln 2) and LR.
    let text = br#"{"reg_loss": [1.0, 0.8, 0.7], "reg_val_loss": [1.1, 0.9, 0.8],
        "reg_learning_rate": [0.001, 0.001, 0.0005],
        "cls_loss": [0.70, 0.69, 0.69], "cls_val_loss": [0.693, 0.693, 0.693],
        "cls_learning_rate": [0.01, 0.01, 0.01]}"#;
    let opts = LoadOptions {
        loss_col: Some("reg_loss".into()),
        ..LoadOptions::default()
    };
    let run = load_bytes(text, Path::new("training_history.json"), &opts).unwrap();
    assert_eq!(run.columns.val_loss.as_deref(), Some("reg_val_loss"));
    assert_eq!(run.columns.lr.as_deref(), Some("reg_learning_rate"));
    assert!(
        run.warnings.iter().all(|w| !w.contains("several losses")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_table_that_fails_says_it_was_read_as_a_table() {
    // A Torch7 logger file of accuracies: refused rightly, but the message said "read as JSON".
    let text = b"% mean class accuracy (train set)\t\n 1.5000e+01\t\n 1.9000e+01\t\n";
    let err = load_bytes(text, Path::new("train.log"), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("read as a table") && !err.contains("JSON:"),
        "{err}"
    );
}

#[test]
fn a_bare_json_list_of_losses_is_the_curve() {
    // `str(losses)` saved as loss_log.txt: refused with "expected a header with a loss column".
    let run = load_bytes(
        b"[1.049, 1.068, 1.14, 1.18, 1.32]",
        Path::new("loss_log.txt"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 5);
    assert_eq!(run.train_loss[4].value, 1.32);
}

#[test]
fn a_batch_counter_that_restarts_under_a_rising_epoch_column_is_the_next_epoch() {
    // A GAN's `Epoch,Batch,Gen Loss,Disc Loss` CSV: the generator loss at batch 0 of epoch 1
    // is near the file's first, so the restart was read as a new run appended and all but
    // the last epoch were dropped.
    let mut text = String::from("Epoch,Batch,Gen Loss,Disc Loss\n");
    for epoch in 0..3 {
        for batch in 0..5 {
            let gen = 0.80 - 0.02 * batch as f64 - 0.001 * epoch as f64;
            text += &format!("{epoch},{batch},{gen},1.38\n");
        }
    }
    let run = load_bytes(
        text.as_bytes(),
        Path::new("training_log.csv"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 15);
    assert!(
        run.warnings.iter().all(|w| !w.contains("appended")),
        "{:?}",
        run.warnings
    );
}
