//! Backward pass. First every thread runs backward-through-time for its partition, top layer
//! to bottom, leaving `dGates` in place of the gates; then, after the join, one GEMM per
//! weight matrix and partition accumulates the weight gradients over all timesteps.

use super::cache::{
    layer_bufs, layer_offset, partition_rows, per_row, split_partition, LayerBufs, Scratch,
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
    pub t: usize,
    pub b: usize,
    pub d_out: &'a [f32],
    pub d_final: Option<&'a RecurrentState>,
    pub masks: &'a [DropoutMask],
    pub packed: &'a [PackedWeight],
    /// Layer 0's input was a table lookup: its gradient goes to the table (see
    /// [`table_grad`]), not to per-token rows.
    pub lookup: bool,
}

/// Which of the two `d_in` scratch buffers layer `l` writes its input gradient into; the layer
/// below reads it from there.
fn d_in_slot(d: &Dims, layer: usize) -> usize {
    (d.layers - 1 - layer) % 2
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    be: &dyn Backend,
    d: &Dims,
    params: &ParamStore,
    ids: &[LayerParams],
    t: usize,
    b: usize,
    d_out: &[f32],
    d_final: Option<&RecurrentState>,
    cache: &mut StackCache,
) {
    let row_len = per_row(d, t);
    let parts = cache.partitions();
    let team = (cache.split == Split::Units)
        .then(|| be.step_kernel())
        .flatten();
    for (l, packed) in cache
        .packed
        .iter_mut()
        .enumerate()
        .filter(|_| team.is_none())
    {
        be.pack_b(
            Trans::N,
            params.value(ids[l].w_hh),
            d.gh(),
            d.hidden,
            packed,
        );
    }
    let shared = Shared {
        be,
        d,
        params,
        ids,
        t,
        b,
        d_out,
        d_final,
        masks: &cache.masks,
        packed: &cache.packed,
        lookup: cache.lookup.is_active(),
    };
    match team {
        Some(kernel) => backward_partition(&shared, 0, b, &mut cache.arena, Some(kernel)),
        None => be.for_each_chunk(&mut cache.arena, row_len, parts, &|_, offset, part| {
            backward_partition(&shared, offset / row_len, part.len() / row_len, part, None)
        }),
    }
}

/// Backward through time for batch rows `b0..b0 + rows`, all layers; with `team`, every step
/// split by hidden units across the backend's team (`units.rs`).
fn backward_partition(
    s: &Shared,
    b0: usize,
    rows: usize,
    part: &mut [f32],
    team: Option<StepKernel>,
) {
    let (d, t, b) = (s.d, s.t, s.b);
    let (h, gh) = (d.hidden, d.gh());
    let (scratch, region) = split_partition(d, t, rows, part);
    let Scratch {
        hh,
        dh,
        dh_carry,
        dc_carry,
        d_in: [d_in_0, d_in_1],
    } = scratch;
    for l in (0..d.layers).rev() {
        let n_in = d.layer_input(l);
        let mut buf = layer_bufs(d, t, rows, l, &mut region[layer_offset(d, t, rows, l)..]);
        let w_ih = s.params.value(s.ids[l].w_ih);
        let w_hh = &s.packed[l];
        // The layer above wrote the gradient of our output into `from_above`.
        let (from_above, d_input): (&[f32], &mut [f32]) = if d_in_slot(d, l) == 0 {
            (&*d_in_1, &mut *d_in_0)
        } else {
            (&*d_in_0, &mut *d_in_1)
        };

        if let Some(kernel) = team {
            units::backward_steps(s, l, kernel, from_above, &mut buf);
        } else {
            let scratch = [&mut *hh, &mut *dh, &mut *dh_carry, &mut *dc_carry];
            steps(s, l, (b0, rows), w_hh, scratch, from_above, &mut buf);
        }

        if l == 0 && s.lookup {
            continue;
        }
        // The gradient w.r.t. this layer's input, all timesteps in one GEMM.
        let d_input = &mut d_input[..t * rows * n_in];
        s.be.sgemm(
            Trans::N,
            Trans::N,
            t * rows,
            n_in,
            gh,
            1.0,
            buf.gates,
            w_ih,
            0.0,
            d_input,
        );
        // Through the dropout mask between this layer and the one below.
        if l > 0 {
            for step in 0..t {
                let block = &mut d_input[step * rows * h..(step + 1) * rows * h];
                if let Some(mask) = s.masks[l - 1].slice((step * b + b0) * h, rows * h) {
                    for (g, m) in block.iter_mut().zip(mask) {
                        *g *= m;
                    }
                }
            }
        }
    }
}

