//! Batching a token sequence for truncated backpropagation through time.
//!
//! **Streams** (the default, PyTorch word-LM `batchify`): the sequence is cut into `B` contiguous
//! streams of length `L = N / B` (the last `N mod B` tokens are dropped); batch `i` holds, for
//! every stream, inputs `[iT, iT + T)` and targets shifted by one. The caller carries the hidden
//! state from one batch to the next (cutting its gradient) and resets it when `reset_state` is
//! set (the first batch of every epoch). Training uses whole batches only: `(L - 1) / T` per
//! epoch, so the tail of each stream shorter than `T` is skipped.
//!
//! **Shuffled windows** (for comparison): the sequence is cut into non-overlapping windows of
//! `T + 1` tokens; each epoch visits them in a seeded random order, `B` per batch, with no state
//! carried (`reset_state` is always set). The order depends only on (seed, epoch), so a position
//! alone resumes exactly.
//!
//! All batches are **time-major**: `inputs[t * B + b]` is stream `b` at step `t`.
use super::error::DataError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BatchMode {
    Streams,
    ShuffledWindows { seed: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchConfig {
    pub batch_size: usize,
    pub bptt: usize,
    pub mode: BatchMode,
}

impl BatchConfig {
    /// Fewest tokens that give one training batch.
    pub fn min_tokens(&self) -> usize {
        match self.mode {
            BatchMode::Streams => self.batch_size * (self.bptt + 1),
            BatchMode::ShuffledWindows { .. } => self.batch_size * self.bptt + 1,
        }
    }
}

/// One batch, time-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub seq_len: usize,
    pub batch_size: usize,
    /// Zero the hidden state before this batch.
    pub reset_state: bool,
}

/// Where a batcher stands: the next batch to hand out. Saved in checkpoints for exact resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataPosition {
    pub epoch: u64,
    pub index: usize,
}

/// Training batches over the training split.
#[derive(Debug, Clone)]
pub struct TrainBatcher {
    tokens: Arc<[u32]>,
    config: BatchConfig,
    position: DataPosition,
    stream_len: usize,
    /// Window order of the current epoch (shuffled mode).
    order: Vec<usize>,
    order_epoch: Option<u64>,
}

impl TrainBatcher {
    pub fn new(
        tokens: impl Into<Arc<[u32]>>,
        config: BatchConfig,
    ) -> Result<TrainBatcher, DataError> {
        let tokens = tokens.into();
        if config.batch_size == 0 || config.bptt == 0 {
            return Err(DataError::Batching(
                "batch size and BPTT length must be positive".into(),
            ));
        }
        if tokens.len() < config.min_tokens() {
            return Err(DataError::Batching(format!(
                "{} tokens, one batch needs {} (batch {} x (bptt {} + 1))",
                tokens.len(),
                config.min_tokens(),
                config.batch_size,
                config.bptt
            )));
        }
        Ok(TrainBatcher {
            stream_len: tokens.len() / config.batch_size,
            tokens,
            config,
            position: DataPosition::default(),
            order: Vec::new(),
            order_epoch: None,
        })
    }

    pub fn config(&self) -> BatchConfig {
        self.config
    }

    pub fn batches_per_epoch(&self) -> usize {
        match self.config.mode {
            BatchMode::Streams => (self.stream_len - 1) / self.config.bptt,
            BatchMode::ShuffledWindows { .. } => self.num_windows() / self.config.batch_size,
        }
    }

    /// Target tokens in one batch.
    pub fn tokens_per_batch(&self) -> usize {
        self.config.batch_size * self.config.bptt
    }

    pub fn position(&self) -> DataPosition {
        self.position
    }

    /// Continue from a saved position.
    pub fn seek(&mut self, position: DataPosition) -> Result<(), DataError> {
        if position.index >= self.batches_per_epoch() {
            return Err(DataError::Batching(format!(
                "saved data position {} is past the {} batches per epoch (different data or batch settings?)",
                position.index,
                self.batches_per_epoch()
            )));
        }
        self.position = position;
        Ok(())
    }

    /// The batch at the current position; the position moves on (to the next epoch after the last).
    pub fn next_batch(&mut self) -> Batch {
        let DataPosition { epoch, index } = self.position;
        let batch = match self.config.mode {
            BatchMode::Streams => self.stream_batch(index),
            BatchMode::ShuffledWindows { seed } => self.window_batch(seed, epoch, index),
        };
        self.position.index += 1;
        if self.position.index == self.batches_per_epoch() {
            self.position = DataPosition {
                epoch: epoch + 1,
                index: 0,
            };
        }
        batch
    }

