//! Tests of the text reader from the twentieth reader check of real files, and of what the
//! report says it read.
use super::tests::load;

#[test]
fn the_report_names_the_validation_loss_it_read() {
    // `--json` gave `columns.val_loss: null` for every text log, though the reading took it.
    let run = load(
        "epoch 1 step 100 train loss 2.31 val loss 2.40\n\
         epoch 1 step 200 train loss 2.11 val loss 2.20\n",
    );
    assert_eq!(run.columns.train_loss.as_deref(), Some("train loss"));
    assert_eq!(run.columns.val_loss.as_deref(), Some("val loss"));
    // A loss on an evaluation line is the validation under the loss's own name.
    let eval = load(
        "| epoch 1 | step 100 | loss 5.10\n\
         | valid on 'valid' subset | loss 5.30\n\
         | epoch 1 | step 200 | loss 4.90\n\
         | valid on 'valid' subset | loss 5.00\n",
    );
    assert_eq!(eval.val_loss.len(), 2);
    assert_eq!(eval.columns.val_loss.as_deref(), Some("loss"));
}

#[test]
fn every_component_loss_is_named_when_there_is_no_total() {
    // AdvGAN's epoch lines log four losses and no total. `loss_G_fake` (two words past
    // `loss`) was dropped without a word, and the warning named only two of the four.
    let run = load(
        "epoch 1: loss_G_fake: 0.30, loss_D: 0.40, loss_perturb: 6.8, loss_adv: 7.2\n\
         epoch 2: loss_G_fake: 0.28, loss_D: 0.38, loss_perturb: 6.5, loss_adv: 7.0\n",
    );
    assert_eq!(run.columns.train_loss.as_deref(), Some("loss_D"));
    let warning = run
        .warnings
        .iter()
        .find(|w| w.contains("several losses"))
        .expect("a warning names the losses");
    for name in ["loss_D", "loss_G_fake", "loss_perturb", "loss_adv"] {
        assert!(warning.contains(&format!("\"{name}\"")), "{warning}");
    }
    // A plain total beside its parts is the loss, and nothing needs saying.
    let total =
        load("step 1 loss 2.0 loss_ce 1.5 loss_kl 0.5\nstep 2 loss 1.9 loss_ce 1.4 loss_kl 0.5\n");
    assert_eq!(total.columns.train_loss.as_deref(), Some("loss"));
    assert!(total.warnings.iter().all(|w| !w.contains("several losses")));
}
