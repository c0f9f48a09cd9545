//! The legend: a strip under the chart (so it never covers a curve), entries wrapped in rows.

use crate::chart::{err, run_colors};
use crate::labels::Rect;
use crate::marks::{mark_of, marked_events, severity_color, Mark};
use crate::scale::format_number;
use crate::series::non_finite_steps;
use crate::style::{self, FONT};
use crate::{PlotError, PlotOptions};
use doctor::{Diagnosis, Run};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How an entry's sample is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Glyph {
    Line {
        color: RGBAColor,
        width: u32,
        dashed: bool,
    },
    LineDot {
        color: RGBColor,
    },
    Band {
        color: RGBColor,
    },
    VLine {
        color: RGBColor,
    },
    Ring,
    Triangle,
}

#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub glyph: Glyph,
}

impl LegendEntry {
    fn new(label: impl Into<String>, glyph: Glyph) -> LegendEntry {
        LegendEntry {
            label: label.into(),
            glyph,
        }
    }
}

const GLYPH_W: i32 = 26;
const ROW_H: i32 = 24;
const GAP: i32 = 22;

/// What the chart will show, in drawing order.
pub(crate) fn entries(
    runs: &[(Run, Diagnosis)],
    opts: &PlotOptions,
    has_lr: bool,
) -> Vec<LegendEntry> {
    let mut out = Vec::new();
    let single = runs.len() == 1;
    let smoothing = opts.smooth > 0.0;
    let ema = format!("EMA {}", format_number(opts.smooth));
    for (i, (run, _)) in runs.iter().enumerate() {
        let c = run_colors(i, runs.len());
        let prefix = if single {
            String::new()
        } else {
            format!("{} ", run.name)
        };
        let solid = |width| Glyph::Line {
            color: c.train.into(),
            width,
            dashed: false,
        };
        if !run.train_loss.is_empty() {
            if single && smoothing {
                out.push(LegendEntry::new(
                    "train loss (raw)",
                    Glyph::Line {
                        color: c.train.mix(0.45),
                        width: 1,
                        dashed: false,
                    },
                ));
                out.push(LegendEntry::new(format!("train loss ({ema})"), solid(2)));
            } else if smoothing {
                out.push(LegendEntry::new(format!("{prefix}train ({ema})"), solid(2)));
            } else {
                out.push(LegendEntry::new(format!("{prefix}train"), solid(2)));
            }
        }
        if !run.val_loss.is_empty() {
            out.push(LegendEntry::new(
                format!("{prefix}val loss"),
                Glyph::LineDot { color: c.val },
            ));
        }
        if has_lr && !run.lr.is_empty() {
            let name = if single {
                "learning rate (right axis)".to_string()
            } else {
                format!("{prefix}lr")
            };
            out.push(LegendEntry::new(
                name,
                Glyph::Line {
                    color: c.lr.mix(0.85),
                    width: 2,
                    dashed: true,
                },
            ));
        }
    }
    let findings = || runs.iter().flat_map(|(_, d)| &d.findings);
    if findings().any(|f| matches!(mark_of(f), Mark::Spike(_))) {
        out.push(LegendEntry::new("spike (doctor)", Glyph::Ring));
    }
    let any_nan = findings().any(|f| matches!(mark_of(f), Mark::NonFinite(_)))
        || runs
            .iter()
            .any(|(r, _)| !non_finite_steps(&r.train_loss).is_empty());
    if any_nan {
        out.push(LegendEntry::new(
            "non-finite loss",
            Glyph::VLine {
                color: style::ERROR,
            },
        ));
    }
    let mut seen = Vec::new();
    for f in findings() {
        let glyph = match mark_of(f) {
            Mark::Range(..) => Glyph::Band {
                color: severity_color(f.severity),
            },
            Mark::At(_) => Glyph::VLine {
                color: severity_color(f.severity),
            },
            _ => continue,
        };
        if !seen.contains(&f.kind) {
            seen.push(f.kind);
            out.push(LegendEntry::new(f.kind.name().replace('_', " "), glyph));
        }
    }
    if runs.iter().any(|(r, _)| marked_events(r).next().is_some()) {
        out.push(LegendEntry::new("guard incident / event", Glyph::Triangle));
    }
    out
}

fn text_style() -> TextStyle<'static> {
    TextStyle::from((FONT, 16).into_font()).color(&style::TEXT)
}

/// Lays entries out left to right, wrapping at `width`: each entry's (x offset, row).
fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: i32,
) -> Result<Vec<(i32, i32)>, PlotError> {
    let style = text_style();
    let mut out = Vec::with_capacity(entries.len());
    let (mut x, mut row) = (0, 0);
    for e in entries {
        let (tw, _) = root.estimate_text_size(&e.label, &style).map_err(err)?;
        let w = GLYPH_W + 6 + tw as i32;
        if x > 0 && x + w > width {
            (x, row) = (0, row + 1);
        }
        out.push((x, row));
        x += w + GAP;
    }
    Ok(out)
}

/// Height of the strip the legend needs.
pub(crate) fn height<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: i32,
) -> Result<i32, PlotError> {
    let rows = layout(root, entries, width)?
        .iter()
        .map(|&(_, r)| r + 1)
        .max()
        .unwrap_or(0);
    Ok(rows * ROW_H + 14)
}

fn draw_glyph<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    g: Glyph,
    x: i32,
    cy: i32,
) -> Result<(), PlotError> {
    let (x1, mid) = (x + GLYPH_W, x + GLYPH_W / 2);
    match g {
        Glyph::Line {
            color,
            width,
            dashed: false,
        } => root.draw(&PathElement::new(
            vec![(x, cy), (x1, cy)],
            color.stroke_width(width),
        )),
        Glyph::Line {
            color,
            width,
            dashed: true,
        } => {
            for (a, b) in [(x, x + 8), (x + 12, x + 20), (x + 24, x1)] {
                root.draw(&PathElement::new(
                    vec![(a, cy), (b, cy)],
                    color.stroke_width(width),
                ))
                .map_err(err)?;
            }
            Ok(())
        }
        Glyph::LineDot { color } => {
            root.draw(&PathElement::new(
                vec![(x, cy), (x1, cy)],
                color.stroke_width(2),
            ))
            .map_err(err)?;
            root.draw(&Circle::new((mid, cy), 3, color.filled()))
        }
        Glyph::Band { color } => root.draw(&Rectangle::new(
            [(x + 2, cy - 7), (x1 - 2, cy + 7)],
            color.mix(0.25).filled(),
        )),
        Glyph::VLine { color } => root.draw(&PathElement::new(
            vec![(mid, cy - 8), (mid, cy + 8)],
            color.stroke_width(2),
        )),
        Glyph::Ring => root.draw(&Circle::new((mid, cy), 6, style::ERROR.stroke_width(2))),
        Glyph::Triangle => root.draw(&TriangleMarker::new((mid, cy), 6, style::EVENT.filled())),
    }
    .map_err(err)
}

/// Draws the legend inside `area` (backend pixels).
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    area: Rect,
) -> Result<(), PlotError> {
    let places = layout(root, entries, area.x1 - area.x0)?;
    let style = text_style().pos(Pos::new(HPos::Left, VPos::Center));
    for (e, (dx, row)) in entries.iter().zip(places) {
        let (x, cy) = (area.x0 + dx, area.y0 + 4 + row * ROW_H + ROW_H / 2);
        draw_glyph(root, e.glyph, x, cy)?;
        root.draw(&Text::new(
            e.label.clone(),
            (x + GLYPH_W + 6, cy),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}
