//! Where the stack keeps its activations between forward and backward.
//!
//! The batch is split into partitions, one per backend thread; batch rows are independent in a
//! recurrence, so each thread runs the whole stack over all timesteps for its rows without any
//! synchronisation per step. To give every thread its own mutable memory in safe Rust, all
//! per-row buffers live in one arena laid out partition-major: partition `p` owns
//! `rows_p * per_row` contiguous floats, and inside it each buffer is `rows_p * size`
//! contiguous floats (time-major `[T, rows_p, F]`), carved off in a fixed order.

use super::team::Split;
use super::Dims;
use crate::backend::PackedWeight;
use crate::layers::dropout::DropoutMask;

/// Reusable activations and scratch of a [`super::RecurrentStack`]. Sized on first use and
/// resized only when the shape changes, so a training loop does not allocate per step.
#[derive(Debug, Default)]
pub struct StackCache {
    /// dims, t, b, partitions of the batch (1 under the unit split).
    pub(super) shape: Option<(Dims, usize, usize, usize)>,
    /// How the last forward split its steps across threads; the backward follows it.
    pub(super) split: Split,
    pub(super) arena: Vec<f32>,
    /// `masks[l]` is the dropout mask applied to the input of layer `l + 1`.
    pub(super) masks: Vec<DropoutMask>,
    /// Per layer `[G*H]`: `b_ih + b_hh` (GRU candidate gate: `b_in` only).
    pub(super) bias: Vec<f32>,
    /// Per layer `[H]`: the GRU's `b_hn`.
    pub(super) bias_hn: Vec<f32>,
    /// Per layer: `W_hh` prepared by the backend for the per-step products (`W_hhᵀ` in forward,
    /// `W_hh` in backward).
    pub(super) packed: Vec<PackedWeight>,
    /// The top layer's output `[T, B, H]` in the caller's (global) layout.
    pub(super) out: Vec<f32>,
    /// Set by forward, cleared by backward (which overwrites the activations).
    pub(super) has_activations: bool,
    /// Layer 0's input as rows of a table (see [`super::RecurrentStack::forward_lookup`]).
    pub(super) lookup: Lookup,
}

/// Layer 0's input when it is `table[ids]`: the table's rows are projected once
/// (`table·W_ih0ᵀ`, `[V, G*H]`) and each timestep gathers its rows, instead of one projection
/// per token. Empty (`vocab == 0`) after a forward on plain rows.
#[derive(Debug, Default)]
pub(super) struct Lookup {
    pub vocab: usize,
    /// `[V, in]`, a copy of the caller's table (the backward needs it for `dW_ih0`).
    pub table: Vec<f32>,
    /// `[T*B]`, time-major like the rows they stand for.
    pub ids: Vec<u32>,
    /// `[V, G*H]`: `table·W_ih0ᵀ` in forward, its gradient in backward.
    pub projected: Vec<f32>,
}

impl Lookup {
    pub fn is_active(&self) -> bool {
        self.vocab > 0
    }
}

impl StackCache {
    /// Batch partitions of the arena's layout.
    pub(super) fn partitions(&self) -> usize {
        self.shape.map_or(1, |s| s.3)
    }

    /// Sizes every buffer for this shape; a no-op when the shape is unchanged.
    pub(super) fn prepare(&mut self, d: Dims, t: usize, b: usize, threads: usize) {
        if self.shape == Some((d, t, b, threads)) {
            return;
        }
        let len = b * per_row(&d, t);
        self.arena.clear();
        self.arena.resize(len, 0.0);
        self.masks.resize(d.layers - 1, DropoutMask::default());
        self.bias.resize(d.layers * d.gh(), 0.0);
        self.bias_hn.resize(d.layers * d.hidden, 0.0);
        self.out.resize(t * b * d.hidden, 0.0);
        self.packed.resize(d.layers, PackedWeight::default());
        self.shape = Some((d, t, b, threads));
        self.has_activations = false;
    }
}

/// Rows of the batch that partition `p` of `parts` owns: the backend's chunking rule,
/// `ceil(B / parts)` rows each, the last one shorter.
pub(super) fn partition_rows(b: usize, parts: usize) -> impl Iterator<Item = (usize, usize)> {
    let per = b.div_ceil(parts.max(1)).max(1);
    (0..b.div_ceil(per)).map(move |p| (p * per, per.min(b - p * per)))
}

/// Per-batch-row sizes of the buffers of one layer, in carving order.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayerSizes {
    /// Layer input after dropout, `[T, in]` per row.
    pub x: usize,
    /// Input projections, then activated gates, then dGates: `[T, G*H]`.
    pub gates: usize,
    /// Hidden states with the initial one first: `[T+1, H]`.
    pub h: usize,
    /// LSTM cell states with the initial one first: `[T+1, H]` (0 otherwise).
    pub c: usize,
    /// GRU `W_hn h + b_hn` per step, then its gradient: `[T, H]` (0 otherwise).
    pub hn: usize,
    /// Gradients of the initial state: `[H]` each (`dc0` LSTM only).
    pub dh0: usize,
    pub dc0: usize,
}

impl LayerSizes {
    pub fn new(d: &Dims, t: usize, layer: usize) -> Self {
        let h = d.hidden;
        let lstm = d.kind == super::CellKind::Lstm;
        let gru = d.kind == super::CellKind::Gru;
        LayerSizes {
            x: t * d.layer_input(layer),
            gates: t * d.gh(),
            h: (t + 1) * h,
            c: if lstm { (t + 1) * h } else { 0 },
            hn: if gru { t * h } else { 0 },
            dh0: h,
            dc0: if lstm { h } else { 0 },
        }
    }

