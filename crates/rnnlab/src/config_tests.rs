//! Tests of the run configuration: defaults, overrides, unknown keys, durations.

use super::*;

#[test]
fn overrides_apply_and_parse_types() {
    let c = Config::default()
        .with_overrides(&[
            "model.hidden=512".into(),
            "data.name=ptb".into(),
            "train.lr=0.5".into(),
            "model.tie_weights=true".into(),
        ])
        .unwrap();
    assert_eq!(c.model.hidden, 512);
    assert_eq!(c.data.name, "ptb");
    assert_eq!(c.train.lr, 0.5);
    assert!(c.model.tie_weights);
}

#[test]
fn unknown_key_suggests_nearest() {
    let err = Config::default()
        .with_overrides(&["model.hiden=3".into()])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown config key `model.hiden` (did you mean `model.hidden`?)"
    );
    let err = Config::from_toml("[trian]\nlr = 1.0\n").unwrap_err();
    assert!(err.to_string().contains("did you mean `train"), "{err}");
    let err = Config::from_toml("[train]\nbtach = 3\n").unwrap_err();
    assert!(err.to_string().contains("`train.batch`"), "{err}");
}

#[test]
fn a_key_without_its_section_gets_the_full_name_suggested() {
    let err = Config::default()
        .with_overrides(&["hidden=512".into()])
        .unwrap_err();
    assert!(
        err.to_string().contains("did you mean `model.hidden`"),
        "{err}"
    );
    let err = Config::default()
        .with_overrides(&["lr=0.1".into()])
        .unwrap_err();
    assert!(err.to_string().contains("`train.lr`"), "{err}");
}

#[test]
fn wrong_type_names_the_key() {
    let err = Config::default()
        .with_overrides(&["train.batch=lots".into()])
        .unwrap_err();
    assert!(err.to_string().contains("train.batch"), "{err}");
}

#[test]
fn saved_numbers_read_as_written() {
    let text = Config::default().to_toml();
    assert!(text.contains("lr = 0.003\n"), "{text}");
    assert!(text.contains("min_lr_ratio = 0.1\n"), "{text}");
    assert_eq!(Config::from_toml(&text).unwrap(), Config::default());
}

#[test]
fn toml_round_trip() {
    let c = Config::default()
        .with_overrides(&["model.cell=gru".into()])
        .unwrap();
    assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
}

#[test]
fn shipped_configs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s").unwrap().unwrap().as_secs(), 90);
    assert_eq!(parse_duration("10m").unwrap().unwrap().as_secs(), 600);
    assert_eq!(parse_duration("1.5h").unwrap().unwrap().as_secs(), 5400);
    assert_eq!(parse_duration("").unwrap(), None);
    assert!(parse_duration("ten minutes").is_err());
}
