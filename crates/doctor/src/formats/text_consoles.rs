//! Console formats whose numbers carry no names to read: each is matched whole.
//!
//! - darknet / YOLOv2-v4: `75: 625.195312, 517.632019 avg, 0.000000 rate, 351.3 seconds, 4800
//!   images` (AlexeyAB's fork writes `avg loss`): the iteration, that batch's loss, a running
//!   average (left out: the doctor measures the noise itself) and the learning rate.
//! - CatBoost: `34:\tlearn: 0.9508429\ttest: 0.8235312\tbest: 0.8356368 (1)\ttotal: …`: the
//!   iteration, the training and (when there is an eval set) the test metric.

use super::LineValues;
use regex::Regex;
use std::sync::OnceLock;

const NUMBER: &str = r"[-+]?(?:nan|inf|\d+\.?\d*(?:e[-+]?\d+)?)";

fn darknet() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)^\s*(\d+): ({NUMBER}), ({NUMBER}) avg(?: loss)?, ({NUMBER}) rate"
        ))
        .expect("valid regex")
    })
}

fn catboost() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)^\s*(\d+):\s+learn:\s*({NUMBER})(?:\s+test:\s*({NUMBER}))?"
        ))
        .expect("valid regex")
    })
}

/// The values of a line in one of the formats above, or `None`.
pub(super) fn known_line(line: &str) -> Option<LineValues<'_>> {
    let number =
        |m: Option<regex::Match>| m.and_then(|m| super::super::table::parse_number(m.as_str()));
    let counter = |m: Option<regex::Match>| number(m).map(|s| (s, None));
    // Both start with the iteration: most lines of other logs go no further.
    if !line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(c) = darknet().captures(line) {
        return Some(LineValues {
            step: counter(c.get(1)),
            train: number(c.get(2)),
            lr: number(c.get(4)),
            ..LineValues::default()
        });
    }
    let c = catboost().captures(line)?;
    Some(LineValues {
        step: counter(c.get(1)),
        train: number(c.get(2)),
        val: number(c.get(3)),
        ..LineValues::default()
    })
}
