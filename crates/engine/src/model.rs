//! The recurrent language model: embedding → dropout → stacked RNN/LSTM/GRU → dropout →
//! linear head (optionally tied to the embedding) → softmax cross-entropy.
//!
//! Parameter names follow PyTorch's `word_language_model` (`encoder.weight`,
//! `rnn.weight_ih_l0`, …, `decoder.weight`, `decoder.bias`), so a checkpoint loads into an
//! `nn.Embedding` + `nn.LSTM` + `nn.Linear` module with `load_state_dict`. Batches are
//! time-major: token `t*B + b` is step `t` of stream `b`.

use serde::{Deserialize, Serialize};

use crate::layers::dropout::{Dropout, DropoutMask};
use crate::layers::embedding::{Embedding, EmbeddingInit};
use crate::layers::linear::Linear;
use crate::layers::loss::{cross_entropy, softmax_cross_entropy_in_place, CrossEntropy};
use crate::layers::recurrent::{CellKind, RecurrentStack, RecurrentState, StackCache};
use crate::rng::{seeded, EngineRng};
use crate::{Backend, EngineError, ParamStore, Result};

/// Everything that fixes a model's shape and initialisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub cell: CellKind,
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    /// Dropout on the embedding output, between layers and on the recurrent output.
    pub dropout: f32,
    /// One mask per sequence (variational dropout) instead of one per element and step.
    pub locked_dropout: bool,
    /// Use the embedding matrix as the head's weight (requires `embed == hidden`).
    pub tie_weights: bool,
    /// LSTM forget-gate bias at init; `None` keeps PyTorch's default init.
    pub forget_bias: Option<f32>,
    /// How the embedding starts; `None` picks by `tie_weights` (see [`ModelSpec::embedding_init`]).
    #[serde(default)]
    pub embed_init: Option<EmbeddingInit>,
}

impl ModelSpec {
    /// PyTorch's `nn.Embedding` default N(0, 1) for an untied table: its scale carries the
    /// input through the first layer from step one (a char LSTM with U(±0.1) was 0.44 nats
    /// behind PyTorch after 200 steps). A tied table is also the output head, where N(0, 1)
    /// would start the logits far from uniform, so it gets U(±0.1) as PyTorch's word-LM example.
    pub fn embedding_init(&self) -> EmbeddingInit {
        self.embed_init.unwrap_or(if self.tie_weights {
            EmbeddingInit::Uniform { bound: 0.1 }
        } else {
            EmbeddingInit::Normal
        })
    }

    /// Whether a batch of `tokens` feeds the first layer through
    /// [`RecurrentStack::forward_lookup`]: only without dropout on the embedding, and only when
    /// the table has fewer rows than the batch has tokens.
    fn first_layer_looks_up(&self, tokens: usize, embedding_dropout: bool) -> bool {
        !embedding_dropout && self.vocab < tokens
    }
}

/// Buffers reused from batch to batch, so a training step allocates nothing once warm.
#[derive(Default)]
struct Workspace {
    embedded: Vec<f32>,
    embed_mask: DropoutMask,
    cache: StackCache,
    top: Vec<f32>,
    top_mask: DropoutMask,
    logits: Vec<f32>,
    d_top: Vec<f32>,
    /// `[T*B, E]`, or `[V, E]` (the table's gradient) after a lookup forward.
    d_embedded: Vec<f32>,
    /// The last forward fed the stack through [`RecurrentStack::forward_lookup`].
    lookup: bool,
}

pub struct LanguageModel {
    pub spec: ModelSpec,
    pub params: ParamStore,
    encoder: Embedding,
    rnn: RecurrentStack,
    decoder: Linear,
    dropout: Dropout,
    ws: Workspace,
}

impl LanguageModel {
    /// Builds the model and initialises it from `seed` (embedding U(±0.1) as in PyTorch's
    /// word-LM example, recurrent and head weights PyTorch's defaults).
    pub fn new(spec: ModelSpec, seed: u64) -> Result<Self> {
        let dropout = Dropout::new(spec.dropout, spec.locked_dropout)?;
        if spec.tie_weights && spec.embed != spec.hidden {
            return Err(EngineError::Config(format!(
                "tie_weights needs embed ({}) == hidden ({})",
                spec.embed, spec.hidden
            )));
        }
        let mut params = ParamStore::new();
        let encoder = Embedding::new(&mut params, "encoder", spec.vocab, spec.embed)?;
        let rnn = RecurrentStack::new(
            &mut params,
            "rnn",
            spec.cell,
            spec.embed,
            spec.hidden,
            spec.layers,
        )?;
        let decoder = if spec.tie_weights {
            Linear::tied(&mut params, "decoder", encoder.weight, spec.hidden, true)?
        } else {
            Linear::new(&mut params, "decoder", spec.hidden, spec.vocab, true)?
        };
        let mut rng = seeded(seed);
        encoder.init(&mut params, &mut rng, spec.embedding_init());
        rnn.init(&mut params, &mut rng, spec.forget_bias);
        decoder.init(&mut params, &mut rng);
        Ok(LanguageModel {
            spec,
            params,
            encoder,
            rnn,
            decoder,
            dropout,
            ws: Workspace::default(),
        })
    }

