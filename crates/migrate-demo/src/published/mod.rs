//! The published files of a generated recording's `presentation` format, written the way BBB 2.3–2.5's publish
//! step (`record-and-playback/presentation/scripts/publish/presentation.rb`) writes them and the official player
//! (`bbb-playback`, `src/utils/builder.js`) reads them:
//!
//! | file | content |
//! |---|---|
//! | `metadata.xml` | ids, times, `<meta>`, `<playback>` with the exact `<duration>` in ms |
//! | `shapes.svg` | one `<image class="slide">` per showing of a slide (a revisit is a new image), `presentation/deskshare.png` while the screen is shared, a `<g class="canvas">` of annotations per showing: every revision of a shape is its own `<g class="shape">` with the same `shape` id |
//! | `panzooms.xml` | `viewBox` step changes, in slide pixels |
//! | `cursor.xml` | positions relative to the view (0..1), `-1.0 -1.0` when hidden |
//! | `deskshare.xml` | screen-sharing intervals with the shared video's size |
//! | `slides_new.xml` | public chat |
//! | `captions.json` | caption tracks (none here) |
//! | `presentation/<id>/slide-N.png`, `thumbnails/thumb-N.png` | slide images (1600×900) and previews |
//! | `video/webcams.webm` or `audio/audio.{webm,ogg}`, `deskshare/deskshare.webm` | media, see [`crate::media`] |
//!
//! Everything derives from [`Script`], the recording's ground truth (which slide when, which shapes, where the
//! cursor is), so that renderer tests can compare what they draw with what was meant.

mod format;
mod rng;

use std::fmt::Write as _;

use crate::media::MediaSpec;
use crate::recording::DemoRecording;
use format::{builder_attr, libxml_attr, libxml_text, round_to, ruby_float, secs};
use rng::Rng;

/// Size of the generated slide images, a common 16:9 export size.
pub const SLIDE_WIDTH: u32 = 1600;
pub const SLIDE_HEIGHT: u32 = 900;
/// BBB's thumbnail size.
const THUMB_WIDTH: u32 = 176;
const THUMB_HEIGHT: u32 = 99;

/// What the demo server answers for a published path.
pub enum PublishedFile {
    Bytes {
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// A media file, generated with ffmpeg on first request and cached.
    Media(MediaSpec),
}

/// What is on screen during one interval, in tenths of a second of recording time.
#[derive(Debug, Clone, PartialEq)]
pub struct Showing {
    pub in_tenths: u64,
    pub out_tenths: u64,
    /// `Some(n)` for slide `n` (1-based), `None` while the screen is shared.
    pub slide: Option<u32>,
    pub shapes: Vec<Shape>,
}

/// One annotation with every revision BBB recorded while it was drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub kind: ShapeKind,
    /// `#rrggbb`.
    pub color: String,
    /// Stroke width (or font size for text), in slide pixels.
    pub thickness: f64,
    /// When each revision appears; the last revision is the finished shape.
    pub revisions: Vec<(u64, Geometry)>,
    /// When the shape disappears (undo or clear); `None` = stays until the slide changes.
    pub undo_tenths: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeKind {
    Pencil,
    Line,
    Rectangle,
    Ellipse,
    Triangle,
    Text,
}

impl ShapeKind {
    const ALL: [Self; 6] = [Self::Pencil, Self::Line, Self::Rectangle, Self::Ellipse, Self::Triangle, Self::Text];

    fn name(self) -> &'static str {
        match self {
            Self::Pencil => "pencil",
            Self::Line => "line",
            Self::Rectangle => "rect",
            Self::Ellipse => "ellipse",
            Self::Triangle => "triangle",
            Self::Text => "text",
        }
    }
}

/// A shape revision's geometry in slide pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// Pencil points.
    Points(Vec<(f64, f64)>),
    /// Line, rectangle, ellipse, triangle: the drag from one corner to the other.
    Drag { from: (f64, f64), to: (f64, f64) },
    /// Text box and its content.
    Text { x: f64, y: f64, width: f64, height: f64, text: String },
}

/// A pan/zoom step: the part of the slide shown, in slide pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewBox {
    pub at_tenths: u64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub at_tenths: u64,
    pub sender: String,
    pub message: String,
}

/// The ground truth of one generated recording's presentation playback.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub duration_tenths: u64,
    pub showings: Vec<Showing>,
    pub views: Vec<ViewBox>,
    /// `(time, Some((x, y)))` relative to the view (0..1), `None` when hidden.
    pub cursor: Vec<(u64, Option<(f64, f64)>)>,
    /// Screen-sharing intervals `(start, stop)` in tenths.
    pub deskshares: Vec<(u64, u64)>,
    pub chat: Vec<ChatMessage>,
}

