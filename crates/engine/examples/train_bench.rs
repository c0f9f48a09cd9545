//! Training-speed benchmark: full training steps (forward, loss, backward, gradient clipping,
//! Adam) of the issue's char-level configs on random tokens, timed after a warm-up.
//!
//! ```text
//! cargo run --release -p rnnlab-engine --example train_bench -- [--threads N] [--config a,b,...]
//!     [--seconds S] [--json]
//! ```
//!
//! Every config runs in a fresh child process (this same binary with `--child`), so the peak
//! resident memory it reports (`VmHWM`) belongs to that config alone. `bench/pytorch_peer.py`
//! measures PyTorch the same way and `bench/compare.sh` prints both side by side.
//! `RNNLAB_SPLIT=batch|units` forces how the recurrence is split across threads (default: the
//! rule in `layers/recurrent/team.rs`).
//! `RNNLAB_GEMM=avx2|avx512|crate|portable` picks the matrix-product kernels (default: the
//! fastest for this CPU); the JSON names the ones that ran.

use std::process::Command;
use std::time::Instant;

use engine::layers::recurrent::CellKind;
use engine::model::{LanguageModel, ModelSpec};
use engine::optim::{clip_grad_norm, Adam, AdamConfig, Optimizer};
use engine::rng::seeded;
use engine::{Backend, CpuBackend};
use rand::Rng;

/// One benchmark configuration of the issue (char-level: V=65, E=64, T=64).
struct Config {
    name: &'static str,
    cell: CellKind,
    layers: usize,
    hidden: usize,
    batch: usize,
}

const VOCAB: usize = 65;
const EMBED: usize = 64;
const SEQ: usize = 64;

const CONFIGS: [Config; 5] = [
    Config {
        name: "a",
        cell: CellKind::Lstm,
        layers: 1,
        hidden: 256,
        batch: 32,
    },
    Config {
        name: "b",
        cell: CellKind::Lstm,
        layers: 2,
        hidden: 512,
        batch: 32,
    },
    Config {
        name: "c",
        cell: CellKind::Lstm,
        layers: 1,
        hidden: 1024,
        batch: 64,
    },
    Config {
        name: "d",
        cell: CellKind::Gru,
        layers: 2,
        hidden: 512,
        batch: 32,
    },
    Config {
        name: "e",
        cell: CellKind::RnnTanh,
        layers: 2,
        hidden: 512,
        batch: 32,
    },
];

fn describe(c: &Config) -> String {
    let cell = match c.cell {
        CellKind::Lstm => "LSTM",
        CellKind::Gru => "GRU",
        CellKind::RnnTanh => "RNN-tanh",
        CellKind::RnnRelu => "RNN-relu",
    };
    format!("{cell} {}x{} B={}", c.layers, c.hidden, c.batch)
}

struct Args {
    threads: usize,
    configs: Vec<String>,
    seconds: f64,
    json: bool,
    child: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        configs: CONFIGS.iter().map(|c| c.name.to_string()).collect(),
        seconds: 4.0,
        json: false,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--threads" => {
                args.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
            }
            "--config" => args.configs = value()?.split(',').map(str::to_string).collect(),
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--json" => args.json = true,
            "--child" => args.child = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    for name in args.configs.iter().chain(&args.child) {
        if !CONFIGS.iter().any(|c| c.name == name) {
            return Err(format!("unknown config `{name}` (a, b, c, d, e)"));
        }
    }
    Ok(args)
}

/// Peak resident set size of this process in MiB (`VmHWM`), 0 where /proc is missing.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

