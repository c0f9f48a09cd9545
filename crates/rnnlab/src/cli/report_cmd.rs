//! `rnnlab report`: one self-contained HTML page of a run — zoomable chart, the doctor's verdict
//! and findings, config, samples and guard incidents with their batch text.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use super::plot_cmd::load_diagnosed;

#[derive(Args)]
pub struct ReportArgs {
    /// Run directory (or any log the doctor reads; config, samples and incidents come from a
    /// run directory only).
    run: PathBuf,
    /// Output HTML file.
    #[arg(short, long)]
    output: PathBuf,
    /// Vocabulary size (gives ln V) where the log lacks it.
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Page heading (defaults to the run's name).
    #[arg(long)]
    title: Option<String>,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let (run, diagnosis) = load_diagnosed(&a.run, a.vocab_size)?;
    let (mut extras, warnings) = plot::extras::extras_for_input(&a.run);
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
