//! Golden frames: pictures at chosen instants compared with reference PNGs under `tests/golden/` (≥ 99 % of
//! pixels within ±8 per channel). `BLESS=1 cargo test -p bbb-render --test golden` rewrites the references;
//! every run also leaves the actual frames in `target/golden-out/` to be looked at.

mod common;

use std::collections::BTreeMap;

use bbb_presentation::{Time, Timeline, parse};
use bbb_render::{Areas, FrameRenderer, Layout, Size};
use common::{check_golden, demo_files, fixture, grid_png, grid_svg, rich_demo};
use migrate_demo::published::{Geometry, Script, ShapeKind};

fn tenths(t: u64) -> Time {
    Time::from_millis(t * 100)
}

fn render(timeline: &Timeline, files: &BTreeMap<String, Vec<u8>>, layout: Layout, t: Time) -> tiny_skia::Pixmap {
    let areas = Areas::resolve(layout, Size::HD, true);
    let mut r = FrameRenderer::new(timeline, files, areas).unwrap();
    let p = r.render(t).clone();
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    p
}

/// An instant at which the finished shape of `kind` is on screen.
fn instant_of(script: &Script, kind: ShapeKind) -> u64 {
    for showing in &script.showings {
        for shape in showing.shapes.iter().filter(|s| s.kind == kind) {
            let done = shape.revisions.last().unwrap().0;
            let gone = shape.undo_tenths.unwrap_or(showing.out_tenths).min(showing.out_tenths);
            if done + 1 < gone {
                return done + 1;
            }
        }
    }
    panic!("no visible {kind:?}");
}

#[test]
fn demo_recording_frames() {
    let demo = rich_demo(120_000);
    let script = Script::of(&demo);
    let files = demo_files(&demo);
    let (timeline, warnings) = parse(&files);
    assert!(warnings.is_empty(), "{warnings:?}");

    for (name, kind) in [
        ("demo_pencil", ShapeKind::Pencil),
        ("demo_line", ShapeKind::Line),
        ("demo_rectangle", ShapeKind::Rectangle),
        ("demo_ellipse", ShapeKind::Ellipse),
        ("demo_triangle", ShapeKind::Triangle),
        ("demo_text", ShapeKind::Text),
    ] {
        let t = tenths(instant_of(&script, kind));
        check_golden(name, &render(&timeline, &files, Layout::Presentation, t));
    }

    // Accented text: the first finished text with a non-ASCII character.
    let accented = script
        .showings
        .iter()
        .flat_map(|s| s.shapes.iter().map(move |x| (s, x)))
        .find_map(|(s, x)| match x.revisions.last() {
            Some((at, Geometry::Text { text, .. }))
                if !text.is_ascii() && at + 1 < x.undo_tenths.unwrap_or(s.out_tenths) =>
            {
                Some(at + 1)
            }
            _ => None,
        })
        .unwrap();
    check_golden("demo_text_accents", &render(&timeline, &files, Layout::Presentation, tenths(accented)));

    let zoom = script.views.iter().find(|v| v.width < 1600.0).unwrap();
    check_golden("demo_zoom", &render(&timeline, &files, Layout::Presentation, tenths(zoom.at_tenths + 1)));

    let desk = script.deskshares[0];
    check_golden("demo_deskshare", &render(&timeline, &files, Layout::Presentation, tenths((desk.0 + desk.1) / 2)));

    let change = script.showings.iter().skip(1).find(|s| s.slide.is_some()).unwrap();
    let before = render(&timeline, &files, Layout::Presentation, tenths(change.in_tenths - 1));
    let after = render(&timeline, &files, Layout::Presentation, tenths(change.in_tenths));
    assert!(common::similarity(&before, &after) < 0.95, "the slide changes at {}", change.in_tenths);
    check_golden("demo_slide_change", &after);

    // The cursor: a red dot where the script says, relative to the view.
    let (at, pos) = script
        .cursor
        .iter()
        .find_map(|(at, p)| {
            let showing = script.showing_at(*at)?;
            let full = script.views.iter().rev().find(|v| v.at_tenths <= *at).is_some_and(|v| v.width == 1600.0);
            (showing.slide.is_some() && full && showing.shapes.is_empty()).then_some((*at, (*p)?))
        })
        .expect("a cursor on an unzoomed slide without annotations");
    let frame = render(&timeline, &files, Layout::Presentation, tenths(at));
    // 1600×900 fitted into 1280×720 exactly.
    let (x, y) = ((pos.0 * 1280.0) as u32, (pos.1 * 720.0) as u32);
    let px = frame.pixel(x.min(1279), y.min(719)).unwrap();
    assert!(px.red() > 200 && px.green() < 60 && px.blue() < 60, "cursor at {x},{y}: {px:?}");
    check_golden("demo_cursor", &frame);
    check_golden("demo_webcam_layout", &render(&timeline, &files, Layout::PresentationWebcam, tenths(at)));
}

