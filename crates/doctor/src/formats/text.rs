//! Plain-text training logs: any line holding a step counter and a loss. Rather than one regex
//! per tool, each number on a line is paired with the words just before it (`iter 100: loss
//! 2.34`, `step 12/1000 | loss 5.1 | norm 1.2`, `Epoch [2/5], Step [10/500], Loss: 2.3`,
//! `100/21150 (epoch 0.236), train_loss = 2.1`, `s:0 trl:11.0`, `loss: 1.2 - val_loss: 1.4`)
//! and the words are classified like column names. A `--pattern` regex with named groups
//! `step`, `loss` and optionally `val` overrides the heuristics.

use super::pasted::{
    aligned_table, bare_numbers, key_value_blocks, named_lists, parse_with_pattern,
};
use super::series::{normalise, steps_per_epoch};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Point, Run};
use std::path::Path;

#[path = "text_consoles.rs"]
mod consoles;
#[path = "text_steps.rs"]
mod steps;
use steps::{Placement, StepTracker};
#[path = "text_line.rs"]
mod line;
#[path = "text_runs.rs"]
mod runs;
#[path = "text_tokens.rs"]
mod tokens;
use line::{is_object_repr, is_running_keras_bar, read_line, read_running_bar, LineValues};
pub(super) use runs::keep_last_fresh_run;
use runs::{
    drop_carried_validation, number_by_line, repeated_by_another_host, signed_objective_aside,
    OneProcess, Uncounted,
};

pub(super) fn split_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    // `\r` separates progress-bar updates (Keras, tqdm) within one physical line.
    text.split('\n')
        .enumerate()
        .flat_map(|(i, l)| l.split('\r').map(move |part| (i + 1, part)))
}

/// The name most points were read under (ties to the first in order), for the report.
fn most_used(keys: std::collections::HashMap<&str, usize>) -> Option<String> {
    keys.into_iter()
        .filter(|(k, _)| !k.is_empty())
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| k.to_string())
}

/// Three or more `key=value` numbers on a line with no loss: settings, not a record.
fn is_settings_line(line: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE
        .get_or_init(|| regex::Regex::new(r"[A-Za-z_]\w*\s*=\s*[-+]?[.\d]").expect("valid regex"));
    re.find_iter(line).count() >= 3
}

/// The Trainer's end-of-training summary printed as a dict (`{'train_runtime': 123.4, …,
/// 'train_loss': 1.934, 'epoch': 3.0}`): its loss is the mean over the run, not a point.
fn is_run_summary(line: &str) -> bool {
    line.contains("train_runtime") || line.contains("total_flos")
}

fn add_rival<'a>(rivals: &mut Vec<&'a str>, key: &'a str) {
    if !rivals.contains(&key) {
        rivals.push(key);
    }
}

