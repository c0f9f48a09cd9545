//! Plain-text training logs: any line holding a step counter and a loss. Rather than one regex
//! per tool, each number on a line is paired with the words just before it (`iter 100: loss
//! 2.34`, `step 12/1000 | loss 5.1 | norm 1.2`, `Epoch [2/5], Step [10/500], Loss: 2.3`,
//! `100/21150 (epoch 0.236), train_loss = 2.1`, `s:0 trl:11.0`, `loss: 1.2 - val_loss: 1.4`)
//! and the words are classified like column names. A `--pattern` regex with named groups
//! `step`, `loss` and optionally `val` overrides the heuristics.

use super::names::{classify, is_val_marker, Role};
use super::pasted::{aligned_table, bare_numbers, key_value_blocks, parse_with_pattern};
use super::series::{normalise, steps_per_epoch};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Point, Run};
use regex::Regex;
use std::path::Path;
use std::sync::OnceLock;

#[path = "text_consoles.rs"]
mod consoles;
#[path = "text_steps.rs"]
mod steps;
use steps::{Placement, StepTracker};
#[path = "text_tokens.rs"]
mod tokens;
use tokens::{tokens, Token};
#[path = "text_runs.rs"]
mod runs;
use runs::{
    drop_carried_validation, keep_last_fresh_run, number_by_line, repeated_by_another_host,
    signed_objective_aside, Uncounted,
};

/// What one line says.
#[derive(Debug, Default)]
struct LineValues<'a> {
    step: Option<(f64, Option<f64>)>,
    epoch: Option<(f64, Option<f64>)>,
    train: Option<f64>,
    val: Option<f64>,
    lr: Option<f64>,
    grad: Option<f64>,
    /// The loss is ln of a perplexity, the line naming no loss itself.
    from_perplexity: bool,
    /// The name the training loss was read under, for the report.
    loss_key: Option<&'a str>,
    /// How plainly that name says "the loss" (lower is plainer; see `names::classify`).
    train_rank: u32,
    /// Another loss on the line named as plainly, which was not taken.
    rival_key: Option<&'a str>,
}

/// Whether `t` can be one of the unnamed counters a line starts with (PyTorch's tutorial
/// prints `[1,    50] loss: 2.600`: epoch and batch): a whole number, no unit or total, and not
/// part of a date or a time (`2024-01-01`, `12:00:01`).
fn leading_counter(t: &Token) -> bool {
    let nameless = t.key.chars().all(|c| !c.is_alphanumeric());
    nameless
        && t.total.is_none()
        && !t.has_unit
        && t.value >= 0.0
        && t.value.fract() == 0.0
        && !matches!(t.next, Some(':' | '-' | '/' | '.'))
}

/// A bare split name before a number (`250 val 3.51`, `1 train 10.91`, as build-nanogpt's
/// `log.txt` writes): that split's loss, ranked below any name that says `loss`.
/// Likewise an epoch counter with a phase's name before it (`Fine-Tune Epoch 2 | Train Loss`),
/// but not a setting (`max epoch`, `steps per epoch`).
/// `ppl`, `perplexity`, `valid ppl`, `Validation perplexity`: a perplexity, whatever split.
fn is_perplexity(key: &str) -> bool {
    key.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|w| !w.is_empty())
        .is_some_and(|w| w == "ppl" || w == "perplexity")
}

/// The rank of a split's bare name (`Train: 0.3`): a loss only when nothing is named as one.
const BARE_NAME: u32 = 1000;

fn text_only_name(key: &str) -> Option<(Role, u32)> {
    const BARE: u32 = BARE_NAME;
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        ["train" | "training"] => Some((Role::TrainLoss, BARE)),
        // OpenNMT's cross-entropy (`xent: 2.31`), beside its accuracy and perplexity.
        ["xent"] => Some((Role::TrainLoss, 500)),
        ["val" | "valid" | "validation" | "eval"] => Some((Role::ValLoss, BARE)),
        [first @ .., "epoch"]
            if !first.is_empty()
                && !first
                    .iter()
                    // `Learning Rate for this epoch: 0.001` is a rate, not an epoch.
                    .any(|w| {
                        matches!(
                            *w,
                            "per"
                                | "max"
                                | "num"
                                | "total"
                                | "steps"
                                | "n"
                                | "for"
                                | "this"
                                | "each"
                                | "every"
                        )
                    }) =>
        {
            Some((Role::Epoch, 5))
        }
        _ => None,
    }
}

