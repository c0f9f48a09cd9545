//! Parsers from files on disk to a [`crate::Run`], detecting the format from content and name.
//!
//! Detection order: the file name first (`events.out.tfevents.*`, `trainer_state.json`,
//! `*.jsonl`, `*.csv`/`*.tsv`), then the content (a TFRecord header with a valid checksum, a
//! JSON object per line or one JSON document, a header row over numeric rows), and finally the
//! text-log reader, which accepts any line holding a step counter and a loss. A folder is an
//! rnnlab run (`metrics.jsonl` + `meta.json`), a Hugging Face output folder, or a tree of
//! TensorBoard event files.

mod folders;
mod jsonl;
mod names;
mod notebook;
mod pasted;
mod series;
mod table;
mod tensorboard;
mod text;
mod tfrecord;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod shared_curves_tests;

pub use tfrecord::write_record as write_tfrecord;

use crate::error::{DoctorError, Location};
use crate::{Result, Run};
use std::path::{Path, PathBuf};

/// How to read a run: column overrides for tables (and tags for TensorBoard), a regex for text
/// logs, and context the files may not carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    pub step_col: Option<String>,
    pub loss_col: Option<String>,
    pub val_col: Option<String>,
    pub lr_col: Option<String>,
    pub grad_col: Option<String>,
    /// Regex for text logs with named groups `step` and `loss` (optionally `val`).
    pub pattern: Option<String>,
    pub vocab_size: Option<usize>,
    pub steps_per_epoch: Option<f64>,
    /// Which run of a folder holding several TensorBoard runs (its path under the folder, split
    /// folders like `train/` left out); a folder with several runs and no choice is an error
    /// that names them.
    pub run: Option<String>,
}

/// The formats a file can be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    TensorBoard,
    JsonDocument,
    JsonLines,
    Notebook,
    Table,
    Text,
}

fn io_error(path: &Path, source: std::io::Error) -> DoctorError {
    DoctorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The format a file's name promises, if it promises one.
fn detect_by_name(path: &Path) -> Option<Format> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_lowercase();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    if tensorboard::is_event_file_name(&name) {
        return Some(Format::TensorBoard);
    }
    if name == "trainer_state.json" {
        return Some(Format::JsonDocument);
    }
    match ext.as_str() {
        "jsonl" | "ndjson" => Some(Format::JsonLines),
        "ipynb" => Some(Format::Notebook),
        "csv" | "tsv" => Some(Format::Table),
        _ => None,
    }
}

#[cfg(test)]
fn detect(path: &Path, bytes: &[u8]) -> Format {
    detect_by_name(path).unwrap_or_else(|| detect_by_content(bytes))
}

