//! JSON formats: rnnlab's `metrics.jsonl` (with `event` lines and a sibling `meta.json`),
//! LLaMA-Factory's `trainer_log.jsonl`, any JSON-lines log with step and loss keys, and
//! Hugging Face's `trainer_state.json` (`log_history`).

use super::series::{Row, Table};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Event, References, Run};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Python's `json` writes NaN and infinities as bare `NaN`/`Infinity`, which is not JSON:
/// quote them (outside strings) so they parse, and read them back as numbers.
pub(crate) fn quote_non_finite(text: &str) -> Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let word = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        if let Some(w) = word {
            out.push('"');
            out.push_str(w);
            out.push('"');
            rest = &rest[w.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// A JSON value as a number. Strings holding a number count (quoted NaN above); `null` counts as
/// NaN because serde_json and others write a non-finite float as `null`.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => super::table::parse_number(s),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

/// Adds one JSON object as a row; `event` objects become events instead.
fn add_object(table: &mut Table, index: &mut HashMap<String, usize>, obj: &Map<String, Value>) {
    if let Some(kind) = obj.get("event").and_then(Value::as_str) {
        let step = obj.get("step").and_then(number).unwrap_or(f64::NAN);
        let detail = match obj.get("detail") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if step.is_finite() {
            table.events.push(Event {
                step,
                kind: kind.to_string(),
                detail,
            });
        }
        return;
    }
    let mut cells = Vec::with_capacity(obj.len());
    add_cells(table, index, obj, "", &mut cells);
    table.rows.push(Row { cells });
}

/// Nested objects are namespaces, as a hand-made `metrics.jsonl` writes them
/// (`{"step": 10, "train": {"loss": 2.3}, "eval": {"loss": 2.4}}`): their keys are read as
/// `eval/loss`, the TensorBoard and W&B spelling the column names already know.
fn add_cells(
    table: &mut Table,
    index: &mut HashMap<String, usize>,
    obj: &Map<String, Value>,
    prefix: &str,
    cells: &mut Vec<(usize, f64)>,
) {
    for (key, value) in obj {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}/{key}")
        };
        match value {
            // Deeper than two levels is a config dump, not a metric record.
            Value::Object(inner) if prefix.matches('/').count() < 1 => {
                add_cells(table, index, inner, &name, cells)
            }
            // `null` stands for NaN only where a key can carry a number.
            _ => {
                if let Some(v) = number(value) {
                    let col = table.column(&name, index);
                    cells.push((col, v));
                }
            }
        }
    }
}

/// A JSON object holding whole series instead of log records: Keras' `history.history`
/// saved with `json.dump` (`{"loss": [..], "val_loss": [..]}`, one value per epoch, numbered
/// from 1 as Keras prints them) or Sacred's `metrics.json` (`{"training.loss": {"steps": [..],
/// "values": [..]}}`). `None` when the object is neither.
fn series_object(obj: &Map<String, Value>) -> Option<Table> {
    let numbers = |v: &Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(number).collect() };
    let mut table = Table::default();
    let mut index = HashMap::new();
    let lists: Vec<(&String, Vec<f64>)> = obj
        .iter()
        .filter_map(|(k, v)| Some((k, numbers(v)?)))
        .collect();
    if !lists.is_empty() && lists.len() == obj.len() {
        let epoch = table.column("epoch", &mut index);
        let len = lists.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        let cols: Vec<usize> = lists
            .iter()
            .map(|(k, _)| table.column(k, &mut index))
            .collect();
        for i in 0..len {
            let mut cells = vec![(epoch, i as f64 + 1.0)];
            cells.extend(
                cols.iter()
                    .zip(&lists)
                    .filter_map(|(&c, (_, l))| l.get(i).map(|&v| (c, v))),
            );
            table.rows.push(Row { cells });
        }
        return (len > 0).then_some(table);
    }
    // Sacred: each metric its own steps and values.
    let step = table.column("step", &mut index);
    for (name, metric) in obj {
        let (Some(steps), Some(values)) = (
            metric.get("steps").and_then(numbers),
            metric.get("values").and_then(numbers),
        ) else {
            return None;
        };
        let col = table.column(name, &mut index);
        for (s, v) in steps.into_iter().zip(values) {
            table.rows.push(Row {
                cells: vec![(step, s), (col, v)],
            });
        }
    }
    // Metric by metric, the steps go back at each new metric: in step order they do not
    // read as a counter that restarts.
    let at = |r: &Row| r.cells[0].1;
    table.rows.sort_by(|a, b| at(a).total_cmp(&at(b)));
    (!table.rows.is_empty()).then_some(table)
}

