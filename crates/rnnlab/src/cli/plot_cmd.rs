//! `rnnlab plot`: loss curves of one or more runs (overlaid) with the doctor's findings marked.

use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

use doctor::formats::{load, load_many, LoadOptions};
use doctor::{diagnose, Diagnosis, Run};

#[derive(Args)]
pub struct PlotArgs {
    /// Run directories or any log the doctor reads; several are overlaid, each diagnosed.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output picture: .svg or .png.
    #[arg(short, long)]
    output: PathBuf,
    /// TensorBoard-style smoothing weight of the training loss, in [0, 1); 0 draws it raw.
    #[arg(long, default_value_t = 0.9)]
    smooth: f64,
    #[arg(long)]
    log_x: bool,
    #[arg(long)]
    log_y: bool,
    /// Loss axis range: `auto` ignores outliers when a few points would squash the curve, `robust`
    /// always does (points beyond are drawn at the edge and marked), `full` shows every value.
    #[arg(long, default_value = "auto")]
    ylim: plot::YRange,
    /// Vocabulary size (draws ln V, the loss a fresh model starts at) where the log lacks it.
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Which run of a folder holding several TensorBoard runs (the error without it names them).
    #[arg(long)]
    run: Option<String>,
    /// The training-loss tag (TensorBoard) or column (a table), where the name is not guessed.
    #[arg(long)]
    tag: Option<String>,
    /// Chart title (defaults to the run names).
    #[arg(long)]
    title: Option<String>,
    #[arg(long, default_value_t = 1200)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
}

/// Loads several paths as one run (the doctor's `load_many`) and diagnoses it.
pub fn load_diagnosed_many(
    paths: &[PathBuf],
    opts: &LoadOptions,
) -> anyhow::Result<(Run, Diagnosis)> {
    let vocab_size = opts.vocab_size;
    let path = &paths[0];
    let mut run = load_many(paths, opts)?;
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(v) = vocab_size {
        run.references.ln_vocab = run.references.ln_vocab.or(Some((v as f64).ln()));
    }
    if run.train_loss.is_empty() && run.val_loss.is_empty() {
        bail!("{}: no loss values found", path.display());
    }
    let diagnosis = diagnose(&run);
    Ok((run, diagnosis))
}

/// Which series an input holds: (training loss, validation loss); `None` when it does not load.
fn holds(path: &Path, opts: &LoadOptions) -> Option<(bool, bool)> {
    let run = load(path, opts).ok()?;
    Some((!run.train_loss.is_empty(), !run.val_loss.is_empty()))
}

/// Groups inputs into runs as the doctor reads them: neighbouring inputs in one folder where one
/// holds only the training loss and the other only the validation loss (`tb/train tb/val`,
/// `logs/train.csv logs/eval.csv`) are one run; every other input is a run of its own.
fn group_inputs(inputs: &[PathBuf], opts: &LoadOptions) -> Vec<Vec<PathBuf>> {
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    let mut i = 0;
    while i < inputs.len() {
        let a = &inputs[i];
        if let Some(b) = inputs.get(i + 1) {
            let same_folder = std::path::absolute(a)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                == std::path::absolute(b)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf));
            let split = same_folder
                && matches!(
                    (holds(a, opts), holds(b, opts)),
                    (Some((true, false)), Some((false, true)))
                        | (Some((false, true)), Some((true, false)))
                );
            if split {
                groups.push(vec![a.clone(), b.clone()]);
                i += 2;
                continue;
            }
        }
        groups.push(vec![a.clone()]);
        i += 1;
    }
    groups
}

pub fn run(a: PlotArgs) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&a.smooth) {
        bail!("--smooth {} is outside [0, 1)", a.smooth);
    }
    let load = LoadOptions {
        vocab_size: a.vocab_size,
        loss_col: a.tag.clone(),
        run: a.run.clone(),
        ..LoadOptions::default()
    };
    let runs = group_inputs(&a.inputs, &load)
        .iter()
        .map(|g| load_diagnosed_many(g, &load))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opts = plot::PlotOptions {
        smooth: a.smooth,
        log_x: a.log_x,
        log_y: a.log_y,
        width: a.width,
        height: a.height,
        title: a.title,
        y_range: a.ylim,
    };
    plot::write_plot(&a.output, &runs, &opts)
        .with_context(|| format!("plotting to {}", a.output.display()))?;
    for (run, diagnosis) in &runs {
        let marked = diagnosis.findings.len();
        println!(
            "{}: {} points, {marked} finding{} marked",
            run.name,
            run.train_loss.len() + run.val_loss.len(),
            if marked == 1 { "" } else { "s" }
        );
    }
    println!("wrote {}", a.output.display());
    Ok(())
}
