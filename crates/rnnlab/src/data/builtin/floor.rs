//! The exact Bayes-optimal cross-entropy of text from a [`StringAutomaton`].
//!
//! Filtering: at each emission boundary the belief is a distribution `alpha` over automaton
//! states. Inside an emission, with `p` the characters read since the boundary,
//!
//! `P(next char c | history) = sum_s alpha_s M_s(p + c) / sum_s alpha_s M_s(p)`
//!
//! where `M_s(q)` is the total probability that state `s` emits a string starting with `q`.
//! When `p` completes an emission (it ends in whitespace, and strings are prefix-free), the belief
//! moves on: `alpha'_t ∝ sum_s alpha_s P(p, t | s)`. This is the forward algorithm on the
//! character-level automaton (state, position inside the emission) with the position collapsed
//! because the characters read fix it. The sum of `-ln P(c | history)` over a text is `-ln P(text)`.
use super::automaton::StringAutomaton;
use std::collections::HashMap;

/// The automaton indexed by prefix for character-level filtering.
pub struct CharFilter {
    num_states: usize,
    start: usize,
    /// prefix → M_s(prefix) for every state (full strings included).
    prefix_mass: HashMap<String, Vec<f64>>,
    /// complete string → (from, to, probability).
    transitions: HashMap<String, Vec<(usize, usize, f64)>>,
}

/// The result of scoring a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// `-ln P(text)` in nats.
    pub total_nats: f64,
    /// Characters scored.
    pub chars: usize,
}

impl Score {
    pub fn nats_per_char(&self) -> f64 {
        self.total_nats / self.chars.max(1) as f64
    }
}

impl CharFilter {
    pub fn new(automaton: &StringAutomaton) -> CharFilter {
        let n = automaton.num_states();
        let mut prefix_mass: HashMap<String, Vec<f64>> = HashMap::new();
        let mut transitions: HashMap<String, Vec<(usize, usize, f64)>> = HashMap::new();
        for s in 0..n {
            for e in automaton.emissions(s) {
                for (i, c) in e.text.char_indices() {
                    let prefix = &e.text[..i + c.len_utf8()];
                    prefix_mass
                        .entry(prefix.to_string())
                        .or_insert_with(|| vec![0.0; n])[s] += e.prob;
                }
                transitions
                    .entry(e.text.clone())
                    .or_default()
                    .push((s, e.to, e.prob));
            }
        }
        CharFilter {
            num_states: n,
            start: automaton.start(),
            prefix_mass,
            transitions,
        }
    }

    /// Score `text` read from the automaton's start state. Errors name the first character the
    /// automaton cannot produce.
    pub fn score(&self, text: &str) -> Result<Score, String> {
        let mut alpha = vec![0.0; self.num_states];
        alpha[self.start] = 1.0;
        self.score_from(text, alpha)
    }

