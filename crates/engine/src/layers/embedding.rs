//! Token embedding: a `[V, E]` table whose rows are gathered for token ids.
//!
//! The backward pass is sparse: only the rows of tokens that occurred receive gradient, and a
//! token that occurs several times accumulates all of its contributions (`+=`).

use serde::{Deserialize, Serialize};

use crate::error::check_len;
use crate::rng::{fill_normal, fill_uniform, EngineRng};
use crate::{EngineError, ParamId, ParamStore, Result};

/// How the embedding table is initialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmbeddingInit {
    /// N(0, 1): PyTorch's `nn.Embedding` default.
    #[default]
    Normal,
    /// U(-bound, bound): the PyTorch word-language-model example uses bound 0.1, which trains
    /// better than N(0, 1) when the table is tied to the output head.
    Uniform { bound: f32 },
}

/// A `[vocab, dim]` lookup table registered as `{prefix}.weight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    pub weight: ParamId,
    pub vocab: usize,
    pub dim: usize,
}

impl Embedding {
    /// Registers `{prefix}.weight` with shape `[vocab, dim]` (zeros until [`Embedding::init`]).
    pub fn new(params: &mut ParamStore, prefix: &str, vocab: usize, dim: usize) -> Result<Self> {
        if vocab == 0 || dim == 0 {
            return Err(EngineError::Config(format!(
                "embedding `{prefix}`: vocab ({vocab}) and dim ({dim}) must be positive"
            )));
        }
        let weight = params.add(format!("{prefix}.weight"), &[vocab, dim]);
        Ok(Embedding { weight, vocab, dim })
    }

    pub fn init(&self, params: &mut ParamStore, rng: &mut EngineRng, init: EmbeddingInit) {
        let w = params.value_mut(self.weight);
        match init {
            EmbeddingInit::Normal => fill_normal(rng, w, 1.0),
            EmbeddingInit::Uniform { bound } => fill_uniform(rng, w, bound),
        }
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<()> {
        match tokens.iter().position(|&t| t as usize >= self.vocab) {
            None => Ok(()),
            Some(i) => Err(EngineError::shape(
                format!("embedding token id at position {i}"),
                format!("< {}", self.vocab),
                tokens[i],
            )),
        }
    }

    /// Writes the rows of `tokens` into `out` (`[tokens.len(), dim]`).
    pub fn forward_into(&self, params: &ParamStore, tokens: &[u32], out: &mut [f32]) -> Result<()> {
        check_len("embedding output", tokens.len() * self.dim, out.len())?;
        self.check_tokens(tokens)?;
        let table = params.value(self.weight);
        for (&t, row) in tokens.iter().zip(out.chunks_exact_mut(self.dim)) {
            let start = t as usize * self.dim;
            row.copy_from_slice(&table[start..start + self.dim]);
        }
        Ok(())
    }

    /// Returns the `[tokens.len(), dim]` rows of `tokens`.
    pub fn forward(&self, params: &ParamStore, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; tokens.len() * self.dim];
        self.forward_into(params, tokens, &mut out)?;
        Ok(out)
    }

    /// Adds `dout` (`[tokens.len(), dim]`) into the gradient rows of `tokens`.
    pub fn backward(&self, params: &mut ParamStore, tokens: &[u32], dout: &[f32]) -> Result<()> {
        check_len(
            "embedding output gradient",
            tokens.len() * self.dim,
            dout.len(),
        )?;
        self.check_tokens(tokens)?;
        let grad = params.grad_mut(self.weight);
        for (&t, drow) in tokens.iter().zip(dout.chunks_exact(self.dim)) {
            let start = t as usize * self.dim;
            for (g, d) in grad[start..start + self.dim].iter_mut().zip(drow) {
                *g += d;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    fn setup() -> (ParamStore, Embedding) {
        let mut p = ParamStore::new();
        let emb = Embedding::new(&mut p, "encoder", 5, 3).unwrap();
        emb.init(&mut p, &mut seeded(7), EmbeddingInit::Normal);
        (p, emb)
    }

    #[test]
    fn forward_gathers_rows_under_pytorch_name() {
        let (p, emb) = setup();
        assert_eq!(p.id("encoder.weight").unwrap(), emb.weight);
        let out = emb.forward(&p, &[4, 0, 4]).unwrap();
        let w = p.value(emb.weight);
        assert_eq!(&out[0..3], &w[12..15]);
        assert_eq!(&out[3..6], &w[0..3]);
        assert_eq!(&out[6..9], &w[12..15]);
    }

    #[test]
    fn gradient_matches_finite_differences_with_repeated_ids() {
        let (mut p, emb) = setup();
        let tokens = [2u32, 1, 2, 2, 4];
        // Loss = sum(out * c) for a fixed c, so dL/dout = c.
        let c: Vec<f32> = (0..tokens.len() * 3)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let loss = |p: &ParamStore| -> f64 {
            let out = emb.forward(p, &tokens).unwrap();
            out.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum()
        };
        emb.backward(&mut p, &tokens, &c).unwrap();
        let analytic = p.grad(emb.weight).to_vec();
        let r = p.range(emb.weight);
        for (j, &want) in analytic.iter().enumerate() {
            let h = 1e-2;
            let orig = p.values[r.start + j];
            p.values[r.start + j] = orig + h;
            let up = loss(&p);
            p.values[r.start + j] = orig - h;
            let down = loss(&p);
            p.values[r.start + j] = orig;
            let numeric = (up - down) / (2.0 * h as f64);
            assert!(
                (numeric - want as f64).abs() < 1e-3,
                "weight[{j}]: numeric {numeric} vs analytic {want}"
            );
        }
        // Row 2 appeared three times: its gradient is the sum of three rows of c.
        let want0 = c[0] + c[6] + c[9];
        assert!((analytic[6] - want0).abs() < 1e-6);
        // Rows 0 and 3 never appeared.
        assert!(analytic[0..3]
            .iter()
            .chain(&analytic[9..12])
            .all(|&g| g == 0.0));
    }

    #[test]
    fn backward_accumulates_across_calls() {
        let (mut p, emb) = setup();
        emb.backward(&mut p, &[1], &[1.0, 2.0, 3.0]).unwrap();
        emb.backward(&mut p, &[1], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(&p.grad(emb.weight)[3..6], &[2.0, 4.0, 6.0]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let (mut p, emb) = setup();
        assert!(matches!(
            emb.forward(&p, &[5]),
            Err(EngineError::Shape { .. })
        ));
        assert!(emb.backward(&mut p, &[9], &[0.0; 3]).is_err());
        assert!(emb.backward(&mut p, &[1], &[0.0; 2]).is_err());
        let mut out = vec![0.0; 4];
        assert!(emb.forward_into(&p, &[1], &mut out).is_err());
        assert!(Embedding::new(&mut p, "e", 0, 3).is_err());
    }

    #[test]
    fn uniform_init_respects_bound() {
        let mut p = ParamStore::new();
        let emb = Embedding::new(&mut p, "e", 50, 8).unwrap();
        emb.init(
            &mut p,
            &mut seeded(1),
            EmbeddingInit::Uniform { bound: 0.1 },
        );
        let w = p.value(emb.weight);
        assert!(w.iter().all(|v| v.abs() <= 0.1));
        assert!(w.iter().any(|v| v.abs() > 0.05));
    }
}
