//! `rnnlab report`: one self-contained HTML page of a run — zoomable chart, the doctor's verdict
//! and findings, config, samples and guard incidents with their batch text.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use doctor::formats::LoadOptions;

use super::plot_cmd::load_diagnosed_many;

#[derive(Args)]
pub struct ReportArgs {
    /// Run directory (or any log the doctor reads; config, samples and incidents come from a
    /// run directory only).
    input: PathBuf,
    /// Output HTML file.
    #[arg(short, long)]
    output: PathBuf,
    /// Vocabulary size (gives ln V) where the log lacks it.
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Which run of a folder holding several TensorBoard runs (the error without it names them).
    #[arg(long)]
    run: Option<String>,
    /// The training-loss tag (TensorBoard) or column (a table), where the name is not guessed.
    #[arg(long)]
    tag: Option<String>,
    /// Page heading (defaults to the run's name).
    #[arg(long)]
    title: Option<String>,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let opts = LoadOptions {
        vocab_size: a.vocab_size,
        loss_col: a.tag.clone(),
        run: a.run.clone(),
        ..LoadOptions::default()
    };
    let (run, diagnosis) = load_diagnosed_many(std::slice::from_ref(&a.input), &opts)?;
    let (mut extras, warnings) = plot::extras::extras_for_input(&a.input);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    extras.title = a.title;
    let html = plot::render_report_html(&run, &diagnosis, &extras);
    std::fs::write(&a.output, html)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    println!(
        "{}: {} findings, {} incidents, {} samples; wrote {}",
        run.name,
        diagnosis.findings.len(),
        extras.incidents.len(),
        extras.samples.len(),
        a.output.display()
    );
    Ok(())
}
