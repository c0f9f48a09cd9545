//! Tests of format detection, folder discovery and the loaders' errors.
use super::*;

fn temp_dir(tag: &str) -> PathBuf {
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
fn hugging_face_output_folder_uses_latest_checkpoint() {
    let dir = temp_dir("hf");
    for (n, loss) in [(500, 2.0), (1000, 1.5)] {
        let ck = dir.join(format!("checkpoint-{n}"));
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::write(
            ck.join("trainer_state.json"),
            format!(r#"{{"log_history": [{{"loss": {loss}, "step": {n}}}]}}"#),
        )
        .unwrap();
    }
    let run = load(&dir, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!(
        run.train_loss,
        vec![crate::Point {
            step: 1000.0,
            value: 1.5
        }]
    );
}

#[test]
fn lightning_project_folder_uses_the_latest_version() {
    let dir = temp_dir("lightning");
    for (n, loss) in [(0, 2.0), (2, 1.5)] {
        let v = dir.join(format!("lightning_logs/version_{n}"));
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(
            v.join("metrics.csv"),
            format!("step,train_loss\n10,{loss}\n"),
        )
        .unwrap();
    }
    let run = load(&dir, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!(run.train_loss.len(), 1);
    assert_eq!(run.train_loss[0].value, 1.5);
    assert!(
        run.warnings.iter().any(|w| w.contains("version_2")),
        "{:?}",
        run.warnings
    );
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
fn rnnlab_run_folder_with_meta() {
    let dir = temp_dir("run");
    std::fs::write(
        dir.join("metrics.jsonl"),
        "{\"step\":1,\"epoch\":0.5,\"loss\":4.0}\n{\"step\":2,\"epoch\":1.0,\"loss\":3.5}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("meta.json"),
        r#"{"vocab_size": 65, "steps_per_epoch": 2, "references": {"unigram": 3.3, "bigram": 2.5}}"#,
    )
    .unwrap();
    let run = load(&dir, &LoadOptions::default());
    let with_opts = load(
        &dir,
        &LoadOptions {
            steps_per_epoch: Some(7.0),
            ..LoadOptions::default()
        },
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert_eq!(run.vocab_size, Some(65));
    assert_eq!(run.references.unigram, Some(3.3));
    assert!((run.references.ln_vocab.unwrap() - 65f64.ln()).abs() < 1e-12);
    assert_eq!(run.steps_per_epoch, Some(2.0));
    assert_eq!(with_opts.unwrap().steps_per_epoch, Some(7.0));
}

#[test]
fn load_many_merges_train_and_val_folders() {
    use tensorboard::testwrite::simple;
    let dir = temp_dir("many");
    let mut paths = Vec::new();
    for (sub, tag) in [("train", "loss"), ("val", "loss")] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        let mut out = Vec::new();
        for step in [10, 20] {
            simple(&mut out, step, tag, 2.0);
        }
        std::fs::write(dir.join(sub).join("events.out.tfevents.9"), out).unwrap();
        paths.push(dir.join(sub));
    }
    let run = load_many(&paths, &LoadOptions::default());
    let whole = load(&dir, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!((run.train_loss.len(), run.val_loss.len()), (2, 2));
    assert_eq!(run.name, "train + val");
    let whole = whole.unwrap();
    assert_eq!((whole.train_loss.len(), whole.val_loss.len()), (2, 2));
}

#[test]
fn tables_under_a_validation_folder_give_the_validation_curve() {
    // DVCLive: `plots/metrics/train/loss.tsv` and `plots/metrics/val/synth/loss.tsv`, both
    // `step<TAB>loss`; the validation values had been merged into the training curve.
    let dir = temp_dir("dvclive-val");
    std::fs::create_dir_all(dir.join("train")).unwrap();
    std::fs::create_dir_all(dir.join("val/synth")).unwrap();
    std::fs::write(
        dir.join("train/loss.tsv"),
        "step\tloss\n39\t0.56\n79\t0.52\n119\t0.50\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("val/synth/loss.tsv"),
        "step\tloss\n105\t0.49\n211\t0.37\n",
    )
    .unwrap();
    let paths = [dir.join("train/loss.tsv"), dir.join("val/synth/loss.tsv")];
    let run = load_many(&paths, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!((run.train_loss.len(), run.val_loss.len()), (3, 2));
    assert_eq!(run.val_loss[1].value, 0.37);
}

#[test]
fn a_folder_finds_a_keras_log_or_the_one_run_below_it() {
    let keras = "epoch,loss,val_loss\n0,2.0,2.1\n1,1.5,1.7\n2,1.2,1.5\n";
    // A folder holding Keras's `training.log` beside other files.
    let dir = temp_dir("keras");
    std::fs::write(dir.join("training.log"), keras).unwrap();
    std::fs::write(dir.join("model.h5"), b"not a log").unwrap();
    let run = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(run.train_loss.len(), 3);
    // A repository whose run sits one folder down (`results/log.txt`), among other files.
    let repo = temp_dir("repo");
    std::fs::create_dir_all(repo.join("results")).unwrap();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("README.md"), b"# a model").unwrap();
    std::fs::write(repo.join("src/a.py"), b"print(1)").unwrap();
    std::fs::write(repo.join("src/b.py"), b"print(2)").unwrap();
    std::fs::write(
        repo.join("results/log.txt"),
        b"step 1 loss 2.0\nstep 2 loss 1.8\n",
    )
    .unwrap();
    let run = load(&repo, &LoadOptions::default()).unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert!(
        run.warnings.iter().any(|w| w.contains("results/log.txt")),
        "{:?}",
        run.warnings
    );
    // Two runs below: the error names both.
    std::fs::create_dir_all(repo.join("old")).unwrap();
    std::fs::write(repo.join("old/training.log"), keras).unwrap();
    let err = load(&repo, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&repo).unwrap();
    assert!(
        err.contains("old/training.log") && err.contains("results/log.txt"),
        "{err}"
    );
}

#[test]
fn ultralytics_and_detectron2_output_folders_are_found() {
    // `runs/train` holding `exp/results.csv`; detectron2's `output/metrics.json`.
    let runs = temp_dir("yolo");
    std::fs::create_dir_all(runs.join("exp/weights")).unwrap();
    std::fs::write(
        runs.join("exp/results.csv"),
        "epoch,train/box_loss,val/box_loss\n0,0.33,0.30\n1,0.25,0.27\n2,0.20,0.25\n",
    )
    .unwrap();
    let run = load(&runs, &LoadOptions::default()).unwrap();
    assert_eq!(run.train_loss.len(), 3);
    let output = temp_dir("d2");
    std::fs::write(
        output.join("metrics.json"),
        "{\"iteration\": 19, \"total_loss\": 2.3, \"lr\": 0.001}\n{\"iteration\": 39, \"total_loss\": 1.9, \"lr\": 0.001}\n",
    )
    .unwrap();
    std::fs::write(output.join("model_final.pth"), b"weights").unwrap();
    let run = load(&output, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&runs).unwrap();
    std::fs::remove_dir_all(&output).unwrap();
    assert_eq!(run.train_loss.len(), 2);
}

#[test]
fn an_allennlp_folder_is_read_from_its_per_epoch_metrics() {
    // `metrics.json` is the final summary (one point); `metrics_epoch_N.json` the curve,
    // in the order of N (10 after 9).
    let dir = temp_dir("allennlp");
    for (n, train, val) in [
        (0, 30.5, 155.8),
        (1, 20.1, 120.0),
        (9, 9.5, 99.0),
        (10, 8.0, 101.0),
    ] {
        std::fs::write(
            dir.join(format!("metrics_epoch_{n}.json")),
            format!("{{\"epoch\": {n}, \"training_loss\": {train}, \"validation_loss\": {val}, \"best_validation_loss\": 99.0}}"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("metrics.json"),
        "{\"best_epoch\": 9, \"training_loss\": 8.0, \"validation_loss\": 101.0}",
    )
    .unwrap();
    let run = load(&dir, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(run.train_loss.len(), 4);
    assert_eq!(run.train_loss[3].value, 8.0);
    assert_eq!(run.val_loss[2].value, 99.0);
}

#[test]
fn a_dvclive_folder_is_read_from_its_history_not_its_summary() {
    // `dvclive/metrics.json` holds the last values only (one point at step 0 had been read);
    // `plots/metrics/loss.tsv` is the curve, `learning_rate.tsv` no loss.
    let dir = temp_dir("dvclive");
    let metrics = dir.join("dvclive/plots/metrics");
    std::fs::create_dir_all(metrics.join("val")).unwrap();
    std::fs::write(
        dir.join("dvclive/metrics.json"),
        "{\"loss\": 4.13, \"step\": 13}",
    )
    .unwrap();
    std::fs::write(
        metrics.join("loss.tsv"),
        "step\tloss\n0\t7.1\n1\t6.2\n2\t5.5\n",
    )
    .unwrap();
    std::fs::write(metrics.join("val/loss.tsv"), "step\tloss\n2\t5.9\n").unwrap();
    std::fs::write(
        metrics.join("learning_rate.tsv"),
        "step\tlearning_rate\n0\t0.001\n",
    )
    .unwrap();
    let run = load(&dir, &LoadOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let run = run.unwrap();
    assert_eq!((run.train_loss.len(), run.val_loss.len()), (3, 1));
}

#[test]
fn tensorboard_csv_exports_are_named_by_their_file() {
    let dir = temp_dir("tbcsv");
    std::fs::write(
        dir.join("run-train-tag-epoch_loss.csv"),
        "Wall time,Step,Value\n1688704569.88,56,524.1\n1688704633.95,113,510.9\n1688704700.1,170,480.2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("valid_loss.csv"),
        "Wall time,Step,Value\n1688704569.34,56,511.2\n1688704633.96,113,505.9\n",
    )
    .unwrap();
    let run = load(&dir, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(run.train_loss.len(), 3);
    assert_eq!(run.val_loss.len(), 2);
    assert_eq!(run.columns.train_loss.as_deref(), Some("epoch_loss"));
    assert_eq!(run.columns.val_loss.as_deref(), Some("valid_loss"));
    // Keras's TensorBoard callback: one tag under train/ and validation/ runs.
    let name = |f: &str| series::tensorboard_export_tag(Path::new(f));
    assert_eq!(name("run-validation-tag-epoch_loss.csv"), "val_epoch_loss");
    assert_eq!(name("run-train-tag-epoch_loss.csv"), "epoch_loss");
    assert_eq!(name("export.csv"), "export (loss)");
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
fn empty_folder_and_missing_file_name_the_path() {
    let dir = temp_dir("empty");
    let err = load(&dir, &LoadOptions::default()).unwrap_err().to_string();
    let missing = load(&dir.join("nope.csv"), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.contains("expected a run folder"), "{err}");
    assert!(missing.contains("nope.csv"), "{missing}");
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