const COLORS: &[&str] = &["#ff0000", "#0000ff", "#000000", "#00aa00", "#ff8800", "#8800ff"];
const CHATTERS: &[&str] = &["Zoé Lefèvre", "Hugo Bernard", "Claire Martin", "Jean-Noël Dupont"];
const MESSAGES: &[&str] = &[
    "Bonjour à tous !",
    "On entend bien, merci",
    "Pouvez-vous répéter la dernière question ?",
    "Les diapositives seront-elles déposées sur Moodle ?",
    "C'est noté <3",
    "Question : \"a & b\" ou 'a | b' ?",
    "Merci, à la semaine prochaine",
];
const TEXTS: &[&str] =
    &["À retenir", "Énoncé n°2", "voir l'exemple p. 12", "Définition : « ensemble »", "x² + y² = r²"];

impl Script {
    /// Builds the script of `demo`, deterministic from its seed.
    pub fn of(demo: &DemoRecording) -> Self {
        let duration_tenths = (demo.duration_ms / 100).max(10);
        let mut rng = Rng::new(demo.seed, "timeline");
        let deskshares = if demo.has_deskshare { deskshare_intervals(&mut rng, duration_tenths) } else { Vec::new() };
        let showings = showings(demo, &mut rng, duration_tenths, &deskshares);
        let views = views(demo.seed, &showings);
        let cursor = cursor(demo.seed, &showings);
        let chat = chat(demo.seed, duration_tenths);
        Self { duration_tenths, showings, views, cursor, deskshares, chat }
    }

    /// The showing on screen at `tenths`.
    pub fn showing_at(&self, tenths: u64) -> Option<&Showing> {
        self.showings.iter().find(|s| s.in_tenths <= tenths && tenths < s.out_tenths)
    }
}

fn deskshare_intervals(rng: &mut Rng, total: u64) -> Vec<(u64, u64)> {
    let count = if total > 6_000 { 2 } else { 1 };
    let span = total / count;
    (0..count)
        .map(|i| {
            let base = i * span;
            let start = base + span / 4 + rng.below(span / 4 + 1);
            let length = (span / 8 + rng.below(span / 4 + 1)).max(10);
            (start, (start + length).min(base + span - 1))
        })
        .collect()
}

fn showings(demo: &DemoRecording, rng: &mut Rng, total: u64, deskshares: &[(u64, u64)]) -> Vec<Showing> {
    // Slides in order, then one or two revisits of earlier ones, as a teacher answering questions does.
    let mut order: Vec<u32> = (1..=demo.slides).collect();
    if demo.slides > 2 {
        for _ in 0..rng.range(1, 3) {
            order.push(rng.range(1, u64::from(demo.slides)) as u32);
        }
    }
    // Cut the time outside screen sharing into one segment per slide shown.
    let mut free: Vec<(u64, u64)> = Vec::new();
    let mut cursor = 0;
    for &(start, stop) in deskshares {
        free.push((cursor, start));
        cursor = stop;
    }
    free.push((cursor, total));
    let free_total: u64 = free.iter().map(|(a, b)| b - a).sum();
    let weights: Vec<u64> = order.iter().map(|_| rng.range(2, 6)).collect();
    let weight_sum: u64 = weights.iter().sum();
    let mut boundaries = Vec::with_capacity(order.len() + 1);
    let mut acc = 0;
    boundaries.push(0);
    for w in &weights {
        acc += w;
        boundaries.push(free_total * acc / weight_sum);
    }
    // Map "free time" positions back to recording time, splitting at screen-sharing intervals.
    let to_time = |free_pos: u64| -> u64 {
        let mut left = free_pos;
        for &(a, b) in &free {
            if left < b - a || b == total {
                return a + left.min(b - a);
            }
            left -= b - a;
        }
        total
    };
    let mut out = Vec::new();
    for (i, &slide) in order.iter().enumerate() {
        let (from, to) = (to_time(boundaries[i]), to_time(boundaries[i + 1]));
        // A segment crossing a screen share shows the slide before and after it.
        let mut start = from;
        for &(a, b) in deskshares.iter().filter(|(a, _)| *a >= from && *a < to) {
            out.push(Showing { in_tenths: start, out_tenths: a, slide: Some(slide), shapes: Vec::new() });
            out.push(Showing { in_tenths: a, out_tenths: b, slide: None, shapes: Vec::new() });
            start = b;
        }
        out.push(Showing { in_tenths: start, out_tenths: to, slide: Some(slide), shapes: Vec::new() });
    }
    for &(a, b) in deskshares {
        if !out.iter().any(|s| s.slide.is_none() && s.in_tenths == a) {
            out.push(Showing { in_tenths: a, out_tenths: b, slide: None, shapes: Vec::new() });
        }
    }
    out.retain(|s| s.out_tenths > s.in_tenths);
    out.sort_by_key(|s| s.in_tenths);
    let mut shape_rng = Rng::new(demo.seed, "shapes");
    for showing in out.iter_mut().filter(|s| s.slide.is_some()) {
        showing.shapes = shapes(&mut shape_rng, showing.in_tenths, showing.out_tenths);
    }
    out
}

