//! The terminal progress line: step, loss with a sparkline of recent values, validation loss,
//! learning rate, tokens/s and ETA. Off a terminal it prints one plain line per evaluation.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const SPARK_LEN: usize = 24;

/// A sparkline of `values` scaled between their min and max.
pub fn sparkline(values: impl IntoIterator<Item = f64>) -> String {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    v.iter()
        .map(|&x| {
            let f = if hi > lo { (x - lo) / (hi - lo) } else { 0.5 };
            SPARK[((f * 7.0).round() as usize).min(7)]
        })
        .collect()
}

pub struct Progress {
    bar: ProgressBar,
    recent: VecDeque<f64>,
    /// Running mean of the loss since the last sparkline point.
    acc: (f64, u32),
    points_every: u64,
    pub val_loss: Option<f64>,
}

impl Progress {
    /// `total` is the step horizon (0 = unknown); `hidden` silences the bar (tests, `--quiet`).
    pub fn new(total: u64, hidden: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some(total.max(1)),
            if hidden {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr_with_hz(4)
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} step {pos}/{len} {msg} eta {eta}")
                .expect("valid template"),
        );
        Progress {
            bar,
            recent: VecDeque::with_capacity(SPARK_LEN),
            acc: (0.0, 0),
            points_every: (total / 200).max(5),
            val_loss: None,
        }
    }

    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total.max(1));
    }

    pub fn update(&mut self, step: u64, loss: f64, lr: f64, tok_per_s: f64) {
        if loss.is_finite() {
            self.acc = (self.acc.0 + loss, self.acc.1 + 1);
        }
        if step.is_multiple_of(self.points_every) && self.acc.1 > 0 {
            if self.recent.len() == SPARK_LEN {
                self.recent.pop_front();
            }
            self.recent.push_back(self.acc.0 / self.acc.1 as f64);
            self.acc = (0.0, 0);
        }
        let val = self
            .val_loss
            .map_or(String::new(), |v| format!(" val {v:.4}"));
        self.bar.set_position(step + 1);
        self.bar.set_message(format!(
            "loss {loss:.4} {}{val} lr {lr:.2e} {:.1}k tok/s",
            sparkline(self.recent.iter().copied()),
            tok_per_s / 1e3
        ));
    }

    /// A line above the bar (or on stderr when the bar is hidden or off a terminal).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline([1.0, 2.0, 3.0]), "▁▅█");
        assert_eq!(sparkline([2.0, 2.0]), "▅▅");
        assert_eq!(sparkline([f64::NAN, 1.0]), "▅");
    }
}
