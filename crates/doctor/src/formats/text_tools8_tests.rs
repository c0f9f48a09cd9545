//! Tests of the text reader from the thirtieth reader check (session 20): frameworks whose
//! lines the reader had refused, each fed as pasted in its issue thread.
use super::tests::{load, steps};

fn values(points: &[crate::Point]) -> Vec<f64> {
    points.iter().map(|p| p.value).collect()
}

#[test]
fn a_loss_glued_to_its_name_is_read_and_the_total_is_chosen() {
    // An OCR CRNN's console: `Totalloss:`, `CTCloss:`, `L2loss:` with no separator.
    let run = load(
        "[0/100][step:2050]  Totalloss:51.620 CTCloss: 51.392 L2loss: 0.228 lr: 0.000600 batchTime: 0.59 s\n\
         [0/100][step:2100]  Totalloss:51.156 CTCloss: 50.930 L2loss: 0.226 lr: 0.000600 batchTime: 0.59 s\n\
         [0/100][step:2150]  Totalloss:50.723 CTCloss: 50.500 L2loss: 0.223 lr: 0.000600 batchTime: 0.59 s\n",
    );
    assert_eq!(steps(&run.train_loss), vec![2050.0, 2100.0, 2150.0]);
    assert_eq!(values(&run.train_loss), vec![51.620, 51.156, 50.723]);
    assert_eq!(values(&run.lr), vec![0.0006; 3]);
}

#[test]
fn deeplearning4j_scores_are_read_as_the_loss() {
    let run = load(
        "[run-main-0] INFO org.deeplearning4j.optimize.listeners.ScoreIterationListener - Score at iteration 1 is 2.3248168004290615\n\
         [run-main-0] INFO org.deeplearning4j.optimize.listeners.ScoreIterationListener - Score at iteration 2 is 2.310877844708895\n\
         [run-main-0] INFO org.deeplearning4j.optimize.listeners.ScoreIterationListener - Score at iteration 3 is 2.281165104066008\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(
        values(&run.train_loss),
        vec![2.3248168004290615, 2.310877844708895, 2.281165104066008]
    );
}

#[test]
fn cntk_minibatch_lines_give_the_block_end_and_the_first_criterion() {
    let run = load(
        " Epoch[10 of 10]-Minibatch[ 391- 400, 12.60%]: ce = 3.97205811 * 2560; err = 0.88242188 * 2560; time = 0.4800s; samplesPerSecond = 5333.1\n \
         Epoch[10 of 10]-Minibatch[ 401- 410, 12.91%]: ce = 3.72626953 * 2560; err = 0.86679688 * 2560; time = 0.5127s; samplesPerSecond = 4993.3\n \
         Epoch[10 of 10]-Minibatch[ 411- 420, 13.23%]: ce = 3.97534180 * 2560; err = 0.89062500 * 2560; time = 0.5106s; samplesPerSecond = 5013.6\n",
    );
    assert_eq!(
        values(&run.train_loss),
        vec![3.97205811, 3.72626953, 3.9753418]
    );
    let s = steps(&run.train_loss);
    assert!(s[1] - s[0] == 10.0 && s[2] - s[1] == 10.0, "{s:?}");
}

#[test]
fn python_two_tuple_prints_are_read_by_their_quoted_names() {
    // `print('step:', i, 'loss:', loss)` under Python 2 prints a tuple.
    let run = load(
        "('epoch:', 0, 'step:', 100, 'loss:', 0.7110539674758911)\n\
         ('epoch:', 0, 'step:', 200, 'loss:', 0.20382478833198547)\n\
         ('epoch:', 0, 'step:', 300, 'loss:', 0.2277430146932602)\n",
    );
    assert_eq!(steps(&run.train_loss), vec![100.0, 200.0, 300.0]);
    assert_eq!(
        values(&run.train_loss),
        vec![0.7110539674758911, 0.20382478833198547, 0.2277430146932602]
    );
}