/// A printed object rather than a log line: argparse's `Namespace(lr=0.1, epochs=6, …)` or a
/// dataclass repr, whose `…_loss_…=1.0` and `epochs=6` would otherwise read as a point.
fn is_object_repr(line: &str) -> bool {
    let t = line.trim_start();
    let head = t.split('(').next().unwrap_or("");
    t.len() > head.len()
        && !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && t.matches('=').count() >= 5
}

/// Python `logging`'s default prefix (`INFO:tensorflow:`, `INFO:root:`, `WARNING:absl:`):
/// `tensorflow:global step` is no name a counter is known by, so it goes before reading.
fn logging_prefix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):[\w.\-]*:")
            .expect("valid regex")
    })
}

/// `… at iteration` / `at step` / `at epoch`: the counter of the line, whatever came before.
fn counter_after_at(key: &str) -> Option<Role> {
    // Called for every number of every line: no allocation.
    let mut words = key.split_whitespace().rev();
    let (last, before) = (words.next()?, words.next()?);
    if !before.eq_ignore_ascii_case("at") {
        return None;
    }
    let is = |w: &str| last.eq_ignore_ascii_case(w);
    if is("iteration") || is("iter") || is("step") {
        Some(Role::Step)
    } else if is("epoch") {
        Some(Role::Epoch)
    } else {
        None
    }
}

/// Old Keras callbacks' messages (`Epoch 00008: early stopping`, `Epoch 00005: val_loss
/// improved …`): the zero-padded number is no epoch header (EarlyStopping's is even one
/// behind the `Epoch 9/10` above it); the `Epoch N/T` headers place the results.
fn keras_callback_message() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\s*Epoch 0\d{4}: ").expect("valid regex"))
}

fn read_line(line: &str) -> LineValues<'_> {
    // (Cheap tests first: these run on every line.)
    let start = line.trim_start();
    // Weights & Biases' closing blocks (`wandb: Run summary:` then `wandb:  train/box_loss
    // 0.03868`, one final value per line) are a snapshot of several metrics, not a curve.
    if start.starts_with("wandb:") {
        return LineValues::default();
    }
    if line.contains("ETA:") && keras_bar_in_progress().is_match(line) {
        // A running mean the finished bar reports in full; but a mean gone NaN part-way is the
        // news, whether or not the epoch finishes.
        let values = read_step_and_loss(line);
        return if values.train.is_some_and(|l| !l.is_finite()) {
            values
        } else {
            LineValues::default()
        };
    }
    read_step_and_loss(line)
}

