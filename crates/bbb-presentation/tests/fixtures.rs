//! The parser against real BBB 2.2 files and hand-made 2.6 / 3.0 files (see `fixtures/SOURCES.md`).

use std::collections::BTreeMap;
use std::path::Path;

use bbb_presentation::{
    AnnotationFormat, Color, Dash, Fill, Geometry, Point, ShapeKind, SizeStep, SlideContent, Space, Time, Timeline,
    Warning, parse,
};

fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A recording's files: `(published name, fixture path)`.
fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    list.iter().map(|(name, path)| (name.to_string(), fixture(path))).collect()
}

fn s(seconds: f64) -> Time {
    Time::from_secs_f64(seconds).unwrap()
}

/// The 2.2 files; `metadata.xml` is left out because the fixture's belongs to another, 9.6 s long recording.
fn svg22(shapes: &str) -> (Timeline, Vec<Warning>) {
    parse(&files(&[
        ("shapes.svg", shapes),
        ("panzooms.xml", "svg22/panzooms.xml"),
        ("cursor.xml", "svg22/cursor.xml"),
        ("deskshare.xml", "svg22/deskshare.xml"),
        ("captions.json", "svg22/captions.json"),
        ("slides_new.xml", "extras/slides_new.xml"),
        ("polls.json", "extras/polls.json"),
        ("external_videos.json", "extras/external_videos.json"),
        ("presentation_text.json", "extras/presentation_text.json"),
    ]))
}

fn count_kind(t: &Timeline, kind: &ShapeKind) -> usize {
    t.shapes.iter().filter(|s| &s.revisions[0].shape.kind == kind).count()
}

#[test]
fn multislide_showings_and_shapes() {
    let (t, warnings) = svg22("svg22/multislide.svg");
    let shape_warnings: Vec<_> = warnings.iter().filter(|w| w.file == "shapes.svg").collect();
    assert!(shape_warnings.is_empty(), "{shape_warnings:#?}");
    assert_eq!(t.format, AnnotationFormat::Svg);
    assert_eq!(t.slides.len(), 4);
    let starts: Vec<u64> = t.slides.iter().map(|s| s.start.as_millis()).collect();
    assert_eq!(starts, [0, 6_200, 108_400, 116_000]);
    assert_eq!(t.slides[3].end, s(253.2));
    assert_eq!(t.slides[1].content, t.slides[3].content, "slide 2 is revisited");
    assert_eq!(
        t.slides[1].content,
        SlideContent::Page { presentation: "f317f2ac335e836cba0b100d1cca01c8497dd885-1598187947041".into(), number: 2 }
    );
    assert_eq!((t.slides[0].width, t.slides[0].height), (1600.0, 900.0));
    assert_eq!(t.slides.iter().map(|s| s.image_id).collect::<Vec<_>>(), [1, 2, 3, 4]);

    let revisions: usize = t.shapes.iter().map(|s| s.revisions.len()).sum();
    assert_eq!(revisions, 83);
    // Shape ids per kind, as counted from the `shape` attributes of the file.
    assert_eq!(count_kind(&t, &ShapeKind::Ellipse), 2);
    assert_eq!(count_kind(&t, &ShapeKind::Line), 2);
    assert_eq!(count_kind(&t, &ShapeKind::Rectangle), 2);
    assert_eq!(count_kind(&t, &ShapeKind::Triangle), 2);
    assert_eq!(count_kind(&t, &ShapeKind::Text), t.shapes.iter().filter(|s| s.id.contains("-text")).count());
    assert_eq!(count_kind(&t, &ShapeKind::Pencil), t.shapes.iter().filter(|s| s.id.contains("-pencil")).count());
    assert_eq!(t.shapes.iter().filter(|s| s.image_id == 4).count(), 6, "one of each kind on the revisit");
}

