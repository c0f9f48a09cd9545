//! More tests of the text reader on particular tools' output, from the reader checks of real
//! files: BasicSR, CoupletAI, WaveGlow, ESPnet, ParlAI, NeMo, LLaMA-Factory, MXNet, MMEngine,
//! kohya sd-scripts, SpeechBrain, Keras bars, Weights & Biases summaries.
use super::tests::{load, steps};
#[test]
fn basicsr_steps_with_thousands_separators_and_its_l_pix_loss_are_read() {
    // XPixelGroup/BasicSR#269: `iter:  20,100` was read as step 20, and the four lines
    // collapsed onto one point, silently.
    let run = load(
        "2020-08-15 15:50:30,390 INFO: [My_ES..][epoch:207, iter:  20,100, lr:(1.000e-04,)] [eta: 1 day, 18:13:17, time (data): 0.365 (0.002)] l_pix: 3.1516e-02\n\
         2020-08-15 15:51:08,890 INFO: [My_ES..][epoch:208, iter:  20,200, lr:(1.000e-04,)] [eta: 1 day, 18:12:08, time (data): 0.375 (0.002)] l_pix: 3.0516e-02\n\
         2020-08-15 15:51:47,540 INFO: [My_ES..][epoch:209, iter:  20,300, lr:(1.000e-04,)] [eta: 1 day, 18:11:03, time (data): 0.390 (0.002)] l_pix: 2.9516e-02\n\
         2020-08-15 15:52:26,426 INFO: [My_ES..][epoch:210, iter:  1,020,400, lr:(1.000e-04,)] [eta: 1 day, 18:10:02, time (data): 0.377 (0.002)] l_pix: 2.8516e-02\n",
    );
    assert_eq!(
        steps(&run.train_loss),
        vec![20100.0, 20200.0, 20300.0, 1020400.0]
    );
    assert_eq!(run.train_loss[1].value, 3.0516e-02);
    assert_eq!(run.lr.len(), 4);
    // A pair of counters with no name is no thousands-separated number: PyTorch's tutorial
    // prints `[1,  200]`, and `[2,200]` is epoch 2, batch 200.
    let tutorial = load("[1,200] loss: 2.1\n[1,400] loss: 2.0\n[2,200] loss: 1.9\n");
    assert_eq!(steps(&tutorial.train_loss).len(), 3);
    assert!(steps(&tutorial.train_loss)[0] < 1000.0);
}

#[test]
fn bracketed_names_are_the_words_inside_the_brackets() {
    // liuslnlp/CoupletAI#2: python logging of `[epoch]: 199, [batch]: 23900, [loss]: 4.99`.
    let run = load(
        "2019-08-07 02:59:37,013 - __main__ - INFO - [epoch]: 199, [batch]: 23900, [loss]: 4.994150638580322\n\
         2019-08-07 02:59:38,017 - __main__ - INFO - [epoch]: 199, [batch]: 24000, [loss]: 4.850643634796143\n",
    );
    assert_eq!(steps(&run.train_loss), vec![23900.0, 24000.0]);
    assert_eq!(run.train_loss[1].value, 4.850643634796143);
}

#[test]
fn values_joined_to_their_names_by_an_underscore_are_read() {
    // NVIDIA/waveglow's train.py prints `step_78540:\tloss_-4.065555573` (a flow's negative
    // log-likelihood); `loss_1: 0.5` still names a loss `loss_1`.
    let run =
        load("step_78540:\tloss_-4.065555573\nstep_78541:\tloss_-4.1\nstep_78542:\tloss_-4.2\n");
    assert_eq!(steps(&run.train_loss), vec![78540.0, 78541.0, 78542.0]);
    assert_eq!(run.train_loss[0].value, -4.065555573);
    let named = load("step 1 loss_1: 0.5\nstep 2 loss_1: 0.4\n");
    assert_eq!(named.train_loss[1].value, 0.4);
}