#[test]
fn layer_is_drawn_once_per_change_point_not_per_cursor_move() {
    let demo = rich_demo(120_000);
    let files = demo_files(&demo);
    let (timeline, _) = parse(&files);
    let mut instants: Vec<Time> = timeline.change_points().into_iter().chain(timeline.cursor_points()).collect();
    instants.sort();
    instants.dedup();
    let mut r = FrameRenderer::new(&timeline, &files, Areas::resolve(Layout::Auto, Size::HD, true)).unwrap();
    for t in &instants {
        r.render(*t);
    }
    let changes = timeline.change_points().len();
    assert!(timeline.cursor_points().len() > changes, "the demo's cursor moves more often than the slides change");
    assert!(r.layers_drawn() <= changes, "{} layers for {changes} change points", r.layers_drawn());
}

/// One renderer carried through a whole recording (as `render` does, reusing its slide pictures and layers)
/// draws every frame exactly as a fresh renderer does at that instant: nothing kept goes stale across slide
/// changes, zooms, screen sharing or annotations.
#[test]
fn frames_drawn_in_sequence_match_frames_drawn_afresh() {
    let demo = rich_demo(120_000);
    let files = demo_files(&demo);
    let (timeline, _) = parse(&files);
    let areas = Areas::resolve(Layout::Auto, Size::HD, true);
    let mut instants: Vec<Time> = timeline.change_points().into_iter().chain(timeline.cursor_points()).collect();
    instants.sort();
    instants.dedup();
    let mut carried = FrameRenderer::new(&timeline, &files, areas).unwrap();
    for (i, t) in instants.iter().enumerate() {
        let frame = carried.render(*t).clone();
        // Every change point, and a sample of the cursor moves between them.
        if timeline.change_points().contains(t) || i % 7 == 0 {
            let fresh = render(&timeline, &files, Layout::Auto, *t);
            assert!(frame.data() == fresh.data(), "frame at {t:?} differs from a fresh render");
        }
    }
    let (layers, slides) = (carried.layers_drawn(), carried.slide_pictures_drawn());
    assert!(slides * 2 < layers, "slide pictures scaled {slides} times for {layers} layers");
}

fn svg22_files() -> BTreeMap<String, Vec<u8>> {
    let pid = "f317f2ac335e836cba0b100d1cca01c8497dd885-1598187947041";
    let mut files: BTreeMap<String, Vec<u8>> = [
        ("shapes.svg", "svg22/multislide.svg"),
        ("panzooms.xml", "svg22/panzooms.xml"),
        ("cursor.xml", "svg22/cursor.xml"),
        ("deskshare.xml", "svg22/deskshare.xml"),
    ]
    .iter()
    .map(|(name, path)| (name.to_string(), fixture(path)))
    .collect();
    for n in 1..=3 {
        files.insert(format!("presentation/{pid}/slide-{n}.png"), grid_png(1600, 900, n));
    }
    files
}

