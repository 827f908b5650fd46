//! Option 1, claim: one video file per recording in the directory of a Pod recorder, where Pod's
//! `recorder checkDirectory` scan finds it and makes it claimable. The server's `video` playback is copied
//! when there is one; otherwise the presentation is rendered.

use std::collections::{BTreeMap, HashSet};

use bbb_api::{FormatKind, Recording};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Skipped;
use crate::naming::{POD_PATH_MAX, claim_file_name, pod_join};

/// A rendered or copied video takes about this many bytes per second of recording (720p, ~1 Mbit/s); used
/// only to estimate free disk when the server gives no size.
pub const ESTIMATED_BYTES_PER_SECOND: u64 = 125_000;

/// A Pod recorder (`recorder_recorder`), as the claim plan needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorder {
    pub id: i64,
    pub name: String,
    pub directory: String,
    /// The recorder's manager (`user_id`): with one, Pod e-mails the manager instead of offering the claim.
    pub manager_id: Option<i64>,
}

/// How the video file is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ClaimMethod {
    /// Download the server's `video` playback (same content, no rendering).
    Copy { playback_url: String },
    /// Render the presentation playback natively.
    Render { playback_url: String },
}

impl ClaimMethod {
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Copy { .. } => "m4v",
            Self::Render { .. } => "mp4",
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Self::Copy { .. } => "copy",
            Self::Render { .. } => "render",
        }
    }
}

/// Where the file of one recording stands before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// To copy or render.
    ToDo,
    /// The file is already in the recorder directory (an earlier run).
    Present,
    /// Pod has already recorded this path (scanned or claimed, maybe moved away since): never write it again.
    KnownToPod,
}

/// One file of the claim plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimItem {
    pub position: usize,
    pub record_id: String,
    pub name: String,
    pub start_at: DateTime<Utc>,
    pub duration_secs: u64,
    pub origin: String,
    pub method: ClaimMethod,
    pub file_name: String,
    /// The full path as Pod stores it.
    pub pod_path: String,
    /// The server's size for a copy, else an estimate.
    pub estimated_bytes: u64,
    pub size_is_estimate: bool,
    pub state: ClaimState,
}

