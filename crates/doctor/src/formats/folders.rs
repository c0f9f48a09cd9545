//! Finding the run in a folder: rnnlab's `metrics.jsonl`, a Hugging Face output folder (its
//! latest `checkpoint-N/`), a Lightning project (its latest `version_N/`), an OpenMMLab work
//! dir (its latest timestamped run), files other loggers name (`training.log`, `log.txt`), a
//! folder of TensorBoard CSV exports, or the one run a level down.

use super::{
    display_name, io_error, load_file, load_many, names, series, tensorboard, LoadOptions,
};
use crate::error::{DoctorError, Location};
use crate::{Result, Run};
use std::path::{Path, PathBuf};

/// The training-curve file a run folder holds, in order of preference; `lone_file` also takes
/// the folder's only log file, whatever its name (not one level down: `data/train.csv`).
fn run_file_in(dir: &Path, lone_file: bool) -> Result<Option<PathBuf>> {
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
    if let Some(scalars) = openmmlab_log_in(dir)? {
        return Ok(Some(scalars));
    }
    // What other loggers name their file: Keras's CSVLogger, hand-written loops, nanoGPT forks.
    for name in LOG_FILE_NAMES {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    if !lone_file {
        return Ok(None);
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
    // Only the header line is read.
    let is_export = |p: &PathBuf| -> bool {
        use std::io::BufRead;
        let mut first = String::new();
        let read = std::fs::File::open(p).map(|f| std::io::BufReader::new(f).read_line(&mut first));
        let header: Vec<String> = first.trim_end().split(',').map(String::from).collect();
        read.is_ok() && series::tensorboard_export_value(&header).is_some()
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
    // Ultralytics (`runs/train/exp/`), detectron2 (`output/`) and Sacred (`<run id>/`),
    // Keras histories dumped as JSON.
    "results.csv",
    "metrics.json",
    "history.json",
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
        if let Some(file) = run_file_in(&sub, false)? {
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

/// An OpenMMLab work dir's log, the latest run's: MMEngine writes
/// `<YYYYMMDD_HHMMSS>/vis_data/scalars.json` (one JSON dict per logged iteration), MMCV 1.x
/// `<YYYYMMDD_HHMMSS>.log.json` beside the work dir's checkpoints. The timestamps sort as
/// they run.
fn openmmlab_log_in(dir: &Path) -> Result<Option<PathBuf>> {
    let here = dir.join("vis_data").join("scalars.json");
    if here.is_file() {
        return Ok(Some(here));
    }
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_run_timestamp(&name) {
            let scalars = path.join("vis_data").join("scalars.json");
            if scalars.is_file() {
                found.push((name, scalars));
            }
        } else if let Some(stamp) = name
            .strip_suffix(".log.json")
            .filter(|s| is_run_timestamp(s))
        {
            if path.is_file() {
                found.push((stamp.to_string(), path));
            }
        }
    }
    Ok(found
        .into_iter()
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, p)| p))
}

/// A run folder named by its start time, as OpenMMLab names them: `20240101_120000`.
fn is_run_timestamp(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 15
        && b[8] == b'_'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
}

/// AllenNLP's serialization folder: `metrics_epoch_N.json`, one per epoch (its
/// `metrics.json` holds only the final summary), in the order of N.
fn allennlp_epochs_in(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let mut epochs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let n = name
                .strip_prefix("metrics_epoch_")?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            p.is_file().then_some((n, p))
        })
        .collect();
    epochs.sort();
    Ok((epochs.len() >= 2).then(|| epochs.into_iter().map(|(_, p)| p).collect()))
}

/// DVCLive's history: the `.tsv` files under `plots/metrics/` (in `dir` or `dir/dvclive`) whose
/// name is a loss (`loss.tsv`, `train/loss.tsv`, `val/loss.tsv`); its `metrics.json` holds
/// only the last values.
fn dvclive_losses_in(dir: &Path) -> Option<Vec<PathBuf>> {
    let root = [dir.join("plots/metrics"), dir.join("dvclive/plots/metrics")]
        .into_iter()
        .find(|p| p.is_dir())?;
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(folder) = pending.pop() {
        for path in std::fs::read_dir(&folder)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
        {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "tsv")
                && path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|stem| {
                        matches!(
                            names::classify(stem),
                            Some((names::Role::TrainLoss | names::Role::ValLoss, _))
                        )
                    })
            {
                found.push(path);
            }
        }
    }
    found.sort();
    (!found.is_empty()).then_some(found)
}

pub(super) fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<Run> {
    if let Some(losses) = dvclive_losses_in(dir) {
        let mut run = load_many(&losses, opts)?;
        run.name = display_name(dir);
        return Ok(run);
    }
    if let Some(epochs) = allennlp_epochs_in(dir)? {
        let mut run = load_many(&epochs, opts)?;
        run.name = display_name(dir);
        return Ok(run);
    }
    let has_events = !tensorboard::event_files(dir)?.is_empty();
    let file = match run_file_in(dir, true)? {
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
                    c.starts_with("checkpoint-")
                        || c.starts_with("version_")
                        || is_run_timestamp(&c)
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

#[cfg(test)]
#[path = "folders_tests.rs"]
mod tests;
