//! Text with no names to read: bare numbers as people paste them (one loss per line, a
//! headerless `step loss` table, two loss columns), and lines matched by the user's own
//! `--pattern`.

use regex::Regex;
use std::path::Path;

use super::series::{normalise, Row, StepStitcher, Table};
use super::text::{keep_last_fresh_run, split_lines};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Point, Run};

/// Whether the rows' first column is a step counter (or an epoch fraction): it rises, except
/// where the count starts again; a loss falls.
fn counts(rows: &[Vec<f64>]) -> bool {
    let first: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let rises = first.windows(2).filter(|w| w[1] > w[0]).count();
    first.iter().all(|v| *v >= 0.0) && 2 * rises >= first.len().saturating_sub(1)
}

/// The rows of a paste of numbers only (every non-empty line), any of tab, comma, semicolon
/// or spaces between them; `None` when a line holds anything else.
fn numeric_rows(text: &str) -> Option<Vec<Vec<f64>>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            super::table::printed_scalar(l)
                .or_else(|| printed_tuple(l))
                .unwrap_or(l)
        })
        .map(|l| {
            l.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|c| !c.is_empty())
                .map(super::table::parse_number)
                .collect::<Option<Vec<f64>>>()
        })
        .collect()
}

/// The inside of a printed Python tuple or list of numbers (`print((i, loss))` writes
/// `(0, 91.74887084960938)`), or `None`.
fn printed_tuple(line: &str) -> Option<&str> {
    line.strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
}

/// A column of a headerless table as the user names it: `3` or `column 3`, counted from 1.
fn column_index(name: &str) -> Option<usize> {
    let n = name.trim();
    let n = n.strip_prefix("column").map_or(n, str::trim);
    n.parse::<usize>().ok().filter(|&i| i >= 1).map(|i| i - 1)
}

/// A headerless table read by the columns the user named (`--loss-col 3`, `--step-col 1`):
/// without a step column, the rows are the steps.
fn named_columns(rows: &[Vec<f64>], path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
    let width = rows.iter().map(Vec::len).min().unwrap_or(0);
    let pick = |flag: &str, name: &Option<String>| -> Result<Option<usize>, DoctorError> {
        let Some(name) = name else { return Ok(None) };
        match column_index(name).filter(|&i| i < width) {
            Some(i) => Ok(Some(i)),
            None => Err(DoctorError::Usage(format!(
                "{}: {flag} \"{name}\": this file has no header, so its columns are numbered 1 to \
                 {width} (`{flag} 2` or `{flag} \"column 2\"`)",
                path.display()
            ))),
        }
    };
    let Some(loss) = pick("--loss-col", &opts.loss_col)? else {
        return Err(DoctorError::Usage(format!(
            "{}: this file has no header; say which of its {width} columns is the training loss \
             with --loss-col N (counted from 1)",
            path.display()
        )));
    };
    let step = pick("--step-col", &opts.step_col)?;
    let others = [
        pick("--val-col", &opts.val_col)?,
        pick("--lr-col", &opts.lr_col)?,
        pick("--grad-col", &opts.grad_col)?,
    ];
    let mut stitcher = StepStitcher::default();
    let mut run = Run::default();
    let name = |i: Option<usize>| i.map(|i| format!("column {}", i + 1));
    run.columns = crate::SeriesNames {
        step: Some(name(step).unwrap_or_else(|| "row number".into())),
        train_loss: name(Some(loss)),
        val_loss: name(others[0]),
        lr: name(others[1]),
        grad_norm: name(others[2]),
    };
    for (row_no, r) in rows.iter().enumerate() {
        let step = step.map_or(row_no as f64, |i| stitcher.global(r[i]));
        let series = [
            (Some(loss), &mut run.train_loss),
            (others[0], &mut run.val_loss),
            (others[1], &mut run.lr),
            (others[2], &mut run.grad_norm),
        ];
        for (column, points) in series {
            if let Some(i) = column {
                points.push(Point { step, value: r[i] });
            }
        }
    }
    normalise(&mut run);
    Ok(run)
}

