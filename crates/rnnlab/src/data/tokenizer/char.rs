//! The character tokenizer.
//!
//! Rule for unseen characters: the vocabulary is the set of distinct characters of the training
//! split, sorted by code point (ids 0..n). If the validation or test split holds a character the
//! training split lacks, one more id, `<unk>` = n, is reserved and those characters map to it.
//! Otherwise there is no `<unk>`, and unseen characters in text encoded later (a sampling prompt)
//! are dropped.
use super::Tokenizer;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "CharTokenizerState", into = "CharTokenizerState")]
pub struct CharTokenizer {
    chars: Vec<char>,
    has_unk: bool,
    /// Fast path for ASCII; `u32::MAX` marks "not in vocabulary".
    ascii: Box<[u32; 128]>,
    other: HashMap<char, u32>,
}

/// What is saved: the characters (as one string) and whether `<unk>` exists.
#[derive(Serialize, Deserialize)]
struct CharTokenizerState {
    chars: String,
    unk: bool,
}

impl From<CharTokenizerState> for CharTokenizer {
    fn from(s: CharTokenizerState) -> Self {
        CharTokenizer::new(s.chars.chars().collect(), s.unk)
    }
}

impl From<CharTokenizer> for CharTokenizerState {
    fn from(t: CharTokenizer) -> Self {
        CharTokenizerState {
            chars: t.chars.iter().collect(),
            unk: t.has_unk,
        }
    }
}

impl CharTokenizer {
    /// Vocabulary from `train`; `<unk>` reserved only if some char of `others` is not in it.
    pub fn fit(train: &str, others: &[&str]) -> CharTokenizer {
        let seen: BTreeSet<char> = train.chars().collect();
        let has_unk = others.iter().any(|t| t.chars().any(|c| !seen.contains(&c)));
        CharTokenizer::new(seen.into_iter().collect(), has_unk)
    }

    fn new(mut chars: Vec<char>, has_unk: bool) -> CharTokenizer {
        chars.sort_unstable();
        chars.dedup();
        let mut ascii = Box::new([u32::MAX; 128]);
        let mut other = HashMap::new();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_ascii() {
                ascii[c as usize] = i as u32;
            } else {
                other.insert(c, i as u32);
            }
        }
        CharTokenizer {
            chars,
            has_unk,
            ascii,
            other,
        }
    }

    /// The `<unk>` id, if reserved.
    pub fn unk_id(&self) -> Option<u32> {
        self.has_unk.then_some(self.chars.len() as u32)
    }

    /// The characters in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Characters of `text` that are not in the vocabulary (scored as `<unk>` when it exists,
    /// dropped otherwise).
    pub fn unknown_chars(&self, text: &str) -> usize {
        text.chars().filter(|&c| self.known(c).is_none()).count()
    }

    fn known(&self, c: char) -> Option<u32> {
        if c.is_ascii() {
            Some(self.ascii[c as usize]).filter(|&i| i != u32::MAX)
        } else {
            self.other.get(&c).copied()
        }
    }

    fn id(&self, c: char) -> Option<u32> {
        let id = if c.is_ascii() {
            Some(self.ascii[c as usize]).filter(|&i| i != u32::MAX)
        } else {
            self.other.get(&c).copied()
        };
        id.or(self.unk_id())
    }
}

impl Tokenizer for CharTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().filter_map(|c| self.id(c)).collect()
    }

    /// `<unk>` decodes to U+FFFD; ids out of range are skipped.
    fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .filter_map(|&i| match self.chars.get(i as usize) {
                Some(&c) => Some(c),
                None if Some(i) == self.unk_id() => Some('\u{FFFD}'),
                None => None,
            })
            .collect()
    }

    fn vocab_size(&self) -> usize {
        self.chars.len() + usize::from(self.has_unk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_sorted_training_chars_and_round_trips() {
        let tok = CharTokenizer::fit("hello wörld", &["low"]);
        assert_eq!(tok.chars(), &[' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö']);
        assert_eq!(tok.unk_id(), None);
        assert_eq!(tok.vocab_size(), 9);
        let ids = tok.encode("hello wörld");
        assert_eq!(ids[0], 3);
        assert_eq!(tok.decode(&ids), "hello wörld");
    }

    #[test]
    fn unk_is_reserved_only_when_valid_or_test_need_it() {
        let tok = CharTokenizer::fit("abc", &["abc", "abz"]);
        assert_eq!(tok.unk_id(), Some(3));
        assert_eq!(tok.vocab_size(), 4);
        assert_eq!(tok.encode("zab"), vec![3, 0, 1]);
        assert_eq!(tok.decode(&[3, 0]), "\u{FFFD}a");
        let no_unk = CharTokenizer::fit("abc", &["cab"]);
        assert_eq!(no_unk.vocab_size(), 3);
        assert_eq!(
            no_unk.encode("axb"),
            vec![0, 1],
            "unseen chars dropped without <unk>"
        );
        assert_eq!(no_unk.unknown_chars("axbyz☃"), 4);
        assert_eq!(
            tok.unknown_chars("zab"),
            1,
            "<unk> is not a known character"
        );
    }

    #[test]
    fn serialized_state_is_compact_and_restores_lookups() {
        let tok = CharTokenizer::fit("ba☃", &["q"]);
        let json = serde_json::to_string(&tok).unwrap();
        assert_eq!(json, r#"{"chars":"ab☃","unk":true}"#);
        let back: CharTokenizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back.encode("☃aq"), vec![2, 0, 3]);
    }
}
