//! Scoring the doctor on a labelled corpus (`crates/doctor/corpus/`, format in its README):
//! each curve's labels say what a correct diagnosis reports; the score is the share judged
//! right per split (`tune`, `holdout`), the false alarms on healthy curves, accuracy per
//! expected kind and the confusion between kinds. `rnnlab doctor --score DIR` prints it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{DoctorError, Location};
use crate::formats::{load_for_diagnosis, LoadOptions};
use crate::report::{Diagnosis, Severity, Verdict};
use crate::{diagnose, Result};

/// One acceptable outcome of a requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Healthy,
    Inconclusive,
    Kind {
        kind: String,
        step: Option<f64>,
        tol: Option<f64>,
    },
}

/// A labelled curve from an `INDEX.tsv`.
#[derive(Debug, Clone)]
pub struct Case {
    pub source: String,
    pub name: String,
    pub split: String,
    /// All requirements must be met; each is met by any of its alternatives.
    pub requirements: Vec<Vec<Expected>>,
    pub labels: String,
    pub vocab: Option<usize>,
    pub steps_per_epoch: Option<f64>,
    /// The unigram and bigram entropies the run itself recorded (rnnlab's `meta.json` carries
    /// them, so the doctor sees them on rnnlab's own runs); blank where the run did not.
    pub references: crate::References,
    pub csv: PathBuf,
}

impl Case {
    /// Every alternative is healthy or inconclusive: flagging it is a false alarm.
    pub fn healthy(&self) -> bool {
        self.requirements
            .iter()
            .flatten()
            .all(|e| matches!(e, Expected::Healthy | Expected::Inconclusive))
    }
}

