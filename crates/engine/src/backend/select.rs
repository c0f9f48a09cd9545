//! Which kernels run the matrix products: chosen once per process from the CPU (and the
//! `RNNLAB_GEMM` environment variable), or per backend through [`super::CpuBackend::with_kernels`].

use std::sync::OnceLock;

/// The matrix-product kernels of a [`super::CpuBackend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// `matrixmultiply`: plain, any CPU (the fallback before the `gemm` crate came in).
    Portable,
    /// The `gemm` crate, which picks its own vector kernels at run time (AVX-512, AVX2+FMA,
    /// SSE; NEON on ARM64). The default where this crate has no kernels of its own.
    GemmCrate,
    /// This crate's blocked and pre-packed kernels, AVX2+FMA (x86-64 only).
    Avx2,
    /// The same blocking with AVX-512 kernels (x86-64 only).
    Avx512,
    /// This crate's per-step kernels (AVX-512 where the CPU has it, else AVX2) and the `gemm`
    /// crate for every other product (x86-64 with AVX2 only): for measuring which is faster on
    /// the large products of a CPU.
    Mixed,
}

/// The instruction set of this crate's own kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx2,
    Avx512,
}

impl Kernels {
    pub const ALL: [Kernels; 5] = [
        Kernels::Portable,
        Kernels::GemmCrate,
        Kernels::Avx2,
        Kernels::Avx512,
        Kernels::Mixed,
    ];

    /// Whether these kernels run on this CPU.
    pub fn available(self) -> bool {
        match self {
            Kernels::Portable | Kernels::GemmCrate => true,
            Kernels::Avx2 | Kernels::Mixed => crate::simd::avx2_fma(),
            Kernels::Avx512 => crate::simd::avx512(),
        }
    }

    /// The fastest kernels measured on this CPU: on x86-64 this crate's own at the widest
    /// vectors the CPU has; elsewhere (ARM64) and on x86-64 CPUs without AVX2, the `gemm` crate.
    pub fn best() -> Kernels {
        if Kernels::Avx512.available() {
            Kernels::Avx512
        } else if Kernels::Avx2.available() {
            Kernels::Avx2
        } else {
            Kernels::GemmCrate
        }
    }

    /// The name `RNNLAB_GEMM` takes for these kernels.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Portable => "portable",
            Kernels::GemmCrate => "crate",
            Kernels::Avx2 => "avx2",
            Kernels::Avx512 => "avx512",
            Kernels::Mixed => "mixed",
        }
    }

    /// Parses a name of [`Kernels::name`], or `native` (this crate's widest kernels for this
    /// CPU, the `gemm` crate where it has none).
    pub fn parse(name: &str) -> Option<Kernels> {
        match name {
            "native" => Some(Kernels::best()),
            _ => Kernels::ALL.into_iter().find(|k| k.name() == name),
        }
    }

    /// The kernels a new backend uses: `RNNLAB_GEMM` (`native`, `crate`, `avx512`, `avx2`,
    /// `mixed` or `portable`) where it is set and runs on this CPU, else [`Kernels::best`]. Read once; a
    /// value that cannot be used is reported on stderr once.
    pub fn default_for_process() -> Kernels {
        static CHOSEN: OnceLock<Kernels> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let Ok(value) = std::env::var("RNNLAB_GEMM") else {
                return Kernels::best();
            };
            match Kernels::parse(value.trim()) {
                Some(k) if k.available() => k,
                Some(k) => {
                    let best = Kernels::best();
                    eprintln!(
                        "rnnlab: RNNLAB_GEMM={value}: this CPU lacks {}; using {}",
                        k.name(),
                        best.name()
                    );
                    best
                }
                None => {
                    let best = Kernels::best();
                    eprintln!(
                        "rnnlab: RNNLAB_GEMM={value} is not one of native, crate, avx512, avx2, \
                         mixed, portable; using {}",
                        best.name()
                    );
                    best
                }
            }
        })
    }

    /// The instruction set of this crate's blocked GEMM, where it runs the general products.
    pub(crate) fn blocked_isa(self) -> Option<Isa> {
        match self {
            Kernels::Avx2 => Some(Isa::Avx2),
            Kernels::Avx512 => Some(Isa::Avx512),
            Kernels::Portable | Kernels::GemmCrate | Kernels::Mixed => None,
        }
    }

    /// The instruction set of this crate's kernel for pre-packed weights, where it runs the
    /// per-step products.
    pub(crate) fn packed_isa(self) -> Option<Isa> {
        match self {
            Kernels::Mixed if crate::simd::avx512() => Some(Isa::Avx512),
            Kernels::Mixed => Some(Isa::Avx2),
            other => other.blocked_isa(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_best_kernels_run_here() {
        for k in Kernels::ALL {
            assert_eq!(Kernels::parse(k.name()), Some(k));
        }
        assert_eq!(Kernels::parse("native"), Some(Kernels::best()));
        assert_eq!(Kernels::parse("blas"), None);
        assert!(Kernels::best().available());
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(Kernels::best(), Kernels::GemmCrate);
    }
}