#[test]
fn espnet_batch_ranges_give_the_step_and_epoch_results_both_losses() {
    // espnet/espnet#2674: `5epoch:train:3376-3750batch:` was read as row numbers 0-5.
    let run = load(
        "[PC] 2020-11-11 16:36:33,446 (trainer:486) INFO: 1epoch:train:1-375batch: iter_time=0.001, forward_time=0.005, loss=2.733, backward_time=0.005, lr_0=0.100, train_time=0.014\n\
         [PC] 2020-11-11 16:36:38,663 (trainer:486) INFO: 1epoch:train:376-750batch: iter_time=0.001, forward_time=0.005, loss=2.139, backward_time=0.005, lr_0=0.100, train_time=0.014\n\
         [PC] 2020-11-11 16:36:40,000 (trainer:243) INFO: 1epoch results: [train] iter_time=0.164, loss=2.386, loss_att=191.654, acc=1.022e-04, lr_0=0.100, train_time=2.105, time=1 minute and 43.19 seconds, total_count=750, [valid] loss=2.455, loss_att=191.637, acc=1.030e-04, cer=1.010, time=50.5 seconds, total_count=49, [att_plot] time=3.2 s\n\
         [PC] 2020-11-11 16:36:43,831 (trainer:486) INFO: 2epoch:train:1-375batch: iter_time=0.001, forward_time=0.005, loss=1.735, backward_time=0.005, lr_0=0.100, train_time=0.014\n\
         [PC] 2020-11-11 16:36:49,052 (trainer:486) INFO: 2epoch:train:376-750batch: iter_time=0.001, forward_time=0.005, loss=1.743, backward_time=0.005, lr_0=0.100, train_time=0.014\n",
    );
    assert_eq!(steps(&run.train_loss), vec![375.0, 750.0, 1125.0, 1500.0]);
    assert_eq!(run.train_loss[2].value, 1.735);
    // The epoch's validation at its end; its training mean is not a point of the curve.
    assert_eq!(steps(&run.val_loss), vec![750.0]);
    assert_eq!(run.val_loss[0].value, 2.455);
    assert_eq!(run.lr.len(), 4);
    // A log of epoch results alone is an epoch-level log.
    let results = load(
        "[h] 2021-07-06 14:20:17,332 (trainer:398) INFO: 1epoch results: [train] loss=39.899, loss_att=33.843, acc=0.750, optim0_lr0=1.697e-04, total_count=130000, [valid] loss=27.755, loss_att=23.035, acc=0.817, total_count=4017\n\
         [h] 2021-07-06 20:20:17,332 (trainer:398) INFO: 2epoch results: [train] loss=30.1, loss_att=33.843, acc=0.750, optim0_lr0=1.697e-04, total_count=130000, [valid] loss=25.2, loss_att=23.035, acc=0.817, total_count=4017\n",
    );
    assert_eq!(steps(&results.train_loss), vec![1.0, 2.0]);
    assert_eq!(results.val_loss[1].value, 25.2);
}

