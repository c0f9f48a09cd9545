//! A blocked single-precision GEMM for AVX2+FMA or AVX-512 in the style of BLIS / llm.c: the big products
//! of a training step (input projections of all timesteps, input gradients, weight gradients,
//! the output head) go through here.
//!
//! `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, operands addressed through (row,
//! column) strides so the transposed cases need no copies. Loops, outermost first:
//!
//! 1. `k` in blocks of [`KC`]: the block of `op(B)` is packed into column panels of [`NR`]
//!    (`kc×NR` each, a panel fits L1);
//! 2. `m` in blocks of [`MC`]: the block of `op(A)` is packed into row panels of [`MR`]
//!    (`kc×MR` each, interleaved so the kernel broadcasts consecutive floats; the block fits L2);
//! 3. every `NR` panel (AVX-512: every pair of panels) × every `MR` panel: the microkernel
//!    ([`super::x86`]) keeps the 6×16 (6×32) tile of `C` in 12 registers.
//!
//! Packing zero-pads the ragged edges, so the kernel always computes a full tile and only the
//! store is clipped. Each call's accumulation order depends only on the shapes, never on
//! timing, so results are deterministic.

use std::cell::RefCell;

use super::select::Isa;
use super::PackedWeight;

/// Columns per B panel (two AVX registers, one AVX-512 register).
const NR: usize = 16;
/// B panels per AVX-512 microkernel call: 6×2 accumulators; a pair of `KC`-deep panels
/// (32 KiB) stays in L1 (four would not).
const P512: usize = 2;
/// Rows per A panel: 6×2 accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers.
const MR: usize = 6;
/// Depth of one packed block: a B panel (`KC·NR` floats = 16 KiB) stays in L1.
const KC: usize = 256;
/// Rows of one packed A block (`MC·KC` floats = 120 KiB) stay in L2.
const MC: usize = 120;

/// A matrix operand: element `(i, j)` of `op(X)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Operand<'a> {
    /// `op(X)` of `X` stored row-major with leading dimension `ld`.
    pub fn stored(data: &'a [f32], t: super::Trans, ld: usize) -> Operand<'a> {
        match t {
            super::Trans::N => Operand {
                data,
                rs: ld,
                cs: 1,
            },
            super::Trans::T => Operand {
                data,
                rs: 1,
                cs: ld,
            },
        }
    }

    /// Index of the last element of a `rows×cols` view (both positive).
    fn last(&self, rows: usize, cols: usize) -> usize {
        (rows - 1) * self.rs + (cols - 1) * self.cs
    }

    fn transposed(self) -> Operand<'a> {
        Operand {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

thread_local! {
    /// Packing buffers, reused across calls on each thread (no allocation once warm). Cache-line
    /// aligned, so a 16-float row of a B panel is one line (unaligned rows straddle two and cost
    /// about a fifth).
    static PACK: RefCell<(PackedWeight, PackedWeight)> = RefCell::new(Default::default());
}

/// Packs `op(B)[p0..p0+kc, 0..n]` into `NR`-column panels, zero-padded to a multiple of `NR`.
fn pack_b<'b>(b: Operand, p0: usize, kc: usize, n: usize, buf: &'b mut PackedWeight) -> &'b [f32] {
    let panels = n.div_ceil(NR);
    // Every float is rewritten; only a ragged last panel needs its padding zeroed.
    buf.resize(panels * NR * kc);
    let out = buf.as_mut_slice();
    for (p, panel) in out.chunks_exact_mut(NR * kc).enumerate() {
        let cols = NR.min(n - p * NR);
        if cols < NR {
            panel.fill(0.0);
        }
        let base = p0 * b.rs + p * NR * b.cs;
        if b.cs == 1 {
            for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
                let src = &b.data[base + kk * b.rs..][..cols];
                match <&[f32; NR]>::try_from(src) {
                    Ok(full) => row.copy_from_slice(full), // fixed size: no memcpy call
                    Err(_) => row[..cols].copy_from_slice(src),
                }
            }
        } else {
            // A transposed weight (`x·Wᵀ`): read each of W's rows contiguously.
            for j in 0..cols {
                let src = b.data[base + j * b.cs..].iter().step_by(b.rs).take(kc);
                for (dst, &v) in panel[j..].iter_mut().step_by(NR).zip(src) {
                    *dst = v;
                }
            }
        }
    }
    out
}