#[test]
fn newest_revision_wins_at_each_instant() {
    let (t, _) = svg22("svg22/multislide.svg");
    let line9 = |at: f64| {
        let visible = t.visible_shapes(s(at));
        let line = visible.iter().find(|v| v.track.id == "image2-line9").map(|v| v.revision.shape.geometry.clone());
        (visible.len(), line)
    };
    let (_, geometry) = line9(33.05);
    assert_eq!(
        geometry,
        Some(Geometry::Line { from: Point::new(436.85725, 285.21383), to: Point::new(585.23193, 396.49483) })
    );
    assert_eq!(line9(32.69).1, None, "not drawn yet");
    // One revision per shape, never two of the same id.
    for at in [20.0, 33.05, 60.0, 107.9, 200.0] {
        let visible = t.visible_shapes(s(at));
        let mut ids: Vec<&str> = visible.iter().map(|v| v.track.id.as_str()).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "at {at}");
    }
    // Slide 3 has no annotation; the revisit shows its own canvas (image4).
    assert!(t.visible_shapes(s(110.0)).is_empty());
    assert!(t.visible_shapes(s(250.0)).iter().all(|v| v.track.image_id == 4));
    // A one-point pencil is a dot, then a path once it grows.
    let pencil13 = t.shapes.iter().find(|s| s.id == "image2-pencil13").unwrap();
    assert!(matches!(pencil13.at(s(54.4)).unwrap().shape.geometry, Geometry::Dot { radius: 1.95228, .. }));
    assert!(matches!(pencil13.at(s(54.6)).unwrap().shape.geometry, Geometry::Path(_)));
    let style = &pencil13.at(s(54.6)).unwrap().shape.style;
    assert_eq!((style.color.clone(), style.stroke_width), (Some(Color::Rgb(255, 0, 0)), Some(3.90456)));
}

#[test]
fn text_boxes_keep_their_lines() {
    let (t, _) = svg22("svg22/multislide.svg");
    let texts: Vec<_> = t
        .shapes
        .iter()
        .filter_map(|s| match &s.revisions.last()?.shape.geometry {
            Geometry::TextBox { lines, width, .. } => Some((lines.clone(), *width)),
            _ => None,
        })
        .collect();
    assert!(!texts.is_empty());
    assert!(texts.iter().any(|(lines, _)| lines.iter().any(|l| !l.is_empty())), "{texts:?}");
    let first = &t.shapes.iter().find(|s| s.id == "image2-text1").unwrap().revisions[0].shape;
    assert!(matches!(&first.geometry, Geometry::TextBox { lines, .. } if lines.is_empty()));
    assert_eq!(first.style.font_size, Some(39.04555));
}

#[test]
fn undo_hides_a_shape() {
    let svg = String::from_utf8(fixture("svg22/multishape.svg")).unwrap().replacen(
        "timestamp=\"28.3\" undo=\"-1\"",
        "timestamp=\"28.3\" undo=\"30.0\"",
        1,
    );
    let mut map = BTreeMap::new();
    map.insert("shapes.svg".into(), svg.into_bytes());
    let (t, _) = parse(&map);
    assert_eq!(t.visible_shapes(s(29.0)).len(), 1);
    assert!(t.visible_shapes(s(30.0)).is_empty(), "hidden at its undo time");
    assert!(t.visible_shapes(s(33.0)).is_empty());
    assert!(t.change_points().contains(&s(30.0)));
}

#[test]
fn broken_style_is_repaired_with_a_warning() {
    let (t, warnings) = svg22("svg22/multishape.svg");
    let track = &t.shapes[0];
    assert_eq!(track.revisions.len(), 3);
    let at = |x: f64| match &track.at(s(x)).unwrap().shape.geometry {
        Geometry::Line { to, .. } => to.x,
        other => panic!("{other:?}"),
    };
    assert_eq!((at(23.0), at(26.0), at(34.0)), (20.0, 30.0, 40.0));
    let style = &track.revisions[0].shape.style;
    assert_eq!(style.color, Some(Color::Rgb(0, 0x88, 0xff)));
    assert_eq!(style.stroke_width, Some(5.0));
    assert!(warnings.iter().any(|w| w.file == "shapes.svg" && w.reason.contains("missing `;`")), "{warnings:#?}");
}

