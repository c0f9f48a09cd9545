//! Products with a weight matrix prepared once and reused many times: the recurrent GEMMs,
//! where one `[B, H] · W_hhᵀ` per timestep is too small to amortise a general GEMM's packing
//! of `W_hh` (a third of the time with `matrixmultiply`).
//!
//! `op(b)` (`k×n`) is stored as panels of [`NR`] columns, each panel `k×NR`
//! (`panel[kk][j] = op(b)[kk][p*NR + j]`, zero-padded), so the microkernel streams one panel
//! with two vector loads per `k` and broadcasts one value of `a` per row.

use super::select::Isa;
use super::Trans;

/// Columns of `c` per panel (two AVX registers of 8 floats).
pub const NR: usize = 16;
/// Rows of `c` per microkernel call: 6×2 accumulators + 2 panel vectors + 1 broadcast.
const MR: usize = 6;

/// Floats needed to pack an `n×k` weight.
pub fn packed_len(n: usize, k: usize) -> usize {
    n.div_ceil(NR) * NR * k
}

/// 16 floats on a 64-byte boundary: one row of a panel, exactly one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct CacheLine([f32; NR]);

/// A weight prepared once for many products (see [`super::Backend::pack_b`]), or a packing
/// buffer. Its floats start on a cache-line boundary, so each 16-float panel row is one line;
/// with the allocator's 16-byte alignment every row would straddle two.
#[derive(Debug, Clone, Default)]
pub struct PackedWeight {
    lines: Vec<CacheLine>,
    len: usize,
}