/// Packs `op(A)[i0..i0+mc, p0..p0+kc]` into `MR`-row panels (`panel[kk·MR + r]`), zero-padded.
fn pack_a<'b>(
    a: Operand,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    buf: &'b mut PackedWeight,
) -> &'b [f32] {
    let panels = mc.div_ceil(MR);
    buf.resize(panels * MR * kc);
    let out = buf.as_mut_slice();
    if !mc.is_multiple_of(MR) {
        // The ragged last panel's missing rows are padding: zero, not stale floats.
        out[(panels - 1) * MR * kc..].fill(0.0);
    }
    if a.rs == 1 {
        // Transposed A (a weight gradient's dGatesᵀ): step `kk` of all panels is one
        // contiguous run of `mc` floats; read each run once, in order.
        for kk in 0..kc {
            let at = i0 + (p0 + kk) * a.cs;
            let src = &a.data[at..at + mc];
            for (p, chunk) in src.chunks(MR).enumerate() {
                let dst = &mut out[p * MR * kc + kk * MR..][..MR];
                match (
                    <&mut [f32; MR]>::try_from(dst),
                    <&[f32; MR]>::try_from(chunk),
                ) {
                    (Ok(dst), Ok(full)) => *dst = *full, // fixed size: no memcpy call
                    (Ok(dst), Err(_)) => dst[..chunk.len()].copy_from_slice(chunk),
                    (Err(_), _) => unreachable!("a panel step holds MR floats"),
                }
            }
        }
        return out;
    }
    for (p, panel) in out.chunks_exact_mut(MR * kc).enumerate() {
        let rows = MR.min(mc - p * MR);
        let base = (i0 + p * MR) * a.rs + p0 * a.cs;
        for r in 0..rows {
            let src = a.data[base + r * a.rs..].iter().step_by(a.cs).take(kc);
            for (dst, &v) in panel[r..].iter_mut().step_by(MR).zip(src) {
                *dst = v;
            }
        }
    }
    out
}

/// Floats computed per useful float when `m×n` is cut into `MR×NR` tiles.
fn tile_waste(m: usize, n: usize) -> f64 {
    (m.div_ceil(MR) * MR * n.div_ceil(NR) * NR) as f64 / (m * n) as f64
}

/// `C = alpha·op(A)·op(B) + beta·C` on the calling thread; `c` is row-major with row stride
/// `ldc`. With `beta == 0` the old contents of `c` are never read (they may be NaN).
/// Only call when the CPU has `isa` ([`crate::simd`]).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    b: Operand,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    if nothing_to_multiply(isa, m, n, k, &a, beta, c, ldc) {
        return;
    }
    assert!(b.data.len() > b.last(k, n), "gemm: b too short");
    // A narrow C wastes most of its last 16-column panel; its transpose
    // `Cᵀ = op(B)ᵀ·op(A)ᵀ` cuts into tiles with less padding but stores scalar by scalar,
    // which costs about a quarter more (the output head's 65 logits stay as they are).
    if tile_waste(n, m) * 1.25 < tile_waste(m, n) {
        return blocked(
            isa,
            n,
            m,
            k,
            alpha,
            b.transposed(),
            BSource::Operand(a.transposed()),
            beta,
            c,
            (1, ldc),
        );
    }
    blocked(
        isa,
        m,
        n,
        k,
        alpha,
        a,
        BSource::Operand(b),
        beta,
        c,
        (ldc, 1),
    );
}

/// Whether [`blocked`] reads `op(B)` in place instead of packing it (see there).
fn reads_b_in_place(m: usize, n: usize, b: &Operand) -> bool {
    b.cs == 1 && n.is_multiple_of(NR) && m <= MC
}

/// Whether [`sgemm`] on `m` rows packs `op(B)` (`k×n`) in the usual orientation. Threads that
/// split the rows of one product would each pack all of it: they can share one packing in
/// [`super::packed`]'s layout instead, through [`sgemm_prepacked`].
pub fn packs_b(m: usize, n: usize, b: Operand) -> bool {
    let transposed = tile_waste(n, m) * 1.25 < tile_waste(m, n);
    m > 0 && n > 0 && !transposed && !reads_b_in_place(m, n, &b)
}

/// [`sgemm`] with `op(B)` already packed by [`super::packed::pack`] (panels of `NR` columns
/// over the whole depth `k`). Same blocking, kernel and summation order, so the same bits.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_prepacked(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    packed_b: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    if nothing_to_multiply(isa, m, n, k, &a, beta, c, ldc) {
        return;
    }
    assert!(
        packed_b.len() >= super::packed::packed_len(n, k),
        "gemm: packed b too short"
    );
    let b = BSource::Packed(packed_b);
    blocked(isa, m, n, k, alpha, a, b, beta, c, (ldc, 1));
}

