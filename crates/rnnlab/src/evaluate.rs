//! Token-weighted, stateful evaluation over a whole split, as the papers report it: the
//! hidden state carries from batch to batch, and the loss is the sum over every target token
//! divided by their count.

use engine::model::LanguageModel;
use engine::Backend;

use crate::data::EvalBatches;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalResult {
    /// Mean loss in nats per token.
    pub loss: f64,
    pub tokens: usize,
}

impl EvalResult {
    pub fn perplexity(&self) -> f64 {
        self.loss.exp()
    }

    /// Bits per token (bits per character for a char-level model).
    pub fn bits(&self) -> f64 {
        self.loss / std::f64::consts::LN_2
    }
}

/// Evaluates `models` over `batches`; several models are an ensemble whose predicted
/// probabilities are averaged token by token.
pub fn evaluate(
    be: &dyn Backend,
    models: &mut [LanguageModel],
    batches: &EvalBatches,
) -> engine::Result<EvalResult> {
    let mut sum = 0.0f64;
    let mut tokens = 0usize;
    let mut states: Vec<_> = models.iter().map(|m| m.zero_state(1)).collect();
    let mut mixed: Vec<f64> = Vec::new();
    for batch in batches.iter() {
        let (t, b) = (batch.seq_len, batch.batch_size);
        if batch.reset_state {
            for (s, m) in states.iter_mut().zip(models.iter()) {
                *s = m.zero_state(b);
            }
        }
        if let [model] = models {
            let ce = model.eval_batch(be, &batch.inputs, &batch.targets, t, b, &mut states[0])?;
            sum += ce.sum;
        } else {
            mixed.clear();
            mixed.resize(batch.targets.len(), 0.0);
            for (model, state) in models.iter_mut().zip(states.iter_mut()) {
                let vocab = model.spec.vocab;
                let logits = model.logits(be, &batch.inputs, t, b, state)?;
                for ((row, &target), p) in logits
                    .chunks_exact(vocab)
                    .zip(&batch.targets)
                    .zip(&mut mixed)
                {
                    let max = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                    let z: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
                    *p += ((row[target as usize] - max) as f64).exp() / z;
                }
            }
            let n = models.len() as f64;
            sum -= mixed.iter().map(|p| (p / n).ln()).sum::<f64>();
        }
        tokens += batch.targets.len();
    }
    Ok(EvalResult {
        loss: if tokens == 0 {
            f64::NAN
        } else {
            sum / tokens as f64
        },
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::layers::recurrent::CellKind;
    use engine::model::ModelSpec;
    use engine::CpuBackend;

    fn model(seed: u64) -> LanguageModel {
        LanguageModel::new(
            ModelSpec {
                cell: CellKind::Gru,
                vocab: 7,
                embed: 4,
                hidden: 5,
                layers: 1,
                dropout: 0.0,
                locked_dropout: false,
                tie_weights: false,
                forget_bias: None,
                embed_init: None,
            },
            seed,
        )
        .unwrap()
    }

    #[test]
    fn token_weighted_over_the_whole_split_and_ensemble_of_one_copy_agrees() {
        let be = CpuBackend::single_thread();
        let tokens: Vec<u32> = (0..203).map(|i| (i * i % 7) as u32).collect();
        let batches = EvalBatches::new(tokens, 4, 8).unwrap();
        let single = evaluate(&be, &mut [model(1)], &batches).unwrap();
        assert_eq!(single.tokens, batches.num_targets());
        assert!(single.loss > 0.0 && single.loss < 4.0);
        // An ensemble of two identical models predicts exactly what one does.
        let pair = evaluate(&be, &mut [model(1), model(1)], &batches).unwrap();
        assert!(
            (pair.loss - single.loss).abs() < 1e-5,
            "{} vs {}",
            pair.loss,
            single.loss
        );
        // Averaging probabilities never does worse than the average of the losses (Jensen).
        let other = evaluate(&be, &mut [model(2)], &batches).unwrap();
        let mix = evaluate(&be, &mut [model(1), model(2)], &batches).unwrap();
        assert!(mix.loss <= (single.loss + other.loss) / 2.0 + 1e-9);
    }
}