/// Numbers with no names, as people paste them: one loss per line, `step loss` pairs (a
/// headerless two-column table, any of tab, comma, semicolon or spaces between), or a single
/// line of losses (`0.66, 0.80, 4.27`); any headerless table by the columns the user names.
/// `None` when a line holds anything but numbers (this is no such paste).
pub(super) fn bare_numbers(
    text: &str,
    path: &Path,
    opts: &LoadOptions,
) -> Option<Result<Run, DoctorError>> {
    let rows = numeric_rows(text)?;
    let named = [
        &opts.step_col,
        &opts.loss_col,
        &opts.val_col,
        &opts.lr_col,
        &opts.grad_col,
    ];
    if named.iter().any(|c| c.is_some()) {
        return Some(named_columns(&rows, path, opts));
    }
    let width = rows.first().map_or(0, Vec::len);
    let table = width >= 3 && rows.len() >= 2 && rows.iter().all(|r| r.len() == width);
    match bare_numbers_guessed(&rows, path) {
        Some(run) => Some(Ok(run)),
        // A table whose columns nothing names: which one is the loss is the user's to say.
        None if table => Some(Err(DoctorError::parse(
            path,
            Location::Whole,
            format!(
                "a table of {width} numbers per line and no header: which column is the \
                 training loss? Name it with --loss-col N (counted from 1; --step-col, --val-col \
                 likewise), or add a header line (step,loss,…)"
            ),
        ))),
        None => None,
    }
}

fn bare_numbers_guessed(rows: &[Vec<f64>], path: &Path) -> Option<Run> {
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
        // MLflow's metric files (`mlruns/…/metrics/loss`): `timestamp value step`, the
        // timestamp in milliseconds since 1970 (a wall clock, no step: over 1e9 in any unit).
        _ if widths.iter().all(|&w| w == 3)
            && rows.iter().all(|r| r[0] >= 1e9 && r[2].fract() == 0.0)
            && counts(&rows.iter().map(|r| vec![r[2]]).collect::<Vec<_>>()) =>
        {
            run.columns = crate::SeriesNames {
                step: Some("column 3".into()),
                train_loss: Some("column 2".into()),
                ..Default::default()
            };
            let mut stitcher = StepStitcher::default();
            rows.iter()
                .map(|r| Point {
                    step: stitcher.global(r[2]),
                    value: r[1],
                })
                .collect()
        }
        // `step loss` (a third column, when present, is read as validation loss), when the
        // first column counts: whole numbers that only go back to restart.
        _ if widths.iter().all(|&w| w == 2 || w == 3) && counts(rows) => {
            let mut stitcher = StepStitcher::default();
            let mut out = Vec::new();
            for r in rows {
                let step = stitcher.global(r[0]);
                out.push(Point { step, value: r[1] });
                if let Some(&value) = r.get(2) {
                    run.val_loss.push(Point { step, value });
                }
            }
            run.columns = crate::SeriesNames {
                step: Some("column 1".into()),
                train_loss: Some("column 2".into()),
                val_loss: run.val_loss.first().map(|_| "column 3".into()),
                ..Default::default()
            };
            if !run.val_loss.is_empty() {
                run.warnings.push(format!(
                    "{}: no header: read as a step (column 1), a training loss (column 2) and a \
                     validation loss (column 3); add a header (step,loss,val_loss) or name the \
                     columns (--loss-col 3) if that is wrong",
                    path.display()
                ));
            }
            out
        }
        // Two columns of losses with no step (a `loss, val_loss` history saved without its
        // header): one row per logged step, and a warning, since this is a guess. A second
        // column that goes negative is no loss (an RL loop's `loss,reward`): the first alone is
        // the curve.
        _ if widths.iter().all(|&w| w == 2) => {
            let by_row = |col: usize| -> Vec<Point> {
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| Point {
                        step: i as f64,
                        value: r[col],
                    })
                    .collect()
            };
            let not_a_loss = rows.iter().any(|r| r[1] < 0.0)
                && rows.iter().all(|r| r[0].is_nan() || r[0] >= 0.0);
            let guess = if not_a_loss {
                "column 2 goes negative, so it is no loss: column 1 is read as the training loss, \
                 one row per logged step; add a header if that is wrong"
            } else {
                run.val_loss = by_row(1);
                "the first column does not count steps: read as a training loss (column 1) and a \
                 validation loss (column 2), one row per logged step; add a header \
                 (step,loss,val_loss) if that is wrong"
            };
            run.columns = crate::SeriesNames {
                step: Some("row number".into()),
                train_loss: Some("column 1".into()),
                val_loss: (!not_a_loss).then(|| "column 2".into()),
                ..Default::default()
            };
            run.warnings
                .push(format!("{}: no header, and {guess}", path.display()));
            by_row(0)
        }
        _ => return None,
    };
    run.train_loss = points;
    normalise(&mut run);
    Some(run)
}