    pub fn zero_state(&self, batch: usize) -> RecurrentState {
        self.rnn.zero_state(batch)
    }

    /// Forward through embedding and recurrent stack, leaving the (dropped-out) top-layer
    /// output in `ws.top`; `rng` is `Some` in training mode.
    fn forward_hidden(
        &mut self,
        be: &dyn Backend,
        inputs: &[u32],
        t: usize,
        b: usize,
        state: &mut RecurrentState,
        mut rng: Option<&mut EngineRng>,
    ) -> Result<()> {
        if inputs.len() != t * b {
            return Err(EngineError::shape(
                "model inputs [T*B]",
                t * b,
                inputs.len(),
            ));
        }
        let (e, h) = (self.spec.embed, self.spec.hidden);
        let ws = &mut self.ws;
        match rng.as_deref_mut() {
            Some(r) => self.dropout.sample(r, t, b, e, &mut ws.embed_mask)?,
            None => ws.embed_mask.clear(),
        }
        let between = rng.as_deref_mut().map(|r| (&self.dropout, r));
        // Without dropout on the embedding, the first layer's input is a row of the table per
        // token: projecting the V rows once beats projecting T·B rows when V is smaller (a
        // character vocabulary; about a fifth of a 1×256 LSTM's work).
        ws.lookup = self
            .spec
            .first_layer_looks_up(t * b, !ws.embed_mask.is_identity());
        let final_state = if ws.lookup {
            let table = self.params.value(self.encoder.weight);
            self.rnn.forward_lookup(
                be,
                &self.params,
                table,
                inputs,
                t,
                b,
                state,
                between,
                &mut ws.cache,
            )?
        } else {
            ws.embedded.resize(t * b * e, 0.0);
            self.encoder
                .forward_into(&self.params, inputs, &mut ws.embedded)?;
            ws.embed_mask.apply_in_place(&mut ws.embedded)?;
            self.rnn.forward(
                be,
                &self.params,
                &ws.embedded,
                t,
                b,
                state,
                between,
                &mut ws.cache,
            )?
        };
        ws.top.clear();
        ws.top.extend_from_slice(self.rnn.output(&ws.cache));
        match rng {
            Some(r) => self
                .dropout
                .forward_in_place(r, &mut ws.top, t, b, h, &mut ws.top_mask)?,
            None => ws.top_mask.clear(),
        }
        *state = final_state;
        Ok(())
    }

    /// One training batch: forward, loss, backward. Gradients are *added* to
    /// `params.grads` (zero them first); `state` is replaced by the final state, detached
    /// (truncated BPTT: no gradient flows into the previous batch).
    #[allow(clippy::too_many_arguments)]
    pub fn train_batch(
        &mut self,
        be: &dyn Backend,
        inputs: &[u32],
        targets: &[u32],
        t: usize,
        b: usize,
        state: &mut RecurrentState,
        rng: &mut EngineRng,
    ) -> Result<CrossEntropy> {
        self.forward_hidden(be, inputs, t, b, state, Some(rng))?;
        let (v, e) = (self.spec.vocab, self.spec.embed);
        let ws = &mut self.ws;
        ws.logits.resize(t * b * v, 0.0);
        self.decoder
            .forward(be, &self.params, &ws.top, &mut ws.logits)?;
        // The logits buffer becomes d(loss)/d(logits).
        let ce = softmax_cross_entropy_in_place(be, &mut ws.logits, targets, v, None)?;
        ws.d_top.resize(ws.top.len(), 0.0);
        self.decoder.backward(
            be,
            &mut self.params,
            &ws.top,
            &ws.logits,
            Some(&mut ws.d_top),
        )?;
        ws.top_mask.backward_in_place(&mut ws.d_top)?;
        let input_rows = if ws.lookup { v } else { t * b };
        ws.d_embedded.resize(input_rows * e, 0.0);
        self.rnn.backward(
            be,
            &mut self.params,
            &mut ws.cache,
            &ws.d_top,
            None,
            &mut ws.d_embedded,
        )?;
        if ws.lookup {
            let grad = self.params.grad_mut(self.encoder.weight);
            for (g, d) in grad.iter_mut().zip(&ws.d_embedded) {
                *g += d;
            }
        } else {
            ws.embed_mask.backward_in_place(&mut ws.d_embedded)?;
            self.encoder
                .backward(&mut self.params, inputs, &ws.d_embedded)?;
        }
        Ok(ce)
    }

