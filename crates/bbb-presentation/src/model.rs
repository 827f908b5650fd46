//! The typed timeline: what is on the presentation area, and when.

use std::collections::BTreeMap;

use crate::Time;

/// A point in the coordinate space of the annotation format (see [`AnnotationFormat`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }
}

/// Who wrote the annotations, which decides their coordinate space and shape vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnotationFormat {
    /// No annotation data at all (no canvas in `shapes.svg`, no `tldraw.json`), and nothing says which era
    /// wrote the recording.
    #[default]
    Unknown,
    /// BBB ≤ 2.5: SVG elements inside `shapes.svg`, in slide-image pixels.
    Svg,
    /// BBB 2.6–2.7: tldraw v1 shapes in `tldraw.json`, in the tldraw page space where the slide is scaled to fit
    /// [`AnnotationFormat::tldraw_page_size`].
    TldrawV1 { before_2_6_1: bool },
    /// BBB 3.0: BBB's fork of tldraw v2, same page space as 2.6.1+ (1440×1080 fit) but an infinite canvas.
    TldrawV2,
}

impl AnnotationFormat {
    /// The box a slide is scaled to fit in tldraw page space: 2048×1536 in BBB 2.6.0, 1440×1080 from 2.6.1 on
    /// (bbb-playback `components/tldraw*/index.js`). `None` for SVG-era recordings, which draw in slide pixels.
    pub fn tldraw_page_size(self) -> Option<(f64, f64)> {
        match self {
            AnnotationFormat::TldrawV1 { before_2_6_1: true } => Some((2048.0, 1536.0)),
            AnnotationFormat::TldrawV1 { before_2_6_1: false } | AnnotationFormat::TldrawV2 => Some((1440.0, 1080.0)),
            AnnotationFormat::Svg | AnnotationFormat::Unknown => None,
        }
    }

    pub fn is_tldraw(self) -> bool {
        matches!(self, AnnotationFormat::TldrawV1 { .. } | AnnotationFormat::TldrawV2)
    }
}

/// What an `<image class="slide">` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlideContent {
    /// Page `number` (1-based) of the uploaded presentation `presentation` (its directory name).
    Page { presentation: String, number: u32 },
    /// `presentation/deskshare.png`: the placeholder under a screen share; draw the deskshare video instead.
    Deskshare,
    /// `presentation/logo.png`: no presentation was shared yet.
    Logo,
    /// An image path we could not read as one of the above; drawn as is.
    Other,
}

/// One interval during which one slide image is on screen.
///
/// From BBB 2.3 every showing is its own `<image>` (a revisited slide gets a new id); older recordings list
/// several space-separated times in one image's `in`/`out`, which become several showings with the same
/// `image_id` (and so the same annotations).
#[derive(Debug, Clone, PartialEq)]
pub struct SlideShowing {
    pub start: Time,
    pub end: Time,
    /// The `N` of `id="imageN"`: annotations (`<g class="canvas" image="imageN">`, `tldraw.json` key `"N"`) belong
    /// to an image, not to a showing.
    pub image_id: u32,
    /// Relative path of the image (PNG ≤ 2.5, `svgs/slideN.svg` from 2.6).
    pub href: String,
    /// Size of the image in pixels as the publish script measured it; annotation coordinates of SVG-era
    /// recordings and pan/zoom view boxes are in these pixels.
    pub width: f64,
    pub height: f64,
    pub content: SlideContent,
    /// Relative path of the slide's extracted text (`textfiles/slide-N.txt`), when written.
    pub text_href: Option<String>,
}

impl SlideShowing {
    /// The factor from slide pixels to tldraw page units for this slide, as the official player computes it
    /// (`min(page_w / width, page_h / height)`); 1 for SVG-era recordings or a slide without a size.
    pub fn tldraw_scale(&self, format: AnnotationFormat) -> f64 {
        match format.tldraw_page_size() {
            Some((pw, ph)) if self.width > 0.0 && self.height > 0.0 => (pw / self.width).min(ph / self.height),
            _ => 1.0,
        }
    }
}

/// An RGB colour written in the file, or a palette name of tldraw (`"black"`, `"light-blue"`, …) whose value
/// depends on the tldraw version and theme and is the renderer's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Color {
    Rgb(u8, u8, u8),
    Named(String),
}

