//! Runtime choice of instruction set for the elementwise loops: gate math, softmax rows,
//! optimizer updates. The crate is built for baseline x86-64 (SSE2, four floats per vector) so
//! that the binary runs on any x86-64 CPU; [`avx2_or_baseline!`] compiles a function a second
//! time with AVX2 enabled (eight floats per vector) and picks that copy where the CPU has it.
//!
//! Both copies compute the same bits: Rust never fuses a multiply and an add on its own, and
//! the loops' order of operations is fixed by their source, not by the vector width.

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

/// Defines `fn name(args) -> ret { body }` so that `body` runs compiled for AVX2+FMA where the
/// CPU has them, and for the baseline target elsewhere. Arguments are plain identifiers.
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
                if $crate::simd::avx2_fma() {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
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
