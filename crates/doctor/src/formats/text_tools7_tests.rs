//! Tests of the text reader from the twenty-ninth reader check: runs pasted in issue threads
//! and frameworks other than plain PyTorch (session 19), each fed to the reader as pasted.
use super::tests::{load, steps};

fn values(points: &[crate::Point]) -> Vec<f64> {
    points.iter().map(|p| p.value).collect()
}

#[test]
fn a_line_saying_the_loss_went_nan_ends_the_run_with_a_nan_point() {
    // MAE / DeiT / DETR stop with `Loss is nan, stopping training`, a line with no step:
    // the paste ends on the failure the user asks about, and had read as six healthy points.
    let run = load(
        "Epoch: [24]  [1000/1251]  eta: 0:01:02  lr: 0.000150  loss: 0.4123 (0.4180)\n\
         Epoch: [24]  [1020/1251]  eta: 0:01:02  lr: 0.000150  loss: 0.4101 (0.4178)\n\
         Epoch: [24]  [1040/1251]  eta: 0:01:02  lr: 0.000150  loss: 0.4150 (0.4177)\n\
         Loss is nan, stopping training\n",
    );
    let v = values(&run.train_loss);
    assert_eq!(v.len(), 4, "{v:?}");
    assert!(v[..3].iter().all(|x| x.is_finite()) && v[3].is_nan());
    let s = steps(&run.train_loss);
    assert_eq!(s[3] - s[2], s[2] - s[1], "one logging interval on: {s:?}");
    assert!(
        run.warnings.iter().any(|w| w.contains("line 4")),
        "{:?}",
        run.warnings
    );
    // visual-semantic-embedding's `NaN detected` after its last update line.
    let vse = load(
        "Epoch  1 Update  510 Cost  308.02814 UD  0.764338970184\n\
         Epoch  2 Update  520 Cost  118.96719 UD  0.695561885834\n\
         Epoch  2 Update  530 Cost  226.9092 UD  0.454373121262\n\
         NaN detected\n",
    );
    assert_eq!(steps(&vse.train_loss), vec![510.0, 520.0, 530.0, 540.0]);
    assert!(vse.train_loss[3].value.is_nan());
    // Training that goes on after such a line (a skipped step, a resumed run) keeps its
    // last point.
    let resumed = load(
        "step 10 loss 2.5\nstep 20 loss 2.4\nNaN detected, skipping batch\nstep 30 loss 2.3\n",
    );
    assert_eq!(values(&resumed.train_loss), vec![2.5, 2.4, 2.3]);
}

#[test]
fn darknet_classifier_lines_carry_the_epoch_after_the_iteration() {
    // darknet's classifier: `iteration, epoch: loss, avg avg, rate rate, …` had not been read.
    let run = load(
        "40245, 4.021: 6.907692, 6.910023 avg, 0.081346 rate, 0.385639 seconds, 5151360 images\n\
         40246, 4.021: 6.911774, 6.910198 avg, 0.081345 rate, 0.384818 seconds, 5151488 images\n\
         40247, 4.021: 6.910047, 6.910182 avg, 0.081345 rate, 0.383268 seconds, 5151616 images\n",
    );
    assert_eq!(steps(&run.train_loss), vec![40245.0, 40246.0, 40247.0]);
    assert_eq!(values(&run.train_loss), vec![6.907692, 6.911774, 6.910047]);
    assert_eq!(values(&run.lr), vec![0.081346, 0.081345, 0.081345]);
}

#[test]
fn insightface_lossvalue_is_the_loss() {
    // InsightFace's MXNet Speedometer: `acc=0.000000\tlossvalue=41.974941`.
    let run = load(
        "INFO:root:Epoch[0] Batch [8880-8900]\tSpeed: 1410.46 samples/sec\tacc=0.000000\tlossvalue=41.974941\n\
         INFO:root:Epoch[0] Batch [8900-8920]\tSpeed: 1416.21 samples/sec\tacc=0.000000\tlossvalue=41.972329\n\
         INFO:root:Epoch[0] Batch [8920-8940]\tSpeed: 1423.41 samples/sec\tacc=0.000000\tlossvalue=41.982397\n",
    );
    assert_eq!(
        values(&run.train_loss),
        vec![41.974941, 41.972329, 41.982397]
    );
}

