//! `tldraw.json`: annotations of BBB 2.6+ (tldraw v1 in 2.6–2.7, BBB's fork of tldraw v2 in 3.0).
//!
//! The publish script (`presentation.rb`, `build_tldraw_shape` / `svg_render_image`) writes one JSON object:
//! `{"bbb_version": "2.6.1", "<N>": {"shapes": [{"id": draw, "timestamp": s, "undo": s | -1, "shape_data": {…}}],
//! "timestamp": s}, …}` where `N` is the number of `imageN` in `shapes.svg` (so a revisited slide has a key per
//! showing, like the SVG canvases) and each entry of `shapes` is one revision: every `AddTldrawShapeEvent`
//! deep-merges its `shapeData` into the previous revision of the same shape id, so `shape_data` is complete.
//! `DeleteTldrawShapeEvent` and clears set `undo` on every revision of the shape.
//!
//! Shape data, as tldraw itself stores it:
//! - v1 (2.6–2.7): `{id, type, point: [x, y], size: [w, h] | radius: [rx, ry], rotation, childIndex, points:
//!   [[x, y, pressure]], handles: {start: {point}, end: {point}}, bend, decorations: {start, end}, text, label,
//!   name, style: {color, size: small|medium|large, dash, isFilled, scale, font, textAlign}}`. Poll results are
//!   `rectangle`s named `poll-result-…` with the chart as text `label`.
//! - v2 (3.0): `{id: "shape:…", type, x, y, rotation, opacity, index, parentId, props: {…}, meta}` with types
//!   `draw`, `highlight` (`segments: [{type, points: [{x, y, z}]}]`), `geo` (`geo`, `w`, `h`, `growY`, `fill`,
//!   `text`), `line` (`points` or, in older forks, `handles`: `{id: {index, x, y}}`), `arrow` (`start`/`end`
//!   points or bindings, `bend`, `arrowheadStart`/`End`), `text`, `note`, `frame`, BBB's `poll` (`answers:
//!   [{key, numVotes}]`).
//!
//! Which schema applies comes from `bbb_version` (≥ 3.0 → v2), and when that is missing from the shapes
//! themselves (`props` → v2, `point` → v1).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::Time;
use crate::model::{
    AnnotationFormat, Color, Dash, Fill, Geometry, Handle, Point, PollAnswer, Revision, Shape, ShapeKind, ShapeTrack,
    SizeStep, StrokePoint, Style,
};
use crate::time::{Warnings, shorten};

pub(crate) struct TldrawContent {
    pub(crate) bbb_version: Option<String>,
    pub(crate) format: Option<AnnotationFormat>,
    pub(crate) shapes: Vec<ShapeTrack>,
}

/// The format a BBB version implies, if it reads as one.
pub(crate) fn format_of_version(version: &str) -> Option<AnnotationFormat> {
    let mut parts = version.trim().trim_start_matches('v').split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let patch: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some(match (major, minor, patch) {
        (3.., _, _) => AnnotationFormat::TldrawV2,
        (2, 6, 0) => AnnotationFormat::TldrawV1 { before_2_6_1: true },
        (2, 6.., _) => AnnotationFormat::TldrawV1 { before_2_6_1: false },
        _ => return None,
    })
}