    /// Evaluation-mode loss of one batch (no dropout, no gradient); `state` advances.
    pub fn eval_batch(
        &mut self,
        be: &dyn Backend,
        inputs: &[u32],
        targets: &[u32],
        t: usize,
        b: usize,
        state: &mut RecurrentState,
    ) -> Result<CrossEntropy> {
        let vocab = self.spec.vocab;
        let logits = self.logits(be, inputs, t, b, state)?;
        cross_entropy(be, logits, targets, vocab, None)
    }

    /// Evaluation-mode logits `[T*B, V]` for `inputs`; `state` advances.
    pub fn logits(
        &mut self,
        be: &dyn Backend,
        inputs: &[u32],
        t: usize,
        b: usize,
        state: &mut RecurrentState,
    ) -> Result<&[f32]> {
        self.forward_hidden(be, inputs, t, b, state, None)?;
        let ws = &mut self.ws;
        ws.logits.resize(t * b * self.spec.vocab, 0.0);
        self.decoder
            .forward(be, &self.params, &ws.top, &mut ws.logits)?;
        Ok(&self.ws.logits)
    }

    /// Multiply-adds ×2 per token that one training step on `t·b` tokens executes: three times
    /// [`LanguageModel::forward_flops_per_token`], except that with a lookup the first layer's
    /// input projection and its two gradients run once per vocabulary row instead of per token.
    pub fn train_flops_per_token(&self, t: usize, b: usize) -> f64 {
        let s = &self.spec;
        let nominal = 3.0 * self.forward_flops_per_token();
        if !s.first_layer_looks_up(t * b, s.dropout > 0.0) {
            return nominal;
        }
        let projection = 2.0 * (s.cell.gates() * s.hidden * s.embed) as f64;
        nominal - 3.0 * projection * (1.0 - s.vocab as f64 / (t * b) as f64)
    }

