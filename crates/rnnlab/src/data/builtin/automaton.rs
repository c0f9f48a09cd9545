//! A probabilistic automaton whose transitions emit whole strings: from state `s`, emit string
//! `w` and move to state `t` with probability `P(w, t | s)`.
//!
//! Every emitted string ends in one whitespace character (`' '` or `'\n'`) and has no other
//! whitespace, so the set of strings is prefix-free: reading characters, one always knows where
//! an emission ends, but not which state emitted it (several states may emit the same string),
//! which is why the floor needs the forward algorithm.
use rand::Rng;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Emission {
    pub text: String,
    pub to: usize,
    pub prob: f64,
}

#[derive(Debug, Clone)]
pub struct StringAutomaton {
    names: Vec<String>,
    start: usize,
    /// Per state: its emissions, and their cumulative probabilities for sampling.
    emissions: Vec<Vec<Emission>>,
    cumulative: Vec<Vec<f64>>,
}

impl StringAutomaton {
    /// Build from `(from, text, to, prob)` entries; duplicates are merged. Each state's
    /// probabilities must sum to 1 and each string must end in (and only contain at its end) a
    /// whitespace character.
    pub fn new(
        names: Vec<String>,
        start: usize,
        entries: impl IntoIterator<Item = (usize, String, usize, f64)>,
    ) -> Result<StringAutomaton, String> {
        let n = names.len();
        if start >= n {
            return Err(format!("start state {start} out of range"));
        }
        let mut merged: Vec<HashMap<(String, usize), f64>> = vec![HashMap::new(); n];
        for (from, text, to, prob) in entries {
            if from >= n || to >= n {
                return Err(format!("transition {from} -> {to} out of range"));
            }
            let ws = text
                .char_indices()
                .filter(|(_, c)| c.is_whitespace())
                .count();
            let ends_ws = text.ends_with([' ', '\n']);
            if !(ends_ws && ws == 1) {
                return Err(format!(
                    "{}: {text:?} must end in its only whitespace",
                    names[from]
                ));
            }
            if prob < 0.0 || !prob.is_finite() {
                return Err(format!("{}: bad probability {prob}", names[from]));
            }
            if prob > 0.0 {
                *merged[from].entry((text, to)).or_insert(0.0) += prob;
            }
        }
        let mut emissions = Vec::with_capacity(n);
        let mut cumulative = Vec::with_capacity(n);
        for (s, map) in merged.into_iter().enumerate() {
            let mut list: Vec<Emission> = map
                .into_iter()
                .map(|((text, to), prob)| Emission { text, to, prob })
                .collect();
            // deterministic order (HashMap order is not)
            list.sort_by(|a, b| a.text.cmp(&b.text).then(a.to.cmp(&b.to)));
            let total: f64 = list.iter().map(|e| e.prob).sum();
            if (total - 1.0).abs() > 1e-9 {
                return Err(format!("{}: probabilities sum to {total}, not 1", names[s]));
            }
            let mut acc = 0.0;
            cumulative.push(
                list.iter()
                    .map(|e| {
                        acc += e.prob;
                        acc
                    })
                    .collect(),
            );
            emissions.push(list);
        }
        Ok(StringAutomaton {
            names,
            start,
            emissions,
            cumulative,
        })
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn num_states(&self) -> usize {
        self.names.len()
    }

    pub fn state_name(&self, s: usize) -> &str {
        &self.names[s]
    }

    pub fn emissions(&self, s: usize) -> &[Emission] {
        &self.emissions[s]
    }

    /// Draw one emission from `state`.
    pub fn sample<R: Rng>(&self, state: usize, rng: &mut R) -> &Emission {
        let u: f64 = rng.random::<f64>() * self.cumulative[state].last().copied().unwrap_or(1.0);
        let i = self.cumulative[state].partition_point(|&c| c <= u);
        &self.emissions[state][i.min(self.emissions[state].len() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn two_state() -> StringAutomaton {
        let names = vec!["A".into(), "B".into()];
        StringAutomaton::new(
            names,
            0,
            [
                (0, "x ".into(), 1, 0.25),
                (0, "y ".into(), 0, 0.75),
                (1, "x ".into(), 0, 0.5),
                (1, "x ".into(), 0, 0.5), // merged with the previous
            ],
        )
        .unwrap()
    }

    #[test]
    fn duplicates_merge_and_sampling_follows_probabilities() {
        let a = two_state();
        assert_eq!(a.emissions(1).len(), 1);
        assert_eq!(a.emissions(1)[0].prob, 1.0);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let n = 20_000;
        let xs = (0..n)
            .filter(|_| a.sample(0, &mut rng).text == "x ")
            .count();
        let share = xs as f64 / n as f64;
        assert!((share - 0.25).abs() < 0.015, "{share}");
    }

    #[test]
    fn rejects_bad_automata() {
        let names = || vec!["A".to_string()];
        assert!(StringAutomaton::new(names(), 0, [(0, "x ".into(), 0, 0.5)]).is_err());
        assert!(StringAutomaton::new(names(), 0, [(0, "x".into(), 0, 1.0)]).is_err());
        assert!(StringAutomaton::new(names(), 0, [(0, "x y ".into(), 0, 1.0)]).is_err());
        assert!(StringAutomaton::new(names(), 0, [(0, "x ".into(), 3, 1.0)]).is_err());
    }
}
