//! Whether a log can show its run's pace: where it started (a robust median of its first
//! points, with that median's uncertainty) and whether an excerpt that starts mid-run spans
//! enough doublings of steps for a healthy pace to stand clear of its noise.

use crate::detect::band::relative_noise;
use crate::detect::stats::median;
use crate::detect::{step_str, Ctx};

/// How many points [`start_level`] takes the median of: the first 2 % (at least 3).
pub(crate) fn start_points(ctx: &Ctx) -> usize {
    (ctx.train.len() / 50).max(3).min(ctx.train.len())
}

/// "Never moved" needs the power to see a move. In an excerpt (a log that starts mid-run), a
/// run falling at the flat band's pace over the log's span (in doublings of steps) must move
/// more than the start's uncertainty (2.5 sd): a noisy window of a fraction of a doubling
/// (steps 490-650 of a longer run) could be falling normally and still look still.
pub(crate) fn pace_is_visible(ctx: &Ctx, start_sd: f64, start_level: f64) -> bool {
    // From the start, a fresh run falls fast at first: not falling then says enough.
    if ctx.starts_at_beginning() {
        return true;
    }
    let span_doublings = ctx.log2_step(ctx.last_step()) - ctx.log2_step(ctx.first_step());
    2.5 * start_sd
        < crate::detect::trend::FLAT_LOG_PER_DOUBLING * span_doublings * start_level.abs()
}

/// Why an excerpt (a log that starts mid-run) cannot show the run's pace (see
/// [`pace_is_visible`]), judged on the whole log; `None` when it can. The verdict is then
/// inconclusive, not healthy, when nothing else is wrong.
pub(crate) fn pace_hidden(ctx: &Ctx) -> Option<String> {
    // A log from the start shows the fall itself (and a short one is judged by its length).
    if ctx.train.len() < 3 || ctx.starts_at_beginning() {
        return None;
    }
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let level = median(&ctx.train.iter().map(|p| p.value).collect::<Vec<_>>());
    let band = relative_noise(&ctx.train, first, last, level);
    let start_sd = median_sd(band * level.abs(), start_points(ctx));
    if pace_is_visible(ctx, start_sd, start_level(ctx)) {
        return None;
    }
    Some(format!(
        "steps {}–{} are {:.2} doublings of steps: at the noise of this log (±{:.0}% of the level) \
         a healthy run's pace over so short a stretch cannot be told from standing still",
        step_str(first),
        step_str(last),
        ctx.log2_step(last) - ctx.log2_step(first),
        100.0 * band
    ))
}

/// Standard deviation of a median of `points` values with noise `sd` (1.25 sd / √n: a median
/// is noisier than a mean).
pub(crate) fn median_sd(sd: f64, points: usize) -> f64 {
    1.25 * sd / (points as f64).sqrt()
}

/// Median of the first points: where the run started, robust to noise.
pub(crate) fn start_level(ctx: &Ctx) -> f64 {
    let k = start_points(ctx);
    median(&ctx.train[..k].iter().map(|p| p.value).collect::<Vec<_>>())
}

/// Validation that never left its first three evaluations (its last third within 5 % of
/// them): nothing held out was learned after them.
pub(crate) fn held_out_still(ctx: &Ctx) -> bool {
    let v: Vec<f64> = ctx.val.iter().map(|p| p.value).collect();
    if ctx.train_is_val || v.len() < 3 {
        return false;
    }
    let k = (v.len() / 3).max(1);
    let (start, end) = (median(&v[..3]), median(&v[v.len() - k..]));
    start - end < 0.05 * start.abs()
}
