//! The messages one event stream sends: everything first, then only what is new — points past
//! the last step sent, events past the last count sent, and the diagnosis when its findings
//! changed. A run that shrank (rewritten from the start) is sent whole again.

use super::tail::Snapshot;
use doctor::{Point, Run};
use plot::{page_data_json, UpdateMode};

/// What a stream has sent so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub version: u64,
    last_steps: [Option<f64>; 4],
    events: usize,
    diagnosis_version: u64,
}

fn series(run: &Run) -> [&Vec<Point>; 4] {
    [&run.train_loss, &run.val_loss, &run.lr, &run.grad_norm]
}

fn last_steps(run: &Run) -> [Option<f64>; 4] {
    series(run).map(|s| s.last().map(|p| p.step))
}

fn after(points: &[Point], step: Option<f64>) -> Vec<Point> {
    match step {
        None => points.to_vec(),
        Some(s) => {
            let first_new = points.partition_point(|p| p.step <= s);
            points[first_new..].to_vec()
        }
    }
}

/// The next message for a stream that has sent `sent`, or `None` when there is nothing new.
pub fn next_message(sent: &mut Option<Sent>, snap: &Snapshot) -> Option<String> {
    let run = snap.run.as_deref()?;
    let now_last = last_steps(run);
    let shrank = sent.as_ref().is_some_and(|s| {
        run.events.len() < s.events
            || s.last_steps
                .iter()
                .zip(&now_last)
                .any(|(old, new)| matches!((old, new), (Some(o), n) if n.is_none_or(|n| n < *o)))
    });
    let message = match sent.as_ref() {
        Some(s) if !shrank => {
            if s.version == snap.version {
                return None;
            }
            let delta = Run {
                name: run.name.clone(),
                train_loss: after(&run.train_loss, s.last_steps[0]),
                val_loss: after(&run.val_loss, s.last_steps[1]),
                lr: after(&run.lr, s.last_steps[2]),
                grad_norm: after(&run.grad_norm, s.last_steps[3]),
                events: run.events[s.events..].to_vec(),
                references: run.references.clone(),
                steps_per_epoch: run.steps_per_epoch,
                fixed_batch_order: run.fixed_batch_order,
                vocab_size: run.vocab_size,
                warnings: Vec::new(),
                columns: run.columns.clone(),
            };
            let diagnosis = (snap.diagnosis_version != s.diagnosis_version)
                .then_some(snap.diagnosis.as_deref())
                .flatten();
            page_data_json(&delta, diagnosis, UpdateMode::Append)
        }
        _ => page_data_json(run, snap.diagnosis.as_deref(), UpdateMode::Replace),
    };
    *sent = Some(Sent {
        version: snap.version,
        last_steps: now_last,
        events: run.events.len(),
        diagnosis_version: snap.diagnosis_version,
    });
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::Arc;

    fn run_with(steps: std::ops::Range<u32>) -> Run {
        Run {
            name: "r".into(),
            train_loss: steps
                .map(|s| Point {
                    step: s as f64,
                    value: 3.0,
                })
                .collect(),
            ..Run::default()
        }
    }

    fn snap(version: u64, run: Run, diagnosis_version: u64) -> Snapshot {
        let diagnosis = doctor::diagnose(&run);
        Snapshot {
            version,
            run: Some(Arc::new(run)),
            diagnosis: Some(Arc::new(diagnosis)),
            diagnosis_version,
        }
    }

    fn parse(m: &str) -> Value {
        serde_json::from_str(m).unwrap()
    }

    #[test]
    fn first_whole_then_only_new_points() {
        let mut sent = None;
        assert_eq!(next_message(&mut sent, &Snapshot::default()), None);
        let first = parse(&next_message(&mut sent, &snap(1, run_with(0..10), 1)).unwrap());
        assert_eq!(first["mode"], "replace");
        assert_eq!(first["series"]["train_loss"].as_array().unwrap().len(), 10);
        assert!(first["diagnosis"].is_object());
        // Same version: nothing to send.
        assert_eq!(next_message(&mut sent, &snap(1, run_with(0..10), 1)), None);

        let second = parse(&next_message(&mut sent, &snap(2, run_with(0..15), 1)).unwrap());
        assert_eq!(second["mode"], "append");
        let pts = second["series"]["train_loss"].as_array().unwrap();
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[0][0], 10.0);
        assert!(second["diagnosis"].is_null(), "unchanged findings resent");

        let third = parse(&next_message(&mut sent, &snap(3, run_with(0..16), 2)).unwrap());
        assert!(third["diagnosis"].is_object(), "changed findings not sent");
    }

    #[test]
    fn a_rewritten_run_is_sent_whole() {
        let mut sent = None;
        next_message(&mut sent, &snap(1, run_with(0..20), 1)).unwrap();
        let again = parse(&next_message(&mut sent, &snap(2, run_with(0..5), 1)).unwrap());
        assert_eq!(again["mode"], "replace");
        assert_eq!(again["series"]["train_loss"].as_array().unwrap().len(), 5);
    }
}
