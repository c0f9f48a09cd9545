//! The word tokenizer (PTB / WikiText style): each line is split on whitespace and gets an
//! `<eos>` appended, as PyTorch's word-language-model example does.
//!
//! Vocabulary: the training split's words and `<eos>`, ordered by descending frequency (ties by
//! first appearance). With `max_vocab = K`, the K-1 most frequent are kept and `<unk>` takes the
//! last id. Without a cap, `<unk>` is added (last id) only if the training text lacks it and
//! valid/test hold a word not in the vocabulary. Unseen words map to `<unk>`; text encoded later
//! with no `<unk>` in the vocabulary drops them.
use super::super::error::DataError;
use super::Tokenizer;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const EOS: &str = "<eos>";
pub const UNK: &str = "<unk>";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "WordTokenizerState", into = "WordTokenizerState")]
pub struct WordTokenizer {
    words: Vec<String>,
    index: HashMap<String, u32>,
    eos: u32,
    unk: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct WordTokenizerState {
    words: Vec<String>,
}

impl From<WordTokenizerState> for WordTokenizer {
    fn from(s: WordTokenizerState) -> Self {
        WordTokenizer::new(s.words)
    }
}

impl From<WordTokenizer> for WordTokenizerState {
    fn from(t: WordTokenizer) -> Self {
        WordTokenizerState { words: t.words }
    }
}

/// Each line's words followed by `<eos>`.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .flat_map(|line| line.split_whitespace().chain(std::iter::once(EOS)))
}

impl WordTokenizer {
    pub fn fit(
        train: &str,
        others: &[&str],
        max_vocab: Option<usize>,
    ) -> Result<WordTokenizer, DataError> {
        if max_vocab.is_some_and(|k| k < 2) {
            return Err(DataError::Tokenizer(
                "word vocabulary cap must be at least 2 (<eos> and <unk>)".into(),
            ));
        }
        // count, first appearance
        let mut counts: HashMap<&str, (u64, usize)> = HashMap::new();
        for (pos, w) in tokens(train).enumerate() {
            counts.entry(w).or_insert((0, pos)).0 += 1;
        }
        let mut ranked: Vec<(&str, u64, usize)> = counts
            .iter()
            .map(|(w, &(c, first))| (*w, c, first))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let mut words: Vec<String> = ranked.iter().map(|r| r.0.to_string()).collect();
        match max_vocab {
            Some(k) if words.len() > k => {
                words.retain(|w| w != UNK);
                words.truncate(k - 1);
                if !words.iter().any(|w| w == EOS) {
                    // <eos> must survive any cap: every line ends with it
                    words.pop();
                    words.push(EOS.into());
                }
                words.push(UNK.into());
            }
            _ => {
                let has_unk = counts.contains_key(UNK);
                let unseen = || {
                    others
                        .iter()
                        .any(|t| tokens(t).any(|w| !counts.contains_key(w)))
                };
                if !has_unk && unseen() {
                    words.push(UNK.into());
                }
            }
        }
        Ok(WordTokenizer::new(words))
    }

    fn new(words: Vec<String>) -> WordTokenizer {
        let index: HashMap<String, u32> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        let eos = index.get(EOS).copied().unwrap_or(u32::MAX);
        let unk = index.get(UNK).copied();
        WordTokenizer {
            words,
            index,
            eos,
            unk,
        }
    }

    /// The words in id order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Characters of `text` in words the vocabulary lacks (scored as `<unk>` where it has
    /// one, else left out).
    pub fn unknown_chars(&self, text: &str) -> usize {
        tokens(text)
            .filter(|w| !self.index.contains_key(*w))
            .map(|w| w.chars().count())
            .sum()
    }

    pub fn unk_id(&self) -> Option<u32> {
        self.unk
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        tokens(text)
            .filter_map(|w| self.index.get(w).copied().or(self.unk))
            .collect()
    }

    /// Words joined by single spaces, `<eos>` as a line break.
    fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        for &id in ids {
            if id == self.eos {
                out.push('\n');
            } else if let Some(w) = self.words.get(id as usize) {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push(' ');
                }
                out.push_str(w);
            }
        }
        out
    }

    fn vocab_size(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lines_get_eos_and_ids_follow_frequency() {
        let tok = WordTokenizer::fit("b a a\na c\n", &[], None).unwrap();
        assert_eq!(tok.words(), &["a", "<eos>", "b", "c"]);
        assert_eq!(tok.encode("a b\nc"), vec![0, 2, 1, 3, 1]);
        assert_eq!(tok.decode(&[0, 2, 1, 3, 1]), "a b\nc\n");
        assert_eq!(tok.unk_id(), None);
    }

    #[test]
    fn unseen_words_in_valid_reserve_unk() {
        let tok = WordTokenizer::fit("a b\n", &["a z\n"], None).unwrap();
        assert_eq!(tok.unk_id(), Some(3));
        // a, b, <eos> all seen once: ids by first appearance, <unk> last
        assert_eq!(tok.encode("z a"), vec![3, 0, 2]);
    }

    #[test]
    fn cap_keeps_most_frequent_and_eos_then_unk() {
        let text = "a a a b b c d\na a b\n"; // a:5 b:3 <eos>:2 c:1 d:1
        let tok = WordTokenizer::fit(text, &[], Some(4)).unwrap();
        assert_eq!(tok.words(), &["a", "b", EOS, UNK]);
        assert_eq!(tok.encode("d c a"), vec![3, 3, 0, 2]);
        // a cap that would cut <eos> still keeps it
        let tiny = WordTokenizer::fit(text, &[], Some(3)).unwrap();
        assert_eq!(tiny.words(), &["a", EOS, UNK]);
    }

    /// The classic PTB numbers: 929,589 / 73,760 / 82,430 tokens and V = 10,000.
    #[test]
    fn reproduces_ptb_counts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ptb");
        let read = |name: &str| std::fs::read_to_string(dir.join(name));
        let (Ok(train), Ok(valid), Ok(test)) = (
            read("ptb.train.txt"),
            read("ptb.valid.txt"),
            read("ptb.test.txt"),
        ) else {
            crate::test_skip::skip(
                "PTB vocabulary",
                &format!("PTB not found under {}", dir.display()),
            );
            return;
        };
        let tok = WordTokenizer::fit(&train, &[&valid, &test], None).unwrap();
        assert_eq!(tok.vocab_size(), 10_000);
        assert_eq!(tok.encode(&train).len(), 929_589);
        assert_eq!(tok.encode(&valid).len(), 73_760);
        assert_eq!(tok.encode(&test).len(), 82_430);
        let capped = WordTokenizer::fit(&train, &[], Some(5_000)).unwrap();
        assert_eq!(capped.vocab_size(), 5_000);
        assert_eq!(
            capped.encode(&valid).len(),
            73_760,
            "a cap changes ids, not counts"
        );
    }
}