fn shapes(rng: &mut Rng, from: u64, to: u64) -> Vec<Shape> {
    let length = to - from;
    if length < 60 {
        return Vec::new();
    }
    let count = rng.below(5);
    let mut shapes: Vec<Shape> = (0..count)
        .map(|_| {
            let start = from + 10 + rng.below(length / 2);
            shape(rng, start, to)
        })
        .collect();
    // Now and then the presenter clears the whole page.
    if shapes.len() > 1 && rng.chance(0.25) {
        let last_drawn = shapes.iter().filter_map(|s| s.revisions.last().map(|r| r.0)).max().unwrap_or(from);
        if last_drawn + 10 < to {
            let clear = rng.range(last_drawn + 5, to - 1);
            for shape in &mut shapes {
                shape.undo_tenths = Some(shape.undo_tenths.map_or(clear, |u| u.min(clear)));
            }
        }
    }
    shapes
}

fn shape(rng: &mut Rng, start: u64, showing_end: u64) -> Shape {
    let kind = *rng.pick(&ShapeKind::ALL);
    let color = (*rng.pick(COLORS)).to_owned();
    let (w, h) = (f64::from(SLIDE_WIDTH), f64::from(SLIDE_HEIGHT));
    let from = (rng.uniform(0.1, 0.6) * w, rng.uniform(0.15, 0.6) * h);
    let to = (from.0 + rng.uniform(0.08, 0.3) * w, from.1 + rng.uniform(0.08, 0.3) * h);
    let steps = rng.range(2, 6);
    let mut revisions = Vec::new();
    let mut t = start;
    let mut points = vec![from];
    for step in 1..=steps {
        let f = step as f64 / steps as f64;
        let partial = (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f);
        let geometry = match kind {
            ShapeKind::Pencil => {
                for _ in 0..4 {
                    let last = *points.last().expect("non-empty");
                    points.push((
                        (last.0 + rng.uniform(-0.02, 0.06) * w).clamp(0.0, w),
                        (last.1 + rng.uniform(-0.04, 0.04) * h).clamp(0.0, h),
                    ));
                }
                Geometry::Points(points.clone())
            }
            ShapeKind::Text => {
                let text = (*rng.pick(TEXTS)).to_owned();
                let chars = (text.chars().count() as f64 * f).ceil() as usize;
                Geometry::Text {
                    x: from.0,
                    y: from.1,
                    width: 0.3 * w,
                    height: 0.08 * h,
                    text: text.chars().take(chars).collect(),
                }
            }
            _ => Geometry::Drag { from, to: partial },
        };
        revisions.push((t, geometry));
        t += rng.range(1, 4);
    }
    // Text revisions must all say the same final text: redo the partial texts from the last one.
    if let Some((_, Geometry::Text { text: last, .. })) = revisions.last().cloned() {
        let n = revisions.len();
        for (i, (_, g)) in revisions.iter_mut().enumerate() {
            if let Geometry::Text { text, .. } = g {
                let chars = (last.chars().count() * (i + 1)).div_ceil(n);
                *text = last.chars().take(chars).collect();
            }
        }
    }
    let done = revisions.last().map_or(start, |r| r.0);
    let undo_tenths = (rng.chance(0.2) && done + 5 < showing_end).then(|| rng.range(done + 2, showing_end));
    let thickness = if kind == ShapeKind::Text { 39.04555 } else { round_to(rng.uniform(0.002, 0.006) * w, 5) };
    Shape { kind, color, thickness, revisions, undo_tenths }
}

fn full_view(at_tenths: u64) -> ViewBox {
    ViewBox { at_tenths, x: 0.0, y: 0.0, width: f64::from(SLIDE_WIDTH), height: f64::from(SLIDE_HEIGHT) }
}

