//! The events a training guard logs (rnnlab's `guard_skip` / `guard_rollback` / `guard_stop`,
//! or any event named like them): detectors use them to say what was already handled.

use crate::detect::step_str;
use crate::Event;

/// An event that a guard (or a trainer's skip logic) wrote.
pub(crate) fn is_guard_event(e: &Event) -> bool {
    let k = e.kind.to_ascii_lowercase();
    k.contains("skip") || k.contains("rollback") || k.contains("guard")
}

/// A guard event that kept an update out of the weights: a skip or a rollback.
pub(crate) fn undid_update(e: &Event) -> bool {
    let k = e.kind.to_ascii_lowercase();
    k.contains("skip") || k.contains("rollback")
}

/// "the guard skipped the update at step N", for a finding's evidence.
pub(crate) fn describe(e: &Event) -> String {
    let k = e.kind.to_ascii_lowercase();
    let what = if k.contains("rollback") {
        "rolled back".to_string()
    } else if k.contains("skip") {
        "skipped the update".to_string()
    } else {
        format!("reported `{}`", e.kind)
    };
    format!("the guard {what} at step {}", step_str(e.step))
}
