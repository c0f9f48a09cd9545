//! The step each line of a text log belongs to: per-epoch counters made global, counters
//! that restart stitched, lines without a counter placed by the last one seen or by their
//! epoch.

use super::LineValues;
use crate::formats::series::StepStitcher;

/// Turns each line's counters into a global step: a per-epoch counter `S/T` under an epoch
/// `E/N` becomes `(E - base)·T + S`; counters that restart are stitched; a line with a loss and
/// no counter belongs to the last step seen (llm.c prints `val loss` on its own line).
#[derive(Default)]
pub(super) struct StepTracker {
    pub(super) stitcher: StepStitcher,
    pub(super) epoch: Option<(f64, Option<f64>)>,
    pub(super) epoch_base: f64,
    pub(super) last_step: Option<f64>,
    pub(super) lines_with_loss: usize,
    /// The per-epoch total of a counter combined with its epoch, when one was.
    pub(super) per_epoch_total: Option<f64>,
    /// (global step, epoch) where a line logs both.
    pub(super) epoch_pairs: Vec<(f64, f64)>,
    /// Whether any line so far carried a step or epoch counter.
    pub(super) seen_counter: bool,
    /// Whether any line with a loss so far carried a step counter (not only an epoch).
    pub(super) seen_step: bool,
    /// Epoch numbers used as steps (an epoch-level log), stitched across restarts.
    pub(super) epoch_stitcher: StepStitcher,
    /// A counter from a line with nothing to plot, for the next line without a counter.
    pub(super) pending: Option<f64>,
    /// Training lines placed by a fractional epoch alone (Hugging Face's printed dicts), and
    /// how many of them repeat the previous one's epoch (it is printed rounded).
    pub(super) fractional_epoch_lines: usize,
    pub(super) repeated_epoch_lines: usize,
    pub(super) epoch_train_lines: usize,
    /// The step and value of the last training line placed by its epoch.
    pub(super) last_epoch_train: Option<(f64, f64)>,
    /// The name of that line's loss.
    pub(super) last_epoch_key: Option<String>,
    /// Lines with a loss whose `S/T` counter under an epoch is complete (`S == T`: Keras
    /// prints one such bar per epoch), and lines with a loss placed by any other counter.
    pub(super) epoch_end_bars: usize,
    pub(super) other_loss_lines: usize,
    /// The epoch and value of the last `S/T` counter seen under an epoch, and whether such a
    /// counter has been seen to rise across an epoch line (it counts the whole run).
    pub(super) last_counter: Option<(f64, f64)>,
    pub(super) counter_is_global: bool,
    /// Finished `S/S` bars with a loss seen before any epoch line.
    pub(super) headless_epoch_bars: usize,
}

impl StepTracker {
    /// A log placed by fractional epochs alone whose printed (rounded) epoch repeats from one
    /// training line to the next (`{'loss': 1.65, …, 'epoch': 0.38}` twice): keyed by epoch,
    /// the repeats would overwrite each other, so its points are numbered by line instead.
    pub(super) fn numbered_by_line(&self) -> bool {
        // A long run's first logs all print `'epoch': 0.0`: no fraction shows, but every
        // line repeats the last one's epoch.
        let mostly_repeats = 3 * self.repeated_epoch_lines >= self.epoch_train_lines;
        !self.seen_step
            && self.repeated_epoch_lines > 0
            && (self.fractional_epoch_lines > 0 || mostly_repeats)
    }

    /// A log whose every counted loss line is an epoch's finished bar (Keras `fit` output:
    /// `Epoch 3/10` then `110288/110288 [====] - loss: …`) is an epoch-level log: its points
    /// are numbered by epoch, as the user reads them, not by samples seen.
    pub(super) fn epoch_level_bars(&self) -> Option<f64> {
        (self.epoch_end_bars > 0 && self.other_loss_lines == 0)
            .then_some(self.per_epoch_total?)
            .filter(|t| *t > 0.0)
    }
}

/// Where a line's values go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Placement {
    /// A point of the curves at this step.
    Point(f64),
    /// An end-of-epoch summary in a log that counts steps (`Epoch 1/2 | train_loss: 0.19 |
    /// test_loss: 0.28`): its evaluation belongs at the epoch's end; its training value is an
    /// epoch mean beside the per-step curve, not a point of it.
    EpochSummary(f64),
}

impl StepTracker {
    pub(super) fn place(&mut self, v: &LineValues<'_>) -> Option<Placement> {
        let summary = v.step.is_none()
            && v.epoch.is_some()
            && self.seen_step
            && (v.train.is_some() || v.val.is_some());
        if !summary {
            return self.step_for(v).map(Placement::Point);
        }
        let (e, _) = v.epoch?;
        let end = match self.per_epoch_total {
            Some(total) if e.fract() == 0.0 && e >= self.epoch_base => {
                self.stitcher.global((e - self.epoch_base + 1.0) * total)
            }
            _ => self.last_step?,
        };
        self.last_step = Some(end);
        Some(Placement::EpochSummary(end))
    }