/// Python lists printed or saved as text (`train_loss = [2.02, 1.70, …]`, a list over several
/// lines, `# …` comments between), read as the Keras-style history they are (`{"name": [..]}`).
/// `None` unless such lists are all the text holds.
pub(super) fn named_lists(
    text: &str,
    path: &Path,
    opts: &LoadOptions,
) -> Option<Result<Run, DoctorError>> {
    let lists = python_lists(text)?;
    let object: serde_json::Map<String, serde_json::Value> = lists
        .into_iter()
        .map(|(name, values)| {
            let values = values
                .into_iter()
                .map(|v| serde_json::Number::from_f64(v).map_or("NaN".into(), Into::into))
                .collect();
            (name, serde_json::Value::Array(values))
        })
        .collect();
    let json = serde_json::Value::Object(object).to_string();
    Some(super::jsonl::parse_document(json.as_bytes(), path, opts))
}

fn python_lists(text: &str) -> Option<Vec<(String, Vec<f64>)>> {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"([A-Za-z_][\w.]*)\s*=\s*\[([^\[\]]*)\]").expect("valid regex")
    });
    let mut lists = Vec::new();
    for c in re.captures_iter(text) {
        let values: Vec<f64> = c[2]
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|v| !v.is_empty())
            .map(super::table::parse_number)
            .collect::<Option<_>>()?;
        if values.len() >= 2 {
            lists.push((c[1].to_string(), values));
        }
    }
    let rest = re.replace_all(text, "");
    let only_lists = rest
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'));
    (!lists.is_empty() && only_lists).then_some(lists)
}

/// `--pattern`: a regex with named groups `step` and `loss` (and optionally `val`).
pub(super) fn parse_with_pattern(
    text: &str,
    pattern: &str,
    path: &Path,
) -> Result<Run, DoctorError> {
    let re = Regex::new(pattern)
        .map_err(|e| DoctorError::Usage(format!("--pattern is not a valid regex: {e}")))?;
    let names: Vec<&str> = re.capture_names().flatten().collect();
    if !names.contains(&"loss") && !names.contains(&"val") {
        return Err(DoctorError::Usage(
            "--pattern needs a named group `loss` (or `val`), like `step (?P<step>\\d+) loss (?P<loss>[\\d.]+)`"
                .into(),
        ));
    }
    let has_step_group = names.contains(&"step");
    let mut run = Run::default();
    let mut stitcher = StepStitcher::default();
    let mut last_step = None;
    let mut count = 0usize;
    // Where the step counter started again (see `keep_last_fresh_run`).
    let mut restarts: Vec<(usize, usize, f64)> = Vec::new();
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
        // Without a `step` group the n-th matching line is step n; with one, a line whose
        // alternative has no step (a validation line) belongs to the last step seen.
        let restarts_before = stitcher.restarts;
        let step = match number("step")? {
            Some(s) => stitcher.global(s),
            None if has_step_group => last_step.unwrap_or(count as f64),
            None => count as f64,
        };
        if stitcher.restarts > restarts_before {
            restarts.push((run.train_loss.len(), line_no, stitcher.offset()));
        }
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
    // Runs pasted one after another, each from step 0: the last one, with a warning, as the
    // text reader does without a pattern.
    keep_last_fresh_run(&mut run, &restarts, path);
    let matched = run.train_loss.len();
    normalise(&mut run);
    if run.train_loss.len() < matched {
        run.warnings.push(format!(
            "{} of the {matched} training losses matched by --pattern share a step with a later \
             one; the last value at each step is kept",
            matched - run.train_loss.len()
        ));
    }
    Ok(run)
}

