//! The archive's file list: `bbb_archive::references_of`, `resolve_reference` and `derive_all` on hostile
//! published files must never name a path outside the recording's directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bbb_migrate_fuzz::archive_refs(data));
