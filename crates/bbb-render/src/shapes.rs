//! Annotations: every geometry of the timeline drawn with tiny-skia in annotation space (the caller's
//! transform maps that space to output pixels and its mask clips to the visible slide).

use bbb_presentation::{
    AnnotationFormat, Dash, Fill, Geometry, Handle, PathSegment, Point, PollAnswer, PublishedFiles, Shape, ShapeKind,
    StrokePoint, Style,
};
use tiny_skia::{FillRule, Mask, Path, PathBuilder, Pixmap, Rect, Transform};

use crate::font::{self, Align};
use crate::geom::arc_to;
use crate::slides::ImageCache;
use crate::style::{self, Rgb, paint, rgb, tint};

/// What drawing a shape needs besides the shape.
pub(crate) struct Canvas<'a> {
    pub pixmap: &'a mut Pixmap,
    pub transform: Transform,
    pub mask: Option<&'a Mask>,
    pub format: AnnotationFormat,
    pub files: &'a dyn PublishedFiles,
    pub images: &'a mut ImageCache,
}

impl Canvas<'_> {
    fn fill(&mut self, path: &Path, c: Rgb, opacity: f64, t: Transform) {
        self.pixmap.fill_path(path, &paint(c, opacity), FillRule::Winding, t, self.mask);
    }

    fn stroke(&mut self, path: &Path, c: Rgb, opacity: f64, stroke: &tiny_skia::Stroke, t: Transform) {
        self.pixmap.stroke_path(path, &paint(c, opacity), stroke, t, self.mask);
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        lines: &[String],
        (x, y, w): (f32, f32, f32),
        size: f32,
        align: Align,
        c: Rgb,
        o: f64,
        t: Transform,
    ) {
        font::draw_lines(self.pixmap, lines, x, y, w, size, align, &paint(c, o), t);
    }
}

fn f(v: f64) -> f32 {
    if v.is_finite() { v as f32 } else { 0.0 }
}

/// Draws one shape revision.
pub(crate) fn draw(canvas: &mut Canvas<'_>, shape: &Shape) {
    if canvas.format.is_tldraw() && is_tldraw_geometry(&shape.geometry) {
        draw_tldraw(canvas, shape);
    } else {
        let t = canvas.transform;
        draw_svg(canvas, &shape.kind, &shape.geometry, &shape.style, t);
    }
}

fn is_tldraw_geometry(g: &Geometry) -> bool {
    matches!(
        g,
        Geometry::Freehand { .. }
            | Geometry::Box { .. }
            | Geometry::Connector { .. }
            | Geometry::Text { .. }
            | Geometry::Sticky { .. }
            | Geometry::Poll { .. }
    )
}

// ---------------------------------------------------------------------------------------------------------
// BBB ≤ 2.5: SVG elements in slide pixels.

fn svg_path(segments: &[PathSegment]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    let mut current = (0.0, 0.0);
    let mut start = (0.0, 0.0);
    for s in segments {
        match *s {
            PathSegment::MoveTo(p) => {
                pb.move_to(f(p.x), f(p.y));
                current = (p.x, p.y);
                start = current;
            }
            PathSegment::LineTo(p) => {
                pb.line_to(f(p.x), f(p.y));
                current = (p.x, p.y);
            }
            PathSegment::QuadTo(c, p) => {
                pb.quad_to(f(c.x), f(c.y), f(p.x), f(p.y));
                current = (p.x, p.y);
            }
            PathSegment::CubicTo(c1, c2, p) => {
                pb.cubic_to(f(c1.x), f(c1.y), f(c2.x), f(c2.y), f(p.x), f(p.y));
                current = (p.x, p.y);
            }
            PathSegment::Arc { rx, ry, x_rotation, large_arc, sweep, to } => {
                arc_to(&mut pb, current, rx, ry, x_rotation, large_arc, sweep, (to.x, to.y));
                current = (to.x, to.y);
            }
            PathSegment::Close => {
                pb.close();
                current = start;
            }
        }
    }
    pb.finish()
}

