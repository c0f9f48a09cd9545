//! Seeded, serialisable random numbers so that a run (and a resumed run) is reproducible.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub type EngineRng = Xoshiro256PlusPlus;

pub fn seeded(seed: u64) -> EngineRng {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Fills `out` with U(-bound, bound), PyTorch's default for recurrent and linear weights.
pub fn fill_uniform(rng: &mut EngineRng, out: &mut [f32], bound: f32) {
    for v in out {
        *v = rng.random_range(-bound..bound);
    }
}

/// Fills `out` with N(0, std) via Box-Muller.
pub fn fill_normal(rng: &mut EngineRng, out: &mut [f32], std: f32) {
    for v in out {
        let u1: f32 = rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = rng.random();
        *v = std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
    }
}
