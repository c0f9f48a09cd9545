//! Branch-free `exp`, `sigmoid` and `tanh` that the compiler can vectorize inside the gate
//! loops (the libm versions are scalar calls and would cost as much as the recurrent GEMM).
//! Relative error of `exp` is about 1e-7 (Cephes polynomial); `tanh` and `sigmoid` are
//! accurate to a few 1e-8 absolute.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds a float to the nearest integer and exposes it in the low bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x`, clamped to the finite range of `f32`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let n_int = shifted.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n_int + 127) << 23) as u32)
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x)`: an odd Taylor polynomial near zero (keeps small values relatively accurate),
/// `(1 - e^{-2|x|}) / (1 + e^{-2|x|})` with the sign restored elsewhere.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = exp(-2.0 * a);
    let far = (1.0 - e) / (1.0 + e);
    let x2 = x * x;
    let near = a * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0))));
    let t = if a < 0.125 { near } else { far };
    t.copysign(x)
}

#[inline(always)]
pub fn sigmoid_in_place(v: &mut [f32]) {
    for x in v {
        *x = sigmoid(*x);
    }
}

#[inline(always)]
pub fn tanh_in_place(v: &mut [f32]) {
    for x in v {
        *x = tanh(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_across_the_range() {
        let mut worst = (0.0f64, 0.0f64, 0.0f64);
        for i in -40_000..=40_000 {
            let x = i as f32 * 1e-3;
            let e = (exp(x) as f64 - (x as f64).exp()).abs() / (x as f64).exp();
            let t = (tanh(x) as f64 - (x as f64).tanh()).abs();
            let s = (sigmoid(x) as f64 - 1.0 / (1.0 + (-x as f64).exp())).abs();
            worst = (worst.0.max(e), worst.1.max(t), worst.2.max(s));
        }
        assert!(worst.0 < 3e-7, "exp relative error {}", worst.0);
        assert!(worst.1 < 2e-7, "tanh abs error {}", worst.1);
        assert!(worst.2 < 1e-7, "sigmoid abs error {}", worst.2);
        // Small arguments keep their relative precision.
        assert!((tanh(1e-5) - 1e-5).abs() < 1e-12);
    }

    #[test]
    fn saturates_without_nan() {
        for x in [-1e30f32, -200.0, -88.5, 88.5, 200.0, 1e30] {
            assert!(exp(x).is_finite());
            assert!((tanh(x).abs() - 1.0).abs() < 1e-7);
            let s = sigmoid(x);
            assert!((0.0..=1.0).contains(&s));
        }
        assert_eq!(tanh(-3.0), -tanh(3.0));
    }
}
