//! Shared plumbing from parsed values to a [`Run`]: rows of named numbers (CSV, JSON lines,
//! Hugging Face log history) become series, step counters that restart are stitched into one
//! global step, and every series ends sorted by step.

use super::names::{classify, list_names, pick_columns, rival_losses};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Event, Point, Run};
use std::path::Path;

/// Sorts a series by step (stable) and keeps the last value logged for a repeated step: a
/// resumed or rolled-back run re-logs steps, and the later value is the one that counts.
pub(crate) fn sort_dedup(points: &mut Vec<Point>) {
    points.sort_by(|a, b| a.step.total_cmp(&b.step));
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for p in points.drain(..) {
        match out.last_mut() {
            Some(last) if last.step == p.step => *last = p,
            _ => out.push(p),
        }
    }
    *points = out;
}

/// Sorts every series of a run and its events.
pub(crate) fn normalise(run: &mut Run) {
    for s in [
        &mut run.train_loss,
        &mut run.val_loss,
        &mut run.lr,
        &mut run.grad_norm,
    ] {
        sort_dedup(s);
    }
    run.events.sort_by(|a, b| a.step.total_cmp(&b.step));
}

/// Turns per-epoch (or per-restart) step counters into one global step: when the counter
/// falls back to where it started after rising, later steps are offset so they continue
/// from the last global step, keeping the usual spacing.
#[derive(Debug, Default)]
pub(crate) struct StepStitcher {
    first_raw: Option<f64>,
    last_raw: f64,
    last_global: f64,
    offset: f64,
    last_increment: f64,
    /// How many times the counter started again.
    pub restarts: usize,
}

impl StepStitcher {
    /// What [`global`](Self::global) adds to the raw counter now.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    pub fn global(&mut self, raw: f64) -> f64 {
        let Some(first) = self.first_raw else {
            self.first_raw = Some(raw);
            self.last_raw = raw;
            self.last_global = raw;
            return raw;
        };
        let spacing = if self.last_increment > 0.0 {
            self.last_increment
        } else {
            1.0
        };
        if raw < self.last_raw && raw <= first + spacing {
            self.offset = self.last_global + spacing - raw;
            self.restarts += 1;
        } else if raw > self.last_raw {
            self.last_increment = raw - self.last_raw;
        }
        self.last_raw = raw;
        self.last_global = raw + self.offset;
        self.last_global
    }
}

/// Rows of named numbers, sparse: (column index, value). Produced by the CSV, JSON-lines and
/// Hugging Face readers.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub events: Vec<Event>,
}

#[derive(Debug)]
pub(crate) struct Row {
    pub cells: Vec<(usize, f64)>,
}

