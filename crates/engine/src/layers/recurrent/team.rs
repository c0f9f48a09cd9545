//! Splitting each timestep across threads by hidden units (the "unit split"), for large
//! recurrent weights at several threads.
//!
//! The batch split (one partition of batch rows per thread, see `cache.rs`) needs no
//! synchronisation, but every thread re-reads the whole `W_hh` (`G·H × H`, 4 MiB for an LSTM
//! of 512) every step for its few rows. The unit split instead gives worker `w` of `W` a range
//! of hidden units `j0..j1` (whole [`StepKernel::NR`]-column panels) and, in every gate block,
//! the columns of those units:
//!
//! - forward, step `t`: `hh[:, g·H + j0..g·H + j1] = h_{t-1}[B, H] · W_hhᵀ[:, those]` for all
//!   `B` rows, then the cell math of units `j0..j1` (the gates of a unit stay on one thread),
//!   writing `h_t[:, j0..j1]` and its part of the kernel's row layout of `h_t`;
//! - backward, step `t`: the cell backward of units `j0..j1` (`dGates` of their gate columns),
//!   written also into the row layout of `dGates_t`; then, after the barrier,
//!   `dh_{t-1}[:, j0..j1] = dGates_t[B, G·H] · W_hh[:, j0..j1]`.
//!
//! One barrier per step separates the writes of step `t` from the reads of step `t+1` (`t-1`
//! in backward); the row layouts are double-buffered by the parity of the step, so a fast
//! worker writing step `t+1` never meets a slow one still reading step `t`. Each worker packs
//! its own columns of `W_hh` once per layer and pass (a `1/W` share, which stays in its cache).
//!
//! Every element is computed by the same kernel with the same order of additions as in the
//! batch split, and the products around the recurrence (input projections, weight gradients)
//! are split by the backend's row rule, so the unit split gives the bits of one thread at any
//! number of workers.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::Dims;
use crate::backend::{Backend, StepKernel};

/// How a stack's timesteps are split across the backend's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// One partition of batch rows per thread, no synchronisation per step.
    #[default]
    Batch,
    /// Hidden units per worker, one barrier per step (see the module docs).
    Units,
}

/// Below this many `W_hh` floats (256 KiB) the weight stays in a core's cache under the batch
/// split too, and the barriers would only cost.
const UNIT_SPLIT_MIN_WEIGHT: usize = 1 << 16;

/// Threads from which the unit split is taken. Measured on the shared 2-core AVX-512 machine
/// (`train_bench`, 2 threads pinned, two rounds of 3 alternating runs, medians; the machine
/// is noisy, ±30 % run to run): the unit split was no faster there, units vs batch tok/s
/// b LSTM 2×512 4782 vs 5428 and 4703 vs 4865, c LSTM 1×1024 B=64 4177 vs 4223 and 3873 vs
/// 3610, d GRU 2×512 6653 vs 7319 and 6239 vs 6162, so 2 threads keep the batch split. From
/// 4 threads each thread of the batch split has ≤ B/4 rows and still streams all of `W_hh`
/// every step, which the unit split removes; that is not measured yet (`bench/quiet_cpu.sh`
/// runs both splits on the 16-core machine: move this threshold by what it finds).
const UNIT_SPLIT_MIN_THREADS: usize = 4;

/// The split a forward of this shape takes: the one a test forces, else `RNNLAB_SPLIT=batch|
/// units|rule` where set, else the batch split. The unit split stays opt-in until the quiet
/// 16-core machine has measured it against the batch split (`bench/quiet_cpu.sh` runs all
/// three): its per-step barrier could cost a lot where threads get preempted, and no figure
/// shows it faster yet. Where the backend has no per-step kernel, or too few units for two
/// workers, it is always the batch split.
pub(super) fn choose(be: &dyn Backend, d: &Dims) -> Split {
    let workers = team_workers(be, d.hidden);
    if be.step_kernel().is_none() || workers < 2 {
        return Split::Batch;
    }
    #[cfg(test)]
    if let Some(s) = FORCED.get() {
        return s;
    }
    match env_split() {
        Some(Choice::Batch) | None => Split::Batch,
        Some(Choice::Units) => Split::Units,
        Some(Choice::Rule) => rule(be, d),
    }
}

/// The rule `RNNLAB_SPLIT=rule` applies (the candidate default): the unit split where the
/// backend has the per-step kernel and a team of at least 2 workers that each own at least
/// one panel of units, at `UNIT_SPLIT_MIN_THREADS` threads or more, and the batch split would
/// re-read at least `UNIT_SPLIT_MIN_WEIGHT` floats (256 KiB) of `W_hh` per thread and step.
/// One thread always takes the batch split (the same work without barriers).
pub(super) fn rule(be: &dyn Backend, d: &Dims) -> Split {
    let workers = team_workers(be, d.hidden);
    if be.step_kernel().is_none() || workers < 2 {
        return Split::Batch;
    }
    let threads = be.team_size();
    if threads >= UNIT_SPLIT_MIN_THREADS && d.gh() * d.hidden >= UNIT_SPLIT_MIN_WEIGHT {
        Split::Units
    } else {
        Split::Batch
    }
}

