//! Reference levels for a corpus, measured on the validation split in nats per token:
//!
//! - `ln_vocab`: the uniform model, `ln V`;
//! - `unigram`: cross-entropy of the validation tokens under training-split unigram counts with
//!   add-one (Laplace) smoothing, `p(w) = (c(w) + 1) / (N + V)`;
//! - `bigram`: the same for `p(w | v) = (c(v w) + 1) / (c(v) + V)` (the first validation token is
//!   scored by the unigram model);
//! - `floor`: the exact Bayes-optimal cross-entropy, known only for the built-in corpus.
//!
//! Tiny Shakespeare, char-level, 90/10 split gives 4.174 / 3.347 / 2.482 this way.
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorpusStats {
    pub ln_vocab: f64,
    pub unigram: f64,
    pub bigram: f64,
    pub floor: Option<f64>,
}

impl CorpusStats {
    pub fn compute(
        train: &[u32],
        valid: &[u32],
        vocab_size: usize,
        floor: Option<f64>,
    ) -> CorpusStats {
        let unigram = UnigramModel::fit(train, vocab_size);
        CorpusStats {
            ln_vocab: (vocab_size as f64).ln(),
            unigram: unigram.cross_entropy(valid),
            bigram: BigramModel::fit(train, vocab_size).cross_entropy(valid, &unigram),
            floor,
        }
    }
}

struct UnigramModel {
    counts: Vec<u64>,
    total: u64,
}

impl UnigramModel {
    fn fit(tokens: &[u32], vocab: usize) -> UnigramModel {
        let mut counts = vec![0u64; vocab];
        for &t in tokens {
            if let Some(c) = counts.get_mut(t as usize) {
                *c += 1;
            }
        }
        UnigramModel {
            counts,
            total: tokens.len() as u64,
        }
    }

    fn nll(&self, t: u32) -> f64 {
        let c = self.counts.get(t as usize).copied().unwrap_or(0);
        -(((c + 1) as f64) / ((self.total + self.counts.len() as u64) as f64)).ln()
    }

    fn cross_entropy(&self, tokens: &[u32]) -> f64 {
        mean(tokens.iter().map(|&t| self.nll(t)), tokens.len())
    }
}

/// Pair counts: dense for small vocabularies (characters), hashed otherwise (words).
enum PairCounts {
    Dense(Vec<u32>),
    Sparse(HashMap<(u32, u32), u32>),
}

struct BigramModel {
    vocab: usize,
    pairs: PairCounts,
    /// c(v) as a left context.
    context: Vec<u64>,
}

const DENSE_LIMIT: usize = 1024;

impl BigramModel {
    fn fit(tokens: &[u32], vocab: usize) -> BigramModel {
        Self::fit_with(tokens, vocab, vocab <= DENSE_LIMIT)
    }

    fn fit_with(tokens: &[u32], vocab: usize, dense: bool) -> BigramModel {
        let mut context = vec![0u64; vocab];
        let mut pairs = if dense {
            PairCounts::Dense(vec![0; vocab * vocab])
        } else {
            PairCounts::Sparse(HashMap::new())
        };
        for w in tokens.windows(2) {
            let (v, u) = (w[0], w[1]);
            if (v as usize) >= vocab || (u as usize) >= vocab {
                continue;
            }
            context[v as usize] += 1;
            match &mut pairs {
                PairCounts::Dense(m) => m[v as usize * vocab + u as usize] += 1,
                PairCounts::Sparse(m) => *m.entry((v, u)).or_insert(0) += 1,
            }
        }
        BigramModel {
            vocab,
            pairs,
            context,
        }
    }

    fn pair(&self, v: u32, u: u32) -> u64 {
        if (v as usize) >= self.vocab || (u as usize) >= self.vocab {
            return 0;
        }
        u64::from(match &self.pairs {
            PairCounts::Dense(m) => m[v as usize * self.vocab + u as usize],
            PairCounts::Sparse(m) => m.get(&(v, u)).copied().unwrap_or(0),
        })
    }

    fn cross_entropy(&self, tokens: &[u32], unigram: &UnigramModel) -> f64 {
        let Some(&first) = tokens.first() else {
            return f64::NAN;
        };
        let pairs = tokens.windows(2).map(|w| {
            let ctx = self.context.get(w[0] as usize).copied().unwrap_or(0);
            -(((self.pair(w[0], w[1]) + 1) as f64) / ((ctx + self.vocab as u64) as f64)).ln()
        });
        mean(
            std::iter::once(unigram.nll(first)).chain(pairs),
            tokens.len(),
        )
    }
}

fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    values.sum::<f64>() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tokenizer::TokenizerSpec;
    use std::path::Path;

    #[test]
    fn hand_computed_small_case() {
        // train "abab" (V=2): c(a)=2 c(b)=2 N=4; valid "ab"
        let train = [0, 1, 0, 1];
        let valid = [0, 1];
        let s = CorpusStats::compute(&train, &valid, 2, None);
        assert!((s.ln_vocab - 2f64.ln()).abs() < 1e-12);
        // unigram: p = 3/6 each
        assert!((s.unigram - 2f64.ln()).abs() < 1e-12);
        // bigram: first 'a' by unigram (ln 2); p(b|a) = (2+1)/(2+2)
        let expected = (2f64.ln() - (0.75f64).ln()) / 2.0;
        assert!((s.bigram - expected).abs() < 1e-12);
    }

    #[test]
    fn dense_and_sparse_pair_counts_agree() {
        let train: Vec<u32> = (0..5000u32).map(|i| (i * 7 + i / 3) % 50).collect();
        let valid: Vec<u32> = (0..500u32).map(|i| (i * 11 + i / 7) % 50).collect();
        let uni = UnigramModel::fit(&train, 50);
        let dense = BigramModel::fit_with(&train, 50, true).cross_entropy(&valid, &uni);
        let sparse = BigramModel::fit_with(&train, 50, false).cross_entropy(&valid, &uni);
        assert!((dense - sparse).abs() < 1e-12, "{dense} vs {sparse}");
    }

    /// SOURCES.md: tiny Shakespeare, char-level, 90/10 split: ln 65 = 4.174, unigram 3.347,
    /// bigram 2.484 (ours, add-one: 2.482).
    #[test]
    fn tiny_shakespeare_reference_levels() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/tinyshakespeare/input.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            crate::test_skip::skip(
                "tiny_shakespeare_reference_levels",
                &format!("{} not found", path.display()),
            );
            return;
        };
        let cut = text.len() * 9 / 10;
        let (train, valid) = text.split_at(cut);
        let tok = TokenizerSpec::Char.fit(train, &[valid]).unwrap();
        let s = CorpusStats::compute(
            &tok.encode(train),
            &tok.encode(valid),
            tok.vocab_size(),
            None,
        );
        assert!((s.ln_vocab - 4.174).abs() < 0.001, "{s:?}");
        assert!((s.unigram - 3.347).abs() < 0.001, "{s:?}");
        assert!((s.bigram - 2.484).abs() < 0.003, "{s:?}");
    }
}
