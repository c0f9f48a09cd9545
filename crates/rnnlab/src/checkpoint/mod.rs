//! Checkpoints: `checkpoints/<name>/` holds `model.safetensors` (weights under PyTorch's
//! parameter names, loadable into `torch.nn.LSTM/GRU/RNN`), `trainer.msgpack` (optimizer moments,
//! RNG, data position, schedule and carried hidden state, for bit-identical resume) and
//! `checkpoint.json` (a readable summary), and `manifest.json` (size and sha256 of each of them,
//! see [`manifest`]). A checkpoint directory is built under a temporary name, synced, and
//! renamed into place (the parent directory synced after), so a crash, a power cut or a full
//! disk never damages an earlier one; loading verifies the manifest, so damage on disk is
//! reported as such.

pub mod manifest;

use engine::ParamStore;
use safetensors::tensor::{Dtype, TensorView};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::fsutil::{parent_of, sync_dir, unique_temp_sibling};
pub use manifest::{read_verified, verify, Manifest, MANIFEST};

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
    // The library's own error names (`MetadataIncompleteBuffer`, …) mean nothing to a user.
    let tensors = safetensors::SafeTensors::deserialize(bytes).map_err(|_| {
        format_err(
            path,
            "not a readable safetensors file (truncated or damaged)",
        )
    })?;
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
/// never a moment without one (see [`replace_dir`]).
pub fn write_checkpoint<S: Serialize>(
    dir: &Path,
    params: &ParamStore,
    trainer_state: &S,
    info: &CheckpointInfo,
) -> Result<(), CheckpointError> {
    let weights = params_to_safetensors(params).map_err(|e| format_err(dir, e))?;
    let state = rmp_serde::to_vec_named(trainer_state).map_err(|e| format_err(dir, e))?;
    let summary = serde_json::to_vec_pretty(info).expect("info serializes");
    write_files(
        dir,
        &[
            ("model.safetensors", &weights),
            ("trainer.msgpack", &state),
            ("checkpoint.json", &summary),
        ],
    )
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

/// The trainer state, verified against the manifest.
pub fn read_trainer_state<S: DeserializeOwned>(dir: &Path) -> Result<S, CheckpointError> {
    let p = dir.join("trainer.msgpack");
    let bytes = read_verified(dir, "trainer.msgpack")?;
    rmp_serde::from_slice(&bytes)
        .map_err(|e| format_err(&p, format!("unreadable trainer state: {e}")))
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
mod tests {
    use super::*;

    fn store() -> ParamStore {
        let mut p = ParamStore::new();
        let a = p.add("rnn.weight_ih_l0", &[4, 3]);
        let b = p.add("decoder.bias", &[5]);
        for (i, v) in p.value_mut(a).iter_mut().enumerate() {
            *v = i as f32 * 0.5 - 1.0;
        }
        p.value_mut(b).fill(f32::MIN_POSITIVE);
        p
    }

    #[test]
    fn round_trip_is_exact_and_old_checkpoints_survive_a_failed_write() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = dir.path().join("checkpoints");
        let p = store();
        let state = (42u64, vec![1.5f32, -0.0, f32::EPSILON]);
        for step in [100, 200, 300] {
            let info = CheckpointInfo {
                step,
                val_loss: Some(1.0),
                params: p.len(),
            };
            write_checkpoint(&step_dir(&ckpts, step), &p, &state, &info).unwrap();
        }
        prune(&ckpts, 2).unwrap();
        let left = list_step_checkpoints(&ckpts);
        assert_eq!(left.len(), 2);
        assert!(left[1].ends_with("step-00000300"));

        let mut q = store();
        q.values.fill(0.0);
        load_safetensors_into(&left[1].join("model.safetensors"), &mut q).unwrap();
        assert_eq!(q.values, p.values);
        let back: (u64, Vec<f32>) = read_trainer_state(&left[1]).unwrap();
        assert_eq!(back, state);
        assert_eq!(read_info(&left[1]).unwrap().step, 300);

        // Writing under a path whose parent is a file fails cleanly and harms nothing.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let info = CheckpointInfo {
            step: 1,
            val_loss: None,
            params: 0,
        };
        assert!(write_checkpoint(&blocker.join("step-1"), &p, &state, &info).is_err());
        assert_eq!(list_step_checkpoints(&ckpts).len(), 2);
    }

    #[test]
    fn load_rejects_wrong_shape_naming_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let p = store();
        let path = dir.path().join("m.safetensors");
        std::fs::write(&path, params_to_safetensors(&p).unwrap()).unwrap();
        let mut other = ParamStore::new();
        other.add("rnn.weight_ih_l0", &[3, 4]);
        let err = load_safetensors_into(&path, &mut other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rnn.weight_ih_l0") && err.contains("m.safetensors"),
            "{err}"
        );
        let mut missing = ParamStore::new();
        missing.add("encoder.weight", &[2]);
        let err = load_safetensors_into(&path, &mut missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing tensor `encoder.weight`"), "{err}");
    }

    fn write_steps(ckpts: &Path, steps: &[u64]) -> ParamStore {
        let p = store();
        for &step in steps {
            let info = CheckpointInfo {
                step,
                val_loss: None,
                params: p.len(),
            };
            write_checkpoint(&step_dir(ckpts, step), &p, &(step, 1.5f32), &info).unwrap();
        }
        p
    }

    fn flip_byte(path: &Path, at: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        let i = at.min(bytes.len() - 1);
        bytes[i] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn damage_is_named_and_the_newest_intact_checkpoint_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = dir.path().join("checkpoints");
        let p = write_steps(&ckpts, &[100, 200, 300]);
        let s300 = step_dir(&ckpts, 300);
        let s200 = step_dir(&ckpts, 200);
        // A flipped byte deep inside the weights, where the format itself cannot notice.
        let weights = s300.join("model.safetensors");
        let len = std::fs::metadata(&weights).unwrap().len() as usize;
        flip_byte(&weights, len - 3);
        let mut q = store();
        let err = load_weights(&s300, &mut q).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "checkpoint {} is damaged: checksum mismatch in model.safetensors",
                s300.display()
            )
        );
        // A truncated trainer state in the next one.
        let state = s200.join("trainer.msgpack");
        let bytes = std::fs::read(&state).unwrap();
        std::fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_trainer_state::<(u64, f32)>(&s200)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trainer.msgpack is") && err.contains("truncated"),
            "{err}"
        );

        let (intact, damaged) = newest_intact(&ckpts);
        assert_eq!(intact.unwrap(), step_dir(&ckpts, 100));
        assert_eq!(damaged.len(), 2);
        load_weights(&step_dir(&ckpts, 100), &mut q).unwrap();
        assert_eq!(q.values, p.values);

        // No manifest (an incomplete copy): damaged too.
        std::fs::remove_file(step_dir(&ckpts, 100).join(MANIFEST)).unwrap();
        assert!(newest_intact(&ckpts).0.is_none());
        assert!(verify(&step_dir(&ckpts, 100))
            .unwrap_err()
            .to_string()
            .contains("manifest.json is missing"));
    }

    #[test]
    fn a_bare_damaged_weights_file_gets_a_plain_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let bytes = params_to_safetensors(&store()).unwrap();
        std::fs::write(&path, &bytes[..20]).unwrap();
        let err = load_safetensors_into(&path, &mut store())
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated or damaged"), "{err}");
        assert!(!err.contains("Metadata"), "{err}");
    }

    #[test]
    fn replacing_best_always_leaves_a_best_and_a_crash_between_renames_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = dir.path().join("checkpoints");
        let best = ckpts.join("best");
        let p = store();
        let info = |step| CheckpointInfo {
            step,
            val_loss: Some(1.0),
            params: p.len(),
        };
        write_checkpoint(&best, &p, &(), &info(1)).unwrap();
        write_checkpoint(&best, &p, &(), &info(2)).unwrap();
        assert_eq!(read_info(&best).unwrap().step, 2);
        verify(&best).unwrap();
        let names: Vec<_> = std::fs::read_dir(&ckpts)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["best"], "the previous copy and temps are gone");

        // A crash after `best` was moved aside and before the new one was moved in.
        std::fs::rename(&best, ckpts.join(".best.old")).unwrap();
        assert_eq!(existing_or_old(&best), ckpts.join(".best.old"));
        recover(&ckpts).unwrap();
        assert_eq!(read_info(&best).unwrap().step, 2);
        assert!(!ckpts.join(".best.old").exists());
        // A crash after both renames: the old copy is dropped, a leftover temp too.
        std::fs::create_dir(ckpts.join(".best.old")).unwrap();
        std::fs::create_dir(ckpts.join(".best.tmp-1-0")).unwrap();
        recover(&ckpts).unwrap();
        let names: Vec<_> = std::fs::read_dir(&ckpts)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["best"]);
    }
}
