//! The event files beside `shapes.svg`: `metadata.xml`, `panzooms.xml`, `cursor.xml`, `deskshare.xml` and the
//! chat in `slides_new.xml`.
//!
//! - `panzooms.xml` (Ruby Builder): `<recording id="panzoom_events" tldraw="true|false">` with
//!   `<event timestamp><viewBox>x y w h</viewBox></event>` step changes. Before 2.6 (no `tldraw` attribute, or
//!   `false`) `x y w h` is the visible part of the slide in slide pixels (often `-0.0`). With `tldraw="true"`
//!   (2.6+) `x y` is the tldraw camera point and `w h` are still slide pixels (bbb-playback scales them by the
//!   slide's tldraw factor and hands `x y` to `setCamera` unchanged). Very old files carry an `orig` attribute.
//! - `cursor.xml`: `<event timestamp><cursor>x y</cursor></event>`; 2.0–2.5: relative to the current view
//!   (0..1); `tldraw="true"`: absolute tldraw page coordinates; `-1 -1` (any negative) = hidden.
//! - `deskshare.xml`: `<event start_timestamp stop_timestamp video_width video_height/>`.
//! - `slides_new.xml`: `<popcorn><chattimeline in direction name message target [out senderRole
//!   chatEmphasizedText]/>`; `out` is when the chat was cleared.
//! - `metadata.xml`: `<recording><id/><start_time/><end_time/><participants/><meeting id externalId name/>
//!   <meta>…</meta><playback><duration>ms</duration>…</playback></recording>`.

use std::collections::BTreeMap;

use crate::model::{ChatMessage, CursorMove, Deskshare, Point, RecordingInfo, Space, ViewBox, ViewChange};
use crate::time::{Warnings, parse_number, parse_seconds};
use crate::xml::{child_text, children, describe};
use crate::{Time, xml};

/// Parses the XML of one file, or says why not.
fn document<'a>(text: &'a str, w: &mut Warnings<'_>) -> Option<roxmltree::Document<'a>> {
    match xml::parse(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            w.file(format!("not well-formed XML ({e}); ignored"));
            None
        }
    }
}

fn decoded(bytes: &[u8], w: &mut Warnings<'_>) -> Option<String> {
    let (text, lossy) = xml::text(bytes);
    if lossy {
        w.file("not valid UTF-8; invalid bytes replaced");
    }
    if text.trim().is_empty() {
        w.file("empty file");
        return None;
    }
    Some(text)
}

fn space_of(root: roxmltree::Node<'_, '_>) -> Space {
    if root.attribute("tldraw").is_some_and(|v| v.trim() == "true") { Space::Tldraw } else { Space::Slide }
}

fn event_time(event: roxmltree::Node<'_, '_>, name: &str, w: &mut Warnings<'_>) -> Option<Time> {
    match event.attribute(name).map(parse_seconds) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            w.push(describe(event), format!("`{name}`: {e}; event skipped"));
            None
        }
        None => {
            w.push(describe(event), format!("no `{name}`; event skipped"));
            None
        }
    }
}

fn numbers(text: &str) -> Result<Vec<f64>, String> {
    text.split_ascii_whitespace().map(parse_number).collect()
}

pub(crate) fn panzooms(bytes: &[u8], w: &mut Warnings<'_>) -> (Vec<ViewChange>, Space) {
    let Some(text) = decoded(bytes, w) else { return (Vec::new(), Space::Slide) };
    let Some(doc) = document(&text, w) else { return (Vec::new(), Space::Slide) };
    let root = doc.root_element();
    let mut out = Vec::new();
    for event in children(root, "event") {
        let Some(at) = event_time(event, "timestamp", w) else { continue };
        let Some(text) = child_text(event, "viewBox") else {
            w.push(describe(event), "no <viewBox>; event skipped");
            continue;
        };
        match numbers(text).as_deref() {
            Ok([x, y, width, height]) if *width > 0.0 && *height > 0.0 => {
                // `-0.0` is common; normalise it so equal views compare equal.
                let view = ViewBox { x: *x + 0.0, y: *y + 0.0, width: *width, height: *height };
                out.push(ViewChange { at, view });
            }
            Ok([_, _, _, _]) => w.push(describe(event), format!("empty view box `{text}`; event skipped")),
            Ok(v) => w.push(describe(event), format!("view box has {} numbers, not 4; event skipped", v.len())),
            Err(e) => w.push(describe(event), format!("view box: {e}; event skipped")),
        }
    }
    (out, space_of(root))
}

