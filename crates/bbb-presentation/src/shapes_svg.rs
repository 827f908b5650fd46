//! `shapes.svg`: the slide images shown and, up to BBB 2.5, the annotations.
//!
//! Written by `record-and-playback/presentation/scripts/publish/presentation.rb` (Nokogiri, SVG 1.1 DOCTYPE):
//! - `<image id="imageN" class="slide" in out xlink:href width height text>` per showing. BBB 2.3+ writes one
//!   image per showing; BBB ≤ 2.2 may list several space-separated `in`/`out` times in one image, each pair a
//!   showing of the same image (bbb-playback reads only the `in` list; we pair them with `out`).
//!   Paths: `presentation/<presentation>/slide-N.png` (≤ 2.5), `presentation/<presentation>/svgs/slideN.svg`
//!   (2.6+, tldraw), `presentation/deskshare.png` during screen sharing, `presentation/logo.png` before any
//!   presentation.
//! - up to 2.5, `<g class="canvas" image="imageN">` holding `<g class="shape" timestamp undo shape style>`: each
//!   update of a shape while it is drawn is a new `<g>` with the same `shape` id (`imageN-line9`); `undo="-1"`
//!   means never removed. Elements: `<path>` (pencil, rectangle, triangle, ellipse as four arcs), `<line>`,
//!   `<circle>` (one-point pencil), `<switch><foreignObject><p>` (text, lines split by `<br/>`), `<image>` (poll
//!   result chart, 2.3+) or `<rect>` + rotated `<image>` (poll before 2.3), `<polyline>`/`<polygon>` (0.9-era).
//!   Very old scripts named pencil shapes `lineN` with a `<path>`: the element decides the kind then.
//! - 2.6+ writes no canvas: annotations are in `tldraw.json`, keyed by the same image number.

use std::collections::HashMap;

use roxmltree::Node;

use crate::model::{Geometry, Point, Revision, Shape, ShapeKind, ShapeTrack, SlideContent, SlideShowing};
use crate::svgstyle::{parse_path, parse_svg_style};
use crate::time::{Warnings, parse_number, parse_seconds, shorten};
use crate::xml::{describe, has_class, trailing_number};
use crate::{Time, xml};

const XLINK: &str = "http://www.w3.org/1999/xlink";

#[derive(Default)]
pub(crate) struct SvgContent {
    pub(crate) slides: Vec<SlideShowing>,
    pub(crate) shapes: Vec<ShapeTrack>,
    pub(crate) canvases: usize,
}

/// Reads `shapes.svg`; `end_fallback` closes a showing whose `out` is missing.
pub(crate) fn parse(bytes: &[u8], end_fallback: Option<Time>, w: &mut Warnings<'_>) -> SvgContent {
    let (text, lossy) = xml::text(bytes);
    if lossy {
        w.file("not valid UTF-8; invalid bytes replaced");
    }
    let repaired: Option<String>;
    let doc = match xml::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            repaired = xml::close_truncated(&text);
            match repaired.as_deref().map(xml::parse) {
                Some(Ok(doc)) => {
                    w.file(format!("not well-formed XML ({e}); read as cut off after its last complete tag"));
                    doc
                }
                _ => {
                    w.file(format!("not well-formed XML ({e}); no slide or annotation read from it"));
                    return SvgContent::default();
                }
            }
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "svg" {
        w.push(describe(root), "root element is not <svg>; nothing read");
        return SvgContent::default();
    }
    let mut out = SvgContent::default();
    let mut seen_ids: HashMap<u32, usize> = HashMap::new();
    for (index, image) in xml::children(root, "image").enumerate() {
        read_image(image, index, end_fallback, &mut seen_ids, &mut out.slides, w);
    }
    let mut tracks: Vec<ShapeTrack> = Vec::new();
    let mut by_key: HashMap<(u32, String), usize> = HashMap::new();
    for canvas in xml::children(root, "g").filter(|g| has_class(*g, "canvas")) {
        out.canvases += 1;
        let Some(image_id) = canvas.attribute("image").and_then(trailing_number) else {
            w.push(describe(canvas), "canvas without a readable `image` attribute; its shapes are skipped");
            continue;
        };
        if !seen_ids.contains_key(&image_id) {
            w.push(describe(canvas), format!("canvas for image{image_id}, which is never shown"));
        }
        for g in xml::children(canvas, "g") {
            if !has_class(g, "shape") {
                w.push(describe(g), "group without class=\"shape\" in a canvas; skipped");
                continue;
            }
            let Some((id, revision)) = read_shape(g, w) else { continue };
            let key = (image_id, id);
            match by_key.get(&key) {
                Some(&i) => tracks[i].revisions.push(revision),
                None => {
                    by_key.insert(key.clone(), tracks.len());
                    tracks.push(ShapeTrack { id: key.1, image_id, revisions: vec![revision] });
                }
            }
        }
    }
    for track in &mut tracks {
        // Stable: equal timestamps keep file order, and the later one is the newer revision.
        track.revisions.sort_by_key(|r| r.at);
    }
    out.shapes = tracks;
    out
}