impl Table {
    /// Index of a column, added if new.
    pub fn column(
        &mut self,
        name: &str,
        index: &mut std::collections::HashMap<String, usize>,
    ) -> usize {
        if let Some(&i) = index.get(name) {
            return i;
        }
        self.columns.push(name.to_string());
        index.insert(name.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    /// Builds the run: picks the step, loss, validation, learning-rate and gradient-norm
    /// columns by name (or override), stitches restarting steps, and estimates steps per epoch
    /// from an epoch column when there is one.
    pub fn into_run(mut self, path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
        if let Some(value) = tensorboard_export_value(&self.columns) {
            self.columns[value] = tensorboard_export_tag(path);
        }
        let roles: Vec<_> = self.columns.iter().map(|c| classify(c)).collect();
        let picks = pick_columns(&self.columns, &roles, opts, path)?;
        if picks.train.is_none() && picks.val.is_none() {
            return Err(DoctorError::parse(
                path,
                Location::Whole,
                format!(
                    "expected a header with a loss column (found: {}); use --loss-col",
                    list_names(&self.columns)
                ),
            ));
        }
        let step_col = match (picks.step, picks.epoch) {
            (Some(step), Some(epoch))
                if opts.step_col.is_none()
                    && counts_per_epoch(&self.rows, step, epoch, picks.train.or(picks.val)) =>
            {
                Some(epoch)
            }
            (step, epoch) => step.or(epoch),
        };
        let name = |col: Option<usize>| col.map(|c| self.columns[c].clone());
        // (A loss the user chose needs no list of the others.)
        let rivals = picks
            .train
            .filter(|_| opts.loss_col.is_none())
            .map(|t| rival_losses(&self.columns, &roles, t))
            .unwrap_or_default();
        let mut run = Run {
            events: self.events,
            columns: crate::SeriesNames {
                step: name(step_col),
                train_loss: name(picks.train),
                val_loss: name(picks.val),
                lr: name(picks.lr),
                grad_norm: name(picks.grad),
            },
            ..Run::default()
        };
        if let (Some(taken), Some(&rival)) = (&run.columns.train_loss, rivals.first()) {
            let others: Vec<String> = rivals
                .iter()
                .map(|&i| format!("\"{}\"", self.columns[i]))
                .collect();
            run.warnings.push(format!(
                "{}: the file logs several losses (\"{taken}\", {}); \"{taken}\" is \
                 judged. To judge another: --loss-col {:?}",
                path.display(),
                others.join(", "),
                self.columns[rival]
            ));
        }
        let mut stitcher = StepStitcher::default();
        let mut epoch_pairs: Vec<(f64, f64)> = Vec::new();
        let cell = |row: &Row, col: Option<usize>| {
            col.and_then(|c| row.cells.iter().find(|(i, _)| *i == c).map(|(_, v)| *v))
        };
        // A row with nothing to plot (detectron2 writes evaluation-only rows, some with an
        // earlier iteration) says nothing about the step sequence.
        let plotted = |row: &Row| {
            [picks.train, picks.val, picks.lr, picks.grad]
                .iter()
                .any(|&c| cell(row, c).is_some())
        };
        // The records with a step, as (row, step, loss): where the last of several runs
        // appended to the file begins.
        let records: Vec<(usize, f64, Option<f64>)> = match step_col {
            Some(_) => self
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| plotted(r))
                .filter_map(|(i, r)| {
                    let s = cell(r, step_col).filter(|s| s.is_finite())?;
                    Some((i, s, cell(r, picks.train.or(picks.val))))
                })
                .collect(),
            None => Vec::new(),
        };
        let steps: Vec<(f64, Option<f64>)> = records.iter().map(|r| (r.1, r.2)).collect();
        // A step counter that starts again where an epoch column moves on (`Epoch,Batch,…`) is
        // the next epoch, however close its loss is to the file's first.
        let epoch_of = |k: usize| {
            picks
                .epoch
                .filter(|_| picks.step.is_some())
                .and_then(|c| cell(&self.rows[records[k].0], Some(c)))
        };
        let next_epoch = |k: usize| {
            k > 0 && matches!((epoch_of(k - 1), epoch_of(k)), (Some(a), Some(b)) if b > a)
        };
        let first_row = match last_fresh_start(&steps, next_epoch) {
            Some(start) => {
                let (s, loss) = steps[start];
                run.warnings.push(format!(
                    "{}: the step counter starts again at {} (record {} of {}) with the loss back at {} \
                     (the file's first {}): several runs were appended to this file; reading the \
                     last one only",
                    path.display(),
                    s,
                    start + 1,
                    steps.len(),
                    loss.map_or("?".into(), |v| format!("{v:.4}")),
                    steps.iter().find_map(|p| p.1).map_or("?".into(), |v| format!("{v:.4}")),
                ));
                records[start].0
            }
            None => 0,
        };
        for (index, row) in self.rows.iter().enumerate().skip(first_row) {
            if !plotted(row) {
                continue;
            }
            let get = |col: Option<usize>| cell(row, col);
            let raw_step = match step_col {
                Some(_) => match get(step_col) {
                    Some(s) if s.is_finite() => s,
                    _ => continue,
                },
                None => index as f64,
            };
            let step = stitcher.global(raw_step);
            if let (Some(epoch), true) = (get(picks.epoch), picks.step.is_some()) {
                if epoch.is_finite() {
                    epoch_pairs.push((step, epoch));
                }
            }
            for (col, series) in [
                (picks.train, &mut run.train_loss),
                (picks.val, &mut run.val_loss),
                (picks.lr, &mut run.lr),
                (picks.grad, &mut run.grad_norm),
            ] {
                if let Some(value) = get(col) {
                    series.push(Point { step, value });
                }
            }
        }
        // Name only the columns that gave points (a `val_loss` column of `NA`s gave none).
        let c = &mut run.columns;
        for (name, empty) in [
            (&mut c.train_loss, run.train_loss.is_empty()),
            (&mut c.val_loss, run.val_loss.is_empty()),
            (&mut c.lr, run.lr.is_empty()),
            (&mut c.grad_norm, run.grad_norm.is_empty()),
        ] {
            if empty {
                *name = None;
            }
        }
        run.steps_per_epoch = steps_per_epoch(&epoch_pairs);
        normalise(&mut run);
        Ok(run)
    }
}

/// The `Value` column of a scalar exported from TensorBoard's web page (`Wall time,Step,Value`):
/// the export does not say which scalar it holds; its file name does.
pub(crate) fn tensorboard_export_value(columns: &[String]) -> Option<usize> {
    let names: Vec<String> = columns.iter().map(|c| c.trim().to_lowercase()).collect();
    (names == ["wall time", "step", "value"]).then_some(2)
}

/// The scalar a TensorBoard export holds, from its file name: the part after `tag-` in the
/// name TensorBoard gives it (`run-train-tag-epoch_loss.csv`), else the whole stem
/// (`valid_loss.csv`); a name that says nothing (`export.csv`) makes it the training loss.
pub(crate) fn tensorboard_export_tag(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (run, tag) = stem.rsplit_once("tag-").unwrap_or(("", stem.as_str()));
    // Keras writes the same tag under `train/` and `validation/`: the run part says which.
    let run_is_val = run
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| super::names::folder_role(w) == Some(super::names::Role::ValLoss));
    match classify(tag) {
        Some(_) if run_is_val && !tag.to_lowercase().contains("val") => format!("val_{tag}"),
        Some(_) => tag.to_string(),
        None if run_is_val => format!("{tag} (validation loss)"),
        None => format!("{tag} (loss)"),
    }
}