/// Tables of `| key | value |` rows, one per logging step, between lines of dashes, as
/// stable-baselines3 prints them (`| train/ |` rows name a section; `|    loss | -0.0199 |`
/// under it). Each table is a row of a [`Table`] whose columns are the keys, so the usual
/// names pick the loss (`loss` over `value_loss`) and the step (`total_timesteps`).
pub(super) fn key_value_blocks(text: &str) -> Option<Table> {
    let mut table = Table::default();
    let mut index = std::collections::HashMap::new();
    let mut cells: Vec<(usize, f64)> = Vec::new();
    let mut blocks = 0usize;
    for line in text.lines().map(str::trim) {
        let is_rule = line.len() >= 3 && line.chars().all(|c| c == '-');
        if is_rule {
            if !cells.is_empty() {
                table.rows.push(Row {
                    cells: std::mem::take(&mut cells),
                });
                blocks += 1;
            }
            continue;
        }
        let Some(inner) = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')) else {
            continue;
        };
        let Some((key, value)) = inner.split_once('|') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.ends_with('/') || value.is_empty() {
            continue; // a section's name
        }
        if let Some(v) = super::table::parse_number(value) {
            let col = table.column(key, &mut index);
            cells.push((col, v));
        }
    }
    if !cells.is_empty() {
        table.rows.push(Row { cells });
        blocks += 1;
    }
    (blocks >= 2).then_some(table)
}

/// A table printed as text under a header row, wherever it sits in the text (after progress
/// lines, one table per `fit` call): fastai's `fit` (`epoch  train_loss  valid_loss  time`,
/// one-word names aligned by spaces), Hugging Face's Trainer table as a notebook prints it
/// (`Step<TAB>Training Loss<TAB>Validation Loss`) or as a model card writes it in Markdown
/// (`| Training Loss | Epoch | Step | Validation Loss |`). The header names a loss; a row has
/// as many cells as the header and a number among them. Cells that are not numbers (`00:06`,
/// `#na#`, `No log`) are left empty. Tables that follow each other are one run; one counting
/// its steps or epochs from where the last began again continues after it (fine_tune).
pub(super) fn aligned_table(text: &str) -> Option<Table> {
    use super::names::{classify, Role};
    let mut table = Table::default();
    let mut index = std::collections::HashMap::new();
    // The current header's columns (as indices of `table`) and which of them counts.
    let mut header: Option<(Vec<usize>, Option<usize>)> = None;
    let (mut last_count, mut offset, mut fresh_table) = (None::<f64>, 0.0, false);
    for (_, line) in super::text::split_lines(text) {
        // Most lines of a log are neither a row under a header nor a header.
        if header.is_none() && !could_be_header(line) {
            fresh_table = true;
            continue;
        }
        let cells: Vec<&str> = table_cells(line).collect();
        let numbers: Vec<Option<f64>> = cells.iter().map(|c| cell_number(c)).collect();
        if let Some((cols, counter)) = &header {
            if cells.len() == cols.len() && numbers.iter().any(Option::is_some) {
                let mut row: Vec<(usize, f64)> = cols
                    .iter()
                    .zip(&numbers)
                    .filter_map(|(&c, v)| v.map(|v| (c, v)))
                    .collect();
                if let Some(cell) =
                    counter.and_then(|k| row.iter_mut().find(|(c, _)| *c == cols[k]))
                {
                    if let (true, Some(last)) = (std::mem::take(&mut fresh_table), last_count) {
                        if cell.1 + offset <= last {
                            offset = last + 1.0 - cell.1;
                        }
                    }
                    cell.1 += offset;
                    last_count = Some(cell.1);
                }
                table.rows.push(Row { cells: row });
                continue;
            }
        }
        // A rule (Markdown's `|:---:|---|`, an ASCII table's `+------+-----+`) keeps the
        // header above it.
        if !cells.is_empty()
            && cells.iter().all(|c| {
                c.chars()
                    .all(|ch| matches!(ch, '-' | ':' | ' ' | '+' | '='))
            })
        {
            continue;
        }
        fresh_table = true;
        header = None;
        // Most lines of a log hold numbers: only a line of names is worth classifying.
        let all_names = cells.len() >= 2
            && numbers.iter().all(Option::is_none)
            && cells
                .iter()
                .all(|c| c.chars().any(char::is_alphabetic) || *c == "#");
        if !all_names {
            continue;
        }
        let roles: Vec<_> = cells.iter().map(|c| classify(c)).collect();
        let names_a_loss = roles
            .iter()
            .any(|r| matches!(r, Some((Role::TrainLoss | Role::ValLoss, _))));
        header = names_a_loss.then(|| {
            let counter = (0..roles.len())
                .filter(|&i| matches!(roles[i], Some((Role::Step, _))))
                .min_by_key(|&i| roles[i].map_or(u32::MAX, |r| r.1))
                .or_else(|| {
                    roles
                        .iter()
                        .position(|r| matches!(r, Some((Role::Epoch, _))))
                });
            let cols = cells.iter().map(|c| table.column(c, &mut index)).collect();
            (cols, counter)
        });
    }
    (!table.rows.is_empty()).then_some(table)
}

