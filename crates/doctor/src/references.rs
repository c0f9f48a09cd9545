//! Loss levels a corpus allows, in nats per token, for `--corpus FILE` and for the training
//! side, which knows its token ids.
//!
//! Definitions (all estimated on the given sequence itself, so they describe the training data
//! rather than held-out text):
//! - `ln_vocab` = ln V, the loss of a uniform prediction over the vocabulary;
//! - `unigram` = H(X) = −Σ p(x) ln p(x) with p the token frequencies: what a model that ignores
//!   context converges to;
//! - `bigram` = H(X_t | X_{t−1}) = −Σ p(a, b) ln p(b | a) with p(a, b) and p(b | a) estimated
//!   from the counts of adjacent pairs: what a model that sees only the previous token reaches.
//!
//! `floor` is left unknown: no finite sample gives the best achievable loss.

use crate::References;
use std::collections::HashMap;

/// Character-level references of a text: V is the number of distinct characters.
pub fn from_text(text: &str) -> References {
    let mut ids_of: HashMap<char, u32> = HashMap::new();
    let ids: Vec<u32> = text
        .chars()
        .map(|c| {
            let next = ids_of.len() as u32;
            *ids_of.entry(c).or_insert(next)
        })
        .collect();
    from_tokens(&ids, ids_of.len())
}

/// References of a token id sequence over a vocabulary of `vocab` ids. Ids at or above
/// `vocab` are counted all the same (the entropies only need counts).
pub fn from_tokens(ids: &[u32], vocab: usize) -> References {
    let ln_vocab = (vocab > 0).then(|| (vocab as f64).ln());
    if ids.is_empty() {
        return References {
            ln_vocab,
            ..References::default()
        };
    }
    let mut unigram_counts: HashMap<u32, u64> = HashMap::new();
    for &id in ids {
        *unigram_counts.entry(id).or_insert(0) += 1;
    }
    let unigram = entropy(unigram_counts.values().copied(), ids.len() as u64);

    let bigram = (ids.len() >= 2).then(|| {
        // H(X_t | X_{t-1}) = H(X_{t-1}, X_t) − H(X_{t-1}), both over the same n − 1 pairs.
        let mut pair_counts: HashMap<u64, u64> = HashMap::new();
        let mut prev_counts: HashMap<u32, u64> = HashMap::new();
        for w in ids.windows(2) {
            *pair_counts
                .entry((w[0] as u64) << 32 | w[1] as u64)
                .or_insert(0) += 1;
            *prev_counts.entry(w[0]).or_insert(0) += 1;
        }
        let pairs = (ids.len() - 1) as u64;
        let joint = entropy(pair_counts.values().copied(), pairs);
        let previous = entropy(prev_counts.values().copied(), pairs);
        (joint - previous).max(0.0)
    });

    References {
        ln_vocab,
        unigram: Some(unigram),
        bigram,
        floor: None,
    }
}

/// Entropy in nats of the distribution given by counts summing to `total`.
fn entropy(counts: impl Iterator<Item = u64>, total: u64) -> f64 {
    let total = total as f64;
    let h: f64 = counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / total;
            -p * p.ln()
        })
        .sum();
    h.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn uniform_independent_text() {
        // Every pair of "ab" occurs equally often: unigram ln 2, bigram ln 2.
        let r = from_text("aabbaabbaabbaabba");
        assert!(close(r.ln_vocab.unwrap(), 2f64.ln()));
        let u = r.unigram.unwrap();
        assert!((u - 2f64.ln()).abs() < 0.01, "{u}");
        let b = r.bigram.unwrap();
        assert!((b - 2f64.ln()).abs() < 0.01, "{b}");
    }

    #[test]
    fn deterministic_successor_has_zero_bigram_entropy() {
        let r = from_text(&"abc".repeat(100));
        assert!(close(r.ln_vocab.unwrap(), 3f64.ln()));
        assert!(close(r.unigram.unwrap(), 3f64.ln()));
        assert!(r.bigram.unwrap().abs() < 1e-12);
        assert_eq!(r.floor, None);
    }

    #[test]
    fn skewed_unigram_matches_the_formula() {
        let ids = [0, 0, 0, 1];
        let r = from_tokens(&ids, 10);
        let expect = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
        assert!(close(r.unigram.unwrap(), expect));
        assert!(close(r.ln_vocab.unwrap(), 10f64.ln()));
        // pairs: 00, 00, 01 → after 0: {0: 2/3, 1: 1/3}
        let h = -(2.0 / 3.0 * (2.0f64 / 3.0).ln() + 1.0 / 3.0 * (1.0f64 / 3.0).ln());
        assert!(close(r.bigram.unwrap(), h));
    }

    #[test]
    fn bigram_never_exceeds_unigram_on_real_text() {
        let text =
            "the quick brown fox jumps over the lazy dog and the cat sat on the mat ".repeat(5);
        let r = from_text(&text);
        assert!(r.bigram.unwrap() < r.unigram.unwrap());
        assert!(r.unigram.unwrap() < r.ln_vocab.unwrap());
    }

    #[test]
    fn empty_and_single() {
        let r = from_text("");
        assert_eq!(r, References::default());
        let r = from_tokens(&[3], 5);
        assert_eq!(r.unigram, Some(0.0));
        assert_eq!(r.bigram, None);
    }
}