impl PackedWeight {
    /// Makes room for `len` floats; keeps the old contents where they fit.
    pub fn resize(&mut self, len: usize) {
        self.lines.resize(len.div_ceil(NR), CacheLine([0.0; NR]));
        self.len = len;
    }

    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `CacheLine` is `repr(C)` over `[f32; NR]` with no padding (64 bytes, align
        // 64), so `lines` is `lines.len() · NR` contiguous, initialised floats, and
        // `len <= lines.len() · NR`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, with the unique borrow of `lines`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

/// Packs `op(b)` (`k×n`; `b` stored `k×n` for [`Trans::N`], `n×k` for [`Trans::T`]) into `out`
/// (resized) in panel order.
pub fn pack(tb: Trans, b: &[f32], k: usize, n: usize, out: &mut PackedWeight) {
    // No clear: every float of every panel is rewritten (saves a 4 MiB memset per weight).
    out.resize(packed_len(n, k));
    let ld = if tb == Trans::N { n } else { k };
    pack_panels(tb, b, ld, k, n, 0, out.as_mut_slice());
}

/// Packs the columns `ranges` of `op(b)` (`k×n`, stored as for [`pack`]) one range after the
/// other, each padded to whole panels on its own (`packed_len(range.len(), k)` floats each), so
/// that a thread can own a set of columns (e.g. its hidden units in every gate block of a
/// recurrent weight) as a run of whole panels.
pub fn pack_column_ranges(
    tb: Trans,
    b: &[f32],
    k: usize,
    n: usize,
    ranges: &[std::ops::Range<usize>],
    out: &mut PackedWeight,
) {
    out.resize(ranges.iter().map(|r| packed_len(r.len(), k)).sum());
    let mut rest = out.as_mut_slice();
    for r in ranges {
        assert!(r.end <= n, "pack_column_ranges: {r:?} outside {n} columns");
        let (dst, tail) = rest.split_at_mut(packed_len(r.len(), k));
        match tb {
            Trans::N => pack_panels(tb, &b[r.start..], n, k, r.len(), 0, dst),
            Trans::T => pack_panels(tb, &b[r.start * k..], k, k, r.len(), 0, dst),
        }
        rest = tail;
    }
}

/// Packs whole panels `first, first + 1, …` of `op(b)` into `out` (`NR·k` floats each), so
/// threads can pack disjoint ranges of panels. `ld` is `b`'s row stride (`n` for a whole
/// [`Trans::N`] matrix, `k` for [`Trans::T`]); `b` may start at a column range's first column.
pub fn pack_panels(
    tb: Trans,
    b: &[f32],
    ld: usize,
    k: usize,
    n: usize,
    first: usize,
    out: &mut [f32],
) {
    for (i, panel) in out.chunks_exact_mut(NR * k).enumerate() {
        let p = first + i;
        let cols = NR.min(n - p * NR);
        if cols < NR {
            panel.fill(0.0);
        }
        match tb {
            // op(b) = b: each step of the panel is a run of one row of b.
            Trans::N => {
                for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
                    let src = &b[kk * ld + p * NR..][..cols];
                    match (<&mut [f32; NR]>::try_from(row), <&[f32; NR]>::try_from(src)) {
                        (Ok(row), Ok(full)) => *row = *full, // fixed size: no memcpy call
                        (Ok(row), Err(_)) => row[..cols].copy_from_slice(src),
                        (Err(_), _) => unreachable!("a panel step holds NR floats"),
                    }
                }
            }
            // op(b) = bᵀ: column j of the panel is row `p·NR + j` of b, read contiguously.
            Trans::T => {
                for j in 0..cols {
                    let src = &b[(p * NR + j) * ld..][..k];
                    for (dst, &v) in panel[j..].iter_mut().step_by(NR).zip(src) {
                        *dst = v;
                    }
                }
            }
        }
    }
}

/// Depth of one pass over a panel: `KC·NR` floats (16 KiB) stay in L1 while every row block
/// of `a` goes through them (a whole `k = 1024` panel would be re-read from L2 per block).
const KC: usize = 256;

/// Splits `m` rows into blocks of at most [`MR`] rows that are as even as possible (16 rows
/// run as 6+5+5 rather than 6+6+4: a thin block does fewer multiply-adds per load).
pub fn row_blocks(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let blocks = m.div_ceil(MR).max(1);
    let (base, extra) = (m / blocks, m % blocks);
    (0..blocks).scan(0, move |start, i| {
        let rows = base + usize::from(i < extra);
        let at = *start;
        *start += rows;
        Some((at, rows))
    })
}

/// Copies `a` (`m×k`, row-major) block by block as [`row_blocks`] splits it, each block
/// depth-major (`out[r0·k + kk·rows + r] = a[r0 + r][kk]`). The kernel re-reads `a` once per
/// panel; in this order its broadcasts are one sequential stream, where the rows of `a` sit a
/// multiple of 4 KiB apart for the usual hidden sizes and fight over the same L1 sets.
pub fn pack_rows(m: usize, k: usize, a: &[f32], out: &mut Vec<f32>) {
    out.resize(m * k, 0.0);
    for (r0, rows) in row_blocks(m) {
        let block = &mut out[r0 * k..(r0 + rows) * k];
        for r in 0..rows {
            let src = &a[(r0 + r) * k..(r0 + r + 1) * k];
            for (dst, &v) in block[r..].iter_mut().step_by(rows).zip(src) {
                *dst = v;
            }
        }
    }
}

thread_local! {
    /// Each thread's copy of `a` in kernel order, reused from call to call.
    static PACKED_ROWS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Panels per AVX-512 kernel call: 6 rows × 2 panels = 12 accumulators, and the pair of
/// `KC`-deep panels (32 KiB) stays in L1.
const P512: usize = 2;

/// `c[m×n] = a[m×k] · op(b) + beta·c`, `packed` from [`pack`]. Only call when the CPU has
/// `isa` ([`crate::simd`]).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    packed: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    let has = match isa {
        Isa::Avx2 => crate::simd::avx2_fma(),
        Isa::Avx512 => crate::simd::avx512(),
    };
    assert!(has, "packed gemm: this CPU lacks {isa:?}");
    assert!(a.len() >= m * k && c.len() >= m * n && packed.len() >= packed_len(n, k));
    if m == 0 || k == 0 {
        return;
    }
    PACKED_ROWS.with_borrow_mut(|rows_of_a| {
        pack_rows(m, k, a, rows_of_a);
        match isa {
            Isa::Avx2 => gemm_rows_packed(m, n, k, rows_of_a, packed, beta, c, n),
            Isa::Avx512 => gemm_rows_packed_512(m, n, k, rows_of_a, packed, beta, c, n),
        }
    });
}

/// `c[m×cols] = a·op(b)[:, cols] + beta·c` with `c`'s rows `ldc` apart, `rows_of_a` from
/// [`pack_rows`] and `panels` the whole panels (depth `k`) of those `cols` columns, e.g. one
/// range of [`pack_column_ranges`]. The same kernel and order of additions as [`gemm`], so each
/// element of `c` gets the same bits as there. Only call when the CPU has `isa`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_panels(
    isa: Isa,
    m: usize,
    cols: usize,
    k: usize,
    rows_of_a: &[f32],
    panels: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let has = match isa {
        Isa::Avx2 => crate::simd::avx2_fma(),
        Isa::Avx512 => crate::simd::avx512(),
    };
    assert!(has, "packed gemm: this CPU lacks {isa:?}");
    if m == 0 || k == 0 || cols == 0 {
        return;
    }
    assert!(ldc >= cols && c.len() >= (m - 1) * ldc + cols);
    assert!(rows_of_a.len() >= m * k && panels.len() >= packed_len(cols, k));
    match isa {
        Isa::Avx2 => gemm_rows_packed(m, cols, k, rows_of_a, panels, beta, c, ldc),
        Isa::Avx512 => gemm_rows_packed_512(m, cols, k, rows_of_a, panels, beta, c, ldc),
    }
}

