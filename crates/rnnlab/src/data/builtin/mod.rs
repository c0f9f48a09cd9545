//! The built-in corpus: English-like text generated from a seed by a stochastic finite-state
//! grammar ([`grammar::english`]), with its exact Bayes-optimal loss (the `floor`).
//!
//! The text is generated as one stream of sentences and cut **at sentence boundaries** into
//! train/valid/test by the given fractions, so every split starts at the grammar's start state
//! (a capitalized sentence start) and the floor of a split is exactly computable from it.
//!
//! Default corpus (seed 2024, 2.4 M characters; char-level, V = 47), on the validation split in
//! nats per character: ln V 3.850, unigram 3.043, bigram 2.303, floor 0.807. Generating it and
//! computing the floor takes about 0.2 s in release.
pub mod automaton;
pub mod floor;
pub mod grammar;
pub mod lexicon;

use super::corpus::SplitFractions;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BuiltinConfig {
    pub seed: u64,
    /// Total characters over all splits (approximate: splits end on sentence boundaries).
    pub chars: usize,
    pub fractions: SplitFractions,
}

impl Default for BuiltinConfig {
    fn default() -> Self {
        BuiltinConfig {
            seed: 2024,
            chars: 2_400_000,
            fractions: SplitFractions::default(),
        }
    }
}

/// The generated text and the exact optimal losses of its validation and test splits.
#[derive(Debug, Clone)]
pub struct BuiltinCorpus {
    pub train: String,
    pub valid: String,
    pub test: String,
    /// `-ln P(valid)` under the generator, and the number of characters scored.
    pub valid_floor: floor::Score,
    pub test_floor: floor::Score,
}

impl BuiltinCorpus {
    pub fn generate(config: &BuiltinConfig) -> BuiltinCorpus {
        let automaton = grammar::english();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let mut text = String::with_capacity(config.chars + 256);
        // byte offsets where a sentence (and so the automaton) is back at its start
        let mut boundaries = vec![0usize];
        let mut state = automaton.start();
        while text.len() < config.chars || state != automaton.start() {
            let e = automaton.sample(state, &mut rng);
            text.push_str(&e.text);
            state = e.to;
            if state == automaton.start() {
                boundaries.push(text.len());
            }
        }
        let total = text.len() as f64;
        let cut = |share: f64| {
            let target = (total * share).round() as usize;
            boundaries[boundaries
                .partition_point(|&b| b < target)
                .min(boundaries.len() - 1)]
        };
        let f = config.fractions;
        let a = cut(f.train);
        let b = cut(f.train + f.valid).max(a);
        let test = text[b..].to_string();
        let valid = text[a..b].to_string();
        text.truncate(a);

        let filter = floor::CharFilter::new(&automaton);
        let score = |t: &str| {
            filter
                .score(t)
                .expect("generated text is always possible under its own grammar")
        };
        BuiltinCorpus {
            valid_floor: score(&valid),
            test_floor: score(&test),
            train: text,
            valid,
            test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::stats::CorpusStats;
    use crate::data::tokenizer::TokenizerSpec;

    fn small() -> BuiltinConfig {
        BuiltinConfig {
            seed: 5,
            chars: 200_000,
            fractions: SplitFractions::default(),
        }
    }

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        let a = BuiltinCorpus::generate(&small());
        let b = BuiltinCorpus::generate(&small());
        assert_eq!(a.train, b.train);
        assert_eq!(a.valid_floor, b.valid_floor);
        let c = BuiltinCorpus::generate(&BuiltinConfig { seed: 6, ..small() });
        assert_ne!(a.train, c.train);
    }

    #[test]
    fn splits_start_at_sentence_starts_with_expected_sizes() {
        let c = BuiltinCorpus::generate(&small());
        let total = (c.train.len() + c.valid.len() + c.test.len()) as f64;
        assert!(total >= 200_000.0);
        assert!((c.train.len() as f64 / total - 0.9).abs() < 0.01);
        assert!((c.valid.len() as f64 / total - 0.05).abs() < 0.01);
        for split in [&c.valid, &c.test] {
            assert!(
                split.starts_with(|ch: char| ch.is_uppercase()),
                "{}",
                &split[..20]
            );
        }
        assert!(c.train.ends_with(". ") || c.train.ends_with(".\n"));
        assert_eq!(c.valid_floor.chars, c.valid.chars().count());
    }

    /// The floor must sit below every model estimated from data: bigram < unigram < ln V.
    #[test]
    fn floor_is_below_bigram_below_unigram_below_uniform() {
        let c = BuiltinCorpus::generate(&small());
        let tok = TokenizerSpec::Char
            .fit(&c.train, &[&c.valid, &c.test])
            .unwrap();
        let floor = c.valid_floor.nats_per_char();
        let s = CorpusStats::compute(
            &tok.encode(&c.train),
            &tok.encode(&c.valid),
            tok.vocab_size(),
            Some(floor),
        );
        assert!(floor > 0.5 && floor < s.bigram, "{s:?}");
        assert!(s.bigram < s.unigram && s.unigram < s.ln_vocab, "{s:?}");
        // the test split comes from the same process: its floor is close
        assert!((c.test_floor.nats_per_char() - floor).abs() < 0.1);
    }

    /// The default corpus: its size and the documented reference levels.
    #[test]
    fn default_corpus_reference_levels() {
        let c = BuiltinCorpus::generate(&BuiltinConfig::default());
        assert!((2_400_000..2_401_000).contains(&(c.train.len() + c.valid.len() + c.test.len())));
        let tok = TokenizerSpec::Char
            .fit(&c.train, &[&c.valid, &c.test])
            .unwrap();
        let floor = c.valid_floor.nats_per_char();
        let s = CorpusStats::compute(
            &tok.encode(&c.train),
            &tok.encode(&c.valid),
            tok.vocab_size(),
            Some(floor),
        );
        assert_eq!(tok.vocab_size(), 47);
        assert!((floor - 0.807).abs() < 0.002, "{s:?}");
        assert!((s.bigram - 2.303).abs() < 0.002, "{s:?}");
        assert!((s.unigram - 3.043).abs() < 0.002, "{s:?}");
    }
}
