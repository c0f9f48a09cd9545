//! One trainer per run directory: an advisory lock on `RUN/lock`, held for the trainer's
//! life and released by the system when the process ends, however it ends. The file holds the
//! holder's process id so a second trainer can say who has the run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};

pub const LOCK_FILE: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{run} is in use by another trainer ({holder}); wait for it to finish, stop it, or \
         train under another --name"
    )]
    Held { run: PathBuf, holder: String },
    #[error("{path}: cannot lock the run directory: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while it lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of the existing directory `run`, or says which process holds it.
    pub fn acquire(run: &Path) -> Result<RunLock, LockError> {
        let path = run.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) => format!("process {pid}"),
                    Err(_) => "a process that has not written its id yet".into(),
                };
                return Err(LockError::Held {
                    run: run.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts
        // just as another process's would.
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("in use by another trainer"), "{err}");
        drop(first);
        RunLock::acquire(dir.path()).expect("free again once the holder is gone");
    }
}
