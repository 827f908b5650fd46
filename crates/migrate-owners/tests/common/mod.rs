//! Shared helpers of the owner-source tests; the databases come from `migrate-testdb`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use bbb_api::{Breakout, Recording, RecordingState};
use chrono::{TimeZone, Utc};
pub use migrate_testdb::{Engine, TestDb};

pub fn recording(record_id: &str, meeting_id: &str, metadata: &[(&str, &str)]) -> Recording {
    Recording {
        record_id: record_id.to_owned(),
        meeting_id: meeting_id.to_owned(),
        internal_meeting_id: None,
        name: format!("recording {record_id}"),
        state: RecordingState::Published,
        published: true,
        start_time: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
        end_time: Utc.timestamp_millis_opt(1_700_003_600_000).unwrap(),
        participants: None,
        raw_size: None,
        size: None,
        metadata: metadata.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
        formats: Vec::new(),
        breakout: Breakout::default(),
    }
}
