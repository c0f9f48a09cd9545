//! GFLOP/s of every set of matrix-product kernels this CPU runs (this crate's AVX2 and AVX-512
//! kernels, the `gemm` crate, `matrixmultiply`), one column each, on the shapes of a training
//! step (LSTM 2×512, T=64, B=32; one thread's batch half). CPU time per call, averaged over about
//! a second, so a busy machine disturbs it less.
//!
//! ```text
//! cargo run --release -p rnnlab-engine --example gemm_speed [-- --seconds S] [--kernels avx2,avx512,crate,portable]
//! ```

use std::time::Instant;

use engine::backend::{Backend, Kernels, Trans};
use engine::CpuBackend;

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

/// CPU seconds per call, averaged over `seconds` of CPU time: on a busy machine the time a
/// call spends waiting for a core is not counted.
fn cpu_seconds_per_call(mut f: impl FnMut(), seconds: f64) -> f64 {
    f();
    let (start, wall) = (cpu_seconds(), Instant::now());
    let mut calls = 0;
    while cpu_seconds() - start < seconds && wall.elapsed().as_secs_f64() < 10.0 * seconds {
        f();
        calls += 1;
    }
    (cpu_seconds() - start) / calls.max(1) as f64
}

fn parse_args() -> (f64, Vec<Kernels>) {
    let (mut seconds, mut kernels) = (1.0, Kernels::ALL.to_vec());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => seconds = value.parse().expect("--seconds: a number"),
            "--kernels" => {
                kernels = value
                    .split(',')
                    .map(|k| Kernels::parse(k).unwrap_or_else(|| panic!("unknown kernels {k}")))
                    .collect()
            }
            other => panic!("unknown argument {other}"),
        }
    }
    kernels.retain(|k| {
        let ok = k.available();
        if !ok {
            println!("SKIP {}: this CPU cannot run it", k.name());
        }
        ok
    });
    (seconds, kernels)
}

fn main() {
    let (seconds, kernels) = parse_args();
    let backends: Vec<CpuBackend> = kernels
        .iter()
        .map(|&k| CpuBackend::with_kernels(1, k))
        .collect();
    print!("{:<20} {:>17} {:<7}", "GFLOP/s", "m x n x k", "");
    for k in &kernels {
        print!(" {:>9}", k.name());
    }
    println!();
    // The per-step recurrent products with a pre-packed W_hh: forward h·W_hhᵀ, backward dG·W_hh.
    for (what, tb, m, n, k) in [
        ("step forward", Trans::T, 16, 2048, 512),
        ("step forward B=32", Trans::T, 32, 2048, 512),
        ("step backward", Trans::N, 16, 512, 2048),
        ("step fwd H=256", Trans::T, 16, 1024, 256),
        ("step fwd H=1024", Trans::T, 32, 4096, 1024),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        print!("{what:<20} {m:>5}x{n:<5}x{k:<5} packed ");
        for be in &backends {
            let mut packed = engine::backend::PackedWeight::default();
            be.pack_b(tb, &w, k, n, &mut packed);
            let s = cpu_seconds_per_call(
                || be.gemm_packed(tb, m, n, k, &a, &packed, 0.0, &mut c),
                seconds,
            );
            print!(" {:>9.1}", 2.0 * (m * n * k) as f64 / s / 1e9);
        }
        println!();
    }
    for (what, ta, tb, m, n, k) in [
        ("input projection", Trans::N, Trans::T, 1024, 2048, 512),
        ("input projection l0", Trans::N, Trans::T, 1024, 2048, 64),
        ("input gradient", Trans::N, Trans::N, 1024, 512, 2048),
        ("weight gradient", Trans::T, Trans::N, 2048, 512, 1024),
        ("head forward", Trans::N, Trans::T, 2048, 65, 512),
        ("head weight grad", Trans::T, Trans::N, 65, 512, 2048),
        ("head input grad", Trans::N, Trans::N, 2048, 512, 65),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        print!("{what:<20} {m:>5}x{n:<5}x{k:<5} sgemm  ");
        for be in &backends {
            let s = cpu_seconds_per_call(
                || be.sgemm(ta, tb, m, n, k, 1.0, &a, &b, 1.0, &mut c),
                seconds,
            );
            print!(" {:>9.1}", 2.0 * (m * n * k) as f64 / s / 1e9);
        }
        println!();
    }
}