    fn step_for(&mut self, v: &LineValues<'_>) -> Option<f64> {
        if let Some(epoch) = v.epoch {
            if self.epoch.is_none() {
                self.epoch_base = if epoch.0 >= 1.0 { 1.0 } else { 0.0 };
            }
            self.epoch_base = self.epoch_base.min(epoch.0.max(0.0));
            self.epoch = Some(epoch);
        }
        let has_loss = v.train.is_some() || v.val.is_some();
        // An `S/T` counter that rose across an epoch line counts the whole run (kohya's
        // `steps: 82/3280` under `epoch 3/80`): it needs no epoch added.
        // (Only training lines: an evaluation's bar, `137/137` after `190/190`, counts other batches.)
        if let (Some((s, Some(_))), epoch, true) = (v.step, self.epoch, v.train.is_some()) {
            // Before any epoch line, the counter belongs to the run's first epoch.
            let e = epoch.map_or(f64::NEG_INFINITY, |(e, _)| e);
            if let Some((last_e, last_s)) = self.last_counter {
                self.counter_is_global |= e > last_e && s > last_s;
            }
            self.last_counter = Some((e, s));
        }
        let raw = match (v.step, self.epoch) {
            (Some((s, Some(per_epoch))), Some((e, _)))
                if e.fract() == 0.0
                    && s <= per_epoch
                    && e >= self.epoch_base
                    && !self.counter_is_global =>
            {
                if has_loss {
                    // An evaluation's bar (`137/137` with no loss) counts other batches.
                    self.per_epoch_total = Some(per_epoch);
                    self.epoch_end_bars += usize::from(s == per_epoch);
                    self.other_loss_lines += usize::from(s != per_epoch);
                }
                Some((e - self.epoch_base) * per_epoch + s)
            }
            // Keras' finished bars pasted without their `Epoch 3/50` lines (`40/40 [=====] -
            // 6s - loss: 2.30`): each is an epoch's end, the n-th bar epoch n — not step 40
            // over and over, which would keep only the last.
            (Some((s, Some(per_epoch))), None)
                if s == per_epoch && v.train.is_some() && self.other_loss_lines == 0 =>
            {
                self.headless_epoch_bars += 1;
                Some(self.headless_epoch_bars as f64)
            }
            (Some((s, _)), _) => {
                self.other_loss_lines += usize::from(has_loss);
                Some(s)
            }
            (None, _) => None,
        };
        // A counter on a line with nothing to plot (Caffe's `Iteration 500, Testing net`, but
        // also `iterations: 20000` in a dump of the settings) only tells where the next lines
        // without a counter of their own belong: it waits until one such line comes, so a
        // setting never enters the step sequence as a point the run went back from.
        if !has_loss && v.lr.is_none() && v.grad.is_none() {
            if let Some(s) = raw.filter(|s| s.is_finite()) {
                self.pending = Some(s);
            }
            self.seen_counter |= v.epoch.is_some();
            return None;
        }
        let raw = match raw {
            Some(s) => {
                self.pending = None;
                Some(s)
            }
            // A line with its own epoch counter is placed by that epoch.
            None if v.epoch.is_some() => {
                self.pending = None;
                None
            }
            None if has_loss => self.pending.take(),
            None => None,
        };
        self.seen_counter |= raw.is_some() || v.epoch.is_some();
        // A step counter on a line with a loss: the log has a per-step curve (a progress bar's
        // `16869/16869` beside an epoch says nothing about that).
        self.seen_step |= raw.is_some() && has_loss;
        let step = match raw {
            Some(s) if s.is_finite() => Some(self.stitcher.global(s)),
            Some(_) => None,
            None if !has_loss => None,
            // An epoch-level log (Keras `Epoch 3/10 … loss: 1.2`): the epoch is the step.
            // An epoch announced on a line of its own (`INFO: Epoch 3/29 --:`) places the
            // losses under it, in a log that counts no steps.
            None => match (
                v.epoch.or(self.epoch.filter(|_| !self.seen_step)),
                self.last_step,
            ) {
                // A second phase that counts its epochs from 1 again continues the first.
                (Some((e, _)), _) => {
                    let s = self.epoch_stitcher.global(e);
                    // The same loss printed again at the same epoch (`Train Loss: 4.4683`, then
                    // the same with the validation beside it) is that record again, not a repeat.
                    let reprint = self.last_epoch_train == Some((s, v.train.unwrap_or(f64::NAN)));
                    // Another loss of the same epoch's block (`loss_classifier`, then
                    // `attribute_loss`) is no repeat of the epoch either.
                    let sibling = self.last_epoch_train.is_some_and(|(step, _)| step == s)
                        && self.last_epoch_key.as_deref() != v.loss_key;
                    if v.train.is_some() && !reprint && !sibling {
                        // (Allocated only when the name changes: a log's lines share one.)
                        if self.last_epoch_key.as_deref() != v.loss_key {
                            self.last_epoch_key = v.loss_key.map(str::to_string);
                        }
                        self.fractional_epoch_lines += usize::from(e.fract() != 0.0);
                        self.epoch_train_lines += 1;
                        self.repeated_epoch_lines +=
                            usize::from(self.last_epoch_train.is_some_and(|(step, _)| step == s));
                        self.last_epoch_train = v.train.map(|l| (s, l));
                    }
                    Some(s)
                }
                // No counter anywhere yet (`print(f"loss: {loss}")`, timestamped lines): the
                // n-th line with a loss is step n.
                _ if !self.seen_counter => Some(self.lines_with_loss as f64),
                (None, Some(last)) => Some(last),
                (None, None) => Some(self.lines_with_loss as f64),
            },
        };
        if has_loss {
            self.lines_with_loss += 1;
        }
        if let Some(s) = step {
            self.last_step = Some(s);
            if let (Some((e, _)), true) = (v.epoch, raw.is_some()) {
                self.epoch_pairs.push((s, e));
            }
        }
        step
    }
}
