use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use rnnlab::config::Config;
use rnnlab::data::Fetcher;
use rnnlab::train::{run_dir, train, RunSummary, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// A TOML config file (sections [data], [model], [train]).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. `--set model.hidden=512` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Corpus: `builtin`, a known name (tiny-shakespeare, ptb, wikitext-2, …), a file or a directory.
    #[arg(long)]
    data: Option<String>,
    /// Tokenizer: char, byte, word or bpe.
    #[arg(long)]
    tokenizer: Option<String>,
    /// Explicit split files (PTB / WikiText-2 style).
    #[arg(long)]
    train: Option<PathBuf>,
    #[arg(long)]
    valid: Option<PathBuf>,
    #[arg(long)]
    test: Option<PathBuf>,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Stop after this many epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Wall-time budget, e.g. `90s`, `10m`, `1h`.
    #[arg(long)]
    time: Option<String>,
    /// Run name (directory under --runs); default `<data>-<cell>-<timestamp>`.
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Continue the run in this directory from its newest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Serve a live dashboard of the run at http://BIND:PORT/ while it trains.
    #[arg(long)]
    dashboard: bool,
    /// With --dashboard: keep serving after training ends, until Ctrl-C (otherwise the
    /// command ends with the run).
    #[arg(long)]
    dashboard_keep: bool,
    /// Print every config key with its value, its default and what it means, then exit.
    #[arg(long)]
    print_config: bool,
    /// Check the configuration and exit without training or writing anything.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address the dashboard listens on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Training guard: `full` (skip bad updates, roll back, stop), `skip` (skip only) or
    /// `off`. Finer settings under `[guard]` in the config (`--set guard.z_loss=8`).
    #[arg(long, value_name = "MODE")]
    guard: Option<String>,
    /// Inject a fault to test the guard (repeatable): `bad-batch@400` (random targets),
    /// `corrupt-text@300` (random text), `nan@500` (NaN loss and gradients),
    /// `lr-spike@250:0.1[:STEPS]` (learning rate 0.1 for one step, or STEPS steps).
    #[arg(long, value_name = "FAULT@STEP")]
    inject: Vec<String>,
}

fn resolve_config(a: &TrainArgs) -> anyhow::Result<Config> {
    let base = match (&a.config, &a.resume) {
        (Some(path), _) => Config::from_file(path)?,
        (None, Some(run)) => {
            let saved = run.join("config.toml");
            if run.is_dir() && !saved.exists() {
                anyhow::bail!(
                    "{}: no config.toml: the run was stopped before it began, so there is nothing \
                     to resume; start it again without --resume (same --name and settings), or \
                     delete the directory",
                    run.display()
                );
            }
            Config::from_file(&saved)?
        }
        (None, None) => Config::default(),
    };
    let mut sets = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            sets.push(format!("{k}={}", toml_string(&v)));
        }
    };
    put("data.name", a.data.clone());
    put("data.tokenizer", a.tokenizer.clone());
    put(
        "data.train",
        a.train.as_ref().map(|p| p.display().to_string()),
    );
    put(
        "data.valid",
        a.valid.as_ref().map(|p| p.display().to_string()),
    );
    put(
        "data.test",
        a.test.as_ref().map(|p| p.display().to_string()),
    );
    put("train.time", a.time.clone());
    put("guard.mode", a.guard.clone());
    let mut config = base.with_overrides(&sets)?;
    if a.steps == Some(0) {
        anyhow::bail!(
            "--steps 0: a run needs at least one step (leave --steps out for no step limit)"
        );
    }
    if a.epochs == Some(0) {
        anyhow::bail!(
            "--epochs 0: a run needs at least one epoch (leave --epochs out for no epoch limit)"
        );
    }
    if let Some(s) = a.steps {
        config.train.steps = s;
    }
    if let Some(e) = a.epochs {
        config.train.epochs = e;
    }
    config.guard.inject.extend(a.inject.iter().cloned());
    // Bounding a run by steps or epochs drops the time budget unless one is given (on a
    // resume too: `--resume --steps N` means "go on to step N").
    if (a.steps.is_some() || a.epochs.is_some()) && a.time.is_none() {
        config.train.time.clear();
    }
    Ok(config.with_overrides(&a.set)?)
}

/// A TOML string literal, so paths with dots or slashes stay strings.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// Ctrl-C and SIGTERM (from `timeout`, SLURM, Docker, Kubernetes) both ask the run to save
/// a checkpoint and stop; a second one quits at once. Returns the flag the trainer watches and
/// the number of the signal that set it.
fn stop_on_signals() -> anyhow::Result<(Arc<AtomicBool>, Arc<AtomicUsize>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(0));
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, stop.clone())
            .context("installing the signal handlers")?;
        signal_hook::flag::register_usize(sig, which.clone(), sig as usize)
            .context("installing the signal handlers")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handlers")?;
    }
    Ok((stop, which))
}