fn draw_svg(canvas: &mut Canvas<'_>, kind: &ShapeKind, geometry: &Geometry, style: &Style, t: Transform) {
    let format = canvas.format;
    let color = rgb(style.color.as_ref(), format);
    let fill = style.fill_color.as_ref().map(|c| rgb(Some(c), format));
    let width = style::stroke_width(style, format);
    let stroke = style::stroke(style, width);
    let o = style.opacity;
    let outline = |canvas: &mut Canvas<'_>, path: Option<Path>| {
        let Some(path) = path else { return };
        if let Some(fc) = fill {
            canvas.fill(&path, fc, o, t);
        }
        if style.color.is_some() || fill.is_none() {
            canvas.stroke(&path, color, o, &stroke, t);
        }
    };
    match geometry {
        Geometry::Path(segments) => outline(canvas, svg_path(segments)),
        Geometry::Line { from, to } => {
            let mut pb = PathBuilder::new();
            pb.move_to(f(from.x), f(from.y));
            pb.line_to(f(to.x), f(to.y));
            outline(canvas, pb.finish());
        }
        Geometry::Dot { center, radius } => {
            if let Some(path) = PathBuilder::from_circle(f(center.x), f(center.y), f(*radius).max(0.5)) {
                canvas.fill(&path, fill.unwrap_or(color), o, t);
            }
        }
        Geometry::Polyline { points, closed } => {
            let mut pb = PathBuilder::new();
            for (i, p) in points.iter().enumerate() {
                if i == 0 { pb.move_to(f(p.x), f(p.y)) } else { pb.line_to(f(p.x), f(p.y)) }
            }
            if *closed {
                pb.close();
            }
            outline(canvas, pb.finish());
        }
        Geometry::Rect { x, y, width, height } => {
            if let Some(r) = Rect::from_xywh(f(*x), f(*y), f(*width), f(*height)) {
                outline(canvas, Some(PathBuilder::from_rect(r)));
            }
        }
        Geometry::TextBox { x, y, width, lines, .. } => {
            let size = style::font_size(style, format);
            let wrapped: Vec<String> =
                lines.iter().flat_map(|l| font::wrap(l, size, Some(f(*width)).filter(|w| *w > 0.0))).collect();
            let align = Align::parse(style.align.as_deref());
            canvas.text(&wrapped, (f(*x), f(*y), f(*width)), size, align, color, o, t);
        }
        Geometry::Image { href, x, y, width, height, transform } => {
            let extra = transform.as_deref().and_then(parse_transform).unwrap_or_default();
            let rect = (f(*x), f(*y), f(*width), f(*height));
            let Canvas { pixmap, mask, files, images, .. } = canvas;
            if !images.draw(*files, href, rect, extra, pixmap, t, *mask) {
                placeholder(canvas, rect, t.pre_concat(extra));
            }
        }
        Geometry::Group(parts) => {
            for part in parts {
                draw_svg(canvas, kind, part, style, t);
            }
        }
        // tldraw geometry in an SVG-era recording cannot happen; draw it anyway rather than lose it.
        _ => draw_tldraw(
            canvas,
            &Shape {
                kind: kind.clone(),
                geometry: geometry.clone(),
                style: style.clone(),
                origin: Point::default(),
                rotation: 0.0,
                z: None,
            },
        ),
    }
}

fn parse_transform(s: &str) -> Option<Transform> {
    let t: svgtypes::Transform = s.parse().ok()?;
    Some(Transform::from_row(f(t.a), f(t.b), f(t.c), f(t.d), f(t.e), f(t.f)))
}

/// A grey box with a cross, where an image (slide, poll chart) could not be read.
pub(crate) fn placeholder(canvas: &mut Canvas<'_>, (x, y, w, h): (f32, f32, f32, f32), t: Transform) {
    let Some(r) = Rect::from_xywh(x, y, w, h) else { return };
    canvas.fill(&PathBuilder::from_rect(r), (0xe4, 0xe4, 0xe4), 1.0, t);
    let mut pb = PathBuilder::new();
    pb.move_to(x, y);
    pb.line_to(x + w, y + h);
    pb.move_to(x + w, y);
    pb.line_to(x, y + h);
    if let Some(path) = pb.finish() {
        let s = tiny_skia::Stroke { width: (w.min(h) / 200.0).max(1.0), ..Default::default() };
        canvas.stroke(&path, (0xb0, 0xb0, 0xb0), 1.0, &s, t);
    }
}