#[test]
fn abbreviated_split_losses_are_read_with_validation_before_test() {
    // `TrL` training loss, `VL` validation loss, `TeL` test loss (accuracies `TrA`, `VA`, `TeA`).
    let run = load(
        "Epoch 1: TrL=0.6311, TrA=0.8006, VL=0.2925, VA=0.9077, TeL=0.4005, TeA=0.8708,\n\
         Epoch 2: TrL=0.0443, TrA=0.9939, VL=0.2072, VA=0.9235, TeL=0.3610, TeA=0.8896,\n\
         Epoch 3: TrL=0.0156, TrA=0.9993, VL=0.2128, VA=0.9161, TeL=0.3231, TeA=0.8896,\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(values(&run.train_loss), vec![0.6311, 0.0443, 0.0156]);
    assert_eq!(values(&run.val_loss), vec![0.2925, 0.2072, 0.2128]);
}

#[test]
fn printed_numpy_and_tensorflow_scalars_are_read_as_their_numbers() {
    // NumPy 2 prints `np.float32(…)` inside a logged dict; TensorFlow eager prints its tensors.
    let run = load(
        "{'epoch': 1, 'loss': np.float32(2.5), 'val_loss': np.float64(2.7)}\n\
         {'epoch': 2, 'loss': np.float32(2.0306), 'val_loss': np.float64(2.2704)}\n\
         {'epoch': 3, 'loss': np.float32(1.7993), 'val_loss': np.float64(2.0516)}\n",
    );
    assert_eq!(steps(&run.train_loss), vec![1.0, 2.0, 3.0]);
    assert_eq!(values(&run.train_loss), vec![2.5, 2.0306, 1.7993]);
    assert_eq!(values(&run.val_loss), vec![2.7, 2.2704, 2.0516]);
    let run = load(
        "step 10 loss tf.Tensor(0.6925, shape=(), dtype=float32)\n\
         step 20 loss tf.Tensor(0.5122, shape=(), dtype=float32)\n\
         step 30 loss tf.Tensor(0.4410, shape=(), dtype=float32)\n",
    );
    assert_eq!(steps(&run.train_loss), vec![10.0, 20.0, 30.0]);
    assert_eq!(values(&run.train_loss), vec![0.6925, 0.5122, 0.4410]);
}

#[test]
fn a_day_first_or_month_first_slash_date_is_no_step_counter() {
    // A logger's `[13/12/22 10:23:42]` prefix had been read as step 13 of 12.
    for stamp in ["[13/12/22 10:23:42]", "[12/13/2022 10:23:42]"] {
        let text: String = (0..4)
            .map(|e| {
                format!(
                    "{stamp}[progress][INFO] -    Epoch {e}: Train_loss 0.{}   Memory 9.7%\n",
                    9 - e
                )
            })
            .collect();
        let run = load(&text);
        assert_eq!(steps(&run.train_loss), vec![0.0, 1.0, 2.0, 3.0], "{stamp}");
        assert_eq!(values(&run.train_loss), vec![0.9, 0.8, 0.7, 0.6]);
    }
}

#[test]
fn yolo_results_txt_rows_give_the_epoch_and_the_box_losses() {
    // YOLOv5's results.txt (an eraser detector): no header; epoch/total, memory, box, obj, cls,
    // total, labels, size, P, R, mAP.5, mAP.5:.95, then the validation box, obj and cls.
    let run = load(
        "      0/59     5.21G    0.1226   0.03017         0    0.1528        79       640  0.004307    0.2222  0.001327 0.0003379   0.08325    0.0219         0\n\
         \x20     1/59     5.21G    0.1224      0.03         0    0.1524        81       640  0.004527    0.2222  0.001629 0.0003708   0.08286   0.02182         0\n\
         \x20     2/59     5.21G    0.1278    0.0271         0    0.1549        66       640  0.004467    0.2222  0.001692 0.0003661    0.0824   0.02163         0\n",
    );
    assert_eq!(values(&run.train_loss), vec![0.1226, 0.1224, 0.1278]);
    assert_eq!(values(&run.val_loss), vec![0.08325, 0.08286, 0.0824]);
    assert_eq!(steps(&run.train_loss).len(), 3);
}

#[test]
fn spacy_training_tables_count_under_hash_and_judge_the_component_loss() {
    // `spacy train` (a custom NER): the step under `#`, the shared tok2vec's loss beside the
    // NER component's.
    let run = load(
        "E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  ENTS_P  ENTS_R  SCORE \n\
         ---  ------  ------------  --------  ------  ------  ------  ------\n\
         \x20 0       0          0.00     40.00    9.57    6.09   22.33    0.10\n\
         \x20 0     200         35.70   2163.45   83.16   83.79   82.53    0.83\n\
         \x20 0     400         11.09   1182.04   88.91   89.03   88.78    0.89\n",
    );
    assert_eq!(steps(&run.train_loss), vec![0.0, 200.0, 400.0]);
    assert_eq!(values(&run.train_loss), vec![40.0, 2163.45, 1182.04]);
}
