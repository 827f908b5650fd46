//! Which front-end made a recording. Moodle and Greenlight say so in `bbb-origin`; Pod does not, so the
//! meeting ID shape and Pod's callback URLs are used as evidence too.

use std::fmt;

use bbb_api::Recording;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Origin {
    Moodle,
    Pod,
    Greenlight,
    /// A `bbb-origin` value we have no special knowledge of, kept as sent.
    Other(String),
    Unknown,
}

impl Origin {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Moodle => "Moodle",
            Self::Pod => "Pod",
            Self::Greenlight => "Greenlight",
            Self::Other(s) => s,
            Self::Unknown => "unknown",
        }
    }

    /// `--origin` matching: case-insensitive on the displayed name.
    pub fn matches(&self, wanted: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(wanted.trim())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The front-end of a recording: `bbb-origin` (or the older `bn-origin`) metadata first, then Pod's
/// callback URLs, then the shape of the meeting ID.
pub fn origin_of(rec: &Recording) -> Origin {
    let declared = ["bbb-origin", "bn-origin"]
        .iter()
        .filter_map(|k| rec.metadata.get(*k))
        .map(|v| v.trim())
        .find(|v| !v.is_empty());
    if let Some(value) = declared {
        return match value.to_ascii_lowercase().as_str() {
            "moodle" => Origin::Moodle,
            "greenlight" => Origin::Greenlight,
            "pod" | "esup-pod" => Origin::Pod,
            _ => Origin::Other(value.to_owned()),
        };
    }
    let pod_callback = ["endcallbackurl", "bbb-recording-ready-url"]
        .iter()
        .filter_map(|k| rec.metadata.get(*k))
        .any(|url| url.contains("/meeting/"));
    if pod_callback || is_pod_meeting_id(&rec.meeting_id) {
        return Origin::Pod;
    }
    if is_moodle_meeting_id(&rec.meeting_id) {
        return Origin::Moodle;
    }
    Origin::Unknown
}

/// Pod: the meeting's id zero-padded to 4 digits, a dash, the slug of its name.
fn is_pod_meeting_id(id: &str) -> bool {
    let Some((number, slug)) = id.split_once('-') else { return false };
    number.len() >= 4
        && number.bytes().all(|b| b.is_ascii_digit())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Moodle: `<40 hex>-<course>-<activity>` with an optional `[group]`.
fn is_moodle_meeting_id(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    let (Some(seed), Some(course), Some(rest)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let activity = rest.split('[').next().unwrap_or_default();
    seed.len() == 40
        && seed.bytes().all(|b| b.is_ascii_hexdigit())
        && !course.is_empty()
        && course.bytes().all(|b| b.is_ascii_digit())
        && !activity.is_empty()
        && activity.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(meeting_id: &str, meta: &[(&str, &str)]) -> Recording {
        Recording {
            record_id: "r".into(),
            meeting_id: meeting_id.into(),
            internal_meeting_id: None,
            name: String::new(),
            state: bbb_api::RecordingState::Published,
            published: true,
            start_time: chrono::DateTime::UNIX_EPOCH,
            end_time: chrono::DateTime::UNIX_EPOCH,
            participants: None,
            raw_size: None,
            size: None,
            metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            formats: vec![],
            breakout: Default::default(),
        }
    }

    #[test]
    fn declared_origin_wins() {
        assert_eq!(origin_of(&rec("x", &[("bbb-origin", "Moodle")])), Origin::Moodle);
        assert_eq!(origin_of(&rec("x", &[("bn-origin", "Moodle")])), Origin::Moodle);
        assert_eq!(origin_of(&rec("x", &[("bbb-origin", "greenlight")])), Origin::Greenlight);
        assert_eq!(origin_of(&rec("x", &[("bbb-origin", "Mattermost")])), Origin::Other("Mattermost".into()));
    }

    #[test]
    fn pod_and_moodle_are_recognised_without_metadata() {
        assert_eq!(origin_of(&rec("0042-cours-de-maths", &[])), Origin::Pod);
        assert_eq!(origin_of(&rec("x", &[("endcallbackurl", "https://pod.univ.fr/meeting/end/0042-x/")])), Origin::Pod);
        let seed = "a".repeat(40);
        assert_eq!(origin_of(&rec(&format!("{seed}-12-345[0]"), &[])), Origin::Moodle);
        assert_eq!(origin_of(&rec(&format!("{seed}-12-345"), &[])), Origin::Moodle);
        assert_eq!(origin_of(&rec("English 101", &[])), Origin::Unknown);
        assert_eq!(origin_of(&rec("42-x", &[])), Origin::Unknown);
    }
}
