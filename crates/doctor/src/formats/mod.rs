//! Parsers from files on disk to a [`crate::Run`], detecting the format from content and name.
//!
//! Detection order: the file name first (`events.out.tfevents.*`, `trainer_state.json`,
//! `*.jsonl`, `*.csv`/`*.tsv`), then the content (a TFRecord header with a valid checksum, a
//! JSON object per line or one JSON document, a header row over numeric rows), and finally the
//! text-log reader, which accepts any line holding a step counter and a loss. A folder is an
//! rnnlab run (`metrics.jsonl` + `meta.json`), a Hugging Face output folder, or a tree of
//! TensorBoard event files.

mod jsonl;
mod names;
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
    let numeric = cells
        .iter()
        .filter(|c| c.trim().is_empty() || table::parse_number(c).is_some())
        .count();
    named && numeric * 2 >= cells.len()
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
        Format::Table => table::parse(bytes, path, opts),
        Format::Text => text::parse(bytes, path, opts),
    };
    // Column and tag names mean nothing to a text log: say so rather than ignore them.
    if format == Format::Text {
        let named = [
            ("--step-col", &opts.step_col),
            ("--loss-col", &opts.loss_col),
            ("--val-col", &opts.val_col),
            ("--lr-col", &opts.lr_col),
            ("--grad-col", &opts.grad_col),
        ];
        if let Some((flag, _)) = named.iter().find(|(_, v)| v.is_some()) {
            return Err(DoctorError::Usage(format!(
                "{}: {flag} names a column of a table (CSV, JSON lines, TensorBoard), but this \
                 file is read as a text log; use --pattern with named groups `step`, `loss` and \
                 `val` instead",
                path.display()
            )));
        }
    }
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
                        "read as JSON: {}; read as a text log: {}",
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

/// The training-curve file a run folder holds, in order of preference.
fn run_file_in(dir: &Path) -> Result<Option<PathBuf>> {
    for name in ["metrics.jsonl", "trainer_state.json", "trainer_log.jsonl"] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    // A Hugging Face output folder without a top-level state: the latest checkpoint's.
    if let Some(state) = latest_numbered(dir, "checkpoint-", "trainer_state.json")? {
        return Ok(Some(state));
    }
    let csv = dir.join("metrics.csv");
    if csv.is_file() {
        return Ok(Some(csv));
    }
    // A Lightning project folder: `lightning_logs/version_N/metrics.csv` (or `version_N/`
    // right here, as `CSVLogger(save_dir)` writes), the latest version: the run a person just
    // trained. [`load_dir`] says which file it read.
    for root in [dir.join("lightning_logs"), dir.to_path_buf()] {
        if root.is_dir() {
            if let Some(csv) = latest_numbered(&root, "version_", "metrics.csv")? {
                return Ok(Some(csv));
            }
        }
    }
    // What other loggers name their file: Keras's CSVLogger, hand-written loops, nanoGPT forks.
    for name in LOG_FILE_NAMES {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    // A folder holding one log file (by its extension) holds that run.
    let is_log = |p: &Path| {
        let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase());
        matches!(
            ext.as_deref(),
            Some("log" | "txt" | "csv" | "tsv" | "jsonl" | "ndjson")
        )
    };
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_log(p))
        .collect();
    Ok(match files.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// The scalars a folder holds as CSV files exported from TensorBoard's web page
/// (`Wall time,Step,Value`; each file's name says which scalar), when every CSV there is one.
fn tensorboard_exports_in(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let mut csvs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    csvs.sort();
    let is_export = |p: &PathBuf| -> bool {
        let Ok(text) = std::fs::read_to_string(p) else {
            return false;
        };
        let header: Vec<String> = text
            .lines()
            .next()
            .unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect();
        series::tensorboard_export_value(&header).is_some()
    };
    Ok((!csvs.is_empty() && csvs.iter().all(is_export)).then_some(csvs))
}

/// Log file names common enough to read from a folder without being named.
const LOG_FILE_NAMES: &[&str] = &[
    "training.log",
    "training_log.csv",
    "history.csv",
    "log.csv",
    "train.log",
    "train_log.txt",
    "log.txt",
];

/// The run file of the one subfolder that holds one (a repository whose `results/` or
/// `logs/` holds the run), or an error naming them all when several do.
fn run_file_below(dir: &Path) -> Result<Option<PathBuf>> {
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    subdirs.sort();
    let mut found = Vec::new();
    for sub in subdirs {
        if let Some(file) = run_file_in(&sub)? {
            found.push(file);
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => {
            let names: Vec<String> = found
                .iter()
                .filter_map(|f| f.strip_prefix(dir).ok())
                .map(|f| f.display().to_string())
                .collect();
            Err(DoctorError::parse(
                dir,
                Location::Whole,
                format!(
                    "several runs below this folder ({}); point the doctor at one of them",
                    names::list_names(&names)
                ),
            ))
        }
    }
}

/// `dir/<prefix>N/<file>` for the largest N whose file exists (`checkpoint-1500/…`,
/// `version_3/…`).
fn latest_numbered(dir: &Path, prefix: &str, file: &str) -> Result<Option<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    Ok(entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let n = p
                .file_name()?
                .to_str()?
                .strip_prefix(prefix)?
                .parse::<u64>()
                .ok()?;
            let inner = p.join(file);
            inner.is_file().then_some((n, inner))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, inner)| inner))
}

fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<Run> {
    let has_events = !tensorboard::event_files(dir)?.is_empty();
    let file = match run_file_in(dir)? {
        Some(file) => Some(file),
        None if !has_events => run_file_below(dir)?,
        None => None,
    };
    let mut run = if let Some(file) = file {
        let mut run = load_file(&file, opts)?;
        if let Ok(inner) = file.strip_prefix(dir) {
            if inner.components().count() > 1 {
                let numbered = inner.components().any(|c| {
                    let c = c.as_os_str().to_string_lossy();
                    c.starts_with("checkpoint-") || c.starts_with("version_")
                });
                run.warnings.push(format!(
                    "read {} ({} in the folder)",
                    inner.display(),
                    if numbered {
                        "the latest run"
                    } else {
                        "the only run"
                    }
                ));
            }
        }
        run
    } else if has_events {
        tensorboard::parse_dir(dir, opts)?
    } else if let Some(exports) = tensorboard_exports_in(dir)? {
        load_many(&exports, opts)?
    } else {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| io_error(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        found.sort();
        return Err(DoctorError::parse(
            dir,
            Location::Whole,
            format!(
                "expected a run folder with metrics.jsonl, trainer_state.json, metrics.csv, \
                 training.log, log.txt or TensorBoard event files, here or one folder down \
                 (found: {})",
                names::list_names(&found)
            ),
        ));
    };
    run.name = display_name(dir);
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
        load_dir(path, opts)?
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
    let mut run = load(first, opts)?;
    let mut names = vec![std::mem::take(&mut run.name)];
    for path in rest {
        let other = load(path, opts)?;
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
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("doctor-formats-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn detection_by_name_then_content() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            detect(&p("a/events.out.tfevents.1.x"), b""),
            Format::TensorBoard
        );
        assert_eq!(
            detect(&p("trainer_state.json"), b"{}"),
            Format::JsonDocument
        );
        assert_eq!(detect(&p("x.jsonl"), b""), Format::JsonLines);
        assert_eq!(detect(&p("x.tsv"), b"step\tloss\n"), Format::Table);
        assert_eq!(
            detect(&p("x.json"), b"{\n \"log_history\": []\n}"),
            Format::JsonDocument
        );
        assert_eq!(
            detect(&p("x.json"), b"{\"step\":1,\"loss\":2}\n"),
            Format::JsonLines
        );
        assert_eq!(detect(&p("x.txt"), b"step,loss\n1,2.5\n"), Format::Table);
        assert_eq!(
            detect(&p("x.txt"), b"step 0: train loss 4.2, val loss 4.3\n"),
            Format::Text
        );
        let mut tb = Vec::new();
        tfrecord::write_record(&mut tb, b"x");
        assert_eq!(detect(&p("run.bin"), &tb), Format::TensorBoard);
    }

    #[test]
    fn python_dict_log_falls_back_to_text() {
        let log = "{'loss': 2.5, 'learning_rate': 1e-05, 'epoch': 0.5}\n\
                   {'eval_loss': 2.4, 'epoch': 0.5}\n{'loss': 2.0, 'learning_rate': 1e-05, 'epoch': 1.0}\n";
        let run = load_bytes(
            log.as_bytes(),
            Path::new("stdout.log"),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(run.train_loss.len(), 2);
        assert_eq!(run.val_loss.len(), 1);
        assert_eq!(run.lr.len(), 2);
        // Garbage that looks like JSON keeps the JSON error.
        let err = load_bytes(b"{ nope", Path::new("x"), &LoadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("JSON"), "{err}");
    }

    #[test]
    fn hugging_face_output_folder_uses_latest_checkpoint() {
        let dir = temp_dir("hf");
        for (n, loss) in [(500, 2.0), (1000, 1.5)] {
            let ck = dir.join(format!("checkpoint-{n}"));
            std::fs::create_dir_all(&ck).unwrap();
            std::fs::write(
                ck.join("trainer_state.json"),
                format!(r#"{{"log_history": [{{"loss": {loss}, "step": {n}}}]}}"#),
            )
            .unwrap();
        }
        let run = load(&dir, &LoadOptions::default());
        std::fs::remove_dir_all(&dir).unwrap();
        let run = run.unwrap();
        assert_eq!(
            run.train_loss,
            vec![crate::Point {
                step: 1000.0,
                value: 1.5
            }]
        );
    }

    #[test]
    fn lightning_project_folder_uses_the_latest_version() {
        let dir = temp_dir("lightning");
        for (n, loss) in [(0, 2.0), (2, 1.5)] {
            let v = dir.join(format!("lightning_logs/version_{n}"));
            std::fs::create_dir_all(&v).unwrap();
            std::fs::write(
                v.join("metrics.csv"),
                format!("step,train_loss\n10,{loss}\n"),
            )
            .unwrap();
        }
        let run = load(&dir, &LoadOptions::default());
        std::fs::remove_dir_all(&dir).unwrap();
        let run = run.unwrap();
        assert_eq!(run.train_loss.len(), 1);
        assert_eq!(run.train_loss[0].value, 1.5);
        assert!(
            run.warnings.iter().any(|w| w.contains("version_2")),
            "{:?}",
            run.warnings
        );
    }

    #[test]
    fn an_end_of_run_summary_says_what_it_is() {
        let summary = br#"{
    "epoch": 1.36,
    "total_flos": 1.6e+20,
    "train_loss": 0.2447,
    "train_runtime": 28624.551
}"#;
        let err = load_bytes(
            summary,
            Path::new("all_results.json"),
            &LoadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("all_results.json"), "{err}");
        assert!(
            err.contains("end-of-run summary") && err.contains("trainer_state.json"),
            "{err}"
        );
    }

    #[test]
    fn a_text_log_that_starts_like_json_says_both_readings_failed() {
        let text = b"{\n \"bagging_fraction\": 0.8\n}\nsomething that is not a metric\n";
        let err = load_bytes(text, Path::new("lgbm.txt"), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lgbm.txt") && err.contains("read as JSON"),
            "{err}"
        );
        assert!(
            err.contains("read as a text log") && err.contains("--pattern"),
            "{err}"
        );
    }

    #[test]
    fn a_git_lfs_pointer_says_what_it_is() {
        let bytes = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n";
        let err = load_bytes(bytes, Path::new("metrics.jsonl"), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("metrics.jsonl") && err.contains("git lfs pull"),
            "{err}"
        );
    }

    #[test]
    fn column_options_on_a_text_log_are_an_error_not_ignored() {
        let opts = LoadOptions {
            loss_col: Some("foo".into()),
            ..LoadOptions::default()
        };
        let err = load_bytes(
            b"step 1 loss 2.0\nstep 2 loss 1.9\n",
            Path::new("log.txt"),
            &opts,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--loss-col") && err.contains("--pattern"),
            "{err}"
        );
    }

    #[test]
    fn rnnlab_run_folder_with_meta() {
        let dir = temp_dir("run");
        std::fs::write(
            dir.join("metrics.jsonl"),
            "{\"step\":1,\"epoch\":0.5,\"loss\":4.0}\n{\"step\":2,\"epoch\":1.0,\"loss\":3.5}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("meta.json"),
            r#"{"vocab_size": 65, "steps_per_epoch": 2, "references": {"unigram": 3.3, "bigram": 2.5}}"#,
        )
        .unwrap();
        let run = load(&dir, &LoadOptions::default());
        let with_opts = load(
            &dir,
            &LoadOptions {
                steps_per_epoch: Some(7.0),
                ..LoadOptions::default()
            },
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let run = run.unwrap();
        assert_eq!(run.train_loss.len(), 2);
        assert_eq!(run.vocab_size, Some(65));
        assert_eq!(run.references.unigram, Some(3.3));
        assert!((run.references.ln_vocab.unwrap() - 65f64.ln()).abs() < 1e-12);
        assert_eq!(run.steps_per_epoch, Some(2.0));
        assert_eq!(with_opts.unwrap().steps_per_epoch, Some(7.0));
    }

    #[test]
    fn load_many_merges_train_and_val_folders() {
        use tensorboard::testwrite::simple;
        let dir = temp_dir("many");
        let mut paths = Vec::new();
        for (sub, tag) in [("train", "loss"), ("val", "loss")] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            let mut out = Vec::new();
            for step in [10, 20] {
                simple(&mut out, step, tag, 2.0);
            }
            std::fs::write(dir.join(sub).join("events.out.tfevents.9"), out).unwrap();
            paths.push(dir.join(sub));
        }
        let run = load_many(&paths, &LoadOptions::default());
        let whole = load(&dir, &LoadOptions::default());
        std::fs::remove_dir_all(&dir).unwrap();
        let run = run.unwrap();
        assert_eq!((run.train_loss.len(), run.val_loss.len()), (2, 2));
        assert_eq!(run.name, "train + val");
        let whole = whole.unwrap();
        assert_eq!((whole.train_loss.len(), whole.val_loss.len()), (2, 2));
    }

    #[test]
    fn a_folder_finds_a_keras_log_or_the_one_run_below_it() {
        let keras = "epoch,loss,val_loss\n0,2.0,2.1\n1,1.5,1.7\n2,1.2,1.5\n";
        // A folder holding Keras's `training.log` beside other files.
        let dir = temp_dir("keras");
        std::fs::write(dir.join("training.log"), keras).unwrap();
        std::fs::write(dir.join("model.h5"), b"not a log").unwrap();
        let run = load(&dir, &LoadOptions::default()).unwrap();
        assert_eq!(run.train_loss.len(), 3);
        // A repository whose run sits one folder down (`results/log.txt`), among other files.
        let repo = temp_dir("repo");
        std::fs::create_dir_all(repo.join("results")).unwrap();
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join("README.md"), b"# a model").unwrap();
        std::fs::write(repo.join("src/a.py"), b"print(1)").unwrap();
        std::fs::write(repo.join("src/b.py"), b"print(2)").unwrap();
        std::fs::write(
            repo.join("results/log.txt"),
            b"step 1 loss 2.0\nstep 2 loss 1.8\n",
        )
        .unwrap();
        let run = load(&repo, &LoadOptions::default()).unwrap();
        assert_eq!(run.train_loss.len(), 2);
        assert!(
            run.warnings.iter().any(|w| w.contains("results/log.txt")),
            "{:?}",
            run.warnings
        );
        // Two runs below: the error names both.
        std::fs::create_dir_all(repo.join("old")).unwrap();
        std::fs::write(repo.join("old/training.log"), keras).unwrap();
        let err = load(&repo, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&repo).unwrap();
        assert!(
            err.contains("old/training.log") && err.contains("results/log.txt"),
            "{err}"
        );
    }

    #[test]
    fn tensorboard_csv_exports_are_named_by_their_file() {
        let dir = temp_dir("tbcsv");
        std::fs::write(
            dir.join("run-train-tag-epoch_loss.csv"),
            "Wall time,Step,Value\n1688704569.88,56,524.1\n1688704633.95,113,510.9\n1688704700.1,170,480.2\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("valid_loss.csv"),
            "Wall time,Step,Value\n1688704569.34,56,511.2\n1688704633.96,113,505.9\n",
        )
        .unwrap();
        let run = load(&dir, &LoadOptions::default()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(run.train_loss.len(), 3);
        assert_eq!(run.val_loss.len(), 2);
        assert_eq!(run.columns.train_loss.as_deref(), Some("epoch_loss"));
        assert_eq!(run.columns.val_loss.as_deref(), Some("valid_loss"));
        // Keras's TensorBoard callback: one tag under train/ and validation/ runs.
        let name = |f: &str| series::tensorboard_export_tag(Path::new(f));
        assert_eq!(name("run-validation-tag-epoch_loss.csv"), "val_epoch_loss");
        assert_eq!(name("run-train-tag-epoch_loss.csv"), "epoch_loss");
        assert_eq!(name("export.csv"), "export (loss)");
    }

    #[test]
    fn empty_folder_and_missing_file_name_the_path() {
        let dir = temp_dir("empty");
        let err = load(&dir, &LoadOptions::default()).unwrap_err().to_string();
        let missing = load(&dir.join("nope.csv"), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("expected a run folder"), "{err}");
        assert!(missing.contains("nope.csv"), "{missing}");
    }
}

// What every front end does between its inputs and a run to diagnose (the CLI's `doctor` and
// the Python binding call these, so their `--json` agree).
mod prepare;
pub use prepare::{
    load_bytes_for_diagnosis, load_columns_for_diagnosis, load_for_diagnosis, Column,
};
