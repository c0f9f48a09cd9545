//! Products through other crates' kernels, on one thread: `matrixmultiply` (portable) and the
//! `gemm` crate (its own AVX-512 / AVX2 / NEON kernels, picked at run time). The caller has
//! checked the operands' extents.

use super::Trans;

/// Strides (row, column) of an operand stored row-major with leading dimension `ld`.
fn strides(t: Trans, ld: usize) -> (isize, isize) {
    match t {
        Trans::N => (ld as isize, 1),
        Trans::T => (1, ld as isize),
    }
}

/// `C = alpha·op(A)·op(B) + beta·C` with `matrixmultiply`; `c` row-major with stride `n`.
#[allow(clippy::too_many_arguments)]
pub fn matrixmultiply(
    (ta, lda): (Trans, usize),
    (tb, ldb): (Trans, usize),
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    let (rsa, csa) = strides(ta, lda);
    let (rsb, csb) = strides(tb, ldb);
    // SAFETY: the caller checked that the slices hold op(a) m×k, op(b) k×n and c m×n.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The same product with the `gemm` crate, without its threads (ours split the work). With
/// `beta == 0` the old contents of `c` are never read.
#[allow(clippy::too_many_arguments)]
pub fn gemm_crate(
    (ta, lda): (Trans, usize),
    (tb, ldb): (Trans, usize),
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for v in &mut c[..(m - 1) * n + n] {
            *v = if beta == 0.0 { 0.0 } else { beta * *v };
        }
        return;
    }
    let (rsa, csa) = strides(ta, lda);
    let (rsb, csb) = strides(tb, ldb);
    // SAFETY: the caller checked that the slices hold op(a) m×k, op(b) k×n and c m×n. The
    // crate computes `dst = alpha·dst + beta·lhs·rhs` (its names), reading dst only when asked.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            beta != 0.0,
            a.as_ptr(),
            csa,
            rsa,
            b.as_ptr(),
            csb,
            rsb,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
