use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

use doctor::formats::{load_bytes_for_diagnosis, load_for_diagnosis, LoadOptions};
use doctor::{diagnose, Severity};
use rnnlab::data::{CorpusStats, TokenizerSpec};

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Warning,
    Error,
}

#[derive(Args)]
pub struct DoctorArgs {
    /// Run directory, metrics.jsonl, CSV/TSV, TensorBoard file or folder, trainer_state.json,
    /// or a text log. Several paths are read as one run (e.g. train/ and val/ event folders).
    /// `-` reads the log from standard input (lines pasted from a console: `pbpaste | rnnlab
    /// doctor -`).
    #[arg(required_unless_present = "score")]
    paths: Vec<PathBuf>,
    /// Score the doctor on a labelled corpus (a folder with INDEX.tsv, or one whose
    /// subfolders have one, e.g. crates/doctor/corpus): accuracy per split, false alarms on
    /// healthy curves, accuracy per kind, the confusion between kinds.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["json", "markdown"])]
    score: Option<PathBuf>,
    /// Print the diagnosis as JSON.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the diagnosis as Markdown (for issues and notebooks).
    #[arg(long)]
    markdown: bool,
    /// Exit with status 1 when a finding is at least this severe, and 3 when the verdict is
    /// inconclusive (too little data to call the run healthy).
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Vocabulary size (gives ln V, the loss a fresh model starts at).
    #[arg(long)]
    vocab_size: Option<usize>,
    /// The training text: reference levels (ln V, unigram, bigram entropy) are computed from it.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// How --corpus is tokenized: char (default), byte, word, bpe.
    #[arg(long, default_value = "char")]
    tokenizer: String,
    /// Optimizer steps per epoch, when known: the doctor then looks for an epoch-periodic
    /// pattern at that period instead of searching for one.
    #[arg(long)]
    steps_per_epoch: Option<f64>,
    /// The step column (a table); without it a column named step, global_step, iter, … or the
    /// row number.
    #[arg(long)]
    step_col: Option<String>,
    /// The training-loss column (a table) or tag (TensorBoard).
    #[arg(long, alias = "tag")]
    loss_col: Option<String>,
    /// Which run of a folder holding several TensorBoard runs (the error without it names them).
    #[arg(long)]
    run: Option<String>,
    /// The validation-loss column (a table) or tag (TensorBoard).
    #[arg(long)]
    val_col: Option<String>,
    /// The learning-rate column (a table) or tag (TensorBoard).
    #[arg(long)]
    lr_col: Option<String>,
    /// The gradient-norm column (a table) or tag (TensorBoard).
    #[arg(long)]
    grad_col: Option<String>,
    /// Regex for text logs with named groups `step` and `loss` (optionally `val`).
    #[arg(long)]
    pattern: Option<String>,
}

fn corpus_references(path: &PathBuf, tokenizer: &str) -> anyhow::Result<doctor::References> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the corpus as UTF-8 text", path.display()))?;
    if tokenizer == "char" {
        return Ok(doctor::references::from_text(&text));
    }
    let tok = TokenizerSpec::parse(tokenizer)?.fit(&text, &[])?;
    let ids = tok.encode(&text);
    let s = CorpusStats::compute(&ids, &ids, tok.vocab_size(), None);
    Ok(doctor::References {
        ln_vocab: Some(s.ln_vocab),
        unigram: Some(s.unigram),
        bigram: Some(s.bigram),
        floor: None,
    })
}

pub fn run(a: DoctorArgs) -> anyhow::Result<()> {
    if let Some(dir) = &a.score {
        let cases = doctor::score::read_corpus(dir)?;
        let scored = doctor::score::score(&cases);
        return super::print_stdout(&doctor::score::summary(&scored));
    }
    let opts = LoadOptions {
        step_col: a.step_col.clone(),
        loss_col: a.loss_col.clone(),
        val_col: a.val_col.clone(),
        lr_col: a.lr_col.clone(),
        grad_col: a.grad_col.clone(),
        pattern: a.pattern.clone(),
        vocab_size: a.vocab_size,
        steps_per_epoch: a.steps_per_epoch,
        run: a.run.clone(),
    };
    let corpus = match &a.corpus {
        Some(path) => Some(corpus_references(path, &a.tokenizer)?),
        None => None,
    };
    let run = if a.paths.len() == 1 && a.paths[0].as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("reading the log from standard input")?;
        load_bytes_for_diagnosis(&bytes, "stdin", &opts, corpus.as_ref())?
    } else {
        anyhow::ensure!(
            !a.paths.iter().any(|p| p.as_os_str() == "-"),
            "`-` (standard input) is read alone; give the other paths in a separate call"
        );
        load_for_diagnosis(&a.paths, &opts, corpus.as_ref())?
    };
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    let diagnosis = diagnose(&run);
    let text = if a.json {
        diagnosis.to_json()
    } else if a.markdown {
        diagnosis.to_markdown()
    } else {
        diagnosis.to_terminal()
    };
    super::print_stdout(&text)?;
    let threshold = a.fail_on.map(|f| match f {
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
    });
    if let Some(t) = threshold {
        if diagnosis.findings.iter().any(|f| f.severity >= t) {
            std::process::exit(1);
        }
        if diagnosis.verdict == doctor::Verdict::Inconclusive {
            std::process::exit(3);
        }
    }
    Ok(())
}
