//! Tests of the text reader from the fifteenth to seventeenth reader checks of real files:
//! OLMo, MaxText, Coqui TTS, SpinningUp, PyTorch Geometric, pytorch-template, Markdown epoch
//! blocks, progress bars, Time-Series-Library.
use super::tests::{load, steps};

#[test]
fn olmo_blocks_give_the_camel_case_cross_entropy_not_the_perplexity() {
    // allenai/OLMo#692: each step's metrics on lines of their own. `CrossEntropyLoss` was one
    // unknown word, so the loss came from `Perplexity=195,153`, cut at the comma (ln 195).
    let run = load(
        "2024-08-06 09:59:26.181 intern-studio-160750:0  olmo.train:908  INFO    [step=1/739328,epoch=0]\n\
         \x20   optim/total_grad_norm=231.7\n\
         \x20   train/CrossEntropyLoss=12.18\n\
         \x20   train/Perplexity=195,153\n\
         \x20   throughput/total_tokens=1,048,576\n\
         2024-08-06 10:00:05.520 intern-studio-160750:0  olmo.train:908  INFO    [step=2/739328,epoch=0]\n\
         \x20   optim/total_grad_norm=0.0002\n\
         \x20   train/CrossEntropyLoss=1.7872662283480167e-06\n\
         \x20   train/Perplexity=1.000\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0]);
    assert_eq!(run.train_loss[0].value, 12.18);
    assert_eq!(
        run.columns.train_loss.as_deref(),
        Some("train/CrossEntropyLoss")
    );
    // Without the cross-entropy, the perplexity's thousands are kept: ln 195153, not ln 195.
    let ppl = load(
        "[step=1/100]\n    train/Perplexity=195,153\n[step=2/100]\n    train/Perplexity=1,000\n",
    );
    assert!((ppl.train_loss[0].value - 195153f64.ln()).abs() < 1e-9);
}

#[test]
fn maxtext_completed_step_is_the_step() {
    // AI-Hypercomputer/maxtext#4847: the steps were numbered by line (0, 1, 2).
    let run = load(
        "I0811 21:54:55.531340 138304841739136 metric_logger.py:226] completed step: 10, seconds: 0.631, TFLOP/s/device: 5688.282, Tokens/s/device: 311629.521, total_weights: 1572864, loss: 12.979, lm_loss: 12.979, perplexity: 433358.281\n\
         I0811 21:55:06.119312 138304841739136 metric_logger.py:226] completed step: 20, seconds: 10.228, TFLOP/s/device: 350.869, Tokens/s/device: 19222.175, total_weights: 1572864, loss: 12.980, lm_loss: 12.980, perplexity: 433463.719\n\
         I0811 21:55:16.704861 138304841739136 metric_logger.py:226] completed step: 30, seconds: 10.344, TFLOP/s/device: 346.932, Tokens/s/device: 19006.461, total_weights: 1572864, loss: 12.979, lm_loss: 12.979, perplexity: 433110.281\n",
    );
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0, 30.0]);
    assert_eq!(run.train_loss[1].value, 12.98);
}

#[test]
fn coqui_blocks_are_placed_by_the_global_step_and_loose_lines_before_them_are_left_out() {
    // coqui-ai/TTS#2070, pasted from inside a block: the loose `| > …` lines ahead of the
    // first header became points 0–8 (the first, `loss_disc_real_5`), and the header's
    // per-epoch `STEP: 49/377` was taken over its `GLOBAL_STEP: 370050`.
    let run = load(
        "      | > loss_disc_real_5: 0.26839  (0.23704)\n\
         \x20     | > loss_0: 2.55044  (2.48995)\n\
         \x20     | > loss_gen: 2.27486  (2.29334)\n\
         \x20     | > current_lr_0: 0.00018 \n\
         \x20\n\
         \x20   --> STEP: 49/377 -- GLOBAL_STEP: 370050\n\
         \x20     | > loss_disc: 2.40120  (2.51074)\n\
         \x20     | > loss_0: 2.40120  (2.51074)\n\
         \x20     | > current_lr_0: 0.00018 \n\
         \x20   --> STEP: 74/377 -- GLOBAL_STEP: 370075\n\
         \x20     | > loss_disc: 2.31000  (2.50074)\n\
         \x20     | > loss_0: 2.31000  (2.50074)\n\
         \x20     | > current_lr_0: 0.00018 \n",
    );
    assert_eq!(steps(&run.train_loss), vec![370050.0, 370075.0]);
    assert_eq!(run.train_loss[0].value, 2.4012);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("before the first step counter")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn spinningup_tables_judge_the_value_loss_when_the_policy_objective_goes_negative() {
    // openai/spinningup's vertical tables: `LossPi` is a policy-gradient objective (it goes
    // negative); the value function's squared error, `LossV`, is the loss that can be judged.
    let block = |epoch: u32, pi: f64, v: f64| {
        format!(
            "---------------------------------------\n\
             |             Epoch |               {epoch} |\n\
             |            LossPi |        {pi} |\n\
             |             LossV |            {v} |\n\
             |       DeltaLossPi |               0 |\n\
             |           Entropy |           0.691 |\n\
             ---------------------------------------\n"
        )
    };
    let text: String = [(0, -0.0009, 87.9), (1, -0.0054, 73.9), (2, 0.0011, 61.2)]
        .iter()
        .map(|&(e, p, v)| block(e, p, v))
        .collect();
    let run = load(&text);
    assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0]);
    assert_eq!(run.train_loss[1].value, 73.9);
    assert_eq!(run.columns.train_loss.as_deref(), Some("LossV"));
}