pub(crate) fn cursor(bytes: &[u8], w: &mut Warnings<'_>) -> (Vec<CursorMove>, Space) {
    let Some(text) = decoded(bytes, w) else { return (Vec::new(), Space::Slide) };
    let Some(doc) = document(&text, w) else { return (Vec::new(), Space::Slide) };
    let root = doc.root_element();
    let mut out = Vec::new();
    for event in children(root, "event") {
        let Some(at) = event_time(event, "timestamp", w) else { continue };
        let Some(text) = child_text(event, "cursor") else {
            w.push(describe(event), "no <cursor>; event skipped");
            continue;
        };
        match numbers(text).as_deref() {
            Ok([x, y]) => {
                let position = (*x >= 0.0 && *y >= 0.0).then(|| Point::new(*x, *y));
                out.push(CursorMove { at, position });
            }
            Ok(v) => w.push(describe(event), format!("cursor has {} numbers, not 2; event skipped", v.len())),
            Err(e) => w.push(describe(event), format!("cursor: {e}; event skipped")),
        }
    }
    (out, space_of(root))
}

pub(crate) fn deskshare(bytes: &[u8], w: &mut Warnings<'_>) -> Vec<Deskshare> {
    let Some(text) = decoded(bytes, w) else { return Vec::new() };
    let Some(doc) = document(&text, w) else { return Vec::new() };
    let mut out = Vec::new();
    for event in children(doc.root_element(), "event") {
        let (Some(start), Some(end)) =
            (event_time(event, "start_timestamp", w), event_time(event, "stop_timestamp", w))
        else {
            continue;
        };
        if end <= start {
            w.push(describe(event), format!("stops at {end}, not after its start {start}; skipped"));
            continue;
        }
        let size = |name: &str, w: &mut Warnings<'_>| match event.attribute(name) {
            None => None,
            Some(v) => match parse_number(v) {
                Ok(n) if n >= 1.0 && n <= f64::from(u32::MAX) => Some(n.round() as u32),
                _ => {
                    w.push(describe(event), format!("`{name}` `{}` is not a size; ignored", crate::time::shorten(v)));
                    None
                }
            },
        };
        let video_width = size("video_width", w);
        let video_height = size("video_height", w);
        out.push(Deskshare { start, end, video_width, video_height });
    }
    out
}

pub(crate) fn chat(bytes: &[u8], w: &mut Warnings<'_>) -> Vec<ChatMessage> {
    let Some(text) = decoded(bytes, w) else { return Vec::new() };
    let Some(doc) = document(&text, w) else { return Vec::new() };
    let mut out = Vec::new();
    for line in children(doc.root_element(), "chattimeline") {
        let Some(at) = event_time(line, "in", w) else { continue };
        let cleared = match line.attribute("out").map(parse_seconds) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                w.push(describe(line), format!("`out`: {e}; taken as never cleared"));
                None
            }
            None => None,
        };
        let raw = line.attribute("message").unwrap_or_default();
        out.push(ChatMessage {
            at,
            cleared,
            sender: line.attribute("name").unwrap_or_default().to_owned(),
            message: decode_entities(&strip_links(raw)),
            moderator: line.attribute("senderRole") == Some("MODERATOR"),
            emphasized: line.attribute("chatEmphasizedText") == Some("true"),
        });
    }
    out
}

