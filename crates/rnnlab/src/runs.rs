//! `rnnlab runs [DIR]`: one row per run directory under DIR — what was trained, on what, for
//! how long, how well (loss, perplexity, bits per token and bits per character and per byte,
//! which compare across tokenizers), the doctor's verdict — and the config keys that differ.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::train::run_dir::RunDir;

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub name: String,
    pub path: PathBuf,
    /// `lstm 2x512`.
    pub model: String,
    /// `builtin/char`.
    pub data: String,
    pub steps: u64,
    pub time_s: f64,
    pub best_val: Option<f64>,
    pub best_ppl: Option<f64>,
    /// Bits per token of the best validation loss; per character for `char`, per byte for
    /// `byte`, per word for `word` ([`RunRow::bits_unit`]).
    pub best_bits: Option<f64>,
    pub bits_unit: String,
    /// Bits per character and per byte of the validation text, for every tokenizer (from the
    /// validation text's size in `meta.json`; for older runs only where the token is the unit).
    pub best_bits_per_char: Option<f64>,
    pub best_bits_per_byte: Option<f64>,
    pub verdict: String,
    /// Every config key, flattened (`train.lr`), as TOML text.
    #[serde(skip)]
    pub config: BTreeMap<String, String>,
}

/// The runs under `dir` (each subdirectory with a `config.toml`), sorted by name.
pub fn collect(dir: &Path) -> std::io::Result<Vec<RunRow>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.join("config.toml").is_file() {
            rows.push(row(&path));
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

fn row(path: &Path) -> RunRow {
    let run = RunDir::new(path);
    let config = Config::from_file(&run.config()).unwrap_or_default();
    let meta = run.read_meta().ok();
    let tokenizer = meta
        .as_ref()
        .map(|m| m.tokenizer.clone())
        .unwrap_or_else(|| config.data.tokenizer.clone());
    let (mut steps, mut time_s, mut best) = (0u64, 0.0f64, None::<f64>);
    for line in std::fs::read_to_string(run.metrics())
        .unwrap_or_default()
        .lines()
    {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("loss").is_some() {
            steps = steps.max(v["step"].as_u64().unwrap_or(0) + 1);
        }
        time_s = time_s.max(v["time_s"].as_f64().unwrap_or(0.0));
        if let Some(l) = v.get("val_loss").and_then(|x| x.as_f64()) {
            best = Some(best.map_or(l, |b: f64| b.min(l)));
        }
    }
    let verdict = doctor::formats::load(path, &doctor::formats::LoadOptions::default())
        .ok()
        .map(|r| doctor::diagnose(&r))
        .and_then(|d| serde_json::to_value(d.verdict).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "-".into());
    let mut flat = BTreeMap::new();
    if let Ok(table) = toml::Table::try_from(&config) {
        for (section, fields) in &table {
            for (key, value) in fields.as_table().into_iter().flatten() {
                let mut v = value.clone();
                crate::config::shortest_float(&mut v);
                flat.insert(format!("{section}.{key}"), v.to_string());
            }
        }
    }
    let bits_per_token = best.map(|l| l / std::f64::consts::LN_2);
    let (per_char, per_byte) = match (best, meta.as_ref().and_then(|m| m.valid_size)) {
        (Some(l), Some(size)) => size.bits(l, meta.as_ref().map_or(0, |m| m.valid_tokens)),
        _ => match tokenizer.as_str() {
            "char" => (bits_per_token, None),
            "byte" => (None, bits_per_token),
            _ => (None, None),
        },
    };
    let data = if config.data.path.is_empty() {
        config.data.name.clone()
    } else {
        config.data.path.clone()
    };
    RunRow {
        name: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        path: path.to_path_buf(),
        model: format!(
            "{} {}x{}",
            config.model.cell, config.model.layers, config.model.hidden
        ),
        data: format!("{data}/{tokenizer}"),
        steps,
        time_s,
        best_val: best,
        best_ppl: best.map(f64::exp),
        best_bits: bits_per_token,
        best_bits_per_char: per_char,
        best_bits_per_byte: per_byte,
        bits_unit: match tokenizer.as_str() {
            "char" => "char",
            "byte" => "byte",
            "word" => "word",
            _ => "token",
        }
        .into(),
        verdict,
        config: flat,
    }
}

/// The config keys whose values are not the same in every run.
pub fn differing_keys(rows: &[RunRow]) -> Vec<String> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let mut keys: Vec<String> = rows.iter().flat_map(|r| r.config.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| rows.iter().any(|r| r.config.get(k) != first.config.get(k)))
        .collect()
}