pub(crate) fn parse(bytes: &[u8], w: &mut Warnings<'_>) -> TldrawContent {
    let mut out = TldrawContent { bbb_version: None, format: None, shapes: Vec::new() };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        w.file("empty file");
        return out;
    }
    let root: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            w.file(format!("not valid JSON ({e}); no annotation read"));
            return out;
        }
    };
    let Value::Object(root) = root else {
        w.file("top level is not a JSON object; no annotation read");
        return out;
    };
    out.bbb_version = match root.get("bbb_version") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => {
            w.push("bbb_version", format!("not a string: {}", shorten(&other.to_string())));
            None
        }
    };
    let from_version = out.bbb_version.as_deref().and_then(format_of_version);
    if let (Some(v), None) = (&out.bbb_version, from_version) {
        w.push("bbb_version", format!("`{}` is not a tldraw-era BBB version; the shapes decide", shorten(v)));
    }
    // Keys in image order (JSON object order is not meaningful; the player iterates numeric keys ascending).
    let mut images: Vec<(u32, &Value)> = Vec::new();
    for (key, value) in &root {
        if key == "bbb_version" {
            continue;
        }
        match key.trim().parse::<u32>() {
            Ok(n) => images.push((n, value)),
            Err(_) => w.push(format!("[{}]", shorten(key)), "key is not an image number; skipped"),
        }
    }
    images.sort_by_key(|(n, _)| *n);
    let format = from_version.or_else(|| detect(&images));
    out.format = format;
    let v2 = matches!(format, Some(AnnotationFormat::TldrawV2));
    let mut tracks: Vec<ShapeTrack> = Vec::new();
    let mut by_key: HashMap<(u32, String), usize> = HashMap::new();
    for (image_id, value) in images {
        let path = format!("[\"{image_id}\"]");
        let Some(shapes) = value.get("shapes") else {
            w.push(&path, "no `shapes` list; skipped");
            continue;
        };
        let Some(shapes) = shapes.as_array() else {
            w.push(&path, "`shapes` is not a list; skipped");
            continue;
        };
        for (i, entry) in shapes.iter().enumerate() {
            let at = format!("{path}.shapes[{i}]");
            let Some((id, revision)) = read_entry(entry, v2, &at, w) else { continue };
            let key = (image_id, id);
            match by_key.get(&key) {
                Some(&t) => tracks[t].revisions.push(revision),
                None => {
                    by_key.insert(key.clone(), tracks.len());
                    tracks.push(ShapeTrack { id: key.1, image_id, revisions: vec![revision] });
                }
            }
        }
    }
    for t in &mut tracks {
        t.revisions.sort_by_key(|r| r.at);
    }
    out.shapes = tracks;
    out
}

/// Guesses the schema from the first shape that tells.
fn detect(images: &[(u32, &Value)]) -> Option<AnnotationFormat> {
    let data = images
        .iter()
        .filter_map(|(_, v)| v.get("shapes")?.as_array())
        .flatten()
        .filter_map(|e| e.get("shape_data")?.as_object());
    for d in data {
        if d.contains_key("props") || d.contains_key("typeName") {
            return Some(AnnotationFormat::TldrawV2);
        }
        if d.contains_key("point") || d.contains_key("style") {
            return Some(AnnotationFormat::TldrawV1 { before_2_6_1: false });
        }
    }
    None
}

fn time_field(entry: &Value, name: &str) -> Result<Option<Time>, String> {
    match entry.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_f64().ok_or_else(|| format!("`{name}` is not a number"))?;
            if v < 0.0 {
                return Ok(None);
            }
            Time::from_secs_f64(v).map(Some).ok_or_else(|| format!("`{name}` {v} is not a usable time"))
        }
        Some(Value::String(s)) => crate::time::parse_seconds(s).map(Some),
        Some(other) => Err(format!("`{name}` is not a time: {}", shorten(&other.to_string()))),
    }
}

fn read_entry(entry: &Value, v2: bool, at: &str, w: &mut Warnings<'_>) -> Option<(String, Revision)> {
    let timestamp = match time_field(entry, "timestamp") {
        Ok(Some(t)) => t,
        Ok(None) => {
            w.push(at, "no usable `timestamp`; revision skipped");
            return None;
        }
        Err(e) => {
            w.push(at, format!("{e}; revision skipped"));
            return None;
        }
    };
    let undo = time_field(entry, "undo").unwrap_or_else(|e| {
        w.push(at, format!("{e}; taken as never undone"));
        None
    });
    let Some(data) = entry.get("shape_data").and_then(Value::as_object) else {
        w.push(at, "no `shape_data` object; revision skipped");
        return None;
    };
    let id = match data.get("id").or_else(|| entry.get("id")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            w.push(at, "shape without id; revision skipped");
            return None;
        }
    };
    let ty = data.get("type").and_then(Value::as_str).unwrap_or("");
    let shape = if v2 { shape_v2(ty, data, at, w)? } else { shape_v1(ty, data, at, w)? };
    Some((id, Revision { at: timestamp, undo, shape }))
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|n| n.is_finite())
}

fn text_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `[x, y]` as a point.
fn pair(v: Option<&Value>) -> Option<Point> {
    let a = v?.as_array()?;
    Some(Point::new(num(a.first())?, num(a.get(1))?))
}

fn color(v: Option<&Value>) -> Option<Color> {
    let s = v?.as_str()?;
    if s.starts_with('#') { crate::svgstyle::parse_color(s).ok().flatten() } else { Some(Color::Named(s.to_owned())) }
}

fn dash(v: Option<&Value>) -> Dash {
    match v.and_then(Value::as_str) {
        Some("solid") => Dash::Solid,
        Some("dashed") => Dash::Dashed,
        Some("dotted") => Dash::Dotted,
        _ => Dash::Draw,
    }
}