    fn stream_batch(&self, index: usize) -> Batch {
        let (b, t) = (self.config.batch_size, self.config.bptt);
        let start = index * t;
        let mut inputs = Vec::with_capacity(b * t);
        let mut targets = Vec::with_capacity(b * t);
        for step in 0..t {
            for stream in 0..b {
                let at = stream * self.stream_len + start + step;
                inputs.push(self.tokens[at]);
                targets.push(self.tokens[at + 1]);
            }
        }
        Batch {
            inputs,
            targets,
            seq_len: t,
            batch_size: b,
            reset_state: index == 0,
        }
    }

    fn num_windows(&self) -> usize {
        (self.tokens.len() - 1) / self.config.bptt
    }

    fn window_batch(&mut self, seed: u64, epoch: u64, index: usize) -> Batch {
        if self.order_epoch != Some(epoch) {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
                seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            self.order = (0..self.num_windows()).collect();
            self.order.shuffle(&mut rng);
            self.order_epoch = Some(epoch);
        }
        let (b, t) = (self.config.batch_size, self.config.bptt);
        let windows = &self.order[index * b..(index + 1) * b];
        let mut inputs = Vec::with_capacity(b * t);
        let mut targets = Vec::with_capacity(b * t);
        for step in 0..t {
            for &w in windows {
                let at = w * t + step;
                inputs.push(self.tokens[at]);
                targets.push(self.tokens[at + 1]);
            }
        }
        Batch {
            inputs,
            targets,
            seq_len: t,
            batch_size: b,
            reset_state: true,
        }
    }
}

/// Stateful evaluation over a whole split: `B` streams, batches of `T` steps and a last, shorter
/// one, so every position `1..L` of every stream is a target exactly once
/// (`B * (L - 1)` targets in all). Reset the hidden state before the first batch only.
#[derive(Debug, Clone)]
pub struct EvalBatches {
    tokens: Arc<[u32]>,
    batch_size: usize,
    bptt: usize,
    stream_len: usize,
}

impl EvalBatches {
    pub fn new(
        tokens: impl Into<Arc<[u32]>>,
        batch_size: usize,
        bptt: usize,
    ) -> Result<EvalBatches, DataError> {
        let tokens = tokens.into();
        if batch_size == 0 || bptt == 0 {
            return Err(DataError::Batching(
                "batch size and BPTT length must be positive".into(),
            ));
        }
        if tokens.len() < Self::min_tokens(batch_size) {
            return Err(DataError::Batching(format!(
                "{} tokens, evaluation with batch {batch_size} needs {}",
                tokens.len(),
                Self::min_tokens(batch_size)
            )));
        }
        Ok(EvalBatches {
            stream_len: tokens.len() / batch_size,
            tokens,
            batch_size,
            bptt,
        })
    }

    /// Fewest tokens for one evaluation batch: two per stream.
    pub fn min_tokens(batch_size: usize) -> usize {
        2 * batch_size
    }

    pub fn num_batches(&self) -> usize {
        (self.stream_len - 1).div_ceil(self.bptt)
    }

    /// Targets over all batches (the denominator of a token-weighted loss).
    pub fn num_targets(&self) -> usize {
        self.batch_size * (self.stream_len - 1)
    }

