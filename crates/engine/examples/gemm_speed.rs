//! GFLOP/s of the backend's sgemm against `matrixmultiply` on the shapes of a training step
//! (LSTM 2×512, T=64, B=32; one thread's batch half). Best of many short repetitions, so a busy
//! machine disturbs it less. `cargo run --release -p rnnlab-engine --example gemm_speed`

use std::time::Instant;

use engine::backend::{Backend, Trans};
use engine::CpuBackend;

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

/// CPU seconds per call, averaged over about a second of CPU time: on a busy machine the time
/// a call spends waiting for a core is not counted.
fn cpu_seconds_per_call(mut f: impl FnMut(), _reps: usize) -> f64 {
    f();
    let (start, wall) = (cpu_seconds(), Instant::now());
    let mut calls = 0;
    while cpu_seconds() - start < 1.0 && wall.elapsed().as_secs_f64() < 10.0 {
        f();
        calls += 1;
    }
    (cpu_seconds() - start) / calls as f64
}

fn main() {
    let be = CpuBackend::new(1);
    // (what, ta, tb, m, n, k)
    let shapes = [
        ("input projection", Trans::N, Trans::T, 1024, 2048, 512),
        ("input projection l0", Trans::N, Trans::T, 1024, 2048, 64),
        ("input gradient", Trans::N, Trans::N, 1024, 512, 2048),
        ("weight gradient", Trans::T, Trans::N, 2048, 512, 1024),
        ("head forward", Trans::N, Trans::T, 2048, 65, 512),
        ("head weight grad", Trans::T, Trans::N, 65, 512, 2048),
        ("head input grad", Trans::N, Trans::N, 2048, 512, 65),
    ];
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
        let mut packed = engine::backend::PackedWeight::default();
        be.pack_b(tb, &w, k, n, &mut packed);
        let mut c = vec![0.0f32; m * n];
        let s = cpu_seconds_per_call(|| be.gemm_packed(tb, m, n, k, &a, &packed, 0.0, &mut c), 0);
        println!(
            "{what:<20} {m:>5}x{n:<5}x{k:<5} packed  {:>6.1} GFLOP/s",
            2.0 * (m * n * k) as f64 / s / 1e9
        );
    }
    for (what, ta, tb, m, n, k) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let ours = cpu_seconds_per_call(|| be.sgemm(ta, tb, m, n, k, 1.0, &a, &b, 1.0, &mut c), 15);
        let (rsa, csa) = if ta == Trans::N {
            (k as isize, 1)
        } else {
            (1, m as isize)
        };
        let (rsb, csb) = if tb == Trans::N {
            (n as isize, 1)
        } else {
            (1, k as isize)
        };
        let mm = cpu_seconds_per_call(
            || unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    rsa,
                    csa,
                    b.as_ptr(),
                    rsb,
                    csb,
                    1.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            15,
        );
        println!(
            "{what:<20} {m:>5}x{n:<5}x{k:<5} backend {:>6.1} GFLOP/s   matrixmultiply {:>6.1} GFLOP/s",
            flops / ours / 1e9,
            flops / mm / 1e9
        );
    }
}