/// JSON lines. A malformed line is an error naming it, except the last one, which a run that
/// is still writing may have left half-written.
pub(crate) fn parse_lines(
    bytes: &[u8],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Run, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    // One line holding whole series (a Keras history dumped without indentation).
    if let [(_, only)] = lines[..] {
        if let Ok(Value::Object(obj)) = serde_json::from_str(&quote_non_finite(only)) {
            if let Some(table) = series_object(&obj) {
                return table.into_run(path, opts);
            }
        }
    }
    let mut table = Table::default();
    let mut index = HashMap::new();
    let mut warning = None;
    let torn = |line_no: usize| {
        let cut = if bytes.ends_with(b"\n") {
            "is not a whole record"
        } else {
            "was cut off in the middle (the writer stopped or the disk filled up)"
        };
        format!(
            "{}: the last line (line {line_no}) {cut}; read up to line {}",
            path.display(),
            line_no - 1
        )
    };
    for (k, &(line_no, line)) in lines.iter().enumerate() {
        let parsed: Result<Value, _> = serde_json::from_str(&quote_non_finite(line));
        match parsed {
            Ok(Value::Object(obj)) => add_object(&mut table, &mut index, &obj),
            Ok(_) | Err(_) if k + 1 == lines.len() && k > 0 => warning = Some(torn(line_no)),
            Ok(_) => {
                return Err(DoctorError::parse(
                    path,
                    Location::Line(line_no),
                    "expected a JSON object on each line",
                ))
            }
            Err(e) => {
                return Err(DoctorError::parse(
                    path,
                    Location::Line(line_no),
                    format!("expected a JSON object on each line: {e}"),
                ))
            }
        }
    }
    let mut run = table.into_run(path, opts)?;
    run.warnings.extend(warning);
    Ok(run)
}

/// TensorBoard's JSON download of one scalar: `[[wall_time, step, value], …]`, its tag in the
/// file name (`run-train-tag-epoch_loss.json`) as in the CSV download, which it becomes.
fn tensorboard_json_download(entries: &[Value]) -> Option<Table> {
    let mut table = Table {
        columns: vec!["Wall time".into(), "Step".into(), "Value".into()],
        ..Table::default()
    };
    for entry in entries {
        let Value::Array(triple) = entry else {
            return None;
        };
        let numbers: Vec<f64> = triple.iter().filter_map(number).collect();
        if triple.len() != 3 || numbers.len() != 3 {
            return None;
        }
        table.rows.push(Row {
            cells: numbers.into_iter().enumerate().collect(),
        });
    }
    (!table.rows.is_empty()).then_some(table)
}

