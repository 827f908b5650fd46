//! The JSON side files: `captions.json`, `external_videos.json`, `polls.json`, `presentation_text.json`.
//!
//! - `captions.json` (copied by the publish script): `[{"localeName": "Deutsch", "locale": "de"}]`, cues in
//!   `caption_<locale>.vtt`.
//! - `external_videos.json`: `[{"timestamp": s (integer), "external_video_url": "…"}]`.
//! - `polls.json`: `[{"timestamp": s, "type", "question", "answers": [{"id", "key", "numVotes"}], "respondents",
//!   "responders"}]` (answers as BBB's events wrote them).
//! - `presentation_text.json`: `{"<presentation>": {"slide-1": "text", …}}` (bbb-playback `buildAlternates`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Time;
use crate::model::{CaptionTrack, ExternalVideo, Poll};
use crate::time::{Warnings, shorten};

fn json(bytes: &[u8], w: &mut Warnings<'_>) -> Option<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        w.file("empty file");
        return None;
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            w.file(format!("not valid JSON ({e}); ignored"));
            None
        }
    }
}

fn list<'a>(value: &'a Value, w: &mut Warnings<'_>) -> &'a [Value] {
    match value.as_array() {
        Some(a) => a,
        None => {
            w.file("top level is not a JSON list; ignored");
            &[]
        }
    }
}

fn time(value: Option<&Value>) -> Option<Time> {
    match value? {
        Value::Number(n) => Time::from_secs_f64(n.as_f64()?),
        Value::String(s) => crate::time::parse_seconds(s).ok(),
        _ => None,
    }
}

fn string(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn captions(bytes: &[u8], w: &mut Warnings<'_>) -> Vec<CaptionTrack> {
    let Some(value) = json(bytes, w) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, entry) in list(&value, w).iter().enumerate() {
        let Some(locale) = string(entry.get("locale")).filter(|l| is_plain_locale(l)) else {
            w.push(format!("[{i}]"), "no usable `locale`; skipped");
            continue;
        };
        let name = string(entry.get("localeName")).unwrap_or_else(|| locale.clone());
        out.push(CaptionTrack { locale, name });
    }
    out
}

/// A locale that can be part of a file name (`de`, `pt-BR`, `zh_Hans`): no separators, no `..`.
fn is_plain_locale(l: &str) -> bool {
    !l.is_empty() && l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn external_videos(bytes: &[u8], w: &mut Warnings<'_>) -> Vec<ExternalVideo> {
    let Some(value) = json(bytes, w) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, entry) in list(&value, w).iter().enumerate() {
        match (time(entry.get("timestamp")), string(entry.get("external_video_url"))) {
            (Some(at), Some(url)) => out.push(ExternalVideo { at, url }),
            _ => w.push(format!("[{i}]"), "needs a `timestamp` and an `external_video_url`; skipped"),
        }
    }
    out
}

pub(crate) fn polls(bytes: &[u8], w: &mut Warnings<'_>) -> Vec<Poll> {
    let Some(value) = json(bytes, w) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, entry) in list(&value, w).iter().enumerate() {
        let Some(at) = time(entry.get("timestamp")) else {
            w.push(format!("[{i}]"), "no usable `timestamp`; skipped");
            continue;
        };
        let count = |k: &str| entry.get(k).and_then(Value::as_f64).filter(|n| n.is_finite()).unwrap_or(0.0).max(0.0);
        out.push(Poll {
            at,
            kind: string(entry.get("type")).unwrap_or_default(),
            question: string(entry.get("question")).unwrap_or_default(),
            answers: entry
                .get("answers")
                .and_then(Value::as_array)
                .map(|a| crate::tldraw::answers(a))
                .unwrap_or_default(),
            respondents: count("respondents") as u64,
            responders: count("responders") as u64,
        });
    }
    out
}

pub(crate) fn presentation_text(bytes: &[u8], w: &mut Warnings<'_>) -> BTreeMap<(String, u32), String> {
    let mut out = BTreeMap::new();
    let Some(value) = json(bytes, w) else { return out };
    let Some(presentations) = value.as_object() else {
        w.file("top level is not a JSON object; ignored");
        return out;
    };
    for (presentation, slides) in presentations {
        let Some(slides) = slides.as_object() else {
            w.push(format!("[{}]", shorten(presentation)), "not an object of slides; skipped");
            continue;
        };
        for (slide, text) in slides {
            let number = slide.strip_prefix("slide-").and_then(|n| n.parse::<u32>().ok());
            match (number, text.as_str()) {
                (Some(n), Some(t)) => {
                    out.insert((presentation.clone(), n), t.to_owned());
                }
                _ => w.push(
                    format!("[{}][{}]", shorten(presentation), shorten(slide)),
                    "not a `slide-N` with a text; skipped",
                ),
            }
        }
    }
    out
}
