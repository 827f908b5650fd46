//! The getRecordings answer parser (and the API-root version parser): any bytes → a page, warnings or a typed
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);
    if let Ok(page) = bbb_api::response::parse_get_recordings(&xml) {
        for rec in &page.recordings {
            assert!(!rec.record_id.is_empty(), "a recording without recordID was kept");
            let _ = rec.duration();
            for f in &rec.formats {
                let _ = bbb_api::presentation_url_v23(&f.url, &rec.record_id);
            }
        }
    }
    let _ = bbb_api::response::parse_version(&xml);
    let _ = bbb_api::response::decode_twice_escaped(&xml);
});
