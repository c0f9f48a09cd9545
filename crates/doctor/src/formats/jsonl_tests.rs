//! Tests of the JSON readers (`jsonl.rs`): record lines, documents, series objects.

use super::*;
use crate::Point;

fn lines(text: &str) -> Result<Run, DoctorError> {
    parse_lines(
        text.as_bytes(),
        Path::new("metrics.jsonl"),
        &LoadOptions::default(),
    )
}

#[test]
fn rnnlab_metrics_with_eval_and_event_lines() {
    let text = r#"{"step":1,"epoch":0.01,"tokens":100,"loss":4.2,"lr":0.001,"grad_norm":1.5,"clipped":false,"tok_per_s":1e4,"time_s":0.1}
{"step":2,"epoch":0.02,"tokens":200,"loss":null,"lr":0.001,"grad_norm":1.4,"clipped":false,"tok_per_s":1e4,"time_s":0.2}
{"step":2,"epoch":0.02,"tokens":200,"val_loss":4.0,"val_ppl":54.6,"time_s":0.3}
{"step":2,"event":"guard_skip","detail":"loss 9 > 5 MADs"}
{"step":3,"epoch":0.03,"tok"#;
    let run = lines(text).unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert!(run.train_loss[1].value.is_nan(), "null loss is NaN");
    assert_eq!(
        run.val_loss,
        vec![Point {
            step: 2.0,
            value: 4.0
        }]
    );
    assert_eq!(run.lr.len(), 2);
    assert_eq!(run.grad_norm.len(), 2);
    assert_eq!(run.events.len(), 1);
    assert_eq!(run.events[0].kind, "guard_skip");
    assert_eq!(run.events[0].detail, "loss 9 > 5 MADs");
    assert_eq!(run.steps_per_epoch.map(|s| s.round()), Some(100.0));
}

#[test]
fn a_torn_last_line_is_left_out_with_a_warning() {
    let text = "{\"step\": 0, \"loss\": 2.0}\n{\"step\": 1, \"loss\": 1.9}\n{\"step\": 2, \"lo";
    let run = parse_lines(
        text.as_bytes(),
        Path::new("m.jsonl"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
    let w = &run.warnings[0];
    assert!(
        w.contains("m.jsonl") && w.contains("line 3") && w.contains("cut off"),
        "{w}"
    );
    // A whole log has nothing to say.
    let whole = "{\"step\": 0, \"loss\": 2.0}\n{\"step\": 1, \"loss\": 1.9}\n";
    let run = parse_lines(
        whole.as_bytes(),
        Path::new("m.jsonl"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(run.warnings.is_empty());
}

#[test]
fn malformed_middle_line_is_named() {
    let text = "{\"step\":1,\"loss\":2}\n{\"step\":2,\"loss\":\n{\"step\":3,\"loss\":1}\n";
    let err = lines(text).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn llama_factory_log_uses_current_steps() {
    let text = r#"{"current_steps": 10, "total_steps": 40, "loss": 2.5, "learning_rate": 1e-6, "epoch": 0.25}
{"current_steps": 20, "total_steps": 40, "loss": 2.0, "learning_rate": 2e-6, "epoch": 0.5}
{"current_steps": 20, "total_steps": 40, "epoch": 0.5}
"#;
    let run = lines(text).unwrap();
    assert_eq!(
        run.train_loss,
        vec![
            Point {
                step: 10.0,
                value: 2.5
            },
            Point {
                step: 20.0,
                value: 2.0
            }
        ]
    );
    assert_eq!(run.lr.len(), 2);
    assert_eq!(run.steps_per_epoch, Some(40.0));
}

#[test]
fn trainer_state_log_history_with_python_nan() {
    let text = r#"{"global_step": 20, "max_steps": 20, "num_train_epochs": 2, "log_history": [
  {"epoch": 0.5, "grad_norm": 1.0, "learning_rate": 1e-5, "loss": 2.0, "step": 5},
  {"epoch": 1.0, "grad_norm": NaN, "learning_rate": 1e-5, "loss": NaN, "step": 10},
  {"epoch": 1.0, "eval_loss": 1.9, "eval_runtime": 3.0, "step": 10},
  {"epoch": 2.0, "step": 20, "total_flos": 1e12, "train_loss": 1.5, "train_runtime": 99.0}
]}"#;
    let run = parse_document(
        text.as_bytes(),
        Path::new("trainer_state.json"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 2);
    assert!(run.train_loss[1].value.is_nan());
    assert!(run.grad_norm[1].value.is_nan());
    assert_eq!(
        run.val_loss,
        vec![Point {
            step: 10.0,
            value: 1.9
        }]
    );
    assert_eq!(run.steps_per_epoch, Some(10.0));
}

#[test]
fn keras_history_and_sacred_metrics_hold_whole_series() {
    let keras = br#"{"loss": [0.62, 0.58, 0.56], "accuracy": [0.65, 0.68, 0.70], "val_loss": [0.59, 0.57, NaN]}"#;
    let run = parse_lines(keras, Path::new("history.json"), &LoadOptions::default()).unwrap();
    let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![1.0, 2.0, 3.0]);
    assert_eq!(run.val_loss.len(), 3);
    assert!(run.val_loss[2].value.is_nan());
    let pretty = "{\n  \"loss\": [\n    0.62,\n    0.58\n  ],\n  \"val_loss\": [0.7, 0.6]\n}";
    let run = parse_document(
        pretty.as_bytes(),
        Path::new("history.json"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 2);
    let sacred = br#"{"training.loss": {"steps": [1, 2, 3], "timestamps": ["a", "b", "c"], "values": [0.26, 0.1, -0.2]},
                      "validation.loss": {"steps": [2], "timestamps": ["b"], "values": [0.3]}}"#;
    let run = parse_document(sacred, Path::new("metrics.json"), &LoadOptions::default()).unwrap();
    let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![1.0, 2.0, 3.0]);
    assert_eq!(run.val_loss.len(), 1);
    assert_eq!(run.val_loss[0].step, 2.0);
}

#[test]
fn a_trainer_state_with_only_the_summary_says_why_there_is_no_curve() {
    let state = br#"{"log_history": [{"epoch": 3.0, "step": 768, "total_flos": 1.2e15,
        "train_loss": 0.41, "train_runtime": 300.1, "train_samples_per_second": 8.1,
        "train_steps_per_second": 2.5}], "logging_steps": 996, "max_steps": 768}"#;
    let err = parse_document(
        state,
        Path::new("trainer_state.json"),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("only the end-of-training summary"), "{err}");
    assert!(
        err.contains("logging_steps 996 is more than the run's 768 steps"),
        "{err}"
    );
}