#[test]
fn parlai_steps_are_its_running_total_of_updates() {
    // facebookresearch/ParlAI#2433: `updates` counts those since the last line.
    let run = load(
        "[rank:  1] [ time:7.0s total_exs:3570 epochs:7.14 time_left:14.0s ] {'exs': 1064, 'loss': 0.1231, 'ppl': 1.131, 'gnorm': 2.446, 'updates': 76, 'lr': 0.007, 'total_train_updates': 255}\n\
         [rank:  0] [ time:9.0s total_exs:4634 epochs:9.27 time_left:11.0s ] {'exs': 1064, 'loss': 0.0171, 'ppl': 1.017, 'gnorm': 0.7957, 'updates': 76, 'lr': 0.007, 'total_train_updates': 331}\n\
         [rank:  0] [ time:10.0s total_exs:5012 epochs:10.02 time_left:11.0s ] {'exs': 378, 'loss': 0.005574, 'ppl': 1.006, 'gnorm': 0.7471, 'updates': 27, 'lr': 0.007, 'total_train_updates': 358}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![255.0, 331.0, 358.0]);
}

#[test]
fn a_validation_carried_on_every_training_line_of_a_step_log_is_one_evaluation() {
    // NVIDIA-BioNeMo/bionemo-recipes#740 (NeMo): the last `val_loss` rides on each line; six
    // copies had been read as six evaluations, and then as validation frozen at 4.106.
    let lines: String = [(120, 1.233), (121, 1.288), (122, 1.25), (123, 1.301), (124, 1.27), (125, 1.34)]
        .iter()
        .map(|(s, l)| {
            format!(
                "Training epoch 0, iteration {s}/149 | lr: 3e-05 | consumed_samples: {} | global_batch_size: 1 | global_step: {s} | reduced_train_loss: {l} | train_step_timing in s: 0.03146 | val_loss: 4.106\n",
                s + 1
            )
        })
        .collect();
    let run = load(&lines);
    assert_eq!(run.train_loss.len(), 6);
    assert_eq!(steps(&run.val_loss), vec![120.0]);
    // An epoch log evaluates every epoch: there a repeated value is kept (it is the finding).
    let keras = load(
        "Epoch 1/3\n - 5s - loss: 0.1902 - val_loss: 0.2000\nEpoch 2/3\n - 5s - loss: 0.1872 - val_loss: 0.2000\nEpoch 3/3\n - 5s - loss: 0.1844 - val_loss: 0.2000\n",
    );
    assert_eq!(keras.val_loss.len(), 3);
}

#[test]
fn trainer_dicts_that_all_print_epoch_zero_are_numbered_by_line() {
    // hiyouga/LlamaFactory#813: a long run's first logs, `'epoch': 0.0` on each; they had
    // overwritten each other at step 0, the last one kept.
    let run = load(
        "{'loss': 1.8673, 'learning_rate': 4.9999999999876634e-05, 'epoch': 0.0}\n\
         {'loss': 0.7744, 'learning_rate': 4.999999999950652e-05, 'epoch': 0.0}\n\
         {'loss': 0.6309, 'learning_rate': 4.999999999888967e-05, 'epoch': 0.0}\n\
         {'loss': 0.5621, 'learning_rate': 4.9999999998026084e-05, 'epoch': 0.0}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(run.train_loss[0].value, 1.8673);
    // The same log from a four-node launcher: each record once per node, under its host.
    let nodes: String = [1.8673, 0.7744, 0.6309, 0.5621]
        .iter()
        .flat_map(|l| {
            [
                "10.96.202.43",
                "10.96.202.17",
                "10.96.202.16",
                "10.96.202.40",
            ]
            .map(|h| format!("{h}: {{'loss': {l}, 'learning_rate': 5e-05, 'epoch': 0.0}}\n"))
        })
        .collect();
    let run = load(&nodes);
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0, 4.0]);
    // One host printing the same loss line after line keeps each (a loss that repeats is data).
    let one = load("node1: {'loss': 0.0, 'epoch': 0.5}\nnode1: {'loss': 0.0, 'epoch': 0.6}\nnode1: {'loss': 0.0, 'epoch': 0.7}\n");
    assert_eq!(one.train_loss.len(), 3);
    // Nor are two splits with equal values one record.
    let splits = load(
        "step 1\ntrain: loss 0.52\nvalid: loss 0.52\nstep 2\ntrain: loss 0.5\nvalid: loss 0.51\n",
    );
    assert_eq!(splits.val_loss.len(), 2);
}

#[test]
fn mxnet_cross_entropy_metrics_are_the_losses() {
    // MXNet Module's fit log: the loss is the `cross-entropy` metric.
    let run = load(
        "INFO:root:Epoch[73] Batch [500]\tSpeed: 1694.57 samples/sec\tTrain-cross-entropy=1.740517\n\
         INFO:root:Epoch[73] Batch [1000]\tSpeed: 1688.18 samples/sec\tTrain-cross-entropy=1.714734\n\
         INFO:root:Epoch[73] Validation-cross-entropy=1.914535\n",
    );
    assert_eq!(run.train_loss.len(), 2);
    assert_eq!(run.train_loss[1].value, 1.714734);
    assert_eq!(run.val_loss.len(), 1);
    assert_eq!(run.val_loss[0].value, 1.914535);
}

#[test]
fn a_date_written_with_slashes_is_no_counter() {
    // MMEngine's default time format: `2024/12/27` had read as counter 2024 of 12, and the four
    // lines collapsed onto step 2024.
    let run = load(
        "2024/12/27 11:38:55 - mmengine - INFO - Epoch(train)  [1][ 50/656]  lr: 9.9098e-04  eta: 0:50:41  time: 0.3889  data_time: 0.0381  memory: 7865  loss: 5.5009  loss_cls: 0.2076\n\
         2024/12/27 11:39:09 - mmengine - INFO - Epoch(train)  [1][100/656]  lr: 1.9920e-03  eta: 0:50:41  time: 0.3889  data_time: 0.0381  memory: 7865  loss: 4.6885  loss_cls: 0.2076\n\
         2024/12/27 11:39:23 - mmengine - INFO - Epoch(train)  [1][150/656]  lr: 2.9920e-03  eta: 0:50:41  time: 0.3889  data_time: 0.0381  memory: 7865  loss: 4.7658  loss_cls: 0.2076\n",
    );
    assert_eq!(steps(&run.train_loss), vec![50.0, 100.0, 150.0]);
    assert_eq!(run.lr.len(), 3);
}

