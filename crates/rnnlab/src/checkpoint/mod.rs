//! Checkpoints: `checkpoints/<name>/` holds `model.safetensors` (weights under PyTorch's
//! parameter names, loadable into `torch.nn.LSTM/GRU/RNN`), `trainer.safetensors` (optimizer
//! moments and the guard's snapshot of weights and moments, see [`tensors`]), `trainer.msgpack`
//! (the rest: RNG, data position, schedule, carried hidden state, for bit-identical resume),
//! `checkpoint.json` (a readable summary), and `manifest.json` (size and sha256 of each of them,
//! see [`manifest`]). A checkpoint directory is built under a temporary name, synced, and
//! renamed into place (the parent directory synced after), so a crash, a power cut or a full
//! disk never damages an earlier one; loading verifies the manifest, so damage on disk is
//! reported as such.

pub mod manifest;
pub mod tensors;

use engine::ParamStore;
use safetensors::tensor::{Dtype, TensorView};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::fsutil::{parent_of, sync_dir, unique_temp_sibling};
pub use manifest::{read_verified, verify, Manifest, MANIFEST};
pub use tensors::{Slot, StateTensors, STATE_TENSORS};

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}{hint}", hint = out_of_space_hint(.source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("checkpoint {dir} is damaged: {reason}")]
    Damaged { dir: PathBuf, reason: String },
}

/// A full disk (or a file-size or quota limit) is the one write failure a user can fix without
/// touching the run, so its message says how.
fn out_of_space_hint(source: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    match source.kind() {
        StorageFull | FileTooLarge | QuotaExceeded => {
            " (out of disk space: the checkpoint was not written and earlier ones are intact; \
             free some space, then `rnnlab train --resume RUN_DIR` continues from the newest one)"
        }
        _ => "",
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, message: impl ToString) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Readable summary written next to the weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointInfo {
    pub step: u64,
    pub val_loss: Option<f64>,
    pub params: usize,
}

/// Serializes the parameters as safetensors bytes, f32, little endian, under their names.
pub fn params_to_safetensors(params: &ParamStore) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let views: Vec<(String, TensorView<'_>)> = params
        .entries()
        .iter()
        .map(|e| {
            let bytes: &[u8] = bytemuck::cast_slice(&params.values[e.range()]);
            (
                e.name.clone(),
                TensorView::new(Dtype::F32, e.shape.clone(), bytes).expect("shape matches length"),
            )
        })
        .collect();
    safetensors::serialize(views, &None)
}

/// Loads weights by name into `params`; every parameter must be present with its shape.
/// A bare file is read as it is; prefer [`load_weights`], which verifies a checkpoint first.
pub fn load_safetensors_into(path: &Path, params: &mut ParamStore) -> Result<(), CheckpointError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    weights_from_bytes(path, &bytes, params)
}

/// Loads a checkpoint's `model.safetensors` into `params` after checking it against the
/// checkpoint's manifest.
pub fn load_weights(dir: &Path, params: &mut ParamStore) -> Result<(), CheckpointError> {
    let bytes = read_verified(dir, "model.safetensors")?;
    weights_from_bytes(&dir.join("model.safetensors"), &bytes, params)
}

fn weights_from_bytes(
    path: &Path,
    bytes: &[u8],
    params: &mut ParamStore,
) -> Result<(), CheckpointError> {
    let tensors = tensors::deserialize(path, bytes)?;
    for i in 0..params.entries().len() {
        let entry = params.entries()[i].clone();
        let t = tensors
            .tensor(&entry.name)
            .map_err(|_| format_err(path, format!("missing tensor `{}`", entry.name)))?;
        if t.shape() != entry.shape.as_slice() || t.dtype() != Dtype::F32 {
            return Err(format_err(
                path,
                format!(
                    "tensor `{}` is {:?} {:?}, the model expects F32 {:?}",
                    entry.name,
                    t.dtype(),
                    t.shape(),
                    entry.shape
                ),
            ));
        }
        let dst = &mut params.values[entry.range()];
        for (d, chunk) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
            *d = f32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
    }
    Ok(())
}

/// Writes a checkpoint directory atomically: build `.name.tmp-PID-N` with the weights, the
/// trainer state, the summary and (last) the manifest, sync it, then move it to `name`.
/// An older checkpoint of the same name is replaced only by a complete new one, and there is
/// never a moment without one (see [`replace_dir`]). The state's large buffers are taken out
/// for `trainer.safetensors` while the rest is serialized, and put back before returning.
pub fn write_checkpoint<S: Serialize + StateTensors>(
    dir: &Path,
    params: &ParamStore,
    trainer_state: &mut S,
    info: &CheckpointInfo,
) -> Result<(), CheckpointError> {
    let weights = params_to_safetensors(params).map_err(|e| format_err(dir, e))?;
    let taken = tensors::take(trainer_state);
    let state = rmp_serde::to_vec_named(trainer_state).map_err(|e| format_err(dir, e));
    let buffers = (!taken.is_empty()).then(|| tensors::to_bytes(&taken));
    tensors::put_back(trainer_state, taken);
    let state = state?;
    let buffers = buffers
        .transpose()
        .map_err(|e| format_err(&dir.join(STATE_TENSORS), e))?;
    let summary = serde_json::to_vec_pretty(info).expect("info serializes");
    let mut files: Vec<(&str, &[u8])> = vec![("model.safetensors", &weights)];
    if let Some(b) = &buffers {
        files.push((STATE_TENSORS, b));
    }
    files.push(("trainer.msgpack", &state));
    files.push(("checkpoint.json", &summary));
    write_files(dir, &files)
}

