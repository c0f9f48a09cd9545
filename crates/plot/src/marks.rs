//! What the chart says beyond the curves: shaded ranges and markers for the doctor's findings,
//! NaN markers, reference levels and guard incidents, with labels placed so none overlap.

use crate::chart::{err, reference_levels, Frame};
use crate::labels::{rows, Placer, Rect};
use crate::scale::format_number;
use crate::series::non_finite_steps;
use crate::style::{self, FONT};
use crate::PlotError;
use doctor::{Diagnosis, Event, Finding, FindingKind, Point, Run, Severity};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How a finding is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mark {
    /// A ring on the loss at the step.
    Spike(f64),
    /// A red line across the chart at the first non-finite step.
    NonFinite(f64),
    /// A shaded band over the steps.
    Range(f64, f64),
    /// A thin vertical line at the step.
    At(f64),
    /// No step to show it at (the report's table lists it).
    Nowhere,
}

pub(crate) fn mark_of(f: &Finding) -> Mark {
    let first = f.start_step.or(f.peak_step).or(f.end_step);
    match (f.kind, first) {
        (_, None) => Mark::Nowhere,
        (FindingKind::NonFinite | FindingKind::InvalidLoss, Some(s)) => Mark::NonFinite(s),
        (FindingKind::Spike, Some(s)) => Mark::Spike(f.peak_step.unwrap_or(s)),
        (_, Some(s)) => match f.end_step {
            Some(e) if e > s => Mark::Range(s, e),
            _ => Mark::At(s),
        },
    }
}

pub(crate) fn severity_color(s: Severity) -> RGBColor {
    match s {
        Severity::Error => style::ERROR,
        Severity::Warning => style::WARNING,
        Severity::Info => style::INFO,
    }
}

/// Events that start or stop the run (`end`, `interrupted`): not incidents, never a triangle.
pub(crate) fn is_lifecycle(kind: &str) -> bool {
    matches!(kind, "start" | "end" | "interrupted" | "resume" | "resumed")
}

/// Events worth an incident marker: everything the trainer did except routine checkpoints and
/// the run's start and end.
pub(crate) fn marked_events(run: &Run) -> impl Iterator<Item = &Event> {
    run.events.iter().filter(|e| {
        !e.kind.starts_with("checkpoint") && !is_lifecycle(&e.kind) && e.step.is_finite()
    })
}

/// The first and last step of each stretch of consecutive non-finite training losses.
pub(crate) fn nan_stretches(points: &[Point]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut open = false;
    for p in points {
        if p.value.is_finite() {
            open = false;
        } else if open {
            if let Some(last) = out.last_mut() {
                last.1 = p.step;
            }
        } else {
            out.push((p.step, p.step));
            open = true;
        }
    }
    out
}

/// The loss drawn at a spike: the highest finite training loss within a step of it.
fn spike_value(points: &[Point], step: f64) -> Option<f64> {
    let i = points.partition_point(|p| p.step < step - 1.0);
    let near = points[i..]
        .iter()
        .take_while(|p| p.step <= step + 1.0)
        .map(|p| p.value)
        .filter(|v| v.is_finite());
    near.reduce(f64::max).or_else(|| {
        points
            .iter()
            .filter(|p| p.value.is_finite())
            .min_by(|a, b| (a.step - step).abs().total_cmp(&(b.step - step).abs()))
            .map(|p| p.value)
    })
}

fn step_label(s: f64) -> String {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        format!("{}", s as i64)
    } else {
        format_number(s)
    }
}

fn x_pixel(frame: &Frame, step: f64) -> Option<i32> {
    let f = frame.x.fraction(step)?;
    let p = frame.plot;
    Some((p.x0 as f64 + f * (p.x1 - p.x0) as f64).round() as i32)
}

fn y_pixel(frame: &Frame, value: f64) -> Option<i32> {
    let f = frame.y.fraction(value)?;
    let p = frame.plot;
    Some((p.y1 as f64 - f * (p.y1 - p.y0) as f64).round() as i32)
}

fn in_x(frame: &Frame, px: i32) -> bool {
    (frame.plot.x0..=frame.plot.x1).contains(&px)
}

