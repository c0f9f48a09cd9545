//! The x86-64 microkernels of the blocked GEMM ([`super::gemm`]) and the AVX-512 kernel it
//! shares with the pre-packed per-step products ([`super::packed`]). Callers check the CPU's
//! features ([`crate::simd`]) before calling; every function here is `unsafe` for that reason
//! and because it reads and writes through raw pointers.
//!
//! A kernel keeps a tile of `C` in registers and streams `B` panels of [`NR`] columns: the AVX2
//! kernel covers 6 rows × one panel (12 of 16 ymm registers), the AVX-512 one `R` rows × `P`
//! panels (6 × 2 panels = 12 of 32 zmm registers by default). Both add the products of each
//! depth step in the same order, one fused multiply-add per step, so on full tiles they give
//! the same bits.

use std::arch::x86_64::*;

/// Columns per B panel.
pub const NR: usize = 16;

/// Shape of one microkernel call and where it stores its tile.
pub struct Tile {
    /// Depth, step of each row of `A` along it, step of a `B` panel along it.
    pub kc: usize,
    pub acs: usize,
    pub ldb: usize,
    /// Floats from one `B` panel to the next (AVX-512 kernel only).
    pub panel_stride: usize,
    /// The valid corner of the tile and `C`'s strides.
    pub rows: usize,
    pub cols: usize,
    pub rsc: usize,
    pub csc: usize,
    pub alpha: f32,
    pub beta: f32,
}

/// The tile of C is read and written only after the depth loop: fetch it now, or each store
/// waits for a miss (C is usually far larger than the caches).
#[inline(always)]
unsafe fn prefetch_c(c: *mut f32, t: &Tile, width: usize) {
    if t.csc == 1 {
        for r in 0..t.rows {
            let row = c.add(r * t.rsc);
            for j in (0..width).step_by(NR) {
                _mm_prefetch::<_MM_HINT_T0>(row.add(j) as *const i8);
            }
            _mm_prefetch::<_MM_HINT_T0>(row.add(width - 1) as *const i8);
        }
    }
}

/// One `6×16` tile: `c[r][j] = alpha·Σ_kk a_r[kk·acs]·b[kk·ldb + j] + beta·c[r][j]` for the
/// `rows×cols` corner that lies inside `C`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn avx2_6x16(a: &[*const f32; 6], b: *const f32, c: *mut f32, t: &Tile) {
    prefetch_c(c, t, NR);
    let mut lo = [_mm256_setzero_ps(); 6];
    let mut hi = [_mm256_setzero_ps(); 6];
    for kk in 0..t.kc {
        let b_lo = _mm256_loadu_ps(b.add(kk * t.ldb));
        let b_hi = _mm256_loadu_ps(b.add(kk * t.ldb + 8));
        for r in 0..6 {
            let av = _mm256_broadcast_ss(&*a[r].add(kk * t.acs));
            lo[r] = _mm256_fmadd_ps(av, b_lo, lo[r]);
            hi[r] = _mm256_fmadd_ps(av, b_hi, hi[r]);
        }
    }
    let va = _mm256_set1_ps(t.alpha);
    let vb = _mm256_set1_ps(t.beta);
    for r in 0..t.rows {
        let row = c.add(r * t.rsc);
        let (mut x_lo, mut x_hi) = (_mm256_mul_ps(va, lo[r]), _mm256_mul_ps(va, hi[r]));
        if t.cols == NR && t.csc == 1 {
            if t.beta != 0.0 {
                x_lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), x_lo);
                x_hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row.add(8)), x_hi);
            }
            _mm256_storeu_ps(row, x_lo);
            _mm256_storeu_ps(row.add(8), x_hi);
        } else {
            let mut out = [0.0f32; NR];
            _mm256_storeu_ps(out.as_mut_ptr(), x_lo);
            _mm256_storeu_ps(out.as_mut_ptr().add(8), x_hi);
            store_scalar(&out, row, 0, t);
        }
    }
}

/// Stores `out` (one panel's row of the tile, columns `first..first + NR`) where it lies
/// inside the valid corner, element by element.
#[inline(always)]
unsafe fn store_scalar(out: &[f32; NR], row: *mut f32, first: usize, t: &Tile) {
    for (j, v) in out.iter().enumerate().take(t.cols - first) {
        let dst = row.add((first + j) * t.csc);
        *dst = if t.beta == 0.0 { *v } else { v + t.beta * *dst };
    }
}

/// One `R × (P·16)` tile from `P` consecutive panels of `B` (`panel_stride` apart), as
/// [`avx2_6x16`] otherwise. Ragged columns are stored through a mask.
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn avx512<const R: usize, const P: usize>(
    a: &[*const f32; R],
    b: *const f32,
    c: *mut f32,
    t: &Tile,
) {
    prefetch_c(c, t, t.cols.min(P * NR));
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    for kk in 0..t.kc {
        let mut bv = [_mm512_setzero_ps(); P];
        for (q, v) in bv.iter_mut().enumerate() {
            *v = _mm512_loadu_ps(b.add(q * t.panel_stride + kk * t.ldb));
        }
        for r in 0..R {
            let av = _mm512_set1_ps(*a[r].add(kk * t.acs));
            for q in 0..P {
                acc[r][q] = _mm512_fmadd_ps(av, bv[q], acc[r][q]);
            }
        }
    }
    let va = _mm512_set1_ps(t.alpha);
    let vb = _mm512_set1_ps(t.beta);
    for (r, acc_r) in acc.iter().enumerate().take(t.rows) {
        let row = c.add(r * t.rsc);
        for (q, &v) in acc_r.iter().enumerate() {
            let first = q * NR;
            if first >= t.cols {
                break;
            }
            let x = _mm512_mul_ps(va, v);
            if t.csc == 1 {
                let left = t.cols - first;
                let mask: __mmask16 = if left >= NR {
                    0xffff
                } else {
                    (1u16 << left) - 1
                };
                let dst = row.add(first);
                let x = if t.beta != 0.0 {
                    _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, dst), x)
                } else {
                    x
                };
                _mm512_mask_storeu_ps(dst, mask, x);
            } else {
                let mut out = [0.0f32; NR];
                _mm512_storeu_ps(out.as_mut_ptr(), x);
                store_scalar(&out, row, first, t);
            }
        }
    }
}