    /// Multiply-adds ×2 of one forward pass per token (the GEMMs; gate math is negligible).
    /// A training step costs about three times this (forward, input and weight gradients).
    pub fn forward_flops_per_token(&self) -> f64 {
        let s = &self.spec;
        let g = s.cell.gates() as f64;
        let (e, h, v) = (s.embed as f64, s.hidden as f64, s.vocab as f64);
        let first = g * h * (e + h);
        let rest = (s.layers as f64 - 1.0) * g * h * (h + h);
        2.0 * (first + rest + h * v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    fn spec(cell: CellKind, tie: bool) -> ModelSpec {
        ModelSpec {
            cell,
            vocab: 11,
            embed: 6,
            hidden: 6,
            layers: 2,
            dropout: 0.0,
            locked_dropout: false,
            tie_weights: tie,
            forget_bias: Some(1.0),
            embed_init: None,
        }
    }

    #[test]
    fn embedding_starts_as_pytorch_untied_and_small_when_tied() {
        let table = |tie: bool, init: Option<EmbeddingInit>| {
            let s = ModelSpec {
                vocab: 400,
                embed_init: init,
                ..spec(CellKind::Lstm, tie)
            };
            let m = LanguageModel::new(s, 3).unwrap();
            m.params
                .value(m.params.id("encoder.weight").unwrap())
                .to_vec()
        };
        let sd = |w: &[f32]| (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        let untied = table(false, None);
        assert!(
            (sd(&untied) - 1.0).abs() < 0.1,
            "N(0, 1): sd {}",
            sd(&untied)
        );
        let tied = table(true, None);
        assert!(tied.iter().all(|v| v.abs() <= 0.1) && sd(&tied) > 0.05);
        let chosen = table(false, Some(EmbeddingInit::Uniform { bound: 0.1 }));
        assert!(chosen.iter().all(|v| v.abs() <= 0.1));
    }

    fn batch() -> (Vec<u32>, Vec<u32>, usize, usize) {
        batch_of(5, 3)
    }

    /// `t·b` tokens of the 11-token vocabulary: more than 11 makes the first layer gather its
    /// projected inputs from the embedding (a lookup), fewer feeds it rows.
    fn batch_of(t: usize, b: usize) -> (Vec<u32>, Vec<u32>, usize, usize) {
        let inputs = (0..t * b).map(|i| (i * 7 % 11) as u32).collect();
        let targets = (0..t * b).map(|i| (i * 5 % 11) as u32).collect();
        (inputs, targets, t, b)
    }

    fn random_state(m: &LanguageModel, b: usize) -> RecurrentState {
        let mut s = m.zero_state(b);
        let mut rng = seeded(9);
        for v in s.h.iter_mut().chain(s.c.iter_mut()) {
            crate::rng::fill_uniform(&mut rng, v, 0.5);
        }
        s
    }

    /// Whole-model finite-difference check of every parameter tensor (a sample of coordinates
    /// in each), for every cell kind, from a non-zero carried initial state, with the first
    /// layer's input as embedding rows and as a lookup of the projected table.
    #[test]
    fn whole_model_gradients_match_finite_differences() {
        let be = CpuBackend::single_thread();
        let cells = [
            CellKind::RnnTanh,
            CellKind::RnnRelu,
            CellKind::Lstm,
            CellKind::Gru,
        ];
        for ((cell, tie), (t, b)) in cells
            .into_iter()
            .flat_map(|c| [(c, false), (c, true)])
            .flat_map(|ct| [(ct, (5, 3)), (ct, (3, 3))])
        {
            let mut m = LanguageModel::new(spec(cell, tie), 3).unwrap();
            let (inputs, targets, t, b) = batch_of(t, b);
            let lookup = m.spec.vocab < t * b;
            let s0 = random_state(&m, b);
            m.params.zero_grads();
            let mut s = s0.clone();
            m.train_batch(&be, &inputs, &targets, t, b, &mut s, &mut seeded(0))
                .unwrap();
            let analytic = m.params.grads.clone();
            let entries = m.params.entries().to_vec();
            for e in &entries {
                for k in [0, e.len / 2, e.len - 1] {
                    let i = e.offset + k;
                    // ReLU's kink needs a smaller step; tanh/sigmoid cells are smooth.
                    let eps = if cell == CellKind::RnnRelu {
                        1e-3f32
                    } else {
                        1e-2
                    };
                    let orig = m.params.values[i];
                    let mut loss_at = |v: f32| {
                        m.params.values[i] = v;
                        let mut s = s0.clone();
                        m.eval_batch(&be, &inputs, &targets, t, b, &mut s)
                            .unwrap()
                            .mean
                    };
                    let numeric = (loss_at(orig + eps) - loss_at(orig - eps)) / (2.0 * eps as f64);
                    m.params.values[i] = orig;
                    let a = analytic[i] as f64;
                    let tol = 2e-3 + 2e-2 * a.abs().max(numeric.abs());
                    assert!(
                            (a - numeric).abs() < tol,
                            "{cell:?} tie={tie} lookup={lookup} {}[{k}]: analytic {a} vs numeric {numeric}",
                            e.name
                        );
                }
            }
        }
    }

    #[test]
    fn pytorch_names_and_state_carry() {
        let m = LanguageModel::new(spec(CellKind::Lstm, false), 1).unwrap();
        let names: Vec<&str> = m.params.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "encoder.weight",
                "rnn.weight_ih_l0",
                "rnn.weight_hh_l0",
                "rnn.bias_ih_l0",
                "rnn.bias_hh_l0",
                "rnn.weight_ih_l1",
                "rnn.weight_hh_l1",
                "rnn.bias_ih_l1",
                "rnn.bias_hh_l1",
                "decoder.weight",
                "decoder.bias"
            ]
        );
        // Running two halves with the state carried equals running the whole sequence.
        let be = CpuBackend::single_thread();
        let mut m = m;
        let (inputs, targets, t, b) = batch();
        let mut s = m.zero_state(b);
        let whole = m.eval_batch(&be, &inputs, &targets, t, b, &mut s).unwrap();
        let mut s = m.zero_state(b);
        let cut = 2 * b;
        let a = m
            .eval_batch(&be, &inputs[..cut], &targets[..cut], 2, b, &mut s)
            .unwrap();
        let c = m
            .eval_batch(&be, &inputs[cut..], &targets[cut..], t - 2, b, &mut s)
            .unwrap();
        assert!(((a.sum + c.sum) - whole.sum).abs() < 1e-4);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let mut s = spec(CellKind::Gru, true);
        s.hidden = 8;
        assert!(LanguageModel::new(s, 0).is_err());
        let mut s = spec(CellKind::Gru, false);
        s.dropout = 1.0;
        assert!(LanguageModel::new(s, 0).is_err());
        let mut m = LanguageModel::new(spec(CellKind::Gru, false), 0).unwrap();
        let be = CpuBackend::single_thread();
        let mut st = m.zero_state(2);
        assert!(m
            .eval_batch(&be, &[1, 2, 3], &[1, 2, 3], 2, 2, &mut st)
            .is_err());
        assert!(m
            .eval_batch(&be, &[1, 2, 3, 40], &[1, 2, 3, 4], 2, 2, &mut st)
            .is_err());
    }
}
