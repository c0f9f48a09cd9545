//! The compute backend: the one place that knows how matrix products run.
//!
//! Layers and optimizers call only this trait, so another backend (a system BLAS, or a GPU
//! later) slots in without touching them. The CPU backend runs one of several sets of
//! [`Kernels`]: on x86-64 its own, AVX-512 or AVX2+FMA by what the CPU has (`gemm` for general
//! products, `packed` for the per-step products with a pre-packed recurrent weight); elsewhere
//! (ARM64) the `gemm` crate, which brings NEON kernels. Each product runs one call per thread,
//! large ones split across a private rayon pool by rows, so there is never a BLAS thread pool
//! competing with ours for the cores. Measured on an AVX-512 Xeon (`examples/gemm_speed`,
//! `examples/train_bench`): the own per-step kernel runs the recurrent products 2–3× as fast as
//! the `gemm` crate, which packs the weight on every call; on the large products the crate is
//! up to about 15 % ahead of the own AVX-512 GEMM (`Kernels::Mixed` combines the two), and whole
//! training steps with either are within a few per cent, so the own kernels stay the default.

use rayon::prelude::*;

mod external;
mod gemm;
mod packed;
mod select;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use packed::PackedWeight;
pub use select::Kernels;

/// Whether an operand is read as stored or transposed. Storage is row-major and tight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trans {
    N,
    T,
}

pub trait Backend: Send + Sync {
    /// `c[m×n] = alpha · op(a)[m×k] · op(b)[k×n] + beta · c`, all row-major and tight.
    /// `a` is stored `m×k` (or `k×m` when transposed), `b` is `k×n` (or `n×k`).
    #[allow(clippy::too_many_arguments)]
    fn sgemm(
        &self,
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
    );

    /// Prepares `b` for many products `a · op(b)` with [`Backend::gemm_packed`] (a recurrent
    /// weight used once per timestep). `op(b)` is `k×n`. The default keeps a plain copy.
    fn pack_b(&self, tb: Trans, b: &[f32], k: usize, n: usize, packed: &mut PackedWeight) {
        let _ = tb; // a plain copy keeps either layout; gemm_packed passes `tb` on to sgemm
        packed.resize(k * n);
        packed.as_mut_slice().copy_from_slice(&b[..k * n]);
    }

    /// `c[m×n] = a[m×k] · op(b) + beta·c` with `packed` from [`Backend::pack_b`] (same `tb`,
    /// `k`, `n`). Meant for small `m`; runs on the calling thread.
    #[allow(clippy::too_many_arguments)]
    fn gemm_packed(
        &self,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        packed: &PackedWeight,
        beta: f32,
        c: &mut [f32],
    ) {
        self.sgemm(Trans::N, tb, m, n, k, 1.0, a, packed.as_slice(), beta, c)
    }

    /// Number of worker threads the backend uses for a parallel loop.
    fn threads(&self) -> usize;

    /// The backend's own kernel for pre-packed per-step products, where it has one that threads
    /// may call on column ranges of a weight ([`StepKernel`]); `None` for the default.
    fn step_kernel(&self) -> Option<StepKernel> {
        None
    }

    /// How many workers [`Backend::run_team`] can run at once from here (1: no team).
    fn team_size(&self) -> usize {
        1
    }

    /// Runs `f(worker)` for every `worker` in `0..workers` (at most [`Backend::team_size`]),
    /// all at the same time, each on its own thread, so that they may wait for each other
    /// (a barrier per timestep). Returns when all have.
    fn run_team(&self, workers: usize, f: &(dyn Fn(usize) + Sync)) {
        assert!(workers <= 1, "this backend runs no team of {workers}");
        if workers == 1 {
            f(0)
        }
    }

    /// Runs `op` with the backend's threads as rayon's current pool, so the elementwise
    /// passes inside it (optimizer updates, clipping, zeroing gradients) use the same cores
    /// as the kernels instead of a second pool.
    fn install(&self, op: &mut (dyn FnMut() + Send)) {
        op()
    }

    /// Runs `f(chunk_index, offset, chunk)` over `data` split into pieces of
    /// `ceil(units / chunks) * unit` elements (`units = data.len() / unit`; the last piece is
    /// shorter), in parallel where the backend has threads. `offset` is the piece's start in
    /// `data`. Callers may rely on this exact split (the recurrent layers do).
    fn for_each_chunk(
        &self,
        data: &mut [f32],
        unit: usize,
        chunks: usize,
        f: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
    );
}

pub struct CpuBackend {
    pool: rayon::ThreadPool,
    threads: usize,
    kernels: Kernels,
}

