//! shapes.svg (every era) with its companions, through the public `bbb_presentation::parse` and the timeline
//! queries. The input's NUL-separated parts are shapes.svg, tldraw.json, metadata.xml, panzooms.xml, cursor.xml,
//! deskshare.xml.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = bbb_migrate_fuzz::split_files(data, bbb_migrate_fuzz::SHAPES_SVG_FILES);
    bbb_migrate_fuzz::parse_and_query(&files);
});