fn size_step(v: Option<&Value>) -> Option<SizeStep> {
    Some(match v?.as_str()? {
        "small" | "s" => SizeStep::Small,
        "medium" | "m" => SizeStep::Medium,
        "large" | "l" => SizeStep::Large,
        "xl" => SizeStep::ExtraLarge,
        _ => return None,
    })
}

fn positive(v: Option<f64>, name: &str, at: &str, w: &mut Warnings<'_>) -> f64 {
    match v {
        Some(n) if n >= 0.0 => n,
        Some(n) => {
            w.push(at, format!("negative {name} {n}; taken as its size"));
            n.abs()
        }
        None => {
            w.push(at, format!("no {name}; taken as 0"));
            0.0
        }
    }
}

fn unknown(ty: &str, at: &str, w: &mut Warnings<'_>) -> Option<Shape> {
    match ty {
        // Groups only gather other shapes; they draw nothing themselves.
        "group" => None,
        "" => {
            w.push(at, "shape without type; skipped");
            None
        }
        other => {
            w.push(at, format!("unsupported shape type `{}`; skipped", shorten(other)));
            None
        }
    }
}

fn shape_v1(ty: &str, d: &Map<String, Value>, at: &str, w: &mut Warnings<'_>) -> Option<Shape> {
    let st = d.get("style").and_then(Value::as_object);
    let sv = |k: &str| st.and_then(|s| s.get(k));
    let style = Style {
        color: color(sv("color")),
        fill: if sv("isFilled").and_then(Value::as_bool) == Some(true) { Fill::Semi } else { Fill::None },
        size: size_step(sv("size")),
        dash: dash(sv("dash")),
        font: text_of(sv("font")),
        align: text_of(sv("textAlign")),
        scale: num(sv("scale")).filter(|s| *s > 0.0).unwrap_or(1.0),
        ..Style::default()
    };
    let origin = pair(d.get("point")).unwrap_or_else(|| {
        w.push(at, "no `point`; placed at 0,0");
        Point::default()
    });
    let size = pair(d.get("size"));
    let label = text_of(d.get("label"));
    let wh = |w: &mut Warnings<'_>| {
        let s = size.unwrap_or_else(|| {
            w.push(at, "no `size`; taken as 0×0");
            Point::default()
        });
        (positive(Some(s.x), "width", at, w), positive(Some(s.y), "height", at, w))
    };
    let (kind, geometry) = match ty {
        "draw" => {
            let points: Vec<StrokePoint> = d
                .get("points")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let p = p.as_array()?;
                            Some(StrokePoint {
                                x: num(p.first())?,
                                y: num(p.get(1))?,
                                pressure: num(p.get(2)).unwrap_or(0.5),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if points.is_empty() {
                w.push(at, "draw shape without points; skipped");
                return None;
            }
            let complete = d.get("isComplete").and_then(Value::as_bool).unwrap_or(true);
            (ShapeKind::Pencil, Geometry::Freehand { strokes: vec![points], closed: false, complete })
        }
        "rectangle" if d.get("name").and_then(Value::as_str).is_some_and(|n| n.starts_with("poll-result")) => {
            let (width, height) = wh(w);
            let geometry =
                Geometry::Poll { width, height, question: String::new(), answers: Vec::new(), responders: 0, label };
            (ShapeKind::Poll, geometry)
        }
        "rectangle" | "triangle" => {
            let (width, height) = wh(w);
            let kind = if ty == "rectangle" { ShapeKind::Rectangle } else { ShapeKind::Triangle };
            (kind, Geometry::Box { width, height, label })
        }
        "ellipse" => {
            let (width, height) = match pair(d.get("radius")) {
                Some(r) => (2.0 * r.x.abs(), 2.0 * r.y.abs()),
                None => wh(w),
            };
            (ShapeKind::Ellipse, Geometry::Box { width, height, label })
        }
        "arrow" | "line" => {
            let handles = d.get("handles");
            let handle = |name: &str| handles.and_then(|h| h.get(name)).and_then(|h| pair(h.get("point")));
            let (Some(start), Some(end)) = (handle("start"), handle("end")) else {
                w.push(at, "arrow without start and end handles; skipped");
                return None;
            };
            let deco =
                |name: &str| d.get("decorations").and_then(|x| x.get(name)).and_then(Value::as_str).map(str::to_owned);
            let kind = if ty == "line" { ShapeKind::Line } else { ShapeKind::Arrow };
            let geometry = Geometry::Connector {
                start: Handle { point: start, bound: None },
                end: Handle { point: end, bound: None },
                middle: Vec::new(),
                bend: num(d.get("bend")).unwrap_or(0.0),
                head_start: deco("start"),
                head_end: deco("end"),
                spline: None,
                label,
            };
            (kind, geometry)
        }
        "text" => (ShapeKind::Text, Geometry::Text { text: text_of(d.get("text")).unwrap_or_default(), width: None }),
        "sticky" => {
            let (width, height) = wh(w);
            (ShapeKind::Sticky, Geometry::Sticky { text: text_of(d.get("text")).unwrap_or_default(), width, height })
        }
        other => return unknown(other, at, w),
    };
    Some(Shape {
        kind,
        geometry,
        style,
        origin,
        rotation: num(d.get("rotation")).unwrap_or(0.0),
        z: d.get("childIndex").map(|c| c.to_string()),
    })
}

fn shape_v2(ty: &str, d: &Map<String, Value>, at: &str, w: &mut Warnings<'_>) -> Option<Shape> {
    let empty = Map::new();
    let props = d.get("props").and_then(Value::as_object).unwrap_or_else(|| {
        w.push(at, "no `props`; defaults used");
        &empty
    });
    let p = |k: &str| props.get(k);
    let style = Style {
        color: color(p("color")),
        fill: match p("fill").and_then(Value::as_str) {
            Some("semi") => Fill::Semi,
            Some("solid") => Fill::Solid,
            Some("pattern") => Fill::Pattern,
            _ => Fill::None,
        },
        size: size_step(p("size")),
        dash: dash(p("dash")),
        font: text_of(p("font")),
        align: text_of(p("align")),
        vertical_align: text_of(p("verticalAlign")),
        scale: num(p("scale")).filter(|s| *s > 0.0).unwrap_or(1.0),
        opacity: num(d.get("opacity")).unwrap_or(1.0).clamp(0.0, 1.0),
        ..Style::default()
    };
    let origin = match (num(d.get("x")), num(d.get("y"))) {
        (Some(x), Some(y)) => Point::new(x, y),
        _ => {
            w.push(at, "no `x`/`y`; placed at 0,0");
            Point::default()
        }
    };
    let label = text_of(p("text"));
    let (kind, geometry) = match ty {
        "draw" | "highlight" => {
            let strokes: Vec<Vec<StrokePoint>> = p("segments")
                .and_then(Value::as_array)
                .map(|segments| {
                    segments
                        .iter()
                        .filter_map(|s| s.get("points")?.as_array())
                        .map(|points| {
                            points
                                .iter()
                                .filter_map(|pt| {
                                    Some(StrokePoint {
                                        x: num(pt.get("x"))?,
                                        y: num(pt.get("y"))?,
                                        pressure: num(pt.get("z")).unwrap_or(0.5),
                                    })
                                })
                                .collect::<Vec<_>>()
                        })
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if strokes.is_empty() {
                w.push(at, format!("{ty} shape without points; skipped"));
                return None;
            }
            let closed = p("isClosed").and_then(Value::as_bool).unwrap_or(false);
            let complete = p("isComplete").and_then(Value::as_bool).unwrap_or(true);
            let kind = if ty == "draw" { ShapeKind::Pencil } else { ShapeKind::Highlighter };
            (kind, Geometry::Freehand { strokes, closed, complete })
        }
        "geo" => {
            let width = positive(num(p("w")), "w", at, w);
            let height = positive(num(p("h")), "h", at, w) + num(p("growY")).unwrap_or(0.0).max(0.0);
            let kind = match p("geo").and_then(Value::as_str).unwrap_or("rectangle") {
                "rectangle" => ShapeKind::Rectangle,
                "ellipse" => ShapeKind::Ellipse,
                "triangle" => ShapeKind::Triangle,
                other => ShapeKind::Geo(other.to_owned()),
            };
            (kind, Geometry::Box { width, height, label })
        }
        "frame" => {
            let width = positive(num(p("w")), "w", at, w);
            let height = positive(num(p("h")), "h", at, w);
            (ShapeKind::Frame, Geometry::Box { width, height, label: text_of(p("name")) })
        }
        "line" => {
            let Some(map) = p("points").or_else(|| p("handles")).and_then(Value::as_object) else {
                w.push(at, "line without points; skipped");
                return None;
            };
            let mut points: Vec<(String, Point)> = map
                .iter()
                .filter_map(|(key, v)| {
                    let index = v.get("index").and_then(Value::as_str).unwrap_or(key).to_owned();
                    Some((index, Point::new(num(v.get("x"))?, num(v.get("y"))?)))
                })
                .collect();
            // tldraw's fractional indexes sort as strings.
            points.sort_by(|a, b| a.0.cmp(&b.0));
            if points.len() < 2 {
                w.push(at, "line with fewer than two points; skipped");
                return None;
            }
            let mut points: Vec<Point> = points.into_iter().map(|(_, p)| p).collect();
            let end = points.pop()?;
            let start = points.remove(0);
            let geometry = Geometry::Connector {
                start: Handle { point: start, bound: None },
                end: Handle { point: end, bound: None },
                middle: points,
                bend: 0.0,
                head_start: None,
                head_end: None,
                spline: text_of(p("spline")),
                label: None,
            };
            (ShapeKind::Line, geometry)
        }
        "arrow" => {
            let handle = |v: Option<&Value>| -> Option<Handle> {
                let v = v?;
                let point = Point::new(num(v.get("x")).unwrap_or(0.0), num(v.get("y")).unwrap_or(0.0));
                let bound = match v.get("type").and_then(Value::as_str) {
                    Some("binding") => {
                        let id = v.get("boundShapeId").and_then(Value::as_str)?.to_owned();
                        let a = v.get("normalizedAnchor");
                        let anchor = Point::new(
                            num(a.and_then(|a| a.get("x"))).unwrap_or(0.5),
                            num(a.and_then(|a| a.get("y"))).unwrap_or(0.5),
                        );
                        Some((id, anchor))
                    }
                    _ => None,
                };
                Some(Handle { point, bound })
            };
            let (Some(start), Some(end)) = (handle(p("start")), handle(p("end"))) else {
                w.push(at, "arrow without start and end; skipped");
                return None;
            };
            let head = |k: &str| text_of(p(k)).filter(|h| h != "none");
            let geometry = Geometry::Connector {
                start,
                end,
                middle: Vec::new(),
                bend: num(p("bend")).unwrap_or(0.0),
                head_start: head("arrowheadStart"),
                head_end: head("arrowheadEnd"),
                spline: None,
                label,
            };
            (ShapeKind::Arrow, geometry)
        }
        "text" => {
            let fixed = p("autoSize").and_then(Value::as_bool) == Some(false);
            let width = if fixed { num(p("w")) } else { None };
            (ShapeKind::Text, Geometry::Text { text: label.unwrap_or_default(), width })
        }
        "note" => {
            // tldraw v2 notes are 200×200 page units, growing down with their text.
            let height = 200.0 + num(p("growY")).unwrap_or(0.0).max(0.0);
            (ShapeKind::Sticky, Geometry::Sticky { text: label.unwrap_or_default(), width: 200.0, height })
        }
        "poll" => {
            let width = positive(num(p("w")), "w", at, w);
            let height = positive(num(p("h")), "h", at, w);
            let question = text_of(p("questionText")).or_else(|| text_of(p("question"))).unwrap_or_default();
            let answers = p("answers").and_then(Value::as_array).map(|a| answers(a)).unwrap_or_default();
            let responders = num(p("numResponders")).unwrap_or(0.0).max(0.0) as u64;
            (ShapeKind::Poll, Geometry::Poll { width, height, question, answers, responders, label: None })
        }
        other => return unknown(other, at, w),
    };
    Some(Shape {
        kind,
        geometry,
        style,
        origin,
        rotation: num(d.get("rotation")).unwrap_or(0.0),
        z: text_of(d.get("index")),
    })
}

/// `[{key, numVotes | num_votes}]`.
pub(crate) fn answers(list: &[Value]) -> Vec<PollAnswer> {
    list.iter()
        .filter_map(|a| {
            let key = match a.get("key") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            let votes = num(a.get("numVotes").or_else(|| a.get("num_votes"))).unwrap_or(0.0).max(0.0) as u64;
            Some(PollAnswer { key, votes })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_pick_the_schema() {
        assert_eq!(format_of_version("2.6.0"), Some(AnnotationFormat::TldrawV1 { before_2_6_1: true }));
        assert_eq!(format_of_version("2.6.1"), Some(AnnotationFormat::TldrawV1 { before_2_6_1: false }));
        assert_eq!(format_of_version("2.7.12"), Some(AnnotationFormat::TldrawV1 { before_2_6_1: false }));
        assert_eq!(format_of_version("3.0.0-beta.1"), Some(AnnotationFormat::TldrawV2));
        assert_eq!(format_of_version("2.5.3"), None);
        assert_eq!(format_of_version("junk"), None);
    }
}