/// Parses a label like `spike@250~3 + stagnation|oscillation`.
pub fn parse_labels(text: &str) -> std::result::Result<Vec<Vec<Expected>>, String> {
    text.split(" + ")
        .map(|req| {
            req.split('|')
                .map(|alt| {
                    let alt = alt.trim();
                    match alt {
                        "healthy" => Ok(Expected::Healthy),
                        "inconclusive" => Ok(Expected::Inconclusive),
                        _ => {
                            let (kind, place) = alt.split_once('@').unwrap_or((alt, ""));
                            if crate::report::FindingKind::from_name(kind).is_none() {
                                return Err(format!("unknown kind `{kind}` in `{text}`"));
                            }
                            let (step, tol) = place.split_once('~').unwrap_or((place, ""));
                            let number = |s: &str| -> std::result::Result<Option<f64>, String> {
                                if s.is_empty() {
                                    Ok(None)
                                } else {
                                    s.parse::<f64>()
                                        .map(Some)
                                        .map_err(|_| format!("bad number `{s}` in `{text}`"))
                                }
                            };
                            Ok(Expected::Kind {
                                kind: kind.to_string(),
                                step: number(step)?,
                                tol: number(tol)?,
                            })
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// Reads every `INDEX.tsv` in `dir` and its direct subfolders.
pub fn read_corpus(dir: &Path) -> Result<Vec<Case>> {
    let mut indexes = Vec::new();
    if dir.join("INDEX.tsv").is_file() {
        indexes.push(dir.join("INDEX.tsv"));
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DoctorError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("INDEX.tsv").is_file())
        .collect();
    subdirs.sort();
    indexes.extend(subdirs.into_iter().map(|d| d.join("INDEX.tsv")));
    if indexes.is_empty() {
        return Err(DoctorError::parse(
            dir,
            Location::Whole,
            "no INDEX.tsv here or in a subfolder (see crates/doctor/corpus/README.md)",
        ));
    }
    let mut cases = Vec::new();
    for index in indexes {
        cases.extend(read_index(&index)?);
    }
    Ok(cases)
}

fn read_index(index: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(index).map_err(|e| DoctorError::Io {
        path: index.to_path_buf(),
        source: e,
    })?;
    let folder = index.parent().unwrap_or(Path::new("."));
    let source = folder
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            DoctorError::parse(index, Location::Line(1), format!("no `{name}` column"))
        })
    };
    let (c_name, c_split, c_labels) = (col("name")?, col("split")?, col("labels")?);
    let (c_vocab, c_spe) = (col("vocab").ok(), col("steps_per_epoch").ok());
    let (c_unigram, c_bigram) = (col("unigram").ok(), col("bigram").ok());
    let c_floor = col("floor").ok();
    let mut cases = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let cell = |c: usize| f.get(c).copied().unwrap_or("").trim();
        let bad = |m: String| DoctorError::parse(index, Location::Line(i + 1), m);
        let labels = cell(c_labels).to_string();
        let requirements = parse_labels(&labels).map_err(bad)?;
        let name = cell(c_name).to_string();
        cases.push(Case {
            source: source.clone(),
            csv: folder.join(format!("{name}.csv")),
            name,
            split: cell(c_split).to_string(),
            requirements,
            labels,
            vocab: number(c_vocab.map(cell), "vocab").map_err(bad)?,
            steps_per_epoch: number(c_spe.map(cell), "steps_per_epoch").map_err(bad)?,
            references: crate::References {
                unigram: number(c_unigram.map(cell), "unigram").map_err(bad)?,
                bigram: number(c_bigram.map(cell), "bigram").map_err(bad)?,
                floor: number(c_floor.map(cell), "floor").map_err(bad)?,
                ..Default::default()
            },
        });
    }
    Ok(cases)
}

/// An optional number of an index row: blank is none; anything else must parse, or a typo
/// would quietly change what the curve is judged against.
fn number<T: std::str::FromStr>(
    cell: Option<&str>,
    column: &str,
) -> std::result::Result<Option<T>, String> {
    match cell.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("`{column}` is `{v}`, not a number")),
    }
}

/// Whether `expected` is met by `diagnosis` of `run`.
fn met(expected: &Expected, diagnosis: &Diagnosis, run: &crate::Run) -> bool {
    match expected {
        Expected::Healthy => diagnosis.verdict == Verdict::Healthy,
        Expected::Inconclusive => diagnosis.verdict == Verdict::Inconclusive,
        Expected::Kind { kind, step, tol } => diagnosis.findings.iter().any(|f| {
            if f.severity < Severity::Warning || f.kind.name() != kind {
                return false;
            }
            let Some(step) = step else { return true };
            let pointlike = matches!(kind.as_str(), "spike" | "non_finite");
            let span = match (run.train_loss.first(), run.train_loss.last()) {
                (Some(a), Some(b)) => b.step - a.step,
                _ => 0.0,
            };
            let tol = tol.unwrap_or(if pointlike {
                crate::detect::stats::logging_interval(&run.train_loss).max(3.0)
            } else {
                0.1 * span
            });
            let (start, end) = (
                f.start_step.unwrap_or(f64::NAN),
                f.end_step.unwrap_or(f64::NAN),
            );
            let near = |x: Option<f64>| x.is_some_and(|x| (x - step).abs() <= tol);
            near(f.peak_step)
                || near(f.start_step)
                || (!pointlike && *step >= start - tol && *step <= end + tol)
        }),
    }
}

/// A scored curve.
#[derive(Debug, Clone)]
pub struct Scored {
    pub case: Case,
    pub right: bool,
    pub verdict: Verdict,
    /// Kinds reported at warning or error, with the step.
    pub reported: Vec<String>,
    pub error: Option<String>,
}

/// Diagnoses and scores every case.
pub fn score(cases: &[Case]) -> Vec<Scored> {
    cases
        .iter()
        .map(|case| {
            let opts = LoadOptions {
                vocab_size: case.vocab,
                steps_per_epoch: case.steps_per_epoch,
                ..LoadOptions::default()
            };
            let refs = &case.references;
            let recorded = (refs.unigram.is_some() || refs.bigram.is_some()).then_some(refs);
            // The levels fill what the CSV lacks, as levels computed from a corpus would; the
            // floor is the run's own (its meta.json), which no text gives, so it is set here.
            let loaded = load_for_diagnosis(std::slice::from_ref(&case.csv), &opts, recorded).map(
                |mut run| {
                    run.references.floor = run.references.floor.or(refs.floor);
                    run
                },
            );
            match loaded {
                Err(e) => Scored {
                    case: case.clone(),
                    right: false,
                    verdict: Verdict::Inconclusive,
                    reported: Vec::new(),
                    error: Some(e.to_string()),
                },
                Ok(run) => {
                    let d = diagnose(&run);
                    let right = case
                        .requirements
                        .iter()
                        .all(|alts| alts.iter().any(|e| met(e, &d, &run)));
                    let reported = d
                        .findings
                        .iter()
                        .filter(|f| f.severity >= Severity::Warning)
                        .map(|f| {
                            let at = f.peak_step.or(f.start_step);
                            match at {
                                Some(s) => {
                                    format!("{}@{}", f.kind.name(), crate::detect::step_str(s))
                                }
                                None => f.kind.name().to_string(),
                            }
                        })
                        .collect();
                    Scored {
                        case: case.clone(),
                        right,
                        verdict: d.verdict,
                        reported,
                        error: None,
                    }
                }
            }
        })
        .collect()
}

/// The score as a table: per split, per source, per expected kind, false alarms, confusion
/// and the curves judged wrong.
pub fn summary(scored: &[Scored]) -> String {
    let mut out = String::new();
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "—".to_string()
        } else {
            format!("{:.1}%", 100.0 * a as f64 / b as f64)
        }
    };
    let _ = writeln!(
        out,
        "{:<10} {:<10} {:>6} {:>6} {:>7}   {:>8} {:>12}",
        "split", "source", "curves", "right", "", "healthy", "false alarms"
    );
    let mut groups: BTreeMap<(String, String), Vec<&Scored>> = BTreeMap::new();
    for s in scored {
        groups
            .entry((s.case.split.clone(), s.case.source.clone()))
            .or_default()
            .push(s);
        groups
            .entry((s.case.split.clone(), "all".into()))
            .or_default()
            .push(s);
    }
    for ((split, source), items) in &groups {
        let right = items.iter().filter(|s| s.right).count();
        let healthy: Vec<_> = items.iter().filter(|s| s.case.healthy()).collect();
        let alarms = healthy
            .iter()
            .filter(|s| s.verdict == Verdict::Unhealthy)
            .count();
        let _ = writeln!(
            out,
            "{split:<10} {source:<10} {:>6} {:>6} {:>7}   {:>8} {:>5} ({})",
            items.len(),
            right,
            pct(right, items.len()),
            healthy.len(),
            alarms,
            pct(alarms, healthy.len())
        );
    }
    // Accuracy per expected kind (a curve counts under each kind its labels name).
    let mut per_kind: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for s in scored {
        let mut kinds: Vec<String> = s
            .case
            .requirements
            .iter()
            .flatten()
            .map(|e| match e {
                Expected::Healthy => "healthy".to_string(),
                Expected::Inconclusive => "inconclusive".to_string(),
                Expected::Kind { kind, .. } => kind.clone(),
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        for k in kinds {
            let e = per_kind.entry((s.case.split.clone(), k)).or_default();
            e.0 += 1;
            e.1 += usize::from(s.right);
        }
    }
    let _ = writeln!(
        out,
        "\nper expected kind (a curve counts under every kind its label names):"
    );
    for ((split, kind), (n, right)) in &per_kind {
        let _ = writeln!(
            out,
            "  {split:<8} {kind:<20} {right:>3}/{n:<3} {}",
            pct(*right, *n)
        );
    }
    // Confusion: for wrong curves, what was expected against what was reported.
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in scored.iter().filter(|s| !s.right) {
        let got = if s.reported.is_empty() {
            s.verdict.name().to_string()
        } else {
            let mut k: Vec<&str> = s
                .reported
                .iter()
                .map(|r| r.split('@').next().unwrap_or(""))
                .collect();
            k.sort();
            k.dedup();
            k.join("+")
        };
        *confusion.entry((s.case.labels.clone(), got)).or_default() += 1;
    }
    if !confusion.is_empty() {
        let _ = writeln!(
            out,
            "\nconfusion on the curves judged wrong (expected → reported):"
        );
        for ((want, got), n) in &confusion {
            let _ = writeln!(out, "  {n:>3}× {want} → {got}");
        }
        let _ = writeln!(out, "\njudged wrong:");
        for s in scored.iter().filter(|s| !s.right) {
            let _ = writeln!(
                out,
                "  {:<8} {:<10} {:<40} want {:<30} got {} {}{}",
                s.case.split,
                s.case.source,
                s.case.name,
                s.case.labels,
                s.verdict.name(),
                s.reported.join(" "),
                s.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(" [error: {e}]"))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_into_requirements_and_alternatives() {
        let r = parse_labels("spike@250~3 + stagnation|oscillation").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            [Expected::Kind {
                kind: "spike".into(),
                step: Some(250.0),
                tol: Some(3.0)
            }]
        );
        assert_eq!(r[1].len(), 2);
        assert_eq!(parse_labels("healthy|inconclusive").unwrap()[0].len(), 2);
        assert!(parse_labels("spikey").unwrap_err().contains("unknown kind"));
        assert!(parse_labels("spike@x").unwrap_err().contains("bad number"));
    }

    /// `read_index` on an `INDEX.tsv` holding `body`, written to a scratch folder named by `tag`.
    fn read_temp_index(tag: &str, body: &str) -> Result<Vec<Case>> {
        let dir = std::env::temp_dir().join(format!("rnnlab-score-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let index = dir.join("INDEX.tsv");
        std::fs::write(&index, body).unwrap();
        let read = read_index(&index);
        std::fs::remove_dir_all(&dir).unwrap();
        read
    }

    #[test]
    fn a_recorded_floor_reaches_the_run_being_judged() {
        // An LSTM on rnnlab's built-in corpus converging to 0.84 nats per character (ln V 3.85),
        // validation with it: far under what held-out English allows (a leak), but 0.04 above
        // this corpus's floor of 0.807, which the run's meta.json records.
        let dir = std::env::temp_dir().join(format!("rnnlab-score-floor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut csv = String::from("step,loss,val_loss\n");
        let mut rng = crate::detect::test_support::Noise::new(3);
        for i in 0..800 {
            let loss = 0.84 + 3.0 * (-(i as f64) / 60.0).exp() + 0.01 * rng.normal();
            let val = if i % 100 == 99 {
                format!("{:.4}", loss + 0.002)
            } else {
                String::new()
            };
            csv.push_str(&format!("{i},{loss:.4},{val}\n"));
        }
        std::fs::write(dir.join("run.csv"), csv).unwrap();
        let header = "name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason\tunigram\tbigram\tfloor\n";
        let judged = |floor: &str| {
            let row = format!("run\ttune\thealthy\thigh\t47\t\ts\tr\t3.0467\t2.3042\t{floor}\n");
            std::fs::write(dir.join("INDEX.tsv"), format!("{header}{row}")).unwrap();
            score(&read_corpus(&dir).unwrap()).remove(0)
        };
        let without = judged("");
        assert!(
            without.reported.iter().any(|k| k.starts_with("leakage")),
            "{:?}",
            without.reported
        );
        let with = judged("0.8069");
        assert!(with.right, "{:?}", with.reported);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recorded_reference_levels_are_read_where_the_index_has_them() {
        let cases = read_temp_index(
            "refs",
            "name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason\tunigram\tbigram\n\
             a\ttune\thealthy\thigh\t65\t\ts\tr\t3.333\t2.474\n\
             b\ttune\thealthy\thigh\t65\t\ts\tr\n",
        )
        .unwrap();
        assert_eq!(cases[0].references.unigram, Some(3.333));
        assert_eq!(cases[0].references.bigram, Some(2.474));
        assert_eq!(cases[1].references, crate::References::default());
        // The data's floor, where the run recorded one (rnnlab's built-in corpus).
        let cases = read_temp_index(
            "floor",
            "name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason\tunigram\tbigram\tfloor\n\
             a\ttune\thealthy\thigh\t47\t\ts\tr\t3.0467\t2.3042\t0.8069\n\
             b\ttune\thealthy\thigh\t65\t\ts\tr\t3.333\t2.474\t\n",
        )
        .unwrap();
        assert_eq!(cases[0].references.floor, Some(0.8069));
        assert_eq!(cases[1].references.floor, None);
        // A cell that is not a number names its line and column.
        let err = read_temp_index(
            "bad",
            "name\tsplit\tlabels\tconfidence\tvocab\tsteps_per_epoch\tsource\treason\tunigram\tbigram\n\
             a\ttune\thealthy\thigh\t65\t\ts\tr\t3.3.3\t2.474\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("`unigram` is `3.3.3`"),
            "{err}"
        );
    }
}