// ---------------------------------------------------------------------------------------------------------
// tldraw v1 / v2: local geometry placed by origin and rotation.

/// The un-rotated local bounds' size, around whose centre tldraw v1 turns a shape.
fn local_size(g: &Geometry, style: &Style, format: AnnotationFormat) -> (f64, f64) {
    match g {
        Geometry::Box { width, height, .. } | Geometry::Sticky { width, height, .. } => (*width, *height),
        Geometry::Poll { width, height, .. } => (*width, *height),
        Geometry::Freehand { strokes, .. } => {
            strokes.iter().flatten().fold((0.0, 0.0), |(w, h), p| (p.x.max(w), p.y.max(h)))
        }
        Geometry::Connector { start, end, middle, .. } => std::iter::once(start.point)
            .chain(middle.iter().copied())
            .chain(std::iter::once(end.point))
            .fold((0.0, 0.0), |(w, h), p| (p.x.max(w), p.y.max(h))),
        Geometry::Text { text, width } => {
            let size = style::font_size(style, format);
            let lines = font::wrap(text, size, width.map(f));
            let w = width.map(f).unwrap_or_else(|| lines.iter().map(|l| font::measure(l, size)).fold(0.0, f32::max));
            (f64::from(w), f64::from(font::line_height(size)) * lines.len() as f64)
        }
        _ => (0.0, 0.0),
    }
}

fn draw_tldraw(canvas: &mut Canvas<'_>, shape: &Shape) {
    let format = canvas.format;
    let style = &shape.style;
    let mut t = canvas.transform.pre_translate(f(shape.origin.x), f(shape.origin.y));
    if shape.rotation.is_finite() && shape.rotation != 0.0 {
        let degrees = f(shape.rotation.to_degrees());
        t = match format {
            AnnotationFormat::TldrawV1 { .. } => {
                let (w, h) = local_size(&shape.geometry, style, format);
                t.pre_concat(Transform::from_rotate_at(degrees, f(w / 2.0), f(h / 2.0)))
            }
            _ => t.pre_concat(Transform::from_rotate(degrees)),
        };
    }
    let color = rgb(style.color.as_ref(), format);
    let o = style.opacity;
    let width = style::stroke_width(style, format);
    match &shape.geometry {
        Geometry::Freehand { strokes, closed, .. } => {
            let highlighter = shape.kind == ShapeKind::Highlighter;
            // perfect-freehand's outline is about 1 + 1.5 × the stroke width wide; a highlighter is wider and
            // translucent.
            let (w, opacity) = if highlighter {
                (width * 5.0, o * 0.5)
            } else if style.dash == Dash::Draw {
                (1.0 + width * 1.5, o)
            } else {
                (width, o)
            };
            let stroke = style::stroke(style, w);
            for points in strokes {
                freehand(canvas, points, *closed, style, color, opacity, &stroke, t);
            }
        }
        Geometry::Box { width: w, height: h, label } => {
            if let Some(path) = box_path(&shape.kind, *w, *h) {
                fill_styled(canvas, &path, style, color, t);
                let stroke = style::stroke(style, width);
                let c = if shape.kind == ShapeKind::Frame { (0x70, 0x70, 0x70) } else { color };
                canvas.stroke(&path, c, o, &stroke, t);
            }
            if let Some(label) = label.as_deref().filter(|l| !l.is_empty()) {
                let size = style::label_size(style);
                if shape.kind == ShapeKind::Frame {
                    canvas.text(
                        &[label.to_owned()],
                        (0.0, -font::line_height(size), f(*w)),
                        size,
                        Align::Start,
                        (0x70, 0x70, 0x70),
                        o,
                        t,
                    );
                } else {
                    centered_text(canvas, label, *w, *h, size, color, o, t);
                }
            }
        }
        Geometry::Connector { start, end, middle, bend, head_start, head_end, spline, label } => {
            connector(canvas, shape, (start, end, middle), *bend, (head_start, head_end), spline.as_deref(), t);
            if let Some(label) = label.as_deref().filter(|l| !l.is_empty()) {
                let (a, b) = (start.point, end.point);
                let size = style::label_size(style);
                let lw = f64::from(font::measure(label, size));
                let mid = ((a.x + b.x) / 2.0 - lw / 2.0, (a.y + b.y) / 2.0 - f64::from(font::line_height(size)) / 2.0);
                canvas.text(&[label.to_string()], (f(mid.0), f(mid.1), f(lw)), size, Align::Start, color, o, t);
            }
        }
        Geometry::Text { text, width: box_width } => {
            let size = style::font_size(style, format);
            let lines = font::wrap(text, size, box_width.map(f));
            let w =
                box_width.map(f).unwrap_or_else(|| lines.iter().map(|l| font::measure(l, size)).fold(0.0, f32::max));
            canvas.text(&lines, (0.0, 0.0, w), size, Align::parse(style.align.as_deref()), color, o, t);
        }
        Geometry::Sticky { text, width: w, height: h } => {
            if let Some(r) = Rect::from_xywh(0.0, 0.0, f(*w), f(*h)) {
                canvas.fill(&PathBuilder::from_rect(r), tint(color, 0.55), o, t);
            }
            let size = style::label_size(style);
            centered_text(canvas, text, *w, *h, size, (0x1d, 0x1d, 0x1d), o, t);
        }
        Geometry::Poll { width: w, height: h, question, answers, responders, label } => {
            poll(canvas, (*w, *h), question, answers, *responders, label.as_deref(), o, t);
        }
        other => {
            let (kind, style) = (shape.kind.clone(), style.clone());
            draw_svg(canvas, &kind, other, &style, t);
        }
    }
}

