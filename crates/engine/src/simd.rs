//! Runtime choice of instruction set for the elementwise loops: gate math, softmax rows,
//! optimizer updates. The crate is built for baseline x86-64 (SSE2, four floats per vector) so
//! that the binary runs on any x86-64 CPU; [`avx2_or_baseline!`] compiles a function twice more,
//! with AVX2 (eight floats per vector) and with AVX-512 (sixteen), and picks the widest copy the
//! CPU has. Other architectures compile the body once, for their baseline (NEON on aarch64).
//!
//! All copies compute the same bits: Rust never fuses a multiply and an add on its own, and
//! the loops' order of operations is fixed by their source, not by the vector width.

use std::sync::OnceLock;

/// The widest vectors the elementwise loops may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

/// Whether this CPU has AVX2 and FMA (the detection is cached by std).
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX-512F as well as AVX2 and FMA.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2_fma() && is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The level the elementwise loops run at: the CPU's widest, capped by `RNNLAB_GEMM=avx2`
/// (everything as on an AVX2 machine) or `RNNLAB_GEMM=portable` (baseline vectors), read once.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("RNNLAB_GEMM").as_deref() {
            Ok("avx2") => Level::Avx2,
            Ok("portable") => Level::Baseline,
            _ => Level::Avx512,
        };
        let cpu = if avx512() {
            Level::Avx512
        } else if avx2_fma() {
            Level::Avx2
        } else {
            Level::Baseline
        };
        cpu.min(cap)
    })
}

/// Defines `fn name(args) -> ret { body }` so that `body` runs compiled for AVX-512 or
/// AVX2+FMA where the CPU has them (see [`level`]), and for the baseline target elsewhere.
/// Arguments are plain identifiers.
macro_rules! avx2_or_baseline {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                match $crate::simd::level() {
                    // SAFETY: `level` reports only what the CPU has.
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use avx2_or_baseline;

#[cfg(test)]
mod tests {
    avx2_or_baseline! {
        fn scaled_sum(xs: &[f32], scale: f32) -> f32 {
            xs.iter().map(|x| x * scale).sum()
        }
    }

    #[test]
    fn dispatched_function_computes_its_body() {
        let xs: Vec<f32> = (0..100).map(|i| i as f32 * 0.5).collect();
        let want: f32 = xs.iter().map(|x| x * 2.0).sum();
        assert_eq!(scaled_sum(&xs, 2.0).to_bits(), want.to_bits());
    }
}
