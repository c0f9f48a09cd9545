//! Stacked recurrent layers (RNN-tanh, RNN-ReLU, LSTM, GRU) over a whole sequence, with fused
//! kernels and a hand-written backward pass. Names, shapes, gate order and equations are
//! PyTorch's, so parameters load into `torch.nn.RNN/LSTM/GRU` unchanged.
//!
//! Per layer the forward runs ONE GEMM for the input projections of all timesteps
//! (`[T*B, in] · W_ihᵀ`), then per step one recurrent GEMM (`[B, H] · W_hhᵀ`) followed by the
//! gate math in a single pass. The backward runs per step the fused gate gradients and one GEMM
//! for `dh_{t-1}`, and after the sequence ONE GEMM each for `dW_ih`, `dW_hh` and the input
//! gradient, bias gradients being column sums. When the first layer's input is rows of a small
//! table ([`RecurrentStack::forward_lookup`], a character embedding), that GEMM runs over the
//! table's rows and the timesteps gather from it; its gradients sum dGates per row.
//!
//! Threads, two ways (`team.rs` has the rule that picks one per shape):
//! - the batch split: one partition of batch rows per backend thread, and each thread runs the
//!   whole stack over the whole sequence for its rows (its own small GEMMs and gate math, no
//!   synchronisation per step); only the weight-gradient GEMMs, which mix all rows, run after
//!   the join, split by the backend. See `cache.rs` for the memory layout.
//! - the unit split, for large `W_hh` at several threads: the whole batch is one partition, the
//!   products around the recurrence are split by the backend, and every step of the recurrence
//!   is split by hidden units across a team of workers with one barrier per step (`units.rs`).

mod backward;
mod cache;
mod cells;
mod cells_units;
mod forward;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod lookup_tests;
pub mod math;
mod team;
#[cfg(test)]
mod tests;
mod units;
#[cfg(test)]
mod units_tests;

pub use cache::StackCache;
pub use team::Split;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::check_len;
use crate::layers::dropout::Dropout;
use crate::rng::{fill_uniform, EngineRng};
use crate::{EngineError, ParamId, ParamStore, Result};

/// The recurrent cell of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    RnnTanh,
    RnnRelu,
    Lstm,
    Gru,
}

impl CellKind {
    /// Number of gate blocks stacked in the weight matrices (PyTorch's `G`).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// The state carried between sequences: per layer `h` (and for LSTM `c`), each `[B*H]`.
/// `c` is empty unless the cell is an LSTM.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecurrentState {
    pub h: Vec<Vec<f32>>,
    pub c: Vec<Vec<f32>>,
}

/// Sizes that fix the layout of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub kind: CellKind,
    pub input: usize,
    pub hidden: usize,
    pub layers: usize,
}

impl Dims {
    /// Width of the stacked gates, `G*H`.
    pub fn gh(&self) -> usize {
        self.kind.gates() * self.hidden
    }

    pub fn layer_input(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input
        } else {
            self.hidden
        }
    }
}

fn check_steps(t: usize, b: usize) -> Result<()> {
    if t == 0 || b == 0 {
        return Err(EngineError::Config(format!(
            "recurrent forward needs at least one timestep and one sequence (t={t}, b={b})"
        )));
    }
    Ok(())
}

/// Parameter ids of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerParams {
    pub w_ih: ParamId,
    pub w_hh: ParamId,
    pub b_ih: ParamId,
    pub b_hh: ParamId,
}

/// A stack of `layers` recurrent layers whose parameters live in a [`ParamStore`].
#[derive(Debug, Clone)]
pub struct RecurrentStack {
    pub kind: CellKind,
    pub input_size: usize,
    pub hidden: usize,
    pub layers: usize,
    params: Vec<LayerParams>,
}

impl RecurrentStack {
    /// Registers `{prefix}.weight_ih_l{k}` `[G*H, in]`, `{prefix}.weight_hh_l{k}` `[G*H, H]`,
    /// `{prefix}.bias_ih_l{k}` and `{prefix}.bias_hh_l{k}` `[G*H]` for every layer `k`
    /// (zero-initialised; call [`RecurrentStack::init`]).
    pub fn new(
        params: &mut ParamStore,
        prefix: &str,
        kind: CellKind,
        input_size: usize,
        hidden: usize,
        layers: usize,
    ) -> Result<Self> {
        for (what, v) in [
            ("input_size", input_size),
            ("hidden", hidden),
            ("layers", layers),
        ] {
            if v == 0 {
                return Err(EngineError::Config(format!(
                    "recurrent stack `{prefix}`: {what} must be at least 1"
                )));
            }
        }
        let gh = kind.gates() * hidden;
        let params = (0..layers)
            .map(|k| {
                let n_in = if k == 0 { input_size } else { hidden };
                LayerParams {
                    w_ih: params.add(format!("{prefix}.weight_ih_l{k}"), &[gh, n_in]),
                    w_hh: params.add(format!("{prefix}.weight_hh_l{k}"), &[gh, hidden]),
                    b_ih: params.add(format!("{prefix}.bias_ih_l{k}"), &[gh]),
                    b_hh: params.add(format!("{prefix}.bias_hh_l{k}"), &[gh]),
                }
            })
            .collect();
        Ok(RecurrentStack {
            kind,
            input_size,
            hidden,
            layers,
            params,
        })
    }

