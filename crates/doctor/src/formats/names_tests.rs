//! Tests of the column and key names: what each name is read as.
use super::*;

fn role(name: &str) -> Option<Role> {
    classify(name).map(|(r, _)| r)
}

#[test]
fn recognises_common_spellings() {
    for n in [
        "loss",
        "train_loss",
        "train/loss",
        "train_loss_step",
        "training_loss",
        "Loss/train",
        "trl",
        "TrL",
        "avg_train_loss",
        "run-3 - train/loss",
    ] {
        assert_eq!(role(n), Some(Role::TrainLoss), "{n}");
    }
    for n in [
        "val_loss",
        "eval_loss",
        "valid_loss",
        "val/loss",
        "validation_loss",
        "eval/loss",
        "Loss/val",
        "tel",
        "TeL",
        "VL",
        "val loss",
    ] {
        assert_eq!(role(n), Some(Role::ValLoss), "{n}");
    }
    for n in [
        "lr",
        "learning_rate",
        "lr-Adam",
        "train/lr",
        "lr-AdamW/pg1",
        "lr/group0",
        "x/lr0",
    ] {
        assert_eq!(role(n), Some(Role::Lr), "{n}");
    }
    for n in [
        "grad_norm",
        "train/grad_norm",
        "gradient_norm",
        "norm",
        "gradnorm",
    ] {
        assert_eq!(role(n), Some(Role::GradNorm), "{n}");
    }
    for n in [
        "step",
        "global_step",
        "iter",
        "iteration",
        "Step",
        "current_steps",
        "current_step",
        "_step",
    ] {
        assert_eq!(role(n), Some(Role::Step), "{n}");
    }
    assert_eq!(role("epoch"), Some(Role::Epoch));
    assert_eq!(role("train/epoch"), Some(Role::Epoch));
    assert_eq!(role("eval step"), Some(Role::Step));
    assert_eq!(role("train/global_step"), Some(Role::Step));
}

#[test]
fn ignores_statistics_and_look_alikes() {
    for n in [
        "loss_scale",
        "run - train/loss__MIN",
        "run - train/loss__MAX",
        "grad/param norm",
        "val_ppl",
        "perplexity",
        "tokens",
        "time_s",
        "weight_norm",
        "lr_scheduler_type",
    ] {
        assert_eq!(role(n), None, "{n}");
    }
}

#[test]
fn per_step_loss_beats_epoch_average() {
    let names = [
        "epoch",
        "train_loss_epoch",
        "train_loss_step",
        "step",
        "val_loss",
    ];
    let roles: Vec<_> = names.iter().map(|n| classify(n)).collect();
    let picks = pick_columns(&names, &roles, &LoadOptions::default(), Path::new("x")).unwrap();
    assert_eq!(picks.train, Some(2));
    assert_eq!(picks.step, Some(3));
    assert_eq!(picks.epoch, Some(0));
    assert_eq!(picks.val, Some(4));
}

/// The learning-rate column picked from a header.
fn picked_lr(names: &[&str]) -> Option<usize> {
    let roles: Vec<_> = names.iter().map(|n| classify(n)).collect();
    pick_columns(names, &roles, &LoadOptions::default(), Path::new("x"))
        .unwrap()
        .lr
}

#[test]
fn ultralytics_weights_learning_rate_beats_the_bias_group() {
    // YOLOv5's `x/lr0` is the biases' group: 0.0937 falling during warmup while `x/lr1` and
    // `x/lr2` rise from 0.0007. YOLOv8 names them `lr/pg0`..`lr/pg2`.
    for names in [
        [
            "epoch",
            "train/box_loss",
            "val/box_loss",
            "x/lr0",
            "x/lr1",
            "x/lr2",
        ],
        [
            "epoch",
            "train/box_loss",
            "val/box_loss",
            "lr/pg0",
            "lr/pg1",
            "lr/pg2",
        ],
    ] {
        assert_eq!(picked_lr(&names), Some(4), "{names:?}");
    }
    // Alone, group 0 is still the learning rate; other frameworks' group 0 keeps its place.
    for names in [["epoch", "loss", "x/lr0"], ["epoch", "loss", "lr/group0"]] {
        assert_eq!(picked_lr(&names), Some(2), "{names:?}");
    }
    assert_eq!(
        picked_lr(&["step", "loss", "lr/group0", "lr/group1"]),
        Some(2)
    );
}

#[test]
fn overrides_win_and_unknown_override_is_an_error() {
    let names = ["a", "b", "loss"];
    let roles: Vec<_> = names.iter().map(|n| classify(n)).collect();
    let opts = LoadOptions {
        loss_col: Some("b".into()),
        ..Default::default()
    };
    let picks = pick_columns(&names, &roles, &opts, Path::new("x")).unwrap();
    assert_eq!(picks.train, Some(1));
    let opts = LoadOptions {
        val_col: Some("nope".into()),
        ..Default::default()
    };
    let err = pick_columns(&names, &roles, &opts, Path::new("x")).unwrap_err();
    assert!(err.to_string().contains("found: a, b, loss"), "{err}");
}
