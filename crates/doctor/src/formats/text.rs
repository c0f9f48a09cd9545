//! Plain-text training logs: any line holding a step counter and a loss. Rather than one regex
//! per tool, each number on a line is paired with the words just before it (`iter 100: loss
//! 2.34`, `step 12/1000 | loss 5.1 | norm 1.2`, `Epoch [2/5], Step [10/500], Loss: 2.3`,
//! `100/21150 (epoch 0.236), train_loss = 2.1`, `s:0 trl:11.0`, `loss: 1.2 - val_loss: 1.4`)
//! and the words are classified like column names. A `--pattern` regex with named groups
//! `step`, `loss` and optionally `val` overrides the heuristics.

use super::names::{classify, is_val_marker, Role};
use super::series::{normalise, steps_per_epoch, StepStitcher};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Point, Run};
use regex::Regex;
use std::path::Path;
use std::sync::OnceLock;

fn number_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)([-+]?nan|[-+]?inf(?:inity)?|[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(?:[ \t]*/[ \t]*(\d+))?([a-zµ%]*)",
        )
        .expect("valid regex")
    })
}

/// A number on a line with the name written before it.
#[derive(Debug)]
struct Token<'a> {
    key: &'a str,
    value: f64,
    total: Option<f64>,
    /// Followed by a unit (`ms`, `M`, `%`): a time or a count, never a loss.
    has_unit: bool,
    /// The character right after the number (and its unit), if any.
    next: Option<char>,
}

/// The name a number carries: the last few words of the text since the previous number,
/// cut at separators (`,`, `|`, brackets, ` - `) and stripped of `:`/`=`/quotes.
fn key_of(segment: &str) -> &str {
    const TRAILING: &[char] = &[':', '=', '[', '(', '\'', '"', '{'];
    let s = segment.trim_end_matches(|c: char| c.is_whitespace() || TRAILING.contains(&c));
    let cut = s
        .rfind([',', ';', '|', '(', ')', '[', ']', '{', '}', '\t', '>'])
        .map(|i| i + 1)
        .unwrap_or(0);
    let cut = match s[cut..].rfind(" - ") {
        Some(i) => cut + i + 3,
        None => cut,
    };
    let s = s[cut..].trim_start_matches(|c: char| !c.is_alphanumeric() && c != '_');
    // At most the last three words: "the validation loss is" is still about a loss.
    let start = s
        .rmatch_indices(' ')
        .nth(2)
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    &s[start..]
}