fn detect_by_content(bytes: &[u8]) -> Format {
    if tfrecord::looks_like_tfrecord(bytes) {
        return Format::TensorBoard;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let first_line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(first_line) = first_line else {
        return Format::Text;
    };
    // A notebook saved under another name (Colab's "save a copy in GitHub" as `.py`).
    let second_line = text.lines().map(str::trim).filter(|l| !l.is_empty()).nth(1);
    if first_line == "{" && second_line.is_some_and(|l| l.starts_with("\"cells\"")) {
        return Format::Notebook;
    }
    if first_line.starts_with('{') || first_line.starts_with('[') {
        let is_object_line = matches!(
            serde_json::from_str::<serde_json::Value>(&jsonl::quote_non_finite(first_line)),
            Ok(serde_json::Value::Object(_))
        );
        return if is_object_line {
            Format::JsonLines
        } else {
            Format::JsonDocument
        };
    }
    if looks_like_table(&text) {
        return Format::Table;
    }
    Format::Text
}

/// A header of names over a row of numbers (or empty cells).
fn looks_like_table(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (Some(header), Some(row)) = (lines.next(), lines.next()) else {
        return false;
    };
    let delimiter = table::sniff_delimiter(header.as_bytes()) as char;
    let names: Vec<&str> = header.split(delimiter).collect();
    let cells: Vec<&str> = row.split(delimiter).collect();
    if names.len() < 2 || cells.len() < 2 {
        return false;
    }
    let named = names.iter().all(|n| table::parse_number(n).is_none());
    let numbers = cells
        .iter()
        .filter(|c| table::parse_number(c).is_some())
        .count();
    let empty = cells.iter().filter(|c| c.trim().is_empty()).count();
    // A row of empty cells and text is no table row: lines that end with a comma
    // (`"loss_gen": 0.0093,` from a pretty-printed JSON list) split into a named number and
    // nothing.
    named && numbers >= 1 && (numbers + empty) * 2 >= cells.len()
}

/// Parses a file's bytes; `path` names the file for detection and error messages.
pub fn load_bytes(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Run> {
    // A cloned repository's large files are often Git LFS pointers, not the data.
    if bytes.starts_with(b"version https://git-lfs.github.com/spec/") {
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            "this is a Git LFS pointer, not the log itself; run `git lfs pull` in the repository \
             (or download the file) and point the doctor at the real file",
        ));
    }
    if is_run_summary(bytes) {
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            "this is an end-of-run summary (one averaged train_loss, runtime, FLOPs), not a \
             curve; point the doctor at trainer_state.json (in the output folder, or in its \
             latest checkpoint-N/ folder) for the logged history",
        ));
    }
    let by_name = detect_by_name(path);
    let format = match (&opts.pattern, by_name) {
        // A pattern is for text logs, whatever the file is called.
        (Some(_), _) => Format::Text,
        (None, Some(format)) => format,
        (None, None) => detect_by_content(bytes),
    };
    let parse = |format| match format {
        Format::TensorBoard => tensorboard::parse_file(bytes, path, opts),
        Format::JsonDocument => jsonl::parse_document(bytes, path, opts),
        Format::JsonLines => jsonl::parse_lines(bytes, path, opts),
        Format::Notebook => notebook::parse(bytes, path, opts),
        Format::Table => table::parse(bytes, path, opts),
        Format::Text => text::parse(bytes, path, opts),
    };
    let mut run = match parse(format) {
        // Content sniffing can be fooled (a log of Python dicts starts with `{`): a text log
        // is the last resort, and the first error is the one reported.
        Err(first) if by_name.is_none() && format != Format::Text => match parse(Format::Text) {
            Ok(run) => run,
            // Neither reading worked: say both, since the file may be a text log that only
            // starts like JSON (a dump of the settings first).
            Err(second) => {
                return Err(DoctorError::parse(
                    path,
                    Location::Whole,
                    format!(
                        "read as {}: {}; read as a text log: {}",
                        match format {
                            Format::TensorBoard => "TensorBoard events",
                            Format::Notebook => "a notebook",
                            Format::Table => "a table",
                            _ => "JSON",
                        },
                        error_message(&first),
                        error_message(&second)
                    ),
                ))
            }
        },
        result => result?,
    };
    run.name = display_name(path);
    Ok(run)
}

/// What went wrong, without the path (the combined error names it once).
fn error_message(e: &DoctorError) -> String {
    match e {
        DoctorError::Parse {
            location, message, ..
        } => match location {
            Location::Line(n) => format!("line {n}: {message}"),
            _ => message.clone(),
        },
        other => other.to_string(),
    }
}

/// A Hugging Face `all_results.json` / `train_results.json` / `eval_results.json`: one flat
/// JSON object of run totals (`train_runtime`, `total_flos`, `eval_runtime`), no history.
fn is_run_summary(bytes: &[u8]) -> bool {
    if bytes.len() > 1 << 16 || !bytes.trim_ascii_start().starts_with(b"{") {
        return false;
    }
    let text = String::from_utf8_lossy(bytes);
    let Ok(serde_json::Value::Object(obj)) =
        serde_json::from_str::<serde_json::Value>(&jsonl::quote_non_finite(&text))
    else {
        return false;
    };
    let flat = obj.values().all(|v| !v.is_array() && !v.is_object());
    let totals = ["train_runtime", "total_flos", "eval_runtime"]
        .iter()
        .any(|k| obj.contains_key(*k));
    flat && totals
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn load_file(path: &Path, opts: &LoadOptions) -> Result<Run> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let mut run = load_bytes(&bytes, path, opts)?;
    if path.file_name().is_some_and(|n| n == "metrics.jsonl") {
        let meta_path = path.with_file_name("meta.json");
        if meta_path.is_file() {
            let meta_bytes = std::fs::read(&meta_path).map_err(|e| io_error(&meta_path, e))?;
            let meta = jsonl::parse_meta(&meta_bytes, &meta_path)?;
            run.vocab_size = meta.vocab_size.or(run.vocab_size);
            run.steps_per_epoch = meta.steps_per_epoch.or(run.steps_per_epoch);
            run.fixed_batch_order |= meta.fixed_batch_order;
            run.references = meta.references;
        }
        if let Some(dir) = path.parent().and_then(Path::file_name) {
            run.name = dir.to_string_lossy().into_owned();
        }
    }
    Ok(run)
}

