//! The loss chart, drawn with plotters onto any backend (SVG or bitmap): axes, series of every
//! run, then the marks ([`crate::marks`]), the header and the legend ([`crate::legend`]).

use crate::labels::Rect;
use crate::legend;
use crate::marks;
use crate::scale::{Axis, Scale};
use crate::series::{finite_extent, min_max_downsample, smooth_ema};
use crate::style::{self, FONT};
use crate::{PlotError, PlotOptions, YRange};
use doctor::{Diagnosis, Point, Run};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(crate) type Coords = Cartesian2d<Ticked, Ticked>;

/// A linear plotters axis over transformed values whose grid lines are the ticks [`Axis`]
/// chose (plotters' own ticks would be wrong on a log axis drawn in log space).
pub(crate) struct Ticked {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl Ticked {
    fn new(axis: &Axis, target: usize) -> Ticked {
        let (major, minor) = axis.ticks(target);
        Ticked {
            lo: axis.lo,
            hi: axis.hi,
            major,
            minor,
        }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // Same rounding as plotters' own f64 axes.
        let fraction = (value - self.lo) / (self.hi - self.lo);
        let length = (limit.1 - limit.0) as f64;
        limit.0 + (length * fraction + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Coords>;

/// Where the chart ended up: its axes and the plotting area in backend pixels. Tests use it to
/// compute where a value must have been drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub x: Axis,
    pub y: Axis,
    /// The learning-rate axis on the right, when any run logged a learning rate.
    pub lr: Option<Axis>,
    pub plot: Rect,
}

impl Frame {
    /// The backend pixel of `(step, value)` by the chart's linear mapping of transformed values.
    pub fn pixel(&self, step: f64, value: f64) -> Option<(f64, f64)> {
        let fx = self.x.fraction(step)?;
        let fy = self.y.fraction(value)?;
        let p = &self.plot;
        Some((
            p.x0 as f64 + fx * (p.x1 - p.x0) as f64,
            p.y1 as f64 - fy * (p.y1 - p.y0) as f64,
        ))
    }
}

/// The colours one run is drawn in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunColors {
    pub train: RGBColor,
    pub val: RGBColor,
    pub lr: RGBColor,
}

pub(crate) fn run_colors(index: usize, runs: usize) -> RunColors {
    let train = style::RUN_COLORS[index % style::RUN_COLORS.len()];
    if runs == 1 {
        RunColors {
            train,
            val: style::SINGLE_VAL,
            lr: style::SINGLE_LR,
        }
    } else {
        RunColors {
            train,
            val: train,
            lr: train,
        }
    }
}

pub(crate) fn err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn validate(runs: &[(Run, Diagnosis)], opts: &PlotOptions) -> Result<(), PlotError> {
    if runs.is_empty() {
        return Err(PlotError::NoRuns);
    }
    if !(320..=16_384).contains(&opts.width) || !(240..=16_384).contains(&opts.height) {
        return Err(PlotError::BadOptions(format!(
            "size {}x{} is outside 320x240 ..= 16384x16384 pixels",
            opts.width, opts.height
        )));
    }
    if !(0.0..1.0).contains(&opts.smooth) {
        return Err(PlotError::BadOptions(format!(
            "smooth must be in [0, 1), got {}",
            opts.smooth
        )));
    }
    for (run, _) in runs {
        let has_loss = run
            .train_loss
            .iter()
            .chain(&run.val_loss)
            .any(|p| p.value.is_finite());
        if !has_loss {
            return Err(PlotError::NoData(run.name.clone()));
        }
    }
    Ok(())
}

fn scales(opts: &PlotOptions) -> (Scale, Scale) {
    let pick = |log| if log { Scale::Log10 } else { Scale::Linear };
    (pick(opts.log_x), pick(opts.log_y))
}

/// Axes spanning every run's loss steps and values and the known reference levels.
fn fit_axes(runs: &[(Run, Diagnosis)], opts: &PlotOptions) -> (Axis, Axis, Option<Axis>) {
    let (xs, ys) = scales(opts);
    let losses = || {
        runs.iter()
            .flat_map(|(r, _)| r.train_loss.iter().chain(&r.val_loss))
    };
    let steps = finite_extent(
        losses()
            .map(|p| p.step)
            .filter(|&s| xs.forward(s).is_some()),
    );
    let refs = runs
        .iter()
        .flat_map(|(r, d)| reference_levels(r, d))
        .map(|(_, v)| v);
    let values = losses()
        .filter(|p| xs.forward(p.step).is_some())
        .map(|p| p.value)
        .chain(refs)
        .filter(|&v| ys.forward(v).is_some());
    let x = Axis::fit(xs, steps, 0.01);
    let full = finite_extent(values);
    let extent = match (opts.y_range, full, robust_extent(runs, xs, ys)) {
        (YRange::Full, ..) | (_, None, _) | (_, _, None) => full,
        (YRange::Robust, _, robust) => robust,
        (YRange::Auto, Some((lo, hi)), Some((rlo, rhi))) => {
            let t = |v| ys.forward(v).unwrap_or(0.0);
            let (span, rspan) = (t(hi) - t(lo), t(rhi) - t(rlo));
            if span > 1.5 * rspan {
                Some((rlo, rhi))
            } else {
                full
            }
        }
    };
    let y = Axis::fit(ys, extent, 0.05);
    let lr_top = runs
        .iter()
        .flat_map(|(r, _)| &r.lr)
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let lr = (lr_top > 0.0).then_some(Axis {
        scale: Scale::Linear,
        lo: 0.0,
        hi: lr_top * 1.2,
    });
    (x, y, lr)
}

/// The loss range the curves mostly show (raw values): the medians of short chunks of every
/// series, so a spike of a point or two never counts, with a quarter of their span of room either
/// side, never beyond the data; widened to the reference levels.
fn robust_extent(runs: &[(Run, Diagnosis)], xs: Scale, ys: Scale) -> Option<(f64, f64)> {
    let mut medians: Vec<f64> = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (run, _) in runs {
        for series in [&run.train_loss, &run.val_loss] {
            let mut t: Vec<f64> = series
                .iter()
                .filter(|p| xs.forward(p.step).is_some())
                .filter_map(|p| ys.forward(p.value))
                .collect();
            for &v in &t {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            let k = (t.len() / 400).max(3);
            for chunk in t.chunks_mut(k) {
                let mid = chunk.len() / 2;
                let (_, m, _) = chunk.select_nth_unstable_by(mid, f64::total_cmp);
                medians.push(*m);
            }
        }
    }
    let (mlo, mhi) = finite_extent(medians)?;
    let room = ((mhi - mlo) * 0.25).max(mhi.abs() * 0.01);
    let (rlo, rhi) = ((mlo - room).max(lo), (mhi + room).min(hi));
    let refs = runs
        .iter()
        .flat_map(|(r, d)| reference_levels(r, d))
        .filter_map(|(_, v)| ys.forward(v));
    let (rlo, rhi) = refs.fold((rlo, rhi), |(a, b), v| (a.min(v), b.max(v)));
    Some((ys.inverse(rlo), ys.inverse(rhi)))
}

/// Known reference levels with their labels: from the run, else from the diagnosis.
pub(crate) fn reference_levels(run: &Run, diagnosis: &Diagnosis) -> Vec<(&'static str, f64)> {
    let (r, d) = (&run.references, &diagnosis.references);
    [
        ("ln V", r.ln_vocab.or(d.ln_vocab)),
        ("unigram", r.unigram.or(d.unigram)),
        ("bigram", r.bigram.or(d.bigram)),
        ("floor", r.floor.or(d.floor)),
    ]
    .into_iter()
    .filter_map(|(name, v)| Some((name, v.filter(|v| v.is_finite())?)))
    .collect()
}

/// Transforms a series into chart space, split wherever a point cannot be shown (NaN, or ≤ 0 on
/// a log axis), each piece reduced to per-pixel-column min/max.
pub(crate) fn drawable(points: &[Point], x: &Axis, y: &Axis, columns: i32) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = Vec::new();
    let mut current: Vec<Point> = Vec::new();
    let width = (x.hi - x.lo).max(f64::MIN_POSITIVE);
    let column = |t: f64| ((t - x.lo) / width * columns as f64).floor() as i64;
    let mut flush = |current: &mut Vec<Point>| {
        if !current.is_empty() {
            let reduced = min_max_downsample(current, column);
            pieces.push(reduced.into_iter().map(|p| (p.step, p.value)).collect());
            current.clear();
        }
    };
    for p in points {
        match (x.scale.forward(p.step), y.scale.forward(p.value)) {
            // Points beyond the axis (outliers left out of its range) are drawn at its edge.
            (Some(tx), Some(ty)) => current.push(Point {
                step: tx,
                value: ty.clamp(y.lo, y.hi),
            }),
            _ => flush(&mut current),
        }
    }
    flush(&mut current);
    pieces
}

fn draw_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    pieces: Vec<Vec<(f64, f64)>>,
    style: ShapeStyle,
) -> Result<(), PlotError> {
    for piece in pieces {
        chart
            .draw_series(std::iter::once(PathElement::new(piece, style)))
            .map_err(err)?;
    }
    Ok(())
}

/// Draws every run's losses: raw and smoothed training loss, validation loss.
fn draw_runs<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    frame: &Frame,
    runs: &[(Run, Diagnosis)],
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let columns = frame.plot.x1 - frame.plot.x0;
    let (x, y) = (&frame.x, &frame.y);
    for (i, (run, _)) in runs.iter().enumerate() {
        let c = run_colors(i, runs.len());
        let smoothing = opts.smooth > 0.0;
        if !run.train_loss.is_empty() {
            let raw_style = if smoothing {
                c.train.mix(0.4).stroke_width(1)
            } else {
                c.train.stroke_width(2)
            };
            draw_lines(chart, drawable(&run.train_loss, x, y, columns), raw_style)?;
            if smoothing {
                let smooth = smooth_ema(&run.train_loss, opts.smooth);
                draw_lines(
                    chart,
                    drawable(&smooth, x, y, columns),
                    c.train.stroke_width(2),
                )?;
            }
        }
        if !run.val_loss.is_empty() {
            for piece in drawable(&run.val_loss, x, y, columns) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        piece.clone(),
                        c.val.stroke_width(2),
                    )))
                    .map_err(err)?;
                if piece.len() <= columns as usize / 3 {
                    let dots = piece.into_iter().map(|p| Circle::new(p, 3, c.val.filled()));
                    chart.draw_series(dots).map_err(err)?;
                }
            }
        }
    }
    Ok(())
}

