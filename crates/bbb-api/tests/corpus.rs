//! Replays the fuzz corpus of `fuzz/fuzz_targets/get_recordings.rs` on stable: every input found by `cargo fuzz`
//! (and kept, minimized, in `fuzz/corpus/get_recordings/`) must parse or fail without a panic.

use std::path::Path;

#[test]
fn every_fuzz_corpus_input_parses_or_fails_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/get_recordings");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let xml = String::from_utf8_lossy(&data);
        let result = std::panic::catch_unwind(|| {
            if let Ok(page) = bbb_api::response::parse_get_recordings(&xml) {
                assert!(page.recordings.iter().all(|r| !r.record_id.is_empty()));
            }
            let _ = bbb_api::response::parse_version(&xml);
            let _ = bbb_api::response::decode_twice_escaped(&xml);
        });
        assert!(result.is_ok(), "{} panicked", path.display());
        count += 1;
    }
    assert!(count > 0, "{} is empty", dir.display());
}
