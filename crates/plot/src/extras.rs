//! What a report shows besides the curves, read from a run directory: `config.toml`,
//! `samples.txt` and the guard's `incidents/step-*.json` files.
//!
//! Incident files are read generically (the guard's schema may grow): any JSON object with a
//! `step` (or a `step-N.json` name), an action-like field and, when present, the batch's decoded
//! text in a text-like string field.

use crate::{Incident, ReportExtras, RunFacts, Sample};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// More incidents than this are not shown (the latest are kept): a guard gone wild should not
/// make a page nobody can open.
const MAX_INCIDENTS: usize = 500;

/// Field names an incident's action is looked up under, in order.
const KIND_FIELDS: [&str; 5] = ["action", "kind", "trigger", "reason", "event"];
/// Field names the offending batch's decoded text is looked up under, in order.
const TEXT_FIELDS: [&str; 6] = [
    "batch_text",
    "text",
    "decoded",
    "batch_decoded",
    "decoded_batch",
    "batch",
];

/// The report extras of `run_dir` (config, samples, incidents) and warnings about files that
/// exist but could not be read. Missing files are not warnings: a run may not have them yet.
pub fn read_run_extras(run_dir: &Path) -> (ReportExtras, Vec<String>) {
    let mut warnings = Vec::new();
    let config = read_optional(&run_dir.join("config.toml"), &mut warnings);
    let samples = read_optional(&run_dir.join("samples.txt"), &mut warnings)
        .map(|t| parse_samples(&t))
        .unwrap_or_default();
    let (incidents, incident_warnings) = read_incidents(&run_dir.join("incidents"));
    warnings.extend(incident_warnings);
    let extras = ReportExtras {
        title: None,
        config,
        samples,
        incidents,
        live_events_url: None,
        facts: read_facts(run_dir),
    };
    (extras, warnings)
}

