//! Tolerant reading of the `style` attributes and path data of `shapes.svg`.
//!
//! Real files hold broken styles such as `color:#0088ffstroke-width:5px` (a lost `;`): a declaration whose value
//! contains another known property name followed by `:` is split there, with a warning, instead of losing both.

use crate::model::{Color, PathSegment, Point, Style};

/// Properties the publish script writes; used to find where a declaration that lost its `;` was glued on.
const KNOWN: &[&str] = &[
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-opacity",
    "stroke-width",
    "stroke",
    "fill-opacity",
    "fill",
    "font-family",
    "font-size",
    "color",
    "visibility",
    "word-wrap",
    "opacity",
];

/// Splits a style attribute into `(property, value)` pairs, repairing glued declarations; the strings in the
/// second list describe what was repaired or dropped.
pub(crate) fn declarations(style: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for item in style.split(';') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let mut rest = item;
        let Some((key, value)) = rest.split_once(':') else {
            problems.push(format!("style declaration `{}` has no `:`", crate::time::shorten(item)));
            continue;
        };
        let mut key = key.trim().to_ascii_lowercase();
        rest = value;
        // Split off glued declarations: find a later `known:` inside the value.
        loop {
            match glued_split(rest) {
                Some((value, next_key, next_rest)) => {
                    problems.push(format!(
                        "style `{}`: missing `;` before `{next_key}`, read as two declarations",
                        crate::time::shorten(item)
                    ));
                    out.push((key, value.trim().to_owned()));
                    key = next_key.to_owned();
                    rest = next_rest;
                }
                None => {
                    out.push((key, rest.trim().to_owned()));
                    break;
                }
            }
        }
    }
    (out, problems)
}

/// In `#0088ffstroke-width:5px`, finds `stroke-width` ending right before a `:` and returns
/// `("#0088ff", "stroke-width", "5px")`.
fn glued_split(value: &str) -> Option<(&str, &'static str, &str)> {
    let colon = value.find(':')?;
    let before = &value[..colon];
    let lower = before.to_ascii_lowercase();
    let name = KNOWN.iter().filter(|k| lower.ends_with(*k)).max_by_key(|k| k.len())?;
    let split = before.len() - name.len();
    Some((&value[..split], name, &value[colon + 1..]))
}

/// Parses `#rgb`, `#rrggbb` (with trailing junk ignored when the hex part is whole), `rgb(r,g,b)` and a few
/// names; `none`/`transparent` are `None`.
pub(crate) fn parse_color(value: &str) -> Result<Option<Color>, String> {
    let v = value.trim().to_ascii_lowercase();
    if v == "none" || v == "transparent" {
        return Ok(None);
    }
    if let Some(hex) = v.strip_prefix('#') {
        let digits: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        let channel = |s: &str| u8::from_str_radix(s, 16).ok();
        let rgb = match digits.len() {
            6.. => (channel(&digits[0..2]), channel(&digits[2..4]), channel(&digits[4..6])),
            3 => {
                let d: Vec<String> = digits.chars().map(|c| format!("{c}{c}")).collect();
                (channel(&d[0]), channel(&d[1]), channel(&d[2]))
            }
            _ => (None, None, None),
        };
        if let (Some(r), Some(g), Some(b)) = rgb {
            return Ok(Some(Color::Rgb(r, g, b)));
        }
        return Err(format!("`{}` is not a colour", crate::time::shorten(value.trim())));
    }
    if let Some(inner) = v.strip_prefix("rgb(").and_then(|s| s.strip_suffix(')')) {
        let parts: Vec<Option<u8>> = inner.split(',').map(|p| p.trim().parse::<f64>().ok().map(clamp_u8)).collect();
        if let [Some(r), Some(g), Some(b)] = parts[..] {
            return Ok(Some(Color::Rgb(r, g, b)));
        }
    }
    match v.as_str() {
        "black" => Ok(Some(Color::Rgb(0, 0, 0))),
        "white" => Ok(Some(Color::Rgb(255, 255, 255))),
        "red" => Ok(Some(Color::Rgb(255, 0, 0))),
        _ if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphabetic() || c == '-') => Ok(Some(Color::Named(v))),
        _ => Err(format!("`{}` is not a colour", crate::time::shorten(value.trim()))),
    }
}

fn clamp_u8(v: f64) -> u8 {
    if v.is_finite() { v.clamp(0.0, 255.0).round() as u8 } else { 0 }
}