fn tokens(line: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut prev_end = 0;
    for m in number_regex().captures_iter(line) {
        let whole = m.get(0).expect("group 0");
        let start = whole.start();
        // A digit glued to a word (`gpt2`, `lr1e-3`, `v_0`) is part of a name.
        let glued = line[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if glued {
            continue;
        }
        let Ok(value) = m[1].parse::<f64>().or_else(|_| {
            let t = m[1].to_ascii_lowercase();
            let t = t.trim_start_matches('+');
            match t {
                "nan" | "-nan" => Ok(f64::NAN),
                "inf" | "infinity" => Ok(f64::INFINITY),
                "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(()),
            }
        }) else {
            continue;
        };
        out.push(Token {
            key: key_of(&line[prev_end..start]),
            value,
            total: m.get(2).and_then(|t| t.as_str().parse().ok()),
            has_unit: !m[3].is_empty(),
            next: line[whole.end()..].chars().next(),
        });
        prev_end = whole.end();
    }
    out
}

/// What one line says.
#[derive(Debug, Default)]
struct LineValues {
    step: Option<(f64, Option<f64>)>,
    epoch: Option<(f64, Option<f64>)>,
    train: Option<f64>,
    val: Option<f64>,
    lr: Option<f64>,
    grad: Option<f64>,
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
fn split_name(key: &str) -> Option<(Role, u32)> {
    const BARE: u32 = 1000;
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        ["train" | "training"] => Some((Role::TrainLoss, BARE)),
        ["val" | "valid" | "validation" | "eval"] => Some((Role::ValLoss, BARE)),
        [first @ .., "epoch"]
            if !first.is_empty()
                && !first
                    .iter()
                    .any(|w| matches!(*w, "per" | "max" | "num" | "total" | "steps" | "n")) =>
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

fn read_line(line: &str) -> LineValues {
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
    for (i, t) in tokens.into_iter().enumerate() {
        let Some((role, rank)) = classify(t.key).or_else(|| split_name(t.key)) else {
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
            continue;
        }
        ranks[slot] = rank;
        match role {
            Role::Step => out.step = Some((t.value, t.total)),
            Role::Epoch => out.epoch = Some((t.value, t.total)),
            Role::TrainLoss => out.train = Some(t.value),
            Role::ValLoss => out.val = Some(t.value),
            Role::Lr => out.lr = Some(t.value),
            Role::GradNorm => out.grad = Some(t.value),
        }
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
    // A loss on an evaluation line (`| valid on 'valid' subset | loss 7.1`, `[eval] loss 2.1`)
    // is a validation loss even when its own name does not say so.
    if out.val.is_none() && out.train.is_some() {
        let eval_line = line
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| is_val_marker(&w.to_lowercase()));
        if eval_line {
            out.val = out.train.take();
        }
    }
    out
}

/// Turns each line's counters into a global step: a per-epoch counter `S/T` under an epoch
/// `E/N` becomes `(E - base)·T + S`; counters that restart are stitched; a line with a loss and
/// no counter belongs to the last step seen (llm.c prints `val loss` on its own line).
#[derive(Default)]
struct StepTracker {
    stitcher: StepStitcher,
    epoch: Option<(f64, Option<f64>)>,
    epoch_base: f64,
    last_step: Option<f64>,
    lines_with_loss: usize,
    /// The per-epoch total of a counter combined with its epoch, when one was.
    per_epoch_total: Option<f64>,
    /// (global step, epoch) where a line logs both.
    epoch_pairs: Vec<(f64, f64)>,
    /// Whether any line so far carried a step or epoch counter.
    seen_counter: bool,
    /// Whether any line with a loss so far carried a step counter (not only an epoch).
    seen_step: bool,
    /// Epoch numbers used as steps (an epoch-level log), stitched across restarts.
    epoch_stitcher: StepStitcher,
}

/// Where a line's values go.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placement {
    /// A point of the curves at this step.
    Point(f64),
    /// An end-of-epoch summary in a log that counts steps (`Epoch 1/2 | train_loss: 0.19 |
    /// test_loss: 0.28`): its evaluation belongs at the epoch's end; its training value is an
    /// epoch mean beside the per-step curve, not a point of it.
    EpochSummary(f64),
}

impl StepTracker {
    fn place(&mut self, v: &LineValues) -> Option<Placement> {
        let summary = v.step.is_none()
            && v.epoch.is_some()
            && self.seen_step
            && (v.train.is_some() || v.val.is_some());
        if !summary {
            return self.step_for(v).map(Placement::Point);
        }
        let (e, _) = v.epoch?;
        let end = match self.per_epoch_total {
            Some(total) if e.fract() == 0.0 && e >= self.epoch_base => {
                self.stitcher.global((e - self.epoch_base + 1.0) * total)
            }
            _ => self.last_step?,
        };
        self.last_step = Some(end);
        Some(Placement::EpochSummary(end))
    }

    fn step_for(&mut self, v: &LineValues) -> Option<f64> {
        if let Some(epoch) = v.epoch {
            if self.epoch.is_none() {
                self.epoch_base = if epoch.0 >= 1.0 { 1.0 } else { 0.0 };
            }
            self.epoch_base = self.epoch_base.min(epoch.0.max(0.0));
            self.epoch = Some(epoch);
        }
        let raw = match (v.step, self.epoch) {
            (Some((s, Some(per_epoch))), Some((e, _)))
                if e.fract() == 0.0 && s <= per_epoch && e >= self.epoch_base =>
            {
                self.per_epoch_total = Some(per_epoch);
                Some((e - self.epoch_base) * per_epoch + s)
            }
            (Some((s, _)), _) => Some(s),
            (None, _) => None,
        };
        let has_loss = v.train.is_some() || v.val.is_some();
        self.seen_counter |= raw.is_some() || v.epoch.is_some();
        // A step counter on a line with a loss: the log has a per-step curve (a progress bar's
        // `16869/16869` beside an epoch says nothing about that).
        self.seen_step |= raw.is_some() && has_loss;
        let step = match raw {
            Some(s) if s.is_finite() => Some(self.stitcher.global(s)),
            Some(_) => None,
            None if !has_loss => None,
            // An epoch-level log (Keras `Epoch 3/10 … loss: 1.2`): the epoch is the step.
            None => match (v.epoch, self.last_step) {
                // A second phase that counts its epochs from 1 again continues the first.
                (Some((e, _)), _) => Some(self.epoch_stitcher.global(e)),
                // No counter anywhere yet (`print(f"loss: {loss}")`, timestamped lines): the
                // n-th line with a loss is step n.
                _ if !self.seen_counter => Some(self.lines_with_loss as f64),
                (None, Some(last)) => Some(last),
                (None, None) => Some(self.lines_with_loss as f64),
            },
        };
        if has_loss {
            self.lines_with_loss += 1;
        }
        if let Some(s) = step {
            self.last_step = Some(s);
            if let (Some((e, _)), true) = (v.epoch, raw.is_some()) {
                self.epoch_pairs.push((s, e));
            }
        }
        step
    }
}

fn split_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
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
    for (_, line) in split_lines(&text) {
        if line.len() > 4096 || is_object_repr(line) {
            continue;
        }
        let v = read_line(line);
        let (step, summary) = match tracker.place(&v) {
            Some(Placement::Point(s)) => (s, false),
            Some(Placement::EpochSummary(s)) => (s, true),
            None => continue,
        };
        // A line with no counter of its own that evaluates again at a step already evaluated
        // (`| End of training | test loss 4.96` after the last epoch's `valid loss 5.03`) is a
        // final test, not a later validation point: the validation stays.
        let own_counter = v.step.is_some() || v.epoch.is_some();
        let again = run.val_loss.last().is_some_and(|p| p.step == step);
        let val = v.val.filter(|_| own_counter || !again);
        let (train, lr, grad) = if summary {
            (None, None, None)
        } else {
            (v.train, v.lr, v.grad)
        };
        for (value, series) in [
            (train, &mut run.train_loss),
            (val, &mut run.val_loss),
            (lr, &mut run.lr),
            (grad, &mut run.grad_norm),
        ] {
            if let Some(value) = value {
                series.push(Point { step, value });
            }
        }
    }
    if run.train_loss.is_empty() && run.val_loss.is_empty() {
        return bare_numbers(&text).ok_or_else(|| no_points_error(path));
    }
    run.steps_per_epoch = tracker
        .per_epoch_total
        .or_else(|| steps_per_epoch(&tracker.epoch_pairs));
    normalise(&mut run);
    Ok(run)
}

/// Numbers with no names, as people paste them: one loss per line, `step loss` pairs (a
/// headerless two-column table, any of tab, comma, semicolon or spaces between), or a single
/// line of losses (`0.66, 0.80, 4.27`). Every non-empty line must be numbers only, else this
/// is not such a paste.
fn bare_numbers(text: &str) -> Option<Run> {
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|c| !c.is_empty())
                .map(super::table::parse_number)
                .collect::<Option<Vec<f64>>>()
        })
        .collect::<Option<_>>()?;
    let widths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let mut run = Run::default();
    let points: Vec<Point> = match widths.as_slice() {
        [] => return None,
        // One line of losses.
        [w] if *w >= 2 => rows[0]
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                step: i as f64,
                value,
            })
            .collect(),
        _ if widths.iter().all(|&w| w == 1) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| Point {
                step: i as f64,
                value: r[0],
            })
            .collect(),
        // `step loss` (a third column, when present, is read as validation loss).
        _ if widths.iter().all(|&w| w == 2 || w == 3) => {
            let mut stitcher = StepStitcher::default();
            let mut out = Vec::new();
            for r in &rows {
                let step = stitcher.global(r[0]);
                out.push(Point { step, value: r[1] });
                if let Some(&value) = r.get(2) {
                    run.val_loss.push(Point { step, value });
                }
            }
            out
        }
        _ => return None,
    };
    run.train_loss = points;
    normalise(&mut run);
    Some(run)
}

