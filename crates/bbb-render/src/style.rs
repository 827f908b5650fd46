//! From the timeline's [`Style`] to tiny-skia paints and strokes: tldraw's palettes and size steps per
//! version, SVG colours and widths as written.

use bbb_presentation::{AnnotationFormat, Color, Dash, SizeStep, Style};
use tiny_skia::{LineCap, LineJoin, Paint, Stroke, StrokeDash};

pub(crate) type Rgb = (u8, u8, u8);
type Palette = fn(&str) -> Option<Rgb>;

/// tldraw v1's `strokes` palette (`packages/tldraw/src/state/shapes/shared/shape-styles.ts`).
fn v1_color(name: &str) -> Option<Rgb> {
    Some(match name {
        "white" => (0xf0, 0xf1, 0xf3),
        "lightGray" => (0xc6, 0xcb, 0xd1),
        "gray" => (0x78, 0x84, 0x92),
        "black" => (0x1d, 0x1d, 0x1d),
        "green" => (0x36, 0xb2, 0x4d),
        "cyan" => (0x0e, 0x98, 0xad),
        "blue" => (0x1c, 0x7e, 0xd6),
        "indigo" => (0x42, 0x63, 0xeb),
        "violet" => (0x77, 0x46, 0xf1),
        "red" => (0xff, 0x21, 0x33),
        "orange" => (0xff, 0x94, 0x33),
        "yellow" => (0xff, 0xc9, 0x36),
        _ => return None,
    })
}

/// tldraw v2's light theme (`DefaultColorThemePalette.lightMode[*].solid`).
fn v2_color(name: &str) -> Option<Rgb> {
    Some(match name {
        "black" => (0x1d, 0x1d, 0x1d),
        "grey" => (0x9f, 0xa8, 0xb2),
        "light-violet" => (0xe0, 0x85, 0xf4),
        "violet" => (0xae, 0x3e, 0xc9),
        "blue" => (0x44, 0x65, 0xe9),
        "light-blue" => (0x4b, 0xa1, 0xf1),
        "yellow" => (0xf1, 0xac, 0x4b),
        "orange" => (0xe1, 0x69, 0x19),
        "green" => (0x09, 0x92, 0x68),
        "light-green" => (0x4c, 0xb0, 0x5e),
        "light-red" => (0xf8, 0x77, 0x77),
        "red" => (0xe0, 0x31, 0x31),
        "white" => (0xff, 0xff, 0xff),
        _ => return None,
    })
}

/// The colour to draw with; unknown names fall back to the other version's palette, then to black.
pub(crate) fn rgb(color: Option<&Color>, format: AnnotationFormat) -> Rgb {
    match color {
        Some(Color::Rgb(r, g, b)) => (*r, *g, *b),
        Some(Color::Named(name)) => {
            let (first, second): (Palette, Palette) = if matches!(format, AnnotationFormat::TldrawV1 { .. }) {
                (v1_color, v2_color)
            } else {
                (v2_color, v1_color)
            };
            first(name).or_else(|| second(name)).unwrap_or((0x1d, 0x1d, 0x1d))
        }
        None => (0, 0, 0),
    }
}

/// `c` mixed with white, `amount` 0 = `c`, 1 = white: tldraw's semi fills and sticky notes are pale tints.
pub(crate) fn tint(c: Rgb, amount: f32) -> Rgb {
    let mix = |v: u8| (f32::from(v) + (255.0 - f32::from(v)) * amount).round().clamp(0.0, 255.0) as u8;
    (mix(c.0), mix(c.1), mix(c.2))
}

pub(crate) fn paint(c: Rgb, opacity: f64) -> Paint<'static> {
    let mut p = Paint { anti_alias: true, ..Paint::default() };
    let a = (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
    p.set_color_rgba8(c.0, c.1, c.2, a);
    p
}

/// Stroke width in annotation space: SVG as written; tldraw from the size step (v1 `strokeWidths`,
/// v2 `STROKE_SIZES`) times the shape's scale.
pub(crate) fn stroke_width(style: &Style, format: AnnotationFormat) -> f32 {
    if !format.is_tldraw() || style.size.is_none() {
        return style.stroke_width.filter(|w| w.is_finite() && *w > 0.0).unwrap_or(2.0) as f32;
    }
    let base = match style.size {
        Some(SizeStep::Small) => 2.0,
        Some(SizeStep::Medium) | None => 3.5,
        Some(SizeStep::Large) => 5.0,
        Some(SizeStep::ExtraLarge) if format == AnnotationFormat::TldrawV2 => 10.0,
        Some(SizeStep::ExtraLarge) => 5.0,
    };
    (base * scale(style)) as f32
}