    pub fn iter(&self) -> impl Iterator<Item = Batch> + '_ {
        (0..self.num_batches()).map(move |i| {
            let start = i * self.bptt;
            let seq_len = self.bptt.min(self.stream_len - 1 - start);
            let mut inputs = Vec::with_capacity(seq_len * self.batch_size);
            let mut targets = Vec::with_capacity(seq_len * self.batch_size);
            for step in 0..seq_len {
                for stream in 0..self.batch_size {
                    let at = stream * self.stream_len + start + step;
                    inputs.push(self.tokens[at]);
                    targets.push(self.tokens[at + 1]);
                }
            }
            Batch {
                inputs,
                targets,
                seq_len,
                batch_size: self.batch_size,
                reset_state: i == 0,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(b: usize, t: usize) -> BatchConfig {
        BatchConfig {
            batch_size: b,
            bptt: t,
            mode: BatchMode::Streams,
        }
    }

    /// 0..=12 with B=2: streams [0..6) and [6..12) (12 dropped); T=2 → 2 batches per epoch.
    #[test]
    fn stream_layout_is_time_major_batchify() {
        let tokens: Vec<u32> = (0..13).collect();
        let mut b = TrainBatcher::new(tokens, streams(2, 2)).unwrap();
        assert_eq!(b.batches_per_epoch(), 2);
        let first = b.next_batch();
        assert_eq!(first.inputs, vec![0, 6, 1, 7]);
        assert_eq!(first.targets, vec![1, 7, 2, 8]);
        assert!(first.reset_state);
        let second = b.next_batch();
        assert_eq!(second.inputs, vec![2, 8, 3, 9]);
        assert_eq!(second.targets, vec![3, 9, 4, 10]);
        assert!(!second.reset_state);
        assert_eq!(b.position(), DataPosition { epoch: 1, index: 0 });
        let again = b.next_batch();
        assert_eq!(again, first, "a new epoch starts over with a reset");
    }

    #[test]
    fn consecutive_batches_continue_each_stream() {
        let tokens: Vec<u32> = (0..1000).collect();
        let mut b = TrainBatcher::new(tokens, streams(4, 7)).unwrap();
        let x = b.next_batch();
        let y = b.next_batch();
        for s in 0..4 {
            let last_target = x.targets[6 * 4 + s];
            assert_eq!(y.inputs[s], last_target, "stream {s} must continue");
        }
    }

    #[test]
    fn seek_resumes_exactly() {
        let tokens: Vec<u32> = (0..500).map(|i| (i * 31 % 97) as u32).collect();
        for mode in [BatchMode::Streams, BatchMode::ShuffledWindows { seed: 9 }] {
            let config = BatchConfig {
                batch_size: 3,
                bptt: 5,
                mode,
            };
            let mut a = TrainBatcher::new(tokens.clone(), config).unwrap();
            let per_epoch = a.batches_per_epoch();
            for _ in 0..per_epoch + 3 {
                a.next_batch();
            }
            let saved = a.position();
            let expected: Vec<Batch> = (0..per_epoch * 2).map(|_| a.next_batch()).collect();
            let mut b = TrainBatcher::new(tokens.clone(), config).unwrap();
            b.seek(saved).unwrap();
            let got: Vec<Batch> = (0..per_epoch * 2).map(|_| b.next_batch()).collect();
            assert_eq!(got, expected, "{mode:?}");
        }
    }

    #[test]
    fn shuffled_windows_cover_distinct_windows_and_reshuffle_per_epoch() {
        let tokens: Vec<u32> = (0..121).collect(); // 40 windows of T=3 (+1)
        let config = BatchConfig {
            batch_size: 4,
            bptt: 3,
            mode: BatchMode::ShuffledWindows { seed: 1 },
        };
        let mut b = TrainBatcher::new(tokens, config).unwrap();
        assert_eq!(b.batches_per_epoch(), 10);
        let epoch0: Vec<Batch> = (0..10).map(|_| b.next_batch()).collect();
        let mut starts: Vec<u32> = epoch0.iter().flat_map(|x| x.inputs[..4].to_vec()).collect();
        for x in &epoch0 {
            assert!(x.reset_state);
            for (i, t) in x.targets.iter().enumerate() {
                assert_eq!(*t, x.inputs[i] + 1);
            }
        }
        starts.sort();
        assert_eq!(starts, (0..40).map(|w| w * 3).collect::<Vec<u32>>());
        let epoch1: Vec<Batch> = (0..10).map(|_| b.next_batch()).collect();
        assert_ne!(epoch0, epoch1);
    }

    #[test]
    fn eval_covers_every_target_once_with_a_short_last_batch() {
        let tokens: Vec<u32> = (0..23).collect(); // B=2: streams of 11, 10 targets each
        let e = EvalBatches::new(tokens, 2, 4).unwrap();
        let batches: Vec<Batch> = e.iter().collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(
            batches.iter().map(|b| b.seq_len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        assert_eq!(e.num_targets(), 20);
        let mut targets: Vec<u32> = batches.iter().flat_map(|b| b.targets.clone()).collect();
        targets.sort();
        let expected: Vec<u32> = (1..11).chain(12..22).collect();
        assert_eq!(targets, expected);
        assert!(batches[0].reset_state && !batches[1].reset_state);
        assert_eq!(batches[2].inputs, vec![8, 19, 9, 20]);
    }

    #[test]
    fn too_few_tokens_is_an_error() {
        let err = TrainBatcher::new(vec![1u32; 10], streams(2, 5)).unwrap_err();
        assert!(err.to_string().contains("needs 12"), "{err}");
        assert!(EvalBatches::new(vec![1u32; 3], 2, 5).is_err());
        assert!(TrainBatcher::new(vec![1u32; 100], streams(0, 5)).is_err());
    }
}