/// A text table's cells: split at `|` (Markdown, with or without outer pipes; empty cells
/// kept, they hold a column's place), else at tabs, else at runs of two or more spaces where
/// the line has them (DeepXDE's `Step      Train loss    Test loss`: a name of two words, or
/// a bracketed list, stays one cell), else at single spaces.
fn table_cells(line: &str) -> Cells<impl Iterator<Item = &str>, impl Iterator<Item = &str>> {
    let line = line.trim();
    let (inner, sep) = if line.matches('|').count() >= 2 {
        let inner = line.strip_prefix('|').unwrap_or(line);
        (inner.strip_suffix('|').unwrap_or(inner), Some('|'))
    } else if line.contains('\t') {
        (line, Some('\t'))
    } else {
        (line, None)
    };
    if sep.is_none() && line.contains("  ") {
        return Cells::Aligned(line.split("  ").map(str::trim).filter(|c| !c.is_empty()));
    }
    Cells::Separated(
        inner
            .split(move |c: char| sep.map_or(c.is_whitespace(), |s| c == s))
            .map(str::trim)
            .filter(move |c| sep == Some('|') || !c.is_empty()),
    )
}

/// The cells of a line, split one of two ways (an iterator of either kind, without boxing:
/// this runs on every line of a log).
enum Cells<A, S> {
    Aligned(A),
    Separated(S),
}

impl<'a, A: Iterator<Item = &'a str>, S: Iterator<Item = &'a str>> Iterator for Cells<A, S> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Cells::Aligned(a) => a.next(),
            Cells::Separated(s) => s.next(),
        }
    }
}

/// A table cell's number: plain, or DeepXDE's bracketed loss terms (`[3.68e-01]`,
/// `[1.2e-01, 4.5e-02]`), whose sum is the loss it minimises.
fn cell_number(cell: &str) -> Option<f64> {
    super::table::parse_number(cell).or_else(|| {
        let inner = cell.trim().strip_prefix('[')?.strip_suffix(']')?;
        let terms: Option<Vec<f64>> = inner.split(',').map(super::table::parse_number).collect();
        terms.filter(|t| !t.is_empty()).map(|t| t.iter().sum())
    })
}

/// Whether a line can be a table's header: two or more cells, each a name (letters, not a
/// number). Checked on every line of a log, so without collecting anything.
fn could_be_header(line: &str) -> bool {
    let mut cells = 0;
    table_cells(line).all(|c| {
        cells += 1;
        super::table::parse_number(c).is_none() && (c.chars().any(char::is_alphabetic) || c == "#")
    }) && cells >= 2
}