/// A line's values once the lines that say nothing (bars in progress, W&B summaries) are out.
fn read_step_and_loss(line: &str) -> LineValues<'_> {
    // A callback's message says nothing of the epoch; only a learning rate it sets counts.
    let start = line.trim_start();
    if let Some(m) = start
        .starts_with("Epoch 0")
        .then(|| keras_callback_message().find(line))
        .flatten()
    {
        return LineValues {
            lr: read_line(&line[m.end()..]).lr,
            ..LineValues::default()
        };
    }
    if let Some(v) = consoles::known_line(line, read_line) {
        return v;
    }
    let logged = start.starts_with(['D', 'I', 'W', 'E', 'C']) && start.contains(':');
    let line = match logged.then(|| logging_prefix().find(line)).flatten() {
        Some(m) => &line[m.end()..],
        None => line,
    };
    let mut out = LineValues::default();
    let mut ranks = [u32::MAX; 6];
    let mut bare_counter = None;
    let tokens = tokens(line);
    let leading: Vec<f64> = tokens
        .iter()
        .take(2)
        .take_while(|t| leading_counter(t))
        .map(|t| t.value)
        .collect();
    let mut perplexity = None;
    // `validation loss at iteration 125 | lm loss value: 2.41` (Megatron), `Validation loss
    // at iteration 200: 3.1`: the number after `at iteration` is the counter, and a loss
    // named before it comes next, with no name of its own.
    let mut loss_named_before_counter = false;
    for (i, t) in tokens.into_iter().enumerate() {
        let at_counter = counter_after_at(t.key);
        let named = match at_counter {
            Some(role) => {
                loss_named_before_counter = t.key.to_ascii_lowercase().contains("loss");
                Some((role, 0))
            }
            None if t.key.is_empty() && std::mem::take(&mut loss_named_before_counter) => {
                Some((Role::TrainLoss, 0))
            }
            None => classify(t.key).or_else(|| text_only_name(t.key)),
        };
        let Some((role, rank)) = named else {
            if is_perplexity(t.key) && t.value >= 1.0 && t.value.is_finite() {
                perplexity = perplexity.or(Some(t.value));
            }
            // An unnamed `S/T` counter (`   200/ 2983 batches` in PyTorch's word-language-model
            // example, or a line that starts with one) is the step.
            let unnamed =
                t.key.is_empty() || (i > 0 && t.key.chars().all(|c| !c.is_alphanumeric()));
            if unnamed && bare_counter.is_none() && t.total.is_some() && !t.has_unit {
                bare_counter = Some((t.value, t.total));
            }
            continue;
        };
        if t.has_unit {
            continue;
        }
        let slot = role as usize;
        if rank >= ranks[slot] {
            // A second loss as plainly named as the first (a GAN's `d_loss` then `g_loss`;
            // `loss` beside `mean loss` are one loss's statistics, rank 0).
            if role == Role::TrainLoss
                && rank == ranks[slot]
                && rank > 0
                && out.loss_key != Some(t.key)
            {
                out.rival_key = out.rival_key.or(Some(t.key));
            }
            continue;
        }
        ranks[slot] = rank;
        match role {
            Role::Step => out.step = Some((t.value, t.total)),
            Role::Epoch => out.epoch = Some((t.value, t.total)),
            Role::TrainLoss => {
                out.train = Some(t.value);
                out.loss_key = Some(t.key);
                out.train_rank = rank;
            }
            Role::ValLoss => out.val = Some(t.value),
            Role::Lr => out.lr = Some(t.value),
            Role::GradNorm => out.grad = Some(t.value),
        }
    }
    // A bare split name (`Train: 0.30, Val: 0.20`) beside a loss named as one (PyTorch
    // Geometric's `Epoch: 001, Loss: 1.9, Train: 0.3, Val: 0.2, Test: 0.2`) is an accuracy.
    let (train_rank, val_rank) = (
        ranks[Role::TrainLoss as usize],
        ranks[Role::ValLoss as usize],
    );
    // (Its `Val`, `Test` keys then make no evaluation line of it, below.) A loss named with
    // its split (litgpt's `loss train: 2.85, val: 2.86`) makes the bare `val` its counterpart.
    let split_named = out.loss_key.is_some_and(|k| {
        k.split(|c: char| !c.is_alphanumeric())
            .any(|w| matches!(w.to_ascii_lowercase().as_str(), "train" | "training"))
    });
    let accuracies_beside = train_rank < BARE_NAME && val_rank == BARE_NAME && !split_named;
    if accuracies_beside {
        out.val = None;
    }
    if val_rank < BARE_NAME && train_rank == BARE_NAME {
        out.train = None;
        out.loss_key = None;
    }
    if out.step.is_none() {
        out.step = bare_counter;
    }
    // Unnamed counters at the start of a line that names a loss: `[epoch, batch]` or `step`.
    if out.step.is_none() && (out.train.is_some() || out.val.is_some()) {
        match leading[..] {
            [epoch, step] => {
                out.epoch = out.epoch.or(Some((epoch, None)));
                out.step = Some((step, None));
            }
            [step] => out.step = Some((step, None)),
            _ => {}
        }
    }
    // A line that gives only a perplexity (`Validation perplexity: 1604.68`) gives its loss:
    // perplexity is e to the cross-entropy in nats.
    if out.train.is_none() && out.val.is_none() {
        out.train = perplexity.map(f64::ln);
        out.from_perplexity = out.train.is_some();
    }
    // A loss on an evaluation line (`| valid on 'valid' subset | loss 7.1`, `[eval] loss 2.1`)
    // is a validation loss even when its own name does not say so.
    if out.val.is_none() && out.train.is_some() && !accuracies_beside {
        let eval_line = line
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| is_val_marker(&w.to_lowercase()));
        if eval_line {
            out.val = out.train.take();
            // An `S/T` counter there counts the evaluation's own batches (`valid: 100%|██|
            // 39/39`), not training steps: the result belongs to the last training step.
            if matches!(out.step, Some((_, Some(_)))) {
                out.step = None;
            }
        }
    }
    out
}

/// A Keras progress bar still running (`59840/60000 [=====>.] - ETA: 0s - loss: 0.0065`):
/// a running mean part-way through an epoch, which its finished bar reports in full.
fn keras_bar_in_progress() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[[=>.]*\] - ETA:").expect("valid regex"))
}