/// The summary card's facts of a run directory: parameters, tokenizer and the validation
/// text's tokens per character and byte from `meta.json`,
/// training time (the last `time_s`) and median throughput (`tok_per_s`) from `metrics.jsonl`.
/// Whatever is missing or unreadable stays unknown.
pub fn read_facts(run_dir: &Path) -> RunFacts {
    let meta: Option<Value> = std::fs::read(run_dir.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut facts = RunFacts {
        params: meta.as_ref().and_then(|m| m.get("params")?.as_u64()),
        tokenizer: meta
            .as_ref()
            .and_then(|m| m.get("tokenizer")?.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        ..RunFacts::default()
    };
    if let Some(m) = &meta {
        let tokens = m.get("valid_tokens").and_then(Value::as_f64);
        let size = |unit: &str| m.get("valid_size")?.get(unit)?.as_f64();
        let per = |units: Option<f64>| match (tokens, units) {
            (Some(t), Some(u)) if t > 0.0 && u > 0.0 => Some(t / u),
            _ => None,
        };
        facts.tokens_per_char = per(size("chars"));
        facts.tokens_per_byte = per(size("bytes"));
    }
    let mut speeds = Vec::new();
    if let Ok(text) = std::fs::read_to_string(run_dir.join("metrics.jsonl")) {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some(t) = v.get("time_s").and_then(Value::as_f64) {
                facts.time_s = Some(facts.time_s.map_or(t, |s: f64| s.max(t)));
            }
            if let Some(r) = v.get("tok_per_s").and_then(Value::as_f64) {
                if r.is_finite() && r > 0.0 {
                    speeds.push(r);
                }
            }
        }
    }
    if !speeds.is_empty() {
        let mid = speeds.len() / 2;
        let (_, m, _) = speeds.select_nth_unstable_by(mid, f64::total_cmp);
        facts.tok_per_s = Some(*m);
    }
    facts
}

/// The run directory an input belongs to: itself, or the folder of its `metrics.jsonl`.
pub fn run_dir_of(input: &Path) -> Option<PathBuf> {
    if input.is_dir() {
        return Some(input.to_path_buf());
    }
    let parent = input.parent()?;
    (input.file_name()? == "metrics.jsonl").then(|| parent.to_path_buf())
}

/// What `rnnlab report INPUT` shows besides the curves: the extras of the run directory the
/// input belongs to ([`run_dir_of`]), or none for a plain log, with warnings as in
/// [`read_run_extras`].
pub fn extras_for_input(input: &Path) -> (ReportExtras, Vec<String>) {
    match run_dir_of(input) {
        Some(dir) => read_run_extras(&dir),
        None => (ReportExtras::default(), Vec::new()),
    }
}

fn read_optional(path: &Path, warnings: &mut Vec<String>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

/// Splits `samples.txt` (`=== step N ===` headers, as the trainer writes it) into samples.
/// Text before the first header is a sample without a step.
pub fn parse_samples(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut current = Sample::default();
    let mut started = false;
    let flush = |s: &mut Sample, out: &mut Vec<Sample>| {
        let trimmed = s.text.trim_end_matches('\n');
        if !trimmed.trim().is_empty() || s.step.is_some() {
            out.push(Sample {
                step: s.step,
                text: trimmed.to_string(),
            });
        }
    };
    for line in text.split_inclusive('\n') {
        if let Some(step) = sample_header(line) {
            if started || !current.text.trim().is_empty() {
                flush(&mut current, &mut samples);
            }
            current = Sample {
                step: Some(step),
                text: String::new(),
            };
            started = true;
        } else {
            current.text.push_str(line);
        }
    }
    flush(&mut current, &mut samples);
    samples
}

fn sample_header(line: &str) -> Option<f64> {
    let inner = line
        .trim()
        .strip_prefix("===")?
        .strip_suffix("===")?
        .trim()
        .strip_prefix("step")?;
    inner.trim().parse().ok()
}

/// Reads `dir/step-*.json`, sorted by step. Unreadable files become warnings naming the file.
pub fn read_incidents(dir: &Path) -> (Vec<Incident>, Vec<String>) {
    let mut warnings = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), warnings),
        Err(e) => return (Vec::new(), vec![format!("{}: {e}", dir.display())]),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    let mut incidents = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| incident_from_json(&text, step_from_name(&path)));
        match parsed {
            Ok(incident) => incidents.push(incident),
            Err(e) => warnings.push(format!("{}: {e}", path.display())),
        }
    }
    incidents.sort_by(|a, b| a.step.total_cmp(&b.step));
    if incidents.len() > MAX_INCIDENTS {
        warnings.push(format!(
            "{}: {} incidents, showing the last {MAX_INCIDENTS}",
            dir.display(),
            incidents.len()
        ));
        incidents.drain(..incidents.len() - MAX_INCIDENTS);
    }
    (incidents, warnings)
}

/// `step-00001234.json` → 1234.
fn step_from_name(path: &Path) -> Option<f64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("step-")?
        .parse::<u64>()
        .ok()
        .map(|s| s as f64)
}

