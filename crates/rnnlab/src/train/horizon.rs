//! A wall-time budget turned into a step horizon, so a schedule that needs its end (cosine)
//! can decay to it: first from a few timed steps and a guess at the cost of evaluation, then
//! again at every evaluation from what the run has measured.

/// Optimizer steps that fit in `remaining_s` seconds: each takes `step_s`, an evaluation of
/// `eval_s` follows every `eval_every` steps (0 = none), and the final evaluation must fit too.
/// At least one step, so a run that is out of time still ends through its horizon.
pub fn steps_within(remaining_s: f64, step_s: f64, eval_s: f64, eval_every: u64) -> u64 {
    let periodic = if eval_every > 0 {
        eval_s / eval_every as f64
    } else {
        0.0
    };
    let steps = (remaining_s - eval_s) / (step_s + periodic).max(1e-9);
    if steps.is_finite() {
        steps.max(1.0) as u64
    } else {
        1
    }
}

/// The guess before any evaluation ran: a forward pass over the validation split costs
/// about a third of a training step per token.
pub fn guessed_eval_secs(step_s: f64, eval_tokens: usize, step_tokens: usize) -> f64 {
    step_s * eval_tokens as f64 / (3.0 * step_tokens.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_evaluations_the_budget_is_all_steps() {
        assert_eq!(steps_within(100.0, 0.5, 0.0, 0), 200);
        assert_eq!(steps_within(100.0, 0.5, 0.0, 10), 200);
    }

    #[test]
    fn periodic_and_final_evaluations_come_out_of_the_budget() {
        // 390 s, 0.25 s steps, an 8 s evaluation every 500 steps and at the end: n steps
        // with n·0.25 + (n/500)·8 + 8 ≤ 390, i.e. n = 382/0.266 = 1436.
        let n = steps_within(390.0, 0.25, 8.0, 500);
        assert_eq!(n, 1436);
        let used = n as f64 * 0.25 + (n as f64 / 500.0) * 8.0 + 8.0;
        assert!(used <= 390.0 && used > 389.0, "{used}");
    }

    #[test]
    fn an_exhausted_budget_still_gives_one_step() {
        assert_eq!(steps_within(-5.0, 0.5, 8.0, 100), 1);
        assert_eq!(steps_within(3.0, 0.5, 8.0, 100), 1);
    }

    #[test]
    fn evaluation_is_guessed_at_a_third_of_a_step_per_token() {
        // 111k validation tokens, 1,024-token steps of 0.2 s.
        let s = guessed_eval_secs(0.2, 111_000, 1024);
        assert!((s - 0.2 * 111_000.0 / 3072.0).abs() < 1e-12);
    }
}
