//! TensorBoard event files beside `metrics.jsonl`: `RUN/tensorboard/events.out.tfevents.*`
//! with `train/loss`, `train/lr`, `train/grad_norm`, `val/loss` as scalars and the trainer's
//! events (checkpoints, guard actions, the end) as text, so `tensorboard --logdir runs` shows
//! rnnlab runs next to everything else. The protobuf messages are written by hand (a handful
//! of fields); records are TFRecord framed with masked crc32c checksums.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DIR: &str = "tensorboard";

pub struct EventWriter {
    path: PathBuf,
    file: File,
}

fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
fn bytes_field(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn event(step: i64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut e = Vec::new();
    e.push(0x09); // wall_time: double
    e.extend_from_slice(&wall.to_le_bytes());
    if step != 0 {
        // step: int64 (left out at 0, its default, as TensorFlow does)
        e.push(0x10);
        varint(&mut e, step as u64);
    }
    body(&mut e);
    e
}

impl EventWriter {
    /// Creates a new event file under `run/tensorboard/` (a resumed run gets a file of its
    /// own; TensorBoard reads them together).
    pub fn create(run: &Path) -> std::io::Result<EventWriter> {
        let dir = run.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // A new file each time, even for a restart within the same second and process.
        let base = format!("events.out.tfevents.{secs}.rnnlab.{}", std::process::id());
        let mut n = 0u32;
        let (path, file) = loop {
            let name = if n == 0 {
                base.clone()
            } else {
                format!("{base}.{n}")
            };
            let path = dir.join(name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut w = EventWriter { path, file };
        let header = event(0, |e| bytes_field(e, 3, b"brain.Event:2"));
        w.record(&header)?;
        Ok(w)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut rec = Vec::with_capacity(data.len() + 16);
        rec.extend_from_slice(&len);
        rec.extend_from_slice(&masked_crc(&len).to_le_bytes());
        rec.extend_from_slice(data);
        rec.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file.write_all(&rec)
    }

    /// Scalars at `step`, one summary value each.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> std::io::Result<()> {
        let e = event(step as i64, |e| {
            let mut summary = Vec::new();
            for (tag, v) in values {
                let mut value = Vec::new();
                bytes_field(&mut value, 1, tag.as_bytes());
                value.push(0x15); // simple_value: float
                value.extend_from_slice(&(*v as f32).to_le_bytes());
                bytes_field(&mut summary, 1, &value);
            }
            bytes_field(e, 5, &summary);
        });
        self.record(&e)
    }

    /// A text entry (TensorBoard's text plugin: a string tensor).
    pub fn text(&mut self, step: u64, tag: &str, text: &str) -> std::io::Result<()> {
        let e = event(step as i64, |e| {
            let mut tensor = Vec::new();
            tensor.extend_from_slice(&[0x08, 7]); // dtype: DT_STRING
            bytes_field(&mut tensor, 2, &[]); // tensor_shape: scalar
            bytes_field(&mut tensor, 8, text.as_bytes()); // string_val
            let mut plugin = Vec::new();
            bytes_field(&mut plugin, 1, b"text"); // plugin_name
            let mut metadata = Vec::new();
            bytes_field(&mut metadata, 1, &plugin); // plugin_data
            let mut value = Vec::new();
            bytes_field(&mut value, 1, tag.as_bytes());
            bytes_field(&mut value, 8, &tensor);
            bytes_field(&mut value, 9, &metadata);
            let mut summary = Vec::new();
            bytes_field(&mut summary, 1, &value);
            bytes_field(e, 5, &summary);
        });
        self.record(&e)
    }

    /// Marks a restart at `step` (`SessionLog { status: START }`): TensorBoard drops what
    /// earlier files logged at `step` and after, so a run resumed from an older checkpoint
    /// shows one curve, not the discarded steps beside the redone ones.
    pub fn session_start(&mut self, step: u64) -> std::io::Result<()> {
        let e = event(step as i64, |e| {
            let mut log = Vec::new();
            log.extend_from_slice(&[0x08, 1]); // status: START
            bytes_field(e, 7, &log); // session_log
        });
        self.record(&e)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doctor_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        for step in 0..50u64 {
            let loss = 4.0 - step as f64 * 0.05;
            w.scalars(
                step,
                &[
                    ("train/loss", loss),
                    ("train/lr", 0.003),
                    ("train/grad_norm", 0.5),
                ],
            )
            .unwrap();
            if step % 10 == 9 {
                w.scalars(step + 1, &[("val/loss", loss + 0.1)]).unwrap();
            }
        }
        w.text(25, "events", "guard_skip: step 25: loss spike")
            .unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        // The header record every event file starts with.
        assert_eq!(&bytes[..12], b"\x18\0\0\0\0\0\0\0\xa3\x7fK\"");
        let run = doctor::formats::load(&dir.path().join(DIR), &Default::default()).unwrap();
        assert_eq!(run.train_loss.len(), 50);
        assert_eq!(run.val_loss.len(), 5);
        assert_eq!(run.lr.len(), 50);
        assert_eq!(run.grad_norm.len(), 50);
        assert!((run.train_loss[10].value - 3.5).abs() < 1e-6);
        assert_eq!(run.val_loss[0].step, 10.0);
    }

    #[test]
    fn a_resumed_run_replaces_the_steps_it_redoes() {
        // Steps 0..50 logged, then the run resumes from its checkpoint at 30 and logs 30..40
        // with other values before it stops: steps 30..50 of the first file no longer count,
        // not even 40..50, which the second file does not overwrite.
        let dir = tempfile::tempdir().unwrap();
        let mut first = EventWriter::create(dir.path()).unwrap();
        for step in 0..50u64 {
            first.scalars(step, &[("train/loss", 4.0)]).unwrap();
        }
        first.flush().unwrap();
        let mut second = EventWriter::create(dir.path()).unwrap();
        assert_ne!(first.path(), second.path());
        second.session_start(30).unwrap();
        for step in 30..40u64 {
            second.scalars(step, &[("train/loss", 2.0)]).unwrap();
        }
        second.flush().unwrap();
        let run = doctor::formats::load(&dir.path().join(DIR), &Default::default()).unwrap();
        let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, (0..40).map(f64::from).collect::<Vec<_>>());
        assert!(run.train_loss[..30].iter().all(|p| p.value == 4.0));
        assert!(run.train_loss[30..].iter().all(|p| p.value == 2.0));
    }
}
