//! A vocabulary-sized loss that is still near where it started, when no vocabulary is known.
//!
//! A cross-entropy that starts at 6 nats or more (ln 400: a vocabulary, or hundreds of
//! classes) comes from a fresh output layer: a fine-tuned model starts far lower. From that
//! start any model that learns loses a fifth of it within its first few hundred steps, by
//! learning which tokens or classes are frequent. A run logged from its start that after
//! hundreds of steps is still above four fifths of it has not learned even that.

use serde_json::json;

use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// A start at least this high is a fresh output layer over a vocabulary (ln 400).
const FRESH_VOCABULARY_START: f64 = 6.0;
/// The share of the start a learning model has lost within its first few hundred steps.
const STILL_NEAR: f64 = 0.8;
/// Steps before the question is fair (a paste of the first ten steps is not a run).
const MIN_STEPS: f64 = 200.0;

/// Underfitting for a run with no known vocabulary whose vocabulary-sized start (`init`) the
/// loss (`level`, the end of the run) has barely left; `rate_text` says its late pace.
pub fn still_near_a_fresh_start(ctx: &Ctx, level: f64, rate_text: &str) -> Option<Finding> {
    let init = ctx.init_level();
    let fresh = ctx.refs.ln_vocab.is_none()
        && ctx.family.lm_sized()
        && init >= FRESH_VOCABULARY_START
        && ctx.starts_at_beginning();
    if !fresh || ctx.train.len() < 10 || ctx.last_step() < MIN_STEPS || level <= STILL_NEAR * init {
        return None;
    }
    Some(finding(
        FindingKind::Underfitting,
        Severity::Warning,
        Span::range(ctx.first_step(), ctx.last_step()),
        format!(
            "Loss ends at {} after {} steps, still {:.0}% of its start {}: a fresh output layer this \
             size (a start of 6+ nats, a vocabulary or hundreds of classes) loses a fifth of its loss \
             within its first few hundred steps by learning which outputs are frequent ({rate_text}).",
            num(level),
            step_str(ctx.last_step()),
            100.0 * level / init,
            num(init)
        ),
        json!({ "initial_loss": init, "level": level, "share_of_start": level / init,
                "loss_family": ctx.family.assumption() }),
        "Raise the learning rate ×10 (Adam: 1e-4 to 1e-3 from scratch), check that the optimizer \
         updates every parameter (none frozen, the scheduler not at 0), and pass the vocabulary size \
         (--vocab-size) so the levels of a uniform guess and of token frequencies can be checked.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{run_with, spaced};

    fn crawl(end: f64, every: f64) -> Vec<crate::Point> {
        // A summarization fine-tune whose model starts untrained (blind batch 91): 10.37 at
        // step 100, ln 32k, crawling linearly toward `end`.
        let values: Vec<f64> = (0..50)
            .map(|i| 10.37 - (10.37 - end) * i as f64 / 49.0)
            .collect();
        spaced(&values, every, every)
    }

    #[test]
    fn a_vocabulary_sized_start_barely_left_after_thousands_of_steps_is_underfitting() {
        let run = run_with(crawl(9.46, 100.0), None);
        let d = crate::diagnose(&run);
        assert!(
            d.findings
                .iter()
                .any(|f| f.kind == FindingKind::Underfitting),
            "{:?}",
            d.findings
        );
        // Down to 7 nats (two thirds of the start) it learned what frequencies give.
        let learned = crate::diagnose(&run_with(crawl(7.0, 100.0), None));
        assert!(!learned
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Underfitting));
        // The first fifty steps of a run say nothing about its pace yet.
        let early = crate::diagnose(&run_with(crawl(9.46, 1.0), None));
        assert!(!early
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Underfitting));
    }
}
