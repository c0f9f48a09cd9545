//! rnnlab's pictures: loss-curve plots with the doctor's findings marked (SVG and PNG, drawn by
//! `plotters` with an embedded font, so no system fonts are needed), and a self-contained,
//! interactive HTML report whose page the live dashboard reuses ([`render_report_html`] with
//! [`ReportExtras::live_events_url`] set, fed by [`page_data_json`] messages).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let run = doctor::formats::load("runs/lstm".as_ref(), &Default::default())?;
//! let diagnosis = doctor::diagnose(&run);
//! let svg = plot::render_svg(&[(run, diagnosis)], &plot::PlotOptions::default())?;
//! # Ok(()) }
//! ```

mod chart;
pub mod extras;
mod html;
mod labels;
mod legend;
mod marks;
mod scale;
mod series;
mod style;

#[cfg(test)]
mod svg_test_support;
#[cfg(test)]
mod svg_tests;
#[cfg(test)]
mod test_skip;

pub use chart::Frame;
pub use html::{
    page_data_json, render_report_html, summary_entries, Incident, ReportExtras, RunFacts, Sample,
    UpdateMode,
};
pub use labels::Rect;
pub use scale::{Axis, Scale};
pub use series::{min_max_downsample, smooth_ema};

/// How the loss axis' range is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YRange {
    /// Ignore outliers when a few points would squash the rest of the curve (they would take
    /// over a third of the height), else show everything.
    #[default]
    Auto,
    /// Every finite value.
    Full,
    /// Always the curve's robust extent: points beyond it are drawn at the edge and marked.
    Robust,
}

impl std::str::FromStr for YRange {
    type Err = String;
    fn from_str(s: &str) -> Result<YRange, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(YRange::Auto),
            "full" | "all" => Ok(YRange::Full),
            "robust" => Ok(YRange::Robust),
            _ => Err(format!("unknown y range `{s}` (auto, full or robust)")),
        }
    }
}

use doctor::{Diagnosis, Run};
use plotters::prelude::*;
use std::path::Path;

/// How to draw a loss chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// TensorBoard's smoothing weight for the training loss, in [0, 1); 0 draws the raw loss only.
    pub smooth: f64,
    pub log_x: bool,
    pub log_y: bool,
    /// Picture size in pixels (SVG user units).
    pub width: u32,
    pub height: u32,
    /// Defaults to the run names.
    pub title: Option<String>,
    /// Whether outliers may set the loss axis' range.
    pub y_range: YRange,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            smooth: 0.9,
            log_x: false,
            log_y: false,
            width: 1200,
            height: 720,
            title: None,
            y_range: YRange::Auto,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("nothing to plot: no runs given")]
    NoRuns,
    #[error("run `{0}` has no finite training or validation loss to plot")]
    NoData(String),
    #[error("bad plot options: {0}")]
    BadOptions(String),
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Png(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("unknown picture format for {0} (use .svg or .png)")]
    Format(std::path::PathBuf),
}

/// The chart as an SVG document.
pub fn render_svg(runs: &[(Run, Diagnosis)], opts: &PlotOptions) -> Result<String, PlotError> {
    render_svg_with_frame(runs, opts).map(|(svg, _)| svg)
}

/// The SVG and where its plotting area and axes ended up (for tests and overlays).
pub fn render_svg_with_frame(
    runs: &[(Run, Diagnosis)],
    opts: &PlotOptions,
) -> Result<(String, Frame), PlotError> {
    let mut svg = String::new();
    let frame = {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        chart::draw(&root, runs, opts)?
    };
    Ok((svg, frame))
}

/// The chart as PNG bytes (RGB, `width`×`height`).
pub fn render_png(runs: &[(Run, Diagnosis)], opts: &PlotOptions) -> Result<Vec<u8>, PlotError> {
    // Validate first so a bad size is an error, not an enormous allocation.
    if opts.width > 16_384 || opts.height > 16_384 {
        return Err(PlotError::BadOptions(format!(
            "size {}x{} is too large",
            opts.width, opts.height
        )));
    }
    let mut rgb = vec![0u8; opts.width as usize * opts.height as usize * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (opts.width, opts.height)).into_drawing_area();
        chart::draw(&root, runs, opts)?;
    }
    encode_png(&rgb, opts.width, opts.height)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| PlotError::Png(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| PlotError::Png(e.to_string()))?;
    writer.finish().map_err(|e| PlotError::Png(e.to_string()))?;
    Ok(out)
}

/// Renders to `path`, choosing SVG or PNG by its extension.
pub fn write_plot(
    path: &Path,
    runs: &[(Run, Diagnosis)],
    opts: &PlotOptions,
) -> Result<(), PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("svg") => render_svg(runs, opts)?.into_bytes(),
        Some("png") => render_png(runs, opts)?,
        _ => return Err(PlotError::Format(path.to_path_buf())),
    };
    std::fs::write(path, bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}
