use anyhow::{bail, Context};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

use engine::model::LanguageModel;
use engine::CpuBackend;
use rnnlab::checkpoint::{existing_or_old, list_step_checkpoints, load_weights, read_info};
use rnnlab::config::Config;
use rnnlab::data::{self, AnyTokenizer, EvalBatches, Fetcher, Split, TextSize};
use rnnlab::evaluate::evaluate;
use rnnlab::sample::{sample as generate, SampleOptions};
use rnnlab::train::setup;

/// A checkpoint directory, or a run directory (its best checkpoint, else its newest).
fn resolve_checkpoint(path: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if path.join("model.safetensors").is_file() {
        let run = path.parent().and_then(Path::parent).with_context(|| {
            format!(
                "{}: a checkpoint must sit in <run>/checkpoints/",
                path.display()
            )
        })?;
        return Ok((run.to_path_buf(), path.to_path_buf()));
    }
    if path.join("config.toml").is_file() {
        let checkpoints = path.join("checkpoints");
        // A crash while `best/` was being replaced leaves it as `.best.old`.
        let best = existing_or_old(&checkpoints.join("best"));
        let ckpt = if best.join("model.safetensors").is_file() {
            best
        } else {
            list_step_checkpoints(&checkpoints)
                .pop()
                .with_context(|| format!("{}: the run has no checkpoint yet", path.display()))?
        };
        return Ok((path.to_path_buf(), ckpt));
    }
    bail!(
        "{}: not a checkpoint (no model.safetensors) nor a run directory (no config.toml)",
        path.display()
    )
}

struct Loaded {
    config: Config,
    tokenizer: AnyTokenizer,
    model: LanguageModel,
    run: PathBuf,
    /// Which checkpoint was loaded, for the report: `best, step 1200`.
    which: String,
}

fn load(path: &Path) -> anyhow::Result<Loaded> {
    let (run, ckpt) = resolve_checkpoint(path)?;
    let config = Config::from_file(&run.join("config.toml"))?;
    let tokenizer = AnyTokenizer::load(&run.join("tokenizer.json"))?;
    let spec = setup::model_spec(&config, tokenizer.vocab_size())?;
    let mut model = LanguageModel::new(spec, 0)?;
    load_weights(&ckpt, &mut model.params)?;
    let step = read_info(&ckpt).ok().map(|i| i.step);
    let name = ckpt
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let which = match step {
        Some(step) => format!("{name}, step {step}"),
        None => name,
    };
    Ok(Loaded {
        config,
        tokenizer,
        model,
        run,
        which,
    })
}

#[derive(Args)]
pub struct EvalArgs {
    /// Checkpoint or run directories.
    #[arg(required = true)]
    checkpoints: Vec<PathBuf>,
    /// Average the predicted probabilities of all checkpoints (they must share a tokenizer).
    #[arg(long)]
    ensemble: bool,
    /// Evaluate on this text file instead of a split of the run's data.
    #[arg(long)]
    file: Option<PathBuf>,
    /// valid or test.
    #[arg(long, default_value = "test")]
    split: String,
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// What an evaluation scores: its batches and the size of its text (for bits per character
/// and per byte whatever the tokenizer).
struct EvalText {
    batches: EvalBatches,
    tokens: u64,
    size: TextSize,
}

impl EvalText {
    /// `bits/char X  bits/byte Y` of a loss in nats per token.
    fn bits_text(&self, loss: f64) -> String {
        let (c, b) = self.size.bits(loss, self.tokens);
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
        format!("bits/char {}  bits/byte {}", f(c), f(b))
    }
}

fn batches_for(loaded: &Loaded, a: &EvalArgs) -> anyhow::Result<EvalText> {
    let (b, t) = (loaded.config.train.batch, loaded.config.train.bptt);
    if let Some(file) = &a.file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("{}: cannot read as UTF-8 text", file.display()))?;
        let (n, unk) = loaded.tokenizer.unknown_chars(&text);
        println!(
            "{}: {n} character(s) not in the vocabulary{}",
            file.display(),
            match (n, unk) {
                (0, _) => "",
                (_, true) => " (scored as <unk>)",
                (_, false) => " (left out of the score)",
            }
        );
        let ids = loaded.tokenizer.encode(&text);
        let size = loaded.tokenizer.text_size(&ids);
        let tokens = ids.len() as u64;
        let b = b.min(ids.len() / 2).max(1);
        let batches = EvalBatches::new(ids, b, t)
            .with_context(|| format!("{}: too short to evaluate", file.display()))?;
        return Ok(EvalText {
            batches,
            tokens,
            size,
        });
    }
    let split = match a.split.as_str() {
        "valid" => Split::Valid,
        "test" => Split::Test,
        "train" => Split::Train,
        other => bail!("--split {other}: expected valid, test or train"),
    };
    let (spec, _, fractions) = setup::data_spec(&loaded.config)?;
    let prepared = data::prepare(
        &data::DataConfig {
            data: spec,
            tokenizer: None,
            fitted: Some(loaded.tokenizer.clone()),
            fractions,
            token_cache: Some(loaded.run.clone()),
        },
        &Fetcher::from_env(),
    )?;
    let ids = prepared.tokens(split);
    Ok(EvalText {
        size: loaded.tokenizer.text_size(ids),
        tokens: ids.len() as u64,
        batches: prepared.eval_batches(split, b, t)?,
    })
}