#[test]
fn truncated_and_empty_files_warn_without_panicking() {
    let (t, warnings) = svg22("svg22/invalid.svg");
    assert!(t.slides.is_empty());
    let w = warnings.iter().find(|w| w.file == "shapes.svg").expect("a shapes.svg warning");
    assert!(w.reason.contains("not well-formed"), "{w}");
    // The other files still count.
    assert_eq!(t.deskshare.len(), 2);
    assert_eq!(t.duration, s(153.8), "no metadata: the latest event (a zoom)");

    // A copy cut off in the middle keeps what came before the cut.
    let whole = fixture("svg22/multislide.svg");
    let mut map = BTreeMap::new();
    map.insert("shapes.svg".to_string(), whole[..whole.len() / 2].to_vec());
    let (t, warnings) = parse(&map);
    assert!(warnings.iter().any(|w| w.reason.contains("cut off")), "{warnings:#?}");
    assert_eq!(t.slides.len(), 2);
    assert!(t.shapes.len() > 5 && t.shapes.iter().all(|s| s.image_id == 2), "{}", t.shapes.len());

    let (t, _) = svg22("svg22/empty.svg");
    assert!(t.slides.is_empty() && t.shapes.is_empty());
    let (t, _) = svg22("svg22/logo.svg");
    assert_eq!(t.slides.len(), 1);
    assert_eq!(t.slides[0].content, SlideContent::Logo);
    assert!(t.chapters.is_empty(), "the logo is no chapter");

    let (t, warnings) = parse(&BTreeMap::<String, Vec<u8>>::new());
    assert_eq!(t.duration, Time::ZERO);
    assert_eq!(t.change_points(), [Time::ZERO]);
    assert!(warnings.iter().any(|w| w.file == "metadata.xml"));
}

#[test]
fn metadata_is_read() {
    let (t, warnings) =
        parse(&files(&[("metadata.xml", "svg22/metadata.xml"), ("shapes.svg", "svg22/multislide.svg")]));
    assert!(
        warnings.iter().any(|w| w.file == "metadata.xml" && w.reason.contains("253.200s")),
        "events past the duration are reported: {warnings:#?}"
    );
    assert!(t.change_points().iter().all(|p| *p < Time::from_millis(9566)));
    let info = &t.info;
    assert_eq!(info.record_id.as_deref(), Some("9a9b6536a10b10017f7e849d30a026809852d01f-1598364581253"));
    assert_eq!(info.meeting_name.as_deref(), Some("Featuredemo"));
    assert_eq!(info.meeting_id.as_deref(), Some("0v1xkcrre2la0vafauyepzfei16x2fkuhcfydvps"));
    assert_eq!((info.start_time, info.end_time), (Some(1598364581253), Some(1598364606662)));
    assert_eq!(info.duration, Some(Time::from_millis(9566)));
    assert_eq!(info.meta.get("bbb-origin").map(String::as_str), Some("Greenlight"));
    assert_eq!(info.bbb_version, None, "bbb-origin-version is the front-end's version, not BBB's");
    assert_eq!(t.duration, Time::from_millis(9566));
}