#[allow(clippy::too_many_arguments)]
fn gemm_rows_packed(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    packed: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    for (p, panel) in packed[..packed_len(n, k)].chunks_exact(NR * k).enumerate() {
        let cols = NR.min(n - p * NR);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            // Later depth blocks add onto what the first one stored.
            let beta_here = if k0 == 0 { beta } else { 1.0 };
            for (r0, rows) in row_blocks(m) {
                // SAFETY: AVX2/FMA checked by the caller; the block of rows `r0..r0+rows` of
                // the packed `a` starts at `r0·k` and holds `rows·k` floats (depth `k0..k0+kc`
                // at `k0·rows`), rows `r0..r0+rows` of `c` (columns `p*NR..p*NR+cols`, row
                // stride ldc) and depth `k0..k0+kc` of the panel lie inside the checked slices.
                unsafe {
                    let a_ptr = a.as_ptr().add(r0 * k + k0 * rows);
                    let b_ptr = panel.as_ptr().add(k0 * NR);
                    let c_ptr = c.as_mut_ptr().add(r0 * ldc + p * NR);
                    let tile = avx2::Tile {
                        kc,
                        ldc,
                        cols,
                        beta: beta_here,
                    };
                    match rows {
                        6 => avx2::kernel::<6>(&tile, a_ptr, b_ptr, c_ptr),
                        5 => avx2::kernel::<5>(&tile, a_ptr, b_ptr, c_ptr),
                        4 => avx2::kernel::<4>(&tile, a_ptr, b_ptr, c_ptr),
                        3 => avx2::kernel::<3>(&tile, a_ptr, b_ptr, c_ptr),
                        2 => avx2::kernel::<2>(&tile, a_ptr, b_ptr, c_ptr),
                        _ => avx2::kernel::<1>(&tile, a_ptr, b_ptr, c_ptr),
                    }
                }
            }
        }
    }
}