/// tldraw's stroke dash style; SVG-era shapes are always solid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dash {
    /// The hand-drawn look (perfect-freehand outline).
    #[default]
    Draw,
    Solid,
    Dashed,
    Dotted,
}

/// tldraw's fill styles (v1 only knows filled or not, which maps to `Semi`/`None` as tldraw v1 draws it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fill {
    #[default]
    None,
    Semi,
    Solid,
    Pattern,
}

/// tldraw's size step; stroke widths and font sizes derive from it per version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeStep {
    Small,
    Medium,
    Large,
    ExtraLarge,
}

/// How a shape is painted. SVG-era shapes fill `color`, `fill_color`, `stroke_width`, `font_*`, `line_*`;
/// tldraw shapes fill `color`, `size`, `dash`, `fill`, `font`, `align`, `scale`, `opacity`.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Stroke colour (text colour for text; `color:` is taken when a broken style lost its `stroke:`).
    pub color: Option<Color>,
    /// Explicit SVG fill colour (`fill:#ff0000`, e.g. a one-point pencil dot); `None` also for `fill:none`.
    pub fill_color: Option<Color>,
    pub fill: Fill,
    /// SVG stroke width in slide pixels.
    pub stroke_width: Option<f64>,
    pub size: Option<SizeStep>,
    pub dash: Dash,
    /// SVG `font-family` or tldraw font name (`script`/`sans`/`serif`/`mono` in v1, `draw`/`sans`/`serif`/`mono`
    /// in v2).
    pub font: Option<String>,
    /// SVG font size in slide pixels.
    pub font_size: Option<f64>,
    /// Text alignment as written (`start`/`middle`/`end`/`justify`).
    pub align: Option<String>,
    pub vertical_align: Option<String>,
    pub line_cap: Option<String>,
    pub line_join: Option<String>,
    /// tldraw's scale factor on sizes (v1 `style.scale`, v2 `props.scale`), 1 otherwise.
    pub scale: f64,
    /// 0..1.
    pub opacity: f64,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: None,
            fill_color: None,
            fill: Fill::None,
            stroke_width: None,
            size: None,
            dash: Dash::Solid,
            font: None,
            font_size: None,
            align: None,
            vertical_align: None,
            line_cap: None,
            line_join: None,
            scale: 1.0,
            opacity: 1.0,
        }
    }
}

/// One command of an SVG path, absolute coordinates (relative commands are resolved while parsing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathSegment {
    MoveTo(Point),
    LineTo(Point),
    QuadTo(Point, Point),
    CubicTo(Point, Point, Point),
    Arc { rx: f64, ry: f64, x_rotation: f64, large_arc: bool, sweep: bool, to: Point },
    Close,
}

/// A stroke sample of a tldraw freehand line; `pressure` is 0.5 when the device gave none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrokePoint {
    pub x: f64,
    pub y: f64,
    pub pressure: f64,
}

/// An end of a tldraw line or arrow: a point in the shape's local space, and possibly the shape it sticks to.
#[derive(Debug, Clone, PartialEq)]
pub struct Handle {
    pub point: Point,
    /// v2 bindings: `(bound shape id, normalized anchor 0..1 inside its bounds)`. The renderer may use the bound
    /// shape's current box instead of `point`, which tldraw v2 then leaves at (0, 0).
    pub bound: Option<(String, Point)>,
}

/// An answer of a poll and its votes.
#[derive(Debug, Clone, PartialEq)]
pub struct PollAnswer {
    pub key: String,
    pub votes: u64,
}

