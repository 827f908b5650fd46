//! Shared by the integration tests: demo recordings as file maps, golden-image comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use migrate_demo::published::{PublishedFile, Script, presentation_file, presentation_files};
use migrate_demo::{CatalogueOptions, DemoRecording, generate};
use tiny_skia::Pixmap;

/// A demo recording with everything a renderer test wants: webcam, screen sharing, several slides, and
/// (found by trying seeds, deterministic) every drawing tool, a zoom and accented text within `duration_ms`.
pub fn rich_demo(duration_ms: u64) -> DemoRecording {
    let base = generate(&CatalogueOptions::new(1, "http://127.0.0.1:1/")).remove(0);
    for seed in 1..2000 {
        let demo = DemoRecording {
            seed,
            duration_ms,
            slides: 4,
            has_webcam: true,
            has_deskshare: true,
            has_video_format: false,
            ..base.clone()
        };
        let script = Script::of(&demo);
        let kinds: std::collections::BTreeSet<String> =
            script.showings.iter().flat_map(|s| s.shapes.iter().map(|x| format!("{:?}", x.kind))).collect();
        let accented = script.showings.iter().flat_map(|s| &s.shapes).any(|x| {
            matches!(x.revisions.last(), Some((_, migrate_demo::published::Geometry::Text { text, .. })) if !text.is_ascii())
        });
        let zoom = script.views.iter().any(|v| v.width < 1600.0);
        if kinds.len() == 6 && accented && zoom && !script.deskshares.is_empty() {
            return demo;
        }
    }
    panic!("no seed gives a recording with every tool");
}

/// Every non-media published file of `demo`.
pub fn demo_files(demo: &DemoRecording) -> BTreeMap<String, Vec<u8>> {
    presentation_files(demo)
        .into_iter()
        .filter_map(|path| match presentation_file(demo, &path)? {
            PublishedFile::Bytes { body, .. } => Some((path, body)),
            PublishedFile::Media(_) => None,
        })
        .collect()
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The share of pixels that may differ from the reference by more than ±8 on a channel: 46 at 720p, room for
/// rounding at shape edges, too few to hide the cursor dot (about 110 pixels) or a short annotation stroke.
pub const MAX_MISMATCHED: f64 = 1.0 / 20_000.0;

/// Compares with `tests/golden/<name>.png` (see [`MAX_MISMATCHED`]). `BLESS=1` rewrites the reference. The
/// actual picture is also written to `target/golden-out/` for a person to look at.
pub fn check_golden(name: &str, actual: &Pixmap) {
    let out_dir = crate_dir().join("../../target/golden-out");
    let _ = std::fs::create_dir_all(&out_dir);
    let png = actual.encode_png().unwrap();
    let _ = std::fs::write(out_dir.join(format!("{name}.png")), &png);
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(golden_path(name), &png).unwrap();
        return;
    }
    let mismatched = 1.0 - similarity(&golden(name), actual);
    assert!(
        mismatched <= MAX_MISMATCHED,
        "{name}: {:.3}% of pixels differ from {} (at most {:.3}%)",
        mismatched * 100.0,
        golden_path(name).display(),
        MAX_MISMATCHED * 100.0
    );
}

fn golden_path(name: &str) -> PathBuf {
    crate_dir().join("tests/golden").join(format!("{name}.png"))
}

/// The reference picture `tests/golden/<name>.png`.
pub fn golden(name: &str) -> Pixmap {
    let path = golden_path(name);
    Pixmap::load_png(&path).unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()))
}

/// Share of pixels whose channels are all within ±8.
pub fn similarity(a: &Pixmap, b: &Pixmap) -> f64 {
    similarity_within(a, b, 8)
}

pub fn similarity_within(a: &Pixmap, b: &Pixmap, tolerance: u8) -> f64 {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()), "sizes differ");
    let close = a
        .data()
        .chunks_exact(4)
        .zip(b.data().chunks_exact(4))
        .filter(|(p, q)| p.iter().zip(q.iter()).all(|(x, y)| x.abs_diff(*y) <= tolerance))
        .count();
    close as f64 / (a.width() as f64 * a.height() as f64)
}

pub fn fixture(path: &str) -> Vec<u8> {
    let full = crate_dir().join("../bbb-presentation/tests/fixtures").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A stand-in slide image for fixtures that come without theirs: white with a light grid every 100 px and a
/// grey number block, so that pan/zoom and placement can be seen.
pub fn grid_png(width: u32, height: u32, number: u32) -> Vec<u8> {
    use tiny_skia::{Color, Paint, PathBuilder, Rect, Stroke, Transform};
    let mut p = Pixmap::new(width, height).unwrap();
    p.fill(Color::WHITE);
    let mut paint = Paint::default();
    paint.set_color_rgba8(200, 210, 230, 255);
    let mut pb = PathBuilder::new();
    for x in (0..width).step_by(100) {
        pb.move_to(x as f32, 0.0);
        pb.line_to(x as f32, height as f32);
    }
    for y in (0..height).step_by(100) {
        pb.move_to(0.0, y as f32);
        pb.line_to(width as f32, y as f32);
    }
    let path = pb.finish().unwrap();
    p.stroke_path(&path, &paint, &Stroke { width: 2.0, ..Stroke::default() }, Transform::identity(), None);
    paint.set_color_rgba8(90, 90, 90, 255);
    for i in 0..number {
        let r = Rect::from_xywh(40.0 + i as f32 * 60.0, 40.0, 40.0, 40.0).unwrap();
        p.fill_rect(r, &paint, Transform::identity(), None);
    }
    p.encode_png().unwrap()
}

/// The same as an SVG slide (BBB 2.6+ publishes `svgs/slideN.svg`), with a text line to exercise fonts.
pub fn grid_svg(width: u32, height: u32, title: &str) -> Vec<u8> {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#fbfbf5\"/>"
    );
    for x in (0..width).step_by(120) {
        s.push_str(&format!(
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{height}\" stroke=\"#d0d8e8\" stroke-width=\"2\"/>"
        ));
    }
    for y in (0..height).step_by(120) {
        s.push_str(&format!(
            "<line x1=\"0\" y1=\"{y}\" x2=\"{width}\" y2=\"{y}\" stroke=\"#d0d8e8\" stroke-width=\"2\"/>"
        ));
    }
    s.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"110\" fill=\"#3a6ea5\"/>\
         <text x=\"40\" y=\"80\" font-size=\"60\" fill=\"#ffffff\" font-family=\"sans-serif\">{title}</text></svg>"
    ));
    s.into_bytes()
}

pub fn out_dir(name: &str) -> PathBuf {
    let dir = crate_dir().join("../../target/bbb-render-tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn media_cache() -> migrate_demo::media::MediaCache {
    migrate_demo::media::MediaCache::new(crate_dir().join("../../target/bbb-render-media"), "ffmpeg")
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