/// [`gemm_rows_packed`] with the AVX-512 kernel over [`P512`] panels at a time. The same
/// depth blocks and order of additions, so the same bits.
#[allow(clippy::too_many_arguments)]
fn gemm_rows_packed_512(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    packed: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let panels = n.div_ceil(NR);
    #[cfg(target_arch = "x86_64")]
    for p in (0..panels).step_by(P512) {
        let group = P512.min(panels - p);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            let beta_here = if k0 == 0 { beta } else { 1.0 };
            for (r0, rows) in row_blocks(m) {
                let tile = super::x86::Tile {
                    kc,
                    acs: rows,
                    ldb: NR,
                    panel_stride: NR * k,
                    rows,
                    cols: (group * NR).min(n - p * NR),
                    rsc: ldc,
                    csc: 1,
                    alpha: 1.0,
                    beta: beta_here,
                };
                // SAFETY: AVX-512 checked by the caller; as in `gemm_rows_packed`, with the
                // `group` panels from `p` inside `packed` (each `NR·k` floats) and columns
                // `p·NR..p·NR + cols` of rows `r0..r0 + rows` inside `c`.
                unsafe {
                    let a_ptr = a.as_ptr().add(r0 * k + k0 * rows);
                    let b_ptr = packed.as_ptr().add(p * NR * k + k0 * NR);
                    let c_ptr = c.as_mut_ptr().add(r0 * ldc + p * NR);
                    kernel_512(group, rows, a_ptr, b_ptr, c_ptr, &tile);
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (panels, m, k, a, packed, beta, c, ldc);
}

/// The AVX-512 kernel for `rows` rows of depth-major `a` and `group` panels.
#[cfg(target_arch = "x86_64")]
unsafe fn kernel_512(
    group: usize,
    rows: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    t: &super::x86::Tile,
) {
    use super::x86::avx512;
    /// Row `r`'s values sit at `a + r`, `rows` floats per depth step.
    unsafe fn run<const R: usize, const P: usize>(
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        t: &super::x86::Tile,
    ) {
        let rows: [*const f32; R] = std::array::from_fn(|r| a.wrapping_add(r));
        avx512::<R, P>(&rows, b, c, t)
    }
    macro_rules! by_rows {
        ($p:literal) => {
            match rows {
                6 => run::<6, $p>(a, b, c, t),
                5 => run::<5, $p>(a, b, c, t),
                4 => run::<4, $p>(a, b, c, t),
                3 => run::<3, $p>(a, b, c, t),
                2 => run::<2, $p>(a, b, c, t),
                _ => run::<1, $p>(a, b, c, t),
            }
        };
    }
    match group {
        1 => by_rows!(1),
        2 => by_rows!(2),
        3 => by_rows!(3),
        _ => by_rows!(4),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::NR;
    use std::arch::x86_64::*;

    /// Shape of one kernel call: depth, row stride of `c`, valid columns, beta.
    pub struct Tile {
        pub kc: usize,
        pub ldc: usize,
        pub cols: usize,
        pub beta: f32,
    }

    /// `R` rows × one panel: `c[r][0..cols] = Σ_kk a[kk][r]·panel[kk][..] + beta·c`, with `a`
    /// depth-major (`R` values per depth step).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel<const R: usize>(t: &Tile, a: *const f32, panel: *const f32, c: *mut f32) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for kk in 0..t.kc {
            let b_lo = _mm256_loadu_ps(panel.add(kk * NR));
            let b_hi = _mm256_loadu_ps(panel.add(kk * NR + 8));
            for r in 0..R {
                let av = _mm256_broadcast_ss(&*a.add(kk * R + r));
                lo[r] = _mm256_fmadd_ps(av, b_lo, lo[r]);
                hi[r] = _mm256_fmadd_ps(av, b_hi, hi[r]);
            }
        }
        let vb = _mm256_set1_ps(t.beta);
        for r in 0..R {
            let row = c.add(r * t.ldc);
            if t.cols == NR {
                let (mut x_lo, mut x_hi) = (lo[r], hi[r]);
                if t.beta != 0.0 {
                    x_lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), x_lo);
                    x_hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row.add(8)), x_hi);
                }
                _mm256_storeu_ps(row, x_lo);
                _mm256_storeu_ps(row.add(8), x_hi);
                continue;
            }
            let mut out = [0.0f32; NR];
            _mm256_storeu_ps(out.as_mut_ptr(), lo[r]);
            _mm256_storeu_ps(out.as_mut_ptr().add(8), hi[r]);
            for (j, v) in out.iter().enumerate().take(t.cols) {
                let dst = row.add(j);
                *dst = if t.beta == 0.0 { *v } else { v + t.beta * *dst };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_blocks_are_even_and_cover_all_rows() {
        let blocks: Vec<_> = row_blocks(16).collect();
        assert_eq!(blocks, [(0, 6), (6, 5), (11, 5)]);
        for m in 1..40 {
            let blocks: Vec<_> = row_blocks(m).collect();
            assert_eq!(blocks.iter().map(|b| b.1).sum::<usize>(), m);
            assert!(blocks.iter().all(|b| (1..=MR).contains(&b.1)));
            assert!(blocks.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        }
    }

    #[test]
    fn matches_naive_for_ragged_shapes() {
        for (isa, has) in [
            (Isa::Avx2, crate::simd::avx2_fma()),
            (Isa::Avx512, crate::simd::avx512()),
        ] {
            if has {
                matches_naive(isa);
            } else {
                println!("SKIP: no {isa:?} on this CPU: its packed kernel is not tested");
            }
        }
    }

    fn matches_naive(isa: Isa) {
        for (m, n, k) in [
            (1, 1, 1),
            (7, 37, 13),
            (13, 16, 64),
            (16, 48, 5),
            (6, 17, 2),
            (32, 40, 600),
            (16, 16, 513),
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
                let mut packed = PackedWeight::default();
                pack(tb, if tb == Trans::T { &w } else { &wt }, k, n, &mut packed);
                let mut c: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.1).collect();
                let before = c.clone();
                gemm(isa, m, n, k, &a, packed.as_slice(), beta, &mut c);
                for i in 0..m {
                    for j in 0..n {
                        let dot: f32 = (0..k).map(|p| a[i * k + p] * w[j * k + p]).sum();
                        let want = dot + beta * before[i * n + j];
                        let got = c[i * n + j];
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{isa:?} {m}x{n}x{k} {tb:?} β={beta} [{i},{j}]"
                        );
                    }
                }
            }
        }
    }
}