/// What a shape revision looks like. SVG-era geometry is in slide pixels with no transform; tldraw geometry is
/// in the shape's local space, placed by [`Shape::origin`] and [`Shape::rotation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// `<path d>`: pencil, rectangle, triangle and ellipse (four arcs) of BBB ≤ 2.5.
    Path(Vec<PathSegment>),
    /// `<line>`, or a tldraw line without bend.
    Line { from: Point, to: Point },
    /// `<circle>`: a pencil stroke of a single point.
    Dot { center: Point, radius: f64 },
    /// `<polyline>`/`<polygon>` of very old recordings.
    Polyline { points: Vec<Point>, closed: bool },
    /// `<rect>` (backdrop of a poll result before BBB 2.3).
    Rect { x: f64, y: f64, width: f64, height: f64 },
    /// Text of BBB ≤ 2.5 (`<switch><foreignObject><p>`), one entry per `<br/>`-separated line; wrap at `width`.
    TextBox { x: f64, y: f64, width: f64, height: f64, lines: Vec<String> },
    /// `<image>` inside a shape: a poll result chart made by the publish script (an SVG under
    /// `presentation/<id>/poll_resultN.svg`). `transform` is the SVG transform attribute, if any.
    Image { href: String, x: f64, y: f64, width: f64, height: f64, transform: Option<String> },
    /// Several elements in one shape group (poll results before 2.3: `<rect>` + rotated `<image>`).
    Group(Vec<Geometry>),
    /// tldraw `draw`/`highlight`: strokes of samples (v1 has one, v2 one per segment).
    Freehand { strokes: Vec<Vec<StrokePoint>>, closed: bool, complete: bool },
    /// tldraw rectangle/ellipse/triangle (v1) or `geo` (v2: `geo` holds its kind), frames and their label.
    Box { width: f64, height: f64, label: Option<String> },
    /// tldraw `line`/`arrow`: ends, optional middle points (v2 lines), bend (v1/v2 arrows) and heads.
    Connector {
        start: Handle,
        end: Handle,
        /// v2 line points between the ends, in order.
        middle: Vec<Point>,
        /// Distance of the arc's middle from the straight line (tldraw's `bend`); 0 = straight.
        bend: f64,
        /// Arrowheads as written (`"arrow"`, `"triangle"`, …), `None` = plain end.
        head_start: Option<String>,
        head_end: Option<String>,
        /// v2 `spline` (`"line"` or `"cubic"`).
        spline: Option<String>,
        label: Option<String>,
    },
    /// tldraw text; `width` is set when the box has a fixed width (v2 `autoSize: false`).
    Text { text: String, width: Option<f64> },
    /// tldraw sticky note (`sticky` in v1, `note` in v2).
    Sticky { text: String, width: f64, height: f64 },
    /// A poll result drawn on the slide: v2 `poll` shapes carry the numbers; v1 draws a rectangle labelled
    /// with a text chart (`answers` empty then, `label` holds it).
    Poll { width: f64, height: f64, question: String, answers: Vec<PollAnswer>, responders: u64, label: Option<String> },
}

/// The drawing tool a shape came from, for the renderer's choice of look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeKind {
    Pencil,
    Highlighter,
    Line,
    Arrow,
    Rectangle,
    Ellipse,
    Triangle,
    /// Another tldraw v2 `geo` (`diamond`, `star`, `cloud`, …).
    Geo(String),
    Text,
    Sticky,
    Poll,
    Frame,
}

/// One revision of a shape: its full state (tldraw revisions are already merged by the publish script).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub kind: ShapeKind,
    pub geometry: Geometry,
    pub style: Style,
    /// Where the local origin of tldraw geometry lies in page space; (0, 0) for SVG-era shapes.
    pub origin: Point,
    /// Clockwise rotation in radians, as each tldraw applies it: v1 turns the shape around the centre of its
    /// un-rotated bounds (`point` + size), v2 turns it around `origin` (its top-left). 0 for SVG-era shapes.
    pub rotation: f64,
    /// Stacking order key when the file gives one (v1 `childIndex`, v2 fractional `index`), else `None` and
    /// document order applies.
    pub z: Option<String>,
}

/// A revision in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// When this revision replaces the previous one.
    pub at: Time,
    /// When it disappears (undo, delete, clear); `None` = never (`undo="-1"`).
    pub undo: Option<Time>,
    pub shape: Shape,
}

/// Every revision of one shape on one slide image. At `t`, only the newest revision with `at <= t` counts, and
/// it is visible unless undone at or before `t` (the rule of bbb-playback's canvas: an earlier revision never
/// shows through once a newer one has started).
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeTrack {
    /// The `shape` attribute (`image2-line9`) or the tldraw shape id.
    pub id: String,
    /// The slide image this shape is drawn on ([`SlideShowing::image_id`]).
    pub image_id: u32,
    /// Sorted by `at`; revisions with equal `at` keep their file order and the last one wins.
    pub revisions: Vec<Revision>,
}

impl ShapeTrack {
    /// The revision that counts at `t` if it is visible then.
    pub fn at(&self, t: Time) -> Option<&Revision> {
        let n = self.revisions.partition_point(|r| r.at <= t);
        let revision = self.revisions.get(n.checked_sub(1)?)?;
        match revision.undo {
            Some(undo) if undo <= t => None,
            _ => Some(revision),
        }
    }
}

