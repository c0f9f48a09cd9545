//! Evaluation on the labelled development curves in `../shared/curves`: every expected kind must
//! be found (at its step, within tolerance, where one is given) and every healthy curve judged
//! healthy. Prints a table; `DOCTOR_EVAL_VERBOSE=1` also prints each full report.
//! Skips cleanly when the folder is missing.

use std::path::Path;

use crate::detect::test_support::{curve, curves_dir, read_curve_csv, Noise};
use crate::report::{Diagnosis, Severity, Verdict};
use crate::{diagnose, Point, Run};

/// One acceptable outcome: a kind (or "healthy"), optionally at a step.
#[derive(Debug, Clone)]
struct Expect {
    kinds: Vec<String>,
    step: Option<f64>,
    tol: f64,
}

fn judged_right(d: &Diagnosis, expects: &[Expect]) -> bool {
    expects.iter().all(|e| {
        if e.kinds.iter().any(|k| k == "healthy") {
            return d.verdict == Verdict::Healthy;
        }
        d.findings.iter().any(|f| {
            f.severity >= Severity::Warning
                && e.kinds.iter().any(|k| k == f.kind.name())
                && e.step.is_none_or(|s| {
                    [f.start_step, f.peak_step]
                        .iter()
                        .flatten()
                        .any(|&x| (x - s).abs() <= e.tol)
                })
        })
    })
}

fn describe(d: &Diagnosis) -> String {
    let f: Vec<String> = d
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}@{}{}",
                f.kind.name(),
                f.peak_step
                    .or(f.start_step)
                    .map_or("-".into(), |s| format!("{s}")),
                match f.severity {
                    Severity::Info => "(i)",
                    Severity::Warning => "",
                    Severity::Error => "!",
                }
            )
        })
        .collect();
    format!("{:9} {}", d.verdict.name(), f.join(" "))
}

fn synthetic_cases(dir: &Path, with_refs: bool) -> Vec<(String, Run, Vec<Expect>)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir.join("synthetic"))
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for meta_path in names {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
        let mut run = read_curve_csv(&meta_path.with_extension("csv"));
        run.vocab_size = meta["vocab"].as_u64().map(|v| v as usize);
        run.steps_per_epoch = meta["steps_per_epoch"].as_f64();
        if with_refs {
            // The README's levels for tiny Shakespeare (validation split).
            run.references.ln_vocab = run.vocab_size.map(|v| (v as f64).ln());
            run.references.unigram = Some(3.347);
            run.references.bigram = Some(2.484);
        }
        let expects = meta["expect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut kinds: Vec<String> = e["accept"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                kinds.push(e["kind"].as_str().unwrap().to_string());
                Expect {
                    kinds,
                    step: e["step"].as_f64(),
                    tol: e["tol"].as_f64().unwrap_or(0.0),
                }
            })
            .collect();
        out.push((run.name.clone(), run, expects));
    }
    out
}

/// Labels like `spike@1122`, `overfitting(onset<=1000)`, `healthy; spike@18718` (either is right).
fn parse_label(label: &str, span: f64) -> Vec<Expect> {
    let alternatives: Vec<Expect> = label
        .split(';')
        .map(|part| {
            let part = part.trim();
            let kind_end = part.find(['(', '@']).unwrap_or(part.len());
            let step = part
                .split_once('@')
                .and_then(|(_, s)| s.trim().parse::<f64>().ok());
            Expect {
                kinds: vec![part[..kind_end].trim().to_string()],
                step,
                tol: (0.01 * span).max(10.0),
            }
        })
        .collect();
    if alternatives.len() > 1 {
        // Any alternative is a right answer: modelled as one Expect whose kinds are all of them,
        // except that "healthy" alternatives are checked separately in `real_right`.
        return alternatives;
    }
    alternatives
}

fn real_right(d: &Diagnosis, expects: &[Expect]) -> bool {
    if expects.len() > 1 {
        expects
            .iter()
            .any(|e| judged_right(d, std::slice::from_ref(e)))
    } else {
        judged_right(d, expects)
    }
}

fn verbose() -> bool {
    std::env::var("DOCTOR_EVAL_VERBOSE").is_ok_and(|v| v == "1")
}