/// A length like `5px`, `3.9`, `39.04555px`.
pub(crate) fn parse_length(value: &str) -> Result<f64, String> {
    let v = value.trim();
    let number = v.strip_suffix("px").unwrap_or(v);
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(format!("`{}` is not a length", crate::time::shorten(v))),
    }
}

/// Reads an SVG-era style attribute; problems go to the returned list.
pub(crate) fn parse_svg_style(attr: &str) -> (Style, Vec<String>) {
    let (decls, mut problems) = declarations(attr);
    let mut style = Style::default();
    let mut text_color = None;
    for (key, value) in decls {
        let mut bad = |e: String| problems.push(format!("style `{key}`: {e}"));
        match key.as_str() {
            "stroke" => match parse_color(&value) {
                Ok(c) => style.color = c,
                Err(e) => bad(e),
            },
            "color" => match parse_color(&value) {
                Ok(c) => text_color = c,
                Err(e) => bad(e),
            },
            "fill" => match parse_color(&value) {
                Ok(c) => style.fill_color = c,
                Err(e) => bad(e),
            },
            "stroke-width" => match parse_length(&value) {
                Ok(w) => style.stroke_width = Some(w),
                Err(e) => bad(e),
            },
            "font-size" => match parse_length(&value) {
                Ok(w) => style.font_size = Some(w),
                Err(e) => bad(e),
            },
            "font-family" => style.font = Some(value.trim_matches(['"', '\'']).to_owned()),
            "stroke-linecap" => style.line_cap = Some(value),
            "stroke-linejoin" => style.line_join = Some(value),
            "opacity" => match value.trim().parse::<f64>() {
                Ok(o) if o.is_finite() => style.opacity = o.clamp(0.0, 1.0),
                _ => bad(format!("`{}` is not an opacity", crate::time::shorten(&value))),
            },
            // Hidden until the player shows it; layout hints the renderer handles on its own.
            "visibility" | "word-wrap" | "stroke-miterlimit" | "stroke-dasharray" | "fill-opacity"
            | "stroke-opacity" => {}
            _ => {}
        }
    }
    if style.color.is_none() {
        style.color = text_color;
    }
    (style, problems)
}