/// The checks both entry points share: the CPU has `isa`, `c` and `op(A)` (`m×k`) are large
/// enough. Returns true when the product is empty, after scaling `c` by `beta` for `k == 0`.
#[allow(clippy::too_many_arguments)]
fn nothing_to_multiply(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &Operand,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) -> bool {
    let has = match isa {
        Isa::Avx2 => crate::simd::avx2_fma(),
        Isa::Avx512 => crate::simd::avx512(),
    };
    assert!(has, "blocked gemm: this CPU lacks {isa:?}");
    if m == 0 || n == 0 {
        return true;
    }
    assert!(c.len() >= (m - 1) * ldc + n, "gemm: c too short");
    if k == 0 {
        scale_rows(m, n, beta, c, ldc);
        return true;
    }
    assert!(a.data.len() > a.last(m, k), "gemm: a too short");
    false
}

/// Where the kernel's `B` panels come from.
#[derive(Clone, Copy)]
enum BSource<'a> {
    /// The operand itself, packed block by block here (or read in place).
    Operand(Operand<'a>),
    /// Whole-depth panels packed beforehand.
    Packed(&'a [f32]),
}

/// The three blocking loops; `c_strides` are (row, column) strides of `C` in `c`.
///
/// An operand whose rows are contiguous is read in place where packing would not pay: `A`
/// always (the kernel broadcasts from six row streams as well as from a panel), `B` when one
/// block of `A` covers all of `m` (a weight gradient's 65-row head: packing `B` would copy
/// each of its floats to use it 65 times).
#[allow(clippy::too_many_arguments)]
fn blocked(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    b: BSource,
    beta: f32,
    c: &mut [f32],
    c_strides: (usize, usize),
) {
    let (rsc, csc) = c_strides;
    let direct_a = a.cs == 1;
    PACK.with(|bufs| {
        let (a_buf, b_buf) = &mut *bufs.borrow_mut();
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            // Each source's panels as (start of panel 0 at this depth, floats between panels,
            // floats between depth steps).
            let (b_base, panel_stride, ldb): (&[f32], usize, usize) = match b {
                BSource::Operand(b) if reads_b_in_place(m, n, &b) => {
                    (&b.data[p0 * b.rs..], NR, b.rs)
                }
                BSource::Operand(b) => (pack_b(b, p0, kc, n, b_buf), NR * kc, NR),
                BSource::Packed(panels) => (&panels[p0 * NR..], NR * k, NR),
            };
            // Later k blocks add onto what the first one stored.
            let beta_here = if p0 == 0 { beta } else { 1.0 };
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                let a_pack: &[f32] = if direct_a {
                    &[]
                } else {
                    pack_a(a, i0, mc, p0, kc, a_buf)
                };
                // Panels per kernel call.
                let step = match isa {
                    Isa::Avx2 => 1,
                    Isa::Avx512 => P512,
                };
                let panels = n.div_ceil(NR);
                for jp in (0..panels).step_by(step) {
                    let b_ptr = b_base[jp * panel_stride..].as_ptr();
                    for ip in 0..mc.div_ceil(MR) {
                        let rows = MR.min(mc - ip * MR);
                        // Rows past the edge repeat the last valid one (computed, not stored).
                        let (a_rows, acs) = if direct_a {
                            let row = |r: usize| {
                                let i = i0 + ip * MR + r.min(rows - 1);
                                a.data[i * a.rs + p0..].as_ptr()
                            };
                            (std::array::from_fn(row), 1)
                        } else {
                            let panel = &a_pack[ip * MR * kc..];
                            (std::array::from_fn(|r| panel[r..].as_ptr()), MR)
                        };
                        let tile = Tile {
                            kc,
                            acs,
                            ldb,
                            panel_stride,
                            rows,
                            cols: (step * NR).min(n - jp * NR),
                            rsc,
                            csc,
                            alpha,
                            beta: beta_here,
                        };
                        let at = (i0 + ip * MR) * rsc + jp * NR * csc;
                        // SAFETY: the CPU has `isa` (checked by the caller). Every row pointer
                        // has `kc` steps of `acs` inside `a` (or its panel); each of the
                        // `min(step, panels - jp)` panels from `b_ptr` (`panel_stride` apart)
                        // has `kc` rows of NR floats at stride `ldb` inside `b` (or its
                        // packing); and the tile `rows×cols` at `at` with strides (rsc, csc)
                        // lies inside `c`: the caller checked the operands' extents.
                        unsafe {
                            kernel(
                                isa,
                                panels - jp,
                                &a_rows,
                                b_ptr,
                                c.as_mut_ptr().add(at),
                                &tile,
                            )
                        };
                    }
                }
            }
        }
    });
}