/// A band from `a` to `b` (steps), clipped to the plot, at least 4 px wide.
fn band(frame: &Frame, a: f64, b: f64) -> Option<(i32, i32)> {
    let p = frame.plot;
    let (xa, xb) = (x_pixel(frame, a).unwrap_or(p.x0), x_pixel(frame, b)?);
    let (mut xa, mut xb) = (xa.max(p.x0), xb.min(p.x1));
    if xb < p.x0 || xa > p.x1 {
        return None;
    }
    if xb - xa < 4 {
        let mid = (xa + xb) / 2;
        (xa, xb) = ((mid - 2).max(p.x0), (mid + 2).min(p.x1));
    }
    Some((xa, xb))
}

fn vline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    px: i32,
    style: ShapeStyle,
) -> Result<(), PlotError> {
    root.draw(&PathElement::new(
        vec![(px, frame.plot.y0), (px, frame.plot.y1)],
        style,
    ))
    .map_err(err)
}

/// Shaded ranges (ranged findings, stretches of NaN) and the reference lines: drawn under the curves.
pub(crate) fn draw_ranges<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    runs: &[(Run, Diagnosis)],
) -> Result<(), PlotError> {
    let p = frame.plot;
    for (run, diagnosis) in runs {
        for f in &diagnosis.findings {
            if let Mark::Range(a, b) = mark_of(f) {
                if let Some((xa, xb)) = band(frame, a, b) {
                    let color = severity_color(f.severity);
                    root.draw(&Rectangle::new(
                        [(xa, p.y0), (xb, p.y1)],
                        color.mix(0.13).filled(),
                    ))
                    .map_err(err)?;
                }
            }
        }
        for (a, b) in nan_stretches(&run.train_loss) {
            if let Some((xa, xb)) = band(frame, a, b) {
                root.draw(&Rectangle::new(
                    [(xa, p.y0), (xb, p.y1)],
                    style::ERROR.mix(0.07).filled(),
                ))
                .map_err(err)?;
            }
        }
    }
    for (_, value) in references(runs) {
        let Some(py) = y_pixel(frame, value).filter(|y| (p.y0..=p.y1).contains(y)) else {
            continue;
        };
        // Dashes as separate segments: plotters has no stroke-dasharray.
        let mut x = p.x0;
        while x < p.x1 {
            let end = (x + 8).min(p.x1);
            root.draw(&PathElement::new(
                vec![(x, py), (end, py)],
                style::REFERENCE.mix(0.75).stroke_width(1),
            ))
            .map_err(err)?;
            x += 13;
        }
    }
    Ok(())
}

/// Reference levels of all runs, each (name, value) once.
pub(crate) fn references(runs: &[(Run, Diagnosis)]) -> Vec<(&'static str, f64)> {
    let mut out: Vec<(&'static str, f64)> = Vec::new();
    for (run, d) in runs {
        for r in reference_levels(run, d) {
            if !out.iter().any(|o| o.0 == r.0 && (o.1 - r.1).abs() < 1e-9) {
                out.push(r);
            }
        }
    }
    out
}

/// A label waiting for a place: its text, colour and candidate boxes.
struct Label {
    text: String,
    color: RGBColor,
    candidates: Vec<Rect>,
}

struct Painter<'a, DB: DrawingBackend> {
    root: &'a DrawingArea<DB, Shift>,
    frame: &'a Frame,
    font: TextStyle<'static>,
    line_h: i32,
}

impl<DB: DrawingBackend> Painter<'_, DB> {
    fn size(&self, text: &str) -> Result<(i32, i32), PlotError> {
        let (w, _) = self
            .root
            .estimate_text_size(text, &self.font)
            .map_err(err)?;
        Ok((w as i32 + 8, self.line_h))
    }

    /// Candidates in rows from the top of the plot, centred on `px`.
    fn top_rows(&self, px: i32, text: &str) -> Result<Vec<Rect>, PlotError> {
        let (w, h) = self.size(text)?;
        Ok(rows(px, self.frame.plot.y0 + 4, h + 3, w, h, 6).collect())
    }

    fn draw_label(&self, r: Rect, text: &str, color: RGBColor) -> Result<(), PlotError> {
        self.root
            .draw(&Rectangle::new(
                [(r.x0, r.y0), (r.x1, r.y1)],
                WHITE.mix(0.88).filled(),
            ))
            .map_err(err)?;
        let style = self
            .font
            .clone()
            .color(&color)
            .pos(Pos::new(HPos::Left, VPos::Center));
        self.root
            .draw(&Text::new(
                text.to_string(),
                (r.x0 + 4, (r.y0 + r.y1) / 2),
                style,
            ))
            .map_err(err)
    }
}