/// Backward through time of layer `l` for batch rows `b0..b0 + rows` on this thread: per step
/// the cell backward and one product for the gradient carried to `h_{t-1}`.
fn steps(
    s: &Shared,
    l: usize,
    (b0, rows): (usize, usize),
    w_hh: &PackedWeight,
    scratch: [&mut [f32]; 4],
    from_above: &[f32],
    buf: &mut LayerBufs,
) {
    let (d, t, b) = (s.d, s.t, s.b);
    let (h, gh) = (d.hidden, d.gh());
    let [hh, dh, dh_carry, dc_carry] = scratch;
    let rows_h = b0 * h..(b0 + rows) * h;
    match s.d_final {
        Some(f) => dh_carry.copy_from_slice(&f.h[l][rows_h.clone()]),
        None => dh_carry.fill(0.0),
    }
    if d.kind == CellKind::Lstm {
        match s.d_final {
            Some(f) => dc_carry.copy_from_slice(&f.c[l][rows_h]),
            None => dc_carry.fill(0.0),
        }
    }

    for step in (0..t).rev() {
        let d_here = if l == d.layers - 1 {
            let at = (step * b + b0) * h;
            &s.d_out[at..at + rows * h]
        } else {
            &from_above[step * rows * h..(step + 1) * rows * h]
        };
        for ((dh, g), c) in dh.iter_mut().zip(d_here).zip(&*dh_carry) {
            *dh = g + c;
        }
        let now = (step + 1) * rows * h..(step + 2) * rows * h;
        let before = step * rows * h..(step + 1) * rows * h;
        let gates = &mut buf.gates[step * rows * gh..(step + 1) * rows * gh];
        match d.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                let relu = d.kind == CellKind::RnnRelu;
                cells::rnn_backward(relu, dh, &buf.h[now], gates);
                let dh_prev = &mut *dh_carry;
                s.be.gemm_packed(Trans::N, rows, h, gh, gates, w_hh, 0.0, dh_prev);
            }
            CellKind::Lstm => {
                let (c_prev, c) = (&buf.c[before], &buf.c[now]);
                cells::lstm_backward(h, dh, dc_carry, gates, c_prev, c);
                let dh_prev = &mut *dh_carry;
                s.be.gemm_packed(Trans::N, rows, h, gh, gates, w_hh, 0.0, dh_prev);
            }
            CellKind::Gru => {
                let hn = &mut buf.hn[step * rows * h..(step + 1) * rows * h];
                let (h_prev, d_hh) = (&buf.h[before], &mut *hh);
                let direct = &mut *dh_carry;
                cells::gru_backward(h, dh, gates, hn, h_prev, d_hh, direct);
                s.be.gemm_packed(Trans::N, rows, h, gh, d_hh, w_hh, 1.0, direct);
            }
        }
    }
    buf.dh0.copy_from_slice(dh_carry);
    buf.dc0.copy_from_slice(&dc_carry[..buf.dc0.len()]);
}