impl CpuBackend {
    /// A backend with `threads` workers (0 = number of cores) and the process's kernels
    /// ([`Kernels::default_for_process`]: the fastest for this CPU, or `RNNLAB_GEMM`).
    pub fn new(threads: usize) -> Self {
        Self::with_kernels(threads, Kernels::default_for_process())
    }

    /// A backend with the given kernels, whatever `RNNLAB_GEMM` says (tests run the same
    /// checks through every set of kernels this way).
    ///
    /// # Panics
    /// If the CPU cannot run them ([`Kernels::available`]).
    pub fn with_kernels(threads: usize, kernels: Kernels) -> Self {
        assert!(kernels.available(), "this CPU cannot run {kernels:?}");
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rnnlab-cpu-{i}"))
            .build()
            .expect("failed to start the CPU thread pool");
        CpuBackend {
            pool,
            threads,
            kernels,
        }
    }

    /// The kernels this backend runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    pub fn single_thread() -> Self {
        Self::new(1)
    }

    /// Runs `f(rows, a_part, c_chunk)` for the rows of `c` (and of `op(a)`) in chunks of
    /// `rows_per`, one chunk per worker.
    #[allow(clippy::too_many_arguments)]
    fn rows_in_parallel(
        &self,
        ta: Trans,
        m: usize,
        n: usize,
        k: usize,
        rows_per: usize,
        a: &[f32],
        c: &mut [f32],
        f: &RowsOp<'_>,
    ) {
        self.pool.install(|| {
            c[..m * n]
                .par_chunks_mut(rows_per * n)
                .enumerate()
                .for_each(|(i, c_chunk)| {
                    let r0 = i * rows_per;
                    let a_part = match ta {
                        Trans::N => &a[r0 * k..],
                        Trans::T => &a[r0..],
                    };
                    f(c_chunk.len() / n, a_part, c_chunk)
                })
        });
    }
}

/// The per-step kernel of this crate ([`packed`]) for callers that split one product by
/// columns across their own threads: each packs its columns of the weight once
/// ([`StepKernel::pack_columns`]) and multiplies rows of `a` laid out by
/// [`StepKernel::pack_rows`] (block `(r0, rows)` of [`StepKernel::row_blocks`] holds
/// `a[r0 + r][kk]` at `r0·k + kk·rows + r`) with them. Every element of the result gets the
/// bits that [`Backend::gemm_packed`] gives it.
#[derive(Debug, Clone, Copy)]
pub struct StepKernel {
    isa: select::Isa,
}

impl StepKernel {
    /// Columns per panel: column ranges that start on a multiple of this are whole panels.
    pub const NR: usize = packed::NR;

    /// See [`packed::pack_column_ranges`].
    pub fn pack_columns(
        &self,
        tb: Trans,
        b: &[f32],
        k: usize,
        n: usize,
        ranges: &[std::ops::Range<usize>],
        out: &mut PackedWeight,
    ) {
        packed::pack_column_ranges(tb, b, k, n, ranges, out)
    }

    /// Floats of one packed column range of `cols` columns and depth `k`.
    pub fn packed_len(cols: usize, k: usize) -> usize {
        packed::packed_len(cols, k)
    }

    /// The row blocks of an `m`-row `a` in the kernel's layout.
    pub fn row_blocks(m: usize) -> impl Iterator<Item = (usize, usize)> {
        packed::row_blocks(m)
    }

    /// `a` (`m×k`, row-major) in the kernel's layout.
    pub fn pack_rows(m: usize, k: usize, a: &[f32], out: &mut Vec<f32>) {
        packed::pack_rows(m, k, a, out)
    }

    /// `c[m×cols]` (rows `ldc` apart) `= a·op(b)[:, range] + beta·c`, `rows_of_a` from
    /// [`StepKernel::pack_rows`], `panels` one range of [`StepKernel::pack_columns`].
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        m: usize,
        cols: usize,
        k: usize,
        rows_of_a: &[f32],
        panels: &[f32],
        beta: f32,
        c: &mut [f32],
        ldc: usize,
    ) {
        packed::gemm_panels(self.isa, m, cols, k, rows_of_a, panels, beta, c, ldc)
    }
}

/// `f(rows, a_part, c_chunk)`: one worker's share of a row-split product.
type RowsOp<'a> = dyn Fn(usize, &[f32], &mut [f32]) + Sync + 'a;

thread_local! {
    /// `op(b)` of a product whose rows the workers split, packed once for all of them.
    static SHARED_PACKED_B: std::cell::RefCell<PackedWeight> = std::cell::RefCell::new(PackedWeight::default());
}