#[test]
fn the_trainers_printed_summary_dict_is_no_point() {
    // The last dict a Trainer prints averages the loss over the run; read as a point at the
    // last epoch, it had added a 1.934 after 1.776.
    let run = load(
        "{'loss': 2.345, 'grad_norm': 1.2, 'learning_rate': 4.9e-05, 'epoch': 0.5}\n\
         {'loss': 2.101, 'grad_norm': 1.1, 'learning_rate': 4.8e-05, 'epoch': 1.0}\n\
         {'loss': 1.776, 'grad_norm': 0.9, 'learning_rate': 4.6e-05, 'epoch': 1.5}\n\
         {'train_runtime': 123.4, 'train_samples_per_second': 1.2, 'train_steps_per_second': 0.3, 'train_loss': 1.934, 'epoch': 2.0}\n",
    );
    assert_eq!(values(&run.train_loss), vec![2.345, 2.101, 1.776]);
}

#[test]
fn a_test_set_named_after_the_training_loss_does_not_make_it_a_validation_loss() {
    // TSAI/EVA course logs with each epoch's lines joined: the training `Loss=` comes first,
    // the `Test set: Average loss` after it. A marker only heads what follows it.
    let run = load(
        "EPOCH:  1 | Loss=2.7940 Batch_id=97 Accuracy=32.20: 100%|██████████| 98/98 | Test set: Average loss: 2.1795, Accuracy: 3780/10000 (37.80%)\n\
         EPOCH:  2 | Loss=1.7731 Batch_id=97 Accuracy=48.31: 100%|██████████| 98/98 | Test set: Average loss: 1.1940, Accuracy: 5512/10000 (55.12%)\n\
         EPOCH:  3 | Loss=1.4110 Batch_id=97 Accuracy=56.27: 100%|██████████| 98/98 | Test set: Average loss: 1.1878, Accuracy: 5929/10000 (59.29%)\n",
    );
    assert_eq!(values(&run.train_loss), vec![2.794, 1.7731, 1.411]);
    // The same evaluation on a line of its own is the validation loss.
    let run = load(
        "EPOCH: 1\nLoss=2.7940 Batch_id=97 Accuracy=32.20: 100%|██████████| 98/98\nTest set: Average loss: 2.1795, Accuracy: 3780/10000 (37.80%)\n\
         EPOCH: 2\nLoss=1.7731 Batch_id=97 Accuracy=48.31: 100%|██████████| 98/98\nTest set: Average loss: 1.1940, Accuracy: 5512/10000 (55.12%)\n\
         EPOCH: 3\nLoss=1.4110 Batch_id=97 Accuracy=56.27: 100%|██████████| 98/98\nTest set: Average loss: 1.1878, Accuracy: 5929/10000 (59.29%)\n",
    );
    assert_eq!(values(&run.train_loss), vec![2.794, 1.7731, 1.411]);
    assert_eq!(values(&run.val_loss), vec![2.1795, 1.194, 1.1878]);
}

#[test]
fn makemore_and_the_pytorch_nlp_tutorials_print_the_loss_after_a_counter() {
    // Karpathy's makemore: `{i:7d}/{max_steps:7d}: {loss:.4f}`.
    let run = load("      0/ 200000: 3.3239\n  10000/ 200000: 2.0322\n  20000/ 200000: 2.5675\n");
    assert_eq!(values(&run.train_loss), vec![3.3239, 2.0322, 2.5675]);
    assert_eq!(
        run.train_loss.iter().map(|p| p.step).collect::<Vec<_>>(),
        vec![0.0, 10000.0, 20000.0]
    );
    // "NLP From Scratch", translation: time spent and left, (iteration share%), mean loss.
    let run = load(
        "0m 42s (- 35m 0s) (1000 2%) 3.2168\n1m 28s (- 35m 14s) (2000 4%) 2.8085\n\
         2m 13s (- 34m 40s) (3000 6%) 2.6612\n",
    );
    assert_eq!(values(&run.train_loss), vec![3.2168, 2.8085, 2.6612]);
    // ... and the name classifier: iteration share% (time) loss name / guess mark.
    let run = load(
        "5000 5% (0m 8s) 2.1557 Chong / Chinese ✓\n10000 10% (0m 16s) 1.9012 Abl / Czech ✗ (Czech)\n\
         15000 15% (0m 24s) 1.7306 Xue / Chinese ✓\n",
    );
    assert_eq!(values(&run.train_loss), vec![2.1557, 1.9012, 1.7306]);
    assert_eq!(run.train_loss[2].step, 15000.0);
}

#[test]
fn a_negative_loglikelihood_spelled_out_is_the_loss() {
    // BERT-CRF NER: `Epoch:0-0/469, Negative loglikelihood: 9806.498046875`.
    let run = load(
        "step 1, Negative loglikelihood: 9806.49\nstep 2, Negative loglikelihood: 9804.94\n\
         step 3, Negative log likelihood: 9794.48\n",
    );
    assert_eq!(values(&run.train_loss), vec![9806.49, 9804.94, 9794.48]);
}
