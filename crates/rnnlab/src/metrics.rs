//! The metrics log `metrics.jsonl`: one JSON object per line, appended with one write per line
//! so a crash never leaves a half-written record before a complete one, and cut back to its
//! last whole line when a write fails (a full disk), so the log never ends in a partial line.
//! Schema in the README.
//!
//! Non-finite numbers are written as the strings `"NaN"`, `"inf"` and `"-inf"` (JSON has no
//! literal for them), so a NaN loss stays visible to the doctor instead of becoming `null`.

use serde::{Serialize, Serializer};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn finite_or_string<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// One optimizer step.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step: u64,
    pub epoch: f64,
    pub tokens: u64,
    #[serde(serialize_with = "finite_or_string")]
    pub loss: f64,
    pub lr: f64,
    /// Global gradient norm before clipping.
    #[serde(serialize_with = "finite_or_string")]
    pub grad_norm: f64,
    pub clipped: bool,
    pub tok_per_s: f64,
    pub time_s: f64,
}

/// One evaluation on the validation split.
#[derive(Debug, Clone, Serialize)]
pub struct EvalRecord {
    pub step: u64,
    pub epoch: f64,
    pub tokens: u64,
    #[serde(serialize_with = "finite_or_string")]
    pub val_loss: f64,
    #[serde(serialize_with = "finite_or_string")]
    pub val_ppl: f64,
    /// Bits per token (per character for char-level runs).
    #[serde(serialize_with = "finite_or_string")]
    pub val_bpc: f64,
    pub time_s: f64,
}

/// Something the trainer did: checkpoint, early stop, guard action, …
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub step: u64,
    pub event: String,
    pub detail: String,
}

pub struct MetricsLog {
    path: PathBuf,
    file: File,
    /// Length of the log up to its last whole line.
    len: u64,
    /// The same records as TensorBoard events (see [`crate::tensorboard`]), while writable.
    tb: Option<crate::tensorboard::EventWriter>,
    /// Testing aid: fail the write that would take the log past this many bytes, after
    /// writing up to it (as a full disk does).
    #[cfg(test)]
    fail_past: Option<u64>,
}

impl MetricsLog {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> std::io::Result<MetricsLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
            len,
            tb: None,
            #[cfg(test)]
            fail_past: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Also writes the records as a TensorBoard event file under `run/tensorboard/`. It is a
    /// second view: if it cannot be written the log goes on, and a warning says so.
    pub fn with_tensorboard(mut self, run: &Path) -> MetricsLog {
        match crate::tensorboard::EventWriter::create(run) {
            Ok(w) => self.tb = Some(w),
            Err(e) => tb_warning(&run.join(crate::tensorboard::DIR), &e),
        }
        self
    }

    fn tb(
        &mut self,
        write: impl FnOnce(&mut crate::tensorboard::EventWriter) -> std::io::Result<()>,
    ) {
        if let Some(w) = &mut self.tb {
            if let Err(e) = write(w) {
                tb_warning(w.path(), &e);
                self.tb = None;
            }
        }
    }

    /// A resumed run restarts at `step`: the TensorBoard view drops what it logged from there
    /// on before (metrics.jsonl was already cut back to the checkpoint).
    pub fn resumed_at(&mut self, step: u64) {
        self.tb(|w| w.session_start(step));
    }

    /// Bytes written so far (whole lines only).
    pub fn len(&self) -> std::io::Result<u64> {
        Ok(self.len)
    }

    pub fn is_empty(&self) -> std::io::Result<bool> {
        Ok(self.len()? == 0)
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match self.append(&line) {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Take back whatever part of the line made it, so the log ends on a whole line.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(limit) = self.fail_past {
            if self.len + line.len() as u64 > limit {
                let room = limit.saturating_sub(self.len) as usize;
                self.file.write_all(&line[..room])?;
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
        }
        self.file.write_all(line)?;
        self.file.flush()
    }

    pub fn step(&mut self, r: &StepRecord) -> std::io::Result<()> {
        self.write(r)?;
        self.tb(|w| {
            w.scalars(
                r.step,
                &[
                    ("train/loss", r.loss),
                    ("train/lr", r.lr),
                    ("train/grad_norm", r.grad_norm),
                ],
            )
        });
        Ok(())
    }

    pub fn eval(&mut self, r: &EvalRecord) -> std::io::Result<()> {
        self.write(r)?;
        self.tb(|w| w.scalars(r.step, &[("val/loss", r.val_loss)]));
        Ok(())
    }

    pub fn event(
        &mut self,
        step: u64,
        event: &str,
        detail: impl Into<String>,
    ) -> std::io::Result<()> {
        let record = EventRecord {
            step,
            event: event.to_string(),
            detail: detail.into(),
        };
        self.write(&record)?;
        self.tb(|w| w.text(step, "events", &format!("{event}: {}", record.detail)));
        Ok(())
    }
}

fn tb_warning(path: &Path, e: &std::io::Error) {
    eprintln!(
        "rnnlab: warning: {}: cannot write the TensorBoard events ({e}); metrics.jsonl goes on",
        path.display()
    );
}

/// Cuts the log back to its first `len` bytes (the length recorded with a checkpoint),
/// atomically: a resumed run then continues the log exactly where the checkpoint was taken.
pub fn truncate_to(path: &Path, len: u64) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut bytes = std::fs::read(path)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::other(format!(
            "the log is {} bytes, shorter than the {len} recorded with the checkpoint",
            bytes.len()
        )));
    }
    bytes.truncate(len as usize);
    crate::fsutil::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_append_leaves_the_log_on_its_last_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path).unwrap();
        log.event(0, "checkpoint", "step-0").unwrap();
        let whole = std::fs::read(&path).unwrap();
        log.fail_past = Some(whole.len() as u64 + 10);
        let err = log.event(1, "checkpoint", "step-1").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "the partial line is gone"
        );
        assert_eq!(log.len().unwrap(), whole.len() as u64);
        // Once there is room again, appending goes on after the last whole line.
        log.fail_past = None;
        log.event(2, "end", "done").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with("\n"));
    }

    #[test]
    fn writes_lines_and_truncates_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path).unwrap();
        for step in 0..5 {
            log.step(&StepRecord {
                step,
                epoch: 0.0,
                tokens: step * 10,
                loss: if step == 3 { f64::NAN } else { 1.0 },
                lr: 0.1,
                grad_norm: f64::INFINITY,
                clipped: false,
                tok_per_s: 1.0,
                time_s: 0.0,
            })
            .unwrap();
        }
        log.event(4, "checkpoint", "step-4").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 6);
        assert!(text.contains(r#""loss":"NaN""#));
        assert!(text.contains(r#""grad_norm":"inf""#));
        let keep = text.lines().take(3).map(|l| l.len() as u64 + 1).sum();
        assert_eq!(log.len().unwrap(), text.len() as u64);
        truncate_to(&path, keep).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(truncate_to(&path, keep + 1).is_err());
    }
}