    pub(crate) fn dims(&self) -> Dims {
        Dims {
            kind: self.kind,
            input: self.input_size,
            hidden: self.hidden,
            layers: self.layers,
        }
    }

    /// PyTorch's default initialisation: every weight and bias `U(-1/sqrt(H), 1/sqrt(H))`.
    /// With `forget_bias = Some(v)` (LSTM only; ignored for other cells) the forget-gate block of
    /// `bias_ih` is set to `v` and that of `bias_hh` to zero, so the effective forget bias is
    /// exactly `v`.
    pub fn init(&self, params: &mut ParamStore, rng: &mut EngineRng, forget_bias: Option<f32>) {
        let bound = 1.0 / (self.hidden as f32).sqrt();
        for p in &self.params {
            for id in [p.w_ih, p.w_hh, p.b_ih, p.b_hh] {
                fill_uniform(rng, params.value_mut(id), bound);
            }
            if let (Some(v), CellKind::Lstm) = (forget_bias, self.kind) {
                let forget = self.hidden..2 * self.hidden;
                params.value_mut(p.b_ih)[forget.clone()].fill(v);
                params.value_mut(p.b_hh)[forget].fill(0.0);
            }
        }
    }

    /// All-zero state for a batch of `batch` sequences.
    pub fn zero_state(&self, batch: usize) -> RecurrentState {
        let layer = || vec![0.0; batch * self.hidden];
        RecurrentState {
            h: (0..self.layers).map(|_| layer()).collect(),
            c: if self.kind == CellKind::Lstm {
                (0..self.layers).map(|_| layer()).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Runs the stack over `x`, time-major `[t, b, input_size]`, from state `init`. The top
    /// layer's output `[t, b, H]` stays in `cache` (see [`RecurrentStack::output`]); the final
    /// state is returned. `between` applies dropout to the input of every layer above the first
    /// (pass `None` at evaluation: identity).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        be: &dyn Backend,
        params: &ParamStore,
        x: &[f32],
        t: usize,
        b: usize,
        init: &RecurrentState,
        between: Option<(&Dropout, &mut EngineRng)>,
        cache: &mut StackCache,
    ) -> Result<RecurrentState> {
        check_steps(t, b)?;
        check_len(
            "recurrent input x [T*B*in]",
            t * b * self.input_size,
            x.len(),
        )?;
        cache.lookup.vocab = 0;
        self.run_forward(be, params, x, t, b, init, between, cache)
    }

    /// [`RecurrentStack::forward`] on the input rows `table[ids[i]]`: `table` is
    /// `[V, input_size]` (a token embedding), `ids` time-major `[t, b]`. The first layer
    /// projects the `V` rows of the table once instead of the `t·b` rows they stand for, which
    /// saves work when `V < t·b` (a character vocabulary). The results are those of `forward`
    /// on the gathered rows; the [`RecurrentStack::backward`] that follows writes the gradient
    /// of `table` instead of that of the rows.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_lookup(
        &self,
        be: &dyn Backend,
        params: &ParamStore,
        table: &[f32],
        ids: &[u32],
        t: usize,
        b: usize,
        init: &RecurrentState,
        between: Option<(&Dropout, &mut EngineRng)>,
        cache: &mut StackCache,
    ) -> Result<RecurrentState> {
        check_steps(t, b)?;
        let vocab = table.len() / self.input_size;
        if vocab == 0 || vocab * self.input_size != table.len() {
            return Err(EngineError::shape(
                "recurrent lookup table [V*in]",
                format!("a positive multiple of {}", self.input_size),
                table.len(),
            ));
        }
        check_len("recurrent lookup ids [T*B]", t * b, ids.len())?;
        if let Some(i) = ids.iter().position(|&id| id as usize >= vocab) {
            return Err(EngineError::shape(
                format!("recurrent lookup id at position {i}"),
                format!("< {vocab}"),
                ids[i],
            ));
        }
        let lookup = &mut cache.lookup;
        lookup.vocab = vocab;
        lookup.table.clear();
        lookup.table.extend_from_slice(table);
        lookup.ids.clear();
        lookup.ids.extend_from_slice(ids);
        self.run_forward(be, params, &[], t, b, init, between, cache)
    }

    /// The forward both entry points share; `x` is empty when the cache holds a lookup.
    #[allow(clippy::too_many_arguments)]
    fn run_forward(
        &self,
        be: &dyn Backend,
        params: &ParamStore,
        x: &[f32],
        t: usize,
        b: usize,
        init: &RecurrentState,
        between: Option<(&Dropout, &mut EngineRng)>,
        cache: &mut StackCache,
    ) -> Result<RecurrentState> {
        self.check_state("initial state", init, b)?;
        self.check_params(params)?;
        let d = self.dims();
        cache.split = team::choose(be, &d);
        let parts = match cache.split {
            Split::Batch => be.threads().max(1),
            Split::Units => 1,
        };
        cache.prepare(d, t, b, parts);
        cache.has_activations = false; // until this forward has fully run
        match between {
            Some((dropout, rng)) => {
                for mask in &mut cache.masks {
                    dropout.sample(rng, t, b, self.hidden, mask)?;
                }
            }
            None => cache.masks.iter_mut().for_each(|m| m.clear()),
        }
        self.combine_biases(params, cache);
        forward::run(be, &d, params, &self.params, x, t, b, init, cache);
        cache.has_activations = true;
        Ok(forward::final_state(&d, t, b, cache))
    }

    /// The top layer's output `[T, B, H]` of the last forward.
    pub fn output<'a>(&self, cache: &'a StackCache) -> &'a [f32] {
        &cache.out
    }

    /// Backward through the last forward. Adds the weight gradients into `params.grads`,
    /// writes the input gradient into `dx` (`[T, B, input_size]`; after
    /// [`RecurrentStack::forward_lookup`] that of the table, `[V, input_size]`, each row the
    /// sum over its ids) and returns the gradient
    /// w.r.t. the initial state. `d_out` is the gradient of the top layer's output, `d_final`
    /// that of the final state (`None` = zero, as in truncated BPTT). Consumes the cached
    /// activations: a second backward needs a new forward.
    pub fn backward(
        &self,
        be: &dyn Backend,
        params: &mut ParamStore,
        cache: &mut StackCache,
        d_out: &[f32],
        d_final: Option<&RecurrentState>,
        dx: &mut [f32],
    ) -> Result<RecurrentState> {
        let Some((d, t, b, _)) = cache.shape.filter(|_| cache.has_activations) else {
            return Err(EngineError::Config(
                "recurrent backward needs a forward first (activations are used up by a backward)"
                    .into(),
            ));
        };
        if d != self.dims() {
            return Err(EngineError::Config(
                "recurrent backward: the cache belongs to a stack of another shape".into(),
            ));
        }
        check_len("recurrent d_out [T*B*H]", t * b * self.hidden, d_out.len())?;
        match cache.lookup.vocab {
            0 => check_len("recurrent dx [T*B*in]", t * b * self.input_size, dx.len())?,
            v => check_len(
                "recurrent table gradient dx [V*in]",
                v * self.input_size,
                dx.len(),
            )?,
        }
        if let Some(s) = d_final {
            self.check_state("final-state gradient", s, b)?;
        }
        self.check_params(params)?;
        backward::run(be, &d, params, &self.params, t, b, d_out, d_final, cache);
        backward::weight_grads(be, &d, params, &self.params, t, b, cache);
        if cache.lookup.is_active() {
            backward::table_grad(be, &d, params.value(self.params[0].w_ih), cache, dx);
        }
        cache.has_activations = false;
        Ok(backward::collect_inputs(&d, t, b, cache, dx))
    }

    fn check_state(&self, what: &str, s: &RecurrentState, b: usize) -> Result<()> {
        let want_c = if self.kind == CellKind::Lstm {
            self.layers
        } else {
            0
        };
        check_len(&format!("{what}: layers of h"), self.layers, s.h.len())?;
        check_len(&format!("{what}: layers of c"), want_c, s.c.len())?;
        for (l, v) in s.h.iter().chain(&s.c).enumerate() {
            check_len(
                &format!("{what}: layer {} [B*H]", l % self.layers),
                b * self.hidden,
                v.len(),
            )?;
        }
        Ok(())
    }

    /// The ids must point at parameters of the right sizes (e.g. not another store's).
    fn check_params(&self, params: &ParamStore) -> Result<()> {
        let d = self.dims();
        for (l, p) in self.params.iter().enumerate() {
            let want = [
                (p.w_ih, d.gh() * d.layer_input(l)),
                (p.w_hh, d.gh() * d.hidden),
                (p.b_ih, d.gh()),
                (p.b_hh, d.gh()),
            ];
            for (id, len) in want {
                let got = params.entries().get(id.0).map_or(0, |e| e.len);
                check_len(
                    &format!("recurrent parameter #{} (layer {l})", id.0),
                    len,
                    got,
                )?;
            }
        }
        Ok(())
    }

    /// Folds `b_hh` into `b_ih` where the equations allow it (everywhere except the GRU's
    /// candidate gate, whose `b_hn` sits inside the reset product).
    fn combine_biases(&self, params: &ParamStore, cache: &mut StackCache) {
        let (h, gh) = (self.hidden, self.dims().gh());
        for (l, p) in self.params.iter().enumerate() {
            let (b_ih, b_hh) = (params.value(p.b_ih), params.value(p.b_hh));
            let bias = &mut cache.bias[l * gh..(l + 1) * gh];
            for k in 0..gh {
                bias[k] = b_ih[k] + b_hh[k];
            }
            if self.kind == CellKind::Gru {
                bias[2 * h..].copy_from_slice(&b_ih[2 * h..]);
                cache.bias_hn[l * h..(l + 1) * h].copy_from_slice(&b_hh[2 * h..]);
            }
        }
    }
}