/// Writes `files` and their manifest as the checkpoint directory `dir`, atomically.
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), CheckpointError> {
    let parent = parent_of(dir);
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = unique_temp_sibling(dir, "tmp");
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        let mut manifest = Manifest::default();
        for (name, bytes) in files {
            // Errors name the file the user knows, not the temporary directory.
            let p = tmp.join(name);
            write_file_synced(&p, bytes).map_err(io_err(&dir.join(name)))?;
            manifest.add(name, bytes);
        }
        let p = tmp.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        write_file_synced(&p, &json).map_err(io_err(&dir.join(MANIFEST)))?;
        sync_dir(&tmp).map_err(io_err(&tmp))?;
        replace_dir(&tmp, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Moves the complete directory `new` to `dir`. An existing `dir` is swapped with `new` in
/// one step where the system can (Linux `renameat2(RENAME_EXCHANGE)`), then removed; else it
/// is first renamed to `.NAME.old`, which [`recover`] puts back should the process die
/// before the second rename. The parent directory is synced afterwards.
pub fn replace_dir(new: &Path, dir: &Path) -> Result<(), CheckpointError> {
    let parent = parent_of(dir);
    if dir.exists() {
        if exchange(new, dir).is_ok() {
            sync_dir(parent).map_err(io_err(parent))?;
            // `new` now holds the previous checkpoint.
            let _ = std::fs::remove_dir_all(new);
            return Ok(());
        }
        let old = old_sibling(dir);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).map_err(io_err(dir))?;
        if let Err(e) = std::fs::rename(new, dir) {
            // Put the previous one back; the caller removes `new`.
            let _ = std::fs::rename(&old, dir);
            return Err(CheckpointError::Io {
                path: dir.to_path_buf(),
                source: e,
            });
        }
        sync_dir(parent).map_err(io_err(parent))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(new, dir).map_err(io_err(dir))?;
        sync_dir(parent).map_err(io_err(parent))?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

fn old_sibling(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_of(dir).join(format!(".{name}.old"))
}

/// After a crash between the two renames of [`replace_dir`]: puts `.NAME.old` back when
/// `NAME` is missing, drops it when `NAME` is there; removes leftover temp directories.
/// Only the process that owns the run (holds its lock) may call this.
pub fn recover(checkpoints: &Path) -> Result<(), CheckpointError> {
    let Ok(entries) = std::fs::read_dir(checkpoints) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if let Some(base) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".old")) {
            let target = checkpoints.join(base);
            if target.exists() {
                std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                std::fs::rename(&path, &target).map_err(io_err(&target))?;
                sync_dir(checkpoints).map_err(io_err(checkpoints))?;
            }
        } else if name.starts_with('.') && name.contains(".tmp-") {
            std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// `dir`, or the `.NAME.old` copy a crash during its replacement left (for readers that do
/// not own the run and so must not repair it).
pub fn existing_or_old(dir: &Path) -> PathBuf {
    let old = old_sibling(dir);
    if !dir.exists() && old.exists() {
        old
    } else {
        dir.to_path_buf()
    }
}

pub fn read_info(dir: &Path) -> Result<CheckpointInfo, CheckpointError> {
    let p = dir.join("checkpoint.json");
    let bytes = std::fs::read(&p).map_err(io_err(&p))?;
    serde_json::from_slice(&bytes).map_err(|e| format_err(&p, e))
}

/// The trainer state, verified against the manifest, its buffers read from
/// `trainer.safetensors` (or, in a checkpoint from before that file, from `trainer.msgpack`)
/// and checked to fit a model of `params` numbers.
pub fn read_trainer_state<S: DeserializeOwned + StateTensors>(
    dir: &Path,
    params: usize,
) -> Result<S, CheckpointError> {
    let p = dir.join("trainer.msgpack");
    let manifest = Manifest::read(dir)?;
    let bytes = manifest.read_checked(dir, "trainer.msgpack")?;
    let mut state: S = rmp_serde::from_slice(&bytes)
        .map_err(|e| format_err(&p, format!("unreadable trainer state: {e}")))?;
    if manifest.files.contains_key(STATE_TENSORS) {
        let bytes = manifest.read_checked(dir, STATE_TENSORS)?;
        tensors::fill(&dir.join(STATE_TENSORS), &bytes, &mut state)?;
    }
    tensors::check_sizes(&mut state, params).map_err(|reason| {
        manifest::damaged(
            dir,
            format!("the trainer state does not fit the model: {reason}"),
        )
    })?;
    Ok(state)
}

/// The newest periodic checkpoint that passes [`verify`], and each newer one that did not,
/// with why.
pub fn newest_intact(checkpoints: &Path) -> (Option<PathBuf>, Vec<CheckpointError>) {
    let mut damaged = Vec::new();
    for dir in list_step_checkpoints(checkpoints).into_iter().rev() {
        match verify(&dir) {
            Ok(()) => return (Some(dir), damaged),
            Err(e) => damaged.push(e),
        }
    }
    (None, damaged)
}

/// Periodic checkpoints are named `step-00001200`; this lists them oldest first.
pub fn list_step_checkpoints(checkpoints: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(checkpoints)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    dirs.sort();
    dirs
}

pub fn step_dir(checkpoints: &Path, step: u64) -> PathBuf {
    checkpoints.join(step_dir_name(step))
}

pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Deletes all but the newest `keep` periodic checkpoints (the `best` one is separate).
pub fn prune(checkpoints: &Path, keep: usize) -> Result<(), CheckpointError> {
    let dirs = list_step_checkpoints(checkpoints);
    for d in dirs.iter().take(dirs.len().saturating_sub(keep.max(1))) {
        std::fs::remove_dir_all(d).map_err(io_err(d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
