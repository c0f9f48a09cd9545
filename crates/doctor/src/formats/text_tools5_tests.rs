//! Tests of the text reader from the twenty-seventh reader check: runs pasted in issue
//! threads (session 17), each fed to the reader as pasted.
use super::tests::{load, steps};
use crate::formats::{load_bytes, LoadOptions};
use std::path::Path;

#[test]
fn a_split_name_that_heads_an_accuracy_makes_no_evaluation_line() {
    // DGL's GCN example: the loss is training's; `Val Acc` is an accuracy. Every loss was
    // read as a validation loss and the run had no training curve.
    let run = load(
        "Epoch 000 | Loss 1.9769 | Val Acc 0.1800 | Test Acc 0.1730\n\
         Epoch 001 | Loss 1.8452 | Val Acc 0.3520 | Test Acc 0.3720\n\
         Epoch 002 | Loss 1.7136 | Val Acc 0.3880 | Test Acc 0.4090\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    assert!(run.val_loss.is_empty());
    // A loss named for training stays training beside a validation it cannot read.
    let run = load(
        "Train_loss: 46.05170378351126, Val_los: nan\n\
         Train_loss: 46.05170378351126, Val_los: nan\n",
    );
    assert_eq!(run.train_loss.len(), 2);
    assert!(run.val_loss.is_empty());
    // fairseq's evaluation lines are still evaluation lines.
    let eval = load(
        "| epoch 001 | loss 9.20 | ppl 590\n\
         | epoch 001 | valid on 'valid' subset | loss 8.90 | ppl 478\n",
    );
    assert_eq!((eval.train_loss.len(), eval.val_loss.len()), (1, 1));
}

#[test]
fn a_quoted_metric_name_is_the_name() {
    // GluonTS (MXNet) reports the training loss as an "Evaluation metric"; the quoted name
    // says which split it is.
    let run = load(
        "Epoch[0] Learning rate is 0.01\n\
         Epoch[0] Evaluation metric 'epoch_loss'=0.188573\n\
         Epoch[0] Evaluation metric 'validation_epoch_loss'=0.25\n\
         Epoch[1] Learning rate is 0.01\n\
         Epoch[1] Evaluation metric 'epoch_loss'=-0.131554\n\
         Epoch[1] Evaluation metric 'validation_epoch_loss'=0.1\n",
    );
    let train: Vec<f64> = run.train_loss.iter().map(|p| p.value).collect();
    assert_eq!(train, vec![0.188573, -0.131554]);
    assert_eq!(run.val_loss.len(), 2);
}

#[test]
fn two_bare_counters_are_the_epoch_and_its_batch() {
    // PyTorch's DCGAN example and the CRNN trainers built on it: `[epoch/N][batch/M]`. The
    // epoch counter was taken for the step: three thousand batches became steps 1 and 2.
    let run = load(
        "[1/25][300/3183] Loss: 22.858639\n\
         [1/25][400/3183] Loss: 21.557499\n\
         [2/25][100/3183] Loss: 9.1\n\
         [2/25][200/3183] Loss: 8.7\n",
    );
    assert_eq!(steps(&run.train_loss), vec![300.0, 400.0, 3283.0, 3383.0]);
}

#[test]
fn keras_bars_pasted_without_their_epoch_lines_are_one_epoch_each() {
    // Every bar reads `40/40`: taken as step 40 each time, seven epochs became one point.
    let run = load(
        "40/40 [==============================] - 15s 385ms/step - loss: 2.3033 - acc: 0.1083 - val_loss: 2.3037\n\
         40/40 [==============================] - 6s 159ms/step - loss: 2.2996 - acc: 0.1094 - val_loss: 2.3026\n\
         40/40 [==============================] - 6s 159ms/step - loss: 2.2933 - acc: 0.1216 - val_loss: 2.2623\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0, 3.0]);
    // With their epoch lines they are placed as before.
    let run = load(
        "Epoch 1/3\n40/40 [====] - 6s - loss: 2.30 - val_loss: 2.31\n\
         Epoch 2/3\n40/40 [====] - 6s - loss: 2.20 - val_loss: 2.21\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
}

#[test]
fn printed_loss_tensors_are_a_curve() {
    // `print(loss)` in a loop: one scalar tensor per line.
    let text = b"tensor(3.2207, device='cuda:0', grad_fn=<NllLossBackward0>)\n\
                 tensor(nan, device='cuda:0', grad_fn=<NllLossBackward0>)\n\
                 tensor([2.5])\n";
    let run = load_bytes(text, Path::new("out.txt"), &LoadOptions::default()).unwrap();
    let values: Vec<f64> = run.train_loss.iter().map(|p| p.value).collect();
    assert_eq!(values.len(), 3);
    assert_eq!(values[0], 3.2207);
    assert!(values[1].is_nan());
    assert_eq!(values[2], 2.5);
}

#[test]
fn printed_python_tuples_of_step_and_loss_are_a_table() {
    // `print((i, loss))` in a loop (a Data Science SE question, blind batch 113).
    let text = b"(0, 91.74887084960938)\n(1, 76.85824584960938)\n(2, 63.434078216552734)\n\
                 (3, 51.46927261352539)\n(4, 41.02)\n";
    let run = load_bytes(text, Path::new("out.txt"), &LoadOptions::default()).unwrap();
    let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
    let values: Vec<f64> = run.train_loss.iter().map(|p| p.value).collect();
    assert_eq!(steps, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    assert_eq!(values[0], 91.74887084960938);
    assert_eq!(values[4], 41.02);
    // A list printed the same way reads alike.
    let text = b"[0, 2.5]\n[1, 2.25]\n[2, 2.1]\n[3, 2.0]\n[4, 1.9]\n";
    let run = load_bytes(text, Path::new("out.txt"), &LoadOptions::default()).unwrap();
    assert_eq!(run.train_loss.len(), 5);
    assert_eq!(run.train_loss[4].value, 1.9);
}

#[test]
fn pix2pix_loss_lines_judge_the_generator_and_name_the_rest() {
    // pytorch-CycleGAN-and-pix2pix: no name says "loss" and none is the total.
    let run = load(
        "(epoch: 355, iters: 100, time: 0.078, data: 3.094) G_GAN: 18.230 G_L1: 12.882 D_real: 0.001 D_fake: 0.000\n\
         (epoch: 355, iters: 200, time: 0.062, data: 0.000) G_GAN: 16.719 G_L1: 19.293 D_real: 0.000 D_fake: 0.000\n",
    );
    assert_eq!(run.columns.train_loss.as_deref(), Some("G_GAN"));
    let values: Vec<f64> = run.train_loss.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![18.23, 16.719]);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("G_L1") && w.contains("D_fake")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn cost_is_a_loss_and_marian_counts_updates() {
    // TF1 scripts print `cost=`; Marian prints `Up.` (updates) and `Cost`.
    let run = load(
        "INFO: 12-08 06:50:44: train_shadownet.py:172 * 140718831200000 Epoch: 39984 cost= 86.564514\n\
         INFO: 12-08 06:50:45: train_shadownet.py:172 * 140718831200000 Epoch: 39985 cost= 82.274956\n",
    );
    assert_eq!(run.columns.train_loss.as_deref(), Some("cost"));
    assert_eq!(steps(&run.train_loss), vec![39984.0, 39985.0]);
    let run = load(
        "[2017-10-14 02:03:19] Ep. 2 : Up. 116760 : Sen. 6962176 : Cost 111.24 : Time 3.57s : 11717.49 words/s\n\
         [2017-10-14 02:03:22] Ep. 2 : Up. 116770 : Sen. 6964736 : Cost 145.96 : Time 3.45s : 14980.89 words/s\n\
         [2017-10-14 02:03:26] Ep. 2 : Up. 116780 : Sen. 6967296 : Cost nan : Time 4.01s : 12567.44 words/s\n",
    );
    assert_eq!(steps(&run.train_loss), vec![116760.0, 116770.0, 116780.0]);
    assert!(run.train_loss[2].value.is_nan());
}

#[test]
fn an_mpirun_rank_tag_is_no_epoch_and_batch() {
    // Horovod's `[1,0]<stderr>:` was read as PyTorch's `[epoch, batch]`: every line step 0.
    let run = load(
        "[1,0]<stderr>:INFO:absl:global_steps: 4231\tlearning_rate: 4.7304e-05\tloss: 49.3303\tAccuracy: 0.4507\n\
         [1,0]<stderr>:INFO:absl:global_steps: 4241\tlearning_rate: 4.7416e-05\tloss: 66.6642\tAccuracy: 0.4281\n",
    );
    assert_eq!(steps(&run.train_loss), vec![4231.0, 4241.0]);
    assert_eq!(run.lr.len(), 2);
}

#[test]
fn deepspeech_epoch_lines_are_epochs() {
    // `Steps` counts an epoch's batches, the same number every epoch: taken as the step, 17
    // epochs became one point.
    let run = load(
        "Epoch 0 |   Training | Elapsed Time: 0:10:10 | Steps: 500 | Loss: 150.3\n\
         Epoch 0 | Validation | Elapsed Time: 0:00:30 | Steps: 40 | Loss: 140.1 | Dataset: dev.csv\n\
         Epoch 1 |   Training | Elapsed Time: 0:10:02 | Steps: 500 | Loss: 120.3\n\
         Epoch 1 | Validation | Elapsed Time: 0:00:30 | Steps: 40 | Loss: 118.1 | Dataset: dev.csv\n\
         Epoch 2 |   Training | Elapsed Time: 0:09:59 | Steps: 500 | Loss: 100.3\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0]);
    assert_eq!(run.val_loss[1].value, 118.1);
}

#[test]
fn a_step_count_that_stands_still_across_epochs_counts_the_epoch() {
    // Time-Series-Library (and PredFormer on it) prints each epoch's batch count as `Steps`:
    // taken as the step, five epochs became one point.
    let run = load(
        "2025-03-20 21:41:29,786 - Epoch: 27, Steps: 625 | Lr: 0.0004449 | Train Loss: 0.0215934 | Vali Loss: 0.0216168\n\
         2025-03-20 21:44:02,320 - Epoch: 28, Steps: 625 | Lr: 0.0004698 | Train Loss: 0.0213003 | Vali Loss: 0.0216348\n\
         2025-03-20 21:46:07,686 - Epoch: 29, Steps: 625 | Lr: 0.0004949 | Train Loss: 0.0211158 | Vali Loss: 0.0212488\n",
    );
    assert_eq!(steps(&run.train_loss), vec![27.0, 28.0, 29.0]);
    assert_eq!(run.val_loss.len(), 3);
    // A step that moves is a step, as before.
    let run =
        load("Epoch: 1, Steps: 100 | Train Loss: 2.0\nEpoch: 1, Steps: 200 | Train Loss: 1.9\n");
    assert_eq!(steps(&run.train_loss), vec![100.0, 200.0]);
}

#[test]
fn mmcv_json_lines_at_one_iteration_per_epoch_are_placed_by_epoch() {
    // mmaction's JSON log, one record per epoch at `"iter": 10`: read as step 10 five times.
    let text = b"{\"mode\": \"train\", \"epoch\": 25, \"iter\": 10, \"lr\": 0.001, \"loss_cls\": 4.03631, \"loss\": 4.03631}\n\
                 {\"mode\": \"train\", \"epoch\": 26, \"iter\": 10, \"lr\": 0.001, \"loss_cls\": 4.02107, \"loss\": 4.02107}\n\
                 {\"mode\": \"train\", \"epoch\": 27, \"iter\": 10, \"lr\": 0.001, \"loss_cls\": 3.89932, \"loss\": 3.89932}\n";
    let run = load_bytes(text, Path::new("log.json"), &LoadOptions::default()).unwrap();
    assert_eq!(steps(&run.train_loss), vec![25.0, 26.0, 27.0]);
    assert_eq!(run.columns.step.as_deref(), Some("epoch"));
}

#[test]
fn a_split_name_before_its_own_number_is_an_accuracy() {
    // PyG's OGB examples: `Valid: 92.50%` is an accuracy; the loss is training's.
    let run = load(
        "Run: 00, Epoch: 49, Loss: 11.7688, Train: 95.34%, Valid: 92.50%, Test: 80.81%\n\
         Run: 00, Epoch: 59, Loss: 11.5302, Train: 95.65%, Valid: 92.87%, Test: 82.48%\n",
    );
    assert_eq!(steps(&run.train_loss), vec![49.0, 59.0]);
    assert!(run.val_loss.is_empty());
}

#[test]
fn a_paste_of_running_keras_bars_only_is_their_running_means() {
    // The first epoch of a fit, pasted while it ran: no finished bar reports the epoch.
    let run = load(
        "   32/60000 [..............................] - ETA: 3s - loss: 2.3309 - accuracy: 0.0312\n\
         \x201248/60000 [..............................] - ETA: 2s - loss: 2.3027 - accuracy: 0.1018\n\
         \x202400/60000 [>.............................] - ETA: 2s - loss: 2.3032 - accuracy: 0.0975\n",
    );
    assert_eq!(steps(&run.train_loss), vec![32.0, 1248.0, 2400.0]);
    assert!(
        run.warnings.iter().any(|w| w.contains("running mean")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn mmengine_epoch_lines_count_iterations_within_the_epoch() {
    // MMDetection 3 / mmpretrain: the `05/24` date was read as a `5/24` counter, and every
    // line went to step 5.
    let run = load(
        "05/24 08:46:22 - mmengine - INFO - Epoch(train)  [10][100/235]  lr: 1.8868e-03  eta: 15:37:25  time: 0.8206  data_time: 0.0010  memory: 15652  grad_norm: 1.3825  loss: 3.9548\n\
         05/24 08:47:45 - mmengine - INFO - Epoch(train)  [10][200/235]  lr: 1.9718e-03  eta: 15:35:58  time: 0.8209  data_time: 0.0010  memory: 15652  grad_norm: 1.1330  loss: 3.8551\n\
         05/24 08:49:58 - mmengine - INFO - Epoch(train)  [11][100/235]  lr: 2.0866e-03  eta: 15:33:52  time: 0.8202  data_time: 0.0010  memory: 15652  grad_norm: 1.6851  loss: 3.9194\n\
         05/24 08:50:10 - mmengine - INFO - Epoch(val)  [11][50/50]  loss: 4.1000\n",
    );
    assert_eq!(steps(&run.train_loss), vec![2215.0, 2315.0, 2450.0]);
    assert_eq!(run.grad_norm.len(), 3);
    assert_eq!(run.val_loss.len(), 1);
}

#[test]
fn a_counter_and_one_unnamed_number_are_a_step_and_its_loss() {
    // `print(f"step {i}: {loss}")`: no name says loss, and nothing else can the number be.
    let run = load("step 100: 2.345\nstep 200: 2.1\nstep 300: 2.0\n");
    assert_eq!(steps(&run.train_loss), vec![100.0, 200.0, 300.0]);
    assert_eq!(run.train_loss[0].value, 2.345);
    let run = load("Iter 100 - 2.345\nIter 200 - 2.1\n");
    assert_eq!(steps(&run.train_loss), vec![100.0, 200.0]);
    let run = load("epoch 1 2.345\nepoch 2 2.1\nepoch 3 2.0\n");
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    // Two unnamed numbers could be anything: still not read.
    let err = crate::formats::load_bytes(
        b"epoch 1 | 0.87 | 0.76\nepoch 2 | 0.81 | 0.74\n",
        Path::new("log.txt"),
        &LoadOptions::default(),
    );
    assert!(err.is_err(), "{err:?}");
}

#[test]
fn a_counter_word_with_its_number_glued_on_is_the_counter() {
    // ConSERT's `step101 -- 9.595694`: the digit glued to a word was read as part of a name.
    let run = load("step1 -- 10.7718\nstep101 -- 9.595694\nstep201 -- 8.528034\n");
    assert_eq!(steps(&run.train_loss), vec![1.0, 101.0, 201.0]);
    let run = load("epoch5 loss 2.3\nepoch6 loss 2.1\n");
    assert_eq!(steps(&run.train_loss), vec![5.0, 6.0]);
    // Other words keep their digits as part of a name, and the name is not the number's: a
    // model's name before `step` hid the counter (steps 0, 1 instead of 10, 20).
    let run = load("gpt2 step 10 loss 3.1\ngpt2 step 20 loss 3.0\n");
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0]);
    let run = load("lr1e-3 step 10 loss 3.1\nlr1e-3 step 20 loss 3.0\n");
    assert!(run.lr.is_empty());
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0]);
    // `l2 norm` is a norm of something, not the gradient's `norm`.
    let run = load("step 10 loss 2.3 l2 norm 5.0\nstep 20 loss 2.2 l2 norm 5.1\n");
    assert!(run.grad_norm.is_empty());
}