fn scale_rows(m: usize, n: usize, beta: f32, c: &mut [f32], ldc: usize) {
    for i in 0..m {
        for v in &mut c[i * ldc..i * ldc + n] {
            *v = if beta == 0.0 { 0.0 } else { beta * *v };
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(dead_code)] // filled in, never read: no kernel runs here
struct Tile {
    kc: usize,
    acs: usize,
    ldb: usize,
    panel_stride: usize,
    rows: usize,
    cols: usize,
    rsc: usize,
    csc: usize,
    alpha: f32,
    beta: f32,
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel(_: Isa, _: usize, _: &[*const f32; MR], _: *const f32, _: *mut f32, _: &Tile) {
    unreachable!("the blocked gemm runs only on x86-64 with AVX2 and FMA")
}

#[cfg(target_arch = "x86_64")]
use super::x86::Tile;

/// One tile: 6×16 with AVX2, 6 rows × `min(P512, panels_left)` panels with AVX-512.
#[cfg(target_arch = "x86_64")]
unsafe fn kernel(
    isa: Isa,
    panels_left: usize,
    a: &[*const f32; MR],
    b: *const f32,
    c: *mut f32,
    t: &Tile,
) {
    use super::x86;
    match (isa, P512.min(panels_left)) {
        (Isa::Avx2, _) => x86::avx2_6x16(a, b, c, t),
        (Isa::Avx512, 1) => x86::avx512::<MR, 1>(a, b, c, t),
        (Isa::Avx512, 2) => x86::avx512::<MR, 2>(a, b, c, t),
        (Isa::Avx512, 3) => x86::avx512::<MR, 3>(a, b, c, t),
        (Isa::Avx512, _) => x86::avx512::<MR, 4>(a, b, c, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instruction sets of this CPU, with a visible note for each one it lacks.
    fn isas_here() -> Vec<Isa> {
        let mut isas = Vec::new();
        for (isa, has) in [
            (Isa::Avx2, crate::simd::avx2_fma()),
            (Isa::Avx512, crate::simd::avx512()),
        ] {
            if has {
                isas.push(isa);
            } else {
                println!("SKIP: no {isa:?} on this CPU: its blocked gemm is not tested");
            }
        }
        isas
    }

    #[test]
    fn matches_naive_across_blocks_strides_and_edges() {
        for isa in isas_here() {
            matches_naive(isa);
        }
    }

    fn matches_naive(isa: Isa) {
        // Shapes crossing the KC and MC block edges and ragged MR/NR tiles.
        for (m, n, k) in [(1, 1, 1), (7, 17, 3), (121, 33, 300), (13, 80, 513)] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
                .collect();
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                // A stored m×k (rs=k, cs=1) or k×m (rs=1, cs=m); likewise B.
                let ao = if a_t {
                    Operand {
                        data: &a,
                        rs: 1,
                        cs: m,
                    }
                } else {
                    Operand {
                        data: &a,
                        rs: k,
                        cs: 1,
                    }
                };
                let bo = if b_t {
                    Operand {
                        data: &b,
                        rs: 1,
                        cs: k,
                    }
                } else {
                    Operand {
                        data: &b,
                        rs: n,
                        cs: 1,
                    }
                };
                let init: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32).collect();
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (2.0, -0.5)] {
                    let mut c = init.clone();
                    if beta == 0.0 {
                        c.fill(f32::NAN); // must not be read
                    }
                    sgemm(isa, m, n, k, alpha, ao, bo, beta, &mut c, n);
                    for i in 0..m {
                        for j in 0..n {
                            let dot: f64 = (0..k)
                                .map(|p| {
                                    let x = ao.data[i * ao.rs + p * ao.cs] as f64;
                                    x * bo.data[p * bo.rs + j * bo.cs] as f64
                                })
                                .sum();
                            let want = alpha as f64 * dot + beta as f64 * init[i * n + j] as f64;
                            let got = c[i * n + j] as f64;
                            assert!(
                                (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                                "{isa:?} {m}x{n}x{k} aT={a_t} bT={b_t} α={alpha} β={beta} [{i},{j}]: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