pub(super) fn split_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    // `\r` separates progress-bar updates (Keras, tqdm) within one physical line.
    text.split('\n')
        .enumerate()
        .flat_map(|(i, l)| l.split('\r').map(move |part| (i + 1, part)))
}

fn no_points_error(path: &Path) -> DoctorError {
    DoctorError::parse(
        path,
        Location::Whole,
        "expected lines with a step counter and a loss (like `step 10 loss 2.3`, \
         `iter 10: loss 2.3`, or a CSV/JSON/TensorBoard file); use --pattern REGEX",
    )
}

pub(crate) fn parse(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    if let Some(pattern) = &opts.pattern {
        return parse_with_pattern(&text, pattern, path);
    }
    let mut run = Run::default();
    let mut tracker = StepTracker::default();
    // Where a counter started again: the index of the next training point, the line, and
    // the offset the stitcher then added to that counter.
    let mut restarts: Vec<(usize, usize, f64)> = Vec::new();
    let mut last_epoch: Option<f64> = None;
    let mut yolo: Option<consoles::YoloHeader> = None;
    // Each point's training-line number (train, val, lr, grad): the x-axis of a log whose
    // rounded epochs repeat (see `numbered_by_line`).
    let mut line_numbers: [Vec<f64>; 4] = Default::default();
    let mut train_lines = 0usize;
    // For each validation point, whether its line also gave a training loss.
    let mut val_beside_train: Vec<bool> = Vec::new();
    let mut pending_lr: Option<f64> = None;
    // How often each name gave a training point: the report names the commonest.
    let mut train_keys: std::collections::HashMap<&str, usize> = Default::default();
    let mut previous_record: Option<(&str, &str)> = None;
    let mut last_train_rank: Option<(f64, u32)> = None;
    // Losses named as plainly as the one taken, each with the one taken beside it.
    let mut rival_keys: std::collections::BTreeMap<&str, &str> = Default::default();
    // The points placed by line count before the first counter appeared.
    let mut uncounted = Uncounted::default();
    for (line_no, line) in split_lines(&text) {
        if line.len() > 4096 || is_object_repr(line) {
            continue;
        }
        if repeated_by_another_host(line, &mut previous_record) {
            continue;
        }
        if let Some(header) = consoles::yolo_header(line) {
            yolo = Some(header);
            continue;
        }
        let v = match yolo.as_ref().and_then(|h| h.row(line)) {
            Some(v) => v,
            None => read_line(line),
        };
        let before = (tracker.stitcher.restarts, tracker.epoch_stitcher.restarts);
        let counted_before = tracker.seen_counter;
        let placed = tracker.place(&v);
        if !counted_before && tracker.seen_counter {
            uncounted = Uncounted {
                line: line_no,
                lens: [&run.train_loss, &run.val_loss, &run.lr, &run.grad_norm].map(Vec::len),
            };
        }
        // A step counter that starts again under a higher epoch (`Epoch 2, Step 0`) is the
        // next epoch, whatever its loss: not a run pasted after another.
        let next_epoch = v
            .epoch
            .is_some_and(|(e, _)| last_epoch.is_some_and(|last| e > last));
        if let Some((e, _)) = v.epoch {
            last_epoch = Some(e);
        }
        if tracker.stitcher.restarts > before.0 && !next_epoch {
            restarts.push((run.train_loss.len(), line_no, tracker.stitcher.offset()));
        } else if tracker.epoch_stitcher.restarts > before.1 {
            restarts.push((
                run.train_loss.len(),
                line_no,
                tracker.epoch_stitcher.offset(),
            ));
        }
        let (step, summary) = match placed {
            Some(Placement::Point(s)) => (s, false),
            Some(Placement::EpochSummary(s)) => (s, true),
            // A learning rate announced on a line of its own (Keras' LearningRateScheduler,
            // at the start of an epoch) belongs to the next line with a loss; before any
            // loss, it is a setting printed with the configuration.
            None => {
                if v.train.is_none() && v.val.is_none() && !run.train_loss.is_empty() {
                    pending_lr = v.lr.or(pending_lr);
                }
                continue;
            }
        };
        // A line with no counter of its own that evaluates again at a step already evaluated
        // (`| End of training | test loss 4.96` after the last epoch's `valid loss 5.03`) is a
        // final test, not a later validation point: the validation stays.
        let own_counter = v.step.is_some() || v.epoch.is_some();
        let again = run.val_loss.last().is_some_and(|p| p.step == step);
        let val = v.val.filter(|_| own_counter || !again);
        // A perplexity on a line of its own after the step's logged loss (Composer prints
        // `loss/train/total` and `Perplexity` on lines of their own) restates it at best.
        let restated = v.from_perplexity && run.train_loss.last().is_some_and(|p| p.step == step);
        let (train, lr, grad) = if summary {
            (None, None, None)
        } else {
            // Two lines with a training loss at one step (an epoch's `Mean Training loss : nan`,
            // then `mean center loss : 2638.2` on the next): the plainer name is the loss.
            let plainer_before =
                last_train_rank.is_some_and(|(at, r)| at == step && r < v.train_rank);
            let train = v.train.filter(|_| !restated && !plainer_before);
            if train.is_some() {
                last_train_rank = Some((step, v.train_rank));
            }
            let announced = train.and(pending_lr.take());
            (train, v.lr.or(announced), v.grad)
        };
        if val.is_some() {
            val_beside_train.push(train.is_some());
        }
        train_lines += usize::from(train.is_some());
        if let (Some(_), Some(key)) = (train, v.loss_key) {
            *train_keys.entry(key).or_default() += 1;
            if let Some(rival) = v.rival_key {
                rival_keys.entry(rival).or_insert(key);
            }
        }
        for ((value, series), numbers) in [
            (train, &mut run.train_loss),
            (val, &mut run.val_loss),
            (lr, &mut run.lr),
            (grad, &mut run.grad_norm),
        ]
        .into_iter()
        .zip(&mut line_numbers)
        {
            if let Some(value) = value {
                series.push(Point { step, value });
                numbers.push(train_lines as f64);
            }
        }
    }
    uncounted.drop_from(
        &mut run,
        &mut line_numbers,
        &mut val_beside_train,
        &mut restarts,
        path,
    );
    let step_level = tracker.seen_step && tracker.epoch_level_bars().is_none();
    drop_carried_validation(
        &mut run,
        &val_beside_train,
        &mut line_numbers[1],
        step_level,
    );
    if let Some((rival, taken)) = rival_keys.iter().next() {
        run.warnings.push(format!(
            "{}: the lines log several losses (\"{taken}\", \"{rival}\"); the first, \"{taken}\", \
             is judged. To judge another: --pattern '{rival}\\W+(?P<loss>[-0-9.eE+naif]+)' (a \
             (?P<step>…) group gives the step)",
            path.display()
        ));
    }
    // Which of several losses on a line was taken (`d_loss` or `g_loss`) is worth seeing.
    run.columns.train_loss = train_keys
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.to_string());
    let line_steps_per_epoch = tracker
        .numbered_by_line()
        .then(|| number_by_line(&mut run, &line_numbers, path))
        .flatten();
    // A table under a header (a model card's results, a notebook's Trainer table) is the
    // curve when it holds more rows than the lines gave points (a card's `- Loss: 0.45`).
    if let Some(table) = aligned_table(&text).filter(|t| t.rows.len() > run.train_loss.len()) {
        return table.into_run(path, opts);
    }
    if run.train_loss.is_empty() && run.val_loss.is_empty() {
        if let Some(table) = key_value_blocks(&text) {
            return signed_objective_aside(table, path, opts);
        }
        if text.contains("wandb: Run summary") || text.contains("wandb: Run history") {
            return Err(DoctorError::parse(
                path,
                Location::Whole,
                "a Weights & Biases run summary holds one final value per metric, not a curve; \
                 download the run's history instead (the chart's CSV export, or \
                 `wandb.Api().run(PATH).history().to_csv(...)`)",
            ));
        }
        return bare_numbers(&text, path).ok_or_else(|| no_points_error(path));
    }
    keep_last_fresh_run(&mut run, &restarts, path);
    if let Some(per_epoch) = tracker.epoch_level_bars() {
        for series in [
            &mut run.train_loss,
            &mut run.val_loss,
            &mut run.lr,
            &mut run.grad_norm,
        ] {
            series.iter_mut().for_each(|p| p.step /= per_epoch);
        }
        run.steps_per_epoch = None;
        normalise(&mut run);
        return Ok(run);
    }
    run.steps_per_epoch = tracker
        .per_epoch_total
        .or(line_steps_per_epoch)
        .or_else(|| steps_per_epoch(&tracker.epoch_pairs));
    normalise(&mut run);
    Ok(run)
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "text_tools2_tests.rs"]
mod tools2_tests;
#[cfg(test)]
#[path = "text_tools3_tests.rs"]
mod tools3_tests;
#[cfg(test)]
#[path = "text_tools_tests.rs"]
mod tools_tests;
