//! The presentation playback of a BigBlueButton recording as one typed, sorted timeline.
//!
//! The published files of the `presentation` format (under `/presentation/<recordID>/`) describe the picture a
//! player shows over time: which slide image, which annotations, which part of the slide (pan/zoom), where the
//! cursor is, when the screen is shared. [`parse`] turns them into a [`Timeline`] that a frame renderer queries
//! by time; it does no I/O (the caller hands the bytes in through [`PublishedFiles`]) and never panics: what
//! cannot be read becomes a [`Warning`] naming the file, the element and the reason, and the rest is kept.
//!
//! Which BBB version wrote what (from `record-and-playback/presentation/scripts/publish/presentation.rb` and the
//! official player `bbb-playback`, `src/utils/builder.js`):
//!
//! | version | slides | annotations | pan/zoom, cursor |
//! |---|---|---|---|
//! | ≤ 2.2 | `shapes.svg` images, possibly several `in`/`out` times each | SVG in `shapes.svg` | slide pixels; cursor relative to the view |
//! | 2.3–2.5 | one `<image>` per showing | SVG in `shapes.svg`, slide pixels | same |
//! | 2.6–2.7 | `svgs/slideN.svg` images | `tldraw.json`, tldraw v1 page space | `tldraw="true"`: camera point + slide-pixel size; cursor absolute |
//! | 3.0 | same | `tldraw.json`, BBB's tldraw v2 fork | same, infinite canvas |
//!
//! For speed, [`Timeline::change_points`] lists the instants at which the slide layer (slide, annotations, view,
//! screen share) changes, and [`Timeline::cursor_points`] those at which only the cursor moves: a renderer draws
//! the slide layer once per change point and the cursor as an overlay.

mod events;
mod extras;
mod model;
mod query;
mod shapes_svg;
mod svgstyle;
mod time;
mod tldraw;
mod xml;

use std::collections::{BTreeMap, HashMap};

pub use model::*;
pub use query::{Picture, VisibleShape};
pub use time::{Time, Warning};

use time::Warnings;

/// Where the published files come from: a directory, an HTTP mirror, a test's map. `path` is relative to the
/// recording's directory (`shapes.svg`, `presentation/<id>/slide-1.png`); `None` = the file does not exist.
pub trait PublishedFiles {
    fn get(&self, path: &str) -> Option<Vec<u8>>;
}

impl PublishedFiles for BTreeMap<String, Vec<u8>> {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        BTreeMap::get(self, path).cloned()
    }
}

impl PublishedFiles for HashMap<String, Vec<u8>> {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        HashMap::get(self, path).cloned()
    }
}

impl<F: Fn(&str) -> Option<Vec<u8>>> PublishedFiles for F {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self(path)
    }
}

/// Whether an XML text declares entities in its DOCTYPE (`<!DOCTYPE x [<!ENTITY …`). BBB never does; roxmltree
/// (and every crate built on it, usvg included) expands internal entities at each reference without a size
/// limit, so readers of remote XML refuse such a document before parsing it. A `<!ENTITY` after the DOCTYPE's
/// internal subset (in a comment, say) counts too: being wrong there only costs a file nobody writes.
pub fn declares_entities(xml: &str) -> bool {
    let Some(doctype) = xml.find("<!DOCTYPE") else { return false };
    xml[doctype..].contains("<!ENTITY")
}

/// The files read, in the order they are needed.
pub const FILES: &[&str] = &[
    "metadata.xml",
    "shapes.svg",
    "tldraw.json",
    "panzooms.xml",
    "cursor.xml",
    "deskshare.xml",
    "slides_new.xml",
    "captions.json",
    "external_videos.json",
    "polls.json",
    "presentation_text.json",
];

