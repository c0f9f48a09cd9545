//! `rnnlab train --print-config`: every config key with its value, its default and its
//! meaning. The meanings are the doc comments of the config structs, read from their source
//! at compile time, so the listing cannot drift from the code.

use crate::config::Config;

const SOURCE: &str = include_str!("config.rs");

/// `(section, key, meaning)` for every documented field, in source order.
fn meanings() -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut section = None;
    let mut doc: Vec<&str> = Vec::new();
    for line in SOURCE.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("pub struct ") {
            section = match name.split_whitespace().next() {
                Some("DataConfig") => Some("data"),
                Some("ModelConfig") => Some("model"),
                Some("TrainConfig") => Some("train"),
                Some("GuardConfig") => Some("guard"),
                _ => None,
            };
            doc.clear();
        } else if t == "}" {
            section = None;
        } else if let Some(d) = t.strip_prefix("///") {
            doc.push(d.trim());
        } else if let (Some(s), Some(field)) = (section, t.strip_prefix("pub ")) {
            if let Some((name, _)) = field.split_once(':') {
                out.push((s, name.trim().to_string(), doc.join(" ")));
            }
            doc.clear();
        } else if !t.starts_with("#[") {
            doc.clear();
        }
    }
    out
}

/// The listing: one `key = value` line per key, the default when it differs, and the meaning.
pub fn describe(config: &Config) -> String {
    let now = toml::Table::try_from(config).expect("config serializes");
    let default = toml::Table::try_from(Config::default()).expect("config serializes");
    let mut text = String::from(
        "# Every key of a run's configuration (`--config FILE`, `--set section.key=value`).\n",
    );
    let mut last = "";
    for (section, key, meaning) in meanings() {
        if section != last {
            text.push_str(&format!("\n[{section}]\n"));
            last = section;
        }
        let get = |t: &toml::Table| {
            t.get(section).and_then(|s| s.get(&key)).map_or_else(
                || "(unset)".to_string(),
                |v| {
                    let mut v = v.clone();
                    crate::config::shortest_float(&mut v);
                    v.to_string()
                },
            )
        };
        let (value, def) = (get(&now), get(&default));
        let changed = if value == def {
            String::new()
        } else {
            format!("  (default {def})")
        };
        text.push_str(&format!("{key} = {value}{changed}\n"));
        if !meaning.is_empty() {
            text.push_str(&format!("    # {meaning}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_with_a_meaning() {
        let c = Config::default()
            .with_overrides(&["model.hidden=512".into()])
            .unwrap();
        let text = describe(&c);
        let table = toml::Table::try_from(Config::default()).unwrap();
        for (section, keys) in &table {
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    text.contains(&format!("\n{key} = ")),
                    "{section}.{key} missing"
                );
            }
        }
        assert!(text.contains("hidden = 512  (default 256)"), "{text}");
        assert!(text.contains("# Truncated-BPTT length."), "{text}");
        let undocumented: Vec<_> = meanings()
            .into_iter()
            .filter(|(_, _, m)| m.is_empty())
            .map(|(s, k, _)| format!("{s}.{k}"))
            .collect();
        assert!(undocumented.is_empty(), "{undocumented:?}");
    }
}
