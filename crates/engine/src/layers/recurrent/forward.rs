//! Forward pass: each backend thread runs the whole stack over the whole sequence for its
//! partition of the batch ([`Split::Batch`]), or the whole batch is one partition and a team of
//! workers splits every step by hidden units ([`Split::Units`], see `team.rs`).

use super::cache::{
    layer_bufs, layer_offset, layer_with_below, partition_rows, per_row, split_partition,
    StackCache,
};
use super::cells;
use super::team::Split;
use super::units;
use super::{CellKind, Dims, LayerParams, RecurrentState};
use crate::backend::{Backend, PackedWeight, StepKernel, Trans};
use crate::layers::dropout::DropoutMask;
use crate::ParamStore;

/// Read-only inputs shared by all partitions.
pub(super) struct Shared<'a> {
    pub be: &'a dyn Backend,
    pub d: &'a Dims,
    pub params: &'a ParamStore,
    pub ids: &'a [LayerParams],
    pub x: &'a [f32],
    pub t: usize,
    pub b: usize,
    pub init: &'a RecurrentState,
    pub masks: &'a [DropoutMask],
    pub bias: &'a [f32],
    pub bias_hn: &'a [f32],
    pub packed: &'a [PackedWeight],
    /// Layer 0's input as `(ids, table·W_ih0ᵀ)` when it is a table lookup (then `x` is empty).
    pub lookup: Option<(&'a [u32], &'a [f32])>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    be: &dyn Backend,
    d: &Dims,
    params: &ParamStore,
    ids: &[LayerParams],
    x: &[f32],
    t: usize,
    b: usize,
    init: &RecurrentState,
    cache: &mut StackCache,
) {
    let row_len = per_row(d, t);
    let (h, gh) = (d.hidden, d.gh());
    let parts = cache.partitions();
    // The unit split's workers pack their own columns of W_hh.
    let team = (cache.split == Split::Units)
        .then(|| be.step_kernel())
        .flatten();
    for (l, packed) in cache
        .packed
        .iter_mut()
        .enumerate()
        .filter(|_| team.is_none())
    {
        be.pack_b(Trans::T, params.value(ids[l].w_hh), h, gh, packed);
    }
    let lookup = &mut cache.lookup;
    if lookup.is_active() {
        // Every row of the table through W_ih0 once; the timesteps gather from it.
        lookup.projected.resize(lookup.vocab * gh, 0.0);
        be.sgemm(
            Trans::N,
            Trans::T,
            lookup.vocab,
            gh,
            d.input,
            1.0,
            &lookup.table,
            params.value(ids[0].w_ih),
            0.0,
            &mut lookup.projected,
        );
    }
    let shared = Shared {
        be,
        d,
        params,
        ids,
        x,
        t,
        b,
        init,
        masks: &cache.masks,
        bias: &cache.bias,
        bias_hn: &cache.bias_hn,
        packed: &cache.packed,
        lookup: (cache.lookup.is_active())
            .then_some((&cache.lookup.ids[..], &cache.lookup.projected[..])),
    };
    match team {
        // One partition of all rows, from this thread: the products around the recurrence
        // split across the backend's threads, the recurrence across the team.
        Some(kernel) => forward_partition(&shared, 0, b, &mut cache.arena, Some(kernel)),
        None => be.for_each_chunk(&mut cache.arena, row_len, parts, &|_, offset, part| {
            forward_partition(&shared, offset / row_len, part.len() / row_len, part, None)
        }),
    }
    gather_output(d, t, b, parts, cache);
}

/// The stack over all timesteps for batch rows `b0..b0 + rows`; with `team`, every step split
/// by hidden units across the backend's team (`units.rs`).
fn forward_partition(
    s: &Shared,
    b0: usize,
    rows: usize,
    part: &mut [f32],
    team: Option<StepKernel>,
) {
    let (d, t) = (s.d, s.t);
    let (h, gh) = (d.hidden, d.gh());
    let (scratch, region) = split_partition(d, t, rows, part);
    for l in 0..d.layers {
        let (below_h, mut buf) = layer_with_below(d, t, rows, l, &mut *region);
        let w_hh = &s.packed[l];
        let bias = &s.bias[l * gh..(l + 1) * gh];
        let bias_hn = &s.bias_hn[l * h..(l + 1) * h];

        buf.h[..rows * h].copy_from_slice(&s.init.h[l][b0 * h..(b0 + rows) * h]);
        if d.kind == CellKind::Lstm {
            buf.c[..rows * h].copy_from_slice(&s.init.c[l][b0 * h..(b0 + rows) * h]);
        }
        match (l, s.lookup) {
            (0, Some((ids, projected))) => {
                gather_projections(s, b0, rows, ids, projected, buf.gates)
            }
            _ => project_inputs(s, l, b0, rows, below_h, buf.x, buf.gates),
        }

        if let Some(kernel) = team {
            units::forward_steps(s, l, kernel, &mut buf);
            continue;
        }
        // The recurrence: one small GEMM and one pass of gate math per step.
        for step in 0..t {
            let (past, future) = buf.h.split_at_mut((step + 1) * rows * h);
            let h_prev = &past[step * rows * h..];
            let h_out = &mut future[..rows * h];
            s.be.gemm_packed(Trans::T, rows, gh, h, h_prev, w_hh, 0.0, scratch.hh);
            let gates = &mut buf.gates[step * rows * gh..(step + 1) * rows * gh];
            match d.kind {
                CellKind::RnnTanh | CellKind::RnnRelu => {
                    let relu = d.kind == CellKind::RnnRelu;
                    cells::rnn_forward(relu, h, gates, scratch.hh, bias, h_out)
                }
                CellKind::Lstm => {
                    let (c_past, c_future) = buf.c.split_at_mut((step + 1) * rows * h);
                    let c_prev = &c_past[step * rows * h..];
                    let c_out = &mut c_future[..rows * h];
                    cells::lstm_forward(h, gates, scratch.hh, bias, c_prev, c_out, h_out)
                }
                CellKind::Gru => {
                    let hn = &mut buf.hn[step * rows * h..(step + 1) * rows * h];
                    cells::gru_forward(h, gates, scratch.hh, bias, bias_hn, h_prev, hn, h_out)
                }
            }
        }
    }
}

