//! Tests of the text reader from the twentieth reader check of real files, and of what the
//! report says it read.
use super::tests::{load, steps};
use crate::formats::LoadOptions;
use crate::Run;
use std::path::Path;

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

#[test]
fn interleaved_processes_are_read_one_at_a_time() {
    // A Ray job's workers each print their epochs into one log: their counters went back and
    // forth, and the reader stitched them into steps 1–24 for a 10-epoch run.
    let mut text = String::new();
    for epoch in 1..=4 {
        let loss = 2.0 / epoch as f64;
        text += &format!(
            "(main pid=41948) epoch:  {epoch}, train_loss: {loss:.4}, train_accuracy: 90.8\n"
        );
        text += &format!(
            "(main pid=13377, ip=10.128.0.49) epoch:  {epoch}, train_loss: {:.4}, train_accuracy: 42.8\n",
            loss + 0.01
        );
    }
    let run = load(&text);
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(run.train_loss[3].value, 0.5);
    assert!(run.warnings.iter().any(|w| w.contains("2 processes")));
    // torchrun's rank prefixes: rank 0 is read, wherever it comes in the log.
    let ranks = load(
        "[rank1]: step 1 loss 2.51\n[rank0]: step 1 loss 2.50\n\
         [rank1]: step 2 loss 2.31\n[rank0]: step 2 loss 2.30\n",
    );
    assert_eq!(
        ranks.train_loss.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![2.50, 2.30]
    );
}

fn load_with(text: &str, opts: &LoadOptions) -> Result<Run, String> {
    crate::formats::load_bytes(text.as_bytes(), Path::new("losses.txt"), opts)
        .map_err(|e| e.to_string())
}

#[test]
fn a_headerless_table_of_many_columns_is_read_by_the_column_named() {
    // TravelGAN's `np.savetxt` dump: seven losses a line, no header, no step. It was refused
    // with "expected lines with a step counter and a loss", and `--loss-col 3` with "this file
    // is read as a text log".
    let text = "0.65 0.76 20.36 18.69 0.0 5.38 0.12\n\
                0.02 0.004 10.57 9.70 0.0 5.67 0.78\n\
                0.03 0.005 9.10 8.20 0.0 5.50 0.70\n";
    let err = load_with(text, &LoadOptions::default()).unwrap_err();
    assert!(
        err.contains("losses.txt") && err.contains("--loss-col N"),
        "{err}"
    );
    for name in ["3", "column 3"] {
        let opts = LoadOptions {
            loss_col: Some(name.into()),
            ..LoadOptions::default()
        };
        let run = load_with(text, &opts).unwrap();
        assert_eq!(
            run.train_loss.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![20.36, 10.57, 9.10]
        );
        assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
        assert_eq!(run.columns.train_loss.as_deref(), Some("column 3"));
    }
    let past_the_end = LoadOptions {
        loss_col: Some("9".into()),
        ..LoadOptions::default()
    };
    assert!(load_with(text, &past_the_end)
        .unwrap_err()
        .contains("numbered 1 to 7"));
    // A log with names still refuses column flags, and says why.
    let opts = LoadOptions {
        loss_col: Some("loss".into()),
        ..LoadOptions::default()
    };
    let err = load_with("step 1 loss 2.3\nstep 2 loss 2.1\n", &opts).unwrap_err();
    assert!(err.contains("read as a text log"), "{err}");
}

#[test]
fn a_headerless_step_loss_val_table_says_it_guessed() {
    let run = load("1,0.90,1.10\n2,0.80,1.00\n3,0.70,0.95\n");
    assert_eq!(run.val_loss.len(), 3);
    assert!(
        run.warnings.iter().any(|w| w.contains("no header")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn the_annotated_transformers_epoch_step_is_the_step() {
    // `Epoch Step:` (the batch within the epoch) was not a counter: 184 points sat at steps
    // 1–184 by line order, with a warning about rounded epochs.
    let run = load(
        "[Epoch 0] Training ====\n\
         Epoch Step:      1 | Accumulation Step:   1 | Loss:   7.67 | Tokens / Sec:    27.4 | Learning Rate: 1.1e-06\n\
         Epoch Step:     41 | Accumulation Step:   5 | Loss:   7.37 | Tokens / Sec:   115.2 | Learning Rate: 2.3e-05\n\
         [Epoch 1] Training ====\n\
         Epoch Step:      1 | Accumulation Step:   1 | Loss:   5.10 | Tokens / Sec:   120.1 | Learning Rate: 4.1e-04\n\
         Epoch Step:     41 | Accumulation Step:   5 | Loss:   4.90 | Tokens / Sec:   121.0 | Learning Rate: 4.2e-04\n",
    );
    let s = steps(&run.train_loss);
    assert_eq!(s.len(), 4);
    assert_eq!(&s[..2], &[1.0, 41.0]);
    assert!(s[2] > 41.0 && s[3] - s[2] == 40.0, "{s:?}");
    assert_eq!(run.lr.len(), 4);
}

#[test]
fn an_rl_loops_episode_counter_is_the_step() {
    // `Episode k/N | … | Loss: x` had no counter the reader knew: steps came from line order.
    let run = load(
        "Episode 1/10 | Deliveries: 4 | Collisions: 0 | Loss: 1.7145 | ε: 0.000\n\
         Episode 2/10 | Deliveries: 596 | Collisions: 1 | Loss: 14.3826 | ε: 0.000\n\
         Episode 3/10 | Deliveries: 12 | Collisions: 0 | Loss: 12.9142 | ε: 0.000\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
}

#[test]
fn a_settings_line_before_the_first_loss_is_no_record() {
    // An encoder-decoder's start-up dump: `iterations=10000` placed a record at step 10000
    // (with an LR never logged), and `Iteration 0/100/200` then read as a restart: 10001….
    let run = load(
        "Config: embed_dim=256, hidden_dim=256, batch_size=64\n\
         \x20       lr=0.001, clip=5.0, iterations=10000\n\
         Iteration 0/10000, Loss: 10.2616, Grad Norm: 0.0000\n\
         Iteration 100/10000, Loss: 10.2341, Grad Norm: 0.0000\n\
         Iteration 200/10000, Loss: 10.2131, Grad Norm: 0.0000\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 100.0, 200.0]);
    assert!(run.lr.is_empty());
}

#[test]
fn python_lists_printed_as_text_are_a_history() {
    let run = load("train_loss = [2.3, 2.1, 1.9, 1.8]\nval_loss = [2.4, 2.2,\n  2.0, 1.95]\n");
    assert_eq!(run.train_loss.len(), 4);
    assert_eq!(
        run.val_loss.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![2.4, 2.2, 2.0, 1.95]
    );
}

#[test]
fn a_headerless_second_column_that_goes_negative_is_no_loss() {
    // A DDQN loop's `loss,reward` rows: the reward (-216 … -151) was read as a validation loss.
    let run = load("16.84,-210.47\n10.07,-158.77\n6.74,-203.33\n5.10,-190.00\n");
    assert!(run.val_loss.is_empty());
    assert_eq!(run.train_loss.len(), 4);
    assert!(run
        .warnings
        .iter()
        .any(|w| w.contains("column 2 goes negative")));
}
