//! The byte tokenizer: ids are the bytes themselves (V = 256). Works on any input.
use super::Tokenizer;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ByteTokenizer;

impl ByteTokenizer {
    /// Encode bytes that need not be UTF-8.
    pub fn encode_raw(&self, bytes: &[u8]) -> Vec<u32> {
        bytes.iter().map(|&b| u32::from(b)).collect()
    }
}

impl Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        self.encode_raw(text.as_bytes())
    }

    /// Ids above 255 cannot come from this tokenizer and are skipped; invalid UTF-8 sequences
    /// decode to U+FFFD.
    fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().filter_map(|&i| u8::try_from(i).ok()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn vocab_size(&self) -> usize {
        256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_utf8_text() {
        let text = "héllo, wörld — ☃\n";
        let ids = ByteTokenizer.encode(text);
        assert_eq!(ids.len(), text.len());
        assert!(ids.iter().all(|&i| i < 256));
        assert_eq!(ByteTokenizer.decode(&ids), text);
    }
}
