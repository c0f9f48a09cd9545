//! Subcommands. Each parses its flags and calls into the library.

mod dashboard_cmd;
mod doctor_cmd;
mod model_cmd;
mod plot_cmd;
mod report_cmd;
mod runs_cmd;
mod train_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Train recurrent language models from scratch and ask: is this loss normal?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (default: a small LSTM on the built-in corpus, about two minutes).
    Train(train_cmd::TrainArgs),
    /// Report loss, perplexity and bits per token of checkpoints on a split or a file.
    Eval(model_cmd::EvalArgs),
    /// Generate text from a checkpoint.
    Sample(model_cmd::SampleArgs),
    /// Read a run's curves (rnnlab, CSV, TensorBoard, Hugging Face, text logs) and diagnose them.
    Doctor(doctor_cmd::DoctorArgs),
    /// Draw loss curves (SVG or PNG) with the doctor's findings marked; several runs overlay.
    Plot(plot_cmd::PlotArgs),
    /// Write a self-contained interactive HTML report of a run.
    Report(report_cmd::ReportArgs),
    /// A table of the runs under a folder: model, data, steps, time, best validation loss,
    /// perplexity and bits per character/byte/word, the doctor's verdict, differing settings.
    Runs(runs_cmd::RunsArgs),
    /// Serve a run's live dashboard (chart and findings update as metrics.jsonl grows).
    Dashboard(dashboard_cmd::DashboardArgs),
}

pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => train_cmd::run(a),
        Command::Eval(a) => model_cmd::eval(a),
        Command::Sample(a) => model_cmd::sample(a),
        Command::Doctor(a) => doctor_cmd::run(a),
        Command::Plot(a) => plot_cmd::run(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Dashboard(a) => dashboard_cmd::run(a),
        Command::Runs(a) => runs_cmd::run(a),
    }
}

/// Prints `text` and a newline to stdout. A reader that stops early (`rnnlab doctor … | head`)
/// is not an error: the rest is dropped quietly instead of panicking as `println!` does.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
