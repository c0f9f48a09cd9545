//! The recurrence of one layer under the unit split (see `team.rs` for the partitioning and
//! why it gives the batch split's bits): the whole batch is one partition (`rows = B`), the
//! caller's thread has done the input projections, and a team of workers runs the steps.

use std::cell::RefCell;

use super::backward;
use super::cache::LayerBufs;
use super::cells;
use super::cells_units as cu;
use super::forward;
use super::team::{row_slots, scatter_row, team_workers, units, Shared, StepBarrier, WORKER};
use super::CellKind;
use crate::backend::{StepKernel, Trans};

thread_local! {
    /// The caller's two copies of `h_t` (forward) or `dGates_t` (backward) in the kernel's row
    /// layout, one per parity of the step.
    static ROWS: RefCell<[Vec<f32>; 2]> = Default::default();
}

/// Forward steps of layer `l` over the whole batch; `buf.gates` holds the input projections.
pub(super) fn forward_steps(
    s: &forward::Shared,
    l: usize,
    kernel: StepKernel,
    buf: &mut LayerBufs,
) {
    let (d, t, b) = (s.d, s.t, s.b);
    let (h, gh, g_n) = (d.hidden, d.gh(), d.kind.gates());
    let workers = team_workers(s.be, h);
    let w_hh = s.params.value(s.ids[l].w_hh);
    let bias = &s.bias[l * gh..(l + 1) * gh];
    let bias_hn = &s.bias_hn[l * h..(l + 1) * h];
    let slots = row_slots(b);
    ROWS.with_borrow_mut(|[even, odd]| {
        StepKernel::pack_rows(b, h, &buf.h[..b * h], even);
        odd.resize(b * h, 0.0);
        let layouts = [Shared::new(even), Shared::new(odd)];
        let (gates, hs) = (Shared::new(buf.gates), Shared::new(buf.h));
        let (cs, hns) = (Shared::new(buf.c), Shared::new(buf.hn));
        let barrier = StepBarrier::new(workers);
        s.be.run_team(workers, &|w| {
            let _poison = barrier.guard();
            let js = units(h, workers, w);
            let (j0, wn) = (js.start, js.len());
            WORKER.with_borrow_mut(|own| {
                // W_hhᵀ's columns of our units in every gate block, one range per gate.
                let ranges: Vec<_> = (0..g_n).map(|q| q * h + j0..q * h + js.end).collect();
                kernel.pack_columns(Trans::T, w_hh, h, gh, &ranges, &mut own.packed);
                own.hh.resize(b * g_n * wn, 0.0);
                let per_gate = StepKernel::packed_len(wn, h);
                for step in 0..t {
                    // SAFETY: h_step's layout was completed before the last barrier (or the
                    // team) and nobody writes it during this step (the other parity is written).
                    let rows_of_h = unsafe { layouts[step % 2].part(0, b * h) };
                    for q in 0..g_n {
                        let panels = &own.packed.as_slice()[q * per_gate..][..per_gate];
                        let c = &mut own.hh[q * wn..];
                        kernel.gemm(b, wn, h, rows_of_h, panels, 0.0, c, g_n * wn);
                    }
                    for (r, &slot) in slots.iter().enumerate() {
                        let g_at = (step * b + r) * gh;
                        let (prev, now) = ((step * b + r) * h + j0, ((step + 1) * b + r) * h + j0);
                        let hh = &own.hh[r * g_n * wn..][..g_n * wn];
                        // SAFETY: our units' columns of step `step` (gates, h_{t+1}, c, hn) are
                        // ours alone; h_t and c_t are only read during this step.
                        unsafe {
                            let gate = |q: usize| gates.part_mut(g_at + q * h + j0, wn);
                            let h_out = hs.part_mut(now, wn);
                            match d.kind {
                                CellKind::RnnTanh | CellKind::RnnRelu => {
                                    let relu = d.kind == CellKind::RnnRelu;
                                    let b_own = &bias[j0..];
                                    cu::rnn_forward_units(relu, gate(0), hh, b_own, h_out)
                                }
                                CellKind::Lstm => {
                                    let g4 = [gate(0), gate(1), gate(2), gate(3)];
                                    let b4 = [0, 1, 2, 3].map(|q| &bias[q * h + j0..]);
                                    let (c_prev, c) = (cs.part(prev, wn), cs.part_mut(now, wn));
                                    cu::lstm_forward_units(g4, hh, b4, c_prev, c, h_out)
                                }
                                CellKind::Gru => {
                                    let g3 = [gate(0), gate(1), gate(2)];
                                    let b3 = [0, 1, 2].map(|q| &bias[q * h + j0..]);
                                    let hn = hns.part_mut((step * b + r) * h + j0, wn);
                                    let h_prev = hs.part(prev, wn);
                                    let b_hn = &bias_hn[j0..];
                                    cu::gru_forward_units(g3, hh, b3, b_hn, h_prev, hn, h_out)
                                }
                            }
                            let h_out = hs.part(now, wn);
                            scatter_row(layouts[(step + 1) % 2], h, (r, slot), j0, h_out);
                        }
                    }
                    barrier.wait();
                }
            });
        });
    });
}