fn read_image(
    image: Node<'_, '_>,
    index: usize,
    end_fallback: Option<Time>,
    seen_ids: &mut HashMap<u32, usize>,
    slides: &mut Vec<SlideShowing>,
    w: &mut Warnings<'_>,
) {
    let at = describe(image);
    let Some(href) = image.attribute((XLINK, "href")).or_else(|| image.attribute("href")) else {
        w.push(at, "slide image without xlink:href; skipped");
        return;
    };
    let image_id = match image.attribute("id").and_then(trailing_number) {
        Some(n) => n,
        None => {
            // Keep the showing, but let no canvas claim it.
            w.push(&at, "slide image without a numbered id; its annotations cannot be found");
            u32::MAX - index as u32
        }
    };
    if let Some(previous) = seen_ids.insert(image_id, index) {
        w.push(&at, format!("id image{image_id} already used by image number {}; shapes apply to both", previous + 1));
    }
    let times = |name: &str, w: &mut Warnings<'_>| -> Vec<Option<Time>> {
        image
            .attribute(name)
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(|s| match parse_seconds(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    w.push(&at, format!("`{name}`: {e}"));
                    None
                }
            })
            .collect()
    };
    let ins = times("in", w);
    let outs = times("out", w);
    if ins.is_empty() {
        w.push(&at, "slide image without `in` time; skipped");
        return;
    }
    if ins.len() != outs.len() {
        w.push(&at, format!("{} `in` times but {} `out` times", ins.len(), outs.len()));
    }
    let dimension = |name: &str, w: &mut Warnings<'_>| match image.attribute(name).map(parse_number) {
        Some(Ok(v)) if v >= 0.0 => v,
        Some(Ok(v)) => {
            w.push(&at, format!("negative {name} {v}; taken as 0"));
            0.0
        }
        Some(Err(e)) => {
            w.push(&at, format!("`{name}`: {e}; taken as 0"));
            0.0
        }
        None => {
            w.push(&at, format!("no `{name}`; taken as 0"));
            0.0
        }
    };
    let (width, height) = (dimension("width", w), dimension("height", w));
    let content = content_of(href);
    for (i, start) in ins.iter().enumerate() {
        let Some(start) = *start else { continue };
        let end = match outs.get(i).copied().flatten().or(end_fallback) {
            Some(end) => end,
            None => {
                w.push(&at, format!("showing from {start} has no `out` and the duration is unknown; skipped"));
                continue;
            }
        };
        if end < start {
            w.push(&at, format!("showing ends at {end} before it starts at {start}; skipped"));
            continue;
        }
        if end == start {
            continue;
        }
        slides.push(SlideShowing {
            start,
            end,
            image_id,
            href: href.to_owned(),
            width,
            height,
            content: content.clone(),
            text_href: image.attribute("text").map(str::to_owned),
        });
    }
}

