//! Test helpers: constructed series, deterministic noise, and a tiny reader for the
//! development curves in `../shared/curves` (step,loss,val_loss,lr,grad_norm; empty = missing).

use std::path::{Path, PathBuf};

use crate::{Point, Run};

/// The kinds a diagnosis reports at warning or error, in its order.
pub fn warned(d: &crate::report::Diagnosis) -> Vec<crate::report::FindingKind> {
    d.findings
        .iter()
        .filter(|f| f.severity >= crate::report::Severity::Warning)
        .map(|f| f.kind)
        .collect()
}

/// A character LSTM trained again on a small book (blind batch 106): its validation, every 10
/// steps, climbs steadily 2.754 → 2.882 (passing ln 17 = 2.833) while training falls.
pub const CHAR_MODEL_VAL_CLIMB: [f64; 24] = [
    2.7543, 2.7713, 2.7902, 2.7921, 2.7834, 2.7918, 2.8061, 2.8113, 2.8181, 2.8174, 2.8268, 2.8193,
    2.8183, 2.8391, 2.8437, 2.8459, 2.8554, 2.8529, 2.8676, 2.8723, 2.8783, 2.8693, 2.8684, 2.8821,
];

/// `n` points at steps 0..n with values `f(i)`.
pub fn curve(n: usize, f: impl Fn(usize) -> f64) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            step: i as f64,
            value: f(i),
        })
        .collect()
}

/// One value per epoch, at steps 1, 2, … (an epoch-level log such as Keras writes).
pub fn per_epoch(values: &[f64]) -> Vec<Point> {
    spaced(values, 1.0, 1.0)
}

/// Points at the given `(step, value)` pairs (a log with gaps or uneven steps).
pub fn at_steps(pairs: &[(f64, f64)]) -> Vec<Point> {
    pairs
        .iter()
        .map(|&(step, value)| Point { step, value })
        .collect()
}

/// `values` logged at steps `first`, `first + every`, … (a pasted log's few lines).
pub fn spaced(values: &[f64], first: f64, every: f64) -> Vec<Point> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| Point {
            step: first + every * i as f64,
            value,
        })
        .collect()
}

/// An SGDR learning rate over `n` steps: cosine from `peak` to half of it, restarting every
/// `cycle` steps.
pub fn cosine_restarts(n: usize, cycle: usize, peak: f64) -> Vec<Point> {
    curve(n, |i| {
        let phase = (i % cycle) as f64 / cycle as f64;
        peak * (0.5 + 0.5 * (phase * std::f64::consts::PI).cos())
    })
}

/// A run with only a training curve and, optionally, a vocabulary size.
/// Every `k`-th point of a series (an evaluation every `k` logged steps).
pub fn every(points: Vec<Point>, k: usize) -> Vec<Point> {
    points.into_iter().step_by(k).collect()
}

pub fn run_with(train: Vec<Point>, vocab: Option<usize>) -> Run {
    Run {
        name: "constructed".into(),
        train_loss: train,
        vocab_size: vocab,
        ..Run::default()
    }
}

/// `f(i)` at steps 0..n plus Gaussian noise of sd `sd`.
pub fn noisy(n: usize, sd: f64, seed: u64, f: impl Fn(usize) -> f64) -> Vec<Point> {
    let mut rng = Noise::new(seed);
    curve(n, f)
        .into_iter()
        .map(|p| Point {
            value: p.value + sd * rng.normal(),
            ..p
        })
        .collect()
}

/// A training loss falling from 4 toward 1.5 as 1/√step (steps 0..n), with Gaussian noise of sd
/// `sd`: the spike tests' background.
pub fn decaying(n: usize, sd: f64, seed: u64) -> Vec<Point> {
    noisy(n, sd, seed, |i| 1.5 + 2.5 / (1.0 + i as f64 / 30.0).sqrt())
}

/// Deterministic standard-normal-ish noise (xorshift + Box–Muller), so tests never flake.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The shared development curves, or `None` (with a note) when the folder is missing.
pub fn curves_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/curves");
    if dir.is_dir() {
        Some(dir)
    } else {
        // Written past the test harness's capture, so the skip shows in `cargo test` output.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: {} is missing; the labelled shared curves are not judged",
            dir.display()
        );
        None
    }
}

/// Read a normalised CSV (`step,loss,val_loss,lr,grad_norm`) into a run.
pub fn read_curve_csv(path: &Path) -> Run {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (cs, cl, cv, clr, cg) = (
        col("step"),
        col("loss"),
        col("val_loss"),
        col("lr"),
        col("grad_norm"),
    );
    let mut run = Run {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Run::default()
    };
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |c: Option<usize>| -> Option<f64> {
            let s = cells.get(c?)?.trim();
            if s.is_empty() {
                None
            } else {
                s.parse::<f64>().ok().or(Some(f64::NAN))
            }
        };
        let Some(step) = get(cs) else { continue };
        let push = |v: &mut Vec<Point>, x: Option<f64>| {
            if let Some(value) = x {
                v.push(Point { step, value });
            }
        };
        push(&mut run.train_loss, get(cl));
        push(&mut run.val_loss, get(cv));
        push(&mut run.lr, get(clr));
        push(&mut run.grad_norm, get(cg));
    }
    run
}