#[test]
fn quoting_leaves_strings_alone() {
    let q = quote_non_finite(r#"{"a": NaN, "b": "NaN \" Infinity", "c": -Infinity}"#);
    assert_eq!(
        q,
        r#"{"a": "NaN", "b": "NaN \" Infinity", "c": "-Infinity"}"#
    );
}

#[test]
fn meta_supplies_vocab_and_references() {
    let meta = parse_meta(
        br#"{"vocab_size": 65, "steps_per_epoch": 490, "references": {"ln_vocab": 4.174, "unigram": 3.3, "bigram": 2.5, "floor": null}}"#,
        Path::new("meta.json"),
    )
    .unwrap();
    assert_eq!(meta.vocab_size, Some(65));
    assert_eq!(meta.steps_per_epoch, Some(490.0));
    assert_eq!(meta.references.unigram, Some(3.3));
    assert_eq!(meta.references.floor, None);
}

#[test]
fn nested_train_and_eval_objects_are_namespaced_columns() {
    // A hand-made metrics.jsonl: the losses sit one level down, under `train` and `eval`.
    let text = "{\"step\": 10, \"train\": {\"loss\": 2.3, \"lr\": 0.001}}\n\
                {\"step\": 20, \"train\": {\"loss\": 2.1, \"lr\": 0.001}, \"eval\": {\"loss\": 2.2, \"acc\": 0.4}}\n\
                {\"step\": 30, \"train\": {\"loss\": 1.9, \"lr\": 0.001}, \"config\": {\"model\": {\"layers\": {\"n\": 2}}}}\n";
    let run = lines(text).unwrap();
    let train: Vec<(f64, f64)> = run.train_loss.iter().map(|p| (p.step, p.value)).collect();
    assert_eq!(train, vec![(10.0, 2.3), (20.0, 2.1), (30.0, 1.9)]);
    assert_eq!(run.val_loss.len(), 1);
    assert_eq!((run.val_loss[0].step, run.val_loss[0].value), (20.0, 2.2));
    assert_eq!(run.lr.len(), 3);
}