impl ClaimItem {
    /// The ledger's idempotency key.
    pub fn key(&self) -> String {
        format!("claim:{}", self.record_id)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClaimPlan {
    pub items: Vec<ClaimItem>,
    pub skipped: Vec<Skipped>,
}

/// What the recorder directory and Pod already hold.
#[derive(Debug, Clone, Default)]
pub struct ClaimWorld {
    /// File names present in the recorder directory.
    pub files_present: HashSet<String>,
    /// Full paths Pod has recorded (`recorder_recordingfiletreatment.file`, `recorder_recording.source_file`).
    pub known_to_pod: HashSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClaimTotals {
    pub files: usize,
    pub to_copy: usize,
    pub to_render: usize,
    pub already_there: usize,
    pub skipped: usize,
    pub hours_to_render: f64,
    pub hours: f64,
    /// Bytes of the files still to make (the free disk the run needs).
    pub bytes_to_write: u64,
    pub per_origin: BTreeMap<String, usize>,
}

impl ClaimPlan {
    pub fn totals(&self) -> ClaimTotals {
        let mut t = ClaimTotals { files: self.items.len(), skipped: self.skipped.len(), ..Default::default() };
        for item in &self.items {
            let hours = item.duration_secs as f64 / 3600.0;
            t.hours += hours;
            *t.per_origin.entry(item.origin.clone()).or_default() += 1;
            if item.state != ClaimState::ToDo {
                t.already_there += 1;
                continue;
            }
            t.bytes_to_write += item.estimated_bytes;
            match item.method {
                ClaimMethod::Copy { .. } => t.to_copy += 1,
                ClaimMethod::Render { .. } => {
                    t.to_render += 1;
                    t.hours_to_render += hours;
                }
            }
        }
        t
    }
}

/// The claim plan: pure, from the selection, the recorder and what already exists.
pub fn plan_claim(
    selected: &[(usize, &Recording)],
    recorder: &Recorder,
    recorder_path: &str,
    world: &ClaimWorld,
) -> ClaimPlan {
    let dir = pod_join(recorder_path, &recorder.directory, "");
    let dir = dir.trim_end_matches('/');
    let mut plan = ClaimPlan::default();
    for &(position, rec) in selected {
        let skip = |reason: String| Skipped::new(position, rec, &reason);
        let video = rec.format(&FormatKind::Video).map(|f| (f.url.trim().to_owned(), f.size));
        let method = match (video, rec.presentation_url()) {
            (Some((url, _)), _) if !url.is_empty() => ClaimMethod::Copy { playback_url: url },
            (_, Some(url)) => ClaimMethod::Render { playback_url: url },
            _ => {
                plan.skipped.push(skip("no presentation or video playback".into()));
                continue;
            }
        };
        let Some(file_name) = claim_file_name(
            rec.display_name(),
            rec.start_time,
            &rec.record_id,
            method.extension(),
            dir.chars().count(),
            POD_PATH_MAX,
        ) else {
            plan.skipped.push(skip(format!("the recorder directory {dir} is too long for Pod's 200-character paths")));
            continue;
        };
        let pod_path = pod_join(recorder_path, &recorder.directory, &file_name);
        let server_size = match &method {
            ClaimMethod::Copy { .. } => rec.format(&FormatKind::Video).and_then(|f| f.size).filter(|s| *s > 0),
            ClaimMethod::Render { .. } => None,
        };
        let duration_secs = rec.duration().as_secs();
        let state = if world.known_to_pod.contains(&pod_path) {
            ClaimState::KnownToPod
        } else if world.files_present.contains(&file_name) {
            ClaimState::Present
        } else {
            ClaimState::ToDo
        };
        plan.items.push(ClaimItem {
            position,
            record_id: rec.record_id.clone(),
            name: rec.display_name().to_owned(),
            start_at: rec.start_time,
            duration_secs,
            origin: migrate_inventory::origin_of(rec).to_string(),
            method,
            file_name,
            pod_path,
            estimated_bytes: server_size.unwrap_or(duration_secs * ESTIMATED_BYTES_PER_SECOND),
            size_is_estimate: server_size.is_none(),
            state,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::recording;

    fn recorder() -> Recorder {
        Recorder { id: 1, name: "BBB".into(), directory: "bbb".into(), manager_id: None }
    }

    #[test]
    fn video_playbacks_are_copied_presentations_rendered() {
        let a = recording(
            "a-1",
            Some("https://old/playback/presentation/2.3/a-1"),
            Some("https://old/playback/video/a-1/"),
        );
        let b = recording("b-2", Some("https://old/playback/presentation/2.0/playback.html?meetingId=b-2"), None);
        let c = recording("c-3", None, None);
        let plan = plan_claim(&[(1, &a), (2, &b), (3, &c)], &recorder(), "/data/ftp-pod/ftp/", &ClaimWorld::default());
        assert_eq!(plan.items.len(), 2);
        assert!(matches!(plan.items[0].method, ClaimMethod::Copy { .. }));
        assert!(plan.items[0].file_name.ends_with(".m4v"));
        assert!(plan.items[0].pod_path.starts_with("/data/ftp-pod/ftp/bbb/"));
        assert_eq!(
            plan.items[1].method,
            ClaimMethod::Render { playback_url: "https://old/playback/presentation/2.3/b-2".into() }
        );
        assert_eq!(plan.skipped[0].record_id, "c-3");
        let t = plan.totals();
        assert_eq!((t.to_copy, t.to_render, t.skipped), (1, 1, 1));
        assert_eq!(t.bytes_to_write, 2 * 3600 * ESTIMATED_BYTES_PER_SECOND);
    }

    #[test]
    fn files_already_there_or_known_to_pod_are_not_redone() {
        let a = recording("a-1", Some("https://old/playback/presentation/2.3/a-1"), None);
        let b = recording("b-2", Some("https://old/playback/presentation/2.3/b-2"), None);
        let first = plan_claim(&[(1, &a), (2, &b)], &recorder(), "/srv/ftp", &ClaimWorld::default());
        let world = ClaimWorld {
            files_present: [first.items[0].file_name.clone()].into(),
            known_to_pod: [first.items[1].pod_path.clone()].into(),
        };
        let again = plan_claim(&[(1, &a), (2, &b)], &recorder(), "/srv/ftp", &world);
        assert_eq!(again.items[0].state, ClaimState::Present);
        assert_eq!(again.items[1].state, ClaimState::KnownToPod);
        assert_eq!(again.totals().bytes_to_write, 0);
    }

    #[test]
    fn paths_fit_pod_columns() {
        let mut a = recording("a-1", Some("https://old/playback/presentation/2.3/a-1"), None);
        a.name = "Un nom de réunion vraiment très long, bien plus long que quarante caractères".into();
        let deep = format!("/{}", "d".repeat(150));
        let plan = plan_claim(&[(1, &a)], &recorder(), &deep, &ClaimWorld::default());
        assert!(plan.items[0].pod_path.chars().count() <= POD_PATH_MAX, "{}", plan.items[0].pod_path);
        let too_deep = format!("/{}", "d".repeat(199));
        let plan = plan_claim(&[(1, &a)], &recorder(), &too_deep, &ClaimWorld::default());
        assert_eq!(plan.skipped.len(), 1);
    }
}