/// Whether the step column stands still while the epoch column moves on, on the rows with a
/// loss (mmcv's JSON log at `"iter": 10` of every epoch, a TSLib epoch line's `Steps: 625`):
/// then it counts within an epoch, and the epoch places the rows.
fn counts_per_epoch(rows: &[Row], step: usize, epoch: usize, loss: Option<usize>) -> bool {
    let cell = |r: &Row, c: usize| r.cells.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| loss.is_some_and(|l| cell(r, l).is_some()))
        .filter_map(|r| Some((cell(r, step)?, cell(r, epoch)?)))
        .collect();
    pairs.len() >= 2
        && pairs.iter().all(|p| p.0 == pairs[0].0)
        && pairs.iter().any(|p| p.1 != pairs[0].1)
}

/// Where the last of several runs appended to one file begins (an index into `steps`, the
/// records' (step, loss)), if it holds more than one. A step counter that falls back to where
/// the file started is a new epoch when the loss carries on from where it stood, and a new run
/// from scratch when the loss is back near the file's first value.
pub(crate) fn last_fresh_start(
    steps: &[(f64, Option<f64>)],
    next_epoch: impl Fn(usize) -> bool,
) -> Option<usize> {
    let (first_step, _) = *steps.first()?;
    let first_loss = steps.iter().find_map(|p| p.1)?;
    let mut last_step = first_step;
    let mut spacing: f64 = 0.0;
    let mut start = None;
    for i in 1..steps.len() {
        let s = steps[i].0;
        if s < last_step && s <= first_step + spacing.max(1.0) && !next_epoch(i) {
            let before = steps[..i].iter().rev().find_map(|p| p.1);
            let after = steps[i..].iter().find_map(|p| p.1);
            if let (Some(b), Some(a)) = (before, after) {
                if fresh_run(first_loss, b, a) {
                    start = Some(i);
                }
            }
        } else if s > last_step {
            spacing = s - last_step;
        }
        last_step = s;
    }
    start
}

/// Whether a counter that started again at `after` (the first loss of the new stretch), where
/// the loss stood at `before` and the file began at `first`, began a new run from scratch: the
/// loss is back near where the file started rather than carrying on from where it stood.
pub(crate) fn fresh_run(first: f64, before: f64, after: f64) -> bool {
    (after - first).abs() < (after - before).abs()
}

