//! Times forward + backward of a recurrent stack on 1 and 2 threads and prints GFLOP/s.
//!
//! `cargo run --release -p rnnlab-engine --example recurrent_speed [lstm|gru|rnn_tanh] [layers] [hidden]`
//! (default: LSTM 2×512, T=64, B=32, in=64, the config (b)).

use std::time::Instant;

use engine::layers::recurrent::{CellKind, RecurrentStack, StackCache};
use engine::rng::{fill_uniform, seeded};
use engine::{CpuBackend, ParamStore};

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = match args.get(1).map(String::as_str) {
        None | Some("lstm") => CellKind::Lstm,
        Some("gru") => CellKind::Gru,
        Some("rnn_tanh") => CellKind::RnnTanh,
        Some(other) => panic!("unknown cell `{other}` (lstm, gru, rnn_tanh)"),
    };
    let layers: usize = args.get(2).map_or(2, |s| s.parse().expect("layers"));
    let hidden: usize = args.get(3).map_or(512, |s| s.parse().expect("hidden"));
    let (t, b, input) = (64, 32, 64);

    let mut params = ParamStore::new();
    let stack = RecurrentStack::new(&mut params, "rnn", kind, input, hidden, layers).unwrap();
    let mut rng = seeded(1);
    stack.init(&mut params, &mut rng, None);
    let mut x = vec![0.0; t * b * input];
    fill_uniform(&mut rng, &mut x, 1.0);
    let mut d_out = vec![0.0; t * b * hidden];
    fill_uniform(&mut rng, &mut d_out, 1e-3);
    let mut dx = vec![0.0; x.len()];
    let init = stack.zero_state(b);

    let gh = (kind.gates() * hidden) as f64;
    let forward_flops: f64 = (0..layers)
        .map(|l| {
            let n_in = if l == 0 { input } else { hidden } as f64;
            2.0 * (t * b) as f64 * gh * (n_in + hidden as f64)
        })
        .sum();
    // Backward: input gradient, recurrent gradient and the two weight gradients.
    let total_flops = 3.0 * forward_flops;

    println!(
        "{kind:?} {layers}x{hidden}, T={t} B={b} in={input}: {:.2} GFLOP per step",
        total_flops / 1e9
    );
    for threads in [1, 2] {
        let be = CpuBackend::new(threads);
        let mut cache = StackCache::default();
        let (mut fwd, mut total) = (f64::MAX, f64::MAX);
        let reps = 4;
        let cpu_start = cpu_seconds();
        for _ in 0..reps {
            let start = Instant::now();
            stack
                .forward(&be, &params, &x, t, b, &init, None, &mut cache)
                .unwrap();
            let mid = Instant::now();
            stack
                .backward(&be, &mut params, &mut cache, &d_out, None, &mut dx)
                .unwrap();
            let end = Instant::now();
            fwd = fwd.min((mid - start).as_secs_f64());
            total = total.min((end - start).as_secs_f64());
        }
        let cpu = (cpu_seconds() - cpu_start) / reps as f64;
        println!(
            "threads={threads}: forward {:.1} ms ({:.1} GFLOP/s), forward+backward {:.1} ms ({:.1} GFLOP/s), {:.0} tok/s; {:.1} GFLOP per CPU-second",
            fwd * 1e3,
            forward_flops / fwd / 1e9,
            total * 1e3,
            total_flops / total / 1e9,
            (t * b) as f64 / total,
            total_flops / cpu / 1e9
        );
    }
}
