//! Shared by the fuzz targets: how one fuzz input becomes several published files, and the checks every
//! parsed timeline must pass. The stable corpus-replay tests in the parser crates split inputs the same way.

use std::collections::BTreeMap;

use bbb_presentation::{Time, Timeline};

/// The file names of the `shapes_svg` target, in the order of the input's NUL-separated parts.
pub const SHAPES_SVG_FILES: &[&str] =
    &["shapes.svg", "tldraw.json", "metadata.xml", "panzooms.xml", "cursor.xml", "deskshare.xml"];

/// The file names of the `events` target, in the order of the input's NUL-separated parts.
pub const EVENTS_FILES: &[&str] = &[
    "metadata.xml",
    "panzooms.xml",
    "cursor.xml",
    "deskshare.xml",
    "slides_new.xml",
    "captions.json",
    "external_videos.json",
    "polls.json",
    "presentation_text.json",
    "shapes.svg",
    "tldraw.json",
];

/// Splits `data` at NUL bytes into the files `names`, in order; missing parts are missing files, extra parts
/// are ignored. Empty parts are kept as empty files (a published file of size 0 is a real case).
pub fn split_files(data: &[u8], names: &[&str]) -> BTreeMap<String, Vec<u8>> {
    data.split(|&b| b == 0).zip(names).map(|(part, name)| ((*name).to_owned(), part.to_vec())).collect()
}

/// Builds the timeline from `files` and asks it what a renderer asks, checking the invariants the queries'
/// binary searches rely on.
pub fn parse_and_query(files: &BTreeMap<String, Vec<u8>>) -> Timeline {
    let (timeline, _warnings) = bbb_presentation::parse(files);
    check(&timeline);
    timeline
}

fn check(t: &Timeline) {
    for pair in t.slides.windows(2) {
        assert!(pair[0].start <= pair[1].start, "slides not sorted");
        assert!(pair[0].end <= pair[1].start, "slides overlap");
    }
    for pair in t.views.windows(2) {
        assert!(pair[0].at < pair[1].at, "views not strictly sorted");
    }
    for pair in t.cursor.windows(2) {
        assert!(pair[0].at < pair[1].at, "cursor not strictly sorted");
    }
    for pair in t.deskshare.windows(2) {
        assert!(pair[0].end <= pair[1].start, "deskshare intervals overlap");
    }
    let points = t.change_points();
    for pair in points.windows(2) {
        assert!(pair[0] < pair[1], "change points not strictly sorted");
    }
    // A sample of instants, bounded so that big inputs do not make the run quadratic.
    let step = (points.len() / 64).max(1);
    for &at in points.iter().step_by(step) {
        let _ = t.picture_at(at);
        let _ = t.cursor_in_page_at(at);
    }
    let _ = t.picture_at(t.duration);
    let _ = t.picture_at(Time::from_millis(u64::MAX));
    let cursor = t.cursor_points();
    let step = (cursor.len() / 64).max(1);
    for &at in cursor.iter().step_by(step) {
        let _ = t.cursor_in_page_at(at);
    }
    let _ = format!("{t:?}");
}

/// Whether `path` (relative to a recording's directory) stays inside it: plain components only.
pub fn stays_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with(".part")
        && !path.chars().any(|c| c == '\0' || c == '\\' || c.is_control())
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The (format, path) pairs whose content `bbb_archive::references_of` reads; the archive target picks one with
/// the input's first byte.
pub const ARCHIVE_FILES: &[(bbb_archive::Format, &str)] = &[
    (bbb_archive::Format::Presentation, "shapes.svg"),
    (bbb_archive::Format::Presentation, "captions.json"),
    (bbb_archive::Format::Presentation, "presentation_text.json"),
    (bbb_archive::Format::Presentation, "metadata.xml"),
    (bbb_archive::Format::Presentation, "presentation/d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-1/svgs/slide1.svg"),
    (bbb_archive::Format::Video, "index.html"),
    (bbb_archive::Format::Video, "css/styles.css"),
    (bbb_archive::Format::Video, "captions.json"),
    (bbb_archive::Format::Video, "metadata.xml"),
];

/// Runs the archive's reference extraction on `data` (first byte: file kind and whether a source URL is
/// known; the rest: the file) and checks that nothing it would fetch lies outside the recording.
pub fn archive_refs(data: &[u8]) {
    let Some((&selector, content)) = data.split_first() else { return };
    let (format, path) = ARCHIVE_FILES[usize::from(selector) % ARCHIVE_FILES.len()];
    let base = url::Url::parse(match format {
        bbb_archive::Format::Presentation => "https://bbb.example/presentation/rec-1/",
        bbb_archive::Format::Video => "https://bbb.example/playback/video/rec-1/",
    })
    .expect("static URL");
    let base = (selector & 0x80 == 0).then_some(&base);
    let (wanted, _warnings) = bbb_archive::references_of(format, path, content, base);
    for w in &wanted {
        assert!(stays_inside(&w.path), "references_of kept {:?} from {path}", w.path);
    }
    // Each line as a bare reference, as if found in that file.
    for line in String::from_utf8_lossy(content).lines().take(256) {
        if let bbb_archive::Resolved::File(p) = bbb_archive::resolve_reference(path, line, base) {
            assert!(stays_inside(&p), "resolve_reference({path:?}, {line:?}) = {p:?}");
        }
    }
    // The closure over a recording whose only file is this one.
    let files: BTreeMap<String, Vec<u8>> = [(path.to_owned(), content.to_vec())].into();
    let (all, _) = bbb_archive::derive_all(format, &files, base);
    for w in &all {
        assert!(stays_inside(&w.path), "derive_all kept {:?}", w.path);
    }
}
