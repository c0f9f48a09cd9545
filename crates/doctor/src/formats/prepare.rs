//! Everything between "these inputs" and "a run to diagnose" that `rnnlab doctor` does, in one
//! place, so every front end (the CLI, the Python binding) diagnoses the same run from the same
//! inputs and `--json` output can be compared byte for byte.

use super::{apply_context, load_bytes, load_many, series, LoadOptions};
use crate::error::DoctorError;
use crate::{References, Result, Run};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Reads `paths` as one run (as [`load_many`]) and applies what the caller knows about it:
/// reference levels computed from the training text (`corpus`; the run's own levels win), and
/// `opts.vocab_size` (which sets ln V, overriding the run's). An input with no loss at all is an
/// error naming the first path.
pub fn load_for_diagnosis(
    paths: &[PathBuf],
    opts: &LoadOptions,
    corpus: Option<&References>,
) -> Result<Run> {
    let mut run = load_many(paths, opts)?;
    finish(&mut run, opts, corpus, &paths[0].display().to_string())?;
    Ok(run)
}

/// One column of an in-memory table: a name (any name a CSV header may have: `step`, `loss`,
/// `eval_loss`, `train/loss`, `lr`, `grad_norm`, …) and its cells, `None` where a row has no
/// value (an empty CSV cell). Non-finite values are kept as such (a NaN loss is a finding).
pub type Column = (String, Vec<Option<f64>>);

/// Reads an in-memory table exactly as the same table written to `NAME.csv` and given to
/// [`load_for_diagnosis`] would be read: same column recognition, same options, same checks.
pub fn load_columns_for_diagnosis(
    columns: &[Column],
    name: &str,
    opts: &LoadOptions,
    corpus: Option<&References>,
) -> Result<Run> {
    let rows = columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    if let Some((n, c)) = columns.iter().find(|(_, c)| c.len() != rows) {
        return Err(DoctorError::Usage(format!(
            "column `{n}` has {} values where the longest column has {rows}",
            c.len()
        )));
    }
    let mut csv = String::new();
    for (i, (n, _)) in columns.iter().enumerate() {
        if n.contains([',', '"', '\n', '\r']) {
            return Err(DoctorError::Usage(format!(
                "column name {n:?} contains a comma, quote or line break"
            )));
        }
        csv.push_str(if i == 0 { "" } else { "," });
        csv.push_str(n);
    }
    csv.push('\n');
    for r in 0..rows {
        for (i, (_, c)) in columns.iter().enumerate() {
            if i > 0 {
                csv.push(',');
            }
            if let Some(v) = c[r] {
                // `{}` prints the shortest text that parses back to the same f64 (and NaN/inf).
                let _ = write!(csv, "{v}");
            }
        }
        csv.push('\n');
    }
    let path = Path::new(name).with_extension("csv");
    let mut run = load_bytes(csv.as_bytes(), &path, opts)?;
    run.name = name.to_string();
    apply_context(&mut run, opts);
    series::normalise(&mut run);
    finish(&mut run, opts, corpus, name)?;
    Ok(run)
}

/// Reads a file's bytes held in memory (a `trainer_state.json` built in a training process,
/// say) exactly as [`load_for_diagnosis`] reads the same bytes saved as `name`.
pub fn load_bytes_for_diagnosis(
    bytes: &[u8],
    name: &str,
    opts: &LoadOptions,
    corpus: Option<&References>,
) -> Result<Run> {
    let mut run = load_bytes(bytes, Path::new(name), opts)?;
    apply_context(&mut run, opts);
    series::normalise(&mut run);
    finish(&mut run, opts, corpus, name)?;
    Ok(run)
}

