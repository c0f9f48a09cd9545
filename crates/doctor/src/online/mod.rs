//! The doctor's judgement in streaming form, for a trainer that must act before a bad update
//! spreads: a [`Detector`] scores each step's loss and gradient norm against a rolling window
//! of applied steps (spike, divergence, non-finite), and a [`Monitor`] turns those readings
//! into an action (apply, skip, roll back, stop). O(window) per step, no allocation after
//! the window fills; rnnlab's training guard and the Python `rnnlab.Guard` both run it.

mod detector;
mod monitor;
pub mod window;

pub use detector::{Detector, DetectorConfig, Reading, Verdict};
pub use monitor::{Action, Decision, Mode, Monitor, MonitorConfig, Reason};
