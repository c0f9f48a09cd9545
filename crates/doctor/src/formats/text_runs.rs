//! What the lines of a text log become as a run: records repeated by other hosts skipped,
//! validation copied onto training lines dropped, logs numbered by line, runs pasted one after
//! another separated, and a signed RL objective set aside.

use super::super::LoadOptions;
use crate::error::DoctorError;
use crate::formats::series::{self, steps_per_epoch};
use crate::Run;
use regex::Regex;
use std::path::Path;
use std::sync::OnceLock;

fn host_prefix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\s*\[?[\w.\-]+\]?: ").expect("valid regex"))
}

/// A multi-node launcher (pdsh, DeepSpeed) prefixes each node's output with its host
/// (`10.96.202.43: {'loss': 1.8673, …}`), and every node prints the same record: a line that
/// repeats the previous one under another host is that record again.
pub(super) fn repeated_by_another_host<'a>(
    line: &'a str,
    previous: &mut Option<(&'a str, &'a str)>,
) -> bool {
    let Some(m) = line
        .contains(": ")
        .then(|| host_prefix().find(line))
        .flatten()
    else {
        *previous = None;
        return false;
    };
    let (host, body) = (&line[..m.end()], &line[m.end()..]);
    // Hosts and ranks carry a number (`10.96.202.43`, `node1`, `[rank3]`); `train:` and
    // `valid:` with equal values are two series.
    if !host.bytes().any(|b| b.is_ascii_digit()) {
        *previous = None;
        return false;
    }
    let again = previous.is_some_and(|(h, b)| h != host && b == body);
    if !again {
        *previous = Some((host, body));
    }
    again
}

/// The tag a process puts before each of its lines when several print into one log: Ray's
/// `(main pid=41948, ip=10.128.0.49)`, torchrun's `[rank1]:` and `[default1]:`.
fn process_tag() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*(\([\w\-]* ?pid=\d+(?:, ip=[\d.]+)?\)|\[(?:rank|default)\d+\]:)")
            .expect("valid regex")
    })
}

/// Which process's lines to read when several processes interleave theirs (every Ray worker
/// or DDP rank printing its own epochs): their counters go back and forth and their curves
/// are copies or shards, so one is read, rank 0 where ranks are named, else the first.
pub(super) struct OneProcess {
    tag: Option<String>,
}

impl OneProcess {
    pub(super) fn of(text: &str, path: &std::path::Path, warnings: &mut Vec<String>) -> Self {
        let mut tags: Vec<&str> = Vec::new();
        for line in text.lines() {
            if let Some(m) = process_tag().captures(line).and_then(|c| c.get(1)) {
                if !tags.contains(&m.as_str()) {
                    tags.push(m.as_str());
                }
            }
        }
        if tags.len() < 2 {
            return OneProcess { tag: None };
        }
        let chosen = tags
            .iter()
            .find(|t| t.contains("rank0]") || t.contains("default0]"))
            .unwrap_or(&tags[0])
            .to_string();
        let more = if tags.len() > 2 { ", …" } else { "" };
        warnings.push(format!(
            "{}: {} processes print into this log ({}{more}); only the lines of {chosen} are read",
            path.display(),
            tags.len(),
            tags[..2].join(", ")
        ));
        OneProcess { tag: Some(chosen) }
    }

    /// Whether `line` belongs to another process (untagged lines are everyone's).
    pub(super) fn skips(&self, line: &str) -> bool {
        let Some(tag) = &self.tag else { return false };
        process_tag()
            .captures(line)
            .and_then(|c| c.get(1))
            .is_some_and(|m| m.as_str() != tag)
    }
}

/// A log that evaluates on lines of its own (litgpt's `iter 10 | val_loss: 23.021`) and also
/// repeats the last result on every training line (`loss train: 10.688, val_loss valid:
/// 21.817`): the repeats are copies, not evaluations; only a value that changed is one. So are
/// they in a log that counts steps and prints the last validation on every training line
/// (NeMo's `global_step: 120 | reduced_train_loss: 1.233 | … | val_loss: 4.106`): no run
/// evaluates at every logged step. An epoch-level log may (Keras: `loss: … - val_loss: …`
/// each epoch), and there a value that repeats is itself the news (`frozen`).
pub(super) fn drop_carried_validation(
    run: &mut Run,
    beside_train: &[bool],
    line_numbers: &mut Vec<f64>,
    step_level: bool,
) {
    let evaluations_alone = beside_train.iter().any(|b| !b);
    if !(evaluations_alone || step_level) || beside_train.len() != run.val_loss.len() {
        return;
    }
    let mut previous = None;
    let keep: Vec<bool> = run
        .val_loss
        .iter()
        .zip(beside_train)
        .map(|(p, &carried)| {
            let copy = carried && previous == Some(p.value);
            previous = Some(p.value);
            !copy
        })
        .collect();
    let mut flags = keep.iter();
    run.val_loss.retain(|_| *flags.next().unwrap_or(&true));
    let mut flags = keep.iter();
    line_numbers.retain(|_| *flags.next().unwrap_or(&true));
}

