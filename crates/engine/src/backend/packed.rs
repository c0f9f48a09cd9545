//! Products with a weight matrix prepared once and reused many times: the recurrent GEMMs,
//! where one `[B, H] · W_hhᵀ` per timestep is too small to amortise a general GEMM's packing
//! of `W_hh` (a third of the time with `matrixmultiply`).
//!
//! `op(b)` (`k×n`) is stored as panels of [`NR`] columns, each panel `k×NR`
//! (`panel[kk][j] = op(b)[kk][p*NR + j]`, zero-padded), so the microkernel streams one panel
//! with two vector loads per `k` and broadcasts one value of `a` per row.

use super::Trans;

/// Columns of `c` per panel (two AVX registers of 8 floats).
pub const NR: usize = 16;
/// Rows of `c` per microkernel call: 6×2 accumulators + 2 panel vectors + 1 broadcast.
const MR: usize = 6;

/// Floats needed to pack an `n×k` weight.
pub fn packed_len(n: usize, k: usize) -> usize {
    n.div_ceil(NR) * NR * k
}

/// Packs `op(b)` (`k×n`; `b` stored `k×n` for [`Trans::N`], `n×k` for [`Trans::T`]) into `out`
/// (resized) in panel order.
pub fn pack(tb: Trans, b: &[f32], k: usize, n: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(packed_len(n, k), 0.0);
    for (p, panel) in out.chunks_exact_mut(NR * k).enumerate() {
        for j in 0..NR.min(n - p * NR) {
            let col = p * NR + j;
            for kk in 0..k {
                panel[kk * NR + j] = match tb {
                    Trans::N => b[kk * n + col],
                    Trans::T => b[col * k + kk],
                };
            }
        }
    }
}

/// Whether this CPU runs the AVX2+FMA kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `c[m×n] = a[m×k] · op(b) + beta·c`, `packed` from [`pack`]. Only call when [`available`].
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, n: usize, k: usize, a: &[f32], packed: &[f32], beta: f32, c: &mut [f32]) {
    assert!(available(), "packed gemm needs AVX2 and FMA");
    assert!(a.len() >= m * k && c.len() >= m * n && packed.len() >= packed_len(n, k));
    #[cfg(target_arch = "x86_64")]
    for (p, panel) in packed[..packed_len(n, k)].chunks_exact(NR * k).enumerate() {
        let cols = NR.min(n - p * NR);
        let mut r0 = 0;
        while r0 < m {
            let rows = MR.min(m - r0);
            // SAFETY: AVX2/FMA checked above; the row block `r0..r0+rows` of `a` (k each) and of
            // `c` (columns `p*NR..p*NR+cols`) lie inside the slices checked above.
            unsafe {
                let a_ptr = a.as_ptr().add(r0 * k);
                let c_ptr = c.as_mut_ptr().add(r0 * n + p * NR);
                match rows {
                    6 => avx2::kernel::<6>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                    5 => avx2::kernel::<5>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                    4 => avx2::kernel::<4>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                    3 => avx2::kernel::<3>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                    2 => avx2::kernel::<2>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                    _ => avx2::kernel::<1>(k, a_ptr, panel.as_ptr(), c_ptr, n, cols, beta),
                }
            }
            r0 += rows;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::NR;
    use std::arch::x86_64::*;

    /// `R` rows × one panel: `c[r][0..cols] = Σ_k a[r][k]·panel[k][..] + beta·c`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel<const R: usize>(
        k: usize,
        a: *const f32,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        beta: f32,
    ) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for kk in 0..k {
            let b_lo = _mm256_loadu_ps(panel.add(kk * NR));
            let b_hi = _mm256_loadu_ps(panel.add(kk * NR + 8));
            for r in 0..R {
                let av = _mm256_broadcast_ss(&*a.add(r * k + kk));
                lo[r] = _mm256_fmadd_ps(av, b_lo, lo[r]);
                hi[r] = _mm256_fmadd_ps(av, b_hi, hi[r]);
            }
        }
        for r in 0..R {
            let mut out = [0.0f32; NR];
            _mm256_storeu_ps(out.as_mut_ptr(), lo[r]);
            _mm256_storeu_ps(out.as_mut_ptr().add(8), hi[r]);
            let row = c.add(r * ldc);
            for (j, v) in out.iter().enumerate().take(cols) {
                let dst = row.add(j);
                *dst = if beta == 0.0 { *v } else { v + beta * *dst };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_for_ragged_shapes() {
        if !available() {
            println!("no AVX2/FMA on this CPU: packed kernel not tested");
            return;
        }
        for (m, n, k) in [
            (1, 1, 1),
            (7, 37, 13),
            (13, 16, 64),
            (16, 48, 5),
            (6, 17, 2),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
                .collect();
            // w is n×k; op(b) = wᵀ either packed from w (T) or from its transpose (N).
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 3 % 13) as f32 - 6.0) / 6.0)
                .collect();
            let wt: Vec<f32> = (0..k * n).map(|i| w[(i % n) * k + i / n]).collect();
            for (beta, tb) in [
                (0.0, Trans::T),
                (1.0, Trans::T),
                (0.0, Trans::N),
                (1.0, Trans::N),
            ] {
                let mut packed = Vec::new();
                pack(tb, if tb == Trans::T { &w } else { &wt }, k, n, &mut packed);
                let mut c: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.1).collect();
                let before = c.clone();
                gemm(m, n, k, &a, &packed, beta, &mut c);
                for i in 0..m {
                    for j in 0..n {
                        let dot: f32 = (0..k).map(|p| a[i * k + p] * w[j * k + p]).sum();
                        let want = dot + beta * before[i * n + j];
                        let got = c[i * n + j];
                        assert!(
                            (got - want).abs() < 1e-4,
                            "{m}x{n}x{k} {tb:?} β={beta} [{i},{j}]"
                        );
                    }
                }
            }
        }
    }
}