/// Applies what the options know about the run.
fn apply_context(run: &mut Run, opts: &LoadOptions) {
    if opts.vocab_size.is_some() {
        run.vocab_size = opts.vocab_size;
    }
    if opts.steps_per_epoch.is_some() {
        run.steps_per_epoch = opts.steps_per_epoch;
    }
    if run.references.ln_vocab.is_none() {
        run.references.ln_vocab = run.vocab_size.filter(|&v| v > 0).map(|v| (v as f64).ln());
    }
}

/// Reads a run from a file or folder, detecting the format.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Run> {
    let mut run = if path.is_dir() {
        folders::load_dir(path, opts)?
    } else {
        load_file(path, opts)?
    };
    apply_context(&mut run, opts);
    Ok(run)
}

/// Reads several paths as one run: train and validation TensorBoard folders, a training log
/// and a separate evaluation log. Series are merged and re-sorted; the first file that knows
/// the vocabulary, steps per epoch or a reference level supplies it.
pub fn load_many(paths: &[PathBuf], opts: &LoadOptions) -> Result<Run> {
    let Some((first, rest)) = paths.split_first() else {
        return Err(DoctorError::Usage("no input path given".into()));
    };
    // Files under a validation folder (DVCLive's `val/loss.tsv` beside `train/loss.tsv`) hold
    // the validation curve, whatever their column says, when the other files do not.
    // (Only the folders below the paths' common ancestor say anything.)
    let common = paths
        .iter()
        .map(|p| p.components().count())
        .min()
        .map_or(0, |shortest| {
            (0..shortest)
                .take_while(|&i| {
                    let at_first = first.components().nth(i);
                    paths.iter().all(|p| p.components().nth(i) == at_first)
                })
                .count()
        });
    let under_val = |path: &Path| {
        let folders = path.parent().map_or(0, |d| d.components().count());
        path.components().take(folders).skip(common).any(|c| {
            names::folder_role(&c.as_os_str().to_string_lossy()) == Some(names::Role::ValLoss)
        })
    };
    let split_by_folder = paths.len() >= 2 && paths.iter().any(|p| !under_val(p));
    let load_one = |path: &Path| -> Result<Run> {
        let mut run = load(path, opts)?;
        if split_by_folder && under_val(path) && run.val_loss.is_empty() {
            run.val_loss = std::mem::take(&mut run.train_loss);
            run.columns.val_loss = run.columns.train_loss.take();
        }
        Ok(run)
    };
    let mut run = load_one(first)?;
    let mut names = vec![std::mem::take(&mut run.name)];
    for path in rest {
        let other = load_one(path)?;
        names.push(other.name);
        run.train_loss.extend(other.train_loss);
        run.val_loss.extend(other.val_loss);
        run.lr.extend(other.lr);
        run.grad_norm.extend(other.grad_norm);
        run.events.extend(other.events);
        run.warnings.extend(other.warnings);
        let (c, o) = (&mut run.columns, other.columns);
        c.step = c.step.take().or(o.step);
        c.train_loss = c.train_loss.take().or(o.train_loss);
        c.val_loss = c.val_loss.take().or(o.val_loss);
        c.lr = c.lr.take().or(o.lr);
        c.grad_norm = c.grad_norm.take().or(o.grad_norm);
        run.vocab_size = run.vocab_size.or(other.vocab_size);
        run.steps_per_epoch = run.steps_per_epoch.or(other.steps_per_epoch);
        run.fixed_batch_order |= other.fixed_batch_order;
        let r = &mut run.references;
        r.ln_vocab = r.ln_vocab.or(other.references.ln_vocab);
        r.unigram = r.unigram.or(other.references.unigram);
        r.bigram = r.bigram.or(other.references.bigram);
        r.floor = r.floor.or(other.references.floor);
    }
    series::normalise(&mut run);
    run.name = names.join(" + ");
    Ok(run)
}

#[cfg(test)]
#[path = "loading_tests.rs"]
mod tests;

// What every front end does between its inputs and a run to diagnose (the CLI's `doctor` and
// the Python binding call these, so their `--json` agree).
mod prepare;
pub use prepare::{
    load_bytes_for_diagnosis, load_columns_for_diagnosis, load_for_diagnosis, Column,
};
