//! Parsing of API answers into typed values. Pure: bytes in, values (and warnings) out, never a panic.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use roxmltree::{Document, Node, ParsingOptions};

use crate::model::{Breakout, FormatKind, PlaybackFormat, PreviewImage, Recording, RecordingState};

/// One parsed `getRecordings` answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingsPage {
    pub recordings: Vec<Recording>,
    /// `<totalElements>` when the server sends it (BBB ≥ 2.6); informative only, never trusted for paging.
    pub total_elements: Option<u64>,
    /// Recordings or fields that were skipped, each with its reason.
    pub warnings: Vec<String>,
}

/// A `FAILED` answer: the server understood the call and refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub message_key: String,
    pub message: String,
}

impl ApiFailure {
    /// What an admin should do about this failure, in words.
    pub fn hint(&self) -> Option<&'static str> {
        match self.message_key.as_str() {
            "checksumError" => {
                Some("the secret or checksum algorithm is wrong: check source.secret and source.checksum")
            }
            "missingParameters" | "missingParamMeetingID" => {
                Some("the server wants a meetingID or recordID filter (Scalelite with GET_RECORDINGS_API_FILTERED)")
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server answered FAILED ({}): {}", self.message_key, self.message)?;
        if let Some(hint) = self.hint() {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

/// The answer could not be read as a BBB response at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the answer is not well-formed XML: {0}")]
    Xml(String),
    #[error("the answer is XML but not a BBB <response> (root element <{0}>)")]
    NotAResponse(String),
    #[error("the answer has no <returncode>")]
    NoReturnCode,
    #[error("{0}")]
    Failed(ApiFailureError),
    #[error("the answer has SUCCESS but no <recordings> element")]
    NoRecordings,
}

/// [`ApiFailure`] as an error value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailureError(pub ApiFailure);

impl std::fmt::Display for ApiFailureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn parsing_options<'i>() -> ParsingOptions<'i> {
    // A DTD in an API answer is never legitimate; refusing it rules out entity-expansion attacks.
    ParsingOptions { allow_dtd: false, nodes_limit: 5_000_000, ..ParsingOptions::default() }
}

/// Parses a `getRecordings` answer. Individual recordings that cannot be understood are skipped with a warning
/// so that one odd entry does not hide the others; a document that is not a valid answer is an error.
pub fn parse_get_recordings(xml: &str) -> Result<RecordingsPage, ParseError> {
    let doc = Document::parse_with_options(xml, parsing_options()).map_err(|e| ParseError::Xml(e.to_string()))?;
    let root = response_root(&doc)?;
    let Some(recordings) = child(root, "recordings") else {
        // `noRecordings` answers of some versions carry no <recordings> at all.
        if child_text(root, "messageKey").as_deref() == Some("noRecordings") {
            return Ok(RecordingsPage::default());
        }
        return Err(ParseError::NoRecordings);
    };
    let mut page = RecordingsPage {
        total_elements: child_text(root, "totalElements").and_then(|t| t.parse().ok()),
        ..Default::default()
    };
    for (index, node) in recordings.children().filter(|n| n.has_tag_name("recording")).enumerate() {
        match parse_recording(node) {
            Ok(rec) => page.recordings.push(rec),
            Err(reason) => page.warnings.push(format!("recording #{} skipped: {reason}", index + 1)),
        }
    }
    Ok(page)
}

/// Checks `<returncode>` and returns the `<response>` element of a successful answer.
fn response_root<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, ParseError> {
    let root = doc.root_element();
    if !root.has_tag_name("response") {
        return Err(ParseError::NotAResponse(root.tag_name().name().to_owned()));
    }
    match child_text(root, "returncode").as_deref() {
        Some("SUCCESS") => Ok(root),
        Some(_) => Err(ParseError::Failed(ApiFailureError(ApiFailure {
            message_key: child_text(root, "messageKey").unwrap_or_else(|| "unknown".into()),
            message: child_text(root, "message").unwrap_or_default(),
        }))),
        None => Err(ParseError::NoReturnCode),
    }
}

/// Server version information from the API root (`/bigbluebutton/api`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerVersion {
    pub api_version: Option<String>,
    /// Present from BBB 2.5 (`<bbbVersion>`); Scalelite leaves it out.
    pub bbb_version: Option<String>,
}

pub fn parse_version(xml: &str) -> Result<ServerVersion, ParseError> {
    let doc = Document::parse_with_options(xml, parsing_options()).map_err(|e| ParseError::Xml(e.to_string()))?;
    let root = response_root(&doc)?;
    Ok(ServerVersion {
        api_version: child_text(root, "apiVersion").or_else(|| child_text(root, "version")),
        bbb_version: child_text(root, "bbbVersion").filter(|v| !v.is_empty()),
    })
}

fn parse_recording(node: Node) -> Result<Recording, String> {
    let record_id = child_text(node, "recordID").filter(|s| !s.is_empty()).ok_or("no <recordID>")?;
    if let Err(reason) = check_record_id(&record_id) {
        let shown: String = record_id.chars().take(60).flat_map(char::escape_debug).collect();
        return Err(format!("<recordID> \"{shown}\" {reason}"));
    }
    let start_time = epoch_ms(node, "startTime").map_err(|e| format!("{record_id}: {e}"))?;
    let end_time = epoch_ms(node, "endTime").map_err(|e| format!("{record_id}: {e}"))?;
    let metadata = child(node, "metadata")
        .map(|m| {
            m.children()
                .filter(Node::is_element)
                .map(|e| (e.tag_name().name().to_ascii_lowercase(), decode_twice_escaped(&text(e))))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let formats = child(node, "playback")
        .map(|p| p.children().filter(|n| n.has_tag_name("format")).map(parse_format).collect())
        .unwrap_or_default();
    let breakout_node = child(node, "breakout");
    let breakout = Breakout {
        is_breakout: child_text(node, "isBreakout").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || breakout_node.is_some(),
        parent_meeting_id: breakout_node
            .and_then(|b| child_text(b, "parentId").or_else(|| child_text(b, "parentMeetingId"))),
        sequence: breakout_node.and_then(|b| child_text(b, "sequence")).and_then(|s| s.parse().ok()),
        rooms: child(node, "breakoutRooms")
            .map(|r| r.children().filter(Node::is_element).map(|e| text(e)).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
    };
    let state = child_text(node, "state").map(|s| RecordingState::parse(&s)).unwrap_or(RecordingState::Published);
    Ok(Recording {
        meeting_id: child_text(node, "meetingID").unwrap_or_default(),
        internal_meeting_id: child_text(node, "internalMeetingID").filter(|s| !s.is_empty()),
        name: decode_twice_escaped(&child_text(node, "name").unwrap_or_default()),
        published: child_text(node, "published")
            .map(|p| p.eq_ignore_ascii_case("true"))
            .unwrap_or(state == RecordingState::Published),
        state,
        start_time,
        end_time,
        participants: child_text(node, "participants").and_then(|p| p.parse().ok()),
        raw_size: child_text(node, "rawSize").and_then(|p| p.parse().ok()),
        size: child_text(node, "size").and_then(|p| p.parse().ok()),
        metadata,
        formats,
        breakout,
        record_id,
    })
}

/// Longest record ID accepted. BBB's are `<40 hex>-<13 digits>` (54 characters); Scalelite keeps them.
pub const MAX_RECORD_ID_LEN: usize = 256;

/// A record ID becomes a directory name, a URL path segment and a ledger key: one that could leave a directory
/// or break a file name (`/`, `\`, `..`, NUL and other control characters) or is absurdly long is refused, so
/// that the recording is skipped with a warning rather than written somewhere unexpected.
fn check_record_id(id: &str) -> Result<(), &'static str> {
    if id.len() > MAX_RECORD_ID_LEN {
        return Err("is too long to be a record ID");
    }
    if id == "." || id == ".." || id.contains(['/', '\\']) {
        return Err("is a path, not a record ID");
    }
    if id.chars().any(char::is_control) {
        return Err("holds NUL or control characters");
    }
    Ok(())
}

fn parse_format(node: Node) -> PlaybackFormat {
    let previews = child(node, "preview")
        .and_then(|p| child(p, "images"))
        .map(|imgs| {
            imgs.children()
                .filter(|n| n.has_tag_name("image"))
                .map(|img| PreviewImage {
                    url: text(img),
                    alt: img.attribute("alt").map(str::to_owned),
                    width: img.attribute("width").and_then(|w| w.parse().ok()),
                    height: img.attribute("height").and_then(|h| h.parse().ok()),
                })
                .collect()
        })
        .unwrap_or_default();
    PlaybackFormat {
        kind: FormatKind::parse(&child_text(node, "type").unwrap_or_default()),
        url: child_text(node, "url").unwrap_or_default(),
        length_minutes: child_text(node, "length").and_then(|l| l.parse().ok()),
        processing_time_ms: child_text(node, "processingTime").and_then(|l| l.parse().ok()),
        size: child_text(node, "size").and_then(|l| l.parse().ok()),
        previews,
    }
}

fn epoch_ms(node: Node, tag: &str) -> Result<DateTime<Utc>, String> {
    let raw = child_text(node, tag).ok_or_else(|| format!("no <{tag}>"))?;
    let ms: i64 = raw.parse().map_err(|_| format!("<{tag}> is not a number of milliseconds: `{raw}`"))?;
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| format!("<{tag}> is out of range: {ms}"))
}

fn child<'a, 'i>(node: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(tag))
}

fn child_text(node: Node, tag: &str) -> Option<String> {
    child(node, tag).map(text)
}

/// The element's text with CDATA sections joined and surrounding whitespace trimmed.
fn text(node: Node) -> String {
    node.children().filter(Node::is_text).filter_map(|t| t.text()).collect::<String>().trim().to_owned()
}

/// Some front-ends escape names before BBB escapes them again (`Let&amp;#39;s` arrives as `Let&#39;s`):
/// decode the character references that survive one XML decoding. Text without `&` is returned as is.
pub fn decode_twice_escaped(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let decoded = tail.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &tail[1..end];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32)
                    // `&amp;#0;` must not smuggle NUL or control characters into names (file names, SQL text).
                    .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')),
            }?;
            Some((ch, end + 1))
        });
        match decoded {
            Some((ch, len)) => {
                out.push(ch);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_second_level_escapes_only_where_they_are() {
        assert_eq!(decode_twice_escaped("Let&#39;s Talk"), "Let's Talk");
        assert_eq!(decode_twice_escaped("R&amp;D"), "R&D");
        assert_eq!(decode_twice_escaped("Tom & Jerry"), "Tom & Jerry");
        assert_eq!(decode_twice_escaped("a &#xE9; b"), "a é b");
        assert_eq!(decode_twice_escaped("&;&#;&#xZZ;&"), "&;&#;&#xZZ;&");
    }

    #[test]
    fn second_level_escapes_never_make_nul_or_control_characters() {
        // Found by the hostile-input tests: `&amp;#0;` in a name decoded to a NUL.
        assert_eq!(decode_twice_escaped("a&#0;b&#x1b;c&#9;d"), "a&#0;b&#x1b;c\td");
        assert_eq!(decode_twice_escaped("&#x7f;&#x85;"), "&#x7f;&#x85;");
    }

    #[test]
    fn record_ids_that_are_paths_or_junk_are_skipped_with_a_warning() {
        let rec = |id: &str| {
            format!("<recording><recordID>{id}</recordID><startTime>1</startTime><endTime>2</endTime></recording>")
        };
        let long = "a".repeat(MAX_RECORD_ID_LEN + 1);
        let hostile = ["../../etc", "a/b", "..", "a\\b", "a&#9;b", &long];
        let body: String = hostile.iter().map(|id| rec(id)).chain([rec("ok-1")]).collect();
        let xml = format!("<response><returncode>SUCCESS</returncode><recordings>{body}</recordings></response>");
        let page = parse_get_recordings(&xml).unwrap();
        assert_eq!(page.recordings.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), ["ok-1"]);
        assert_eq!(page.warnings.len(), hostile.len(), "{:?}", page.warnings);
        assert!(page.warnings.iter().all(|w| w.contains("<recordID>")), "{:?}", page.warnings);
        assert!(page.warnings.iter().all(|w| w.len() < 200), "warnings stay short: {:?}", page.warnings);
    }

    #[test]
    fn a_failed_answer_is_a_typed_error_with_a_hint() {
        let xml = "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey>\
                   <message>You did not pass the checksum security check</message></response>";
        let err = parse_get_recordings(xml).unwrap_err();
        let ParseError::Failed(ApiFailureError(failure)) = &err else { panic!("{err:?}") };
        assert_eq!(failure.message_key, "checksumError");
        assert!(err.to_string().contains("the secret or checksum algorithm is wrong"), "{err}");
    }

    #[test]
    fn truncated_and_foreign_documents_are_errors() {
        assert!(matches!(parse_get_recordings("<response><returncode>SUCC"), Err(ParseError::Xml(_))));
        assert!(matches!(parse_get_recordings("<html><body>502</body></html>"), Err(ParseError::NotAResponse(_))));
        assert!(matches!(parse_get_recordings("<response/>"), Err(ParseError::NoReturnCode)));
        assert!(matches!(
            parse_get_recordings("<response><returncode>SUCCESS</returncode></response>"),
            Err(ParseError::NoRecordings)
        ));
    }

    #[test]
    fn a_dtd_is_refused_so_entities_cannot_expand() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
            <response><returncode>SUCCESS</returncode><recordings/><x>&lol2;</x></response>"#;
        assert!(matches!(parse_get_recordings(xml), Err(ParseError::Xml(_))));
    }

    #[test]
    fn a_recording_with_bad_times_is_skipped_with_a_warning() {
        let xml = "<response><returncode>SUCCESS</returncode><recordings>\
            <recording><recordID>a-1</recordID><startTime>yesterday</startTime><endTime>2</endTime></recording>\
            <recording><recordID>b-2</recordID><meetingID>m</meetingID><startTime>1000</startTime><endTime>61000</endTime></recording>\
            </recordings></response>";
        let page = parse_get_recordings(xml).unwrap();
        assert_eq!(page.recordings.len(), 1);
        assert_eq!(page.recordings[0].record_id, "b-2");
        assert_eq!(page.recordings[0].duration().as_secs(), 60);
        assert_eq!(page.warnings.len(), 1);
        assert!(page.warnings[0].contains("a-1") && page.warnings[0].contains("startTime"), "{:?}", page.warnings);
    }
}