/// A whole JSON document: Hugging Face `trainer_state.json`, or an array of log objects.
pub(crate) fn parse_document(
    bytes: &[u8],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Run, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    let value: Value = serde_json::from_str(&quote_non_finite(&text)).map_err(|e| {
        DoctorError::parse(
            path,
            Location::Line(e.line()),
            format!("expected a JSON document: {e}"),
        )
    })?;
    let (entries, state) = match &value {
        Value::Object(obj) => match obj.get("log_history") {
            Some(Value::Array(entries)) => (entries, Some(obj)),
            _ => match series_object(obj) {
                Some(table) => return table.into_run(path, opts),
                None => {
                    return Err(DoctorError::parse(
                        path,
                        Location::Whole,
                        "expected a Hugging Face trainer state with a `log_history` list, a \
                         Keras history (`{\"loss\": [..], \"val_loss\": [..]}`) or Sacred \
                         metrics (`{\"loss\": {\"steps\": [..], \"values\": [..]}}`)",
                    ))
                }
            },
        },
        // A bare list of losses (`json.dump(losses)`, `str(losses)`): one per logged step.
        Value::Array(entries)
            if !entries.is_empty() && entries.iter().all(|v| number(v).is_some()) =>
        {
            let train_loss = entries
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    Some(crate::Point {
                        step: i as f64,
                        value: number(v)?,
                    })
                })
                .collect();
            let run = Run {
                train_loss,
                columns: crate::SeriesNames {
                    step: Some("position in the list".into()),
                    train_loss: Some("the list".into()),
                    ..Default::default()
                },
                ..Run::default()
            };
            return Ok(run);
        }
        Value::Array(entries) => match tensorboard_json_download(entries) {
            Some(table) => return table.into_run(path, opts),
            None => (entries, None),
        },
        _ => {
            return Err(DoctorError::parse(
                path,
                Location::Whole,
                "expected a JSON object with `log_history` or a list of log objects",
            ))
        }
    };
    let mut table = Table::default();
    let mut index = HashMap::new();
    let mut summaries = 0usize;
    for entry in entries {
        let Value::Object(obj) = entry else { continue };
        // The end-of-training summary (`train_loss` averaged over the run) is not a point.
        if obj.contains_key("train_runtime") || obj.contains_key("total_flos") {
            summaries += 1;
            continue;
        }
        add_object(&mut table, &mut index, obj);
    }
    if table.rows.is_empty() && summaries > 0 {
        let get = |k: &str| state.and_then(|s| s.get(k)).and_then(Value::as_f64);
        let why = match (get("logging_steps"), get("max_steps")) {
            (Some(every), Some(max)) if every > max => format!(
                " (logging_steps {} is more than the run's {} steps)",
                crate::detect::step_str(every),
                crate::detect::step_str(max)
            ),
            _ => String::new(),
        };
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            format!(
                "the log history holds only the end-of-training summary (one loss averaged \
                 over the whole run), no logged steps{why}: train again with a smaller \
                 logging_steps (e.g. 10), or point at a checkpoint's trainer_state.json that \
                 has them"
            ),
        ));
    }
    let mut run = table.into_run(path, opts)?;
    if let Some(state) = state {
        let get = |k: &str| state.get(k).and_then(Value::as_f64);
        // The log's own step/epoch slope is preferred: with a step budget on a streamed
        // dataset, Hugging Face stores a meaningless `num_train_epochs`.
        if run.steps_per_epoch.is_none() {
            if let (Some(max_steps), Some(epochs)) = (get("max_steps"), get("num_train_epochs")) {
                let spe = max_steps / epochs;
                if epochs > 0.0 && epochs < 1e6 && spe >= 1.0 {
                    run.steps_per_epoch = Some(spe);
                }
            }
        }
    }
    Ok(run)
}

/// What rnnlab's `meta.json` next to `metrics.jsonl` says about the run.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Meta {
    pub vocab_size: Option<usize>,
    pub steps_per_epoch: Option<f64>,
    pub fixed_batch_order: bool,
    pub references: References,
}

pub(crate) fn parse_meta(bytes: &[u8], path: &Path) -> Result<Meta, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    let value: Value = serde_json::from_str(&quote_non_finite(&text)).map_err(|e| {
        DoctorError::parse(
            path,
            Location::Line(e.line()),
            format!("expected rnnlab's meta.json object: {e}"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            "expected rnnlab's meta.json object",
        ));
    };
    let finite = |v: Option<&Value>| v.and_then(Value::as_f64).filter(|x| x.is_finite());
    let refs = obj.get("references");
    let reference = |k: &str| finite(refs.and_then(|r| r.get(k)));
    Ok(Meta {
        vocab_size: obj
            .get("vocab_size")
            .or_else(|| obj.get("vocab"))
            .and_then(Value::as_u64)
            .map(|v| v as usize),
        steps_per_epoch: finite(obj.get("steps_per_epoch")).filter(|s| *s > 0.0),
        fixed_batch_order: obj.get("batching").and_then(Value::as_str) == Some("streams"),
        references: References {
            ln_vocab: reference("ln_vocab"),
            unigram: reference("unigram"),
            bigram: reference("bigram"),
            floor: reference("floor"),
        },
    })
}

#[cfg(test)]
#[path = "jsonl_tests.rs"]
mod tests;
