//! What to do about a step, cheapest first: apply the update, skip it, roll back to the last
//! good state, or stop. [`Monitor`] is the decision half of a training guard, with no model
//! in it: the trainer (rnnlab's guard, or Python's `rnnlab.Guard`) keeps the snapshots and
//! carries out what the monitor decides, then tells it ([`Monitor::rolled_back`]).
//!
//! The rules: a non-finite loss or gradient norm, or a spike, is skipped; `rollback_after`
//! flagged steps within `recent` steps, or divergence, call for a rollback (when one is
//! possible); after `max_rollbacks` rollbacks in one episode of trouble, stop.

use serde::{Deserialize, Serialize};

use super::detector::{Detector, DetectorConfig, Reading, Verdict};

/// How much a guard may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Watch only: every update is applied, NaN included.
    Off,
    /// Skip bad updates, never roll back or stop.
    Skip,
    /// Skip, roll back, stop.
    Full,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode, String> {
        match text {
            "off" => Ok(Mode::Off),
            "skip" => Ok(Mode::Skip),
            "full" => Ok(Mode::Full),
            other => Err(format!("`{other}` is not one of off, skip, full")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Apply,
    Skip,
    Rollback,
    Stop,
}

impl Action {
    /// The `event` name in `metrics.jsonl` (the doctor attaches `guard_*` events to spikes).
    pub fn event(self) -> &'static str {
        match self {
            Action::Apply => "guard_apply",
            Action::Skip => "guard_skip",
            Action::Rollback => "guard_rollback",
            Action::Stop => "guard_stop",
        }
    }
}

/// Why the guard acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NonFinite,
    LossSpike,
    GradSpike,
    Divergence,
    /// `rollback_after` flagged steps within `recent` steps.
    RepeatedFlags,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::NonFinite => "non-finite loss or gradient",
            Reason::LossSpike => "loss spike",
            Reason::GradSpike => "gradient-norm spike",
            Reason::Divergence => "divergence",
            Reason::RepeatedFlags => "repeated spikes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub reason: Option<Reason>,
    pub reading: Reading,
}

/// The decision rules' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    pub mode: Mode,
    /// Skip an update whose loss or gradient norm is NaN or infinite.
    pub skip_non_finite: bool,
    /// Skip an update whose loss or gradient norm is a spike.
    pub skip_spikes: bool,
    /// Roll back on repeated spikes or divergence (`full` only).
    pub rollback: bool,
    /// Stop once `max_rollbacks` rollbacks did not help (`full` only).
    pub stop: bool,
    /// This many flagged steps within `recent` steps call for a rollback.
    pub rollback_after: usize,
    pub recent: u64,
    /// Rollbacks in one episode of trouble before the run is stopped.
    pub max_rollbacks: u32,
    pub detector: DetectorConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            mode: Mode::Full,
            skip_non_finite: true,
            skip_spikes: true,
            rollback: true,
            stop: true,
            rollback_after: 3,
            recent: 10,
            max_rollbacks: 3,
            detector: DetectorConfig::default(),
        }
    }
}

/// The streaming judgement and the decision state of one run. Serialisable, so a resumed
/// run decides exactly as the uninterrupted one would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub detector: Detector,
    /// Flagged steps within the last `recent` steps.
    flagged: Vec<u64>,
    last_flag: Option<u64>,
    /// A rollback zeroed the hidden state: the next batch starts without context.
    state_was_reset: bool,
    rollbacks_in_episode: u32,
    pub rollbacks_total: u32,
    pub skips_total: u64,
}

impl Monitor {
    pub fn new(config: &DetectorConfig) -> Monitor {
        Monitor {
            detector: Detector::new(config.window),
            flagged: Vec::new(),
            last_flag: None,
            state_was_reset: false,
            rollbacks_in_episode: 0,
            rollbacks_total: 0,
            skips_total: 0,
        }
    }

    /// Judges one step's loss and pre-clip gradient norm, before its update is applied.
    /// `fresh_state`: the batch started from a zeroed hidden state (the first batch of an
    /// epoch); the batch after a rollback counts as one too. `can_roll_back`: a good state
    /// exists to go back to (otherwise a rollback decision falls back to a skip).
    pub fn observe(
        &mut self,
        config: &MonitorConfig,
        step: u64,
        loss: f64,
        grad_norm: Option<f64>,
        fresh_state: bool,
        can_roll_back: bool,
    ) -> Decision {
        let fresh_state = fresh_state || std::mem::take(&mut self.state_was_reset);
        let reading = self
            .detector
            .assess(loss, grad_norm, fresh_state, &config.detector);
        let apply = Decision {
            action: Action::Apply,
            reason: None,
            reading,
        };
        if config.mode == Mode::Off || !reading.verdict.is_flag() && !reading.diverging {
            return apply;
        }
        self.flagged.retain(|&f| f + config.recent > step);
        self.flagged.push(step);
        self.last_flag = Some(step);
        let full = config.mode == Mode::Full;
        let repeated = self.flagged.len() >= config.rollback_after.max(1);
        if full && (repeated || reading.diverging) {
            let reason = Some(if reading.diverging {
                Reason::Divergence
            } else {
                Reason::RepeatedFlags
            });
            if config.stop && self.rollbacks_in_episode >= config.max_rollbacks {
                return Decision {
                    action: Action::Stop,
                    reason,
                    reading,
                };
            }
            if config.rollback && can_roll_back {
                return Decision {
                    action: Action::Rollback,
                    reason,
                    reading,
                };
            }
        }
        let (reason, skip) = match reading.verdict {
            Verdict::NonFinite => (Reason::NonFinite, config.skip_non_finite),
            Verdict::LossSpike => (Reason::LossSpike, config.skip_spikes),
            Verdict::GradSpike => (Reason::GradSpike, config.skip_spikes),
            // Nothing cheaper than a rollback helps a diverging run.
            Verdict::Normal => return apply,
        };
        if skip {
            self.skips_total += 1;
            Decision {
                action: Action::Skip,
                reason: Some(reason),
                reading,
            }
        } else {
            apply
        }
    }

