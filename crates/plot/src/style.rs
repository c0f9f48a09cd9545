//! Fonts and colours shared by the SVG and PNG renderings.

use plotters::style::{register_font, FontStyle, RGBColor};
use std::sync::Once;

/// The family every text element names; registered from the embedded DejaVu Sans, so bitmap
/// text renders on machines without system fonts and SVG viewers fall back to their sans-serif.
pub const FONT: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the embedded fonts with plotters' ab_glyph text renderer (once per process).
pub fn ensure_fonts() {
    REGISTER.call_once(|| {
        // The bytes are a valid TTF shipped by the `dejavu` crate; failure would be a packaging bug,
        // and plotters then reports a font error at draw time rather than panicking here.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Run colours (Tableau 10, colour-blind friendlier order): one hue per overlaid run.
pub const RUN_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
];

/// With a single run, validation and learning rate get hues of their own for contrast.
pub const SINGLE_VAL: RGBColor = RGBColor(230, 85, 13);
pub const SINGLE_LR: RGBColor = RGBColor(44, 160, 44);

pub const TEXT: RGBColor = RGBColor(34, 34, 34);
pub const MUTED: RGBColor = RGBColor(102, 102, 102);
pub const GRID: RGBColor = RGBColor(0, 0, 0);
pub const REFERENCE: RGBColor = RGBColor(90, 90, 90);
pub const ERROR: RGBColor = RGBColor(214, 39, 40);
pub const WARNING: RGBColor = RGBColor(230, 159, 0);
pub const INFO: RGBColor = RGBColor(120, 120, 120);
pub const EVENT: RGBColor = RGBColor(117, 62, 171);
pub const HEALTHY: RGBColor = RGBColor(30, 132, 73);

/// Hex form, as the SVG writes colours.
#[cfg(test)]
pub fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}