    /// Score `text` given belief `alpha` over states at an emission boundary.
    pub fn score_from(&self, text: &str, mut alpha: Vec<f64>) -> Result<Score, String> {
        let mut total = 0.0;
        let mut chars = 0usize;
        let mut prefix = String::new();
        // sum_s alpha_s M_s(prefix); 1 at a boundary because alpha is normalized
        let mut mass_before = alpha.iter().sum::<f64>();
        for (pos, c) in text.char_indices() {
            prefix.push(c);
            let mass_after = match self.prefix_mass.get(&prefix) {
                Some(m) => dot(&alpha, m),
                None => 0.0,
            };
            if mass_after <= 0.0 {
                return Err(format!(
                    "character {c:?} at byte {pos} is impossible under the grammar"
                ));
            }
            total -= (mass_after / mass_before).ln();
            chars += 1;
            if let Some(trans) = self.transitions.get(&prefix) {
                let mut next = vec![0.0; self.num_states];
                for &(from, to, p) in trans {
                    next[to] += alpha[from] * p;
                }
                for x in &mut next {
                    *x /= mass_after;
                }
                alpha = next;
                prefix.clear();
                mass_before = 1.0;
            } else {
                mass_before = mass_after;
            }
        }
        Ok(Score {
            total_nats: total,
            chars,
        })
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// S0: "a " → S0 (1/2), "a " → S1 (1/4), "b " → S1 (1/4); S1: "a " → S0 (1).
    /// For "a a ": P('a') = 3/4; P(' '|a) = 1; belief after "a " is S0: 2/3, S1: 1/3;
    /// P('a') = 2/3 · 3/4 + 1/3 · 1 = 5/6; P(' ') = 1. Total = -ln(3/4) - ln(5/6) over 4 chars.
    #[test]
    fn matches_a_hand_computed_ambiguous_grammar() {
        let a = StringAutomaton::new(
            vec!["S0".into(), "S1".into()],
            0,
            [
                (0, "a ".to_string(), 0, 0.5),
                (0, "a ".to_string(), 1, 0.25),
                (0, "b ".to_string(), 1, 0.25),
                (1, "a ".to_string(), 0, 1.0),
            ],
        )
        .unwrap();
        let f = CharFilter::new(&a);
        let s = f.score("a a ").unwrap();
        let expected = -(0.75f64).ln() - (5.0f64 / 6.0).ln();
        assert!(
            (s.total_nats - expected).abs() < 1e-12,
            "{} vs {expected}",
            s.total_nats
        );
        assert_eq!(s.chars, 4);
        // "b b " is impossible: S1 cannot emit "b "
        assert!(f.score("b b ").is_err());
        // the belief matters: after "b " the state is S1 for sure, so "a" is certain
        let s = f.score("b a ").unwrap();
        assert!((s.total_nats - -(0.25f64).ln()).abs() < 1e-12);
    }

    /// Multi-character words sharing prefixes: P(char) must split the mass inside a word.
    /// S0: "ab " (1/2) → S0, "ac " (1/4) → S0, "d " (1/4) → S0. "ac " costs
    /// -ln(3/4) - ln(1/3) - ln 1.
    #[test]
    fn splits_mass_inside_words() {
        let a = StringAutomaton::new(
            vec!["S0".into()],
            0,
            [
                (0, "ab ".to_string(), 0, 0.5),
                (0, "ac ".to_string(), 0, 0.25),
                (0, "d ".to_string(), 0, 0.25),
            ],
        )
        .unwrap();
        let s = CharFilter::new(&a).score("ac ").unwrap();
        let expected = -(0.75f64).ln() - (1.0f64 / 3.0).ln();
        assert!((s.total_nats - expected).abs() < 1e-12);
    }

    /// Brute force: P(text) summed over every hidden path must equal exp(-total) from the
    /// filter, on a random ambiguous automaton and texts sampled from it.
    #[test]
    fn agrees_with_brute_force_path_enumeration() {
        let words = ["a ", "ab ", "b ", "ba ", "a\n"];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 3;
        let mut entries = Vec::new();
        for from in 0..n {
            let mut weights: Vec<(String, usize, f64)> = Vec::new();
            for w in words {
                for to in 0..n {
                    if rng.random::<f64>() < 0.6 {
                        weights.push((w.to_string(), to, rng.random::<f64>() + 0.05));
                    }
                }
            }
            let total: f64 = weights.iter().map(|x| x.2).sum();
            entries.extend(
                weights
                    .into_iter()
                    .map(|(w, to, p)| (from, w, to, p / total)),
            );
        }
        let names = (0..n).map(|i| format!("S{i}")).collect();
        let a = StringAutomaton::new(names, 0, entries).unwrap();
        let filter = CharFilter::new(&a);

        fn brute(a: &StringAutomaton, state: usize, text: &str) -> f64 {
            if text.is_empty() {
                return 1.0;
            }
            a.emissions(state)
                .iter()
                .filter(|e| text.starts_with(e.text.as_str()))
                .map(|e| e.prob * brute(a, e.to, &text[e.text.len()..]))
                .sum()
        }

        for trial in 0..20 {
            let mut state = 0;
            let mut text = String::new();
            for _ in 0..(2 + trial % 6) {
                let e = a.sample(state, &mut rng);
                text.push_str(&e.text);
                state = e.to;
            }
            let p = brute(&a, 0, &text);
            let s = filter.score(&text).unwrap();
            assert!(
                ((-p.ln()) - s.total_nats).abs() < 1e-9,
                "{text:?}: brute {} vs filter {}",
                -p.ln(),
                s.total_nats
            );
        }
    }
}