/// `--pattern`: a regex with named groups `step` and `loss` (and optionally `val`).
fn parse_with_pattern(text: &str, pattern: &str, path: &Path) -> Result<Run, DoctorError> {
    let re = Regex::new(pattern)
        .map_err(|e| DoctorError::Usage(format!("--pattern is not a valid regex: {e}")))?;
    let names: Vec<&str> = re.capture_names().flatten().collect();
    if !names.contains(&"loss") && !names.contains(&"val") {
        return Err(DoctorError::Usage(
            "--pattern needs a named group `loss` (or `val`), like `step (?P<step>\\d+) loss (?P<loss>[\\d.]+)`"
                .into(),
        ));
    }
    let mut run = Run::default();
    let mut stitcher = StepStitcher::default();
    let mut last_step = None;
    let mut count = 0usize;
    for (line_no, line) in split_lines(text) {
        let Some(caps) = re.captures(line) else {
            continue;
        };
        let number = |name: &str| -> Result<Option<f64>, DoctorError> {
            match caps.name(name) {
                None => Ok(None),
                Some(m) => super::table::parse_number(m.as_str())
                    .map(Some)
                    .ok_or_else(|| {
                        DoctorError::parse(
                            path,
                            Location::Line(line_no),
                            format!(
                                "--pattern group `{name}` matched {:?}, expected a number",
                                m.as_str()
                            ),
                        )
                    }),
            }
        };
        let step = match number("step")? {
            Some(s) => stitcher.global(s),
            None => last_step.unwrap_or(count as f64),
        };
        last_step = Some(step);
        count += 1;
        if let Some(value) = number("loss")? {
            run.train_loss.push(Point { step, value });
        }
        if let Some(value) = number("val")? {
            run.val_loss.push(Point { step, value });
        }
    }
    if run.train_loss.is_empty() && run.val_loss.is_empty() {
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            format!("no line matched --pattern {pattern:?} with a loss"),
        ));
    }
    normalise(&mut run);
    Ok(run)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(steps(&run.train_loss), vec![10.0, 20.0]);
        assert_eq!(
            run.val_loss[1],
            Point {
                step: 20.0,
                value: 1.4
            }
        );

        let run = load(
            "Epoch 1/2 - loss: 1.50 - val_loss: 1.60\nEpoch 2/2 - loss: 1.20 - val_loss: 1.40\n",
        );
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
}