/// Parses SVG path data into absolute segments. Stops at the first malformed command and returns what came
/// before it together with the reason.
pub(crate) fn parse_path(d: &str) -> (Vec<PathSegment>, Option<String>) {
    let mut lexer = Lexer { s: d.as_bytes(), i: 0 };
    let mut out = Vec::new();
    let mut current = Point::default();
    let mut start = Point::default();
    let mut command: Option<u8> = None;
    loop {
        lexer.skip_separators();
        if lexer.i >= lexer.s.len() {
            return (out, None);
        }
        let c = lexer.s[lexer.i];
        if c.is_ascii_alphabetic() {
            lexer.i += 1;
            command = Some(c);
        } else if command.is_none() {
            return (out, Some(format!("path data does not start with a command at byte {}", lexer.i)));
        }
        let Some(cmd) = command else { return (out, None) };
        let relative = cmd.is_ascii_lowercase();
        let base = if relative { current } else { Point::default() };
        let at = lexer.i;
        let mut num = || lexer.number();
        let pt = |x: f64, y: f64| Point::new(base.x + x, base.y + y);
        let segment = match cmd.to_ascii_uppercase() {
            b'M' => num().zip(num()).map(|(x, y)| {
                let p = pt(x, y);
                start = p;
                // Further pairs after a moveto are linetos.
                command = Some(if relative { b'l' } else { b'L' });
                PathSegment::MoveTo(p)
            }),
            b'L' => num().zip(num()).map(|(x, y)| PathSegment::LineTo(pt(x, y))),
            b'H' => num().map(|x| PathSegment::LineTo(Point::new(if relative { current.x + x } else { x }, current.y))),
            b'V' => num().map(|y| PathSegment::LineTo(Point::new(current.x, if relative { current.y + y } else { y }))),
            b'Q' => (|| Some(PathSegment::QuadTo(pt(num()?, num()?), pt(num()?, num()?))))(),
            b'C' => (|| Some(PathSegment::CubicTo(pt(num()?, num()?), pt(num()?, num()?), pt(num()?, num()?))))(),
            b'A' => (|| {
                let (rx, ry, rot) = (num()?, num()?, num()?);
                let (large, sweep) = (num()?, num()?);
                let to = pt(num()?, num()?);
                Some(PathSegment::Arc {
                    rx: rx.abs(),
                    ry: ry.abs(),
                    x_rotation: rot,
                    large_arc: large != 0.0,
                    sweep: sweep != 0.0,
                    to,
                })
            })(),
            b'Z' => {
                command = None;
                Some(PathSegment::Close)
            }
            other => {
                return (out, Some(format!("unsupported path command `{}` at byte {at}", other as char)));
            }
        };
        let Some(segment) = segment else {
            return (out, Some(format!("path command `{}` lacks numbers at byte {at}", cmd as char)));
        };
        current = match segment {
            PathSegment::MoveTo(p) | PathSegment::LineTo(p) => p,
            PathSegment::QuadTo(_, p) | PathSegment::CubicTo(_, _, p) => p,
            PathSegment::Arc { to, .. } => to,
            PathSegment::Close => start,
        };
        out.push(segment);
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_separators(&mut self) {
        while self.i < self.s.len() && (self.s[self.i].is_ascii_whitespace() || self.s[self.i] == b',') {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Option<f64> {
        self.skip_separators();
        let start = self.i;
        let s = self.s;
        let mut i = self.i;
        if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
            i += 1;
        }
        let mut digits = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
                digits += 1;
            }
        }
        if digits == 0 {
            return None;
        }
        if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
            let mut j = i + 1;
            if j < s.len() && (s[j] == b'-' || s[j] == b'+') {
                j += 1;
            }
            if j < s.len() && s[j].is_ascii_digit() {
                while j < s.len() && s[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        let v: f64 = std::str::from_utf8(&s[start..i]).ok()?.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        self.i = i;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_declarations_are_split() {
        let (decls, problems) = declarations("color:#0088ffstroke-width:5px;visibility:hidden;");
        assert_eq!(
            decls,
            vec![
                ("color".into(), "#0088ff".into()),
                ("stroke-width".into(), "5px".into()),
                ("visibility".into(), "hidden".into())
            ]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (style, _) = parse_svg_style("color:#0088ffstroke-width:5px;visibility:hidden;");
        assert_eq!(style.color, Some(Color::Rgb(0, 0x88, 0xff)));
        assert_eq!(style.stroke_width, Some(5.0));
    }

    #[test]
    fn real_styles_read_fully() {
        let (s, p) = parse_svg_style(
            "stroke:#ff0000;stroke-linecap:round;stroke-linejoin:round;stroke-width:3.90456;visibility:hidden;fill:none",
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.color, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(s.stroke_width, Some(3.90456));
        assert_eq!(s.fill_color, None);
        assert_eq!(s.line_cap.as_deref(), Some("round"));
        let (s, p) = parse_svg_style(
            "color:#ff0000;word-wrap:break-word;visibility:hidden;font-family:Arial;font-size:39.04555px",
        );
        assert!(p.is_empty());
        assert_eq!((s.font.as_deref(), s.font_size), (Some("Arial"), Some(39.04555)));
        assert_eq!(s.color, Some(Color::Rgb(255, 0, 0)));
    }

    #[test]
    fn junk_styles_warn_but_keep_the_rest() {
        let (s, p) = parse_svg_style("stroke:#zz;stroke-width:NaN;;nocolon;fill:#00ff00");
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(s.fill_color, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(s.stroke_width, None);
    }

    #[test]
    fn paths_parse_absolute_and_relative() {
        let (segs, err) = parse_path("M694.56064 298.8799L702.36984 298.8799L714.08361 298.8799Z");
        assert_eq!(err, None);
        assert_eq!(segs.len(), 4);
        assert_eq!(segs[2], PathSegment::LineTo(Point::new(714.08361, 298.8799)));
        let (segs, err) = parse_path("m10 10 5 5 h 10 v-5 z");
        assert_eq!(err, None);
        assert_eq!(
            segs,
            vec![
                PathSegment::MoveTo(Point::new(10.0, 10.0)),
                PathSegment::LineTo(Point::new(15.0, 15.0)),
                PathSegment::LineTo(Point::new(25.0, 15.0)),
                PathSegment::LineTo(Point::new(25.0, 10.0)),
                PathSegment::Close
            ]
        );
        let (segs, err) = parse_path("M1 2A3 4 0 0 1 5 6Z");
        assert!(err.is_none());
        assert!(matches!(segs[1], PathSegment::Arc { rx: 3.0, ry: 4.0, sweep: true, large_arc: false, .. }));
        let (segs, err) = parse_path("M1 2L3");
        assert_eq!(segs.len(), 1);
        assert!(err.is_some());
        let (_, err) = parse_path("M1 2X5 5");
        assert!(err.unwrap().contains('X'));
    }
}