/// Backward steps of layer `l` over the whole batch, from the gradient of its output
/// (`d_out` for the top layer, else `from_above`); leaves `dGates` in `buf.gates` and the
/// gradient of the initial state in `buf.dh0` / `buf.dc0`.
pub(super) fn backward_steps(
    s: &backward::Shared,
    l: usize,
    kernel: StepKernel,
    from_above: &[f32],
    buf: &mut LayerBufs,
) {
    let (d, t, b) = (s.d, s.t, s.b);
    let (h, gh, g_n) = (d.hidden, d.gh(), d.kind.gates());
    let workers = team_workers(s.be, h);
    let w_hh = s.params.value(s.ids[l].w_hh);
    let lstm = d.kind == CellKind::Lstm;
    let slots = row_slots(b);
    ROWS.with_borrow_mut(|[even, odd]| {
        even.resize(b * gh, 0.0);
        odd.resize(b * gh, 0.0);
        let layouts = [Shared::new(even), Shared::new(odd)];
        let (gates, hs, cs) = (
            Shared::new(buf.gates),
            Shared::new(buf.h),
            Shared::new(buf.c),
        );
        let hns = Shared::new(buf.hn);
        let (dh0, dc0) = (Shared::new(buf.dh0), Shared::new(buf.dc0));
        let barrier = StepBarrier::new(workers);
        s.be.run_team(workers, &|w| {
            let _poison = barrier.guard();
            let js = units(h, workers, w);
            let (j0, wn) = (js.start, js.len());
            WORKER.with_borrow_mut(|own| {
                // W_hh's columns of our units: dh_{t-1}[:, js] = dGates · W_hh[:, js].
                let ranges = std::slice::from_ref(&js);
                kernel.pack_columns(Trans::N, w_hh, gh, h, ranges, &mut own.packed);
                own.dh.resize(b * wn, 0.0);
                own.hh.resize(b * g_n * wn, 0.0);
                for (v, state) in [(&mut own.dh_carry, 0), (&mut own.dc_carry, 1)] {
                    v.clear();
                    for r in 0..b {
                        let at = r * h + j0..r * h + js.end;
                        match (s.d_final, state) {
                            (Some(f), 0) => v.extend_from_slice(&f.h[l][at]),
                            (Some(f), _) if lstm => v.extend_from_slice(&f.c[l][at]),
                            _ => v.resize(v.len() + wn, 0.0),
                        }
                    }
                }
                for step in (0..t).rev() {
                    let layout = layouts[step % 2];
                    for (r, &slot) in slots.iter().enumerate() {
                        let d_here = if l == d.layers - 1 {
                            &s.d_out[(step * b + r) * h + j0..][..wn]
                        } else {
                            &from_above[(step * b + r) * h + j0..][..wn]
                        };
                        let own_row = r * wn..(r + 1) * wn;
                        let dh = &mut own.dh[own_row.clone()];
                        for ((o, g), c) in dh
                            .iter_mut()
                            .zip(d_here)
                            .zip(&own.dh_carry[own_row.clone()])
                        {
                            *o = g + c;
                        }
                        let g_at = (step * b + r) * gh;
                        let (prev, now) = ((step * b + r) * h + j0, ((step + 1) * b + r) * h + j0);
                        // SAFETY: our units' columns of step `step` are ours alone; h and c are
                        // only read; the layout of this parity is not read before the barrier.
                        unsafe {
                            let gate = |q: usize| gates.part_mut(g_at + q * h + j0, wn);
                            match d.kind {
                                CellKind::RnnTanh | CellKind::RnnRelu => {
                                    let relu = d.kind == CellKind::RnnRelu;
                                    cells::rnn_backward(relu, dh, hs.part(now, wn), gate(0));
                                }
                                CellKind::Lstm => {
                                    let g4 = [gate(0), gate(1), gate(2), gate(3)];
                                    let dc = &mut own.dc_carry[own_row.clone()];
                                    let (c_prev, c) = (cs.part(prev, wn), cs.part(now, wn));
                                    cu::lstm_backward_units(dh, dc, g4, c_prev, c);
                                }
                                CellKind::Gru => {
                                    let g3 = [gate(0), gate(1), gate(2)];
                                    let hn = hns.part_mut((step * b + r) * h + j0, wn);
                                    let d_hh = &mut own.hh[r * g_n * wn..][..g_n * wn];
                                    let direct = &mut own.dh_carry[own_row.clone()];
                                    cu::gru_backward_units(
                                        dh,
                                        g3,
                                        hn,
                                        hs.part(prev, wn),
                                        d_hh,
                                        direct,
                                    );
                                }
                            }
                            // What multiplies W_hh: dGates (GRU: [dr, dz, dn*r]).
                            for q in 0..g_n {
                                let piece = match d.kind {
                                    CellKind::Gru => &own.hh[(r * g_n + q) * wn..][..wn],
                                    _ => gates.part(g_at + q * h + j0, wn),
                                };
                                scatter_row(layout, gh, (r, slot), q * h + j0, piece);
                            }
                        }
                    }
                    barrier.wait();
                    // SAFETY: the whole layout of this step is complete, and nobody writes it
                    // before the next barrier (step - 1 writes the other parity).
                    let rows_of_d = unsafe { layout.part(0, b * gh) };
                    let beta = if d.kind == CellKind::Gru { 1.0 } else { 0.0 };
                    let panels = own.packed.as_slice();
                    kernel.gemm(b, wn, gh, rows_of_d, panels, beta, &mut own.dh_carry, wn);
                }
                for r in 0..b {
                    let own_row = r * wn..(r + 1) * wn;
                    // SAFETY: our units' columns of the initial-state gradients are ours alone.
                    unsafe {
                        dh0.part_mut(r * h + j0, wn)
                            .copy_from_slice(&own.dh_carry[own_row.clone()]);
                        if lstm {
                            dc0.part_mut(r * h + j0, wn)
                                .copy_from_slice(&own.dc_carry[own_row]);
                        }
                    }
                }
            });
        });
    });
}
