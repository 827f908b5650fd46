//! The demo server's generator writes BBB-2.3-style files from a ground-truth `Script`; parsing those files
//! must give that script back: slide per showing, shape revisions and undos, views, cursor, deskshare, chat.

use std::collections::BTreeMap;

use bbb_presentation::{Geometry, PathSegment, Point, ShapeKind, SlideContent, Time, parse};
use migrate_demo::catalogue::{CatalogueOptions, generate};
use migrate_demo::published::{self, PublishedFile, Script};

fn ms(tenths: u64) -> Time {
    Time::from_millis(tenths * 100)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-4
}

fn files(demo: &migrate_demo::recording::DemoRecording) -> BTreeMap<String, Vec<u8>> {
    published::presentation_files(demo)
        .into_iter()
        .filter(|p| p.ends_with(".xml") || p.ends_with(".svg") || p.ends_with(".json"))
        .filter_map(|p| match published::presentation_file(demo, &p)? {
            PublishedFile::Bytes { body, .. } => Some((p, body)),
            PublishedFile::Media(_) => None,
        })
        .collect()
}

#[test]
fn parsing_the_demo_files_gives_the_script_back() {
    let demos = generate(&CatalogueOptions::new(40, "http://127.0.0.1:1/"));
    let mut shapes_seen = 0;
    let mut recordings_seen = 0;
    let mut undos_seen = 0;
    for demo in &demos {
        let files = files(demo);
        // Recordings without a presentation format have no playback section to compare with.
        if !String::from_utf8_lossy(&files["metadata.xml"]).contains("<duration>") {
            continue;
        }
        let script = Script::of(demo);
        let (t, warnings) = parse(&files);
        let name = &demo.recording.record_id;
        assert!(warnings.is_empty(), "{name}: {warnings:#?}");
        recordings_seen += 1;
        assert_eq!(t.duration, Time::from_millis(demo.duration_ms), "{name}");
        assert_eq!(t.info.record_id.as_deref(), Some(name.as_str()));

        // One slide showing per script showing.
        assert_eq!(t.slides.len(), script.showings.len(), "{name}");
        for (i, (slide, showing)) in t.slides.iter().zip(&script.showings).enumerate() {
            assert_eq!((slide.start, slide.end), (ms(showing.in_tenths), ms(showing.out_tenths)), "{name} #{i}");
            assert_eq!(slide.image_id as usize, i + 1);
            match showing.slide {
                Some(n) => assert!(
                    matches!(&slide.content, SlideContent::Page { number, .. } if *number == n),
                    "{name} #{i}: {:?}",
                    slide.content
                ),
                None => assert_eq!(slide.content, SlideContent::Deskshare),
            }
            assert_eq!((slide.width, slide.height), (1600.0, 900.0));

            // Every shape with every revision time and its undo.
            let tracks: Vec<_> = t.shapes.iter().filter(|s| s.image_id == slide.image_id).collect();
            assert_eq!(tracks.len(), showing.shapes.len(), "{name} #{i}");
            for (number, shape) in showing.shapes.iter().enumerate() {
                let suffix = format!("{}", number + 1);
                let track = tracks
                    .iter()
                    .find(|tr| tr.id.starts_with(&format!("image{}-", i + 1)) && tr.id.ends_with(&suffix))
                    .filter(|tr| tr.revisions.len() == shape.revisions.len())
                    .unwrap_or_else(|| panic!("{name} #{i}: shape {number} not found"));
                shapes_seen += 1;
                let kind = match shape.kind {
                    published::ShapeKind::Pencil => ShapeKind::Pencil,
                    published::ShapeKind::Line => ShapeKind::Line,
                    published::ShapeKind::Rectangle => ShapeKind::Rectangle,
                    published::ShapeKind::Ellipse => ShapeKind::Ellipse,
                    published::ShapeKind::Triangle => ShapeKind::Triangle,
                    published::ShapeKind::Text => ShapeKind::Text,
                };
                for ((at, geometry), revision) in shape.revisions.iter().zip(&track.revisions) {
                    assert_eq!(revision.at, ms(*at), "{name} {}", track.id);
                    assert_eq!(revision.undo, shape.undo_tenths.map(ms), "{name} {}", track.id);
                    assert_eq!(revision.shape.kind, kind, "{name} {}", track.id);
                    check_geometry(geometry, &revision.shape.geometry, &track.id);
                }
                if let Some(undo) = shape.undo_tenths {
                    undos_seen += 1;
                    assert!(track.at(ms(undo)).is_none(), "{name} {}: hidden at its undo", track.id);
                }
                let (last_at, _) = shape.revisions.last().unwrap();
                if shape.undo_tenths.is_none_or(|u| u > *last_at) && *last_at < showing.out_tenths {
                    let visible = t.visible_shapes(ms(*last_at));
                    assert!(visible.iter().any(|v| v.track.id == track.id), "{name} {}", track.id);
                }
            }
        }

        // Views, cursor, deskshare, chat.
        assert_eq!(t.views.len(), script.views.len(), "{name}");
        for (v, s) in t.views.iter().zip(&script.views) {
            assert_eq!(v.at, ms(s.at_tenths));
            assert!(close(v.view.x, s.x) && close(v.view.y, s.y), "{name}: {v:?} vs {s:?}");
            assert!(close(v.view.width, s.width) && close(v.view.height, s.height), "{name}: {v:?} vs {s:?}");
        }
        assert_eq!(t.cursor.len(), script.cursor.len(), "{name}");
        for (c, (at, position)) in t.cursor.iter().zip(&script.cursor) {
            assert_eq!(c.at, ms(*at));
            assert_eq!(c.position.map(|p| (p.x, p.y)), *position, "{name}");
        }
        let desk: Vec<(Time, Time)> = t.deskshare.iter().map(|d| (d.start, d.end)).collect();
        let expected: Vec<(Time, Time)> = script.deskshares.iter().map(|(a, b)| (ms(*a), ms(*b))).collect();
        assert_eq!(desk, expected, "{name}");
        assert_eq!(t.chat.len(), script.chat.len());
        for (c, s) in t.chat.iter().zip(&script.chat) {
            assert_eq!((c.at, c.sender.as_str(), c.message.as_str()), (ms(s.at_tenths), &*s.sender, &*s.message));
        }

        // The slide layer changes at every showing start and every zoom; the cursor is elsewhere.
        let points = t.change_points();
        for s in &script.showings {
            assert!(points.contains(&ms(s.in_tenths)), "{name}");
        }
        for pair in points.windows(2) {
            let last = Time::from_millis(pair[1].as_millis() - 1);
            assert_eq!(t.picture_at(pair[0]), t.picture_at(last), "{name}: {}..{}", pair[0], pair[1]);
        }
    }
    assert!(recordings_seen > 20, "{recordings_seen} recordings compared");
    assert!(shapes_seen > 50, "the catalogue draws shapes ({shapes_seen})");
    assert!(undos_seen > 3, "and undoes some ({undos_seen})");
}

