//! `manifest.json`: the size and sha256 of every other file of a checkpoint, written last
//! inside the checkpoint's temporary directory (so it is renamed into place with the rest).
//! Loading checks it, so damage on disk (a flipped byte, a truncated copy) is reported as
//! damage instead of surfacing as a NaN loss or a training problem.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CheckpointError;

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSum {
    pub bytes: u64,
    pub sha256: String,
}

impl FileSum {
    pub fn of(bytes: &[u8]) -> FileSum {
        FileSum {
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: BTreeMap<String, FileSum>,
}

impl Manifest {
    pub fn add(&mut self, name: &str, bytes: &[u8]) {
        self.files.insert(name.to_string(), FileSum::of(bytes));
    }

    /// Reads `dir/manifest.json`; a missing or unreadable one makes the checkpoint damaged.
    pub fn read(dir: &Path) -> Result<Manifest, CheckpointError> {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| {
            damaged(
                dir,
                if e.kind() == std::io::ErrorKind::NotFound {
                    format!("{MANIFEST} is missing (an incomplete copy, or a checkpoint from before checksums)")
                } else {
                    format!("cannot read {MANIFEST}: {e}")
                },
            )
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|_| damaged(dir, format!("{MANIFEST} is not readable JSON")))
    }

    /// Checks `bytes`, just read from `dir/name`, against the manifest.
    pub fn check(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
        let want = self
            .files
            .get(name)
            .ok_or_else(|| damaged(dir, format!("{MANIFEST} does not list {name}")))?;
        if bytes.len() as u64 != want.bytes {
            return Err(damaged(
                dir,
                format!(
                    "{name} is {} bytes, the manifest says {} (truncated or overwritten)",
                    bytes.len(),
                    want.bytes
                ),
            ));
        }
        if FileSum::of(bytes).sha256 != want.sha256 {
            return Err(damaged(dir, format!("checksum mismatch in {name}")));
        }
        Ok(())
    }
}

pub(super) fn damaged(dir: &Path, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Damaged {
        dir: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads `dir/name` and checks it against `dir`'s manifest.
pub fn read_verified(dir: &Path, name: &str) -> Result<Vec<u8>, CheckpointError> {
    Manifest::read(dir)?.read_checked(dir, name)
}

impl Manifest {
    /// Reads `dir/name` and checks it against this manifest.
    pub fn read_checked(&self, dir: &Path, name: &str) -> Result<Vec<u8>, CheckpointError> {
        read_checked(self, dir, name)
    }
}

fn read_checked(manifest: &Manifest, dir: &Path, name: &str) -> Result<Vec<u8>, CheckpointError> {
    let path: PathBuf = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            damaged(dir, format!("{name} is missing"))
        } else {
            CheckpointError::Io { path, source: e }
        }
    })?;
    manifest.check(dir, name, &bytes)?;
    Ok(bytes)
}

/// Checks every file the manifest lists.
pub fn verify(dir: &Path) -> Result<(), CheckpointError> {
    let manifest = Manifest::read(dir)?;
    for name in manifest.files.keys() {
        read_checked(&manifest, dir, name)?;
    }
    Ok(())
}