/// Puts every point at its training-line number (an evaluation at the training line before
/// it), and says so; returns the steps per epoch that the line numbers and epochs give.
pub(super) fn number_by_line(
    run: &mut Run,
    line_numbers: &[Vec<f64>; 4],
    path: &Path,
) -> Option<f64> {
    let epochs: Vec<(f64, f64)> = line_numbers[0]
        .iter()
        .zip(&run.train_loss)
        .map(|(&n, p)| (n, p.step))
        .collect();
    for (series, numbers) in [
        &mut run.train_loss,
        &mut run.val_loss,
        &mut run.lr,
        &mut run.grad_norm,
    ]
    .into_iter()
    .zip(line_numbers)
    {
        for (p, &n) in series.iter_mut().zip(numbers) {
            p.step = n;
        }
    }
    run.warnings.push(format!(
        "{}: the log gives only an epoch, printed rounded, and consecutive lines repeat it; \
         steps are the training lines' order (the n-th logged training loss is step n)",
        path.display()
    ));
    steps_per_epoch(&epochs)
}

/// Reinforcement-learning tables (stable-baselines3) log a total `loss` that is signed by
/// design (policy-gradient and entropy terms): judging it as a loss that must stay positive
/// would be wrong, so where it goes negative and a `value_loss` (a squared error) is logged,
/// that is judged instead, and a warning says so.
pub(super) fn signed_objective_aside(
    table: series::Table,
    path: &Path,
    opts: &LoadOptions,
) -> Result<Run, DoctorError> {
    let column = |names: &[&str]| {
        table
            .columns
            .iter()
            .find(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
            .cloned()
    };
    // The total (stable-baselines3) or the policy's objective (SpinningUp's `LossPi`) beside
    // the value function's squared error (`value_loss`, `LossV`).
    let (Some(objective), Some(value)) = (
        column(&["loss", "LossPi", "policy_loss", "pi_loss"]),
        column(&["value_loss", "LossV", "vf_loss"]),
    ) else {
        return table.into_run(path, opts);
    };
    let objective_index = table.columns.iter().position(|c| *c == objective);
    let signed = table
        .rows
        .iter()
        .flat_map(|r| &r.cells)
        .any(|&(c, v)| Some(c) == objective_index && v < 0.0);
    if !signed {
        return table.into_run(path, opts);
    }
    let value_opts = LoadOptions {
        loss_col: Some(value.clone()),
        ..opts.clone()
    };
    let mut run = table.into_run(path, &value_opts)?;
    run.warnings.push(format!(
        "{}: `{objective}` goes negative, as a policy-gradient objective does; judging \
         `{value}` (the value function's squared error) instead",
        path.display()
    ));
    Ok(run)
}

/// Lines with a loss before the log's first step or epoch counter, placed by line count
/// (`print(loss)` logs have nothing else): once a counter appears, those line numbers are on
/// no axis the counted points share (a Coqui log pasted from inside a block, its loose `| >
/// loss_disc: …` lines ahead of the first `--> STEP … GLOBAL_STEP: 370050` header).
#[derive(Debug, Default)]
pub(super) struct Uncounted {
    /// The line of the first counter.
    pub line: usize,
    /// How many train, validation, LR and grad-norm points were placed before it.
    pub lens: [usize; 4],
}

impl Uncounted {
    /// Drops those points (and what is kept beside them), with a warning, when counted
    /// training points follow.
    pub fn drop_from(
        &self,
        run: &mut Run,
        line_numbers: &mut [Vec<f64>; 4],
        val_beside_train: &mut Vec<bool>,
        restarts: &mut [(usize, usize, f64)],
        path: &Path,
    ) {
        let [train, val, _, _] = self.lens;
        if train + val == 0 || run.train_loss.len() <= train {
            return;
        }
        let series = [
            &mut run.train_loss,
            &mut run.val_loss,
            &mut run.lr,
            &mut run.grad_norm,
        ];
        for ((s, numbers), &n) in series
            .into_iter()
            .zip(line_numbers.iter_mut())
            .zip(&self.lens)
        {
            s.drain(..n.min(s.len()));
            numbers.drain(..n.min(numbers.len()));
        }
        val_beside_train.drain(..val.min(val_beside_train.len()));
        for r in restarts.iter_mut() {
            r.0 = r.0.saturating_sub(train);
        }
        run.warnings.push(format!(
            "{}: {} loss value(s) before the first step counter (line {}) have no step of their own; \
             left out",
            path.display(),
            train + val,
            self.line
        ));
    }
}

/// Several runs pasted one after another (a README comparing frameworks, a log appended to
/// by each launch): where a counter starts again with the loss back near the log's first
/// value, a new run began; only the last is kept, and a warning says so.
pub(in crate::formats) fn keep_last_fresh_run(
    run: &mut Run,
    restarts: &[(usize, usize, f64)],
    path: &Path,
) {
    let t = &run.train_loss;
    let Some(first) = t.first().map(|p| p.value) else {
        return;
    };
    let fresh = restarts.iter().rev().find(|&&(i, _, _)| {
        i > 0 && i < t.len() && series::fresh_run(first, t[i - 1].value, t[i].value)
    });
    let Some(&(i, line, offset)) = fresh else {
        return;
    };
    let from = t[i].step;
    let (before, after) = (t[i - 1].value, t[i].value);
    for series in [
        &mut run.train_loss,
        &mut run.val_loss,
        &mut run.lr,
        &mut run.grad_norm,
    ] {
        series.retain(|p| p.step >= from);
        // The last run's own counter, as the log prints it.
        series.iter_mut().for_each(|p| p.step -= offset);
    }
    run.warnings.push(format!(
        "{}: the counter starts again on line {line} with the loss back at {after:.4} (it stood \
         at {before:.4}; the log's first was {first:.4}): several runs are pasted one after \
         another; reading the last one only",
        path.display()
    ));
}