#[test]
fn real_bbb_22_recording_frames() {
    let files = svg22_files();
    let (timeline, _) = parse(&files);
    let at = |s: f64| Time::from_secs_f64(s).unwrap();
    check_golden("svg22_slide1_cursor", &render(&timeline, &files, Layout::Presentation, at(3.2)));
    check_golden("svg22_deskshare", &render(&timeline, &files, Layout::Presentation, at(15.0)));
    check_golden("svg22_slide2_annotations", &render(&timeline, &files, Layout::Presentation, at(108.3)));
    check_golden("svg22_revisit_annotations", &render(&timeline, &files, Layout::Presentation, at(151.0)));
    check_golden("svg22_zoom", &render(&timeline, &files, Layout::Presentation, at(151.7)));
}

/// The comparison itself: the same frame without its cursor, or without one annotation, is refused.
#[test]
fn golden_comparison_sees_a_missing_cursor_or_annotation() {
    let files = svg22_files();
    let (mut timeline, _) = parse(&files);
    let at = |s: f64| Time::from_secs_f64(s).unwrap();
    let mismatched = |name: &str, frame: &tiny_skia::Pixmap| 1.0 - common::similarity(&common::golden(name), frame);
    let full = timeline.clone();
    timeline.cursor.clear();
    let no_cursor = render(&timeline, &files, Layout::Presentation, at(3.2));
    assert!(mismatched("svg22_slide1_cursor", &no_cursor) > common::MAX_MISMATCHED);

    let mut timeline = full;
    let shown = timeline.visible_shapes(at(108.3)).len();
    assert!(shown > 1);
    let last = timeline.visible_shapes(at(108.3)).last().map(|v| v.track.id.clone()).unwrap();
    timeline.shapes.retain(|t| t.id != last);
    let one_less = render(&timeline, &files, Layout::Presentation, at(108.3));
    assert!(mismatched("svg22_slide2_annotations", &one_less) > common::MAX_MISMATCHED, "without {last}");
}

#[test]
fn missing_slide_image_gives_a_placeholder_and_a_warning() {
    let mut files = svg22_files();
    files.retain(|k, _| !k.ends_with("slide-1.png"));
    let (timeline, _) = parse(&files);
    let mut r = FrameRenderer::new(&timeline, &files, Areas::resolve(Layout::Presentation, Size::HD, false)).unwrap();
    let frame = r.render(Time::from_millis(3_000)).clone();
    assert_eq!(r.warnings().len(), 1, "{:?}", r.warnings());
    assert!(r.warnings()[0].contains("slide-1.png"));
    check_golden("svg22_missing_slide", &frame);
}