fn check_geometry(expected: &published::Geometry, got: &Geometry, id: &str) {
    match (expected, got) {
        (published::Geometry::Points(points), Geometry::Path(segments)) => {
            assert_eq!(segments.len(), points.len(), "{id}");
            let ends: Vec<Point> = segments
                .iter()
                .filter_map(|s| match s {
                    PathSegment::MoveTo(p) | PathSegment::LineTo(p) => Some(*p),
                    _ => None,
                })
                .collect();
            for (p, q) in points.iter().zip(&ends) {
                assert!(close(p.0, q.x) && close(p.1, q.y), "{id}: {p:?} vs {q:?}");
            }
        }
        (published::Geometry::Drag { from, to }, Geometry::Line { from: f, to: t }) => {
            assert!(close(from.0, f.x) && close(from.1, f.y) && close(to.0, t.x) && close(to.1, t.y), "{id}");
        }
        (published::Geometry::Drag { .. }, Geometry::Path(segments)) => {
            assert!(segments.len() >= 4, "{id}: {segments:?}");
            assert_eq!(segments.last(), Some(&PathSegment::Close), "{id}");
        }
        (
            published::Geometry::Text { x, y, width, text, .. },
            Geometry::TextBox { x: gx, y: gy, width: gw, lines, .. },
        ) => {
            assert!(close(*x, *gx) && close(*y, *gy) && close(*width, *gw), "{id}");
            let expected: Vec<String> = if text.is_empty() { Vec::new() } else { vec![text.clone()] };
            assert_eq!(lines, &expected, "{id}");
        }
        (e, g) => panic!("{id}: {e:?} parsed as {g:?}"),
    }
}
