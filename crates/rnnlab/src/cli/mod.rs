//! Subcommands. Each parses its flags and calls into the library.

mod doctor_cmd;
mod model_cmd;
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
}

pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => train_cmd::run(a),
        Command::Eval(a) => model_cmd::eval(a),
        Command::Sample(a) => model_cmd::sample(a),
        Command::Doctor(a) => doctor_cmd::run(a),
    }
}