fn fill_styled(canvas: &mut Canvas<'_>, path: &Path, style: &Style, color: Rgb, t: Transform) {
    let o = style.opacity;
    match style.fill {
        Fill::None => {}
        Fill::Semi => canvas.fill(path, tint(color, 0.85), o, t),
        Fill::Solid => canvas.fill(path, tint(color, 0.15), o, t),
        Fill::Pattern => {
            canvas.fill(path, tint(color, 0.85), o, t);
            // Diagonal hatching clipped to the shape.
            let b = path.bounds();
            let step = 8.0 * (b.width().max(b.height()) / 200.0).clamp(1.0, 4.0);
            let mut pb = PathBuilder::new();
            let mut x = b.left() - b.height();
            while x < b.right() {
                pb.move_to(x, b.bottom());
                pb.line_to(x + b.height(), b.top());
                x += step;
            }
            let Some(hatch) = pb.finish() else { return };
            let Some(mut clip) = Mask::new(canvas.pixmap.width(), canvas.pixmap.height()) else { return };
            clip.fill_path(path, FillRule::Winding, true, t);
            if let Some(outer) = canvas.mask {
                let (a, b) = (clip.data_mut(), outer.data());
                for (x, y) in a.iter_mut().zip(b) {
                    *x = ((u16::from(*x) * u16::from(*y)) / 255) as u8;
                }
            }
            let s = tiny_skia::Stroke { width: step / 6.0, ..Default::default() };
            canvas.pixmap.stroke_path(&hatch, &paint(color, o * 0.6), &s, t, Some(&clip));
        }
    }
}

