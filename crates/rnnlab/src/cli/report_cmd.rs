//! `rnnlab report`: one self-contained HTML page of a run — zoomable chart, the doctor's verdict
//! and findings, config, samples and guard incidents with their batch text.

use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

use super::plot_cmd::load_diagnosed;
use rnnlab::dashboard::read_run_extras;

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

/// The run directory an input belongs to: itself, or the folder of its `metrics.jsonl`.
fn run_dir_of(input: &Path) -> Option<PathBuf> {
    if input.is_dir() {
        return Some(input.to_path_buf());
    }
    let parent = input.parent()?;
    (input.file_name()? == "metrics.jsonl").then(|| parent.to_path_buf())
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let (run, diagnosis) = load_diagnosed(&a.run, a.vocab_size)?;
    let mut extras = plot::ReportExtras::default();
    if let Some(dir) = run_dir_of(&a.run) {
        let (found, warnings) = read_run_extras(&dir);
        for w in warnings {
            eprintln!("warning: {w}");
        }
        extras = found;
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
