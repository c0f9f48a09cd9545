//! Tests of the text reader from the twenty-eighth reader check: runs pasted in issue
//! threads (session 18), each fed to the reader as pasted.
use super::tests::{load, steps};
use super::*;

fn values(points: &[crate::Point]) -> Vec<f64> {
    points.iter().map(|p| p.value).collect()
}

#[test]
fn fuxictr_metrics_lines_are_evaluations() {
    // FuxiCTR (AFN, BARS benchmarks): each epoch ends with a `[Metrics]` report on the
    // validation set, then the epoch's `Train loss`. Both had become one series of 46 points.
    let run = load(
        "2022-01-24 13:22:26,208 P834 INFO [Metrics] AUC: 0.804410 - logloss: 0.447085\n\
         2022-01-24 13:22:26,561 P834 INFO Train loss: 0.461620\n\
         2022-01-24 13:34:08,415 P834 INFO [Metrics] AUC: 0.806814 - logloss: 0.444616\n\
         2022-01-24 13:34:08,692 P834 INFO Train loss: 0.456468\n\
         2022-01-24 13:45:50,576 P834 INFO [Metrics] AUC: 0.807506 - logloss: 0.444031\n\
         2022-01-24 13:45:50,822 P834 INFO Train loss: 0.455156\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.461620, 0.456468, 0.455156]);
    assert_eq!(values(&run.val_loss), vec![0.447085, 0.444616, 0.444031]);
}

#[test]
fn a_time_glued_to_a_split_name_leaves_the_name() {
    // Person_reID_baseline_pytorch prints the clock right against the phase: `58train`,
    // `04val`. The split words had been read as units of the clock's seconds, so every
    // validation loss became a training point.
    let run = load(
        "00:43:58train Loss: 0.0138 Acc: 0.0000\n\
         00:44:04val Loss: 0.0100 Acc: 0.0000\n\
         00:49:02train Loss: 0.0126 Acc: 0.0000\n\
         00:49:08val Loss: 0.0096 Acc: 0.0000\n\
         00:54:07train Loss: 0.0121 Acc: 0.0000\n\
         00:54:12val Loss: 0.0084 Acc: 0.0000\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.0138, 0.0126, 0.0121]);
    assert_eq!(values(&run.val_loss), vec![0.0100, 0.0096, 0.0084]);
}

#[test]
fn a_month_and_day_before_a_clock_is_no_counter() {
    // SPML-LAC's logger: `[05/03 23:15:56.145]` is a date; the run's counters follow it.
    // All nine lines had gone to one step, 5 (of "5/3").
    let run = load(
        "[05/03 23:15:56.145]: Epoch: [0/40][   0/2052]  Lx 0.023 (0.023)  Lc 3.963 (3.963)  LR 4.000e-06  Loss 4.002 (4.002)  Mem 13387\n\
         [05/03 23:17:01.437]: Epoch: [0/40][ 100/2052]  Lx 0.032 (0.029)  Lc 5.924 (6.061)  LR 4.009e-06  Loss 5.981 (6.113)  Mem 15453\n\
         [05/03 23:18:05.749]: Epoch: [0/40][ 200/2052]  Lx 0.023 (0.028)  Lc 5.731 (5.941)  LR 4.036e-06  Loss 5.771 (5.991)  Mem 15453\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 100.0, 200.0]);
    assert_eq!(values(&run.train_loss), vec![4.002, 5.981, 5.771]);
}

#[test]
fn a_fractional_batch_is_no_counter() {
    // Matterport's Mask R-CNN (old Keras): `batch: 49.5000` is the mean of the batch indices,
    // a metric Keras averaged; the epochs' finished bars are the curve. All ten epochs had
    // gone to "step 49.5".
    let run = load(
        "100/100 [==============================] - 178s 2s/step - batch: 49.5000 - size: 2.0000 - loss: 1.2 - val_loss: 1.4\n\
         100/100 [==============================] - 177s 2s/step - batch: 49.5000 - size: 2.0000 - loss: 1.1 - val_loss: 1.3\n\
         100/100 [==============================] - 171s 2s/step - batch: 49.5000 - size: 2.0000 - loss: nan - val_loss: nan\n",
    );
    assert_eq!(run.train_loss.len(), 3, "{:?}", run.train_loss);
    assert_eq!(run.val_loss.len(), 3);
}

#[test]
fn cross_entropy_and_rmse_named_as_such_are_losses() {
    // Neural Monkey logs its cross-entropy as `xent` under a namespace, on lines with no
    // counter; the training one is the loss.
    let run = load(
        "2016-12-02 02:01:49: target/runtime_xent: 7.31    target/train_xent: 7.31    target/BLEU-4: 0.08\n\
         2016-12-02 02:02:20: target/runtime_xent: 7.15    target/train_xent: 7.15    target/BLEU-4: 0.08\n\
         2016-12-02 02:02:50: target/runtime_xent: 7.17    target/train_xent: 7.17    target/BLEU-4: 0.07\n",
    );
    assert_eq!(values(&run.train_loss), vec![7.31, 7.15, 7.17]);
    assert_eq!(run.columns.train_loss.as_deref(), Some("target/train_xent"));
    // NVIDIA's DeepRecommender trains on the RMSE it prints, with no other loss on the line.
    let run = load(
        "[0,     0] RMSE: 8.0848995\n\
         [0,  1000] RMSE: 7.5\n\
         [0,  2000] RMSE: nan\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1000.0, 2000.0]);
    // An image-enhancement model trains on the L1 error it prints beside its PSNRs (CLUT).
    let run = load(
        "E  59/400 B 2250 PSNR:25.93dB l1:0.041 cos:0.007  epoch:68.7s Test:24.90dB\n\
         E  60/400 B 2250 PSNR:24.12dB l1:0.047 cos:0.004  epoch:61.5s Test:24.82dB\n\
         E  61/400 B 2250 PSNR:21.69dB l1:0.067 cos:0.012  epoch:65.4s Test:24.78dB\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.041, 0.047, 0.067]);
    assert_eq!(run.columns.train_loss.as_deref(), Some("l1"));
    // Beside a loss, an RMSE is a metric, and a test RMSE is no validation loss.
    let run = load(
        "epoch 1 loss 0.50 rmse 0.71\n\
         epoch 1 test rmse 0.80\n\
         epoch 2 loss 0.40 rmse 0.63\n\
         epoch 2 test rmse 0.75\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.50, 0.40]);
    assert!(run.val_loss.is_empty());
}

#[test]
fn total_step_counts_the_steps() {
    // MobileFaceNet (TensorFlow) counts steps across epochs as `total_step`; the losses had
    // been placed by line.
    let run = load(
        "epoch 0, total_step 22050, total loss is 48.44 , inference loss is 48.34, reg_loss is 0.09, training accuracy is 0.000000, time 243.119 samples/sec\n\
         epoch 0, total_step 22100, total loss is 47.52 , inference loss is 47.42, reg_loss is 0.09, training accuracy is 0.000000, time 226.503 samples/sec\n",
    );
    assert_eq!(steps(&run.train_loss), vec![22050.0, 22100.0]);
    assert_eq!(values(&run.train_loss), vec![48.44, 47.52]);
}

#[test]
fn likelihood_objectives_are_losses() {
    // SurVAE Flows print bits per dimension, counted in datapoints; nothing else names a loss.
    let run = load(
        "Training. Epoch: 1/10, Datapoint: 64/50000, Bits/dim: 9.041\n\
         Training. Epoch: 1/10, Datapoint: 128/50000, Bits/dim: 8.964\n\
         Training. Epoch: 1/10, Datapoint: 192/50000, Bits/dim: 8.857\n",
    );
    assert_eq!(values(&run.train_loss), vec![9.041, 8.964, 8.857]);
    // texar's text VAE: the NLL is the objective (its KL and reconstruction are parts).
    let run = load(
        "train: epoch 0, step 0, nll 220.7753, klw: 0.1001, KL 0.0120,  rc 220.7741, log_ppl 9.6646, ppl 15749.7773, time elapsed: 2.7s\n\
         train: epoch 0, step 200, nll 150.3577, klw: 0.1153, KL 0.2740,  rc 150.3278, log_ppl 6.7723, ppl 873.2936, time elapsed: 19.7s\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 200.0]);
    assert_eq!(values(&run.train_loss), vec![220.7753, 150.3577]);
}

#[test]
fn a_pattern_reads_the_last_of_runs_pasted_one_after_another() {
    // Two runs from step 1 each, read with --pattern: they had been joined into one curve
    // whose second half "jumped" back to the start.
    let opts = LoadOptions {
        pattern: Some(r"it (?P<step>\d+) L=(?P<loss>\S+)".into()),
        ..LoadOptions::default()
    };
    let text = b"it 1 L=5.0\nit 2 L=3.0\nit 3 L=2.0\nit 4 L=1.5\n\
                 it 1 L=5.1\nit 2 L=3.1\nit 3 L=2.1\n";
    let run = parse(text, Path::new("two.log"), &opts).unwrap();
    assert_eq!(values(&run.train_loss), vec![5.1, 3.1, 2.1]);
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert!(
        run.warnings[0].contains("several runs"),
        "{:?}",
        run.warnings
    );
}

#[test]
fn deepxde_tables_with_names_of_two_words_are_read() {
    // DeepXDE prints its training table aligned by runs of spaces, each value in brackets
    // (one per loss term; the total is their sum); names have two words.
    let run = load(
        "Step      Train loss    Test loss     Test metric   \n\
         0         [3.68e-01]    [1.74e+25]    [3.55e-01]    \n\
         1000      [3.08e-03]    [1.74e+25]    [2.05e-03]    \n\
         2000      [8.55e-04]    [1.74e+25]    [8.00e-04]    \n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 1000.0, 2000.0]);
    assert_eq!(values(&run.train_loss), vec![3.68e-01, 3.08e-03, 8.55e-04]);
    assert_eq!(values(&run.val_loss), vec![1.74e25; 3]);
    // A PINN's terms (PDE residual, boundary condition): the total is their sum.
    let run = load(
        "Step      Train loss              Test loss               Test metric\n\
         0         [1.00e+00, 2.00e-01]    [1.10e+00, 2.00e-01]    []\n\
         1000      [1.00e-01, 5.00e-02]    [1.20e-01, 5.00e-02]    []\n\
         2000      [5.00e-02, 1.00e-02]    [6.00e-02, 1.00e-02]    []\n",
    );
    let sums: Vec<f64> = values(&run.train_loss)
        .iter()
        .map(|v| (v * 1e6).round() / 1e6)
        .collect();
    assert_eq!(sums, vec![1.2, 0.15, 0.06]);
}

#[test]
fn values_written_before_their_names_are_read() {
    // tinygrad's MLPerf scripts: step, then `loss` and `LR` after their values. Refused before.
    let run = load(
        "    1 10.5008 loss, 0.000016689301 LR, 8.83 GB used, 18.70 s\n\
             2 10.4828 loss, 0.000025033951 LR, 124.27 GB used, 12.50 s\n\
             3 10.3733 loss, 0.000033378601 LR, 124.27 GB used, 5.79 s\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(values(&run.train_loss), vec![10.5008, 10.4828, 10.3733]);
    assert_eq!(run.lr.len(), 3);
    // A count of losses in a sentence is no value of one.
    assert!(parse(
        b"found 3 loss functions\nfound 4 loss terms\n",
        Path::new("x"),
        &LoadOptions::default()
    )
    .is_err());
}

#[test]
fn yolact_lines_give_the_total() {
    // YOLACT: one letter per loss and `T`, the total (a last line cut after it too); the
    // paste was read as one point.
    let run = load(
        "[  0]       0 || B: 6.872 | C: 22.219 | M: 10.292 | S: 65.478 | T: 104.861 || ETA: 30 days, 18:40:57 || timer: 39.889\n\
         [  0]      10 || B: 5.774 | C: 18.310 | M: 6.371 | S: 44.301 | T: 74.756 || ETA: 3 days, 23:40:39 || timer: 1.618\n\
         [  1]   20010 || B: 5.730 | C: 15.922 | M: 6.166 | S: 24.768 | T: 52.586\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 10.0, 20010.0]);
    assert_eq!(values(&run.train_loss), vec![104.861, 74.756, 52.586]);
    assert_eq!(run.columns.train_loss.as_deref(), Some("T"));
}

#[test]
fn one_epoch_of_keras_bars_is_its_running_means() {
    // An old Keras `fit` pasted for its only epoch: the running bars, then the finished one.
    // The finished bar alone had been the run (one point).
    let run = load(
        " 512/3523 [===>..........................] - ETA: 25s - loss: 0.0051\n\
         1024/3523 [=======>......................] - ETA: 15s - loss: 0.0048\n\
         1536/3523 [============>.................] - ETA: 11s - loss: 0.0039\n\
         2048/3523 [================>.............] - ETA: 7s - loss: 0.0032\n\
         3523/3523 [==============================] - 17s - loss: 0.0024 - val_loss: 9.8068e-04\n",
    );
    assert_eq!(
        steps(&run.train_loss),
        vec![512.0, 1024.0, 1536.0, 2048.0, 3523.0]
    );
    assert_eq!(values(&run.val_loss), vec![9.8068e-04]);
    assert!(
        run.warnings.iter().any(|w| w.contains("running mean")),
        "{:?}",
        run.warnings
    );
    // Two finished epochs are the epochs' curve; their running bars stay out.
    let run = load(
        "Epoch 1/2\n\
         1024/3523 [=======>......................] - ETA: 15s - loss: 0.0048\n\
         3523/3523 [==============================] - 17s - loss: 0.0024 - val_loss: 0.0010\n\
         Epoch 2/2\n\
         1024/3523 [=======>......................] - ETA: 15s - loss: 0.0020\n\
         3523/3523 [==============================] - 17s - loss: 0.0018 - val_loss: 0.0009\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.0024, 0.0018]);
}