#[test]
fn a_bar_counting_the_whole_run_under_epoch_lines_is_not_offset_by_epoch() {
    // kohya-ss/sd-scripts: `steps: 41/3280` (80 epochs of 41) with `epoch 2/80` lines between;
    // the steps had come out as 41, 3362, 6683.
    let run = load(
        "steps:   1%|▋          | 41/3280 [00:50<1:06:54,  1.24s/it, avr_loss=0.12]\n\
         epoch 2/80\n\
         steps:   2%|█▍         | 82/3280 [01:40<1:05:00,  1.22s/it, avr_loss=0.11]\n\
         epoch 3/80\n\
         steps:   4%|██         | 123/3280 [02:30<1:04:00,  1.22s/it, avr_loss=0.10]\n",
    );
    assert_eq!(steps(&run.train_loss), vec![41.0, 82.0, 123.0]);
    // SpeechBrain: each epoch's training bar ends at 190/190, its evaluation's at 137/137 (no
    // loss on it): the training counter restarts each epoch, one finished bar per epoch (the
    // axis had been divided by the evaluation's 137).
    let per_epoch = load(
        "speechbrain.utils.epoch_loop - Going into epoch 1
         100%|██| 190/190 [03:08<00:00,  1.01it/s, train_loss=0.945]
         100%|██| 137/137 [01:43<00:00,  1.33it/s]
         speechbrain.utils.epoch_loop - Going into epoch 2
         100%|██| 190/190 [03:02<00:00,  1.04it/s, train_loss=0.726]
         100%|██| 137/137 [02:17<00:00,  1.00s/it]
",
    );
    assert_eq!(steps(&per_epoch.train_loss), vec![1.0, 2.0]);
}

#[test]
fn of_two_losses_at_one_step_the_plainer_name_is_the_loss() {
    // A radar detector's epoch summary: `Mean Training loss : nan`, then its parts on the next
    // line; the NaN had been overwritten by `mean center loss`.
    let run = load(
        "Epoch 8: 100%|██████| 266/266 [00:42<00:00,  6.22it/s, loss=1.95e+4]\n\
         Mean Training loss : nan\n\
         mean MSE : 778027.0 mean focal : 2242658.0 mean center loss : 2638.1787109375 mean orent loss : 19.774333953857422\n\
         Epoch 9: 100%|██████| 266/266 [00:42<00:00,  6.22it/s, loss=1.90e+4]\n\
         Mean Training loss : nan\n\
         mean MSE : 778027.0 mean focal : 2242658.0 mean center loss : 2600.0 mean orent loss : 19.774333953857422\n",
    );
    assert_eq!(run.train_loss.len(), 2);
    assert!(
        run.train_loss.iter().all(|p| p.value.is_nan()),
        "{:?}",
        run.train_loss
    );
}

