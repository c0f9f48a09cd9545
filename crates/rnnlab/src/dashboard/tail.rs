//! Follows a run directory's `metrics.jsonl`: re-reads it with the doctor's loader when it
//! grows, diagnoses it, and publishes the result as a versioned snapshot that the event
//! streams wait on.
//!
//! The whole file is re-read on a change (the loader already tolerates a half-written last
//! line); the pause between reads grows with the time a read takes, so a million-step run costs
//! a bounded share of a core.

use doctor::formats::{load, LoadOptions};
use doctor::{diagnose, Diagnosis, Run};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often the file is checked for growth.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The run as last read.
#[derive(Clone, Default)]
pub struct Snapshot {
    /// Bumped on every publish; streams compare it with what they sent.
    pub version: u64,
    pub run: Option<Arc<Run>>,
    pub diagnosis: Option<Arc<Diagnosis>>,
    /// Bumped only when the verdict or findings change, so streams resend the diagnosis only then.
    pub diagnosis_version: u64,
}

/// The snapshot shared between the tailer and the connections.
pub struct Shared {
    snapshot: Mutex<Snapshot>,
    changed: Condvar,
    pub stop: AtomicBool,
    /// Open `/events` streams (bounded so that they never crowd out page requests).
    pub streams: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            snapshot: Mutex::new(Snapshot::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            streams: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    pub fn current(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the version differs from `seen`, `timeout` passes or the server stops.
    pub fn wait_newer(&self, seen: u64, timeout: Duration) -> Snapshot {
        let guard = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| {
                s.version == seen && !self.stop.load(Ordering::Relaxed)
            })
            .unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }

    fn publish(&self, run: Run, diagnosis: Diagnosis) {
        let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let findings_changed = s.diagnosis.as_deref().is_none_or(|old| {
            old.verdict != diagnosis.verdict || old.findings != diagnosis.findings
        });
        if findings_changed {
            s.diagnosis_version += 1;
        }
        s.version += 1;
        s.run = Some(Arc::new(run));
        s.diagnosis = Some(Arc::new(diagnosis));
        drop(s);
        self.changed.notify_all();
    }

    /// Wakes every waiting stream so it notices the stop flag.
    pub fn wake_all(&self) {
        self.changed.notify_all();
    }
}

/// The file the run's curves are in: `metrics.jsonl` in a run directory, or the path itself.
pub fn metrics_path(run: &Path) -> PathBuf {
    if run.is_dir() {
        run.join("metrics.jsonl")
    } else {
        run.to_path_buf()
    }
}

/// Size and modification time: a change in either means the file was written.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Polls until `shared.stop` is set. Read errors are printed once each, the last good
/// snapshot stays published.
pub fn follow(run_path: PathBuf, shared: Arc<Shared>) {
    let metrics = metrics_path(&run_path);
    let mut last_stamp = None;
    let mut last_error = None::<String>;
    let mut pause = POLL_INTERVAL;
    while !shared.stop.load(Ordering::Relaxed) {
        let now = stamp(&metrics);
        if now.is_some() && now != last_stamp {
            let started = Instant::now();
            match load(&metrics, &LoadOptions::default()) {
                Ok(run) => {
                    let diagnosis = diagnose(&run);
                    shared.publish(run, diagnosis);
                    last_stamp = now;
                    last_error = None;
                }
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_deref() != Some(&message) {
                        eprintln!("dashboard: {message}");
                    }
                    last_error = Some(message);
                }
            }
            pause = POLL_INTERVAL.max(started.elapsed() * 2);
        }
        sleep_unless_stopped(pause, &shared.stop);
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let end = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