#[test]
fn synthetic_dev_curves_are_judged_right() {
    let Some(dir) = curves_dir() else { return };
    let mut wrong = Vec::new();
    for with_refs in [false, true] {
        println!(
            "\n== synthetic ({}) ==",
            if with_refs {
                "ln V, unigram, bigram"
            } else {
                "vocabulary only"
            }
        );
        for (name, run, expects) in synthetic_cases(&dir, with_refs) {
            let d = diagnose(&run);
            let ok = judged_right(&d, &expects);
            let exp: Vec<String> = expects.iter().map(|e| e.kinds.join("|")).collect();
            println!(
                "{} {:22} expect {:28} got {}",
                if ok { "ok " } else { "BAD" },
                name,
                exp.join(","),
                describe(&d)
            );
            if verbose() {
                println!("{}", d.to_terminal());
            }
            if !ok {
                wrong.push(format!("{name} (refs: {with_refs})"));
            }
        }
    }
    assert!(wrong.is_empty(), "judged wrong: {wrong:?}");
}

#[test]
fn real_dev_curves_are_judged_right() {
    let Some(dir) = curves_dir() else { return };
    let index = std::fs::read_to_string(dir.join("real/INDEX.tsv")).unwrap();
    let mut lines = index.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (c_id, c_label, c_conf) = (col("id"), col("labels"), col("confidence"));
    let csvs: Vec<_> = std::fs::read_dir(dir.join("real/csv"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut wrong = Vec::new();
    println!("\n== real ==");
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let id = cells[c_id];
        let Some(path) = csvs.iter().find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{id}_"))
        }) else {
            continue;
        };
        let run = read_curve_csv(path);
        let span = run.train_loss.last().map_or(0.0, |p| p.step)
            - run.train_loss.first().map_or(0.0, |p| p.step);
        let expects = parse_label(cells[c_label], span);
        let d = diagnose(&run);
        let ok = real_right(&d, &expects);
        println!(
            "{} {:30} {:6} expect {:34} got {}",
            if ok { "ok " } else { "BAD" },
            run.name,
            cells[c_conf],
            cells[c_label],
            describe(&d)
        );
        if verbose() {
            println!("{}", d.to_terminal());
        }
        if !ok && cells[c_conf] != "low" {
            wrong.push(run.name.clone());
        }
    }
    assert!(wrong.is_empty(), "judged wrong: {wrong:?}");
}

/// A long healthy run for the speed benchmark: power-law decay with noise, val, LR, grad norm.
fn million_point_run(n: usize) -> Run {
    let mut rng = Noise::new(42);
    let train: Vec<Point> = curve(n, |i| 1.2 + 3.0 / (1.0 + i as f64 / 500.0).powf(0.4))
        .into_iter()
        .map(|p| Point {
            value: p.value + 0.05 * rng.normal(),
            ..p
        })
        .collect();
    Run {
        name: "million".into(),
        val_loss: train
            .iter()
            .step_by(1000)
            .map(|p| Point {
                value: p.value + 0.05,
                ..*p
            })
            .collect(),
        lr: curve(n, |i| 3e-4 * (1.0 - 0.5 * i as f64 / n as f64)),
        grad_norm: curve(n, |i| 0.3 + 0.01 * (i % 17) as f64),
        train_loss: train,
        vocab_size: Some(65),
        ..Run::default()
    }
}

#[test]
#[ignore = "speed benchmark (prints, goal < 1 s): cargo test --release -p rnnlab-doctor million -- --ignored --nocapture"]
fn million_points_benchmark() {
    let run = million_point_run(1_000_000);
    let t = std::time::Instant::now();
    let d = diagnose(&run);
    let elapsed = t.elapsed();
    println!(
        "diagnose on 1,000,000 points: {elapsed:?} (goal < 1 s) → {}",
        describe(&d)
    );
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
}

#[test]
fn a_long_healthy_run_is_healthy() {
    let d = diagnose(&million_point_run(50_000));
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    assert!(!d.reasons.is_empty());
}

#[test]
fn a_healthy_reason_never_calls_a_validation_far_above_training_tracking() {
    let train = curve(200, |i| 0.1 + 2.0 * (-(i as f64) / 30.0).exp());
    let evals = |level: f64| -> Vec<Point> {
        (1..=10)
            .map(|k| Point {
                step: 20.0 * k as f64 - 1.0,
                value: level + 0.3 * (-(k as f64) / 3.0).exp(),
            })
            .collect()
    };
    let mut run = Run {
        train_loss: train,
        ..Run::default()
    };
    run.val_loss = evals(0.12);
    let d = diagnose(&run);
    assert!(
        d.reasons
            .iter()
            .any(|r| r.starts_with("validation tracking training")),
        "{:?}",
        d.reasons
    );
    run.val_loss = evals(0.6);
    let d = diagnose(&run);
    assert!(
        d.reasons
            .iter()
            .all(|r| !r.starts_with("validation tracking training")),
        "{:?}",
        d.reasons
    );
}