#[test]
fn pytorch_geometric_accuracies_beside_a_named_loss_are_not_losses() {
    // pyg-team examples print `Epoch: 001, Loss: 1.9, Train: 0.3, Val: 0.2, Test: 0.2`: the
    // bare `Val` (an accuracy) was read as the validation loss.
    let run = load(
        "Epoch: 001, Loss: 1.9461, Train: 0.3000, Val: 0.2000, Test: 0.2100\n\
         Epoch: 002, Loss: 1.8000, Train: 0.4000, Val: 0.3500, Test: 0.3400\n\
         Epoch: 003, Loss: 1.7000, Train: 0.5000, Val: 0.4500, Test: 0.4400\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(run.train_loss[1].value, 1.8);
    assert!(run.val_loss.is_empty());
    // A loss named with its split keeps the bare `val` as its counterpart (litgpt).
    let litgpt = load(
        "Epoch 34 | iter 3050700 step 610140 | loss train: 2.846, val: 2.861 | iter time: 112.20 ms (step)\n\
         Epoch 34 | iter 3050750 step 610150 | loss train: 2.750, val: 2.861 | iter time: 111.35 ms (step)\n",
    );
    // (Carried unchanged from one evaluation: one point.)
    assert_eq!(litgpt.val_loss.len(), 1);
    assert_eq!(litgpt.val_loss[0].value, 2.861);
}

#[test]
fn an_epoch_block_of_sibling_losses_gives_one_of_them_per_epoch() {
    // pytorch-template's epoch blocks with no total (maskrcnn-benchmark#1334): three losses
    // took turns as one series (a false spike from 0.03 to 0.25), placed by line.
    let block = |e: u32, cls: f64, attr: f64| {
        format!(
            "2022-03-09 08:31:05,490 - trainer - INFO -     epoch          : {e}\n\
             2022-03-09 08:31:05,490 - trainer - INFO -     loss_classifier: {cls}\n\
             2022-03-09 08:31:05,490 - trainer - INFO -     loss_box_reg   : 0.0076\n\
             2022-03-09 08:31:05,490 - trainer - INFO -     attribute_loss : {attr}\n\
             2022-03-09 08:31:05,490 - trainer - INFO -     loss_objectness: 0.0142\n"
        )
    };
    let text: String = [
        (12, 0.0303, 0.248),
        (13, 0.0294, 0.1712),
        (14, 0.0344, 0.16),
    ]
    .iter()
    .map(|&(e, c, a)| block(e, c, a))
    .collect();
    let run = load(&text);
    assert_eq!(steps(&run.train_loss), vec![12.0, 13.0, 14.0]);
    assert_eq!(run.train_loss[1].value, 0.0294);
    assert!(
        run.warnings.iter().any(|w| w.contains("attribute_loss")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn markdown_epoch_blocks_are_placed_by_their_epoch_header() {
    // ghatotkachhh/PINN-Classification: `## Epoch no. = N` then `- Train Loss:` and
    // `- Validation Loss:`; the header was no counter, so the two losses alternated steps.
    let run = load(
        "# Training Log\n\n## Best Performance:\n- Best Train Loss: 0.2338 (Epoch 12)\n\n\
         ## Epoch no. = 1\n- Accuracy: 0.3449\n- Train Loss: 1.1011\n- Validation Loss: 1.0993\n\n\
         ## Epoch no. = 2\n- Accuracy: 0.3501\n- Train Loss: 1.0988\n- Validation Loss: 1.0979\n\n\
         ## Epoch no. = 3\n- Accuracy: 0.3455\n- Train Loss: 1.0979\n- Validation Loss: 1.0980\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(steps(&run.val_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(run.val_loss[1].value, 1.0979);
}

#[test]
fn an_idle_progress_bar_does_not_place_the_losses_after_it() {
    // AuxiliaryASR#7: each epoch's `--- epoch 147 ---` was overridden by its bars' `5/5`
    // and `3/3` (steps 3 and 441).
    let epoch = |e: u32, loss: f64| {
        format!(
            "[train]: 100%|██████████| 5/5 [00:01<00:00,  3.50it/s]\n\
             [eval]: 100%|██████████| 3/3 [00:01<00:00,  2.74it/s]\n\
             --- epoch {e} ---\n\
             train/loss     : {loss}\n\
             eval/loss      : 10.2448\n"
        )
    };
    let run = load(&format!("{}{}", epoch(147, 6.1718), epoch(148, 6.05)));
    assert_eq!(steps(&run.train_loss), vec![147.0, 148.0]);
}

#[test]
fn a_finished_bar_postfix_yields_to_the_epoch_summary_line() {
    // pilot-j/Gsoc_Deeplense: the bar's `loss=0.919` (its last batch) was taken over the
    // epoch's `Train Loss: 0.9780` printed beside the validation loss.
    let epoch = |e: u32, bar: f64, mean: f64, val: f64| {
        format!(
            "Epoch {e}/50 [FT]: 100%|██████████| 157/157 [02:45<00:00,  1.06s/it, loss={bar}]\n\
             Epoch {e}/50 [Validating]: 100%|██████████| 18/18 [00:10<00:00,  1.69it/s]\n\
             Epoch {e}/50 - Train Loss: {mean}, Train Accuracy: 50.15%, Validation Loss: {val}, Validation Accuracy: 33.73%\n"
        )
    };
    let text: String = [
        (1, 0.919, 0.978, 1.3758),
        (2, 0.796, 0.8571, 0.9801),
        (3, 0.787, 0.8027, 0.9628),
    ]
    .iter()
    .map(|&(e, b, m, v)| epoch(e, b, m, v))
    .collect();
    let run = load(&text);
    assert_eq!(run.train_loss.len(), 3);
    assert_eq!(run.train_loss[0].value, 0.978);
    assert_eq!(run.val_loss[2].value, 0.9628);
}

#[test]
fn time_series_library_vali_loss_is_the_validation_not_its_test_loss() {
    // Informer / Autoformer / TimesNet: `Vali Loss` was no validation name, so `Test Loss`
    // (the held-out test split) was judged as the validation curve.
    let run = load(
        "\titers: 100, epoch: 1 | loss: 0.5228176\n\
         Epoch: 1, Steps: 954 | Train Loss: 0.6078118 Vali Loss: 0.4658842 Test Loss: 0.5615195\n\
         \titers: 100, epoch: 2 | loss: 0.5294149\n\
         Epoch: 2, Steps: 954 | Train Loss: 0.5078118 Vali Loss: 0.4858842 Test Loss: 0.6615195\n",
    );
    let val: Vec<f64> = run.val_loss.iter().map(|p| p.value).collect();
    assert_eq!(val, vec![0.4658842, 0.4858842]);
}

#[test]
fn a_count_in_brackets_after_a_percentage_is_no_step_counter() {
    // A Bi-LSTM LM's loop prints `test accuracy: 68.23%, (1682685/2466262)` after each
    // epoch's loss: the right-answer count was taken as the step (81 … 342182157).
    let run = load(
        "epoch  81\nloss: 1.656425\ntest accuracy: 68.23%, (1682685/2466262)\n\
         epoch  82\nloss: 1.653647\ntest accuracy: 68.18%, (1681617/2466270)\n\
         epoch  83\nloss: 1.658416\ntest accuracy: 68.06%, (1678434/2466171)\n",
    );
    assert_eq!(steps(&run.train_loss), vec![81.0, 82.0, 83.0]);
    // A tqdm bar's counter after its percentage still counts.
    let bar = load(
        "  5%|▌         | 50/1000 [00:10<03:10,  5.00it/s, loss=2.31]\n\
         \x20 10%|█         | 100/1000 [00:20<03:00,  5.00it/s, loss=2.12]\n",
    );
    assert_eq!(steps(&bar.train_loss), vec![50.0, 100.0]);
}

#[test]
fn current_step_is_a_step() {
    let run = load("current step: 5001, batch loss: 2.31\ncurrent step: 5002, batch loss: 2.29\n");
    assert_eq!(steps(&run.train_loss), vec![5001.0, 5002.0]);
}
