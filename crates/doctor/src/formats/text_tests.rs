//! Tests of the text-log reader: console formats from many tools, pastes, and the lines
//! that are not points.
use super::*;

pub(super) fn load(text: &str) -> Run {
    parse(
        text.as_bytes(),
        Path::new("train.log"),
        &LoadOptions::default(),
    )
    .unwrap()
}

pub(super) fn steps(points: &[Point]) -> Vec<f64> {
    points.iter().map(|p| p.step).collect()
}

#[test]
fn nanogpt_iters_and_evals() {
    let run = load(
        "step 0: train loss 4.2000, val loss 4.2100\n\
         iter 0: loss 4.1990, time 120.00ms, mfu -100.00%\n\
         iter 10: loss 3.5000, time 20.00ms, mfu 5.00%\n\
         step 20: train loss 3.0000, val loss 3.1000\n\
         iter 20: loss 2.9000, time 20.00ms, mfu 5.00%\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 10.0, 20.0]);
    assert_eq!(run.train_loss[2].value, 2.9);
    assert_eq!(steps(&run.val_loss), vec![0.0, 20.0]);
    assert_eq!(run.val_loss[1].value, 3.1);
}

#[test]
fn pytorch_word_language_model_example() {
    // examples/word_language_model/main.py: an unnamed `batch/total batches` counter per
    // epoch, and the validation loss on the end-of-epoch line, which is evaluated after
    // the epoch's last batch (2983), not at the last one logged (400).
    let run = load(
        "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 45.12 | loss  7.63 | ppl  2067.24\n\
         | epoch   1 |   400/ 2983 batches | lr 20.00 | ms/batch 44.10 | loss  6.85 | ppl   945.80\n\
         -----------------------------------------------------------------------------------------\n\
         | end of epoch   1 | time: 140.51s | valid loss  5.82 | valid ppl   337.14\n\
         -----------------------------------------------------------------------------------------\n\
         | epoch   2 |   200/ 2983 batches | lr 20.00 | ms/batch 45.02 | loss  5.71 | ppl   301.90\n",
    );
    assert_eq!(steps(&run.train_loss), vec![200.0, 400.0, 3183.0]);
    assert_eq!(run.train_loss[2].value, 5.71);
    assert_eq!(
        run.val_loss,
        vec![Point {
            step: 2983.0,
            value: 5.82
        }]
    );
    assert_eq!(run.lr[0].value, 20.0);
}

#[test]
fn build_nanogpt_log_txt_splits_by_name() {
    // build-nanogpt's log/log.txt: `<step> <split> <value>`; hellaswag accuracy is no loss.
    let run = load(
        "0 val 10.9500\n0 hella 0.2500\n0 train 10.914025\n1 train 10.50\n2 train 10.10\n\
         3 train 9.80\n3 val 9.7000\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![0.0, 3.0]);
    assert_eq!(run.val_loss[1].value, 9.7);
}

#[test]
fn an_epoch_summary_in_a_log_that_counts_steps_is_evaluation_at_the_epochs_end() {
    let run = load(
        "Epoch 1/2 | Step 50/100 | train_loss: 0.6433 | lr: 0.0048\n\
         Epoch 1/2 | Step 100/100 | train_loss: 0.4850 | lr: 0.0045\n\
         Epoch 1/2 | train_loss: 0.1918 | test_loss: 0.2803 | lr: 0.0022\n\
         Epoch 2/2 | Step 50/100 | train_loss: 0.3291 | lr: 0.0021\n\
         Epoch 2/2 | Step 100/100 | train_loss: 0.1785 | lr: 0.0020\n\
         Epoch 2/2 | train_loss: 0.1086 | test_loss: 0.2729 | lr: 0.0010\n",
    );
    assert_eq!(steps(&run.train_loss), vec![50.0, 100.0, 150.0, 200.0]);
    assert_eq!(steps(&run.val_loss), vec![100.0, 200.0]);
    assert_eq!(run.lr.len(), 4, "the summary's LR is no schedule point");
}

#[test]
fn a_final_test_line_does_not_replace_the_last_validation() {
    let run = load(
        "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 45.12 | loss  7.63 | ppl  2067.24\n\
         | end of epoch   1 | time: 140.51s | valid loss  5.82 | valid ppl   337.14\n\
         | End of training | test loss  4.96 | test ppl   142.69\n",
    );
    assert_eq!(run.val_loss.len(), 1);
    assert_eq!(run.val_loss[0].value, 5.82);
}

#[test]
fn a_second_phase_counting_epochs_from_one_continues_the_first() {
    let run = load(
        "Epoch 1/2: 100%|#####| 16869/16869 [23:17<00:00, 12.07it/s]\n\
         Epoch 1 | Train Loss: 1.2435 | Val Loss: 1.1773 | Val Accuracy: 62.52%\n\
         Epoch 2/2: 100%|#####| 16869/16869 [23:20<00:00, 12.04it/s]\n\
         Epoch 2 | Train Loss: 1.1970 | Val Loss: 1.1610 | Val Accuracy: 63.07%\n\
         --- Starting Specialized Fine-Tuning Phase ---\n\
         Fine-Tune Epoch 1/2: 100%|#####| 7543/7543 [10:00<00:00, 12.5it/s]\n\
         Fine-Tune Epoch 1 | Train Loss: 0.9624 | Val Loss: 0.9294 | Val Accuracy: 70.05%\n\
         Fine-Tune Epoch 2/2: 100%|#####| 7543/7543 [10:00<00:00, 12.5it/s]\n\
         Fine-Tune Epoch 2 | Train Loss: 0.9583 | Val Loss: 0.9281 | Val Accuracy: 70.09%\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(run.train_loss[2].value, 0.9624);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn an_argparse_namespace_line_is_not_a_point() {
    let run = load(
        "Namespace(annealing_loss_improvement_pct=1.0, batch_size=20, bptt=35, clip=0.25, epochs=6, lr=20)\n\
         | epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 45.12 | loss  7.63 | ppl  2067.24\n\
         | epoch   1 |   400/ 2983 batches | lr 20.00 | ms/batch 44.10 | loss  6.85 | ppl   945.80\n",
    );
    assert_eq!(steps(&run.train_loss), vec![200.0, 400.0]);
}

#[test]
fn llmc_lines_and_separate_val_line() {
    let run = load(
        "step    1/1000 | train loss 10.9 | norm 15.2 | lr 6.00e-06 | (120.5 ms | 4000 tok/s)\n\
         step    2/1000 | train loss 10.5 | norm 12.0 | lr 1.20e-05 | (120.5 ms | 4000 tok/s)\n\
         val loss 10.4\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
    assert_eq!(
        run.val_loss,
        vec![Point {
            step: 2.0,
            value: 10.4
        }]
    );
    assert_eq!(run.grad_norm[0].value, 15.2);
    assert_eq!(run.lr[1].value, 1.2e-5);
}

#[test]
fn char_rnn_keras_and_generic() {
    let run = load("100/21150 (epoch 0.236), train_loss = 2.10, grad/param norm = 3.1e-02, time/batch = 0.09s\n\
                    101/21150 (epoch 0.238), train_loss = 2.05, grad/param norm = 3.0e-02, time/batch = 0.09s\n");
    assert_eq!(steps(&run.train_loss), vec![100.0, 101.0]);
    assert!(run.grad_norm.is_empty(), "grad/param norm is a ratio");

    let run = load(
        "Epoch 1/2\n10/10 [====] - 2s 20ms/step - loss: 1.50 - val_loss: 1.60\n\
                    Epoch 2/2\n10/10 [====] - 2s 20ms/step - loss: 1.20 - val_loss: 1.40\n",
    );
    // One finished bar per epoch: numbered by epoch.
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
    assert_eq!(
        run.val_loss[1],
        Point {
            step: 2.0,
            value: 1.4
        }
    );

    let run =
        load("Epoch 1/2 - loss: 1.50 - val_loss: 1.60\nEpoch 2/2 - loss: 1.20 - val_loss: 1.40\n");
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);

    let run = load("2024-01-01 12:00:00 INFO step=10 loss=2.3 lr=0.001\nstep=20 loss=nan\n");
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0]);
    assert!(run.train_loss[1].value.is_nan());
    assert_eq!(run.lr.len(), 1);
}

#[test]
fn fairseq_and_eval_lines() {
    let run = load("epoch 001:    100 / 1000 loss=7.5, nll_loss=7.4, ppl=181, wps=1000, num_updates=100, lr=0.0005, gnorm=1.2, train_wall=30\n\
                    epoch 001 | valid on 'valid' subset | loss 7.1 | nll_loss 7.0 | ppl 140 | num_updates 100\n\
                    [eval] step 200 | loss 6.5\n");
    assert_eq!(
        run.train_loss,
        vec![Point {
            step: 100.0,
            value: 7.5
        }]
    );
    assert_eq!(
        run.val_loss,
        vec![
            Point {
                step: 100.0,
                value: 7.1
            },
            Point {
                step: 200.0,
                value: 6.5
            }
        ]
    );
    assert_eq!(run.grad_norm[0].value, 1.2);
}

#[test]
fn per_epoch_counters_become_global_steps() {
    let run = load("Epoch [1/2], Step [1/3], Loss: 2.0\nEpoch [1/2], Step [2/3], Loss: 1.9\nEpoch [1/2], Step [3/3], Loss: 1.8\n\
                    Epoch [2/2], Step [1/3], Loss: 1.7\n");
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(run.steps_per_epoch, Some(3.0));
    // Counters without a total are stitched when they fall back to the start.
    let run = load("epoch 1 batch 0 loss 3\nepoch 1 batch 50 loss 2.5\nepoch 2 batch 0 loss 2.4\nepoch 2 batch 50 loss 2.2\n");
    assert_eq!(steps(&run.train_loss), vec![0.0, 50.0, 100.0, 150.0]);
    assert_eq!(run.steps_per_epoch, Some(100.0));
}

#[test]
fn unnamed_leading_counters_and_lines_without_any_counter() {
    // PyTorch's tutorial: `[epoch, batch] loss`, the batch counter restarting every epoch.
    let run = load("[1,    50] loss: 2.600\n[1,   100] loss: 2.381\n[2,    50] loss: 2.183\n[2,   100] loss: 2.001\n");
    assert_eq!(steps(&run.train_loss), vec![50.0, 100.0, 150.0, 200.0]);
    assert_eq!(run.train_loss[3].value, 2.001);
    // `print(f"loss: {loss}")`, and timestamped logging lines: the n-th loss is step n; the
    // date and time are not counters.
    let run = load("loss: 2.30\nloss: 2.10\nloss: 1.95\n");
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    let run = load(
        "2024-01-01 12:00:01 INFO loss=2.30\n2024-01-01 12:00:02 INFO loss=2.10\n2024-01-01 12:00:03 INFO loss=1.95\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    assert_eq!(run.train_loss[2].value, 1.95);
}

#[test]
fn bare_pastes_are_read() {
    let one_line = load("0.66, 0.80, 4.27, 0.77, 0.56, 0.82\n");
    assert_eq!(one_line.train_loss.len(), 6);
    assert_eq!(one_line.train_loss[2].value, 4.27);
    let column = load("2.1\n1.9\n\n1.7\n");
    assert_eq!(steps(&column.train_loss), [0.0, 1.0, 2.0]);
    let table = load("100\t2.5\n200\t2.1\n300\t1.9\n");
    assert_eq!(steps(&table.train_loss), [100.0, 200.0, 300.0]);
    assert_eq!(table.train_loss[1].value, 2.1);
    let spaced = load("10 2.5 2.7\n20 2.1 2.4\n");
    assert_eq!(spaced.val_loss.len(), 2);
    // Words anywhere make it not a bare paste.
    assert!(parse(
        b"hello 1\nworld 2\n",
        Path::new("x.log"),
        &LoadOptions::default()
    )
    .is_err());
}

#[test]
fn pattern_override_and_errors() {
    let opts = LoadOptions {
        pattern: Some(r"it(?P<step>\d+) L=(?P<loss>\S+)".into()),
        ..LoadOptions::default()
    };
    let run = parse(b"it1 L=2.5\nit2 L=2.25\nnoise\n", Path::new("x"), &opts).unwrap();
    assert_eq!(
        run.train_loss[1],
        Point {
            step: 2.0,
            value: 2.25
        }
    );
    let err = parse(
        b"hello world\n",
        Path::new("x.log"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("x.log"), "{err}");
    assert!(err.to_string().contains("--pattern"), "{err}");
    let bad = LoadOptions {
        pattern: Some("(".into()),
        ..LoadOptions::default()
    };
    assert!(matches!(
        parse(b"", Path::new("x"), &bad),
        Err(DoctorError::Usage(_))
    ));
}

#[test]
fn a_pattern_without_a_step_group_numbers_the_lines() {
    let no_step = LoadOptions {
        pattern: Some(r"loss=(?P<loss>\S+)".into()),
        ..LoadOptions::default()
    };
    let run = parse(b"loss=2.5\nloss=2.2\nloss=2.0\n", Path::new("x"), &no_step).unwrap();
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    assert!(run.warnings.is_empty());
    // A step group that repeats a step merges the points, and says so.
    let with_step = LoadOptions {
        pattern: Some(r"ep (?P<step>\d+) loss=(?P<loss>\S+)".into()),
        ..LoadOptions::default()
    };
    let run = parse(
        b"ep 1 loss=2.5\nep 1 loss=2.2\nep 2 loss=2.0\n",
        Path::new("x"),
        &with_step,
    )
    .unwrap();
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
    assert!(
        run.warnings.iter().any(|w| w.contains("share a step")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn a_setting_in_a_config_dump_is_not_a_step() {
    // modded-nanogpt style: the settings are printed first (`iterations: 20000`), then
    // `step/total` lines; the setting must not become a step the run went back from.
    let run = load(
        "Hyperparameters:\n  iterations: 20000\n  train_log_every: 500\n  val_loss_every: 4000\n\
         warmup_step: 1/20\nwarmup_step: 20/20\n\
         0/20000 val_loss: 6.9384 val_bpb: 4.1093\n\
         1/20000 train_loss: 6.9392 train_time: 0.0m tok/s: 8673244\n\
         500/20000 train_loss: 2.3214 train_time: 0.8m tok/s: 8220796\n\
         1000/20000 train_loss: 2.1805 train_time: 1.6m tok/s: 8183306\n\
         1000/20000 val_loss: 2.1641 val_bpb: 1.2632\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 500.0, 1000.0]);
    assert_eq!(steps(&run.val_loss), vec![0.0, 1000.0]);
}

#[test]
fn a_counter_on_a_line_of_its_own_places_the_lines_after_it() {
    // Caffe: the iteration is announced on one line, the test losses follow on their own.
    let run = load(
        "Iteration 100, loss = 2.5\n\
         Iteration 200, loss = 2.1\n\
         Iteration 200, Testing net (#0)\n\
         Test net output #0: accuracy = 0.41\n\
         Test net output #1: loss = 2.2 (* 1 = 2.2 loss)\n\
         Iteration 300, loss = 1.9\n",
    );
    assert_eq!(steps(&run.train_loss), vec![100.0, 200.0, 300.0]);
    assert_eq!(steps(&run.val_loss), vec![200.0]);
}

#[test]
fn learning_rates_in_a_config_dump_do_not_place_the_curve() {
    let run = load(
        "Hyperparameters:\n  head_lr: 0.008\n  iterations: 20000\n  matrix_lr: 0.02\n\
         1/20000 train_loss: 6.9392 train_time: 0.0m\n\
         500/20000 train_loss: 2.3214 train_time: 0.8m\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 500.0]);
}

#[test]
fn keras_fit_output_with_one_finished_bar_per_epoch_is_numbered_by_epoch() {
    let run = load(
        "Epoch 1/3\n110288/110288 [==============================] - 70s 634us/step - loss: 2.4100 - acc: 0.5148 - val_loss: 2.5 - val_acc: 0.6534\n\
         Epoch 2/3\n110288/110288 [==============================] - 68s 621us/step - loss: 0.9249 - acc: 0.7439 - val_loss: 1.1 - val_acc: 0.8198\n\
         Epoch 3/3\n110288/110288 [==============================] - 69s 622us/step - loss: 0.4829 - acc: 0.8567 - val_loss: 0.7 - val_acc: 0.8862\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0, 3.0]);
    // Bars caught mid-epoch show the running mean of the epoch so far (it starts again each
    // epoch, a sawtooth no model made): the finished bars are the curve.
    let run = load(
        "Epoch 1/2\n50/100 [=====>....] - ETA: 1s - loss: 2.9\n100/100 [==========] - 2s - loss: 2.5\n\
         Epoch 2/2\n50/100 [=====>....] - ETA: 1s - loss: 2.2\n100/100 [==========] - 2s - loss: 2.0\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
    assert_eq!(run.train_loss[1].value, 2.0);
}

#[test]
fn runs_pasted_one_after_another_keep_the_last() {
    // A README comparing two launches: each counts from step 1 with the loss back at ~2.3.
    let run = load(
        "step 1 loss 2.31\nstep 2 loss 1.50\nstep 3 loss 0.90\nstep 4 loss 0.60\n\
         step 1 loss 2.29\nstep 2 loss 1.40\nstep 3 loss 0.80\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[0].value, 2.29);
    assert!(
        run.warnings.iter().any(|w| w.contains("line 5")),
        "{:?}",
        run.warnings
    );
    // A counter per epoch whose loss carries on is one run.
    let run = load(
        "iter 1 loss 2.31\niter 2 loss 1.50\niter 3 loss 0.90\n\
         iter 1 loss 0.85\niter 2 loss 0.80\niter 3 loss 0.78\n",
    );
    assert_eq!(run.train_loss.len(), 6);
    assert!(run.warnings.is_empty());
}

#[test]
fn losses_under_an_epoch_header_line_belong_to_that_epoch() {
    // Python logging: the epoch on a line of its own, then the split's losses.
    let run = load(
        "2022-06-09 21:39:35,707 INFO: Epoch 0/29 ------:\n\
         2022-06-09 21:40:05,260 INFO: train Loss: 0.6276 Acc: 0.7691 \n\
         2022-06-09 21:40:14,245 INFO: test Loss: 0.4337 Acc: 0.8411 \n\
         2022-06-09 21:40:14,300 INFO: Epoch 1/29 ------:\n\
         2022-06-09 21:40:44,260 INFO: train Loss: 0.4011 Acc: 0.8532 \n\
         2022-06-09 21:40:53,245 INFO: test Loss: 0.3890 Acc: 0.8612 \n\
         2022-06-09 21:40:53,300 INFO: Epoch 2/29 ------:\n\
         2022-06-09 21:41:23,260 INFO: train Loss: 0.3573 Acc: 0.8698 \n\
         2022-06-09 21:41:32,245 INFO: test Loss: 0.3712 Acc: 0.8655 \n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    assert_eq!(steps(&run.val_loss), vec![0.0, 1.0, 2.0]);
    assert_eq!(run.val_loss[1].value, 0.3890);
}

#[test]
fn two_headerless_columns_of_losses_are_train_and_validation_not_step_and_loss() {
    let run = load("\n0.8432,0.6691\n0.7677,0.6602\n0.6775,0.5589\n0.5826,0.4987\n");
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[0].value, 0.8432);
    assert_eq!(run.val_loss[3].value, 0.4987);
    assert!(
        run.warnings.iter().any(|w| w.contains("no header")),
        "{:?}",
        run.warnings
    );
    // A first column that counts is the step.
    let run = load("1\t2.5\n2\t2.2\n3\t2.0\n");
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert!(run.warnings.is_empty());
}

#[test]
fn opennmt_logs_give_xent_and_validation_perplexity() {
    let run = load(
        "[2021-03-21 00:29:15,279 INFO] Step 50/ 1000; acc:   3.91; ppl: 147677.56; xent: 11.90; lr: 1.00000; 1893/1982 tok/s;     24 sec\n\
         [2021-03-21 00:33:29,272 INFO] Step 100/ 1000; acc:   9.12; ppl: 3120.50; xent: 8.05; lr: 1.00000; 1901/1990 tok/s;     48 sec\n\
         [2021-03-21 00:33:40,001 INFO] Validation perplexity: 1604.68\n\
         [2021-03-21 00:33:40,002 INFO] Validation accuracy: 11.2\n",
    );
    assert_eq!(steps(&run.train_loss), vec![50.0, 100.0]);
    assert_eq!(run.train_loss[0].value, 11.90);
    assert_eq!(steps(&run.val_loss), vec![100.0]);
    assert!((run.val_loss[0].value - 1604.68f64.ln()).abs() < 1e-9);
}

#[test]
fn an_epoch_and_a_restarting_mini_batch_counter_make_a_global_step() {
    // The PyTorch CIFAR-10 tutorial, as people adapt it.
    let run = load(
        "[epoch:1, mini-batch: 2000] loss: 2.219\n[epoch:1, mini-batch: 4000] loss: 1.978\n\
         [epoch:1, mini-batch: 6000] loss: 1.801\n[epoch:2, mini-batch: 2000] loss: 1.655\n\
         [epoch:2, mini-batch: 4000] loss: 1.602\n[epoch:2, mini-batch: 6000] loss: 1.561\n",
    );
    assert_eq!(
        steps(&run.train_loss),
        vec![2000.0, 4000.0, 6000.0, 8000.0, 10000.0, 12000.0]
    );
}

#[test]
fn gradient_boosting_eval_lines_give_their_logloss() {
    let run = load("[10]\ttrain-logloss:0.5512\tvalid-logloss:0.6011\n[20]\ttrain-logloss:0.4810\tvalid-logloss:0.5523\n");
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0]);
    assert_eq!(run.val_loss[1].value, 0.5523);
}

#[test]
fn stable_baselines_tables_are_rows_and_a_signed_total_loss_is_set_aside() {
    let block = |it: u32, loss: f64, value: f64| {
        format!(
            "------------------------------------------\n\
             | time/                   |              |\n\
             |    iterations           | {it}            |\n\
             |    total_timesteps      | {}         |\n\
             | train/                  |              |\n\
             |    learning_rate        | 0.0003       |\n\
             |    loss                 | {loss}      |\n\
             |    n_updates            | {}           |\n\
             |    value_loss           | {value}        |\n\
             ------------------------------------------\n",
            it * 2048,
            it * 10
        )
    };
    let text: String = [(2, -0.0199, 0.049), (3, -0.0789, 0.0114), (4, 0.012, 0.03)]
        .iter()
        .map(|&(i, l, v)| block(i, l, v))
        .collect();
    let run = parse(
        text.as_bytes(),
        Path::new("ppo.log"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(run.train_loss.len(), 3);
    // Its x-axis is environment steps, not rollouts.
    assert_eq!(steps(&run.train_loss), vec![4096.0, 6144.0, 8192.0]);
    assert_eq!(run.train_loss[1].value, 0.0114);
    assert_eq!(run.columns.train_loss.as_deref(), Some("value_loss"));
    assert!(
        run.warnings.iter().any(|w| w.contains("policy-gradient")),
        "{:?}",
        run.warnings
    );
}