#[test]
fn views_cursor_deskshare_and_side_files() {
    let (t, _) = svg22("svg22/multislide.svg");
    assert_eq!(t.view_space, Space::Slide);
    assert_eq!(t.views.len(), 9);
    let v = t.view_at(s(151.3)).unwrap();
    assert_eq!((v.x, v.y, v.width, v.height), (232.23199, 94.91735, 1280.0, 720.0));
    assert_eq!(t.view_at(s(0.0)).unwrap().x, 0.0, "-0.0 reads as 0");
    assert!(t.views.windows(2).all(|w| w[0].at < w[1].at));

    assert_eq!(t.cursor_space, Space::Slide);
    assert_eq!(t.cursor_at(s(0.5)), None, "-1 -1 is hidden");
    assert_eq!(t.cursor_at(s(1.0)), Some(Point::new(0.45606, 0.42537)));
    assert_eq!(t.cursor_at(s(5.0)), None);
    let page = t.cursor_in_page_at(s(1.0)).unwrap();
    assert!((page.x - 0.45606 * 1600.0).abs() < 1e-6 && (page.y - 0.42537 * 900.0).abs() < 1e-6);
    let cursor_points = t.cursor_points();
    assert!(cursor_points.contains(&s(1.0)) && cursor_points.contains(&s(3.1)));

    assert_eq!(t.deskshare.len(), 2);
    assert_eq!(t.deskshare_at(s(15.0)).map(|d| (d.video_width, d.video_height)), Some((Some(720), Some(421))));
    assert_eq!(t.deskshare_at(s(20.0)), None, "stop is exclusive");
    assert!(t.deskshare_at(s(35.0)).is_some());

    assert_eq!(t.captions.len(), 2);
    assert_eq!(t.captions[1].vtt_path(), "caption_en.vtt");

    assert_eq!(t.chat.len(), 2, "the NaN line is dropped");
    assert_eq!(t.chat[0].sender, "Hugo Bernard", "sorted by time");
    assert_eq!(t.chat[0].message, "voir https://example.org/cours & l'exemple");
    assert!(t.chat[0].moderator && t.chat[0].emphasized);
    assert_eq!(t.chat[0].cleared, Some(s(40.0)));
    assert_eq!(t.chat[1].message, "Bonjour à tous !");

    assert_eq!(t.polls.len(), 1);
    assert_eq!(t.polls[0].answers[0].votes, 4);
    assert_eq!(t.external_videos[0].at, s(61.0));

    let titles: Vec<&str> = t.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["Introduction", "Chapitre 2 : les ensembles", "Slide 3", "Chapitre 2 : les ensembles"]);
}