/// Runs one config in this process and prints one JSON line with the measurements.
fn run_child(c: &Config, threads: usize, seconds: f64) {
    let spec = ModelSpec {
        cell: c.cell,
        vocab: VOCAB,
        embed: EMBED,
        hidden: c.hidden,
        layers: c.layers,
        dropout: 0.0,
        locked_dropout: false,
        tie_weights: false,
        forget_bias: None,
        embed_init: None,
    };
    let be = CpuBackend::new(threads);
    let mut model = LanguageModel::new(spec, 1).expect("model");
    let mut adam = Adam::new(AdamConfig::default()).expect("adam");
    let (t, b) = (SEQ, c.batch);
    let mut rng = seeded(7);
    // A few batches of random tokens, cycled.
    let batches: Vec<(Vec<u32>, Vec<u32>)> = (0..4)
        .map(|_| {
            let mut draw = || {
                (0..t * b)
                    .map(|_| rng.random_range(0..VOCAB as u32))
                    .collect()
            };
            (draw(), draw())
        })
        .collect();
    let mut state = model.zero_state(b);
    let mut step_rng = seeded(11);
    let mut step = |i: usize| -> f64 {
        let (inputs, targets) = &batches[i % batches.len()];
        be.install(&mut || model.params.zero_grads());
        let ce = model
            .train_batch(&be, inputs, targets, t, b, &mut state, &mut step_rng)
            .expect("train_batch");
        be.install(&mut || {
            clip_grad_norm(&mut model.params, 1.0).expect("clip");
            adam.step(&mut model.params, 1e-3).expect("adam");
        });
        ce.mean
    };
    for i in 0..2 {
        step(i);
    }
    let mut times = Vec::new();
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let mut last_loss = 0.0;
    while times.len() < 3 || start.elapsed().as_secs_f64() < seconds {
        let s = Instant::now();
        last_loss = step(times.len());
        times.push(s.elapsed().as_secs_f64());
    }
    let cpu_per_step = (cpu_seconds() - cpu_start) / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let tok_s = (t * b) as f64 / median;
    // Model FLOPs (PyTorch's peer counts the same) and the FLOPs this engine executes, which
    // are fewer where the first layer looks its inputs up (see `train_flops_per_token`).
    let gflops = 3.0 * model.forward_flops_per_token() * tok_s / 1e9;
    let executed = model.train_flops_per_token(t, b);
    println!(
        "{}",
        serde_json::json!({
            "impl": "rnnlab",
            // A forced split of the recurrence (RNNLAB_SPLIT) is part of what ran: e.g.
            // `avx512/units`, grouped apart from the rule's `avx512` by bench/summarize.py.
            "kernels": match std::env::var("RNNLAB_SPLIT") {
                Ok(split) => format!("{}/{split}", be.kernels().name()),
                Err(_) => be.kernels().name().to_string(),
            },
            "config": c.name,
            "model": describe(c),
            "threads": threads,
            "steps": times.len(),
            "step_ms": median * 1e3,
            "tok_s": tok_s,
            "gflops": gflops,
            "gflops_executed": executed * tok_s / 1e9,
            "peak_mb": peak_rss_mib(),
            "cpu_ms_per_step": cpu_per_step * 1e3,
            "gflop_per_cpu_s": executed * (t * b) as f64 / cpu_per_step / 1e9,
            "loss": last_loss,
        })
    );
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("train_bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(name) = &args.child {
        let c = CONFIGS.iter().find(|c| c.name == name).expect("checked");
        return run_child(c, args.threads, args.seconds);
    }
    let exe = std::env::current_exe().expect("own executable");
    if !args.json {
        println!(
            "{:<6} {:<22} {:>7} {:>10} {:>9} {:>9} {:>8} {:>9} {:>12}",
            "config",
            "model",
            "threads",
            "tok/s",
            "GFLOP/s",
            "executed",
            "step ms",
            "peak MB",
            "GFLOP/cpu-s"
        );
    }
    for name in &args.configs {
        let out = Command::new(&exe)
            .args(["--child", name, "--threads", &args.threads.to_string()])
            .args(["--seconds", &args.seconds.to_string()])
            .output()
            .expect("run child");
        if !out.status.success() {
            eprintln!(
                "config {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::process::exit(1);
        }
        let line = String::from_utf8_lossy(&out.stdout);
        if args.json {
            print!("{line}");
            continue;
        }
        let r: serde_json::Value = serde_json::from_str(line.trim()).expect("child JSON");
        println!(
            "{:<6} {:<22} {:>7} {:>10.0} {:>9.1} {:>9.1} {:>8.1} {:>9.0} {:>12.1}",
            name,
            r["model"].as_str().unwrap_or(""),
            args.threads,
            r["tok_s"].as_f64().unwrap_or(0.0),
            r["gflops"].as_f64().unwrap_or(0.0),
            r["gflops_executed"].as_f64().unwrap_or(0.0),
            r["step_ms"].as_f64().unwrap_or(0.0),
            r["peak_mb"].as_f64().unwrap_or(0.0),
            r["gflop_per_cpu_s"].as_f64().unwrap_or(0.0),
        );
    }
}