/// What an image path shows, from the publish script's naming.
pub(crate) fn content_of(href: &str) -> SlideContent {
    match href {
        "presentation/deskshare.png" => return SlideContent::Deskshare,
        "presentation/logo.png" => return SlideContent::Logo,
        _ => {}
    }
    let Some(rest) = href.strip_prefix("presentation/") else { return SlideContent::Other };
    let Some((presentation, file)) = rest.split_once('/') else { return SlideContent::Other };
    let number = file
        .strip_prefix("slide-")
        .and_then(|f| f.strip_suffix(".png").or_else(|| f.strip_suffix(".jpg")).or_else(|| f.strip_suffix(".svg")))
        .or_else(|| file.strip_prefix("svgs/slide").and_then(|f| f.strip_suffix(".svg")))
        .and_then(|n| n.parse::<u32>().ok());
    match number {
        Some(number) if !presentation.is_empty() => {
            SlideContent::Page { presentation: presentation.to_owned(), number }
        }
        _ => SlideContent::Other,
    }
}

fn read_shape(g: Node<'_, '_>, w: &mut Warnings<'_>) -> Option<(String, Revision)> {
    let at = describe(g);
    let timestamp = match g.attribute("timestamp").map(parse_seconds) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            w.push(&at, format!("`timestamp`: {e}; shape revision skipped"));
            return None;
        }
        None => {
            w.push(&at, "no `timestamp`; shape revision skipped");
            return None;
        }
    };
    let undo = match g.attribute("undo").map(str::trim) {
        None => None,
        Some(u) => match parse_number(u) {
            Ok(v) if v < 0.0 => None,
            Ok(_) => match parse_seconds(u) {
                Ok(t) => Some(t),
                Err(e) => {
                    w.push(&at, format!("`undo`: {e}; taken as never"));
                    None
                }
            },
            Err(e) => {
                w.push(&at, format!("`undo`: {e}; taken as never"));
                None
            }
        },
    };
    let undo = match undo {
        Some(u) if u < timestamp => {
            // The publish script never writes this; a shape undone before it appears is never seen.
            w.push(&at, format!("undone at {u} before it appears at {timestamp}"));
            Some(u)
        }
        other => other,
    };
    let id = match g.attribute("shape").or_else(|| g.attribute("id")) {
        Some(id) => id.to_owned(),
        None => {
            w.push(&at, "no `shape` id; treated as a shape of its own");
            format!("anonymous-{}", g.range().start)
        }
    };
    let (style, problems) = parse_svg_style(g.attribute("style").unwrap_or(""));
    for p in problems {
        w.push(&at, p);
    }
    let mut parts = Vec::new();
    for element in g.children().filter(Node::is_element) {
        if let Some(geometry) = geometry_of(element, w) {
            parts.push(geometry);
        }
    }
    let geometry = match parts.len() {
        0 => {
            w.push(&at, "no drawable element; shape revision skipped");
            return None;
        }
        1 => parts.pop()?,
        _ => Geometry::Group(parts),
    };
    let kind = kind_of(&id, &geometry);
    let shape = Shape { kind, geometry, style, origin: Point::default(), rotation: 0.0, z: None };
    Some((id, Revision { at: timestamp, undo, shape }))
}

fn kind_of(id: &str, geometry: &Geometry) -> ShapeKind {
    // `image2-line9` → `line`.
    let name = match id.split_once('-') {
        Some((prefix, rest)) if prefix.starts_with("image") => rest,
        _ => id,
    };
    let word: String = name.chars().take_while(char::is_ascii_alphabetic).collect();
    match (word.as_str(), geometry) {
        (_, Geometry::Dot { .. }) => ShapeKind::Pencil,
        ("line", Geometry::Path(_) | Geometry::Polyline { .. }) => ShapeKind::Pencil,
        ("pencil", _) => ShapeKind::Pencil,
        ("line", _) => ShapeKind::Line,
        ("rect" | "rectangle", _) => ShapeKind::Rectangle,
        ("ellipse" | "circle", _) => ShapeKind::Ellipse,
        ("triangle", _) => ShapeKind::Triangle,
        ("text", _) => ShapeKind::Text,
        ("poll", _) => ShapeKind::Poll,
        (_, Geometry::Line { .. }) => ShapeKind::Line,
        (_, Geometry::TextBox { .. }) => ShapeKind::Text,
        (_, Geometry::Image { .. } | Geometry::Group(_) | Geometry::Rect { .. }) => ShapeKind::Poll,
        _ => ShapeKind::Pencil,
    }
}

