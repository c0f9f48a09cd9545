//! Output head: `logits[N, V] = x[N, H] · Wᵀ + b`, PyTorch's `nn.Linear` layout (`weight` is
//! `[out, in]`), optionally tied to an embedding table so the model has one `[V, E]` matrix
//! whose gradient collects both uses in the same flat slot.

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Trans};
use crate::error::check_len;
use crate::rng::{fill_uniform, EngineRng};
use crate::{EngineError, ParamId, ParamStore, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// `[out_features, in_features]`; the embedding's table when tied.
    pub weight: ParamId,
    /// `[out_features]`, registered as `{prefix}.bias`.
    pub bias: Option<ParamId>,
    pub in_features: usize,
    pub out_features: usize,
    /// True when `weight` belongs to an embedding (its init is the embedding's job).
    pub tied: bool,
}

impl Linear {
    /// Registers `{prefix}.weight` `[out, in]` and, if `bias`, `{prefix}.bias` `[out]`.
    pub fn new(
        params: &mut ParamStore,
        prefix: &str,
        in_features: usize,
        out_features: usize,
        bias: bool,
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(EngineError::Config(format!(
                "linear `{prefix}`: in ({in_features}) and out ({out_features}) features must be positive"
            )));
        }
        let weight = params.add(format!("{prefix}.weight"), &[out_features, in_features]);
        let bias = bias.then(|| params.add(format!("{prefix}.bias"), &[out_features]));
        Ok(Linear {
            weight,
            bias,
            in_features,
            out_features,
            tied: false,
        })
    }

    /// Uses the embedding table `embedding_weight` (`[V, E]`) as the weight, so the head maps
    /// `E == in_features` to `V` logits; only `{prefix}.bias` is registered.
    pub fn tied(
        params: &mut ParamStore,
        prefix: &str,
        embedding_weight: ParamId,
        in_features: usize,
        bias: bool,
    ) -> Result<Self> {
        let entry = params
            .entries()
            .get(embedding_weight.0)
            .ok_or_else(|| EngineError::UnknownParam(format!("#{}", embedding_weight.0)))?;
        let &[vocab, dim] = entry.shape.as_slice() else {
            return Err(EngineError::shape(
                format!("tied weight `{}`", entry.name),
                "[vocab, dim]",
                format!("{:?}", entry.shape),
            ));
        };
        if dim != in_features {
            return Err(EngineError::Config(format!(
                "weight tying needs the embedding size ({dim}) of `{}` to equal the head's input size ({in_features})",
                entry.name
            )));
        }
        let bias = bias.then(|| params.add(format!("{prefix}.bias"), &[vocab]));
        Ok(Linear {
            weight: embedding_weight,
            bias,
            in_features,
            out_features: vocab,
            tied: true,
        })
    }

    /// PyTorch's default: weight and bias U(±1/sqrt(in_features)); a tied weight is left alone.
    pub fn init(&self, params: &mut ParamStore, rng: &mut EngineRng) {
        let bound = 1.0 / (self.in_features as f32).sqrt();
        if !self.tied {
            fill_uniform(rng, params.value_mut(self.weight), bound);
        }
        if let Some(b) = self.bias {
            fill_uniform(rng, params.value_mut(b), bound);
        }
    }

    /// Rows of `x`, checking it is `[rows, in_features]`.
    fn rows(&self, x: &[f32]) -> Result<usize> {
        let rows = x.len() / self.in_features;
        if !x.len().is_multiple_of(self.in_features) {
            return Err(EngineError::shape(
                "linear input length",
                format!("a multiple of {}", self.in_features),
                x.len(),
            ));
        }
        Ok(rows)
    }

    /// `logits = x · Wᵀ + b` with one GEMM; `x` is `[N, in]`, `logits` `[N, out]`.
    pub fn forward(
        &self,
        backend: &dyn Backend,
        params: &ParamStore,
        x: &[f32],
        logits: &mut [f32],
    ) -> Result<()> {
        let n = self.rows(x)?;
        let (h, v) = (self.in_features, self.out_features);
        check_len("linear output", n * v, logits.len())?;
        let beta = match self.bias {
            Some(b) => {
                let bias = params.value(b);
                for row in logits.chunks_exact_mut(v) {
                    row.copy_from_slice(bias);
                }
                1.0
            }
            None => 0.0,
        };
        let w = params.value(self.weight);
        backend.sgemm(Trans::N, Trans::T, n, v, h, 1.0, x, w, beta, logits);
        Ok(())
    }

    /// Accumulates `dW += dlogitsᵀ · x` and `db += Σ_rows dlogits`, and overwrites `dx` (if given)
    /// with `dlogits · W`.
    pub fn backward(
        &self,
        backend: &dyn Backend,
        params: &mut ParamStore,
        x: &[f32],
        dlogits: &[f32],
        dx: Option<&mut [f32]>,
    ) -> Result<()> {
        let n = self.rows(x)?;
        let (h, v) = (self.in_features, self.out_features);
        check_len("linear output gradient", n * v, dlogits.len())?;
        if let Some(dx) = &dx {
            check_len("linear input gradient", n * h, dx.len())?;
        }
        let wr = params.range(self.weight);
        if let Some(dx) = dx {
            backend.sgemm(
                Trans::N,
                Trans::N,
                n,
                h,
                v,
                1.0,
                dlogits,
                &params.values[wr.clone()],
                0.0,
                dx,
            );
        }
        backend.sgemm(
            Trans::T,
            Trans::N,
            v,
            h,
            n,
            1.0,
            dlogits,
            x,
            1.0,
            &mut params.grads[wr],
        );
        if let Some(b) = self.bias {
            // Columns split across threads; each column still sums its rows in order.
            let db = params.grad_mut(b);
            let sum_rows = |_: usize, offset: usize, cols: &mut [f32]| {
                for row in dlogits.chunks_exact(v) {
                    let row = &row[offset..offset + cols.len()];
                    for (g, d) in cols.iter_mut().zip(row) {
                        *g += d;
                    }
                }
            };
            backend.for_each_chunk(db, 1, backend.threads(), &sum_rows);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::embedding::{Embedding, EmbeddingInit};
    use crate::rng::{fill_uniform, seeded};
    use crate::CpuBackend;

    /// Loss = Σ logits ⊙ c, so dL/dlogits = c; checks every parameter and input by central
    /// differences in f64 accumulation.
    fn check_gradients(params: &mut ParamStore, head: &Linear, extra: Option<&Embedding>) {
        let be = CpuBackend::single_thread();
        let n = 4;
        let mut rng = seeded(3);
        let mut x = vec![0.0; n * head.in_features];
        fill_uniform(&mut rng, &mut x, 1.0);
        let mut c = vec![0.0; n * head.out_features];
        fill_uniform(&mut rng, &mut c, 1.0);
        let tokens = [1u32, 0, 1, 2];
        let mut emb_dout = vec![0.0; tokens.len() * head.in_features];
        fill_uniform(&mut rng, &mut emb_dout, 1.0);

        let loss = |p: &ParamStore, x: &[f32]| -> f64 {
            let mut logits = vec![0.0; n * head.out_features];
            head.forward(&be, p, x, &mut logits).unwrap();
            let mut s: f64 = logits.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum();
            if let Some(emb) = extra {
                let e = emb.forward(p, &tokens).unwrap();
                s += e
                    .iter()
                    .zip(&emb_dout)
                    .map(|(a, b)| (a * b) as f64)
                    .sum::<f64>();
            }
            s
        };

        params.zero_grads();
        let mut dx = vec![0.0; x.len()];
        head.backward(&be, params, &x, &c, Some(&mut dx)).unwrap();
        if let Some(emb) = extra {
            emb.backward(params, &tokens, &emb_dout).unwrap();
        }
        let h = 1e-2f32;
        let close = |num: f64, ana: f32, what: &str| {
            assert!(
                (num - ana as f64).abs() < 2e-3 * (1.0 + num.abs()),
                "{what}: numeric {num} vs analytic {ana}"
            );
        };
        for j in 0..params.len() {
            let orig = params.values[j];
            params.values[j] = orig + h;
            let up = loss(params, &x);
            params.values[j] = orig - h;
            let down = loss(params, &x);
            params.values[j] = orig;
            close(
                (up - down) / (2.0 * h as f64),
                params.grads[j],
                &format!("param {j}"),
            );
        }
        for j in 0..x.len() {
            let mut xp = x.clone();
            xp[j] += h;
            let up = loss(params, &xp);
            xp[j] -= 2.0 * h;
            let down = loss(params, &xp);
            close((up - down) / (2.0 * h as f64), dx[j], &format!("x[{j}]"));
        }
    }

    #[test]
    fn untied_gradients_match_finite_differences() {
        let mut p = ParamStore::new();
        let head = Linear::new(&mut p, "decoder", 3, 5, true).unwrap();
        head.init(&mut p, &mut seeded(1));
        assert_eq!(p.entry(head.weight).name, "decoder.weight");
        assert_eq!(p.entry(head.weight).shape, vec![5, 3]);
        assert_eq!(p.entry(head.bias.unwrap()).name, "decoder.bias");
        check_gradients(&mut p, &head, None);
    }

    #[test]
    fn tied_gradients_collect_both_uses_in_one_slot() {
        let mut p = ParamStore::new();
        let emb = Embedding::new(&mut p, "encoder", 5, 3).unwrap();
        emb.init(
            &mut p,
            &mut seeded(2),
            EmbeddingInit::Uniform { bound: 0.5 },
        );
        let head = Linear::tied(&mut p, "decoder", emb.weight, 3, true).unwrap();
        head.init(&mut p, &mut seeded(4));
        assert_eq!(head.weight, emb.weight);
        assert_eq!(p.entries().len(), 2, "only the bias is new");
        check_gradients(&mut p, &head, Some(&emb));
    }

    #[test]
    fn forward_without_bias_matches_hand_product() {
        let be = CpuBackend::single_thread();
        let mut p = ParamStore::new();
        let head = Linear::new(&mut p, "out", 2, 3, false).unwrap();
        p.value_mut(head.weight)
            .copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mut logits = vec![9.0; 3];
        head.forward(&be, &p, &[1.0, -1.0], &mut logits).unwrap();
        assert_eq!(logits, vec![-1.0, -1.0, -1.0]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let be = CpuBackend::single_thread();
        let mut p = ParamStore::new();
        let emb = Embedding::new(&mut p, "encoder", 5, 3).unwrap();
        assert!(matches!(
            Linear::tied(&mut p, "decoder", emb.weight, 4, true),
            Err(EngineError::Config(_))
        ));
        assert!(Linear::tied(&mut p, "decoder", ParamId(99), 3, true).is_err());
        let head = Linear::new(&mut p, "out", 3, 5, true).unwrap();
        let mut logits = vec![0.0; 10];
        assert!(head.forward(&be, &p, &[0.0; 5], &mut logits).is_err());
        assert!(head.forward(&be, &p, &[0.0; 3], &mut logits).is_err());
        let mut dx = vec![0.0; 5];
        assert!(head
            .backward(&be, &mut p, &[0.0; 6], &[0.0; 10], Some(&mut dx))
            .is_err());
        assert!(Linear::new(&mut p, "z", 0, 5, true).is_err());
    }
}