/// Reads every published file the playback needs and builds the timeline. Missing optional files are normal
/// and leave their part empty; a missing `metadata.xml` or `shapes.svg` is warned about.
pub fn parse<P: PublishedFiles + ?Sized>(files: &P) -> (Timeline, Vec<Warning>) {
    let mut warnings = Vec::new();
    let mut timeline = Timeline::default();

    match files.get("metadata.xml") {
        Some(bytes) => timeline.info = events::metadata(&bytes, &mut Warnings::new("metadata.xml", &mut warnings)),
        None => Warnings::new("metadata.xml", &mut warnings).file("missing; the duration comes from the events"),
    }
    let duration_hint = timeline.info.duration;

    let mut svg_era_annotations = false;
    match files.get("shapes.svg") {
        Some(bytes) => {
            let svg = shapes_svg::parse(&bytes, duration_hint, &mut Warnings::new("shapes.svg", &mut warnings));
            svg_era_annotations = svg.canvases > 0;
            timeline.slides = svg.slides;
            timeline.shapes = svg.shapes;
        }
        None => Warnings::new("shapes.svg", &mut warnings).file("missing; no slide is shown"),
    }

    let mut tldraw_format = None;
    if let Some(bytes) = files.get("tldraw.json") {
        let mut w = Warnings::new("tldraw.json", &mut warnings);
        let content = tldraw::parse(&bytes, &mut w);
        if svg_era_annotations && !content.shapes.is_empty() {
            w.file("both shapes.svg canvases and tldraw shapes; both are kept");
        }
        tldraw_format = content.format;
        if timeline.info.bbb_version.is_none() {
            timeline.info.bbb_version = content.bbb_version;
        }
        timeline.shapes.extend(content.shapes);
    }

    if let Some(bytes) = files.get("panzooms.xml") {
        let (views, space) = events::panzooms(&bytes, &mut Warnings::new("panzooms.xml", &mut warnings));
        timeline.views = views;
        timeline.view_space = space;
    }
    if let Some(bytes) = files.get("cursor.xml") {
        let (cursor, space) = events::cursor(&bytes, &mut Warnings::new("cursor.xml", &mut warnings));
        timeline.cursor = cursor;
        timeline.cursor_space = space;
    }
    if let Some(bytes) = files.get("deskshare.xml") {
        timeline.deskshare = events::deskshare(&bytes, &mut Warnings::new("deskshare.xml", &mut warnings));
    }
    if let Some(bytes) = files.get("slides_new.xml") {
        timeline.chat = events::chat(&bytes, &mut Warnings::new("slides_new.xml", &mut warnings));
    }
    if let Some(bytes) = files.get("captions.json") {
        timeline.captions = extras::captions(&bytes, &mut Warnings::new("captions.json", &mut warnings));
    }
    if let Some(bytes) = files.get("external_videos.json") {
        timeline.external_videos =
            extras::external_videos(&bytes, &mut Warnings::new("external_videos.json", &mut warnings));
    }
    if let Some(bytes) = files.get("polls.json") {
        timeline.polls = extras::polls(&bytes, &mut Warnings::new("polls.json", &mut warnings));
    }
    if let Some(bytes) = files.get("presentation_text.json") {
        timeline.slide_texts =
            extras::presentation_text(&bytes, &mut Warnings::new("presentation_text.json", &mut warnings));
    }

    timeline.format = decide_format(&timeline, svg_era_annotations, tldraw_format);
    normalize(&mut timeline, &mut warnings);
    let latest = latest_event(&timeline);
    timeline.duration = match duration_hint {
        Some(d) => {
            // A little overshoot is normal (the last slide's `out` is the last event); much more means the
            // files do not belong together.
            if latest > Time::from_millis(d.as_millis().saturating_add(5_000)) {
                Warnings::new("metadata.xml", &mut warnings)
                    .file(format!("events run until {latest}, past the duration {d}; the duration is kept"));
            }
            d
        }
        None => latest,
    };
    timeline.chapters = chapters(&timeline);
    (timeline, warnings)
}

/// tldraw.json decides when present. A 3.0 recording without annotations may have no tldraw.json, while 2.6–2.7
/// always write one (it holds `bbb_version`), so tldraw coordinates without the file mean v2.
fn decide_format(t: &Timeline, svg_era: bool, tldraw: Option<AnnotationFormat>) -> AnnotationFormat {
    if let Some(f) = tldraw {
        return f;
    }
    if let Some(f) = t.info.bbb_version.as_deref().and_then(tldraw::format_of_version) {
        return f;
    }
    if svg_era {
        return AnnotationFormat::Svg;
    }
    let tldraw_files = t.view_space == Space::Tldraw || t.cursor_space == Space::Tldraw;
    if tldraw_files || t.slides.iter().any(|s| s.href.contains("/svgs/")) {
        return AnnotationFormat::TldrawV2;
    }
    if t.slides.iter().any(|s| matches!(s.content, SlideContent::Page { .. })) {
        return AnnotationFormat::Svg;
    }
    AnnotationFormat::Unknown
}