crate::simd::avx2_or_baseline! {
    /// `out[j] += Σ_rows m[row, j]` for a row-major `m` with `out.len()` columns.
    fn add_column_sums(m: &[f32], out: &mut [f32]) {
        for row in m.chunks_exact(out.len()) {
            for (o, v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    }
}

/// Adds the bias gradients of one partition: `b_ih` gets the column sums of `dGates`, `b_hh`
/// the same except the GRU's candidate block, which takes those of `dn*r` (in `hn`). The two
/// biases are adjacent in the store, so each is one piece of `both` for a backend thread.
fn add_bias_grads(be: &dyn Backend, d: &Dims, gates: &[f32], hn: &[f32], both: &mut [f32]) {
    let (h, gh) = (d.hidden, d.gh());
    let gru = d.kind == CellKind::Gru;
    be.for_each_chunk(both, gh, 2, &|_, offset, chunk| {
        for (piece, out) in chunk.chunks_exact_mut(gh).enumerate() {
            let is_hh = offset / gh + piece == 1;
            if is_hh && gru {
                for (g_row, hn_row) in gates.chunks_exact(gh).zip(hn.chunks_exact(h)) {
                    let (out_rz, out_n) = out.split_at_mut(2 * h);
                    for (o, v) in out_rz.iter_mut().zip(&g_row[..2 * h]) {
                        *o += v;
                    }
                    for (o, v) in out_n.iter_mut().zip(hn_row) {
                        *o += v;
                    }
                }
            } else {
                add_column_sums(gates, out);
            }
        }
    });
}

/// Weight and bias gradients from the `dGates` that [`run`] left in the cache: per layer and
/// partition one GEMM for `dW_ih = dGatesᵀ·X` and one for `dW_hh = dGatesᵀ·H_prev`.
pub(super) fn weight_grads(
    be: &dyn Backend,
    d: &Dims,
    params: &mut ParamStore,
    ids: &[LayerParams],
    t: usize,
    b: usize,
    cache: &mut StackCache,
) {
    let (h, gh, row_len) = (d.hidden, d.gh(), per_row(d, t));
    let threads = cache.shape.map_or(1, |s| s.3);
    let lookup = &mut cache.lookup;
    if lookup.is_active() {
        // Becomes dGates summed per id, the gradient of the projected table.
        lookup.projected.fill(0.0);
    }
    for (l, p) in ids.iter().enumerate() {
        let n_in = d.layer_input(l);
        for (b0, rows) in partition_rows(b, threads) {
            let part = &mut cache.arena[b0 * row_len..(b0 + rows) * row_len];
            let (_, region) = split_partition(d, t, rows, part);
            let buf = layer_bufs(d, t, rows, l, &mut region[layer_offset(d, t, rows, l)..]);
            let n = t * rows;
            if l == 0 && lookup.is_active() {
                add_rows_by_id(
                    buf.gates,
                    gh,
                    (b0, rows, b),
                    &lookup.ids,
                    &mut lookup.projected,
                );
            } else {
                let g_w_ih = params.grad_mut(p.w_ih);
                be.sgemm(
                    Trans::T,
                    Trans::N,
                    gh,
                    n_in,
                    n,
                    1.0,
                    buf.gates,
                    buf.x,
                    1.0,
                    g_w_ih,
                );
            }
            let biases = params.range(p.b_ih).start..params.range(p.b_hh).end;
            debug_assert_eq!(
                biases.len(),
                2 * gh,
                "b_ih and b_hh are registered together"
            );
            add_bias_grads(be, d, buf.gates, buf.hn, &mut params.grads[biases]);
            if d.kind == CellKind::Gru {
                // The hidden side of the candidate gate saw `dn * r`, kept in `hn`.
                for (g_row, hn_row) in buf.gates.chunks_exact_mut(gh).zip(buf.hn.chunks_exact(h)) {
                    g_row[2 * h..].copy_from_slice(hn_row);
                }
            }
            let h_prev = &buf.h[..n * h];
            let g_w_hh = params.grad_mut(p.w_hh);
            be.sgemm(
                Trans::T,
                Trans::N,
                gh,
                h,
                n,
                1.0,
                buf.gates,
                h_prev,
                1.0,
                g_w_hh,
            );
        }
        if l == 0 && lookup.is_active() {
            // dW_ih0 = Σ_tokens dGatesᵀ·x = Σ_ids (dGates summed per id)ᵀ·table[id].
            be.sgemm(
                Trans::T,
                Trans::N,
                gh,
                n_in,
                lookup.vocab,
                1.0,
                &lookup.projected,
                &lookup.table,
                1.0,
                params.grad_mut(p.w_ih),
            );
        }
    }
}

/// `sums[id] += row` for one partition's `[T, rows, gh]` dGates, whose row `(step, r)` stood
/// for input `ids[step·B + b0 + r]`.
fn add_rows_by_id(
    gates: &[f32],
    gh: usize,
    (b0, rows, b): (usize, usize, usize),
    ids: &[u32],
    sums: &mut [f32],
) {
    for (step, block) in gates.chunks_exact(rows * gh).enumerate() {
        for (row, &id) in block.chunks_exact(gh).zip(&ids[step * b + b0..][..rows]) {
            let sum = &mut sums[id as usize * gh..][..gh];
            for (s, g) in sum.iter_mut().zip(row) {
                *s += g;
            }
        }
    }
}

/// After a lookup forward, the gradient of the table: `dx = d(projected)·W_ih0`, with
/// `d(projected)` left in the cache by [`weight_grads`].
pub(super) fn table_grad(
    be: &dyn Backend,
    d: &Dims,
    w_ih: &[f32],
    cache: &StackCache,
    dx: &mut [f32],
) {
    let lookup = &cache.lookup;
    be.sgemm(
        Trans::N,
        Trans::N,
        lookup.vocab,
        d.input,
        d.gh(),
        1.0,
        &lookup.projected,
        w_ih,
        0.0,
        dx,
    );
}

/// Scatters the input gradient into `dx` (global `[T, B, in]`) and gathers the gradient of
/// the initial state.
pub(super) fn collect_inputs(
    d: &Dims,
    t: usize,
    b: usize,
    cache: &mut StackCache,
    dx: &mut [f32],
) -> RecurrentState {
    let (h, n_in, row_len) = (d.hidden, d.input, per_row(d, t));
    let threads = cache.shape.map_or(1, |s| s.3);
    let lstm = d.kind == CellKind::Lstm;
    let mut d_init = RecurrentState {
        h: vec![vec![0.0; b * h]; d.layers],
        c: if lstm {
            vec![vec![0.0; b * h]; d.layers]
        } else {
            Vec::new()
        },
    };
    for (b0, rows) in partition_rows(b, threads) {
        let part = &mut cache.arena[b0 * row_len..(b0 + rows) * row_len];
        let (scratch, region) = split_partition(d, t, rows, part);
        let d_input = &scratch.d_in[d_in_slot(d, 0)];
        // After a lookup, `dx` is the table's gradient, written by `table_grad`.
        let per_row_input = !cache.lookup.is_active();
        for step in (0..t).filter(|_| per_row_input) {
            let at = (step * b + b0) * n_in;
            dx[at..at + rows * n_in]
                .copy_from_slice(&d_input[step * rows * n_in..(step + 1) * rows * n_in]);
        }
        for l in 0..d.layers {
            let buf = layer_bufs(d, t, rows, l, &mut region[layer_offset(d, t, rows, l)..]);
            d_init.h[l][b0 * h..(b0 + rows) * h].copy_from_slice(buf.dh0);
            if lstm {
                d_init.c[l][b0 * h..(b0 + rows) * h].copy_from_slice(buf.dc0);
            }
        }
    }
    d_init
}