    /// Records an applied update in the detector's windows.
    pub fn applied(&mut self, config: &MonitorConfig, loss: f64, grad_norm: Option<f64>) {
        self.detector.accept(loss, grad_norm, &config.detector);
    }

    /// The newest flagged step, if any.
    pub fn last_flag(&self) -> Option<u64> {
        self.last_flag
    }

    /// The first flagged step of the current trouble, if any.
    pub fn trouble_start(&self) -> Option<u64> {
        self.flagged.first().copied()
    }

    /// No step was flagged in the `steps` steps before `step`: a good moment for a snapshot.
    pub fn quiet_for(&self, step: u64, steps: u64) -> bool {
        !self.last_flag.is_some_and(|f| f + steps > step)
    }

    pub fn rollbacks_in_episode(&self) -> u32 {
        self.rollbacks_in_episode
    }

    /// A snapshot was taken after a quiet stretch: a new episode starts.
    pub fn snapshot_taken(&mut self) {
        self.rollbacks_in_episode = 0;
    }

    /// The trainer rolled back to a good state whose detector was `restored`.
    pub fn rolled_back(&mut self, restored: Detector) {
        self.detector = restored;
        self.rollbacks_in_episode += 1;
        self.rollbacks_total += 1;
        self.flagged.clear();
        self.state_was_reset = true;
    }

    /// The trainer restored a good state (`restored` detector) before stopping.
    pub fn restored_for_stop(&mut self, restored: Detector) {
        self.detector = restored;
        self.state_was_reset = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warmed(config: &MonitorConfig) -> Monitor {
        let mut m = Monitor::new(&config.detector);
        for i in 0..64u64 {
            let loss = 2.0 * (1.0 + 0.02 * ((i as f64 * 12.9898).sin() * 43758.5453).fract());
            let d = m.observe(config, i, loss, Some(0.5), false, true);
            assert_eq!(d.action, Action::Apply);
            m.applied(config, loss, Some(0.5));
        }
        m
    }

    #[test]
    fn a_spike_is_skipped_repeats_roll_back_and_persistence_stops() {
        let config = MonitorConfig::default();
        let mut m = warmed(&config);
        // The good state a trainer would restore: from before the trouble.
        let restored = m.detector.clone();
        let d = m.observe(&config, 100, 8.0, Some(0.5), false, true);
        assert_eq!(
            (d.action, d.reason),
            (Action::Skip, Some(Reason::LossSpike))
        );
        assert_eq!(
            m.observe(&config, 101, 8.0, None, false, true).action,
            Action::Skip
        );
        let d = m.observe(&config, 102, 8.0, Some(0.5), false, true);
        assert_eq!(
            (d.action, d.reason),
            (Action::Rollback, Some(Reason::RepeatedFlags))
        );
        // Without a state to go back to, the same decision is a skip.
        assert_eq!(
            m.observe(&config, 103, 8.0, None, false, false).action,
            Action::Skip
        );
        for k in 0..config.max_rollbacks {
            m.rolled_back(restored.clone());
            for s in 0..3 {
                let d = m.observe(&config, 200 + 10 * k as u64 + s, 8.0, None, false, true);
                let last = s == 2;
                let expected = match (last, k + 1 >= config.max_rollbacks) {
                    (false, _) => Action::Skip,
                    (true, false) => Action::Rollback,
                    (true, true) => Action::Stop,
                };
                assert_eq!(d.action, expected, "rollback {k} step {s}");
            }
        }
        assert_eq!(m.rollbacks_total, config.max_rollbacks);
    }

    #[test]
    fn off_watches_and_skip_never_rolls_back() {
        let mut config = MonitorConfig {
            mode: Mode::Off,
            ..MonitorConfig::default()
        };
        let mut m = warmed(&config);
        let d = m.observe(&config, 100, f64::NAN, None, false, true);
        assert_eq!(d.action, Action::Apply);
        assert_eq!(d.reading.verdict, Verdict::NonFinite);
        config.mode = Mode::Skip;
        for s in 0..10 {
            assert_eq!(
                m.observe(&config, 200 + s, 9.0, None, false, true).action,
                Action::Skip
            );
        }
        assert_eq!(Mode::parse("full"), Ok(Mode::Full));
        assert!(Mode::parse("most").unwrap_err().contains("off, skip, full"));
    }
}