/// Sorts everything, removes overlaps and duplicates, so that queries can binary-search.
fn normalize(t: &mut Timeline, warnings: &mut Vec<Warning>) {
    t.slides.sort_by_key(|s| s.start);
    let mut kept: Vec<SlideShowing> = Vec::with_capacity(t.slides.len());
    for slide in std::mem::take(&mut t.slides) {
        if let Some(last) = kept.last_mut() {
            if last.end > slide.start {
                warnings.push(Warning {
                    file: "shapes.svg".into(),
                    element: format!("<image id=\"image{}\">", last.image_id),
                    reason: format!(
                        "showing until {} overlaps image{} from {}; cut there",
                        last.end, slide.image_id, slide.start
                    ),
                });
                last.end = slide.start;
                if last.end <= last.start {
                    kept.pop();
                }
            }
        }
        kept.push(slide);
    }
    t.slides = kept;

    // Same instant twice: the later line of the file wins, as in the player's binary search over sorted data.
    t.views.sort_by_key(|v| v.at);
    dedup_keep_last(&mut t.views, |v| v.at);
    t.cursor.sort_by_key(|c| c.at);
    dedup_keep_last(&mut t.cursor, |c| c.at);

    t.deskshare.sort_by_key(|d| d.start);
    let mut merged: Vec<Deskshare> = Vec::with_capacity(t.deskshare.len());
    for d in std::mem::take(&mut t.deskshare) {
        match merged.last_mut() {
            Some(last) if d.start < last.end => {
                warnings.push(Warning {
                    file: "deskshare.xml".into(),
                    element: String::new(),
                    reason: format!("interval {}–{} overlaps {}–{}; merged", d.start, d.end, last.start, last.end),
                });
                last.end = last.end.max(d.end);
            }
            _ => merged.push(d),
        }
    }
    t.deskshare = merged;

    t.chat.sort_by_key(|c| c.at);
    t.polls.sort_by_key(|p| p.at);
    t.external_videos.sort_by_key(|v| v.at);
    // Creation order is paint order for BBB (new shapes on top); ties keep file order.
    t.shapes.retain(|s| !s.revisions.is_empty());
    t.shapes.sort_by_key(|s| s.revisions[0].at);
}

fn dedup_keep_last<T>(v: &mut Vec<T>, key: impl Fn(&T) -> Time) {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for item in v.drain(..) {
        match out.last_mut() {
            Some(last) if key(last) == key(&item) => *last = item,
            _ => out.push(item),
        }
    }
    *v = out;
}

fn latest_event(t: &Timeline) -> Time {
    let slides = t.slides.iter().map(|s| s.end);
    let desk = t.deskshare.iter().map(|d| d.end);
    let views = t.views.iter().map(|v| v.at);
    let cursor = t.cursor.iter().map(|c| c.at);
    let shapes = t.shapes.iter().flat_map(|s| s.revisions.iter().flat_map(|r| std::iter::once(r.at).chain(r.undo)));
    let chat = t.chat.iter().map(|c| c.at);
    slides.chain(desk).chain(views).chain(cursor).chain(shapes).chain(chat).max().unwrap_or(Time::ZERO)
}

fn chapters(t: &Timeline) -> Vec<Chapter> {
    let mut out: Vec<Chapter> = Vec::new();
    let mut previous: Option<&SlideContent> = None;
    for slide in &t.slides {
        if previous == Some(&slide.content) {
            continue;
        }
        previous = Some(&slide.content);
        let title = match &slide.content {
            SlideContent::Page { presentation, number } => t
                .slide_texts
                .get(&(presentation.clone(), *number))
                .and_then(|text| text.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(|l| l.chars().take(120).collect())
                .unwrap_or_else(|| format!("Slide {number}")),
            SlideContent::Deskshare => "Screen sharing".to_owned(),
            SlideContent::Logo => continue,
            SlideContent::Other => "Slide".to_owned(),
        };
        out.push(Chapter { start: slide.start, title });
    }
    out
}