fn box_path(kind: &ShapeKind, w: f64, h: f64) -> Option<Path> {
    let (w, h) = (f(w), f(h));
    let poly = |points: &[(f32, f32)]| {
        let mut pb = PathBuilder::new();
        for (i, (x, y)) in points.iter().enumerate() {
            if i == 0 { pb.move_to(x * w, y * h) } else { pb.line_to(x * w, y * h) }
        }
        pb.close();
        pb.finish()
    };
    let regular = |n: usize, star: bool| {
        let count = if star { n * 2 } else { n };
        let points: Vec<(f32, f32)> = (0..count)
            .map(|i| {
                let a = -std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::TAU / count as f32;
                let r = if star && i % 2 == 1 { 0.2 } else { 0.5 };
                (0.5 + r * a.cos(), 0.5 + r * a.sin())
            })
            .collect();
        poly(&points)
    };
    let geo = match kind {
        ShapeKind::Geo(g) => g.as_str(),
        ShapeKind::Ellipse => "ellipse",
        ShapeKind::Triangle => "triangle",
        _ => "rectangle",
    };
    match geo {
        "ellipse" | "oval" | "cloud" => Rect::from_xywh(0.0, 0.0, w, h).and_then(PathBuilder::from_oval),
        "triangle" => poly(&[(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)]),
        "diamond" => poly(&[(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)]),
        "rhombus" => poly(&[(0.25, 0.0), (1.0, 0.0), (0.75, 1.0), (0.0, 1.0)]),
        "rhombus-2" => poly(&[(0.0, 0.0), (0.75, 0.0), (1.0, 1.0), (0.25, 1.0)]),
        "trapezoid" => poly(&[(0.25, 0.0), (0.75, 0.0), (1.0, 1.0), (0.0, 1.0)]),
        "pentagon" => regular(5, false),
        "hexagon" => regular(6, false),
        "octagon" => regular(8, false),
        "star" => regular(5, true),
        "arrow-right" => {
            poly(&[(0.0, 0.25), (0.6, 0.25), (0.6, 0.0), (1.0, 0.5), (0.6, 1.0), (0.6, 0.75), (0.0, 0.75)])
        }
        "arrow-left" => poly(&[(1.0, 0.25), (0.4, 0.25), (0.4, 0.0), (0.0, 0.5), (0.4, 1.0), (0.4, 0.75), (1.0, 0.75)]),
        "arrow-up" => poly(&[(0.25, 1.0), (0.25, 0.4), (0.0, 0.4), (0.5, 0.0), (1.0, 0.4), (0.75, 0.4), (0.75, 1.0)]),
        "arrow-down" => poly(&[(0.25, 0.0), (0.25, 0.6), (0.0, 0.6), (0.5, 1.0), (1.0, 0.6), (0.75, 0.6), (0.75, 0.0)]),
        _ => Rect::from_xywh(0.0, 0.0, w, h).map(PathBuilder::from_rect),
    }
}

#[allow(clippy::too_many_arguments)]
fn freehand(
    canvas: &mut Canvas<'_>,
    points: &[StrokePoint],
    closed: bool,
    style: &Style,
    color: Rgb,
    o: f64,
    stroke: &tiny_skia::Stroke,
    t: Transform,
) {
    let Some(first) = points.first() else { return };
    let extent = points.iter().fold(0.0f64, |m, p| m.max((p.x - first.x).abs()).max((p.y - first.y).abs()));
    if points.len() < 2 || extent < 0.5 {
        // A click: tldraw draws a dot.
        if let Some(dot) = PathBuilder::from_circle(f(first.x), f(first.y), stroke.width / 2.0) {
            canvas.fill(&dot, color, o, t);
        }
        return;
    }
    // Quadratic smoothing through the midpoints, the curve tldraw's `getSvgPathFromStroke` draws.
    let mut pb = PathBuilder::new();
    pb.move_to(f(first.x), f(first.y));
    for pair in points.windows(2).skip(1) {
        let (a, b) = (pair[0], pair[1]);
        pb.quad_to(f(a.x), f(a.y), f((a.x + b.x) / 2.0), f((a.y + b.y) / 2.0));
    }
    if let Some(last) = points.last() {
        pb.line_to(f(last.x), f(last.y));
    }
    if closed {
        pb.close();
    }
    let Some(path) = pb.finish() else { return };
    if closed {
        fill_styled(canvas, &path, style, color, t);
    }
    canvas.stroke(&path, color, o, stroke, t);
}

type Ends<'a> = (&'a Handle, &'a Handle, &'a Vec<Point>);

