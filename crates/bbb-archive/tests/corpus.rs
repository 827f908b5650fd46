//! Replays the fuzz corpus of `fuzz/fuzz_targets/archive_refs.rs` on stable: for every input kept in
//! `fuzz/corpus/archive_refs/` (first byte: which file and whether the source URL is known; the rest: its bytes),
//! nothing the archive would fetch lies outside the recording's directory.

use std::collections::BTreeMap;
use std::path::Path;

use bbb_archive::{Format, Resolved, derive_all, references_of, resolve_reference};

/// `fuzz/src/lib.rs` `ARCHIVE_FILES`.
const FILES: &[(Format, &str)] = &[
    (Format::Presentation, "shapes.svg"),
    (Format::Presentation, "captions.json"),
    (Format::Presentation, "presentation_text.json"),
    (Format::Presentation, "metadata.xml"),
    (Format::Presentation, "presentation/d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-1/svgs/slide1.svg"),
    (Format::Video, "index.html"),
    (Format::Video, "css/styles.css"),
    (Format::Video, "captions.json"),
    (Format::Video, "metadata.xml"),
];

fn stays_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with(".part")
        && !path.chars().any(|c| c == '\0' || c == '\\' || c.is_control())
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

#[test]
fn no_corpus_input_names_a_file_outside_the_recording() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/archive_refs");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let file = entry.unwrap().path();
        let data = std::fs::read(&file).unwrap();
        let Some((&selector, content)) = data.split_first() else { continue };
        let (format, path) = FILES[usize::from(selector) % FILES.len()];
        let base = url::Url::parse(match format {
            Format::Presentation => "https://bbb.example/presentation/rec-1/",
            Format::Video => "https://bbb.example/playback/video/rec-1/",
        })
        .unwrap();
        let base = (selector & 0x80 == 0).then_some(&base);
        let (wanted, _) = references_of(format, path, content, base);
        for w in &wanted {
            assert!(stays_inside(&w.path), "{}: references_of kept {:?}", file.display(), w.path);
        }
        for line in String::from_utf8_lossy(content).lines().take(256) {
            if let Resolved::File(p) = resolve_reference(path, line, base) {
                assert!(stays_inside(&p), "{}: {line:?} resolved to {p:?}", file.display());
            }
        }
        let files: BTreeMap<String, Vec<u8>> = [(path.to_owned(), content.to_vec())].into();
        for w in derive_all(format, &files, base).0 {
            assert!(stays_inside(&w.path), "{}: derive_all kept {:?}", file.display(), w.path);
        }
        count += 1;
    }
    assert!(count > 0, "{} is empty", dir.display());
}