/// The exit status of a run stopped by signal `sig`: 128 + its number (130 Ctrl-C, 143 SIGTERM).
fn interrupted_status(sig: usize) -> i32 {
    if sig == 0 {
        130
    } else {
        128 + sig as i32
    }
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let config = resolve_config(&a)?;
    if a.print_config {
        return crate::cli::print_stdout(&rnnlab::config::describe(&config));
    }
    // Every setting is checked before anything is printed or written.
    rnnlab::train::setup::validate(&config)?;
    let (run_dir, resume) = match &a.resume {
        Some(dir) => (dir.clone(), true),
        None => {
            let name = a.name.clone().unwrap_or_else(|| {
                let data = if config.data.path.is_empty() {
                    &config.data.name
                } else {
                    &config.data.path
                };
                run_dir::default_name(data, &config.model.cell)
            });
            (a.runs.join(name), false)
        }
    };
    if a.dry_run {
        println!(
            "rnnlab: the configuration is valid; `rnnlab train` without --dry-run would train into {}",
            run_dir.display()
        );
        return Ok(());
    }
    let (stop, which) = stop_on_signals()?;
    eprintln!(
        "rnnlab: training {} {}x{} on {} -> {}",
        config.model.cell,
        config.model.layers,
        config.model.hidden,
        if config.data.path.is_empty() {
            &config.data.name
        } else {
            &config.data.path
        },
        run_dir.display()
    );
    // The dashboard follows metrics.jsonl, so it can start before the run writes anything.
    let created = rnnlab::fsutil::topmost_missing(&run_dir);
    let dashboard = if a.dashboard {
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        let d = rnnlab::dashboard::spawn(run_dir.clone(), (a.bind, a.port).into())
            .with_context(|| format!("starting the dashboard on {}:{}", a.bind, a.port))?;
        eprintln!("rnnlab: dashboard at {}", d.url());
        Some(d)
    } else {
        None
    };
    let result = train(TrainOptions {
        config,
        run_dir: run_dir.clone(),
        resume,
        quiet: a.quiet,
        stop: stop.clone(),
        fetcher: Fetcher::from_env(),
    });
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            // The dashboard's directory of a run that never started is not a run.
            // So is a `runs/` folder made for it.
            if let Some(top) = &created {
                rnnlab::fsutil::remove_empty_up_to(&run_dir, top);
            }
            return Err(e.into());
        }
    };
    print_summary(&summary);
    if summary.interrupted {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(interrupted_status(which.load(Ordering::SeqCst)));
    }
    if let Some(d) = &dashboard {
        if a.dashboard_keep {
            // Keep serving the finished run until the user is done looking at it.
            eprintln!("rnnlab: the dashboard stays at {} until Ctrl-C", d.url());
            stop.store(false, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
    Ok(())
}

fn print_summary(s: &RunSummary) {
    let r = &s.references;
    println!();
    println!("run       {}", s.run_dir.display());
    println!(
        "stopped   {} after {} steps, {} tokens, {:.0} s",
        s.stopped_because,
        s.steps,
        s.tokens,
        s.elapsed.as_secs_f64()
    );
    if let Some(v) = s.final_val {
        println!(
            "val loss  {:.4} nats/token  (ppl {:.2}, {:.3} bits)",
            v.loss,
            v.perplexity(),
            v.bits()
        );
    }
    if let Some(b) = s.best_val {
        println!("best val  {b:.4}");
    }
    let g = s.guard;
    if g.skips > 0 || g.rollbacks > 0 {
        println!(
            "guard     {} update(s) skipped, {} rollback(s), learning-rate factor {}  (see incidents/)",
            g.skips, g.rollbacks, g.lr_scale
        );
    }
    match r.floor {
        Some(f) => {
            let gap = s.final_val.map_or(String::new(), |v| {
                format!("   gap to floor {:+.4}", v.loss - f)
            });
            println!("floor     {f:.4}  (the best any model can do on this corpus){gap}")
        }
        None => println!("floor     unknown for this corpus"),
    }
    println!("bigram    {:.4}", r.bigram);
    println!("unigram   {:.4}", r.unigram);
    println!("ln V      {:.4}", r.ln_vocab);
    println!("next      rnnlab doctor {}", s.run_dir.display());
}