fn connector(
    canvas: &mut Canvas<'_>,
    shape: &Shape,
    (start, end, middle): Ends<'_>,
    bend: f64,
    (head_start, head_end): (&Option<String>, &Option<String>),
    spline: Option<&str>,
    t: Transform,
) {
    let format = canvas.format;
    let style = &shape.style;
    let color = rgb(style.color.as_ref(), format);
    let width = style::stroke_width(style, format);
    let stroke = style::stroke(style, width);
    let (a, b) = (start.point, end.point);
    let mut pb = PathBuilder::new();
    pb.move_to(f(a.x), f(a.y));
    // Directions at the ends, for the arrowheads.
    let (mut dir_start, mut dir_end) = ((b.x - a.x, b.y - a.y), (b.x - a.x, b.y - a.y));
    if !middle.is_empty() {
        let all: Vec<Point> = std::iter::once(a).chain(middle.iter().copied()).chain(std::iter::once(b)).collect();
        if spline == Some("cubic") {
            for pair in all.windows(2).skip(1) {
                let (p, q) = (pair[0], pair[1]);
                pb.quad_to(f(p.x), f(p.y), f((p.x + q.x) / 2.0), f((p.y + q.y) / 2.0));
            }
            pb.line_to(f(b.x), f(b.y));
        } else {
            for p in &all[1..] {
                pb.line_to(f(p.x), f(p.y));
            }
        }
        dir_start = (all[1].x - a.x, all[1].y - a.y);
        let n = all.len();
        dir_end = (b.x - all[n - 2].x, b.y - all[n - 2].y);
    } else if let Some((cx, cy)) = bend_control(a, b, bend, format) {
        pb.quad_to(f(cx), f(cy), f(b.x), f(b.y));
        dir_start = (cx - a.x, cy - a.y);
        dir_end = (b.x - cx, b.y - cy);
    } else {
        pb.line_to(f(b.x), f(b.y));
    }
    if let Some(path) = pb.finish() {
        canvas.stroke(&path, color, style.opacity, &stroke, t);
    }
    // v1 arrows have an end arrowhead unless decorations say otherwise; v2 lists them explicitly.
    let head = |h: &Option<String>| h.as_deref().is_some_and(|h| h != "none");
    let solid = tiny_skia::Stroke { dash: None, ..stroke.clone() };
    if head(head_end) {
        arrowhead(canvas, b, dir_end, width, color, style.opacity, &solid, t);
    }
    if head(head_start) {
        arrowhead(canvas, a, (-dir_start.0, -dir_start.1), width, color, style.opacity, &solid, t);
    }
}

/// The quadratic control point of a bent arrow whose middle lies `bend` off the straight line (tldraw v1
/// stores bend as a fraction of half the length, v2 in page units); `None` when (nearly) straight.
fn bend_control(a: Point, b: Point, bend: f64, format: AnnotationFormat) -> Option<(f64, f64)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len = (dx * dx + dy * dy).sqrt();
    if !(len > 1e-6 && bend.is_finite()) {
        return None;
    }
    let offset = if matches!(format, AnnotationFormat::TldrawV1 { .. }) { bend * len / 2.0 } else { bend };
    if offset.abs() < 0.5 {
        return None;
    }
    let (nx, ny) = (dy / len, -dx / len);
    // The curve's middle is halfway between the chord's middle and the control point.
    Some(((a.x + b.x) / 2.0 + 2.0 * nx * offset, (a.y + b.y) / 2.0 + 2.0 * ny * offset))
}