/// The part of the page shown, as written in `panzooms.xml`.
///
/// SVG era (no `tldraw="true"`): `x y` = top-left, `width height` = size, all in slide pixels.
/// tldraw (`tldraw="true"`): `x y` = the tldraw *camera point* (page origin = `(-x, -y)`), `width height` in slide
/// pixels, to be multiplied by [`SlideShowing::tldraw_scale`]; [`crate::Timeline::view_rect_at`] does both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A pan/zoom step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewChange {
    pub at: Time,
    pub view: ViewBox,
}

/// A cursor step; `None` = hidden (negative coordinates in the file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CursorMove {
    pub at: Time,
    pub position: Option<Point>,
}

/// Which coordinates a file uses, from its root's `tldraw` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Space {
    /// Views in slide pixels; cursor relative to the current view (0..1).
    #[default]
    Slide,
    /// Views as tldraw camera + slide-pixel size; cursor in absolute tldraw page coordinates.
    Tldraw,
}

/// A screen-sharing interval from `deskshare.xml`; the video is `deskshare/deskshare.{webm,mp4}` on recording
/// time, sized `video_width`×`video_height` within that interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deskshare {
    pub start: Time,
    pub end: Time,
    pub video_width: Option<u32>,
    pub video_height: Option<u32>,
}

/// A public chat message from `slides_new.xml`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub at: Time,
    /// When a moderator cleared the chat (`out`), if so.
    pub cleared: Option<Time>,
    pub sender: String,
    /// The message with BBB's link markup and double escaping undone, as the player shows it.
    pub message: String,
    pub moderator: bool,
    pub emphasized: bool,
}

/// A caption track from `captions.json`; its cues are in `caption_<locale>.vtt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionTrack {
    pub locale: String,
    pub name: String,
}

impl CaptionTrack {
    /// Relative path of the WebVTT file (publish script: `caption_<locale>.vtt`).
    pub fn vtt_path(&self) -> String {
        format!("caption_{}.vtt", self.locale)
    }
}

/// A shared external video (`external_videos.json`), started at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalVideo {
    pub at: Time,
    pub url: String,
}

/// A published poll result from `polls.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    pub at: Time,
    pub kind: String,
    pub question: String,
    pub answers: Vec<PollAnswer>,
    pub respondents: u64,
    pub responders: u64,
}

/// A chapter mark: each slide showing starts one (consecutive showings of the same page are one chapter).
#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    pub start: Time,
    /// The slide's first line of text from `presentation_text.json`, else `Slide N`, `Screen sharing`.
    pub title: String,
}

/// What `metadata.xml` says about the recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordingInfo {
    pub record_id: Option<String>,
    pub meeting_id: Option<String>,
    pub meeting_name: Option<String>,
    /// Wall-clock start and end, ms since the Unix epoch.
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// `<playback><duration>`: the exact length of recording time.
    pub duration: Option<Time>,
    pub participants: Option<u32>,
    /// `<meta>` children as written (keys arrive as the front-end sent them).
    pub meta: BTreeMap<String, String>,
    /// BBB version from `tldraw.json` (or a `bbb_version` in `metadata.xml` if some server writes one).
    pub bbb_version: Option<String>,
}

/// The whole presentation playback of a recording, every list sorted by time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub info: RecordingInfo,
    /// Length of recording time: `metadata.xml`'s duration, else the latest event.
    pub duration: Time,
    pub format: AnnotationFormat,
    /// Sorted by start, non-overlapping (a showing overlapping the next is cut where the next starts).
    pub slides: Vec<SlideShowing>,
    /// Sorted by first revision, then id.
    pub shapes: Vec<ShapeTrack>,
    pub views: Vec<ViewChange>,
    pub view_space: Space,
    pub cursor: Vec<CursorMove>,
    pub cursor_space: Space,
    /// Sorted, non-overlapping.
    pub deskshare: Vec<Deskshare>,
    pub chat: Vec<ChatMessage>,
    pub captions: Vec<CaptionTrack>,
    pub external_videos: Vec<ExternalVideo>,
    pub polls: Vec<Poll>,
    pub chapters: Vec<Chapter>,
    /// `presentation_text.json`: text per `(presentation, page number)`.
    pub slide_texts: BTreeMap<(String, u32), String>,
}