/// One incident from its file's JSON. The batch text, when found, is shown on its own and left
/// out of the displayed JSON so it is not printed twice.
pub fn incident_from_json(text: &str, step_from_name: Option<f64>) -> Result<Incident, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON incident: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err("expected a JSON object".into());
    };
    let step = obj
        .get("step")
        .and_then(Value::as_f64)
        .or(step_from_name)
        .ok_or("no `step` field and no step in the file name")?;
    let kind = KIND_FIELDS
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .unwrap_or("incident")
        .to_string();
    let text_key = TEXT_FIELDS
        .iter()
        .find(|k| obj.get(**k).is_some_and(Value::is_string))
        .map(|k| k.to_string())
        .or_else(|| {
            obj.iter()
                .find(|(k, v)| k.contains("text") && v.is_string())
                .map(|(k, _)| k.clone())
        });
    let batch_text = text_key.and_then(|k| match obj.remove(&k) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    });
    let json = serde_json::to_string_pretty(&Value::Object(obj)).map_err(|e| e.to_string())?;
    Ok(Incident {
        step,
        kind,
        json,
        batch_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_split_at_step_headers() {
        let text = "=== step 100 ===\nthe cat\nsat\n\n=== step 200 ===\non the mat\n\n";
        let s = parse_samples(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].step, Some(100.0));
        assert_eq!(s[0].text, "the cat\nsat");
        assert_eq!(s[1].step, Some(200.0));
        assert_eq!(s[1].text, "on the mat");
    }

    #[test]
    fn facts_come_from_meta_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("meta.json"),
            r#"{"params": 1000, "tokenizer": "bpe", "valid_tokens": 250,
                "valid_size": {"chars": 1000, "bytes": 1250}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("metrics.jsonl"),
            "{\"step\": 1, \"time_s\": 2.0, \"tok_per_s\": 100.0}\n",
        )
        .unwrap();
        let f = read_facts(dir.path());
        assert_eq!(f.params, Some(1000));
        assert_eq!(f.tokenizer.as_deref(), Some("bpe"));
        assert_eq!(f.tokens_per_char, Some(0.25));
        assert_eq!(f.tokens_per_byte, Some(0.2));
        assert_eq!(f.time_s, Some(2.0));
        assert_eq!(f.tok_per_s, Some(100.0));
    }

    #[test]
    fn samples_without_headers_are_one_sample() {
        let s = parse_samples("just some text\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].step, None);
        assert_eq!(s[0].text, "just some text");
        assert!(parse_samples("").is_empty());
    }

    #[test]
    fn incident_fields_are_found_generically() {
        let i = incident_from_json(
            r#"{"step": 42, "action": "skip", "loss": 9.5, "batch_text": "zzz <bad>"}"#,
            None,
        )
        .unwrap();
        assert_eq!(i.step, 42.0);
        assert_eq!(i.kind, "skip");
        assert_eq!(i.batch_text.as_deref(), Some("zzz <bad>"));
        assert!(i.json.contains("\"loss\": 9.5"), "{}", i.json);
        assert!(
            !i.json.contains("zzz"),
            "batch text shown twice: {}",
            i.json
        );

        // Other spellings: the step from the file name, a text-like key.
        let j = incident_from_json(r#"{"trigger": "rollback", "input_text": "abc"}"#, Some(7.0))
            .unwrap();
        assert_eq!((j.step, j.kind.as_str()), (7.0, "rollback"));
        assert_eq!(j.batch_text.as_deref(), Some("abc"));
    }

    #[test]
    fn bad_incident_files_are_warnings_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("incidents");
        std::fs::create_dir(&inc).unwrap();
        std::fs::write(inc.join("step-00000010.json"), r#"{"action":"skip"}"#).unwrap();
        std::fs::write(
            inc.join("step-00000003.json"),
            r#"{"step":3,"action":"rollback"}"#,
        )
        .unwrap();
        std::fs::write(inc.join("step-00000005.json"), "{truncated").unwrap();
        std::fs::write(inc.join("notes.txt"), "ignored").unwrap();
        let (incidents, warnings) = read_incidents(&inc);
        let steps: Vec<f64> = incidents.iter().map(|i| i.step).collect();
        assert_eq!(steps, vec![3.0, 10.0]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("step-00000005.json"), "{warnings:?}");

        std::fs::write(dir.path().join("config.toml"), "[model]\ncell = \"lstm\"\n").unwrap();
        let (extras, warnings) = read_run_extras(dir.path());
        assert_eq!(extras.incidents.len(), 2);
        assert!(extras.config.unwrap().contains("lstm"));
        assert!(extras.samples.is_empty());
        assert_eq!(warnings.len(), 1);
    }
}
