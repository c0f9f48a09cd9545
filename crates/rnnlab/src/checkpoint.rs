//! Checkpoints: `checkpoints/<name>/` holds `model.safetensors` (weights under PyTorch's
//! parameter names, loadable into `torch.nn.LSTM/GRU/RNN`), `trainer.msgpack` (optimizer moments,
//! RNG, data position, schedule and carried hidden state, for bit-identical resume) and
//! `checkpoint.json` (a readable summary). A checkpoint directory is built under a temporary
//! name and renamed into place, so a crash or a full disk never damages an earlier one.

use engine::ParamStore;
use safetensors::tensor::{Dtype, TensorView};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::fsutil::write_atomic;

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}{hint}", hint = out_of_space_hint(.source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
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
pub fn load_safetensors_into(path: &Path, params: &mut ParamStore) -> Result<(), CheckpointError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format_err(path, e))?;
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

/// Writes a checkpoint directory atomically: build `.name.tmp`, then rename to `name`
/// (replacing an older one of the same name only after the new one is complete).
pub fn write_checkpoint<S: Serialize>(
    dir: &Path,
    params: &ParamStore,
    trainer_state: &S,
    info: &CheckpointInfo,
) -> Result<(), CheckpointError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        let weights = params_to_safetensors(params).map_err(|e| format_err(&tmp, e))?;
        let p = tmp.join("model.safetensors");
        write_atomic(&p, &weights).map_err(io_err(&p))?;
        let state = rmp_serde::to_vec_named(trainer_state).map_err(|e| format_err(&tmp, e))?;
        let p = tmp.join("trainer.msgpack");
        write_atomic(&p, &state).map_err(io_err(&p))?;
        let p = tmp.join("checkpoint.json");
        let summary = serde_json::to_vec_pretty(info).expect("info serializes");
        write_atomic(&p, &summary).map_err(io_err(&p))?;
        if dir.exists() {
            let old = parent.join(format!(".{name}.old"));
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(dir, &old).map_err(io_err(dir))?;
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

pub fn read_info(dir: &Path) -> Result<CheckpointInfo, CheckpointError> {
    let p = dir.join("checkpoint.json");
    let bytes = std::fs::read(&p).map_err(io_err(&p))?;
    serde_json::from_slice(&bytes).map_err(|e| format_err(&p, e))
}

pub fn read_trainer_state<S: DeserializeOwned>(dir: &Path) -> Result<S, CheckpointError> {
    let p = dir.join("trainer.msgpack");
    let bytes = std::fs::read(&p).map_err(io_err(&p))?;
    rmp_serde::from_slice(&bytes)
        .map_err(|e| format_err(&p, format!("unreadable trainer state: {e}")))
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
    checkpoints.join(format!("step-{step:08}"))
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
}
