//! What a recording is, as `getRecordings` describes it. Plain data: no I/O here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One recording of the old server, every field `getRecordings` gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// `<internal meeting id>-<epoch ms>`, BBB's stable key for the recording and its published files.
    pub record_id: String,
    /// The front-end's meeting id (Moodle, Pod, Greenlight…): the key owner sources look up.
    pub meeting_id: String,
    pub internal_meeting_id: Option<String>,
    pub name: String,
    pub state: RecordingState,
    pub published: bool,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub participants: Option<u32>,
    /// Size of the raw files BBB kept for processing (bytes); Scalelite omits it.
    pub raw_size: Option<u64>,
    /// Total size of the published files (bytes), when the server reports it.
    pub size: Option<u64>,
    /// Every `<metadata>` entry; keys arrive lower-cased from BBB.
    pub metadata: BTreeMap<String, String>,
    pub formats: Vec<PlaybackFormat>,
    pub breakout: Breakout,
}

/// Breakout relations: a breakout room's recording names its parent, a parent lists its rooms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakout {
    pub is_breakout: bool,
    pub parent_meeting_id: Option<String>,
    pub sequence: Option<u32>,
    pub rooms: Vec<String>,
}

/// Recording lifecycle states BBB reports; unknown ones are kept verbatim rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    Processing,
    Processed,
    Published,
    Unpublished,
    Deleted,
    #[serde(untagged)]
    Other(String),
}

impl RecordingState {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "processing" => Self::Processing,
            "processed" => Self::Processed,
            "published" => Self::Published,
            "unpublished" => Self::Unpublished,
            "deleted" => Self::Deleted,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Deleted => "deleted",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for RecordingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind of a playback format; BBB servers can add their own, kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatKind {
    Presentation,
    Video,
    Podcast,
    Screenshare,
    Notes,
    #[serde(untagged)]
    Other(String),
}

impl FormatKind {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "presentation" => Self::Presentation,
            "video" => Self::Video,
            "podcast" => Self::Podcast,
            "screenshare" => Self::Screenshare,
            "notes" => Self::Notes,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Presentation => "presentation",
            Self::Video => "video",
            Self::Podcast => "podcast",
            Self::Screenshare => "screenshare",
            Self::Notes => "notes",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for FormatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `<playback><format>` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackFormat {
    pub kind: FormatKind,
    pub url: String,
    /// BBB's `<length>`: minutes, rounded. The exact duration is in the published `metadata.xml`.
    pub length_minutes: Option<u32>,
    pub processing_time_ms: Option<u64>,
    pub size: Option<u64>,
    pub previews: Vec<PreviewImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewImage {
    pub url: String,
    pub alt: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Recording {
    /// Wall-clock length of the meeting while recorded (`end - start`), never negative.
    pub fn duration(&self) -> Duration {
        (self.end_time - self.start_time).to_std().unwrap_or_default()
    }

    pub fn format(&self, kind: &FormatKind) -> Option<&PlaybackFormat> {
        self.formats.iter().find(|f| &f.kind == kind)
    }

    /// The front-end that created the meeting (`bbb-origin` metadata: "Moodle", "Pod", "Greenlight"…).
    pub fn origin(&self) -> Option<&str> {
        self.meta("bbb-origin")
    }

    /// Host name of the front-end (`bbb-origin-server-name`), which picks the Moodle site among several.
    pub fn origin_server_name(&self) -> Option<&str> {
        self.meta("bbb-origin-server-name")
    }

    /// The recording's display name: the front-end's `bbb-recording-name` when set, else the meeting name.
    pub fn display_name(&self) -> &str {
        self.meta("bbb-recording-name").unwrap_or(&self.name)
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The presentation playback URL in the 2.3+ form (`/playback/presentation/2.3/<recordID>`), whatever form
    /// the server gave, because the 0.9.0/2.0 `playback.html?meetingId=` pages are gone from current players.
    pub fn presentation_url(&self) -> Option<String> {
        let url = &self.format(&FormatKind::Presentation)?.url;
        Some(presentation_url_v23(url, &self.record_id))
    }
}

/// Rewrites an old-style presentation playback URL (`…/playback/presentation/{0.9.0,2.0}/playback.html?meetingId=…`)
/// to the 2.3 form on the same host; URLs already in that form, or unknown forms, are returned unchanged.
pub fn presentation_url_v23(url: &str, record_id: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let path = parsed.path();
    let Some(prefix_end) = path.find("/playback/presentation/") else {
        return url.to_owned();
    };
    if !path.ends_with("/playback.html") {
        return url.to_owned();
    }
    let mut out = parsed.clone();
    out.set_query(None);
    out.set_fragment(None);
    out.set_path(&format!("{}/playback/presentation/2.3/{}", &path[..prefix_end], record_id));
    out.to_string()
}

/// Which recordings `getRecordings` returns by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateFilter {
    /// BBB's own default: published and unpublished.
    #[default]
    Default,
    /// `state=any`: every state, including processing and deleted.
    Any,
    /// An explicit list, sent comma-separated.
    Only(Vec<RecordingState>),
}

impl StateFilter {
    /// The `state` query parameter value, `None` when BBB's default applies.
    pub fn query_value(&self) -> Option<String> {
        match self {
            Self::Default => None,
            Self::Any => Some("any".into()),
            Self::Only(states) => Some(states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
        }
    }

    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "default" => Self::Default,
            "any" | "all" => Self::Any,
            list => Self::Only(list.split(',').map(RecordingState::parse).collect()),
        }
    }

    pub fn matches(&self, state: &RecordingState) -> bool {
        match self {
            Self::Default => matches!(state, RecordingState::Published | RecordingState::Unpublished),
            Self::Any => true,
            Self::Only(states) => states.contains(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_playback_urls_become_the_23_form() {
        let id = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1531240585189";
        assert_eq!(
            presentation_url_v23(
                "https://bbb.univ.fr/playback/presentation/2.0/playback.html?meetingId=183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1531240585189",
                id
            ),
            format!("https://bbb.univ.fr/playback/presentation/2.3/{id}")
        );
        assert_eq!(
            presentation_url_v23("https://h/playback/presentation/0.9.0/playback.html?meetingId=x", id),
            format!("https://h/playback/presentation/2.3/{id}")
        );
        let new = format!("https://h/playback/presentation/2.3/{id}");
        assert_eq!(presentation_url_v23(&new, id), new);
        assert_eq!(presentation_url_v23("not a url", id), "not a url");
    }

    #[test]
    fn state_filter_query_values() {
        assert_eq!(StateFilter::parse("").query_value(), None);
        assert_eq!(StateFilter::parse("any").query_value().as_deref(), Some("any"));
        let only = StateFilter::parse("published,processing");
        assert_eq!(only.query_value().as_deref(), Some("published,processing"));
        assert!(only.matches(&RecordingState::Processing));
        assert!(!only.matches(&RecordingState::Unpublished));
        assert!(StateFilter::Default.matches(&RecordingState::Unpublished));
        assert!(!StateFilter::Default.matches(&RecordingState::Deleted));
    }
}