pub fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let mut loaded: Vec<Loaded> = a
        .checkpoints
        .iter()
        .map(|p| load(p))
        .collect::<anyhow::Result<_>>()?;
    let be = CpuBackend::new(a.threads);
    let what = a
        .file
        .as_ref()
        .map_or(format!("{} split", a.split), |f| f.display().to_string());
    if a.ensemble {
        let first = loaded[0].tokenizer.to_json();
        if let Some(l) = loaded.iter().find(|l| l.tokenizer.to_json() != first) {
            bail!("{}: its tokenizer differs from the first checkpoint's; an ensemble needs one vocabulary", l.run.display());
        }
        let text = batches_for(&loaded[0], &a)?;
        let mut models: Vec<LanguageModel> = loaded.into_iter().map(|l| l.model).collect();
        let r = evaluate(&be, &mut models, &text.batches)?;
        println!(
            "ensemble of {}  {what}: loss {:.4}  ppl {:.2}  bits {:.4}  {}  ({} tokens)",
            models.len(),
            r.loss,
            r.perplexity(),
            r.bits(),
            text.bits_text(r.loss),
            r.tokens
        );
        return Ok(());
    }
    for (l, path) in loaded.iter_mut().zip(&a.checkpoints) {
        let text = batches_for(l, &a)?;
        let r = evaluate(&be, std::slice::from_mut(&mut l.model), &text.batches)?;
        println!(
            "{} ({})  {what}: loss {:.4}  ppl {:.2}  bits {:.4}  {}  ({} tokens)",
            path.display(),
            l.which,
            r.loss,
            r.perplexity(),
            r.bits(),
            text.bits_text(r.loss),
            r.tokens
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct SampleArgs {
    /// Checkpoint or run directory.
    checkpoint: PathBuf,
    #[arg(long, default_value = "")]
    prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 500)]
    len: usize,
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample among the K most likely tokens only (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Nucleus sampling: the smallest set of tokens with this much probability.
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn sample(a: SampleArgs) -> anyhow::Result<()> {
    if !(a.top_p > 0.0 && a.top_p <= 1.0) {
        bail!("--top-p {}: expected a value in (0, 1]", a.top_p);
    }
    let mut l = load(&a.checkpoint)?;
    let be = CpuBackend::new(1);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", a.prompt)?;
    generate(
        &be,
        &mut l.model,
        &l.tokenizer,
        &SampleOptions {
            prompt: a.prompt.clone(),
            len: a.len,
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
        },
        |piece| {
            let _ = write!(out, "{piece}");
            let _ = out.flush();
        },
    )?;
    writeln!(out)?;
    Ok(())
}
