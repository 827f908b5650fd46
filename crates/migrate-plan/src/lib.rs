//! What a migration would do, decided without I/O.
//!
//! The CLI reads the old server, the owners and Pod's current state; this crate turns them into a plan —
//! [`import::ImportPlan`] (option 2: external recordings and the users they need) or [`claim::ClaimPlan`]
//! (option 1: video files in a recorder directory) — that `plan` prints and `migrate` executes item by item.
//! Because the plan already knows what exists, printing it is an exact dry run and executing it twice
//! writes nothing the second time. File names follow [`naming`].

pub mod claim;
pub mod import;
pub mod naming;

use bbb_api::Recording;
use serde::{Deserialize, Serialize};

/// A selected recording that a plan leaves alone, and why (no playback, a path too long for Pod…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub position: usize,
    pub record_id: String,
    pub name: String,
    pub reason: String,
}

impl Skipped {
    pub fn new(position: usize, rec: &Recording, reason: &str) -> Skipped {
        Skipped {
            position,
            record_id: rec.record_id.clone(),
            name: rec.display_name().to_owned(),
            reason: reason.to_owned(),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use bbb_api::{Breakout, FormatKind, PlaybackFormat, Recording, RecordingState};
    use chrono::{TimeZone, Utc};
    use migrate_owners::{Owner, SourceKind};

    pub fn recording(id: &str, presentation: Option<&str>, video: Option<&str>) -> Recording {
        let format = |kind: FormatKind, url: &str| PlaybackFormat {
            kind,
            url: url.to_owned(),
            length_minutes: Some(60),
            processing_time_ms: None,
            size: None,
            previews: Vec::new(),
        };
        let mut formats = Vec::new();
        if let Some(url) = presentation {
            formats.push(format(FormatKind::Presentation, url));
        }
        if let Some(url) = video {
            formats.push(format(FormatKind::Video, url));
        }
        Recording {
            record_id: id.to_owned(),
            meeting_id: format!("meeting-{id}"),
            internal_meeting_id: None,
            name: format!("Cours {id}"),
            state: RecordingState::Published,
            published: true,
            start_time: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            end_time: Utc.timestamp_millis_opt(1_700_003_600_000).unwrap(),
            participants: None,
            raw_size: None,
            size: None,
            metadata: Default::default(),
            formats,
            breakout: Breakout::default(),
        }
    }

    pub fn owner(username: Option<&str>, email: Option<&str>) -> Owner {
        Owner {
            username: username.map(str::to_owned),
            email: email.map(str::to_owned),
            first_name: "Prénom".into(),
            last_name: "Nom".into(),
            source: SourceKind::Moodle,
            evidence: "test".into(),
        }
    }
}