fn views(seed: u64, showings: &[Showing]) -> Vec<ViewBox> {
    let mut rng = Rng::new(seed, "panzoom");
    let mut views = Vec::new();
    for showing in showings {
        views.push(full_view(showing.in_tenths));
        let length = showing.out_tenths - showing.in_tenths;
        if showing.slide.is_some() && length > 100 && rng.chance(0.4) {
            let at = showing.in_tenths + rng.range(20, length / 2);
            let zoom = rng.uniform(1.25, 3.0);
            let (width, height) = (f64::from(SLIDE_WIDTH) / zoom, f64::from(SLIDE_HEIGHT) / zoom);
            let x = round_to(rng.uniform(0.0, f64::from(SLIDE_WIDTH) - width), 5);
            let y = round_to(rng.uniform(0.0, f64::from(SLIDE_HEIGHT) - height), 5);
            views.push(ViewBox { at_tenths: at, x, y, width: round_to(width, 5), height: round_to(height, 5) });
            let back = at + rng.range(20, (length / 2).max(21));
            if back < showing.out_tenths {
                views.push(full_view(back));
            }
        }
    }
    views
}

fn cursor(seed: u64, showings: &[Showing]) -> Vec<(u64, Option<(f64, f64)>)> {
    let mut rng = Rng::new(seed, "cursor");
    let mut events = vec![(0, None)];
    for showing in showings.iter().filter(|s| s.slide.is_some()) {
        let mut t = showing.in_tenths + rng.range(5, 100);
        while t + 30 < showing.out_tenths {
            let (mut x, mut y) = (rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9));
            for _ in 0..rng.range(5, 25) {
                if t >= showing.out_tenths {
                    break;
                }
                x = (x + rng.uniform(-0.03, 0.03)).clamp(0.0, 1.0);
                y = (y + rng.uniform(-0.03, 0.03)).clamp(0.0, 1.0);
                events.push((t, Some((round_to(x, 5), round_to(y, 5)))));
                t += rng.range(1, 3);
            }
            events.push((t.min(showing.out_tenths), None));
            t += rng.range(150, 600);
        }
    }
    events.dedup_by_key(|e| e.0);
    events
}

fn chat(seed: u64, total: u64) -> Vec<ChatMessage> {
    let mut rng = Rng::new(seed, "chat");
    let count = rng.below(6);
    let mut times: Vec<u64> = (0..count).map(|_| rng.range(10, total.max(11))).collect();
    times.sort_unstable();
    times
        .into_iter()
        .map(|at_tenths| ChatMessage {
            at_tenths,
            sender: (*rng.pick(CHATTERS)).to_owned(),
            message: (*rng.pick(MESSAGES)).to_owned(),
        })
        .collect()
}

/// Relative paths of every published file of `demo`'s presentation format, as they sit under
/// `/presentation/<recordID>/` (what archive mode must copy).
pub fn presentation_files(demo: &DemoRecording) -> Vec<String> {
    let script = Script::of(demo);
    let pid = demo.presentation_id();
    let mut files: Vec<String> = [
        "metadata.xml",
        "shapes.svg",
        "panzooms.xml",
        "cursor.xml",
        "deskshare.xml",
        "slides_new.xml",
        "captions.json",
    ]
    .map(String::from)
    .to_vec();
    for n in 1..=demo.slides {
        files.push(format!("presentation/{pid}/slide-{n}.png"));
        files.push(format!("presentation/{pid}/thumbnails/thumb-{n}.png"));
    }
    if !script.deskshares.is_empty() {
        files.push("presentation/deskshare.png".into());
        files.push("deskshare/deskshare.webm".into());
    }
    if demo.has_webcam {
        files.push("video/webcams.webm".into());
    } else {
        files.push("audio/audio.webm".into());
        files.push("audio/audio.ogg".into());
    }
    files
}

