//! The CPU's fused multiply-add peak in GFLOP/s, measured with a loop that touches no memory:
//! 12 independent accumulator chains of FMAs (enough to cover the latency of both FMA units;
//! 12 + 2 operands fit AVX2's 16 registers without spilling), once with AVX2 (8 floats per
//! instruction) and once with AVX-512 (16), on 1 thread and on
//! `--threads N` threads at once (each pinned by whoever starts this, e.g. `taskset`).
//! The benchmarks quote their GFLOP/s as a share of these figures.
//!
//! ```text
//! cargo run --release -p rnnlab-engine --example fma_peak [-- --threads 1,2,8] [--seconds S] [--json]
//! ```

use std::time::Instant;

/// Independent FMA chains per loop round.
const CHAINS: usize = 12;

/// FLOPs of `iters` rounds of [`CHAINS`] FMAs of `lanes` floats each.
fn flops(iters: u64, lanes: usize) -> f64 {
    iters as f64 * CHAINS as f64 * lanes as f64 * 2.0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(iters: u64) -> f32 {
        let mut acc = [_mm256_set1_ps(0.0); CHAINS];
        let (x, y) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let mut out = [0.0f32; 8];
        let sum = acc
            .iter()
            .fold(_mm256_set1_ps(0.0), |s, &a| _mm256_add_ps(s, a));
        _mm256_storeu_ps(out.as_mut_ptr(), sum);
        out.iter().sum()
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn avx512(iters: u64) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); CHAINS];
        let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_set1_ps(0.0), |s, &a| _mm512_add_ps(s, a));
        _mm512_reduce_add_ps(sum)
    }
}

/// A register-only FMA loop: runs the given number of rounds, returns a value to keep.
type Kernel = fn(u64) -> f32;

/// GFLOP/s of `threads` threads each running `kernel` for about `seconds`.
fn measure(threads: usize, seconds: f64, lanes: usize, kernel: Kernel) -> f64 {
    // Calibrate: iterations per second on one thread.
    let probe = 1u64 << 20;
    let t = Instant::now();
    std::hint::black_box(kernel(probe));
    let iters = ((probe as f64 / t.elapsed().as_secs_f64()) * seconds).max(1.0) as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| std::hint::black_box(kernel(iters)));
        }
    });
    flops(iters, lanes) * threads as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let (mut threads, mut seconds, mut json) = (vec![1], 1.0, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--threads" => {
                let v = it.next().expect("--threads N[,N...]");
                threads = v.split(',').map(|n| n.parse().expect("a count")).collect();
            }
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds S"),
            "--json" => json = true,
            other => panic!("unknown argument {other}"),
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let mut kinds: Vec<(&str, usize, Kernel)> = Vec::new();
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA detected just above.
            kinds.push(("avx2", 8, |n| unsafe { x86::avx2(n) }));
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected just above.
            kinds.push(("avx512", 16, |n| unsafe { x86::avx512(n) }));
        }
        for (name, lanes, kernel) in kinds {
            for &n in &threads {
                let g = measure(n, seconds, lanes, kernel);
                if json {
                    println!(r#"{{"isa":"{name}","threads":{n},"gflops":{g:.1}}}"#);
                } else {
                    println!(
                        "{name:<7} {n:>3} threads {g:>8.1} GFLOP/s ({:.1} per thread)",
                        g / n as f64
                    );
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (threads, seconds, json, flops(0, 0), measure);
        println!("SKIP: the FMA peak loop is written for x86-64 only");
    }
}