/// Markers and every label (findings, references, incidents), over the curves.
pub(crate) fn draw_marks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    runs: &[(Run, Diagnosis)],
) -> Result<(), PlotError> {
    let painter = Painter {
        root,
        frame,
        font: TextStyle::from((FONT, 15).into_font()),
        line_h: 19,
    };
    let p = frame.plot;
    let mut placer = Placer::new(Rect {
        x0: p.x0 + 2,
        y0: p.y0 + 2,
        x1: p.x1 - 2,
        y1: p.y1 - 2,
    });
    let mut labels: Vec<Label> = Vec::new();
    let mut late: Vec<Label> = Vec::new();
    let many = runs.len() > 1;
    for (run, diagnosis) in runs {
        let suffix = if many {
            format!(" ({})", run.name)
        } else {
            String::new()
        };
        let mut nan_labelled = false;
        for f in &diagnosis.findings {
            let color = severity_color(f.severity);
            match mark_of(f) {
                Mark::Spike(step) => {
                    let Some(value) = spike_value(&run.train_loss, step) else {
                        continue;
                    };
                    let (Some(px), Some(py)) = (x_pixel(frame, step), y_pixel(frame, value)) else {
                        continue;
                    };
                    if !in_x(frame, px) {
                        continue;
                    }
                    let py = py.clamp(p.y0, p.y1);
                    root.draw(&Circle::new((px, py), 7, style::ERROR.stroke_width(2)))
                        .map_err(err)?;
                    placer.reserve(Rect {
                        x0: px - 8,
                        y0: py - 8,
                        x1: px + 8,
                        y1: py + 8,
                    });
                    let text = format!(
                        "spike @ {}: {}{suffix}",
                        step_label(step),
                        format_number(value)
                    );
                    let (w, h) = painter.size(&text)?;
                    let mut candidates = vec![
                        Rect::centered_top(px, py - 12 - h, w, h),
                        Rect {
                            x0: px + 12,
                            y0: py - h / 2,
                            x1: px + 12 + w,
                            y1: py - h / 2 + h,
                        },
                    ];
                    candidates.extend(painter.top_rows(px, &text)?);
                    candidates.push(Rect::centered_top(px, py + 12, w, h));
                    labels.push(Label {
                        text,
                        color: style::ERROR,
                        candidates,
                    });
                }
                Mark::NonFinite(step) => {
                    let Some(px) = x_pixel(frame, step).filter(|&x| in_x(frame, x)) else {
                        continue;
                    };
                    vline(root, frame, px, style::ERROR.stroke_width(2))?;
                    let text = format!("NaN @ {}{suffix}", step_label(step));
                    labels.push(Label {
                        candidates: painter.top_rows(px, &text)?,
                        text,
                        color: style::ERROR,
                    });
                    nan_labelled = true;
                }
                Mark::Range(a, b) => {
                    let Some((xa, xb)) = band(frame, a, b) else {
                        continue;
                    };
                    let text = format!(
                        "{} {}–{}{suffix}",
                        f.kind.name(),
                        step_label(a),
                        step_label(b)
                    );
                    late.push(Label {
                        candidates: painter.top_rows((xa + xb) / 2, &text)?,
                        text,
                        color: darker(color),
                    });
                }
                Mark::At(step) => {
                    let Some(px) = x_pixel(frame, step).filter(|&x| in_x(frame, x)) else {
                        continue;
                    };
                    vline(root, frame, px, color.mix(0.8).stroke_width(1))?;
                    let text = format!("{} @ {}{suffix}", f.kind.name(), step_label(step));
                    late.push(Label {
                        candidates: painter.top_rows(px, &text)?,
                        text,
                        color: darker(color),
                    });
                }
                Mark::Nowhere => {}
            }
        }
        // Non-finite losses the doctor did not report (or a diagnosis made before they happened).
        if !nan_labelled {
            if let Some(&first) = non_finite_steps(&run.train_loss).first() {
                if let Some(px) = x_pixel(frame, first).filter(|&x| in_x(frame, x)) {
                    vline(root, frame, px, style::ERROR.stroke_width(2))?;
                    let text = format!("NaN @ {}{suffix}", step_label(first));
                    labels.push(Label {
                        candidates: painter.top_rows(px, &text)?,
                        text,
                        color: style::ERROR,
                    });
                }
            }
        }
        // Losses beyond the axis (outliers it left out): a caret at the edge over each, and the
        // largest one labelled with its value.
        let mut outside: Option<(f64, f64)> = None;
        let mut last_caret: Option<i32> = None;
        for pt in run.train_loss.iter().chain(&run.val_loss) {
            let Some(t) = frame.y.scale.forward(pt.value) else {
                continue;
            };
            if t <= frame.y.hi {
                continue;
            }
            let Some(px) = x_pixel(frame, pt.step).filter(|&x| in_x(frame, x)) else {
                continue;
            };
            if outside.is_none_or(|(_, v)| pt.value > v) {
                outside = Some((pt.step, pt.value));
            }
            if last_caret.is_none_or(|c| (px - c).abs() >= 6) {
                root.draw(&TriangleMarker::new(
                    (px, p.y0 + 5),
                    5,
                    style::ERROR.filled(),
                ))
                .map_err(err)?;
                placer.reserve(Rect {
                    x0: px - 5,
                    y0: p.y0,
                    x1: px + 5,
                    y1: p.y0 + 10,
                });
                last_caret = Some(px);
            }
        }
        if let Some((step, value)) = outside {
            if let Some(px) = x_pixel(frame, step) {
                let text = format!(
                    "off scale: {} @ {}{suffix}",
                    format_number(value),
                    step_label(step)
                );
                let (w, h) = painter.size(&text)?;
                let mut candidates = vec![Rect {
                    x0: px + 8,
                    y0: p.y0 + 2,
                    x1: px + 8 + w,
                    y1: p.y0 + 2 + h,
                }];
                candidates.extend(rows(px, p.y0 + 12, h + 3, w, h, 5));
                labels.push(Label {
                    text,
                    color: style::ERROR,
                    candidates,
                });
            }
        }
        let events: Vec<&Event> = marked_events(run).collect();
        for e in &events {
            let Some(px) = x_pixel(frame, e.step).filter(|&x| in_x(frame, x)) else {
                continue;
            };
            let tip = p.y1 - 11;
            root.draw(&TriangleMarker::new((px, tip), 6, style::EVENT.filled()))
                .map_err(err)?;
            placer.reserve(Rect {
                x0: px - 6,
                y0: tip - 6,
                x1: px + 6,
                y1: p.y1,
            });
            if events.len() <= 12 {
                let text = format!("{} @ {}{suffix}", e.kind, step_label(e.step));
                let (w, h) = painter.size(&text)?;
                let candidates = rows(px, tip - 10 - h, -(h + 3), w, h, 4).collect();
                late.push(Label {
                    text,
                    color: style::EVENT,
                    candidates,
                });
            }
        }
    }
    for (name, value) in references(runs) {
        let Some(py) = y_pixel(frame, value).filter(|y| (p.y0..=p.y1).contains(y)) else {
            continue;
        };
        let text = format!("{name} {}", format_number(value));
        let (w, h) = painter.size(&text)?;
        let right = |top| Rect {
            x0: p.x1 - 8 - w,
            y0: top,
            x1: p.x1 - 8,
            y1: top + h,
        };
        let left = |top| Rect {
            x0: p.x0 + 8,
            y0: top,
            x1: p.x0 + 8 + w,
            y1: top + h,
        };
        let candidates = vec![
            right(py - h - 1),
            right(py + 2),
            left(py - h - 1),
            left(py + 2),
        ];
        late.push(Label {
            text,
            color: style::REFERENCE,
            candidates,
        });
    }
    for label in labels.into_iter().chain(late) {
        if let Some(r) = placer.place(label.candidates) {
            painter.draw_label(r, &label.text, label.color)?;
        }
    }
    Ok(())
}

/// Label text colour for a severity's band: the hue, darkened to read on white.
fn darker(c: RGBColor) -> RGBColor {
    RGBColor(
        (c.0 as f64 * 0.75) as u8,
        (c.1 as f64 * 0.75) as u8,
        (c.2 as f64 * 0.75) as u8,
    )
}

#[cfg(test)]
#[path = "marks_tests.rs"]
mod tests;