/// The file at `path` (relative to `/presentation/<recordID>/`), or `None` for a 404.
pub fn presentation_file(demo: &DemoRecording, path: &str) -> Option<PublishedFile> {
    let bytes = |content_type, body: String| Some(PublishedFile::Bytes { content_type, body: body.into_bytes() });
    let png = |body: Vec<u8>| Some(PublishedFile::Bytes { content_type: "image/png", body });
    let script = || Script::of(demo);
    let pid = demo.presentation_id();
    match path {
        "metadata.xml" => bytes("application/xml", metadata_xml(demo)),
        "shapes.svg" => bytes("image/svg+xml", shapes_svg(&script(), &pid)),
        "panzooms.xml" => bytes("application/xml", panzooms_xml(&script())),
        "cursor.xml" => bytes("application/xml", cursor_xml(&script())),
        "deskshare.xml" => bytes("application/xml", deskshare_xml(&script())),
        "slides_new.xml" => bytes("application/xml", chat_xml(&script())),
        "captions.json" => bytes("application/json", "[]".into()),
        "presentation/deskshare.png" if demo.has_deskshare => png(blank_png(SLIDE_WIDTH, SLIDE_HEIGHT)),
        "video/webcams.webm" if demo.has_webcam => {
            Some(PublishedFile::Media(MediaSpec::webcams(demo.duration_ms, demo.seed)))
        }
        "audio/audio.webm" if !demo.has_webcam => {
            Some(PublishedFile::Media(MediaSpec::audio_only(demo.duration_ms, demo.seed)))
        }
        "audio/audio.ogg" if !demo.has_webcam => {
            Some(PublishedFile::Media(MediaSpec::audio_ogg(demo.duration_ms, demo.seed)))
        }
        "deskshare/deskshare.webm" if demo.has_deskshare => {
            Some(PublishedFile::Media(MediaSpec::deskshare(demo.duration_ms, demo.seed)))
        }
        _ => {
            let rest = path.strip_prefix("presentation/")?.strip_prefix(pid.as_str())?.strip_prefix('/')?;
            let (number, thumbnail) = if let Some(n) = rest.strip_prefix("slide-") {
                (n.strip_suffix(".png")?, false)
            } else {
                (rest.strip_prefix("thumbnails/thumb-")?.strip_suffix(".png")?, true)
            };
            let n: u32 = number.parse().ok().filter(|n| (1..=demo.slides).contains(n))?;
            let (w, h) = if thumbnail { (THUMB_WIDTH, THUMB_HEIGHT) } else { (SLIDE_WIDTH, SLIDE_HEIGHT) };
            png(slide_png(demo.seed, n, w, h))
        }
    }
}

/// The `video` format's single file, when the recording has that format.
pub fn video_playback_file(demo: &DemoRecording) -> Option<MediaSpec> {
    demo.has_video_format.then(|| MediaSpec::video_playback(demo.duration_ms, demo.seed))
}

fn metadata_xml(demo: &DemoRecording) -> String {
    let rec = &demo.recording;
    let mut x = String::from("<?xml version=\"1.0\"?>\n<recording>\n");
    let _ = writeln!(x, "  <id>{}</id>", rec.record_id);
    let _ = writeln!(x, "  <state>{}</state>", rec.state.as_str());
    let _ = writeln!(x, "  <published>{}</published>", rec.published);
    let _ = writeln!(x, "  <start_time>{}</start_time>", rec.start_time.timestamp_millis());
    let _ = writeln!(x, "  <end_time>{}</end_time>", rec.end_time.timestamp_millis());
    if let Some(p) = rec.participants {
        let _ = writeln!(x, "  <participants>{p}</participants>");
    }
    let _ = writeln!(
        x,
        "  <meeting id=\"{}\" externalId=\"{}\" name=\"{}\" breakout=\"{}\"/>",
        libxml_attr(rec.internal_meeting_id.as_deref().unwrap_or(&rec.record_id)),
        libxml_attr(&rec.meeting_id),
        libxml_attr(&rec.name),
        rec.breakout.is_breakout
    );
    x.push_str("  <meta>\n");
    let mut meta = rec.metadata.clone();
    meta.insert("isBreakout".into(), rec.breakout.is_breakout.to_string());
    meta.insert("meetingId".into(), rec.meeting_id.clone());
    meta.insert("meetingName".into(), rec.name.clone());
    for (key, value) in &meta {
        if value.is_empty() {
            let _ = writeln!(x, "    <{key}/>");
        } else {
            let _ = writeln!(x, "    <{key}>{}</{key}>", libxml_text(value));
        }
    }
    x.push_str("  </meta>\n  <playback>\n    <format>presentation</format>\n");
    if let Some(format) = rec.format(&bbb_api::FormatKind::Presentation) {
        let _ = writeln!(x, "    <link>{}</link>", libxml_text(&format.url));
        if let Some(t) = format.processing_time_ms {
            let _ = writeln!(x, "    <processing_time>{t}</processing_time>");
        }
        let _ = writeln!(x, "    <duration>{}</duration>", demo.duration_ms);
        if !format.previews.is_empty() {
            x.push_str("    <extensions>\n      <preview>\n        <images>\n");
            for img in &format.previews {
                let _ = writeln!(
                    x,
                    "          <image width=\"{}\" height=\"{}\" alt=\"{}\">{}</image>",
                    img.width.unwrap_or(THUMB_WIDTH),
                    img.height.unwrap_or(THUMB_HEIGHT),
                    libxml_attr(img.alt.as_deref().unwrap_or_default()),
                    libxml_text(&img.url)
                );
            }
            x.push_str("        </images>\n      </preview>\n    </extensions>\n");
        }
        if let Some(size) = format.size {
            let _ = writeln!(x, "    <size>{size}</size>");
        }
    }
    x.push_str("  </playback>\n");
    if let Some(raw) = rec.raw_size {
        let _ = writeln!(x, "  <raw_size>{raw}</raw_size>");
    }
    x.push_str("</recording>\n");
    x
}