fn geometry_of(element: Node<'_, '_>, w: &mut Warnings<'_>) -> Option<Geometry> {
    let at = describe(element);
    let mut num = |name: &str| -> f64 {
        match element.attribute(name).map(parse_number) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                w.push(&at, format!("`{name}`: {e}; taken as 0"));
                0.0
            }
            None => {
                w.push(&at, format!("no `{name}`; taken as 0"));
                0.0
            }
        }
    };
    match element.tag_name().name() {
        "path" => {
            let d = element.attribute("d").unwrap_or("");
            let (segments, problem) = parse_path(d);
            if let Some(p) = problem {
                w.push(&at, format!("{p}; the path is cut there"));
            }
            if segments.is_empty() {
                w.push(&at, "empty path; skipped");
                return None;
            }
            Some(Geometry::Path(segments))
        }
        "line" => {
            let (x1, y1, x2, y2) = (num("x1"), num("y1"), num("x2"), num("y2"));
            Some(Geometry::Line { from: Point::new(x1, y1), to: Point::new(x2, y2) })
        }
        "circle" => {
            let (cx, cy, r) = (num("cx"), num("cy"), num("r"));
            Some(Geometry::Dot { center: Point::new(cx, cy), radius: r.abs() })
        }
        "rect" => {
            let (x, y, width, height) = (num("x"), num("y"), num("width"), num("height"));
            Some(Geometry::Rect { x, y, width, height })
        }
        name @ ("polyline" | "polygon") => {
            let numbers: Vec<f64> = element
                .attribute("points")
                .unwrap_or("")
                .split(|c: char| c.is_ascii_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            if numbers.len() < 2 {
                w.push(&at, "fewer than one point; skipped");
                return None;
            }
            let points = numbers.chunks_exact(2).map(|p| Point::new(p[0], p[1])).collect();
            Some(Geometry::Polyline { points, closed: name == "polygon" })
        }
        "image" => {
            let Some(href) = element.attribute((XLINK, "href")).or_else(|| element.attribute("href")) else {
                w.push(&at, "image without xlink:href; skipped");
                return None;
            };
            let (x, y, width, height) = (num("x"), num("y"), num("width"), num("height"));
            let transform = element.attribute("transform").map(str::to_owned);
            Some(Geometry::Image { href: href.to_owned(), x, y, width, height, transform })
        }
        "switch" => {
            let Some(fo) = element.descendants().find(|n| n.is_element() && n.tag_name().name() == "foreignObject")
            else {
                w.push(&at, "<switch> without <foreignObject>; skipped");
                return None;
            };
            geometry_of(fo, w)
        }
        "foreignObject" => {
            let (x, y, width, height) = (num("x"), num("y"), num("width"), num("height"));
            Some(Geometry::TextBox { x, y, width, height, lines: text_lines(element) })
        }
        other => {
            w.push(&at, format!("unknown shape element <{}>; skipped", shorten(other)));
            None
        }
    }
}

/// The text of a foreignObject, one string per `<br/>`-separated line (empty `<p/>` → no line).
fn text_lines(fo: Node<'_, '_>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut any = false;
    for node in fo.descendants() {
        if node.is_element() && node.tag_name().name() == "br" {
            lines.push(std::mem::take(&mut current));
            any = true;
        } else if node.is_text() {
            if let Some(t) = node.text() {
                // Whitespace between elements is the serializer's indentation, not content.
                if node.parent().is_some_and(|p| p.tag_name().name() != "foreignObject") {
                    current.push_str(t);
                    any = true;
                }
            }
        }
    }
    if any {
        lines.push(current);
    }
    lines
}