#[cfg(test)]
thread_local! {
    /// The split the stacks of this test thread take where both are possible.
    pub(super) static FORCED: std::cell::Cell<Option<Split>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every forward of this thread taking `split` where both are possible.
#[cfg(test)]
pub(super) fn forced<R>(split: Split, f: impl FnOnce() -> R) -> R {
    let before = FORCED.replace(Some(split));
    let r = f();
    FORCED.set(before);
    r
}

/// What `RNNLAB_SPLIT` asks for.
#[derive(Debug, Clone, Copy)]
enum Choice {
    Batch,
    Units,
    Rule,
}

fn env_split() -> Option<Choice> {
    static SPLIT: OnceLock<Option<Choice>> = OnceLock::new();
    *SPLIT.get_or_init(|| match std::env::var("RNNLAB_SPLIT").as_deref() {
        Ok("batch") => Some(Choice::Batch),
        Ok("units") => Some(Choice::Units),
        Ok("rule") => Some(Choice::Rule),
        Ok(other) => {
            eprintln!("rnnlab: RNNLAB_SPLIT={other} is not batch, units or rule; using batch");
            None
        }
        Err(_) => None,
    })
}

/// Workers of a unit split: one per thread of the team, at most one per panel of units.
pub(super) fn team_workers(be: &dyn Backend, hidden: usize) -> usize {
    be.team_size().min(hidden.div_ceil(StepKernel::NR))
}

/// Hidden units of worker `w` of `workers`: whole panels, as even as possible.
pub(super) fn units(hidden: usize, workers: usize, w: usize) -> Range<usize> {
    let panels = hidden.div_ceil(StepKernel::NR);
    let at = |i: usize| (i * panels / workers * StepKernel::NR).min(hidden);
    at(w)..at(w + 1)
}

/// A sense-counting barrier for a fixed team: spins briefly (a step of a large layer takes
/// tens of microseconds, a futex wake about as long), then yields, so oversubscribed threads
/// still progress. A worker that panics poisons it, and the others panic instead of waiting.
pub(super) struct StepBarrier {
    n: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl StepBarrier {
    pub fn new(n: usize) -> Self {
        StepBarrier {
            n,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            // Reset before release: the next round's arrivals follow the generation change.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "another worker of the step team panicked"
            );
            if spins < 4096 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Poisons the barrier if the worker holding the guard unwinds.
    pub fn guard(&self) -> PoisonOnPanic<'_> {
        PoisonOnPanic(self)
    }
}

pub(super) struct PoisonOnPanic<'a>(&'a StepBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// A buffer that the workers of a team read and write in disjoint pieces between barriers.
/// Safe Rust cannot say "worker `w` owns columns `j0..j1` of every row", so each access is
/// `unsafe` with that contract: while any worker holds a `&mut` from [`Shared::part_mut`],
/// nobody else touches those floats, and a `&` from [`Shared::part`] is only taken of floats
/// that no one writes until the next barrier.
#[derive(Clone, Copy)]
pub(super) struct Shared<'a> {
    ptr: *mut f32,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the workers uphold the disjointness contract above; the floats are plain data.
unsafe impl Send for Shared<'_> {}
// SAFETY: as above.
unsafe impl Sync for Shared<'_> {}

impl<'a> Shared<'a> {
    pub fn new(data: &'a mut [f32]) -> Self {
        Shared {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// # Safety
    /// Nobody writes `at..at + n` while the slice lives (see the type's contract).
    pub unsafe fn part(&self, at: usize, n: usize) -> &'a [f32] {
        assert!(
            at + n <= self.len,
            "shared part {at}+{n} outside {}",
            self.len
        );
        std::slice::from_raw_parts(self.ptr.add(at), n)
    }

    /// # Safety
    /// Nobody else reads or writes `at..at + n` while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn part_mut(&self, at: usize, n: usize) -> &'a mut [f32] {
        assert!(
            at + n <= self.len,
            "shared part {at}+{n} outside {}",
            self.len
        );
        std::slice::from_raw_parts_mut(self.ptr.add(at), n)
    }

    /// Writes `v` at `at` (a single float of the row layout).
    ///
    /// # Safety
    /// Nobody else reads or writes `at` until the next barrier.
    pub unsafe fn set(&self, at: usize, v: f32) {
        debug_assert!(at < self.len, "shared index {at} outside {}", self.len);
        *self.ptr.add(at) = v;
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

/// Where row `r` of an `m`-row matrix sits in the kernel's row layout
/// ([`StepKernel::pack_rows`]): element `(r, kk)` of a `k`-column matrix is at
/// `first·k + kk·stride + r - first`, with `(first, stride)` its row block. One entry per row.
pub(super) fn row_slots(m: usize) -> Vec<(usize, usize)> {
    StepKernel::row_blocks(m)
        .flat_map(|(r0, rows)| std::iter::repeat_n((r0, rows), rows))
        .collect()
}

/// Writes `v` as columns `col0..col0 + v.len()` of row `r` of a `k`-column matrix in the
/// kernel's row layout `out` (`slot` = `row_slots(m)[r]`).
///
/// # Safety
/// The caller owns those elements of `out` until the next barrier.
pub(super) unsafe fn scatter_row(
    out: Shared,
    k: usize,
    (r, slot): (usize, (usize, usize)),
    col0: usize,
    v: &[f32],
) {
    let (first, stride) = slot;
    assert!(
        first * k + (col0 + v.len()) * stride <= out.len(),
        "row layout too short"
    );
    let base = first * k + col0 * stride + r - first;
    for (c, &x) in v.iter().enumerate() {
        out.set(base + c * stride, x);
    }
}

thread_local! {
    /// Each worker's columns of `W_hh` and its scratch, reused from call to call.
    pub(super) static WORKER: std::cell::RefCell<WorkerBufs> = Default::default();
}

/// A worker's own memory: its packed columns of `W_hh` and `[B, G·w]` / `[B, w]` scratch.
#[derive(Default)]
pub(super) struct WorkerBufs {
    pub packed: crate::backend::PackedWeight,
    pub hh: Vec<f32>,
    pub dh: Vec<f32>,
    pub dh_carry: Vec<f32>,
    pub dc_carry: Vec<f32>,
}