fn shapes_svg(script: &Script, presentation_id: &str) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" id=\"svgfile\" \
         style=\"position:absolute;height:600px;width:800px\" version=\"1.1\" viewBox=\"0 0 800 600\">\n",
    );
    let mut draw = 0;
    for (index, showing) in script.showings.iter().enumerate() {
        let image = index + 1;
        let (href, text) = match showing.slide {
            Some(n) => (
                format!("presentation/{presentation_id}/slide-{n}.png"),
                format!(" text=\"presentation/{presentation_id}/textfiles/slide-{n}.txt\""),
            ),
            None => ("presentation/deskshare.png".to_owned(), String::new()),
        };
        let _ = writeln!(
            x,
            "  <image id=\"image{image}\" class=\"slide\" in=\"{}\" out=\"{}\" xlink:href=\"{href}\" width=\"{SLIDE_WIDTH}\" \
             height=\"{SLIDE_HEIGHT}\" x=\"0\" y=\"0\" style=\"visibility:hidden\"{text}/>",
            secs(showing.in_tenths),
            secs(showing.out_tenths)
        );
        if showing.shapes.is_empty() {
            continue;
        }
        let _ = writeln!(x, "  <g class=\"canvas\" id=\"canvas{image}\" image=\"image{image}\" display=\"none\">");
        for (number, shape) in showing.shapes.iter().enumerate() {
            let shape_id = format!("image{image}-{}{}", shape.kind.name(), number + 1);
            let undo = shape.undo_tenths.map_or("-1".to_owned(), secs);
            for (at, geometry) in &shape.revisions {
                draw += 1;
                let style = shape_style(shape);
                let _ = writeln!(
                    x,
                    "    <g id=\"image{image}-draw{draw}\" class=\"shape\" timestamp=\"{}\" undo=\"{undo}\" shape=\"{shape_id}\" style=\"{style}\">",
                    secs(*at)
                );
                x.push_str(&shape_element(shape.kind, geometry));
                x.push_str("    </g>\n");
            }
        }
        x.push_str("  </g>\n");
    }
    x.push_str("</svg>\n");
    x
}

fn shape_style(shape: &Shape) -> String {
    let (c, w) = (&shape.color, ruby_float(shape.thickness));
    match shape.kind {
        ShapeKind::Pencil => {
            format!(
                "stroke:{c};stroke-linecap:round;stroke-linejoin:round;stroke-width:{w};visibility:hidden;fill:none"
            )
        }
        ShapeKind::Line => format!("stroke:{c};stroke-width:{w};visibility:hidden;fill:none;stroke-linecap:butt"),
        ShapeKind::Rectangle => {
            format!("stroke:{c};stroke-width:{w};visibility:hidden;fill:none;stroke-linejoin:miter")
        }
        ShapeKind::Ellipse => format!("stroke:{c};stroke-width:{w};visibility:hidden;fill:none"),
        ShapeKind::Triangle => {
            format!("stroke:{c};stroke-width:{w};visibility:hidden;fill:none;stroke-linejoin:miter;stroke-miterlimit:8")
        }
        ShapeKind::Text => {
            format!("color:{c};word-wrap:break-word;visibility:hidden;font-family:Arial;font-size:{w}px")
        }
    }
}

fn p(v: f64) -> String {
    ruby_float(round_to(v, 5))
}