/// Layer `l`'s input projections of all timesteps for batch rows `b0..b0 + rows`: the layer's
/// input (our rows of x, or the layer below's output through the dropout mask) goes into `x`,
/// then ONE GEMM writes `x·W_ihᵀ` into `gates`.
#[allow(clippy::too_many_arguments)]
fn project_inputs(
    s: &Shared,
    l: usize,
    b0: usize,
    rows: usize,
    below_h: &[f32],
    x: &mut [f32],
    gates: &mut [f32],
) {
    let (t, b, h, n_in) = (s.t, s.b, s.d.hidden, s.d.layer_input(l));
    for step in 0..t {
        let dst = &mut x[step * rows * n_in..(step + 1) * rows * n_in];
        let global = (step * b + b0) * n_in;
        if l == 0 {
            dst.copy_from_slice(&s.x[global..global + rows * n_in]);
            continue;
        }
        let src = &below_h[(step + 1) * rows * h..(step + 2) * rows * h];
        match s.masks[l - 1].slice(global, rows * h) {
            Some(mask) => {
                for ((o, v), m) in dst.iter_mut().zip(src).zip(mask) {
                    *o = v * m;
                }
            }
            None => dst.copy_from_slice(src),
        }
    }
    let w_ih = s.params.value(s.ids[l].w_ih);
    s.be.sgemm(
        Trans::N,
        Trans::T,
        t * rows,
        s.d.gh(),
        n_in,
        1.0,
        x,
        w_ih,
        0.0,
        gates,
    );
}

/// Layer 0's input projections when its input is a table lookup: row `(step, r)` is row
/// `ids[step·B + b0 + r]` of the projected table.
fn gather_projections(
    s: &Shared,
    b0: usize,
    rows: usize,
    ids: &[u32],
    projected: &[f32],
    gates: &mut [f32],
) {
    let gh = s.d.gh();
    for (step, block) in gates.chunks_exact_mut(rows * gh).enumerate() {
        let ids = &ids[step * s.b + b0..][..rows];
        for (row, &id) in block.chunks_exact_mut(gh).zip(ids) {
            row.copy_from_slice(&projected[id as usize * gh..][..gh]);
        }
    }
}

/// Copies the top layer's output of every partition into the global `[T, B, H]` layout.
fn gather_output(d: &Dims, t: usize, b: usize, threads: usize, cache: &mut StackCache) {
    let row_len = per_row(d, t);
    let h = d.hidden;
    let top = d.layers - 1;
    for (b0, rows) in partition_rows(b, threads) {
        let part = &mut cache.arena[b0 * row_len..(b0 + rows) * row_len];
        let (_, region) = split_partition(d, t, rows, part);
        let buf = layer_bufs(
            d,
            t,
            rows,
            top,
            &mut region[layer_offset(d, t, rows, top)..],
        );
        for step in 0..t {
            let src = &buf.h[(step + 1) * rows * h..(step + 2) * rows * h];
            let dst = (step * b + b0) * h;
            cache.out[dst..dst + rows * h].copy_from_slice(src);
        }
    }
}

/// The final `h` (and `c`) of every layer, in the global `[B*H]` layout.
pub(super) fn final_state(d: &Dims, t: usize, b: usize, cache: &mut StackCache) -> RecurrentState {
    let (h, row_len) = (d.hidden, per_row(d, t));
    let threads = cache.shape.map_or(1, |s| s.3);
    let lstm = d.kind == CellKind::Lstm;
    let mut state = RecurrentState {
        h: vec![vec![0.0; b * h]; d.layers],
        c: if lstm {
            vec![vec![0.0; b * h]; d.layers]
        } else {
            Vec::new()
        },
    };
    for (b0, rows) in partition_rows(b, threads) {
        let part = &mut cache.arena[b0 * row_len..(b0 + rows) * row_len];
        let (_, region) = split_partition(d, t, rows, part);
        for l in 0..d.layers {
            let buf = layer_bufs(d, t, rows, l, &mut region[layer_offset(d, t, rows, l)..]);
            let last = t * rows * h..(t + 1) * rows * h;
            state.h[l][b0 * h..(b0 + rows) * h].copy_from_slice(&buf.h[last.clone()]);
            if lstm {
                state.c[l][b0 * h..(b0 + rows) * h].copy_from_slice(&buf.c[last]);
            }
        }
    }
    state
}