/// The table as text: one line per run, then the differing keys per run.
pub fn table(rows: &[RunRow]) -> String {
    let opt = |v: Option<f64>, p: usize| v.map_or("-".into(), |x| format!("{x:.p$}"));
    let mut out = format!(
        "{:<28} {:<14} {:<22} {:>7} {:>7} {:>8} {:>8} {:>13} {:>9} {:>9}  {}\n",
        "run",
        "model",
        "data",
        "steps",
        "time",
        "best val",
        "ppl",
        "bits",
        "bits/char",
        "bits/byte",
        "doctor"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<28} {:<14} {:<22} {:>7} {:>6.0}s {:>8} {:>8} {:>8}/{:<4} {:>9} {:>9}  {}\n",
            r.name,
            r.model,
            r.data,
            r.steps,
            r.time_s,
            opt(r.best_val, 4),
            opt(r.best_ppl, 2),
            opt(r.best_bits, 3),
            r.bits_unit,
            opt(r.best_bits_per_char, 3),
            opt(r.best_bits_per_byte, 3),
            r.verdict
        ));
    }
    let keys = differing_keys(rows);
    if !keys.is_empty() {
        out.push_str("\nsettings that differ:\n");
        for r in rows {
            let set: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}={}", r.config.get(k).map_or("-", |v| v.as_str())))
                .collect();
            out.push_str(&format!("{:<28} {}\n", r.name, set.join("  ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_run(root: &Path, name: &str, sets: &[&str], val: f64) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let c = Config::default().with_overrides(&sets).unwrap();
        std::fs::write(dir.join("config.toml"), c.to_toml()).unwrap();
        let mut log = String::new();
        for s in 0..10 {
            log.push_str(&format!(
                "{{\"step\":{s},\"loss\":{},\"lr\":0.001,\"time_s\":{s}}}\n",
                3.0 - s as f64 * 0.1
            ));
        }
        log.push_str(&format!(
            "{{\"step\":10,\"val_loss\":{val},\"time_s\":12}}\n"
        ));
        std::fs::write(dir.join("metrics.jsonl"), log).unwrap();
    }

    #[test]
    fn rows_and_the_keys_that_differ() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "a", &["model.hidden=128"], 1.5);
        fake_run(
            dir.path(),
            "b",
            &["model.hidden=256", "data.tokenizer=byte"],
            1.2,
        );
        std::fs::create_dir(dir.path().join("not-a-run")).unwrap();
        let rows = collect(dir.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].steps, 10);
        assert_eq!(rows[0].best_val, Some(1.5));
        assert_eq!(rows[1].bits_unit, "byte");
        assert!((rows[1].best_bits.unwrap() - 1.2 / std::f64::consts::LN_2).abs() < 1e-12);
        // Without the validation text's size (older runs), bits per byte of a byte run only.
        assert_eq!(rows[1].best_bits_per_byte, rows[1].best_bits);
        assert_eq!(rows[1].best_bits_per_char, None);
        assert_eq!(differing_keys(&rows), ["data.tokenizer", "model.hidden"]);
        let text = table(&rows);
        assert!(text.contains("lstm 1x128"), "{text}");
        assert!(text.contains("model.hidden=256"), "{text}");
        assert!(!text.contains("train.lr="), "{text}");
    }

    #[test]
    fn bits_per_char_and_byte_for_a_word_run_from_the_validation_texts_size() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "w", &["data.tokenizer=word"], 4.0);
        // 1000 word tokens standing for 5200 characters, 5400 bytes.
        let meta = serde_json::json!({
            "vocab_size": 10000, "tokenizer": "word", "data": "ptb",
            "references": {"ln_vocab": 9.2, "unigram": 6.6, "bigram": 5.0, "floor": null},
            "steps_per_epoch": 10, "tokens_per_step": 640, "train_tokens": 10000,
            "valid_tokens": 1000, "valid_size": {"chars": 5200, "bytes": 5400},
            "params": 1, "threads": 1, "rnnlab_version": "0", "git_commit": null
        });
        std::fs::write(dir.path().join("w/meta.json"), meta.to_string()).unwrap();
        let rows = collect(dir.path()).unwrap();
        let ln2 = std::f64::consts::LN_2;
        assert_eq!(rows[0].bits_unit, "word");
        let bpc = rows[0]
            .best_bits_per_char
            .expect("bits per char of a word run");
        assert!((bpc - 4.0 * 1000.0 / 5200.0 / ln2).abs() < 1e-12, "{bpc}");
        let bpb = rows[0].best_bits_per_byte.unwrap();
        assert!((bpb - 4.0 * 1000.0 / 5400.0 / ln2).abs() < 1e-12, "{bpb}");
        let text = table(&rows);
        assert!(text.contains(&format!("{bpc:.3}")), "{text}");
    }
}