fn shape_element(kind: ShapeKind, geometry: &Geometry) -> String {
    match geometry {
        Geometry::Points(points) => {
            let mut d = String::new();
            for (i, (px, py)) in points.iter().enumerate() {
                let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { "L" }, p(*px), p(*py));
            }
            format!("      <path d=\"{d}\"/>\n")
        }
        Geometry::Drag { from, to } => {
            let (x0, y0, x1, y1) = (from.0.min(to.0), from.1.min(to.1), from.0.max(to.0), from.1.max(to.1));
            match kind {
                ShapeKind::Line => {
                    format!(
                        "      <line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n",
                        p(from.0),
                        p(from.1),
                        p(to.0),
                        p(to.1)
                    )
                }
                ShapeKind::Rectangle => format!(
                    "      <path d=\"M{x0} {y0}L{x1} {y0}L{x1} {y1}L{x0} {y1}Z\"/>\n",
                    x0 = p(x0),
                    y0 = p(y0),
                    x1 = p(x1),
                    y1 = p(y1)
                ),
                ShapeKind::Triangle => format!(
                    "      <path d=\"M{} {}L{} {}L{} {}Z\"/>\n",
                    p((x0 + x1) / 2.0),
                    p(y0),
                    p(x1),
                    p(y1),
                    p(x0),
                    p(y1)
                ),
                _ => {
                    // BBB draws an ellipse as four arcs from its left end, clockwise.
                    let (rx, ry, cx, cy) =
                        (p((x1 - x0) / 2.0), p((y1 - y0) / 2.0), p((x0 + x1) / 2.0), p((y0 + y1) / 2.0));
                    let arc = |x: &str, y: &str| format!("A{rx} {ry} 0 0 1 {x} {y}");
                    format!(
                        "      <path d=\"M{} {cy}{}{}{}{}Z\"/>\n",
                        p(x0),
                        arc(&cx, &p(y0)),
                        arc(&p(x1), &cy),
                        arc(&cx, &p(y1)),
                        arc(&p(x0), &cy)
                    )
                }
            }
        }
        Geometry::Text { x, y, width, height, text } => format!(
            "      <switch>\n        <foreignObject width=\"{}\" height=\"{}\" x=\"{}\" y=\"{}\">\n          \
             <p xmlns=\"http://www.w3.org/1999/xhtml\" style=\"margin:0;padding:0\">{}</p>\n        </foreignObject>\n      </switch>\n",
            p(*width),
            p(*height),
            p(*x),
            p(*y),
            libxml_text(text)
        ),
    }
}

fn panzooms_xml(script: &Script) -> String {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<recording id=\"panzoom_events\">\n");
    for v in &script.views {
        let _ = writeln!(
            x,
            "  <event timestamp=\"{}\">\n    <viewBox>{} {} {} {}</viewBox>\n  </event>",
            secs(v.at_tenths),
            ruby_float(v.x),
            ruby_float(v.y),
            ruby_float(v.width),
            ruby_float(v.height)
        );
    }
    x.push_str("</recording>\n");
    x
}

fn cursor_xml(script: &Script) -> String {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<recording id=\"cursor_events\">\n");
    for (at, position) in &script.cursor {
        let (cx, cy) = position.unwrap_or((-1.0, -1.0));
        let _ = writeln!(
            x,
            "  <event timestamp=\"{}\">\n    <cursor>{} {}</cursor>\n  </event>",
            secs(*at),
            ruby_float(cx),
            ruby_float(cy)
        );
    }
    x.push_str("</recording>\n");
    x
}

fn deskshare_xml(script: &Script) -> String {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<recording id=\"deskshare_events\">\n");
    for (start, stop) in &script.deskshares {
        let _ = writeln!(
            x,
            "  <event start_timestamp=\"{}\" stop_timestamp=\"{}\" video_width=\"1280\" video_height=\"720\"/>",
            secs(*start),
            secs(*stop)
        );
    }
    x.push_str("</recording>\n");
    x
}