fn draw_lr<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    frame: &Frame,
    runs: &[(Run, Diagnosis)],
) -> Result<(), PlotError> {
    let Some(lr_axis) = frame.lr else {
        return Ok(());
    };
    let columns = frame.plot.x1 - frame.plot.x0;
    // The learning rate is drawn in loss space: its own axis mapped linearly onto the y axis, so
    // it shares the plotting area (and its clipping) with the losses.
    let (y, x) = (frame.y, frame.x);
    let to_loss_space =
        |v: f64| y.lo + (v - lr_axis.lo) / (lr_axis.hi - lr_axis.lo) * (y.hi - y.lo);
    let lin = Axis {
        scale: Scale::Linear,
        ..y
    };
    for (i, (run, _)) in runs.iter().enumerate() {
        if run.lr.is_empty() {
            continue;
        }
        let c = run_colors(i, runs.len());
        let mapped: Vec<Point> = run
            .lr
            .iter()
            .map(|p| Point {
                step: p.step,
                value: to_loss_space(p.value),
            })
            .collect();
        for piece in drawable(&mapped, &x, &lin, columns) {
            chart
                .draw_series(DashedLineSeries::new(
                    piece,
                    6,
                    4,
                    c.lr.mix(0.85).stroke_width(2),
                ))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Draws the right-hand learning-rate axis: ticks and labels mapped onto the loss axis' pixels.
fn draw_lr_axis<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
) -> Result<(), PlotError> {
    let Some(lr) = frame.lr else { return Ok(()) };
    let p = frame.plot;
    let label = TextStyle::from((FONT, 16).into_font())
        .color(&style::MUTED)
        .pos(Pos::new(HPos::Left, VPos::Center));
    root.draw(&PathElement::new(
        vec![(p.x1, p.y0), (p.x1, p.y1)],
        style::MUTED.stroke_width(1),
    ))
    .map_err(err)?;
    for t in lr.ticks(5).0 {
        let py = p.y1 as f64 - (t - lr.lo) / (lr.hi - lr.lo) * (p.y1 - p.y0) as f64;
        let py = py.round() as i32;
        root.draw(&PathElement::new(
            vec![(p.x1, py), (p.x1 + 5, py)],
            style::MUTED.stroke_width(1),
        ))
        .map_err(err)?;
        root.draw(&Text::new(lr.label(t), (p.x1 + 8, py), label.clone()))
            .map_err(err)?;
    }
    let desc = TextStyle::from((FONT, 17).into_font())
        .color(&style::MUTED)
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(
        "learning rate",
        (p.x1 + 62, (p.y0 + p.y1) / 2),
        desc,
    ))
    .map_err(err)?;
    Ok(())
}

fn header_text(runs: &[(Run, Diagnosis)], opts: &PlotOptions) -> (String, String, RGBColor) {
    let title = opts.title.clone().unwrap_or_else(|| {
        runs.iter()
            .map(|(r, _)| r.name.as_str())
            .collect::<Vec<_>>()
            .join(" vs ")
    });
    let unhealthy: Vec<&(Run, Diagnosis)> = runs
        .iter()
        .filter(|(_, d)| d.verdict == doctor::Verdict::Unhealthy)
        .collect();
    if unhealthy.is_empty() {
        return (
            title,
            "doctor: healthy — this loss looks normal".into(),
            style::HEALTHY,
        );
    }
    let mut kinds: Vec<&str> = unhealthy
        .iter()
        .flat_map(|(_, d)| {
            d.findings
                .iter()
                .filter(|f| f.severity >= doctor::Severity::Warning)
                .map(|f| f.kind.name())
        })
        .collect();
    kinds.dedup();
    let who = if runs.len() == 1 {
        String::new()
    } else {
        format!(" ({} of {} runs)", unhealthy.len(), runs.len())
    };
    (
        title,
        format!("doctor: UNHEALTHY{who} — {}", kinds.join(", ")),
        style::ERROR,
    )
}

/// Draws the whole picture; returns where the chart went.
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[(Run, Diagnosis)],
    opts: &PlotOptions,
) -> Result<Frame, PlotError> {
    validate(runs, opts)?;
    style::ensure_fonts();
    root.fill(&WHITE).map_err(err)?;
    let (x, y, lr) = fit_axes(runs, opts);

    let (width, height) = (opts.width as i32, opts.height as i32);
    let header_h = 62;
    let legend_entries = legend::entries(runs, opts, lr.is_some());
    let legend_h = legend::height(root, &legend_entries, width - 40)?;
    let (_, rest) = root.split_vertically(header_h);
    let (body, _) = rest.split_vertically(height - header_h - legend_h);

    let mut chart = ChartBuilder::on(&body)
        .margin_left(12)
        // Room for the hand-drawn learning-rate axis (plotters would mirror the loss labels).
        .margin_right(if lr.is_some() { 88 } else { 24 })
        .margin_top(4)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(Ticked::new(&x, 8), Ticked::new(&y, 7))
        .map_err(err)?;
    let label_style = TextStyle::from((FONT, 16).into_font()).color(&style::MUTED);
    let desc_style = TextStyle::from((FONT, 17).into_font()).color(&style::TEXT);
    let x_desc = if x.scale == Scale::Log10 {
        "step (log)"
    } else {
        "step"
    };
    let y_desc = if y.scale == Scale::Log10 {
        "loss, nats/token (log)"
    } else {
        "loss, nats/token"
    };
    chart
        .configure_mesh()
        .x_label_formatter(&|t| x.label(*t))
        .y_label_formatter(&|t| y.label(*t))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(label_style)
        .axis_desc_style(desc_style)
        .bold_line_style(style::GRID.mix(0.10))
        .light_line_style(style::GRID.mix(0.035))
        .axis_style(style::MUTED)
        .draw()
        .map_err(err)?;

    let (px, py) = chart.plotting_area().get_pixel_range();
    let frame = Frame {
        x,
        y,
        lr,
        plot: Rect {
            x0: px.start,
            y0: py.start,
            x1: px.end - 1,
            y1: py.end - 1,
        },
    };

    marks::draw_ranges(root, &frame, runs)?;
    draw_runs(&mut chart, &frame, runs, opts)?;
    draw_lr(&mut chart, &frame, runs)?;
    draw_lr_axis(root, &frame)?;
    marks::draw_marks(root, &frame, runs)?;

    let (title, verdict, verdict_color) = header_text(runs, opts);
    let title_style =
        TextStyle::from((FONT, 24).into_font().style(FontStyle::Bold)).color(&style::TEXT);
    root.draw(&Text::new(title, (20, 12), title_style))
        .map_err(err)?;
    let verdict_style = TextStyle::from((FONT, 17).into_font()).color(&verdict_color);
    root.draw(&Text::new(verdict, (20, 38), verdict_style))
        .map_err(err)?;
    legend::draw(
        root,
        &legend_entries,
        Rect {
            x0: 20,
            y0: height - legend_h,
            x1: width - 20,
            y1: height,
        },
    )?;
    root.present().map_err(err)?;
    Ok(frame)
}