fn scale(style: &Style) -> f64 {
    if style.scale.is_finite() && style.scale > 0.0 { style.scale } else { 1.0 }
}

/// Font size for free text: SVG as written, tldraw v1 `fontSizes` (28/48/96), v2 `FONT_SIZES` (18/24/36/44).
pub(crate) fn font_size(style: &Style, format: AnnotationFormat) -> f32 {
    if let Some(s) = style.font_size.filter(|s| s.is_finite() && *s > 0.0) {
        return s as f32;
    }
    let base = match (format, style.size) {
        (AnnotationFormat::TldrawV1 { .. }, Some(SizeStep::Small)) => 28.0,
        (AnnotationFormat::TldrawV1 { .. }, Some(SizeStep::Large | SizeStep::ExtraLarge)) => 96.0,
        (AnnotationFormat::TldrawV1 { .. }, _) => 48.0,
        (_, Some(SizeStep::Small)) => 18.0,
        (_, Some(SizeStep::Large)) => 36.0,
        (_, Some(SizeStep::ExtraLarge)) => 44.0,
        (_, _) => 24.0,
    };
    (base * scale(style)) as f32
}

/// Font size of a label inside a shape (v2 `LABEL_FONT_SIZES` 18/22/26/32; v1 labels use the same steps).
pub(crate) fn label_size(style: &Style) -> f32 {
    let base = match style.size {
        Some(SizeStep::Small) => 18.0,
        Some(SizeStep::Large) => 26.0,
        Some(SizeStep::ExtraLarge) => 32.0,
        _ => 22.0,
    };
    (base * scale(style)) as f32
}

pub(crate) fn stroke(style: &Style, width: f32) -> Stroke {
    let cap = match style.line_cap.as_deref() {
        Some("butt") => LineCap::Butt,
        Some("square") => LineCap::Square,
        _ => LineCap::Round,
    };
    let join = match style.line_join.as_deref() {
        Some("miter") => LineJoin::Miter,
        Some("bevel") => LineJoin::Bevel,
        _ => LineJoin::Round,
    };
    let width = if width.is_finite() && width > 0.0 { width } else { 1.0 };
    let dash = match style.dash {
        Dash::Dashed => StrokeDash::new(vec![width * 2.0, width * 2.0], 0.0),
        Dash::Dotted => StrokeDash::new(vec![0.01, width * 2.0], 0.0),
        Dash::Draw | Dash::Solid => None,
    };
    let cap = if style.dash == Dash::Dotted { LineCap::Round } else { cap };
    Stroke { width, line_cap: cap, line_join: join, dash, miter_limit: 8.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palettes_per_version() {
        let red = Color::Named("red".into());
        assert_eq!(rgb(Some(&red), AnnotationFormat::TldrawV1 { before_2_6_1: false }), (0xff, 0x21, 0x33));
        assert_eq!(rgb(Some(&red), AnnotationFormat::TldrawV2), (0xe0, 0x31, 0x31));
        assert_eq!(rgb(Some(&Color::Named("lightGray".into())), AnnotationFormat::TldrawV2), (0xc6, 0xcb, 0xd1));
        assert_eq!(rgb(Some(&Color::Named("nope".into())), AnnotationFormat::TldrawV2), (0x1d, 0x1d, 0x1d));
        assert_eq!(tint((0, 0, 0), 1.0), (255, 255, 255));
    }

    #[test]
    fn sizes_per_version() {
        let mut s = Style { size: Some(SizeStep::ExtraLarge), ..Style::default() };
        assert_eq!(stroke_width(&s, AnnotationFormat::TldrawV2), 10.0);
        s.scale = 2.0;
        assert_eq!(font_size(&s, AnnotationFormat::TldrawV2), 88.0);
        let svg = Style { stroke_width: Some(7.0), ..Style::default() };
        assert_eq!(stroke_width(&svg, AnnotationFormat::Svg), 7.0);
    }
}