fn chat_xml(script: &Script) -> String {
    if script.chat.is_empty() {
        return "<?xml version=\"1.0\"?>\n<popcorn/>\n".into();
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<popcorn>\n");
    for (i, m) in script.chat.iter().enumerate() {
        let _ = writeln!(
            x,
            "  <chattimeline in=\"{}\" direction=\"down\" name=\"{}\" senderId=\"w_{:012x}\" message=\"{}\" target=\"chat\"/>",
            secs(m.at_tenths),
            builder_attr(&m.sender),
            (i as u64 + 1) * 0x9e37,
            builder_attr(&m.message)
        );
    }
    x.push_str("</popcorn>\n");
    x
}

/// A slide: a coloured title band, `n` blocks in a row (so the slide number can be read off the pixels) and a
/// diagonal stripe whose angle varies per slide.
fn slide_png(seed: u64, n: u32, width: u32, height: u32) -> Vec<u8> {
    use tiny_skia::{Color, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};
    let mut pixmap = Pixmap::new(width, height).expect("non-zero slide size");
    pixmap.fill(Color::WHITE);
    let scale = width as f32 / SLIDE_WIDTH as f32;
    let transform = Transform::from_scale(scale, height as f32 / SLIDE_HEIGHT as f32);
    let mut rng = Rng::new(seed, &format!("slide-{n}"));
    let mut paint = Paint { anti_alias: true, ..Paint::default() };
    let hue = |rng: &mut Rng| rng.range(40, 200) as u8;
    paint.set_color_rgba8(hue(&mut rng), hue(&mut rng), hue(&mut rng), 255);
    if let Some(band) = Rect::from_xywh(0.0, 0.0, SLIDE_WIDTH as f32, 140.0) {
        pixmap.fill_rect(band, &paint, transform, None);
    }
    paint.set_color_rgba8(40, 40, 40, 255);
    let block = 80.0;
    for i in 0..n {
        if let Some(r) = Rect::from_xywh(100.0 + i as f32 * (block + 30.0), 220.0, block, block) {
            pixmap.fill_rect(r, &paint, transform, None);
        }
    }
    let mut pb = PathBuilder::new();
    pb.move_to(100.0, 800.0);
    pb.line_to(1500.0, 800.0 - 40.0 * n as f32);
    if let Some(path) = pb.finish() {
        paint.set_color(Color::from_rgba8(200, 30, 30, 255));
        pixmap.stroke_path(&path, &paint, &Stroke { width: 12.0, ..Stroke::default() }, transform, None);
    }
    pixmap.encode_png().expect("PNG encoding of an in-memory pixmap")
}

/// The neutral image BBB shows under a screen share.
fn blank_png(width: u32, height: u32) -> Vec<u8> {
    let mut pixmap = tiny_skia::Pixmap::new(width, height).expect("non-zero size");
    pixmap.fill(tiny_skia::Color::WHITE);
    pixmap.encode_png().expect("PNG encoding of an in-memory pixmap")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{CatalogueOptions, generate};

    fn demos() -> Vec<DemoRecording> {
        generate(&CatalogueOptions::new(60, "http://127.0.0.1:1/"))
    }

    #[test]
    fn showings_cover_the_recording_without_overlap() {
        for demo in demos() {
            let script = Script::of(&demo);
            assert_eq!(script.showings.first().unwrap().in_tenths, 0);
            assert_eq!(script.showings.last().unwrap().out_tenths, script.duration_tenths);
            for pair in script.showings.windows(2) {
                assert_eq!(pair[0].out_tenths, pair[1].in_tenths, "{:?}", demo.recording.record_id);
            }
            for (a, b) in &script.deskshares {
                let s = script.showing_at(*a).unwrap();
                assert_eq!((s.slide, s.in_tenths, s.out_tenths), (None, *a, *b));
            }
            let slides: std::collections::BTreeSet<u32> = script.showings.iter().filter_map(|s| s.slide).collect();
            assert_eq!(slides.len() as u32, demo.slides, "every slide is shown");
        }
    }

    #[test]
    fn shapes_happen_while_their_slide_is_shown() {
        for demo in demos() {
            for showing in Script::of(&demo).showings {
                for shape in &showing.shapes {
                    for (at, _) in &shape.revisions {
                        assert!((showing.in_tenths..showing.out_tenths).contains(at));
                    }
                    if let Some(undo) = shape.undo_tenths {
                        assert!(undo > shape.revisions[0].0 && undo <= showing.out_tenths);
                    }
                }
            }
        }
    }

    #[test]
    fn files_listed_are_files_served_and_xml_is_well_formed() {
        for demo in demos().iter().take(15) {
            for path in presentation_files(demo) {
                let file = presentation_file(demo, &path).unwrap_or_else(|| panic!("{path} listed but not served"));
                if let PublishedFile::Bytes { body, .. } = file {
                    if path.ends_with(".xml") || path.ends_with(".svg") {
                        let text = String::from_utf8(body).unwrap();
                        let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
                        roxmltree::Document::parse_with_options(&text, options)
                            .unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
                    }
                }
            }
            assert!(presentation_file(demo, "../../etc/passwd").is_none());
            assert!(
                presentation_file(demo, &format!("presentation/{}/slide-99.png", demo.presentation_id())).is_none()
            );
        }
    }

    #[test]
    fn accents_are_character_references_in_libxml_files_and_kept_in_builder_files() {
        let demo = demos().into_iter().find(|d| d.recording.name.contains('é')).expect("an accented name");
        let Some(PublishedFile::Bytes { body, .. }) = presentation_file(&demo, "metadata.xml") else { panic!() };
        let xml = String::from_utf8(body).unwrap();
        assert!(xml.is_ascii(), "{xml}");
        assert!(xml.contains("&#xE9;"));
        assert!(xml.contains(&format!("<duration>{}</duration>", demo.duration_ms)));
    }

    #[test]
    fn slide_images_show_their_number() {
        let png = slide_png(1, 3, SLIDE_WIDTH, SLIDE_HEIGHT);
        let pixmap = tiny_skia::Pixmap::decode_png(&png).unwrap();
        let dark = |x: u32| pixmap.pixel(x, 260).unwrap().red() < 100;
        let blocks = (0..SLIDE_WIDTH).filter(|&x| dark(x) && (x == 0 || !dark(x - 1))).count();
        assert_eq!(blocks, 3);
    }
}