fn finish(
    run: &mut Run,
    opts: &LoadOptions,
    corpus: Option<&References>,
    what: &str,
) -> Result<()> {
    if let Some(r) = corpus {
        let known = &mut run.references;
        known.ln_vocab = known.ln_vocab.or(r.ln_vocab);
        known.unigram = known.unigram.or(r.unigram);
        known.bigram = known.bigram.or(r.bigram);
    }
    if let Some(v) = opts.vocab_size {
        run.references.ln_vocab = Some((v as f64).ln());
    }
    if run.train_loss.is_empty() && run.val_loss.is_empty() {
        return Err(DoctorError::Usage(format!("{what}: no loss values found")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, v: &[Option<f64>]) -> Column {
        (name.to_string(), v.to_vec())
    }

    #[test]
    fn columns_read_like_the_same_csv() {
        let cols = [
            col("step", &[Some(0.0), Some(1.0), Some(2.0)]),
            col("loss", &[Some(4.2), Some(f64::NAN), Some(3.9)]),
            col("val_loss", &[None, None, Some(4.0)]),
        ];
        let opts = LoadOptions {
            vocab_size: Some(65),
            ..LoadOptions::default()
        };
        let run = load_columns_for_diagnosis(&cols, "mine", &opts, None).unwrap();
        let csv = "step,loss,val_loss\n0,4.2,\n1,NaN,\n2,3.9,4\n";
        let mut from_csv = load_bytes(csv.as_bytes(), Path::new("mine.csv"), &opts).unwrap();
        apply_context(&mut from_csv, &opts);
        series::normalise(&mut from_csv);
        finish(&mut from_csv, &opts, None, "mine").unwrap();
        from_csv.name = "mine".into();
        assert_eq!(format!("{run:?}"), format!("{from_csv:?}"));
        assert_eq!(run.train_loss.len(), 3);
        assert!(run.train_loss[1].value.is_nan());
        assert_eq!(run.val_loss.len(), 1);
        assert_eq!(run.references.ln_vocab, Some(65f64.ln()));
    }

    #[test]
    fn bytes_read_like_the_same_file() {
        let state = br#"{"log_history": [{"loss": 2.5, "step": 5}, {"loss": 2.0, "step": 10}]}"#;
        let run =
            load_bytes_for_diagnosis(state, "trainer_state.json", &LoadOptions::default(), None)
                .unwrap();
        assert_eq!(run.train_loss.len(), 2);
        assert_eq!(run.name, "trainer_state.json");
        let e =
            load_bytes_for_diagnosis(b"{}", "trainer_state.json", &LoadOptions::default(), None);
        assert!(e.is_err());
    }

    #[test]
    fn bad_columns_are_errors() {
        let ragged = [col("step", &[Some(0.0)]), col("loss", &[])];
        let e = load_columns_for_diagnosis(&ragged, "x", &LoadOptions::default(), None);
        assert!(e.unwrap_err().to_string().contains("`loss` has 0 values"));
        let no_loss = [col("step", &[Some(0.0)]), col("lr", &[Some(0.1)])];
        let e = load_columns_for_diagnosis(&no_loss, "x", &LoadOptions::default(), None)
            .unwrap_err()
            .to_string();
        assert!(!e.is_empty());
        let e = load_for_diagnosis(&[], &LoadOptions::default(), None).unwrap_err();
        assert_eq!(e.to_string(), "no input path given");
    }

    #[test]
    fn corpus_levels_fill_gaps_and_vocab_size_sets_ln_v() {
        let cols = [
            col("step", &[Some(0.0), Some(1.0)]),
            col("loss", &[Some(4.0), Some(3.0)]),
        ];
        let corpus = References {
            ln_vocab: Some(1.0),
            unigram: Some(2.0),
            bigram: Some(1.5),
            floor: Some(0.1),
        };
        let opts = LoadOptions {
            vocab_size: Some(10),
            ..LoadOptions::default()
        };
        let run = load_columns_for_diagnosis(&cols, "x", &opts, Some(&corpus)).unwrap();
        assert_eq!(run.references.ln_vocab, Some(10f64.ln()));
        assert_eq!(run.references.unigram, Some(2.0));
        assert_eq!(run.references.floor, None);
    }
}
