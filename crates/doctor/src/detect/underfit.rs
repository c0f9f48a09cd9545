//! The underfitting finding: a language model's loss still above the reference levels it
//! should pass (the bigram level a lookup table of token pairs reaches, the unigram level of
//! token frequencies alone), whether it got there slowly or the run stopped while falling.
//! The progress judgement (`progress.rs`) decides when; this file words it.

use crate::detect::{finding, num, step_str, Ctx, RefLevel, Span};
use crate::report::{Finding, FindingKind, Severity};

/// The level under which a run counts as at the bigram level: 5 % above it, or, with the
/// unigram level measured (rnnlab's own runs), within 30 % of the unigram-to-bigram gap above
/// it: how much of what pairs of tokens give is still missing, rather than a share of the
/// level itself (a word model's gap is 0.6-1.1 nats, a character model's 0.6).
pub(crate) fn near_bigram(bigram: f64, unigram: Option<RefLevel>) -> f64 {
    let gap = unigram
        .filter(|u| !u.estimated)
        .map_or(0.0, |u| 0.3 * (u.value - bigram));
    bigram + (0.05 * bigram).max(gap)
}

/// The reference level an underfitting run has not yet reached.
pub(crate) enum Above {
    /// The loss of a lookup table of next-token counts given the previous token.
    Bigram(RefLevel),
    /// The loss of predicting token frequencies alone.
    Unigram(RefLevel),
}

pub(crate) fn underfitting(
    ctx: &Ctx,
    level: f64,
    above: Above,
    rate_text: &str,
    slow: bool,
    evidence: serde_json::Value,
) -> Finding {
    let (name, reference, gloss) = match above {
        Above::Bigram(r) => ("bigram", r, "that a lookup table reaches"),
        Above::Unigram(r) => (
            "unigram",
            r,
            "that token frequencies alone give: it has not yet learned to use the context",
        ),
    };
    let (pace, advice) = if slow {
        (
            "improves only slowly",
            "The model is too small or too constrained: widen the hidden state ×4 (e.g. 32 → 128+), add a layer, \
             raise the learning rate ×3, or train longer; check that the sequence length gives it context.",
        )
    } else {
        (
            "the run stopped while it was still falling",
            "Train for many more steps (×10), or raise the learning rate ×3 if it is small; the loss \
             should pass the unigram level within the first few percent of a run.",
        )
    };
    // The pace is judged before the LR anneals: the level is where the run stood then.
    let stood = match evidence.get("window_end").and_then(|v| v.as_f64()) {
        Some(end) if end < ctx.last_step() => {
            format!(
                "Loss stands at {} at step {} (before the LR anneals)",
                num(level),
                step_str(end)
            )
        }
        _ => format!("Loss ends at {}", num(level)),
    };
    finding(
        FindingKind::Underfitting,
        Severity::Warning,
        Span::range(ctx.first_step(), ctx.last_step()),
        format!(
            "{stood}, still above the {name} level{} {} {gloss}, and {pace} ({rate_text}).",
            estimated_note(Some(reference), ctx.refs.ln_vocab),
            num(reference.value)
        ),
        evidence,
        advice,
    )
}

/// " (estimated ≈ 0.72 ln V)" for a reference guessed from the vocabulary size.
pub(crate) fn estimated_note(level: Option<RefLevel>, ln_vocab: Option<f64>) -> String {
    match (level, ln_vocab) {
        (Some(r), Some(l)) if r.estimated && l > 0.0 => {
            format!(" (estimated ≈ {:.2} ln V)", r.value / l)
        }
        _ => String::new(),
    }
}