/// Whether the step counter on the epoch lines stands still while the epoch moves on (TSLib's
/// `Epoch: 27, Steps: 625 | Train Loss: …`, DeepSpeech's `Steps: 18595`): it counts an epoch's
/// batches, not the run's steps. Judged on the first training lines with an epoch and a step
/// (an evaluation line's count is of the evaluation's batches).
fn counter_counts_epochs(text: &str) -> bool {
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for (_, line) in split_lines(text).take(5000) {
        if line.len() > 4096 {
            continue;
        }
        let v = read_line(line);
        if let (Some((s, None)), Some((e, _)), true) = (v.step, v.epoch, v.train.is_some()) {
            if pairs.first().is_some_and(|p| p.0 != s) {
                return false;
            }
            pairs.push((s, e));
            if pairs.len() >= 50 {
                break;
            }
        }
    }
    pairs.len() >= 2 && pairs.iter().any(|p| p.1 != pairs[0].1)
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
    let raw = String::from_utf8_lossy(bytes);
    if let Some(pattern) = &opts.pattern {
        return parse_with_pattern(&raw, pattern, path);
    }
    let text = super::table::unwrap_printed_scalars(&raw);
    if let Some(run) = named_lists(&text, path, opts) {
        return run;
    }
    // Column names mean something to a headerless table of numbers (`--loss-col 3`), and
    // nothing to a log: say so rather than ignore them.
    let named = [
        ("--step-col", &opts.step_col),
        ("--loss-col", &opts.loss_col),
        ("--val-col", &opts.val_col),
        ("--lr-col", &opts.lr_col),
        ("--grad-col", &opts.grad_col),
    ];
    if let Some((flag, _)) = named.iter().find(|(_, v)| v.is_some()) {
        return bare_numbers(&text, path, opts).unwrap_or_else(|| {
            Err(DoctorError::Usage(format!(
                "{}: {flag} names a column of a table (CSV, JSON lines, TensorBoard, or numbers \
                 with no header), but this file is read as a text log; use --pattern with named \
                 groups `step`, `loss` and `val` instead",
                path.display()
            )))
        });
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
    let mut val_keys: std::collections::HashMap<&str, usize> = Default::default();
    let mut previous_record: Option<(&str, &str)> = None;
    let mut last_train_rank: Option<(f64, u32, Option<&str>)> = None;
    // The other losses logged beside a loss that is itself a component, in order of appearance.
    let mut rival_keys: Vec<&str> = Vec::new();
    // The points placed by line count before the first counter appeared.
    let mut uncounted = Uncounted::default();
    // The step of the last training point when it came from a progress bar's postfix.
    let mut last_train_on_bar: Option<f64> = None;
    let mut last_train_line = 0usize;
    let one_process = OneProcess::of(&text, path, &mut run.warnings);
    // Keras bars of one epoch in progress (a paste of the first epoch, stopped or finished
    // once): their running means are the curve, since at most one finished bar reports an
    // epoch in full. (Several finished bars are the epochs' curve.)
    let running_bars_only = text.contains("ETA:") && {
        let running = split_lines(&text)
            .filter(|(_, l)| is_running_keras_bar(l))
            .take(2)
            .count();
        let finished = split_lines(&text)
            .filter(|(_, l)| l.contains("] - ") && l.contains("loss") && !is_running_keras_bar(l))
            .take(2)
            .count();
        running > finished && finished <= 1
    };
    let steps_count_epochs = counter_counts_epochs(&text);
    if running_bars_only {
        run.warnings.push(format!(
            "{}: Keras progress bars of one epoch in progress: each loss is the running mean of \
             its epoch so far, not one batch's",
            path.display()
        ));
    }
    for (line_no, line) in split_lines(&text) {
        if line.len() > 4096
            || is_object_repr(line)
            || is_run_summary(line)
            || one_process.skips(line)
        {
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
            None if running_bars_only && is_running_keras_bar(line) => read_running_bar(line),
            None => read_line(line),
        };
        let mut v = v;
        if let (true, Some(_), Some((s, None))) = (steps_count_epochs, v.epoch, v.step) {
            // The epoch's batch count, the same every epoch: the epoch's end, like a finished
            // bar. On an evaluation line it counts the evaluation's batches: no step.
            v.step = v.train.is_some().then_some((s, Some(s)));
        }
        // `lr=0.001, clip=5.0, iterations=10000` before the first loss is the configuration
        // printed at start-up: its counter is a total and its LR a setting, not a record.
        let nothing_read = run.train_loss.is_empty() && run.val_loss.is_empty();
        if nothing_read && v.train.is_none() && v.val.is_none() && is_settings_line(line) {
            continue;
        }
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
            // So does one named differently at the same rank, when neither is the plain loss
            // (pytorch-template's epoch block `loss_classifier`, then `attribute_loss`, with no
            // total): a sibling loss, not the next point.
            let sibling_of = last_train_rank
                .filter(|&(at, r, key)| {
                    at == step && r == v.train_rank && r > 0 && key != v.loss_key
                })
                .and_then(|(_, _, key)| key);
            let plainer_before = last_train_rank
                .is_some_and(|(at, r, _)| at == step && r < v.train_rank)
                || sibling_of.is_some();
            if let (Some(_), Some(rival)) = (sibling_of, v.loss_key) {
                add_rival(&mut rival_keys, rival);
            }
            let train = v.train.filter(|_| !restated && !plainer_before);
            if train.is_some() {
                last_train_rank = Some((step, v.train_rank, v.loss_key));
            }
            let announced = train.and(pending_lr.take());
            (train, v.lr.or(announced), v.grad)
        };
        if val.is_some() {
            val_beside_train.push(train.is_some());
            if let Some(key) = v.val_key {
                *val_keys.entry(key).or_default() += 1;
            }
        }
        train_lines += usize::from(train.is_some());
        if let (Some(_), Some(key)) = (train, v.loss_key) {
            *train_keys.entry(key).or_default() += 1;
            for rival in &v.rival_keys {
                add_rival(&mut rival_keys, rival);
            }
        }
        // A finished progress bar's `loss=` postfix (its last batch, or a running mean) yields
        // to the epoch's own summary line after it (`Epoch 1/50 - Train Loss: 0.9780, …`).
        let on_bar = line.contains("%|");
        let candidate = if summary { v.train } else { train };
        let train = match (candidate, last_train_on_bar) {
            (Some(value), Some(at)) if at == step && !on_bar => {
                if let Some(p) = run.train_loss.last_mut() {
                    p.value = value;
                }
                // The bar's value yields once, to its epoch's summary.
                last_train_on_bar = None;
                None
            }
            _ => train,
        };
        if train.is_some() {
            last_train_on_bar = on_bar.then_some(step);
        }
        if train.is_some() {
            last_train_line = line_no;
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
    // Which of several losses on a line was taken (`d_loss` or `g_loss`) is worth seeing.
    run.columns.train_loss = most_used(train_keys);
    run.columns.val_loss = most_used(val_keys);
    if let Some(taken) = run.columns.train_loss.as_deref() {
        rival_keys.retain(|k| *k != taken);
        if let Some(rival) = rival_keys.first() {
            let names: Vec<String> = std::iter::once(taken)
                .chain(rival_keys.iter().copied())
                .map(|k| format!("\"{k}\""))
                .collect();
            run.warnings.push(format!(
                "{}: the lines log several losses ({}) and no total; \"{taken}\" is judged. To \
                 judge another: --pattern '{rival}\\W+(?P<loss>[-0-9.eE+naif]+)' (a (?P<step>…) \
                 group gives the step)",
                path.display(),
                names.join(", ")
            ));
        }
    }
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
        return bare_numbers(&text, path, opts).unwrap_or_else(|| Err(no_points_error(path)));
    }
    keep_last_fresh_run(&mut run, &restarts, path);
    append_announced_non_finite(&mut run, &text, last_train_line, path);
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

/// A line after the last training loss that says the loss went non-finite (`Loss is nan,
/// stopping training`) is the run's last point: a NaN one logging interval on, so the paste
/// that ends on it is judged as what it is.
fn append_announced_non_finite(run: &mut Run, text: &str, last_train_line: usize, path: &Path) {
    let Some(last) = run.train_loss.last().copied() else {
        return;
    };
    let Some((line_no, _)) = split_lines(text)
        .filter(|(n, _)| *n > last_train_line)
        .find(|(_, l)| consoles::announces_non_finite_loss(l))
    else {
        return;
    };
    let step = last.step + crate::detect::stats::logging_interval(&run.train_loss);
    run.train_loss.push(Point {
        step,
        value: f64::NAN,
    });
    run.warnings.push(format!(
        "{}: line {line_no} says the loss went non-finite, with no step of its own: read as a NaN \
         loss at step {step} (one logging interval after the last)",
        path.display()
    ));
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
#[path = "text_tools4_tests.rs"]
mod tools4_tests;
#[cfg(test)]
#[path = "text_tools5_tests.rs"]
mod tools5_tests;
#[cfg(test)]
#[path = "text_tools6_tests.rs"]
mod tools6_tests;
#[cfg(test)]
#[path = "text_tools7_tests.rs"]
mod tools7_tests;
#[cfg(test)]
#[path = "text_tools8_tests.rs"]
mod tools8_tests;
#[cfg(test)]
#[path = "text_tools_tests.rs"]
mod tools_tests;