#[test]
fn change_points_separate_the_slide_layer_from_the_cursor() {
    let (t, _) = svg22("svg22/multislide.svg");
    let points = t.change_points();
    assert_eq!(points[0], Time::ZERO);
    assert!(points.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    for slide in &t.slides {
        assert!(points.contains(&slide.start));
    }
    assert!(points.contains(&s(33.0)), "a line9 revision");
    assert!(points.contains(&s(151.2)), "a zoom");
    assert!(!points.contains(&s(1.0)), "a cursor move only");
    // Between two change points the slide layer is constant.
    for pair in points.windows(2).step_by(7) {
        let (a, b) = (pair[0], pair[1]);
        let mid = Time::from_millis((a.as_millis() + b.as_millis()) / 2);
        assert_eq!(t.picture_at(a), t.picture_at(mid), "{a}..{b}");
        assert_eq!(t.picture_at(a), t.picture_at(Time::from_millis(b.as_millis() - 1)), "{a}..{b}");
    }
}

#[test]
fn tldraw_v1_of_bbb_2_6() {
    let (t, warnings) = parse(&files(&[
        ("shapes.svg", "tldraw26/shapes.svg"),
        ("tldraw.json", "tldraw26/tldraw.json"),
        ("panzooms.xml", "tldraw26/panzooms.xml"),
        ("cursor.xml", "tldraw26/cursor.xml"),
    ]));
    assert_eq!(t.format, AnnotationFormat::TldrawV1 { before_2_6_1: false });
    assert_eq!(t.info.bbb_version.as_deref(), Some("2.6.1"));
    assert_eq!(t.format.tldraw_page_size(), Some((1440.0, 1080.0)));
    assert_eq!(t.slides.len(), 2);
    assert_eq!(
        t.slides[0].content,
        SlideContent::Page { presentation: "bd5a59a3f61d1ec7402cf9105a090e84f867421f-1684349961676".into(), number: 1 }
    );
    assert_eq!(t.duration, s(20.0), "no metadata: the latest event");
    let video = warnings.iter().find(|w| w.reason.contains("`video`")).expect("unknown type warned");
    assert_eq!((video.file.as_str(), video.element.as_str()), ("tldraw.json", "[\"1\"].shapes[9]"));

    let kinds: Vec<ShapeKind> = t.shapes.iter().map(|s| s.revisions[0].shape.kind.clone()).collect();
    use ShapeKind::*;
    assert_eq!(kinds, [Pencil, Rectangle, Ellipse, Triangle, Arrow, Text, Sticky, Poll, Line]);

    let draw = &t.shapes[0];
    assert_eq!(draw.revisions.len(), 2);
    let Geometry::Freehand { strokes, complete, .. } = &draw.at(s(2.05)).unwrap().shape.geometry else { panic!() };
    assert_eq!((strokes[0].len(), *complete), (2, false));
    let Geometry::Freehand { strokes, .. } = &draw.at(s(5.0)).unwrap().shape.geometry else { panic!() };
    assert_eq!(strokes[0].len(), 4);
    assert_eq!(draw.revisions[1].shape.origin, Point::new(100.0, 120.0));
    assert!(draw.at(s(9.0)).is_none(), "undone at 9.0");

    let rect = &t.shapes[1].revisions[0].shape;
    assert_eq!(rect.geometry, Geometry::Box { width: 200.0, height: 100.0, label: None });
    assert_eq!((rect.style.fill, rect.style.dash, rect.rotation), (Fill::Semi, Dash::Dashed, 0.5));
    assert_eq!(rect.style.color, Some(Color::Named("red".into())));
    let ellipse = &t.shapes[2].revisions[0].shape;
    assert_eq!(ellipse.geometry, Geometry::Box { width: 100.0, height: 50.0, label: Some("Ellipse label".into()) });
    assert_eq!(ellipse.style.size, Some(SizeStep::Large));
    let Geometry::Connector { end, head_end, bend, .. } = &t.shapes[4].revisions[0].shape.geometry else { panic!() };
    assert_eq!((end.point, head_end.as_deref(), *bend), (Point::new(300.0, 80.0), Some("arrow"), 0.2));
    let text = &t.shapes[5].revisions[0].shape;
    assert_eq!(text.geometry, Geometry::Text { text: "Bonjour\nà tous".into(), width: None });
    assert_eq!((text.style.scale, text.style.font.as_deref()), (1.5, Some("script")));
    let Geometry::Poll { label, .. } = &t.shapes[7].revisions[0].shape.geometry else { panic!() };
    assert!(label.as_deref().unwrap().starts_with("True: 1"));

    // Shapes belong to their image: slide 2 shows only its line.
    assert_eq!(t.visible_shapes(s(6.5)).len(), 8);
    let on_two: Vec<_> = t.visible_shapes(s(15.0)).iter().map(|v| v.track.id.clone()).collect();
    assert_eq!(on_two, ["l-1"]);

    // tldraw camera: origin is minus the camera point, the size scales by 1440/1920 = 0.75.
    assert_eq!(t.view_space, Space::Tldraw);
    let v = t.view_rect_at(s(9.0)).unwrap();
    assert_eq!((v.x, v.y, v.width, v.height), (120.0, 60.0, 720.0, 405.0));
    assert_eq!(t.cursor_space, Space::Tldraw);
    assert_eq!(t.cursor_in_page_at(s(1.5)), Some(Point::new(640.5, 300.25)));
    assert_eq!(t.cursor_at(s(2.5)), None);
}

#[test]
fn tldraw_v2_of_bbb_3_0() {
    let (t, warnings) = parse(&files(&[
        ("shapes.svg", "tldraw30/shapes.svg"),
        ("tldraw.json", "tldraw30/tldraw.json"),
        ("panzooms.xml", "tldraw30/panzooms.xml"),
        ("cursor.xml", "tldraw30/cursor.xml"),
        ("deskshare.xml", "tldraw30/deskshare.xml"),
    ]));
    assert_eq!(t.format, AnnotationFormat::TldrawV2);
    assert!(warnings.iter().any(|w| w.reason.contains("`bookmark`")), "{warnings:#?}");
    assert_eq!(t.slides[1].content, SlideContent::Deskshare);
    assert!(t.deskshare_at(s(31.0)).is_some());
    assert!(t.visible_shapes(s(31.0)).is_empty(), "no annotation over a screen share");

    let on_first: Vec<ShapeKind> = t.visible_shapes(s(9.0)).iter().map(|v| v.revision.shape.kind.clone()).collect();
    use ShapeKind::*;
    assert_eq!(
        on_first,
        [Pencil, Rectangle, Ellipse, Geo("star".into()), Line, Arrow, Text, Sticky, Highlighter, Poll, Frame]
    );
    let find = |id: &str, at: f64| {
        t.visible_shapes(s(at)).into_iter().find(|v| v.track.id == id).map(|v| v.revision.shape.clone())
    };
    let draw = find("shape:drawA", 9.0).unwrap();
    let Geometry::Freehand { strokes, .. } = &draw.geometry else { panic!() };
    assert_eq!(strokes.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);
    assert_eq!(draw.origin, Point::new(100.5, 200.25));
    assert!(find("shape:drawA", 20.0).is_none(), "deleted at 20.0");

    let rect = find("shape:geoRect", 9.0).unwrap();
    assert_eq!(rect.geometry, Geometry::Box { width: 200.0, height: 120.0, label: Some("Titre".into()) });
    assert_eq!((rect.style.fill, rect.style.opacity, rect.style.size), (Fill::Semi, 0.5, Some(SizeStep::Large)));
    assert_eq!(rect.style.color, Some(Color::Named("light-blue".into())));
    assert_eq!(rect.z.as_deref(), Some("a2"));

    let Geometry::Connector { start, end, middle, spline, .. } = find("shape:line1", 9.0).unwrap().geometry else {
        panic!()
    };
    assert_eq!((start.point, end.point), (Point::new(0.0, 0.0), Point::new(200.0, 50.0)));
    assert_eq!((middle, spline.as_deref()), (vec![Point::new(100.0, -30.0)], Some("line")));
    let Geometry::Connector { end, head_start, head_end, bend, .. } = find("shape:arrow1", 9.0).unwrap().geometry
    else {
        panic!()
    };
    assert_eq!(end.bound, Some(("shape:geoRect".into(), Point::new(0.5, 0.25))));
    assert_eq!((head_start, head_end.as_deref(), bend), (None, Some("arrow"), -25.5));
    assert_eq!(
        find("shape:text1", 9.0).unwrap().geometry,
        Geometry::Text { text: "Énoncé\nn°2".into(), width: Some(250.0) }
    );
    assert_eq!(
        find("shape:note1", 9.0).unwrap().geometry,
        Geometry::Sticky { text: "À retenir".into(), width: 200.0, height: 240.0 }
    );
    let Geometry::Poll { question, answers, responders, .. } = find("shape:poll1", 9.0).unwrap().geometry else {
        panic!()
    };
    assert_eq!((question.as_str(), answers.len(), answers[0].votes, responders), ("Prêts ?", 2, 2, 5));
    assert_eq!(find("shape:frame1", 9.0).unwrap().origin, Point::new(-500.0, -300.0), "outside the slide");

    // The revisit (image3) has its own copy; the rectangle changes at 50.
    let before = find("shape:geoRect", 46.0).unwrap();
    let after = find("shape:geoRect", 51.0).unwrap();
    assert_eq!((before.origin, after.origin), (Point::new(300.0, 150.0), Point::new(10.0, 10.0)));

    // Two views at the same instant: the later line wins.
    let v = t.view_rect_at(s(10.0)).unwrap();
    assert_eq!((v.x, v.y, v.width, v.height), (300.0, 150.0, 720.0, 540.0));
    assert_eq!(t.cursor_at(s(1.1)), None, "negative = hidden");
    assert_eq!(t.cursor_at(s(1.3)), Some(Point::new(720.0, 540.0)));
    let points = t.change_points();
    for at in [0.0, 2.0, 2.3, 3.0, 10.0, 20.0, 30.0, 45.0, 50.0] {
        assert!(points.contains(&s(at)), "{at} in {points:?}");
    }
}

#[test]
fn a_3_0_recording_without_tldraw_json_is_not_taken_for_2_6() {
    let (t, _) = parse(&files(&[("shapes.svg", "tldraw30/shapes.svg"), ("panzooms.xml", "tldraw30/panzooms.xml")]));
    assert_eq!(t.format, AnnotationFormat::TldrawV2);
    assert!(t.shapes.is_empty());
}

/// BBB 2.3–2.5: a slide shown twice carries both showings in one `<image>` (`in="0.0 20.0" out="10.0 30.0"`),
/// and a poll is an `<image>` of its own chart inside a shape.
#[test]
fn a_slide_shown_twice_and_a_poll_chart() {
    let shapes = r##"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" id="svgfile" viewBox="0 0 1600 900">
  <image id="image1" class="slide" in="0.0 20.0" out="10.0 30.0" xlink:href="presentation/p1/slide-1.png" width="1600" height="900" x="0" y="0" style="visibility:hidden"/>
  <image id="image2" class="slide" in="10.0" out="20.0" xlink:href="presentation/p1/slide-2.png" width="1600" height="900" x="0" y="0" style="visibility:hidden"/>
  <g class="canvas" id="canvas1" image="image1" display="none">
    <g id="image1-draw1" class="shape" timestamp="2.0" undo="-1" shape="image1-line1" style="stroke:#ff0000;stroke-width:4;visibility:hidden;fill:none"><line x1="10" y1="10" x2="200" y2="200"/></g>
    <g id="image1-draw2" class="shape" timestamp="3.0" undo="-1" shape="image1-poll1" style=""><image xlink:href="presentation/p1/poll_result1.svg" x="1000" y="580" width="500" height="280"/></g>
  </g>
</svg>"##;
    let (t, warnings) = parse(&BTreeMap::from([("shapes.svg".to_string(), shapes.as_bytes().to_vec())]));
    assert!(warnings.iter().all(|w| w.file == "metadata.xml"), "{warnings:?}");
    let showings: Vec<(u32, f64, f64)> =
        t.slides.iter().map(|s| (s.image_id, s.start.as_secs_f64(), s.end.as_secs_f64())).collect();
    assert_eq!(showings, [(1, 0.0, 10.0), (2, 10.0, 20.0), (1, 20.0, 30.0)]);
    let kinds_at =
        |at: f64| -> Vec<ShapeKind> { t.visible_shapes(s(at)).iter().map(|v| v.revision.shape.kind.clone()).collect() };
    assert_eq!(kinds_at(5.0), [ShapeKind::Line, ShapeKind::Poll]);
    assert!(kinds_at(15.0).is_empty(), "slide 2 has no annotations");
    assert_eq!(kinds_at(25.0), [ShapeKind::Line, ShapeKind::Poll], "back on slide 1, its annotations again");
    let files: Vec<&str> = t.image_files().into_iter().collect();
    assert_eq!(
        files,
        ["presentation/p1/poll_result1.svg", "presentation/p1/slide-1.png", "presentation/p1/slide-2.png"]
    );
}