#[test]
fn a_keras_bar_gone_nan_mid_epoch_is_kept_and_wandb_summaries_are_not_curves() {
    // CSRNet (Keras): two finished epochs, then the third epoch's bars print `loss: nan`; the
    // NaN lines had been dropped as running means and the run called fine.
    let run = load(
        "Epoch 1/3\n700/700 [==============================] - 120s 171ms/step - loss: 0.0031 - val_loss: 0.0040\n\
         Epoch 2/3\n700/700 [==============================] - 118s 169ms/step - loss: 0.0024 - val_loss: 0.0035\n\
         Epoch 3/3\n  1/700 [..............................] - ETA: 2:54:46 - loss: 0.0021\n\
           2/700 [..............................] - ETA: 2:36:14 - loss: nan\n\
           3/700 [..............................] - ETA: 2:30:01 - loss: nan\n",
    );
    assert!(
        run.train_loss.iter().any(|p| p.value.is_nan()),
        "{:?}",
        run.train_loss
    );
    assert_eq!(run.train_loss[0].value, 0.0031);
    // A W&B summary after a YOLOv5 run: one final value per metric, no curve.
    let summary = load(
        "epoch 1 loss 0.50\nepoch 2 loss 0.40\nepoch 3 loss 0.35\n\
         wandb: Run summary:\n\
         wandb:                 train/box_loss 0.03868\n\
         wandb:                 train/obj_loss 0.05482\n\
         wandb:                   val/box_loss 0.03014\n\
         wandb:                          _step 10\n",
    );
    assert_eq!(steps(&summary.train_loss), vec![1.0, 2.0, 3.0]);
    assert!(summary.val_loss.is_empty());
    // A paste of the summary alone says what it is and what to share instead.
    let alone = super::parse(
        b"wandb: Run summary:
wandb:   train/box_loss 0.03868
wandb:   val/box_loss 0.03014
",
        std::path::Path::new("wandb.txt"),
        &super::LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(alone.contains("history"), "{alone}");
}

#[test]
fn a_second_loss_named_as_plainly_as_the_first_is_mentioned() {
    // A GAN's log: `d_loss` is judged (the first), and the warning names `g_loss`.
    let run = load(
        "batch: 37350  d_loss: 0.000000  g_loss: 20.779835\nbatch: 37848  d_loss: 0.1  g_loss: 12.678933\n",
    );
    assert_eq!(run.train_loss[1].value, 0.1);
    assert!(
        run.warnings.iter().any(|w| w.contains("\"g_loss\"")),
        "{:?}",
        run.warnings
    );
    // A loss beside its running mean is one loss.
    let mean = load("step 1 loss 2.0 mean loss 2.1\nstep 2 loss 1.9 mean loss 2.0\n");
    assert!(mean.warnings.is_empty(), "{:?}", mean.warnings);
}

#[test]
fn an_epoch_loss_printed_again_beside_its_validation_is_one_point() {
    // A W&B `output.log` (PaiNN): each epoch's `Train Loss` alone, then again with the
    // validation; read as a log that repeats its epochs, it had doubled the points.
    let run = load(
        "Epoch [1/1000], Train Loss: 19.3856\n\
         Epoch [1/1000], Train Loss: 19.3856, Smoothed Validation Loss: 3.6563\n\
         Epoch [2/1000], Train Loss: 4.4683\n\
         Epoch [2/1000], Train Loss: 4.4683, Smoothed Validation Loss: 3.6495\n\
         Epoch [3/1000], Train Loss: 3.1\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0]);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
}

#[test]
fn a_step_counter_that_restarts_under_the_next_epoch_is_no_new_run() {
    // BeyonderXX/TRACE#5 (DeepSpeed-Chat): epoch 2 repeats epoch 1's losses exactly (the
    // user's "no change in loss"); its first loss equals the log's first, and the log had been
    // read as two pasted runs, the first dropped.
    let epoch = |e: u32| -> String {
        [0.9741, 0.95, 0.97, 0.96]
            .iter()
            .enumerate()
            .map(|(s, l)| format!("Epoch {e}, Step {s}, Loss: {l}:   6%|▋         | 9/144 [00:13<03:00,  1.33s/it]\n"))
            .collect()
    };
    let run = load(&(epoch(1) + &epoch(2)));
    assert_eq!(run.train_loss.len(), 8);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
}

#[test]
fn ultralytics_yolo_console_tables_are_read_by_epoch() {
    // YOLOv5 7.0 as pasted in a README (a code fence opens the first header) and YOLOv5's older
    // header (`gpu_mem box obj cls`): the first loss column, one point per epoch.
    let v7 = load(
        "  ``` Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size\n\
         \x20     0/499      10.2G     0.1095    0.03323     0.0419         26        640: 100% 15/15 [00:12<00:00,  1.22it/s]\n\
         \x20                Class     Images  Instances          P          R      mAP50   mAP50-95: 100% 1/1 [00:02<00:00,  2.45s/it]\n\
         \x20                  all         51         87     0.0027      0.469     0.0237    0.00587\n\
         \n\
         \x20     Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size\n\
         \x20     1/499      10.2G    0.08632    0.03235    0.03949         23        640: 100% 15/15 [00:08<00:00,  1.79it/s]\n\
         \x20     Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size\n\
         \x20     2/499      10.2G    0.07104    0.03228    0.03629         31        640: 100% 15/15 [00:08<00:00,  1.79it/s]\n",
    );
    assert_eq!(steps(&v7.train_loss), vec![0.0, 1.0, 2.0]);
    assert_eq!(v7.train_loss[1].value, 0.08632);
    assert_eq!(v7.columns.train_loss.as_deref(), Some("box_loss"));
    let old = load(
        "     Epoch   gpu_mem       box       obj       cls    labels  img_size\n\
         \x20    0/149     5.05G   0.06383   0.03304         0         0      1280: 100%|| 213/213 [06:21<00:00,  1.79s/it]\n\
         \x20    Epoch   gpu_mem       box       obj       cls    labels  img_size\n\
         \x20    1/149     4.89G   0.04812   0.03428         0         1      1280: 100%|| 213/213 [06:11<00:00,  1.74s/it]\n",
    );
    assert_eq!(old.train_loss.len(), 2);
    assert_eq!(old.train_loss[1].value, 0.04812);
}
