//! Incident files: for every guard action, `runs/<name>/incidents/step-<N>.json` says what was
//! seen (loss, gradient norm, learning rate), the statistics it was judged against, the
//! action, and holds the offending batch as token ids and decoded text per stream, so the
//! data behind a spike can be read after the run.

use serde::{Serialize, Serializer};
use std::path::{Path, PathBuf};

use super::actions::{Action, Reason};
use super::snapshot::RollbackInfo;
use crate::data::{AnyTokenizer, Batch, DataPosition};
use crate::fsutil::write_atomic;
use doctor::online::Reading;

/// JSON has no NaN: non-finite values are written as the strings `"NaN"`, `"inf"`, `"-inf"`
/// (as in `metrics.jsonl`).
fn number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        v if v.is_finite() => s.serialize_f64(v),
        v if v.is_nan() => s.serialize_str("NaN"),
        v if v > 0.0 => s.serialize_str("inf"),
        _ => s.serialize_str("-inf"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    #[serde(serialize_with = "number")]
    pub loss: f64,
    /// Global gradient norm before clipping.
    #[serde(serialize_with = "number")]
    pub grad_norm: f64,
    pub lr: f64,
}

/// The batch of the step, one entry per stream (streams are the batch columns).
#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    pub seq_len: usize,
    pub batch_size: usize,
    /// Where the batcher stood after handing this batch out.
    pub data_position: DataPosition,
    pub inputs: Vec<Vec<u32>>,
    pub targets: Vec<Vec<u32>>,
    pub input_text: Vec<String>,
    pub target_text: Vec<String>,
}

impl BatchRecord {
    /// Splits a time-major batch (`inputs[t * B + b]`) into its streams and decodes each.
    pub fn new(batch: &Batch, tokenizer: &AnyTokenizer, data_position: DataPosition) -> Self {
        let streams = |flat: &[u32]| -> Vec<Vec<u32>> {
            (0..batch.batch_size)
                .map(|b| {
                    (0..batch.seq_len)
                        .map(|t| flat[t * batch.batch_size + b])
                        .collect()
                })
                .collect()
        };
        let inputs = streams(&batch.inputs);
        let targets = streams(&batch.targets);
        let decode = |s: &Vec<Vec<u32>>| s.iter().map(|ids| tokenizer.decode(ids)).collect();
        BatchRecord {
            seq_len: batch.seq_len,
            batch_size: batch.batch_size,
            data_position,
            input_text: decode(&inputs),
            target_text: decode(&targets),
            inputs,
            targets,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub step: u64,
    pub action: Action,
    pub reason: Option<Reason>,
    /// One readable sentence (also the `detail` of the event line).
    pub summary: String,
    pub observed: Observed,
    pub statistics: Reading,
    /// The learning-rate factor after this action.
    pub lr_scale: f32,
    pub rollback: Option<RollbackInfo>,
    /// For a stop: the step whose state was restored and saved.
    pub restored_step: Option<u64>,
    pub checkpoint: Option<PathBuf>,
    /// Faults injected at this step (`--inject`), so a test incident is never mistaken for a
    /// real one.
    pub injected: Vec<String>,
    pub batch: BatchRecord,
}

/// `incidents/step-<N>.json` under the run directory.
pub fn path(run_root: &Path, step: u64) -> PathBuf {
    run_root.join("incidents").join(format!("step-{step}.json"))
}

/// Writes the incident atomically and returns its path.
pub fn write(run_root: &Path, incident: &Incident) -> std::io::Result<PathBuf> {
    let p = path(run_root, incident.step);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(incident).map_err(std::io::Error::other)?;
    write_atomic(&p, &json)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TokenizerSpec;
    use doctor::online::Detector;

    #[test]
    fn an_incident_holds_the_batch_per_stream_as_ids_and_text() {
        let tokenizer = TokenizerSpec::parse("char")
            .unwrap()
            .fit("abcdefgh", &[])
            .unwrap();
        let ids = tokenizer.encode("abcdefgh");
        // 2 streams of 3 steps, time-major: stream 0 = "abc"/"bcd", stream 1 = "efg"/"fgh".
        let batch = Batch {
            inputs: vec![ids[0], ids[4], ids[1], ids[5], ids[2], ids[6]],
            targets: vec![ids[1], ids[5], ids[2], ids[6], ids[3], ids[7]],
            seq_len: 3,
            batch_size: 2,
            reset_state: false,
        };
        let config = crate::config::GuardConfig::default();
        let reading = Detector::new(8).assess(f64::NAN, Some(1.0), false, &config.detector());
        let incident = Incident {
            step: 500,
            action: Action::Skip,
            reason: Some(Reason::NonFinite),
            summary: "skipped".into(),
            observed: Observed {
                loss: f64::NAN,
                grad_norm: f64::INFINITY,
                lr: 0.001,
            },
            statistics: reading,
            lr_scale: 1.0,
            rollback: None,
            restored_step: None,
            checkpoint: None,
            injected: vec!["nan@500".into()],
            batch: BatchRecord::new(&batch, &tokenizer, DataPosition::default()),
        };
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &incident).unwrap();
        assert!(written.ends_with("incidents/step-500.json"));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written).unwrap()).unwrap();
        assert_eq!(v["step"], 500);
        assert_eq!(v["action"], "skip");
        assert_eq!(v["reason"], "non_finite");
        assert_eq!(v["observed"]["loss"], "NaN");
        assert_eq!(v["observed"]["grad_norm"], "inf");
        assert_eq!(v["statistics"]["verdict"], "non_finite");
        assert_eq!(v["batch"]["input_text"], serde_json::json!(["abc", "efg"]));
        assert_eq!(v["batch"]["target_text"], serde_json::json!(["bcd", "fgh"]));
        assert_eq!(v["batch"]["inputs"][1].as_array().unwrap().len(), 3);
    }
}
