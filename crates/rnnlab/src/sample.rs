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
        context.push(rng.gen_range(0..vocab as u32));
    }
    // Feed the prompt in one pass; only its last position's prediction matters.
    let mut probs = {
        let logits = model.logits(be, &context, context.len(), 1, &mut state)?;
        logits[(context.len() - 1) * vocab..].to_vec()
    };
    let mut generated = Vec::with_capacity(opts.len);
    let mut emitted = String::new();
    for _ in 0..opts.len {
        softmax_in_place(&mut probs, vocab, opts.temperature)?;
        let next = pick(&probs, opts.top_k, opts.top_p, rng.gen()) as u32;
        generated.push(next);
        // Decode the whole continuation so multi-token characters come out whole.
        let text = tokenizer.decode(&generated);
        if let Some(piece) = text.strip_prefix(emitted.as_str()) {
            on_piece(piece);
        }
        emitted = text;
        probs.copy_from_slice(model.logits(be, &[next], 1, 1, &mut state)?);
    }
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use super::*;

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
