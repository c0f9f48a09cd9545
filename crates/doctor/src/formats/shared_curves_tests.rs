//! The labelled curves in ../shared/curves: every raw file loads, point counts match the index,
//! and the same run written as CSV and as TensorBoard gives the same training points.
//! Skips (with a note) where the folder is missing.

use super::*;
use crate::Point;

fn curves() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/curves");
    if dir.is_dir() {
        Some(dir)
    } else {
        use std::io::Write;
        let why = format!("{} missing", dir.display());
        if std::env::var_os("RNNLAB_REQUIRE_FIXTURES").is_some_and(|v| v != "0") {
            panic!("shared curves: {why} (RNNLAB_REQUIRE_FIXTURES is set)");
        }
        // Straight to stderr, past the test harness's capture: a skip must be visible.
        let _ = writeln!(std::io::stderr(), "SKIP: shared curves: {why}");
        None
    }
}

fn close(a: &[Point], b: &[Point], tol: f64) -> std::result::Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} points vs {}", a.len(), b.len()));
    }
    for (p, q) in a.iter().zip(b) {
        let same_value = (p.value.is_nan() && q.value.is_nan())
            || (p.value - q.value).abs() <= tol * p.value.abs().max(1.0);
        if p.step != q.step || !same_value {
            return Err(format!("{p:?} vs {q:?}"));
        }
    }
    Ok(())
}

#[test]
fn synthetic_csv_and_tensorboard_agree() {
    let Some(dir) = curves() else { return };
    let dir = dir.join("synthetic");
    let mut compared = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().is_some_and(|e| e == "csv") {
            let csv = load(&path, &LoadOptions::default()).unwrap();
            assert!(!csv.train_loss.is_empty(), "{}", path.display());
            assert!(!csv.val_loss.is_empty(), "{}", path.display());
            assert!(
                !csv.lr.is_empty() && !csv.grad_norm.is_empty(),
                "{}",
                path.display()
            );
            let tb_dir = path.with_extension("tfevents");
            if tb_dir.is_dir() {
                let tb = load(&tb_dir, &LoadOptions::default()).unwrap();
                // The CSV prints 6 significant digits of the same float32 values.
                for (what, a, b) in [
                    ("train", &csv.train_loss, &tb.train_loss),
                    ("val", &csv.val_loss, &tb.val_loss),
                    ("lr", &csv.lr, &tb.lr),
                    ("grad", &csv.grad_norm, &tb.grad_norm),
                ] {
                    if let Err(e) = close(a, b, 1e-5) {
                        panic!("{} {what}: {e}", path.display());
                    }
                }
                compared += 1;
            }
        }
    }
    assert!(compared >= 5, "compared {compared} runs");
}

/// INDEX.tsv rows: (raw file, points, val_points, has_lr, has_grad_norm).
fn index(dir: &Path) -> Vec<(String, usize, usize, bool, bool)> {
    let text = std::fs::read_to_string(dir.join("INDEX.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (raw, points, val, lr, grad) = (
        col("raw_file"),
        col("points"),
        col("val_points"),
        col("has_lr"),
        col("has_grad_norm"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[raw].to_string(),
                f[points].parse().unwrap(),
                f[val].parse().unwrap(),
                f[lr] == "yes",
                f[grad] == "yes",
            )
        })
        .collect()
}

#[test]
fn real_raw_files_load_with_indexed_point_counts() {
    let Some(dir) = curves() else { return };
    let dir = dir.join("real");
    let mut failures = Vec::new();
    for (raw, points, val_points, has_lr, has_grad) in index(&dir) {
        let path = dir.join("raw").join(&raw);
        let run = match load(&path, &LoadOptions::default()) {
            Ok(run) => run,
            Err(e) => {
                failures.push(format!("{raw}: {e}"));
                continue;
            }
        };
        eprintln!(
            "{raw}: train {} val {} lr {} grad {} steps_per_epoch {:?} first step {:?}",
            run.train_loss.len(),
            run.val_loss.len(),
            run.lr.len(),
            run.grad_norm.len(),
            run.steps_per_epoch,
            run.train_loss.first().map(|p| p.step)
        );
        // Detection from content alone (no telling file name) reads the same series.
        let bytes = std::fs::read(&path).unwrap();
        match load_bytes(&bytes, Path::new("unnamed"), &LoadOptions::default()) {
            // Debug strings compare NaN equal to NaN.
            Ok(c) if format!("{:?}", c.train_loss) == format!("{:?}", run.train_loss) => {}
            Ok(_) => failures.push(format!("{raw}: content sniffing reads other points")),
            Err(e) => failures.push(format!("{raw}: content sniffing fails: {e}")),
        }
        let normalised = dir.join("csv").join(Path::new(&raw).with_extension("csv"));
        let csv = load(&normalised, &LoadOptions::default()).unwrap();
        let got = (
            run.train_loss.len(),
            run.val_loss.len(),
            !run.lr.is_empty(),
            !run.grad_norm.is_empty(),
        );
        if run.train_loss.is_empty()
            || got != (points, val_points, has_lr, has_grad)
            || run.train_loss.len() != csv.train_loss.len()
            || run.val_loss.len() != csv.val_loss.len()
        {
            failures.push(format!(
                "{raw}: got (points, val, lr, grad) {got:?}, index says {:?}, normalised csv has {} / {}",
                (points, val_points, has_lr, has_grad),
                csv.train_loss.len(),
                csv.val_loss.len()
            ));
            continue;
        }
        // Same values as the normalised CSV (steps may be offset where the raw log restarts).
        let values = |p: &[Point]| p.iter().map(|p| p.value).collect::<Vec<_>>();
        let (a, b) = (values(&run.train_loss), values(&csv.train_loss));
        let differ = a
            .iter()
            .zip(&b)
            .any(|(x, y)| !(x.is_nan() && y.is_nan()) && (x - y).abs() > 1e-4 * x.abs().max(1.0));
        if differ {
            failures.push(format!(
                "{raw}: train values differ from the normalised csv"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