/// BBB writes links as `<a href="URL" rel="nofollow"><u>URL</u></a>`; the player shows the bare URL.
fn strip_links(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("<a href=\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 9..];
        let parsed = after.split_once("\" rel=\"nofollow\"><u>").and_then(|(url, tail)| {
            let close = format!("{url}</u></a>");
            tail.strip_prefix(close.as_str()).map(|tail| (url, tail))
        });
        match parsed {
            Some((url, tail)) => {
                out.push_str(url);
                rest = tail;
            }
            None => {
                out.push_str("<a href=\"");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Chat messages are escaped twice by BBB; the player undoes the second escaping of these five entities.
fn decode_entities(s: &str) -> String {
    const ENTITIES: &[(&str, char)] = &[
        ("&quot;", '"'),
        ("&#34;", '"'),
        ("&apos;", '\''),
        ("&#39;", '\''),
        ("&lt;", '<'),
        ("&#60;", '<'),
        ("&gt;", '>'),
        ("&#62;", '>'),
        ("&amp;", '&'),
        ("&#38;", '&'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        for (entity, c) in ENTITIES {
            if let Some(after) = tail.strip_prefix(entity) {
                out.push(*c);
                rest = after;
                continue 'outer;
            }
        }
        out.push('&');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn metadata(bytes: &[u8], w: &mut Warnings<'_>) -> RecordingInfo {
    let mut info = RecordingInfo::default();
    let Some(text) = decoded(bytes, w) else { return info };
    let Some(doc) = document(&text, w) else { return info };
    let root = doc.root_element();
    if root.tag_name().name() != "recording" {
        w.push(describe(root), "root element is not <recording>; nothing read");
        return info;
    }
    info.record_id = child_text(root, "id").filter(|s| !s.is_empty()).map(str::to_owned);
    let millis = |name: &str, w: &mut Warnings<'_>| -> Option<i64> {
        let text = child_text(root, name)?;
        match text.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                w.push(format!("<{name}>"), format!("`{}` is not a time in ms; ignored", crate::time::shorten(text)));
                None
            }
        }
    };
    info.start_time = millis("start_time", w);
    info.end_time = millis("end_time", w);
    info.participants = child_text(root, "participants").and_then(|p| p.parse().ok());
    if let Some(meeting) = children(root, "meeting").next() {
        info.meeting_id = meeting.attribute("externalId").map(str::to_owned);
        info.meeting_name = meeting.attribute("name").map(str::to_owned);
    }
    let mut meta = BTreeMap::new();
    for node in children(root, "meta").flat_map(|m| m.children().filter(roxmltree::Node::is_element)) {
        let value: String = node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
        meta.insert(node.tag_name().name().to_owned(), value.trim().to_owned());
    }
    // The player prefers meta meetingName (the name as the front-end gave it).
    if let Some(name) = meta.get("meetingName").filter(|n| !n.is_empty()) {
        info.meeting_name = Some(name.clone());
    }
    info.bbb_version = child_text(root, "bbb_version").or_else(|| root.attribute("bbb_version")).map(str::to_owned);
    info.meta = meta;
    for playback in children(root, "playback") {
        let format = child_text(playback, "format").unwrap_or("presentation");
        if format != "presentation" {
            continue;
        }
        if let Some(d) = child_text(playback, "duration") {
            match d.parse::<u64>() {
                Ok(ms) => info.duration = Some(Time::from_millis(ms)),
                Err(_) => w.push(
                    describe(playback),
                    format!("<duration> `{}` is not a number of ms; ignored", crate::time::shorten(d)),
                ),
            }
        }
    }
    if info.duration.is_none() {
        w.file("no <playback><duration>; the duration comes from the events");
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_markup_is_undone_like_the_player() {
        assert_eq!(
            strip_links(r#"voir <a href="https://x.org/a?b=1" rel="nofollow"><u>https://x.org/a?b=1</u></a> !"#),
            "voir https://x.org/a?b=1 !"
        );
        assert_eq!(strip_links(r#"<a href="x" broken"#), r#"<a href="x" broken"#);
        assert_eq!(decode_entities("a &amp;lt; b &#39;c&#39; &unknown; &"), "a &lt; b 'c' &unknown; &");
    }
}