/// One thread's product with `kernels`; `lda` is `a`'s leading dimension (a row chunk of a
/// transposed `a` keeps the whole matrix's).
#[allow(clippy::too_many_arguments)]
fn gemm_serial(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    lda: usize,
    kernels: Kernels,
) {
    if m == 0 || n == 0 {
        return;
    }
    let ldb = if tb == Trans::N { n } else { k };
    if let Some(isa) = kernels.blocked_isa() {
        let (a, b) = (
            gemm::Operand::stored(a, ta, lda),
            gemm::Operand::stored(b, tb, ldb),
        );
        return gemm::sgemm(isa, m, n, k, alpha, a, b, beta, c, n);
    }
    let run = match kernels {
        Kernels::GemmCrate | Kernels::Mixed => external::gemm_crate,
        _ => external::matrixmultiply,
    };
    run((ta, lda), (tb, ldb), m, n, k, alpha, a, b, beta, c)
}

/// Products smaller than this many multiply-adds are not worth splitting across threads.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

impl Backend for CpuBackend {
    fn sgemm(
        &self,
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
    ) {
        assert!(a.len() >= m * k, "sgemm: a holds {} < {}", a.len(), m * k);
        assert!(b.len() >= k * n, "sgemm: b holds {} < {}", b.len(), k * n);
        assert!(c.len() >= m * n, "sgemm: c holds {} < {}", c.len(), m * n);
        let lda = if ta == Trans::N { k } else { m };
        // A call from one of our own workers is already one thread's share of split work
        // (e.g. a batch partition of a recurrent layer): splitting it again would only add sync.
        let nested = self.pool.current_thread_index().is_some();
        if self.threads == 1 || nested || m < 2 * self.threads || m * n * k < PARALLEL_MIN_FLOPS {
            return gemm_serial(ta, tb, m, n, k, alpha, a, b, beta, c, lda, self.kernels);
        }
        // Split the rows of c (and of op(a)) across threads.
        let rows_per = m.div_ceil(self.threads);
        let ldb = if tb == Trans::N { n } else { k };
        if let Some(isa) = self.kernels.blocked_isa() {
            if gemm::packs_b(rows_per, n, gemm::Operand::stored(b, tb, ldb)) {
                return SHARED_PACKED_B.with_borrow_mut(|packed| {
                    self.pack_b(tb, b, k, n, packed);
                    let packed = packed.as_slice();
                    self.rows_in_parallel(ta, m, n, k, rows_per, a, c, &|rows, a, c| {
                        let a = gemm::Operand::stored(a, ta, lda);
                        gemm::sgemm_prepacked(isa, rows, n, k, alpha, a, packed, beta, c, n)
                    })
                });
            }
        }
        self.rows_in_parallel(ta, m, n, k, rows_per, a, c, &|rows, a_part, c_chunk| {
            gemm_serial(
                ta,
                tb,
                rows,
                n,
                k,
                alpha,
                a_part,
                b,
                beta,
                c_chunk,
                lda,
                self.kernels,
            )
        });
    }

    fn pack_b(&self, tb: Trans, b: &[f32], k: usize, n: usize, out: &mut PackedWeight) {
        assert!(b.len() >= k * n, "pack_b: b holds {} < {}", b.len(), k * n);
        if self.kernels.packed_isa().is_some() {
            let nested = self.pool.current_thread_index().is_some();
            if self.threads == 1 || nested {
                return packed::pack(tb, b, k, n, out);
            }
            // Every step repacks each W_hh: share the panels out rather than leave a core idle.
            out.resize(packed::packed_len(n, k));
            let panel = packed::NR * k;
            let per = n.div_ceil(packed::NR).div_ceil(self.threads) * panel;
            self.pool.install(|| {
                out.as_mut_slice()
                    .par_chunks_mut(per)
                    .enumerate()
                    .for_each(|(i, chunk)| {
                        let ld = if tb == Trans::N { n } else { k };
                        packed::pack_panels(tb, b, ld, k, n, i * per / panel, chunk)
                    })
            });
        } else {
            out.resize(k * n);
            out.as_mut_slice().copy_from_slice(&b[..k * n]);
        }
    }

