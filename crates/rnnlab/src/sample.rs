//! Text generation from a trained model: temperature, top-k and nucleus (top-p) sampling,
//! streaming each decoded piece to a callback as it is produced.

use engine::layers::loss::softmax_in_place;
use engine::model::LanguageModel;
use engine::rng::seeded;
use engine::Backend;
use rand::Rng;

use crate::data::AnyTokenizer;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub prompt: String,
    /// Tokens to generate after the prompt.
    pub len: usize,
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1 = all).
    pub top_p: f32,
    pub seed: u64,
}

/// Picks a token from `probs` (a distribution over the vocabulary) after top-k and top-p
/// truncation, with a uniform draw `u` in [0, 1).
pub fn pick(probs: &[f32], top_k: usize, top_p: f32, u: f32) -> usize {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let mut keep = if top_k == 0 {
        order.len()
    } else {
        top_k.min(order.len())
    };
    if top_p < 1.0 {
        let mut mass = 0.0;
        for (i, &id) in order.iter().enumerate().take(keep) {
            mass += probs[id];
            if mass >= top_p {
                keep = i + 1;
                break;
            }
        }
    }
    let kept = &order[..keep.max(1)];
    let total: f32 = kept.iter().map(|&i| probs[i]).sum();
    let mut target = u * total;
    for &id in kept {
        target -= probs[id];
        if target < 0.0 {
            return id;
        }
    }
    kept[kept.len() - 1]
}

/// Generates `opts.len` tokens after the prompt and returns the generated text (without the
/// prompt); `on_piece` receives each decoded piece as it is produced.
pub fn sample(
    be: &dyn Backend,
    model: &mut LanguageModel,
    tokenizer: &AnyTokenizer,
    opts: &SampleOptions,
    mut on_piece: impl FnMut(&str),
) -> engine::Result<String> {
    let vocab = model.spec.vocab;
    let mut rng = seeded(opts.seed);
    let mut state = model.zero_state(1);
    let mut context = tokenizer.encode(&opts.prompt);
    if context.is_empty() {
        // No prompt: start from a random token, as char-rnn does.
        context.push(rng.random_range(0..vocab as u32));
    }
    // Feed the prompt in one pass; only its last position's prediction matters.
    let mut probs = {
        let logits = model.logits(be, &context, context.len(), 1, &mut state)?;
        logits[(context.len() - 1) * vocab..].to_vec()
    };
    let mut generated = Vec::with_capacity(opts.len);
    let mut stream = StreamDecoder::default();
    for _ in 0..opts.len {
        softmax_in_place(&mut probs, vocab, opts.temperature)?;
        let next = pick(&probs, opts.top_k, opts.top_p, rng.random()) as u32;
        generated.push(next);
        if let Some(piece) = stream.push(tokenizer, next) {
            on_piece(&piece);
        }
        probs.copy_from_slice(model.logits(be, &[next], 1, 1, &mut state)?);
    }
    if let Some(piece) = stream.finish(tokenizer) {
        on_piece(&piece);
    }
    Ok(tokenizer.decode(&generated))
}

/// Turns a growing sequence of tokens into text pieces in time linear in its length.
///
/// A token's text can depend on its neighbours (the word tokenizer puts a space between words;
/// the byte tokenizer and byte-level BPE split a character over several tokens), so new tokens
/// are decoded after a short window of the tokens already shown, and the window's own text is
/// cut off. Tokens whose text ends in an incomplete character wait for the next token.
#[derive(Default)]
struct StreamDecoder {
    /// The last tokens already shown (context for the next decode).
    shown: Vec<u32>,
    /// Tokens not shown yet.
    pending: Vec<u32>,
}

/// Tokens of context kept before the new ones.
const STREAM_CONTEXT: usize = 8;
/// Give up waiting for a character to complete after this many tokens.
const STREAM_MAX_PENDING: usize = 8;

impl StreamDecoder {
    /// Adds a token; returns the text it completes, if any.
    fn push(&mut self, tokenizer: &AnyTokenizer, token: u32) -> Option<String> {
        self.pending.push(token);
        let piece = self.piece(tokenizer)?;
        if piece.ends_with(char::REPLACEMENT_CHARACTER) && self.pending.len() < STREAM_MAX_PENDING {
            return None;
        }
        self.show();
        (!piece.is_empty()).then_some(piece)
    }

    /// The text of the tokens still waiting, at the end of generation.
    fn finish(&mut self, tokenizer: &AnyTokenizer) -> Option<String> {
        let piece = self.piece(tokenizer).filter(|p| !p.is_empty());
        self.show();
        piece
    }

    /// Text of `pending` in the context of `shown`.
    fn piece(&self, tokenizer: &AnyTokenizer) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let before = tokenizer.decode(&self.shown);
        let all: Vec<u32> = self.shown.iter().chain(&self.pending).copied().collect();
        let text = tokenizer.decode(&all);
        // A decoder that rewrites the context (it should not) falls back to the bare tokens.
        Some(match text.strip_prefix(before.as_str()) {
            Some(rest) => rest.to_string(),
            None => tokenizer.decode(&self.pending),
        })
    }

    fn show(&mut self) {
        self.shown.append(&mut self.pending);
        let drop = self.shown.len().saturating_sub(STREAM_CONTEXT);
        self.shown.drain(..drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TokenizerSpec;

    /// Streams `text`'s tokens one by one and returns the pieces.
    fn stream(tokenizer: &AnyTokenizer, text: &str) -> Vec<String> {
        let mut d = StreamDecoder::default();
        let mut pieces: Vec<String> = tokenizer
            .encode(text)
            .into_iter()
            .filter_map(|t| d.push(tokenizer, t))
            .collect();
        pieces.extend(d.finish(tokenizer));
        pieces
    }

    #[test]
    fn streamed_pieces_add_up_to_the_whole_decode() {
        let text = "the cat sat\non the mat\nthe cat ran\n";
        for spec in ["word", "char", "byte"] {
            let tokenizer = TokenizerSpec::parse(spec).unwrap().fit(text, &[]).unwrap();
            let whole = tokenizer.decode(&tokenizer.encode(text));
            assert_eq!(stream(&tokenizer, text).concat(), whole, "{spec}");
        }
    }

    #[test]
    fn a_character_split_over_byte_tokens_comes_out_whole() {
        let tokenizer = TokenizerSpec::parse("byte").unwrap().fit("", &[]).unwrap();
        let pieces = stream(&tokenizer, "né ☃!");
        assert_eq!(pieces, ["n", "é", " ", "☃", "!"]);
    }

    #[test]
    fn top_k_and_top_p_truncate() {
        let p = [0.1, 0.5, 0.3, 0.1];
        // top-k 1 always picks the mode.
        for u in [0.0, 0.5, 0.99] {
            assert_eq!(pick(&p, 1, 1.0, u), 1);
        }
        // top-p 0.8 keeps {1, 2}: u just below 0.5/0.8 still picks 1, above picks 2.
        assert_eq!(pick(&p, 0, 0.8, 0.6), 1);
        assert_eq!(pick(&p, 0, 0.8, 0.7), 2);
        // No truncation: the last bucket is reachable.
        assert_eq!(pick(&p, 0, 1.0, 0.95), 3);
    }
}
