//! Tests of folder discovery: which file of a run folder (or of the one run below it) the
//! doctor reads, for each tool's layout.
use super::*;
use crate::formats::load;
use crate::formats::tests::temp_dir;

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
fn an_openmmlab_work_dir_is_read_from_its_latest_run() {
    // MMEngine: `<start time>/vis_data/scalars.json`, one JSON dict per logged iteration.
    let work = temp_dir("mmengine");
    let line = |it: u32, loss: f64| {
        format!("{{\"lr\": 0.01, \"loss\": {loss}, \"iter\": {it}, \"step\": {it}}}\n")
    };
    for (stamp, losses) in [
        ("20240101_100000", [2.0, 1.9]),
        ("20240102_090000", [1.5, 1.2]),
    ] {
        let vis = work.join(stamp).join("vis_data");
        std::fs::create_dir_all(&vis).unwrap();
        std::fs::write(
            vis.join("scalars.json"),
            line(10, losses[0]) + &line(20, losses[1]),
        )
        .unwrap();
    }
    let run = load(&work, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&work).unwrap();
    assert_eq!(
        run.train_loss.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![1.5, 1.2]
    );
    assert!(
        run.warnings.iter().any(|w| w.contains("the latest run")),
        "{:?}",
        run.warnings
    );
    // MMCV 1.x: `<start time>.log.json` beside the text log and the checkpoints.
    let work = temp_dir("mmcv");
    std::fs::write(work.join("20230101_101010.log"), "a text log\n").unwrap();
    std::fs::write(work.join("epoch_1.pth"), b"weights").unwrap();
    std::fs::write(
        work.join("20230101_101010.log.json"),
        "{\"mode\": \"train\", \"epoch\": 1, \"iter\": 50, \"loss\": 2.1}\n\
         {\"mode\": \"train\", \"epoch\": 1, \"iter\": 100, \"loss\": 1.8}\n",
    )
    .unwrap();
    let run = load(&work, &LoadOptions::default()).unwrap();
    std::fs::remove_dir_all(&work).unwrap();
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