#[allow(clippy::too_many_arguments)]
fn arrowhead(
    canvas: &mut Canvas<'_>,
    tip: Point,
    (dx, dy): (f64, f64),
    width: f32,
    color: Rgb,
    o: f64,
    stroke: &tiny_skia::Stroke,
    t: Transform,
) {
    let len = (dx * dx + dy * dy).sqrt();
    if len.is_nan() || len <= 1e-9 {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let size = f64::from(width) * 5.0 + 6.0;
    let side = |sign: f64| {
        let (c, s) = ((0.5f64).cos(), sign * (0.5f64).sin());
        (tip.x - size * (ux * c - uy * s), tip.y - size * (uy * c + ux * s))
    };
    let (l, r) = (side(1.0), side(-1.0));
    let mut pb = PathBuilder::new();
    pb.move_to(f(l.0), f(l.1));
    pb.line_to(f(tip.x), f(tip.y));
    pb.line_to(f(r.0), f(r.1));
    if let Some(path) = pb.finish() {
        canvas.stroke(&path, color, o, stroke, t);
    }
}

#[allow(clippy::too_many_arguments)]
fn centered_text(canvas: &mut Canvas<'_>, text: &str, w: f64, h: f64, size: f32, c: Rgb, o: f64, t: Transform) {
    let pad = size * 0.5;
    // Labels overflow their shape rather than break inside a word, as tldraw's do.
    let widest_word = text.split_whitespace().map(|word| font::measure(word, size)).fold(0.0, f32::max);
    let lines = font::wrap(text, size, Some((f(w) - 2.0 * pad).max(widest_word).max(size)));
    let total = font::line_height(size) * lines.len() as f32;
    let top = (f(h) - total) / 2.0;
    canvas.text(&lines, (pad, top, f(w) - 2.0 * pad), size, Align::Middle, c, o, t);
}

/// A poll result: question on top, one bar per answer with its votes, as BBB's chart shows it.
#[allow(clippy::too_many_arguments)]
fn poll(
    canvas: &mut Canvas<'_>,
    (w, h): (f64, f64),
    question: &str,
    answers: &[PollAnswer],
    responders: u64,
    label: Option<&str>,
    o: f64,
    t: Transform,
) {
    let (w, h) = (f(w), f(h));
    let Some(r) = Rect::from_xywh(0.0, 0.0, w, h) else { return };
    let frame = PathBuilder::from_rect(r);
    canvas.fill(&frame, (0xff, 0xff, 0xff), o, t);
    canvas.stroke(&frame, (0x30, 0x30, 0x30), o, &tiny_skia::Stroke { width: 1.5, ..Default::default() }, t);
    let dark = (0x1d, 0x1d, 0x1d);
    if answers.is_empty() {
        // tldraw v1 polls carry a text chart in their label.
        let size = (h / 10.0).clamp(8.0, 28.0);
        let lines = font::wrap(label.unwrap_or(question), size, Some(w - size));
        canvas.text(&lines, (size / 2.0, size / 2.0, w - size), size, Align::Start, dark, o, t);
        return;
    }
    let rows = answers.len() as f32 + if question.is_empty() { 0.0 } else { 1.0 };
    let row = h / rows.max(1.0);
    let size = (row * 0.5).clamp(6.0, 32.0);
    let mut y = 0.0;
    if !question.is_empty() {
        canvas.text(
            &[question.to_owned()],
            (size / 2.0, (row - font::line_height(size)) / 2.0, w),
            size,
            Align::Start,
            dark,
            o,
            t,
        );
        y += row;
    }
    let total = responders.max(answers.iter().map(|a| a.votes).sum()).max(1);
    let key_width = answers.iter().map(|a| font::measure(&a.key, size)).fold(0.0, f32::max) + size;
    for a in answers {
        let bar_w = (w - key_width - 3.0 * size) * (a.votes as f32 / total as f32);
        canvas.text(
            std::slice::from_ref(&a.key),
            (size / 2.0, y + (row - font::line_height(size)) / 2.0, key_width),
            size,
            Align::Start,
            dark,
            o,
            t,
        );
        if let Some(bar) = Rect::from_xywh(key_width, y + row * 0.2, bar_w.max(1.0), row * 0.6) {
            canvas.fill(&PathBuilder::from_rect(bar), (0x4a, 0x7b, 0xd8), o, t);
        }
        let votes = a.votes.to_string();
        canvas.text(
            &[votes],
            (key_width + bar_w.max(1.0) + size / 3.0, y + (row - font::line_height(size)) / 2.0, 2.0 * size),
            size,
            Align::Start,
            dark,
            o,
            t,
        );
        y += row;
    }
}