/// Every SVG-era tool in one hand-made `shapes.svg`, with accented text and a poll chart.
#[test]
fn every_svg_tool_and_accents() {
    let pid = "p";
    let shapes = format!(
        r##"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" viewBox="0 0 800 600">
<image id="image1" class="slide" in="0.0" out="10.0" xlink:href="presentation/{pid}/slide-1.png" width="1600" height="900" x="0" y="0"/>
<g class="canvas" id="canvas1" image="image1">
<g class="shape" timestamp="1.0" undo="-1" shape="image1-pencil1" style="stroke:#ff0000;stroke-linecap:round;stroke-linejoin:round;stroke-width:8;fill:none"><path d="M100 100L160 140L220 110L300 180Q340 220 380 160"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-pencil2" style="stroke:#0000ff;stroke-width:12;fill:#0000ff"><circle cx="450" cy="120" r="12"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-line3" style="stroke:#00aa00;stroke-width:10;fill:none;stroke-linecap:butt"><line x1="520" y1="100" x2="800" y2="220"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-rect4" style="stroke:#000000;stroke-width:6;fill:none;stroke-linejoin:miter"><path d="M100 300L400 300L400 500L100 500Z"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-ellipse5" style="stroke:#8800ff;stroke-width:6;fill:none"><path d="M500 400A150 100 0 0 1 650 300A150 100 0 0 1 800 400A150 100 0 0 1 650 500A150 100 0 0 1 500 400Z"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-triangle6" style="stroke:#ff8800;stroke-width:6;fill:none;stroke-linejoin:miter"><path d="M1000 300L1150 520L850 520Z"/></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-text7" style="color:#0000ff;word-wrap:break-word;font-family:Arial;font-size:40px"><switch><foreignObject width="600" height="200" x="100" y="600"><p xmlns="http://www.w3.org/1999/xhtml" style="margin:0;padding:0">Élève : ça déçoit « à peine » — où ?<br/>Œuvre n°2, x² + y²</p></foreignObject></switch></g>
<g class="shape" timestamp="1.0" undo="-1" shape="image1-poll8" style=""><image xlink:href="presentation/{pid}/poll_result1.svg" x="1000" y="580" width="500" height="280"/></g>
<g class="shape" timestamp="1.0" undo="2.0" shape="image1-line9" style="stroke:#ff0000;stroke-width:40"><line x1="0" y1="0" x2="1600" y2="900"/></g>
</g>
</svg>"##
    );
    let poll = r##"<svg xmlns="http://www.w3.org/2000/svg" width="500" height="280"><rect width="500" height="280" fill="#ffffff" stroke="#333"/><rect x="20" y="40" width="300" height="60" fill="#4a7bd8"/><rect x="20" y="150" width="120" height="60" fill="#4a7bd8"/></svg>"##;
    let files: BTreeMap<String, Vec<u8>> = [
        ("shapes.svg".to_owned(), shapes.into_bytes()),
        (format!("presentation/{pid}/slide-1.png"), grid_png(1600, 900, 1)),
        (format!("presentation/{pid}/poll_result1.svg"), poll.as_bytes().to_vec()),
    ]
    .into();
    let (timeline, warnings) = parse(&files);
    assert!(warnings.iter().all(|w| w.file == "metadata.xml"), "{warnings:?}");
    assert_eq!(timeline.visible_shapes(Time::from_millis(5_000)).len(), 8);
    check_golden("svg_every_tool", &render(&timeline, &files, Layout::Presentation, Time::from_millis(5_000)));
}

fn tldraw_files(dir: &str, slides: &[(&str, u32, u32)]) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> =
        ["shapes.svg", "tldraw.json", "panzooms.xml", "cursor.xml", "deskshare.xml"]
            .iter()
            .filter(|n| common::crate_dir().join("../bbb-presentation/tests/fixtures").join(dir).join(n).exists())
            .map(|n| (n.to_string(), fixture(&format!("{dir}/{n}"))))
            .collect();
    for (href, w, h) in slides {
        files.insert(href.to_string(), grid_svg(*w, *h, "Présentation déjà vue"));
    }
    files
}

#[test]
fn tldraw_26_frames() {
    let pid = "bd5a59a3f61d1ec7402cf9105a090e84f867421f-1684349961676";
    let s1 = format!("presentation/{pid}/svgs/slide1.svg");
    let s2 = format!("presentation/{pid}/svgs/slide2.svg");
    let files = tldraw_files("tldraw26", &[(&s1, 1920, 1080), (&s2, 1920, 1080)]);
    let (timeline, _) = parse(&files);
    let at = |s: f64| Time::from_secs_f64(s).unwrap();
    check_golden("tldraw26_shapes", &render(&timeline, &files, Layout::Presentation, at(7.9)));
    check_golden("tldraw26_zoom", &render(&timeline, &files, Layout::Presentation, at(8.5)));
    check_golden("tldraw26_cursor", &render(&timeline, &files, Layout::Presentation, at(1.55)));
}

#[test]
fn tldraw_30_frames() {
    let pid = "0c4e1d7a5b9f3e2d8c6a4b2e0f1d3c5b7a9e8f6d-1712345678901";
    let s1 = format!("presentation/{pid}/svgs/slide1.svg");
    let files = tldraw_files("tldraw30", &[(&s1, 1440, 1080)]);
    let (timeline, _) = parse(&files);
    let at = |s: f64| Time::from_secs_f64(s).unwrap();
    check_golden("tldraw30_shapes", &render(&timeline, &files, Layout::Presentation, at(9.0)));
    check_golden("tldraw30_zoom_cursor", &render(&timeline, &files, Layout::Presentation, at(12.0)));
    check_golden("tldraw30_deskshare", &render(&timeline, &files, Layout::Presentation, at(35.0)));
}
