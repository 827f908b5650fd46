//! Replays the fuzz corpora of `fuzz/fuzz_targets/{shapes_svg,events}.rs` on stable: every input found by
//! `cargo fuzz` (kept, minimized, in `fuzz/corpus/`) is split into published files as the targets split it and
//! must give a timeline whose lists are sorted as the queries need, without a panic.

use std::collections::BTreeMap;
use std::path::Path;

use bbb_presentation::{Time, parse};

/// `fuzz/src/lib.rs` `SHAPES_SVG_FILES`: the NUL-separated parts of a `shapes_svg` input.
const SHAPES_SVG_FILES: &[&str] =
    &["shapes.svg", "tldraw.json", "metadata.xml", "panzooms.xml", "cursor.xml", "deskshare.xml"];
/// `fuzz/src/lib.rs` `EVENTS_FILES`.
const EVENTS_FILES: &[&str] = &[
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

fn replay(target: &str, names: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let files: BTreeMap<String, Vec<u8>> =
            data.split(|&b| b == 0).zip(names).map(|(part, name)| ((*name).to_owned(), part.to_vec())).collect();
        let result = std::panic::catch_unwind(|| {
            let (t, _) = parse(&files);
            assert!(t.slides.windows(2).all(|w| w[0].end <= w[1].start), "slides sorted, no overlap");
            assert!(t.views.windows(2).all(|w| w[0].at < w[1].at));
            assert!(t.cursor.windows(2).all(|w| w[0].at < w[1].at));
            assert!(t.deskshare.windows(2).all(|w| w[0].end <= w[1].start));
            let points = t.change_points();
            for &at in points.iter().step_by((points.len() / 32).max(1)) {
                let _ = (t.picture_at(at), t.cursor_in_page_at(at));
            }
            let _ = (t.cursor_points(), t.picture_at(Time::from_millis(u64::MAX)));
        });
        assert!(result.is_ok(), "{} panicked", path.display());
        count += 1;
    }
    assert!(count > 0, "{} is empty", dir.display());
}

#[test]
fn every_shapes_svg_corpus_input_gives_a_sorted_timeline() {
    replay("shapes_svg", SHAPES_SVG_FILES);
}

#[test]
fn every_events_corpus_input_gives_a_sorted_timeline() {
    replay("events", EVENTS_FILES);
}