    fn gemm_packed(
        &self,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        packed: &PackedWeight,
        beta: f32,
        c: &mut [f32],
    ) {
        let packed = packed.as_slice();
        match self.kernels.packed_isa() {
            Some(isa) => packed::gemm(isa, m, n, k, a, packed, beta, c),
            None => gemm_serial(
                Trans::N,
                tb,
                m,
                n,
                k,
                1.0,
                a,
                packed,
                beta,
                c,
                k,
                self.kernels,
            ),
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn step_kernel(&self) -> Option<StepKernel> {
        self.kernels.packed_isa().map(|isa| StepKernel { isa })
    }

    fn team_size(&self) -> usize {
        // From inside the pool a broadcast would wait on the thread that called it.
        match self.pool.current_thread_index() {
            Some(_) => 1,
            None => self.threads,
        }
    }

    fn run_team(&self, workers: usize, f: &(dyn Fn(usize) + Sync)) {
        assert!(
            workers <= self.team_size(),
            "a team of {workers} needs more threads"
        );
        if workers <= 1 {
            if workers == 1 {
                f(0)
            }
            return;
        }
        // One job on every thread of the pool: all run at once, none is queued behind another.
        self.pool.broadcast(|ctx| {
            if ctx.index() < workers {
                f(ctx.index())
            }
        });
    }

    fn install(&self, op: &mut (dyn FnMut() + Send)) {
        self.pool.install(op)
    }

    fn for_each_chunk(
        &self,
        data: &mut [f32],
        unit: usize,
        chunks: usize,
        f: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
    ) {
        let units = data.len() / unit.max(1);
        let per = units.div_ceil(chunks.max(1)).max(1) * unit.max(1);
        if self.threads == 1 || chunks <= 1 {
            for (i, chunk) in data.chunks_mut(per).enumerate() {
                f(i, i * per, chunk);
            }
            return;
        }
        self.pool.install(|| {
            data.par_chunks_mut(per)
                .enumerate()
                .for_each(|(i, chunk)| f(i, i * per, chunk))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(ta: Trans, tb: Trans, m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if ta == Trans::N {
                        a[i * k + p]
                    } else {
                        a[p * m + i]
                    };
                    let bv = if tb == Trans::N {
                        b[p * n + j]
                    } else {
                        b[j * k + p]
                    };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    /// `a` (`m·k` floats) and `b` (`k·n`) with small, exactly representable, varied values.
    fn test_matrices(m: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
        let a = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
            .collect();
        let b = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
            .collect();
        (a, b)
    }

    #[test]
    fn threads_sharing_one_packed_b_give_the_bits_of_one_thread() {
        // Deeper than one packed block (KC = 256) and with a ragged last panel, so the
        // shared packing is addressed by depth block and padded like the per-thread one.
        let (m, n, k) = (40, 70, 300);
        let (a, b) = test_matrices(m, n, k);
        assert!(
            gemm::packs_b(m / 2, n, gemm::Operand::stored(&b, Trans::N, n)),
            "the shared packing is what this tests"
        );
        for kernels in [Kernels::Avx2, Kernels::Avx512] {
            if !kernels.available() {
                println!("SKIP: this CPU cannot run the {} kernels", kernels.name());
                continue;
            }
            let one = CpuBackend::with_kernels(1, kernels);
            let two = CpuBackend::with_kernels(2, kernels);
            shared_packing_gives_the_bits_of_one_thread(&one, &two, (m, n, k), &a, &b);
        }
    }

    fn shared_packing_gives_the_bits_of_one_thread(
        one: &CpuBackend,
        two: &CpuBackend,
        (m, n, k): (usize, usize, usize),
        a: &[f32],
        b: &[f32],
    ) {
        for ta in [Trans::N, Trans::T] {
            for tb in [Trans::N, Trans::T] {
                let start: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32).collect();
                let (mut c1, mut c2) = (start.clone(), start);
                one.sgemm(ta, tb, m, n, k, 0.5, a, b, 0.25, &mut c1);
                two.sgemm(ta, tb, m, n, k, 0.5, a, b, 0.25, &mut c2);
                assert!(
                    c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{:?} {ta:?}{tb:?}",
                    one.kernels()
                );
            }
        }
    }

    #[test]
    fn sgemm_matches_naive_for_all_transposes_threads_and_kernels() {
        let (m, n, k) = (70, 33, 129);
        let (a, b) = test_matrices(m, n, k);
        for (kernels, threads) in Kernels::ALL.into_iter().flat_map(|k| [(k, 1), (k, 2)]) {
            if !kernels.available() {
                println!("SKIP: this CPU cannot run the {} kernels", kernels.name());
                continue;
            }
            let be = CpuBackend::with_kernels(threads, kernels);
            for ta in [Trans::N, Trans::T] {
                for tb in [Trans::N, Trans::T] {
                    let want = naive(ta, tb, m, n, k, &a, &b);
                    let mut c = vec![1.0; m * n];
                    be.sgemm(ta, tb, m, n, k, 1.0, &a, &b, 0.0, &mut c);
                    for (x, y) in c.iter().zip(&want) {
                        assert!(
                            (x - y).abs() < 1e-3,
                            "{kernels:?} {ta:?}{tb:?} t={threads}: {x} vs {y}"
                        );
                    }
                    let mut acc = want.clone();
                    be.sgemm(ta, tb, m, n, k, 1.0, &a, &b, 1.0, &mut acc);
                    for (x, y) in acc.iter().zip(&want) {
                        assert!((x - 2.0 * y).abs() < 2e-3);
                    }
                }
            }
        }
    }
}