/// Steps per epoch from (step, epoch) pairs: the slope of step against epoch, over the whole
/// log when epochs are fractional (Hugging Face, LLaMA-Factory), between the rows where an
/// integer epoch counter moves on otherwise (Lightning logs the epoch as an integer).
pub(crate) fn steps_per_epoch(pairs: &[(f64, f64)]) -> Option<f64> {
    let fractional = pairs.iter().any(|(_, e)| e.fract() != 0.0);
    let anchors: Vec<(f64, f64)> = if fractional {
        vec![*pairs.first()?, *pairs.last()?]
    } else {
        pairs
            .windows(2)
            .filter(|w| w[1].1 > w[0].1)
            .map(|w| w[1])
            .collect()
    };
    let spe = match anchors.as_slice() {
        [] => return None,
        // One epoch change seen: measure from the first row.
        [(s1, e1)] => (s1 - pairs[0].0) / (e1 - pairs[0].1),
        [(s0, e0), .., (s1, e1)] => (s1 - s0) / (e1 - e0),
    };
    (spe.is_finite() && spe >= 1.0).then_some(spe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_nothing_to_plot_do_not_move_the_steps() {
        // detectron2's metrics.json: an evaluation-only row at iteration 2 before iteration 1.
        let text = "{\"iteration\": 2, \"mask_rcnn/accuracy\": 0.57}\n\
                    {\"iteration\": 1, \"total_loss\": 6.43, \"loss_cls\": 4.36}\n\
                    {\"iteration\": 4, \"total_loss\": 6.03, \"loss_cls\": 4.01}\n";
        let run = super::super::load_bytes(
            text.as_bytes(),
            Path::new("metrics.json"),
            &LoadOptions::default(),
        )
        .unwrap();
        let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![1.0, 4.0]);
        assert_eq!(run.columns.train_loss.as_deref(), Some("total_loss"));
        assert_eq!(run.columns.val_loss, None);
    }

    #[test]
    fn runs_appended_to_one_file_are_told_from_epochs_by_the_loss() {
        // Three runs from scratch (steps 20; 20, 40; 20 … 100): the loss is back at ~8.55
        // each time the counter starts again. Reading starts at the last.
        let appended = [
            (20.0, Some(8.56)),
            (20.0, Some(8.56)),
            (40.0, Some(7.95)),
            (20.0, Some(8.55)),
            (40.0, Some(7.95)),
            (60.0, Some(7.22)),
        ];
        assert_eq!(last_fresh_start(&appended, |_| false), Some(3));
        // A counter per epoch: the loss carries on from where it stood.
        let epochs = [
            (1.0, Some(3.0)),
            (2.0, Some(2.5)),
            (1.0, Some(2.3)),
            (2.0, Some(2.2)),
        ];
        assert_eq!(last_fresh_start(&epochs, |_| false), None);
    }

    #[test]
    fn stitches_counters_that_restart_each_epoch() {
        let mut s = StepStitcher::default();
        let raw = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0];
        let global: Vec<f64> = raw.iter().map(|&r| s.global(r)).collect();
        assert_eq!(global, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let mut s = StepStitcher::default();
        let raw = [0.0, 10.0, 20.0, 0.0, 10.0];
        let global: Vec<f64> = raw.iter().map(|&r| s.global(r)).collect();
        assert_eq!(global, vec![0.0, 10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn a_resume_from_a_checkpoint_is_not_a_restart() {
        let mut s = StepStitcher::default();
        let raw = [0.0, 1.0, 2.0, 3.0, 4.0, 2.0, 3.0];
        let global: Vec<f64> = raw.iter().map(|&r| s.global(r)).collect();
        assert_eq!(global, raw.to_vec());
    }

    #[test]
    fn sort_dedup_keeps_last_value_of_a_repeated_step() {
        let mut pts = vec![
            Point {
                step: 2.0,
                value: 1.0,
            },
            Point {
                step: 1.0,
                value: 5.0,
            },
            Point {
                step: 2.0,
                value: 3.0,
            },
        ];
        sort_dedup(&mut pts);
        assert_eq!(
            pts,
            vec![
                Point {
                    step: 1.0,
                    value: 5.0
                },
                Point {
                    step: 2.0,
                    value: 3.0
                }
            ]
        );
    }

    #[test]
    fn steps_per_epoch_from_fractional_and_integer_epochs() {
        let frac = [(10.0, 0.004), (2165.0, 1.0), (8660.0, 4.0)];
        let spe = steps_per_epoch(&frac).unwrap();
        assert!((spe - 2165.0).abs() < 5.0, "{spe}");
        let int = [
            (10.0, 0.0),
            (99.0, 0.0),
            (100.0, 1.0),
            (150.0, 1.0),
            (200.0, 2.0),
        ];
        assert_eq!(steps_per_epoch(&int), Some(100.0));
        assert_eq!(steps_per_epoch(&[(5.0, 0.0)]), None);
    }
}
