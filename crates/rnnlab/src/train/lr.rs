//! The learning rate after warmup never goes up by surprise.
//!
//! A cosine schedule needs to know where the run ends. A step- or epoch-bounded run knows,
//! and uses the schedule as configured. A run bounded by wall time does not know how many
//! steps it will get (the estimate improves at every evaluation), so its cosine is defined on
//! the fraction of the time budget used instead: wall time only grows, so the rate only falls.
//! When a resume moves the end (`--resume --steps N` past the old end, a longer `--time`),
//! the schedule continues from where it was and spreads the rest of the decay over the new
//! remainder, instead of jumping back up to where the new horizon's cosine would be.

use serde::{Deserialize, Serialize};

/// The schedule's progress, saved with the trainer state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduleState {
    /// Fraction of the decay done, in [0, 1]; never decreases.
    pub progress: f64,
    /// Wall time (s) of the run when warmup ended, for a time-bounded run.
    pub warmup_end_s: Option<f64>,
    /// How the run's end is defined (`steps 2000`, `time 120s`), to notice a change on resume.
    pub end: String,
    /// After the end moved: (progress then, raw progress under the new end then); the rest of
    /// the decay is spread linearly over what remains of the new one.
    pub anchor: Option<(f64, f64)>,
}

impl ScheduleState {
    /// Maps raw progress (fraction of steps or time done under the current end) to the
    /// schedule's progress, continuing from an anchor if the end moved, never going back.
    pub fn advance(&mut self, raw: f64) -> f64 {
        let raw = raw.clamp(0.0, 1.0);
        let p = match self.anchor {
            Some((p0, r0)) if r0 < 1.0 => p0 + (1.0 - p0) * ((raw - r0) / (1.0 - r0)).max(0.0),
            Some(_) => 1.0,
            None => raw,
        };
        self.progress = self.progress.max(p.min(1.0));
        self.progress
    }

    /// A resume found the end defined differently (`end`); continue from the progress made.
    /// Returns a sentence saying how the schedule continues, or `None` when nothing changed.
    pub fn moved_end(&mut self, end: &str, raw_now: f64) -> Option<String> {
        if self.end == end || self.end.is_empty() {
            self.end = end.to_string();
            return None;
        }
        let before = std::mem::replace(&mut self.end, end.to_string());
        let raw_now = raw_now.clamp(0.0, 1.0);
        self.anchor = Some((self.progress, raw_now));
        Some(format!(
            "the run's end moved ({before} -> {end}): the learning-rate schedule continues from \
             {:.0} % of its decay and spreads the rest over the new remainder (it never goes back up)",
            self.progress * 100.0
        ))
    }
}

/// Cosine from `base` down to `min` at progress `p` in [0, 1].
pub fn cosine_at(base: f32, min: f64, p: f64) -> f32 {
    let p = p.clamp(0.0, 1.0);
    (min + (base as f64 - min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())) as f32
}

/// Fraction of the time after warmup used: `elapsed` of `budget` seconds, warmup having
/// ended at `warmup_end`, with `reserve` seconds kept for the final evaluation.
pub fn time_fraction(elapsed: f64, budget: f64, warmup_end: f64, reserve: f64) -> f64 {
    let span = (budget - reserve - warmup_end).max(1e-9);
    ((elapsed - warmup_end) / span).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_never_goes_back_even_when_the_estimate_does() {
        let mut s = ScheduleState::default();
        let mut last = 0.0;
        // A re-aimed estimate can make the raw fraction drop; the schedule holds.
        for raw in [0.1, 0.3, 0.25, 0.5, 0.45, 0.9, 1.2] {
            let p = s.advance(raw);
            assert!(p >= last, "{p} < {last}");
            last = p;
        }
        assert_eq!(last, 1.0);
    }

    #[test]
    fn a_moved_end_continues_from_the_progress_made() {
        let mut s = ScheduleState {
            end: "steps 1000".into(),
            ..Default::default()
        };
        s.advance(1.0); // the first run finished its decay
        let note = s.moved_end("steps 2000", 0.5).expect("the end moved");
        assert!(note.contains("steps 1000 -> steps 2000"), "{note}");
        // Right after the resume the rate stays where it was, never back up to cosine(0.5).
        assert_eq!(s.advance(0.5), 1.0);
        let mut s = ScheduleState {
            end: "time 120s".into(),
            ..Default::default()
        };
        s.advance(0.4);
        s.moved_end("time 600s", 0.1);
        assert!((s.advance(0.1) - 0.4).abs() < 1e-12, "continues at 40 %");
        assert!(
            (s.advance(0.55) - 0.7).abs() < 1e-12,
            "half of the rest, half-way"
        );
        assert_eq!(s.advance(1.0), 1.0);
        assert!(s.moved_end("time 600s", 0.9).is_none());
    }

    #[test]
    fn cosine_and_time_fraction() {
        assert_eq!(cosine_at(1.0, 0.1, 0.0), 1.0);
        assert!((cosine_at(1.0, 0.1, 1.0) - 0.1).abs() < 1e-7);
        assert!((cosine_at(1.0, 0.0, 0.5) - 0.5).abs() < 1e-7);
        assert_eq!(time_fraction(10.0, 110.0, 10.0, 0.0), 0.0);
        assert!((time_fraction(60.0, 110.0, 10.0, 0.0) - 0.5).abs() < 1e-12);
        assert_eq!(time_fraction(200.0, 110.0, 10.0, 5.0), 1.0);
    }
}
