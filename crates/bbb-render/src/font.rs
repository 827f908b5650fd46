//! Text with the embedded DejaVu Sans (see `fonts/SOURCES.md` for why it is embedded): measuring, wrapping and
//! turning lines into glyph outlines that tiny-skia fills like any other path.
//!
//! No shaping beyond one glyph per character: annotation text is short Latin text, for which precomposed
//! glyphs (é, à, ç, «) and plain advances are what the web player shows too, give or take kerning.

use std::sync::OnceLock;

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider};
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Transform};

pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

struct Font {
    font: FontRef<'static>,
    units_per_em: f32,
    ascent: f32,
    descent: f32,
}

fn font() -> Option<&'static Font> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    FONT.get_or_init(|| {
        let font = FontRef::new(FONT_BYTES).ok()?;
        let m = font.metrics(Size::unscaled(), LocationRef::default());
        Some(Font { font, units_per_em: f32::from(m.units_per_em.max(1)), ascent: m.ascent, descent: m.descent })
    })
    .as_ref()
}

/// Distance from the top of a line box to its baseline, for a font of `size` pixels.
pub(crate) fn ascent(size: f32) -> f32 {
    font().map_or(size * 0.8, |f| f.ascent / f.units_per_em * size)
}

/// Height of one line, the CSS `line-height: normal` of this font.
pub(crate) fn line_height(size: f32) -> f32 {
    font().map_or(size * 1.2, |f| (f.ascent - f.descent) / f.units_per_em * size)
}

fn glyph(f: &Font, c: char) -> GlyphId {
    let id = f.font.charmap().map(c).unwrap_or_default();
    if id == GlyphId::NOTDEF && !c.is_whitespace() {
        // Better a question mark than an empty box for a character DejaVu lacks (emoji, CJK).
        return f.font.charmap().map('?').unwrap_or_default();
    }
    id
}

fn advance(f: &Font, id: GlyphId, size: f32) -> f32 {
    f.font.glyph_metrics(Size::new(size), LocationRef::default()).advance_width(id).unwrap_or(size * 0.5)
}

/// Width of `text` on one line.
pub(crate) fn measure(text: &str, size: f32) -> f32 {
    let Some(f) = font() else { return text.chars().count() as f32 * size * 0.55 };
    text.chars().map(|c| advance(f, glyph(f, c), size)).sum()
}

/// Splits `text` into lines: at newlines, then greedily at spaces so that no line exceeds `max_width` (a
/// single word longer than the width is cut between characters, as CSS `word-wrap: break-word` does).
pub(crate) fn wrap(text: &str, size: f32, max_width: Option<f32>) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = paragraph.trim_end_matches('\r');
        let Some(max) = max_width.filter(|m| *m > 0.0) else {
            out.push(paragraph.to_owned());
            continue;
        };
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if measure(&candidate, size) <= max || line.is_empty() && measure(word, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            // The word alone: cut it if it does not fit either.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if !line.is_empty() && measure(&next, size) > max {
                    out.push(std::mem::take(&mut line));
                    next = c.to_string();
                }
                line = next;
            }
        }
        out.push(line);
    }
    out
}

struct Pen<'a> {
    pb: &'a mut PathBuilder,
    x: f32,
    y: f32,
}

impl OutlinePen for Pen<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        self.pb.move_to(self.x + x, self.y - y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.pb.line_to(self.x + x, self.y - y);
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.pb.quad_to(self.x + cx0, self.y - cy0, self.x + x, self.y - y);
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.pb.cubic_to(self.x + cx0, self.y - cy0, self.x + cx1, self.y - cy1, self.x + x, self.y - y);
    }
    fn close(&mut self) {
        self.pb.close();
    }
}

/// Fills one line of text with its baseline starting at `(x, baseline)` in the space of `transform`.
pub(crate) fn draw_line(
    pixmap: &mut Pixmap,
    text: &str,
    x: f32,
    baseline: f32,
    size: f32,
    paint: &Paint<'_>,
    transform: Transform,
) {
    let Some(f) = font() else { return };
    if !(size.is_finite() && size > 0.0) {
        return;
    }
    let outlines = f.font.outline_glyphs();
    let mut pb = PathBuilder::new();
    let mut pen_x = x;
    for c in text.chars() {
        let id = glyph(f, c);
        if let Some(outline) = outlines.get(id) {
            let mut pen = Pen { pb: &mut pb, x: pen_x, y: baseline };
            let _ = outline.draw(DrawSettings::unhinted(Size::new(size), LocationRef::default()), &mut pen);
        }
        pen_x += advance(f, id, size);
    }
    if let Some(path) = pb.finish() {
        pixmap.fill_path(&path, paint, FillRule::Winding, transform, None);
    }
}

/// Horizontal placement of a line in a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Start,
    Middle,
    End,
}

impl Align {
    pub(crate) fn parse(s: Option<&str>) -> Align {
        match s.unwrap_or("") {
            "middle" | "center" => Align::Middle,
            "end" | "right" => Align::End,
            _ => Align::Start,
        }
    }
}

/// Draws already-wrapped `lines` top-down from `(x, top)`, each aligned within `width`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_lines(
    pixmap: &mut Pixmap,
    lines: &[String],
    x: f32,
    top: f32,
    width: f32,
    size: f32,
    align: Align,
    paint: &Paint<'_>,
    transform: Transform,
) {
    let step = line_height(size);
    for (i, line) in lines.iter().enumerate() {
        let w = measure(line, size);
        let dx = match align {
            Align::Start => 0.0,
            Align::Middle => (width - w) / 2.0,
            Align::End => width - w,
        };
        draw_line(pixmap, line, x + dx, top + i as f32 * step + ascent(size), size, paint, transform);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accented_letters_have_their_own_glyphs() {
        let f = font().expect("embedded font parses");
        for c in "éèêàçùôîœ«»²€".chars() {
            assert_ne!(glyph(f, c), GlyphId::NOTDEF, "{c}");
            assert_ne!(glyph(f, c), glyph(f, '?'), "{c}");
        }
    }

    #[test]
    fn wrapping_respects_the_width() {
        let lines = wrap("Définition : « ensemble » des éléments", 20.0, Some(150.0));
        assert!(lines.len() > 1, "{lines:?}");
        for l in &lines {
            assert!(measure(l, 20.0) <= 150.0 + 0.01, "{l}");
        }
        assert_eq!(wrap("a\nb", 20.0, None), ["a", "b"]);
        let cut = wrap("anticonstitutionnellement", 20.0, Some(60.0));
        assert!(cut.len() > 2 && cut.concat() == "anticonstitutionnellement");
    }
}
