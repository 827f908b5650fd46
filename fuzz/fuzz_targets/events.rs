//! The event files (metadata.xml, panzooms.xml, cursor.xml, deskshare.xml, slides_new.xml, the JSON extras)
//! through the public `bbb_presentation::parse` and the timeline queries. The input's NUL-separated parts are the
//! files of `bbb_migrate_fuzz::EVENTS_FILES`, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = bbb_migrate_fuzz::split_files(data, bbb_migrate_fuzz::EVENTS_FILES);
    bbb_migrate_fuzz::parse_and_query(&files);
});