    pub fn total(&self) -> usize {
        self.x + self.gates + self.h + self.c + self.hn + self.dh0 + self.dc0
    }
}

/// Per-batch-row sizes of a partition's scratch.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScratchSizes {
    pub hh: usize,
    pub vec: usize,
    pub d_in: usize,
}

impl ScratchSizes {
    pub fn new(d: &Dims, t: usize) -> Self {
        ScratchSizes {
            hh: d.gh(),
            vec: d.hidden,
            d_in: t * d.input.max(d.hidden),
        }
    }

    pub fn total(&self) -> usize {
        self.hh + 3 * self.vec + 2 * self.d_in
    }
}

/// Floats per batch row in the arena: scratch, then every layer.
pub(super) fn per_row(d: &Dims, t: usize) -> usize {
    ScratchSizes::new(d, t).total()
        + (0..d.layers)
            .map(|l| LayerSizes::new(d, t, l).total())
            .sum::<usize>()
}

/// Hands out consecutive disjoint pieces of a slice.
pub(super) struct Carver<'a> {
    rest: &'a mut [f32],
}

impl<'a> Carver<'a> {
    pub fn new(rest: &'a mut [f32]) -> Self {
        Carver { rest }
    }

    pub fn take(&mut self, n: usize) -> &'a mut [f32] {
        let (head, tail) = std::mem::take(&mut self.rest).split_at_mut(n);
        self.rest = tail;
        head
    }

    pub fn rest(self) -> &'a mut [f32] {
        self.rest
    }
}

/// Scratch of one partition.
pub(super) struct Scratch<'a> {
    /// `[rows, G*H]`: the recurrent product in forward; the GRU's hidden-side dGates in backward.
    pub hh: &'a mut [f32],
    /// `[rows, H]`: total gradient at `h_t`.
    pub dh: &'a mut [f32],
    /// `[rows, H]`: gradient carried to `h_{t-1}` / `c_{t-1}`.
    pub dh_carry: &'a mut [f32],
    pub dc_carry: &'a mut [f32],
    /// Two `[T, rows, max(in, H)]` buffers for the gradient w.r.t. each layer's input.
    pub d_in: [&'a mut [f32]; 2],
}

/// One layer's buffers in one partition (see [`LayerSizes`]).
pub(super) struct LayerBufs<'a> {
    pub x: &'a mut [f32],
    pub gates: &'a mut [f32],
    pub h: &'a mut [f32],
    pub c: &'a mut [f32],
    pub hn: &'a mut [f32],
    pub dh0: &'a mut [f32],
    pub dc0: &'a mut [f32],
}

/// Splits one partition's memory (`rows` rows) into its scratch and the region of the layers.
pub(super) fn split_partition<'a>(
    d: &Dims,
    t: usize,
    rows: usize,
    part: &'a mut [f32],
) -> (Scratch<'a>, &'a mut [f32]) {
    let s = ScratchSizes::new(d, t);
    let mut carve = Carver::new(part);
    let scratch = Scratch {
        hh: carve.take(rows * s.hh),
        dh: carve.take(rows * s.vec),
        dh_carry: carve.take(rows * s.vec),
        dc_carry: carve.take(rows * s.vec),
        d_in: [carve.take(rows * s.d_in), carve.take(rows * s.d_in)],
    };
    (scratch, carve.rest())
}

/// Offset (in floats) of layer `layer` inside a partition's layer region.
pub(super) fn layer_offset(d: &Dims, t: usize, rows: usize, layer: usize) -> usize {
    rows * (0..layer)
        .map(|l| LayerSizes::new(d, t, l).total())
        .sum::<usize>()
}

/// Carves the buffers of `layer` out of `region`, which must start at that layer.
pub(super) fn layer_bufs<'a>(
    d: &Dims,
    t: usize,
    rows: usize,
    layer: usize,
    region: &'a mut [f32],
) -> LayerBufs<'a> {
    let s = LayerSizes::new(d, t, layer);
    let mut carve = Carver::new(region);
    LayerBufs {
        x: carve.take(rows * s.x),
        gates: carve.take(rows * s.gates),
        h: carve.take(rows * s.h),
        c: carve.take(rows * s.c),
        hn: carve.take(rows * s.hn),
        dh0: carve.take(rows * s.dh0),
        dc0: carve.take(rows * s.dc0),
    }
}

/// Layer `layer`'s buffers, plus the hidden states `[T+1, rows, H]` of the layer below it
/// (empty for layer 0).
pub(super) fn layer_with_below<'a>(
    d: &Dims,
    t: usize,
    rows: usize,
    layer: usize,
    region: &'a mut [f32],
) -> (&'a [f32], LayerBufs<'a>) {
    let (below, here) = region.split_at_mut(layer_offset(d, t, rows, layer));
    let below_h: &[f32] = if layer == 0 {
        &[]
    } else {
        let prev = layer_bufs(
            d,
            t,
            rows,
            layer - 1,
            &mut below[layer_offset(d, t, rows, layer - 1)..],
        );
        prev.h
    };
    (below_h, layer_bufs(d, t, rows, layer, here))
}
