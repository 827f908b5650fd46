//! Which files make up a recording's playback: pure, no I/O.
//!
//! The list has two sources. [`first_level`] is fixed per format: what BBB's publish scripts write and what the
//! players ask for by name (bbb-playback `src/config.js` `files` and its media probes; the `video` format's
//! `index.html`, `video-N.*`, `video.xml`, captions). [`references_of`] reads one fetched file and returns what
//! *it* names: slide images, thumbnails and slide texts in `shapes.svg`, caption files in `captions.json`, slide
//! texts in `presentation_text.json`, scripts and styles in `index.html`, fonts in CSS. [`derive_all`] closes the
//! list over a [`PublishedFiles`] source, which is how tests check an archive from the files themselves.
//!
//! Every reference goes through [`resolve_reference`]: only files inside the recording's own directory are ever
//! followed. Parent components that leave it, absolute paths elsewhere, other hosts, `file:` and other schemes,
//! NUL, backslashes and control characters become a [`RefWarning`] instead of a request.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use bbb_presentation::PublishedFiles;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// A playback format whose published files can be archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `/presentation/<recordID>/`, played by bbb-playback (`/playback/presentation/2.3/<recordID>`).
    Presentation,
    /// `/playback/video/<recordID>/`: a self-contained page with its own player (`index.html`).
    Video,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Presentation => "presentation",
            Self::Video => "video",
        }
    }

    /// The format's directory relative to the archive root, which is also its URL path on a BBB server:
    /// `presentation/<id>` (BBB: `/var/bigbluebutton/published/presentation/<id>`) and `playback/video/<id>`
    /// (BBB: `/var/bigbluebutton/published/video/<id>`, served under `/playback/video/`). `None` when the record
    /// ID is not a plain name (it becomes a directory name).
    pub fn dir(self, record_id: &str) -> Option<String> {
        is_plain_component(record_id).then(|| match self {
            Self::Presentation => format!("presentation/{record_id}"),
            Self::Video => format!("playback/video/{record_id}"),
        })
    }

    /// Where the format's published files are on a server whose web root is `web_root` (ends with `/`).
    pub fn source_base(self, web_root: &Url, record_id: &str) -> Option<Url> {
        let dir = self.dir(record_id)?;
        web_root.join(&format!("{dir}/")).ok()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a file matters, which decides what a 404 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// Without it there is no playback (`metadata.xml`, the video page): a 404 fails the recording.
    Required,
    /// Named by a published file: a 404 is kept as "absent" and reported, since the source itself is broken.
    Referenced,
    /// Asked for on the chance it exists (optional files, media variants, derived thumbnails): a 404 is normal.
    Probe,
}

/// One file to fetch, relative to the format's directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Wanted {
    pub path: String,
    pub need: Need,
    /// The file whose content named this one (`None` for first-level files).
    pub referenced_by: Option<String>,
}

impl Wanted {
    fn first(path: &str, need: Need) -> Self {
        Self { path: path.to_owned(), need, referenced_by: None }
    }
}

/// A reference in a published file that is not followed, with the reason. Hostile or broken references are
/// reported, never fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RefWarning {
    /// The published file (relative to the format's directory) that holds the reference.
    pub file: String,
    /// The reference as written (shortened, without query string).
    pub reference: String,
    pub reason: String,
}

impl fmt::Display for RefWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reference.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {:?}: {}", self.file, self.reference, self.reason)
        }
    }
}

/// The first-level files of the presentation format: what bbb-playback loads by name (`src/config.js`), its
/// media probes (`video/webcams.{mp4,webm}`, `audio/audio.*`, `deskshare/deskshare.{mp4,webm}`), and the
/// `audio.ogg` that BBB 2.x publishes for the older player.
pub const PRESENTATION_FILES: &[(&str, Need)] = &[
    ("metadata.xml", Need::Required),
    ("shapes.svg", Need::Probe),
    ("panzooms.xml", Need::Probe),
    ("cursor.xml", Need::Probe),
    ("deskshare.xml", Need::Probe),
    ("slides_new.xml", Need::Probe),
    ("captions.json", Need::Probe),
    ("notes.html", Need::Probe),
    ("polls.json", Need::Probe),
    ("presentation_text.json", Need::Probe),
    ("tldraw.json", Need::Probe),
    ("external_videos.json", Need::Probe),
    ("video/webcams.webm", Need::Probe),
    ("video/webcams.mp4", Need::Probe),
    ("audio/audio.webm", Need::Probe),
    ("audio/audio.mp4", Need::Probe),
    ("audio/audio.ogg", Need::Probe),
    ("deskshare/deskshare.webm", Need::Probe),
    ("deskshare/deskshare.mp4", Need::Probe),
];

/// The first-level files of the video format (record-and-playback `video/scripts/publish/video.rb`): the page,
/// the rendered video under each name BBB has used, the chat (`video.xml`, loaded by `js/video.js`), captions and
/// metadata. The page's scripts and styles come from [`references_of`] on `index.html`.
pub const VIDEO_FILES: &[(&str, Need)] = &[
    ("index.html", Need::Required),
    ("metadata.xml", Need::Probe),
    ("video.xml", Need::Probe),
    ("captions.json", Need::Probe),
    ("video-0.m4v", Need::Probe),
    ("video-0.webm", Need::Probe),
    ("video-0.mp4", Need::Probe),
    ("capture.m4v", Need::Probe),
];

/// The video files of the video format: at least one must exist for the recording to be playable.
pub const VIDEO_MEDIA: &[&str] = &["video-0.m4v", "video-0.webm", "video-0.mp4", "capture.m4v"];

/// The fixed files of `format`, before anything is read.
pub fn first_level(format: Format) -> Vec<Wanted> {
    let list = match format {
        Format::Presentation => PRESENTATION_FILES,
        Format::Video => VIDEO_FILES,
    };
    list.iter().map(|(path, need)| Wanted::first(path, *need)).collect()
}

/// Whether [`references_of`] looks inside `path`: only files that can name other files are read again.
pub fn is_scanned(format: Format, path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match format {
        Format::Presentation => {
            matches!(name, "shapes.svg" | "captions.json" | "presentation_text.json" | "metadata.xml")
                || (path.ends_with(".svg") && path.starts_with("presentation/"))
        }
        Format::Video => matches!(path, "index.html" | "captions.json" | "metadata.xml") || path.ends_with(".css"),
    }
}

/// The files that the file at `path` (relative to the format's directory) names, and the references it holds
/// that are not followed. `base` is the format's source URL (e.g. `https://bbb.example/presentation/<id>/`):
/// absolute URLs inside it are accepted as the relative files they are; without it every absolute URL is
/// refused. Never panics: unreadable content is one warning.
pub fn references_of(format: Format, path: &str, bytes: &[u8], base: Option<&Url>) -> (Vec<Wanted>, Vec<RefWarning>) {
    let mut out = Refs { from: path, base, wanted: Vec::new(), warnings: Vec::new() };
    let name = path.rsplit('/').next().unwrap_or(path);
    match (format, name) {
        (_, "captions.json") if !path.contains('/') => out.captions(bytes),
        (_, "metadata.xml") if !path.contains('/') => out.metadata(bytes),
        (Format::Presentation, "presentation_text.json") if !path.contains('/') => out.presentation_text(bytes),
        (Format::Presentation, _) if path.ends_with(".svg") => out.svg(bytes, path == "shapes.svg"),
        (Format::Video, "index.html") if !path.contains('/') => out.html(bytes),
        (Format::Video, _) if path.ends_with(".css") => out.css(bytes),
        _ => {}
    }
    (out.wanted, out.warnings)
}

/// The complete file list of `format` as it follows from the files themselves: [`first_level`], then the
/// references of every file `files` has, until nothing new appears. Files `files` does not have are still
/// listed (the caller decides what their absence means).
pub fn derive_all<P: PublishedFiles + ?Sized>(
    format: Format,
    files: &P,
    base: Option<&Url>,
) -> (Vec<Wanted>, Vec<RefWarning>) {
    let mut queue = first_level(format);
    let mut seen: HashSet<String> = queue.iter().map(|w| w.path.clone()).collect();
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    while let Some(wanted) = queue.pop() {
        if is_scanned(format, &wanted.path)
            && let Some(bytes) = files.get(&wanted.path)
        {
            let (refs, w) = references_of(format, &wanted.path, &bytes, base);
            warnings.extend(w);
            for r in refs {
                if seen.insert(r.path.clone()) {
                    queue.push(r);
                }
            }
        }
        all.push(wanted);
    }
    all.sort_by(|a, b| a.path.cmp(&b.path));
    warnings.sort();
    warnings.dedup();
    (all, warnings)
}

/// What a reference in a published file points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A file inside the recording's directory, relative to it, percent-decoded (its name on disk).
    File(String),
    /// Not a file to copy: empty, a fragment (`#id`), inline `data:`.
    NotAFile,
    /// Refused, with the reason.
    Rejected(String),
}

/// Longest accepted reference path, far beyond anything BBB writes.
const MAX_PATH: usize = 1024;

/// Resolves `reference`, found in the file `from` (relative to the format's directory), the way a browser would,
/// and keeps it only if it stays inside the recording's directory. See the module docs for what is refused.
pub fn resolve_reference(from: &str, reference: &str, base: Option<&Url>) -> Resolved {
    let r = reference.trim_matches(|c: char| c.is_ascii_whitespace());
    if r.is_empty() || r.starts_with('#') {
        return Resolved::NotAFile;
    }
    if r.chars().any(|c| c == '\0' || c == '\\' || c.is_control()) {
        return Resolved::Rejected("contains NUL, a backslash or a control character".into());
    }
    if r.len() > MAX_PATH {
        return Resolved::Rejected("too long".into());
    }
    let lower = r.to_ascii_lowercase();
    if lower.starts_with("data:") {
        return Resolved::NotAFile;
    }
    let rel_to_base: Option<String> = if has_scheme(r) || r.starts_with("//") {
        let is_web = lower.starts_with("http://") || lower.starts_with("https://") || r.starts_with("//");
        if !is_web {
            return Resolved::Rejected("not an http(s) URL".into());
        }
        let Some(base) = base else {
            return Resolved::Rejected("absolute URL (no source to compare with)".into());
        };
        let Ok(url) = base.join(r) else { return Resolved::Rejected("not a valid URL".into()) };
        if url.host_str() != base.host_str() || url.port_or_known_default() != base.port_or_known_default() {
            return Resolved::Rejected("URL on another host".into());
        }
        match url.path().strip_prefix(base.path()) {
            Some(rest) => Some(rest.to_owned()),
            None => return Resolved::Rejected("URL outside the recording's directory".into()),
        }
    } else if r.starts_with('/') {
        match base.and_then(|b| r.strip_prefix(b.path())) {
            Some(rest) => Some(rest.to_owned()),
            None => return Resolved::Rejected("absolute path outside the recording's directory".into()),
        }
    } else {
        None
    };
    let (relative, from_dir) = match &rel_to_base {
        Some(rest) => (rest.as_str(), ""),
        None => (r, from.rsplit_once('/').map_or("", |(dir, _)| dir)),
    };
    let relative = relative.split(['?', '#']).next().unwrap_or_default();
    let Ok(decoded) = percent_encoding::percent_decode_str(relative).decode_utf8() else {
        return Resolved::Rejected("percent-encoding is not UTF-8".into());
    };
    if decoded.chars().any(|c| c == '\0' || c == '\\' || c.is_control()) {
        return Resolved::Rejected("contains NUL, a backslash or a control character".into());
    }
    let mut parts: Vec<&str> = from_dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Resolved::Rejected("leaves the recording's directory (..)".into());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() || decoded.ends_with('/') {
        return Resolved::Rejected("names a directory, not a file".into());
    }
    if parts.last().is_some_and(|p| p.ends_with(".part")) {
        return Resolved::Rejected("`.part` names are reserved for partial downloads".into());
    }
    Resolved::File(parts.join("/"))
}

/// `scheme:` at the start (RFC 3986: a letter, then letters, digits, `+ - .`). Catches `C:` too.
fn has_scheme(r: &str) -> bool {
    let Some((scheme, _)) = r.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !scheme.contains('/')
}

/// A name usable as one path component: record IDs, locales, presentation IDs.
pub fn is_plain_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Shortens a reference for a warning and drops any query string (it may hold a token).
fn shown(reference: &str) -> String {
    let r = reference.split('?').next().unwrap_or_default();
    if r.chars().count() > 120 { format!("{}…", r.chars().take(120).collect::<String>()) } else { r.to_owned() }
}

struct Refs<'a> {
    from: &'a str,
    base: Option<&'a Url>,
    wanted: Vec<Wanted>,
    warnings: Vec<RefWarning>,
}

impl Refs<'_> {
    fn warn(&mut self, reference: &str, reason: impl Into<String>) {
        self.warnings.push(RefWarning {
            file: self.from.to_owned(),
            reference: shown(reference),
            reason: reason.into(),
        });
    }

    fn add(&mut self, reference: &str, need: Need) -> Option<String> {
        match resolve_reference(self.from, reference, self.base) {
            Resolved::File(path) => {
                if !self.wanted.iter().any(|w| w.path == path) {
                    self.wanted.push(Wanted { path: path.clone(), need, referenced_by: Some(self.from.to_owned()) });
                }
                Some(path)
            }
            Resolved::NotAFile => None,
            Resolved::Rejected(reason) => {
                self.warn(reference, format!("not followed: {reason}"));
                None
            }
        }
    }

    fn json(&mut self, bytes: &[u8]) -> Option<Value> {
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.warn("", format!("not valid JSON ({e}); its references are unknown"));
                None
            }
        }
    }

    /// `[{"locale": "de", "localeName": "Deutsch"}]` → `caption_de.vtt` (bbb-playback and the video page).
    fn captions(&mut self, bytes: &[u8]) {
        let Some(value) = self.json(bytes) else { return };
        let Some(list) = value.as_array() else {
            self.warn("", "top level is not a list; no caption files");
            return;
        };
        for entry in list {
            match entry.get("locale").and_then(Value::as_str) {
                Some(locale) if is_plain_component(locale) => {
                    self.add(&format!("caption_{locale}.vtt"), Need::Referenced);
                }
                Some(locale) => self.warn(locale, "not followed: locale is not a plain name"),
                None => self.warn("", "a caption entry without `locale`"),
            }
        }
    }

    /// `{"<presentation>": {"slide-1": "text"}}` → `presentation/<presentation>/textfiles/slide-1.txt`.
    fn presentation_text(&mut self, bytes: &[u8]) {
        let Some(value) = self.json(bytes) else { return };
        let Some(presentations) = value.as_object() else {
            self.warn("", "top level is not an object; no text files");
            return;
        };
        for (presentation, slides) in presentations {
            if !is_plain_component(presentation) {
                self.warn(presentation, "not followed: presentation id is not a plain name");
                continue;
            }
            let Some(slides) = slides.as_object() else { continue };
            for slide in slides.keys() {
                if is_plain_component(slide) {
                    self.add(&format!("presentation/{presentation}/textfiles/{slide}.txt"), Need::Referenced);
                } else {
                    self.warn(slide, "not followed: slide name is not a plain name");
                }
            }
        }
    }

    /// The preview thumbnails listed in `metadata.xml` (absolute URLs on the source server).
    fn metadata(&mut self, bytes: &[u8]) {
        let Some(doc) = self.xml(bytes) else { return };
        let urls: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("image") && n.ancestors().any(|a| a.has_tag_name("preview")))
            .filter_map(|n| n.text().map(str::to_owned))
            .collect();
        for url in urls {
            self.add(&url, Need::Probe);
        }
    }

    fn xml<'b>(&mut self, bytes: &'b [u8]) -> Option<roxmltree::Document<'b>> {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                self.warn("", "not UTF-8; its references are unknown");
                return None;
            }
        };
        if bbb_presentation::declares_entities(text) {
            // roxmltree would expand them at each reference, without a size limit (see `declares_entities`).
            self.warn("", "its DOCTYPE declares entities, which BBB never writes; its references are unknown");
            return None;
        }
        let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
        match roxmltree::Document::parse_with_options(text, options) {
            Ok(doc) => Some(doc),
            Err(e) => {
                self.warn("", format!("not well-formed XML ({e}); its references are unknown"));
                None
            }
        }
    }

    /// Every `<image>`'s `xlink:href`/`href`. In `shapes.svg` also each slide's `text` file (the 2.0 player's
    /// slide text) and the thumbnail bbb-playback derives from it (`slide-N` → `thumbnails/thumb-N`).
    fn svg(&mut self, bytes: &[u8], is_shapes: bool) {
        const XLINK: &str = "http://www.w3.org/1999/xlink";
        let Some(doc) = self.xml(bytes) else { return };
        let mut found: Vec<(String, Option<String>, bool)> = Vec::new();
        for node in doc.descendants().filter(|n| n.is_element() && n.tag_name().name() == "image") {
            let href = node.attribute((XLINK, "href")).or_else(|| node.attribute("href"));
            let is_slide = node.parent_element().is_some_and(|p| p == doc.root_element());
            if let Some(href) = href {
                found.push((href.to_owned(), node.attribute("text").map(str::to_owned), is_slide));
            }
        }
        for (href, text, is_slide) in found {
            let need = Need::Referenced;
            let path = self.add(&href, need);
            if !is_shapes {
                continue;
            }
            if let Some(text) = text {
                self.add(&text, Need::Referenced);
            }
            if let (Some(path), true) = (path, is_slide) {
                for derived in derived_slide_files(&path) {
                    self.add(&derived, Need::Probe);
                }
            }
        }
    }

    /// Resources of the video page: `<script src>`, `<link href>` (stylesheets, icons), `<source>`/`<track>`/
    /// `<img>`/`<audio>`/`<video>` `src` and `poster`. Plain links (`<a href>`) are not resources.
    fn html(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for (tag, attrs) in html_tags(&text) {
            let get = |name: &str| attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let mut refs = Vec::new();
            match tag.as_str() {
                "script" | "img" | "source" | "track" | "audio" | "video" | "iframe" | "embed" => {
                    refs.extend(get("src"));
                    refs.extend(get("poster"));
                }
                "link" => {
                    let rel = get("rel").unwrap_or_default().to_ascii_lowercase();
                    let resource = ["stylesheet", "icon", "preload", "prefetch", "manifest", "apple-touch-icon"];
                    if rel.split_ascii_whitespace().any(|r| resource.contains(&r)) {
                        refs.extend(get("href"));
                    }
                }
                _ => {}
            }
            for r in refs {
                self.add(&r, Need::Referenced);
            }
        }
    }

    /// `url(...)` and `@import "..."` in a stylesheet, relative to the stylesheet.
    fn css(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for r in css_urls(&text) {
            self.add(&r, Need::Referenced);
        }
    }
}

/// The files BBB publishes next to a slide image: its thumbnail (bbb-playback `buildThumbnails` replaces
/// `slide-` by `thumbnails/thumb-`), and for a BBB ≥ 2.6 `svgs/slideN.svg` also the PNG slide and thumbnail.
fn derived_slide_files(path: &str) -> Vec<String> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let join = |file: String| if dir.is_empty() { file } else { format!("{dir}/{file}") };
    let mut out = Vec::new();
    if let Some(rest) = name.strip_prefix("slide-") {
        let number = rest.split('.').next().unwrap_or_default();
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            out.push(join(format!("thumbnails/thumb-{number}.png")));
        }
    } else if let (Some(number), Some(parent)) =
        (name.strip_prefix("slide").and_then(|n| n.strip_suffix(".svg")), dir.strip_suffix("/svgs"))
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
    {
        out.push(format!("{parent}/slide-{number}.png"));
        out.push(format!("{parent}/thumbnails/thumb-{number}.png"));
    }
    out
}

/// Start tags of an HTML document as (lower-case name, attributes with entity-decoded values); comments,
/// scripts' bodies and malformed markup are skipped, never a panic.
fn html_tags(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        i += off + 1;
        if text[i..].starts_with("!--") {
            match text[i..].find("-->") {
                Some(end) => i += end + 3,
                None => break,
            }
            continue;
        }
        let name_len = text[i..].bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
        if name_len == 0 {
            continue;
        }
        let name = text[i..i + name_len].to_ascii_lowercase();
        i += name_len;
        let mut attrs = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'>' {
                break;
            }
            let key_len = text[i..]
                .bytes()
                .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
                .count()
                .max(1);
            let key = text[i..(i + key_len).min(text.len())].to_ascii_lowercase();
            i += key_len;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                    let quote = bytes[i] as char;
                    i += 1;
                    let end = text[i..].find(quote).map_or(text.len(), |e| i + e);
                    value = text[i..end].to_owned();
                    i = (end + 1).min(text.len());
                } else {
                    let len = text[i..].bytes().take_while(|b| !b.is_ascii_whitespace() && *b != b'>').count();
                    value = text[i..i + len].to_owned();
                    i += len;
                }
            }
            attrs.push((key, decode_entities(&value)));
        }
        // Skip the body of raw-text elements so that markup inside scripts is not read as tags.
        if matches!(name.as_str(), "script" | "style")
            && let Some(end) = text[i.min(text.len())..].to_ascii_lowercase().find(&format!("</{name}"))
        {
            out.push((name, attrs));
            i += end;
            continue;
        }
        out.push((name, attrs));
    }
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `url(...)` (quoted or not) and `@import "..."` targets of a stylesheet, comments skipped.
fn css_urls(text: &str) -> Vec<String> {
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        clean.push_str(&rest[..start]);
        rest = rest[start + 2..].find("*/").map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    clean.push_str(rest);
    let mut out = Vec::new();
    let lower = clean.to_ascii_lowercase();
    let mut i = 0;
    while let Some(off) = lower[i..].find("url(") {
        let start = i + off + 4;
        let Some(len) = clean[start..].find(')') else { break };
        let inner = clean[start..start + len].trim().trim_matches(|c| c == '"' || c == '\'');
        out.push(inner.to_owned());
        i = start + len;
    }
    let mut i = 0;
    while let Some(off) = lower[i..].find("@import") {
        let start = i + off + 7;
        let after = clean[start..].trim_start();
        if let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'')
            && let Some(end) = after[1..].find(quote)
        {
            out.push(after[1..1 + end].to_owned());
        }
        i = start;
    }
    out
}

/// A [`PublishedFiles`] over an in-memory map keyed by path (handy for tests and for callers that already hold
/// the bytes).
pub type FileMap = BTreeMap<String, Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://bbb.example.org/presentation/abc-123/").unwrap()
    }

    fn file(from: &str, r: &str) -> Resolved {
        resolve_reference(from, r, Some(&base()))
    }

    #[test]
    fn plain_references_resolve_inside_the_recording() {
        assert_eq!(
            file("shapes.svg", "presentation/p1/slide-1.png"),
            Resolved::File("presentation/p1/slide-1.png".into())
        );
        assert_eq!(
            file("shapes.svg", "./presentation/p1/slide-1.png"),
            Resolved::File("presentation/p1/slide-1.png".into())
        );
        assert_eq!(file("css/video.css", "../fonts/a.woff?v=2#x"), Resolved::File("fonts/a.woff".into()));
        assert_eq!(
            file("shapes.svg", "presentation/p%201/slide-1.png"),
            Resolved::File("presentation/p 1/slide-1.png".into())
        );
        assert_eq!(
            file("metadata.xml", "https://bbb.example.org/presentation/abc-123/presentation/p1/thumbnails/thumb-1.png"),
            Resolved::File("presentation/p1/thumbnails/thumb-1.png".into())
        );
        assert_eq!(file("shapes.svg", "/presentation/abc-123/slide.png"), Resolved::File("slide.png".into()));
        assert_eq!(file("shapes.svg", "data:image/png;base64,AAAA"), Resolved::NotAFile);
        assert_eq!(file("shapes.svg", "#frag"), Resolved::NotAFile);
        assert_eq!(file("shapes.svg", "  "), Resolved::NotAFile);
    }

    #[test]
    fn hostile_references_are_rejected() {
        let hostile = [
            "../../etc/passwd",
            "presentation/../../x.png",
            "%2e%2e/%2e%2e/etc/passwd",
            "/abs.png",
            "/presentation/other-id/slide-1.png",
            "http://evil/x.png",
            "//evil/x.png",
            "https://bbb.example.org/presentation/other/slide-1.png",
            "https://bbb.example.org:8443/presentation/abc-123/slide-1.png",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "C:/Windows/win.ini",
            "presentation\\..\\x.png",
            "a\0b.png",
            "presentation%00x.png",
            "presentation/",
            "video/webcams.webm.part",
        ];
        for r in hostile {
            assert!(matches!(file("shapes.svg", r), Resolved::Rejected(_)), "{r:?} → {:?}", file("shapes.svg", r));
        }
        assert!(matches!(
            resolve_reference("shapes.svg", "https://bbb.example.org/presentation/abc-123/x.png", None),
            Resolved::Rejected(_)
        ));
    }

    const SHAPES: &str = r#"<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1">
  <image id="image1" class="slide" in="0" out="10" xlink:href="presentation/p1/slide-1.png" text="presentation/p1/textfiles/slide-1.txt"/>
  <image id="image2" class="slide" in="10" out="20" xlink:href="presentation/deskshare.png"/>
  <image id="image3" class="slide" in="20" out="30" href="presentation/p2/svgs/slide2.svg"/>
  <image id="image4" class="slide" in="30" out="40" xlink:href="../../etc/passwd"/>
  <image id="image5" class="slide" in="40" out="50" xlink:href="http://evil/x.png"/>
  <image id="image6" class="slide" in="50" out="60" xlink:href="/abs.png"/>
  <image id="logo"/>
  <g class="canvas" id="canvas1"><g class="shape"><image xlink:href="presentation/p1/poll_result1.svg"/></g></g>
</svg>"#;

    #[test]
    fn shapes_svg_names_slides_thumbnails_texts_and_poll_images() {
        let (wanted, warnings) = references_of(Format::Presentation, "shapes.svg", SHAPES.as_bytes(), Some(&base()));
        let paths: Vec<(&str, Need)> = wanted.iter().map(|w| (w.path.as_str(), w.need)).collect();
        assert_eq!(
            paths,
            [
                ("presentation/p1/slide-1.png", Need::Referenced),
                ("presentation/p1/textfiles/slide-1.txt", Need::Referenced),
                ("presentation/p1/thumbnails/thumb-1.png", Need::Probe),
                ("presentation/deskshare.png", Need::Referenced),
                ("presentation/p2/svgs/slide2.svg", Need::Referenced),
                ("presentation/p2/slide-2.png", Need::Probe),
                ("presentation/p2/thumbnails/thumb-2.png", Need::Probe),
                ("presentation/p1/poll_result1.svg", Need::Referenced),
            ]
        );
        let refused: Vec<&str> = warnings.iter().map(|w| w.reference.as_str()).collect();
        assert_eq!(refused, ["../../etc/passwd", "http://evil/x.png", "/abs.png"]);
        assert!(warnings.iter().all(|w| w.file == "shapes.svg"));
    }

    #[test]
    fn json_side_files_name_captions_and_texts() {
        let (w, warn) = references_of(
            Format::Presentation,
            "captions.json",
            br#"[{"locale":"de","localeName":"Deutsch"},{"locale":"../x"},{"localeName":"none"}]"#,
            None,
        );
        assert_eq!(w.iter().map(|w| w.path.as_str()).collect::<Vec<_>>(), ["caption_de.vtt"]);
        assert_eq!(warn.len(), 2);
        let (w, warn) = references_of(
            Format::Presentation,
            "presentation_text.json",
            br#"{"p1":{"slide-1":"a","slide-2":"b"},"..":{"slide-1":"x"},"p2":"junk"}"#,
            None,
        );
        let paths: Vec<&str> = w.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["presentation/p1/textfiles/slide-1.txt", "presentation/p1/textfiles/slide-2.txt"]);
        assert_eq!(warn.len(), 1);
    }

    #[test]
    fn malformed_files_give_a_warning_not_a_panic() {
        for (path, bytes) in [
            ("shapes.svg", &b"<svg><image"[..]),
            ("shapes.svg", &[0xff, 0xfe, 0x00][..]),
            ("captions.json", b"{not json"),
            ("captions.json", b"{\"a\":1}"),
            ("presentation_text.json", b"[]"),
            ("metadata.xml", b""),
        ] {
            let (wanted, warnings) = references_of(Format::Presentation, path, bytes, None);
            assert!(wanted.is_empty(), "{path}");
            assert_eq!(warnings.len(), 1, "{path}: {warnings:?}");
        }
        for junk in ["<", "<a", "<link rel=stylesheet href", "<script src='x.js'", "<!-- ", "<<<>>>", "<img src=\"é\">"]
        {
            let _ = references_of(Format::Video, "index.html", junk.as_bytes(), None);
            let _ = references_of(Format::Video, "css/a.css", junk.as_bytes(), None);
        }
    }

    #[test]
    fn entity_declarations_are_refused_before_expansion() {
        // Found by the hostile-input tests: roxmltree expanded a 1 MB entity at each of 3 000 references (6 GB).
        let big = "x".repeat(1 << 20);
        let refs = "&a;".repeat(3000);
        for path in ["shapes.svg", "metadata.xml", "presentation/p/svgs/slide1.svg"] {
            let doc = format!("<!DOCTYPE svg [<!ENTITY a \"{big}\">]><svg><image href=\"{refs}\"/></svg>");
            let start = std::time::Instant::now();
            let (wanted, warnings) = references_of(Format::Presentation, path, doc.as_bytes(), None);
            assert!(start.elapsed().as_secs() < 2, "{path}");
            assert!(wanted.is_empty(), "{path}");
            assert!(warnings.len() == 1 && warnings[0].reason.contains("entities"), "{path}: {warnings:?}");
        }
        let xxe = "<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><svg><image href=\"&x;\"/></svg>";
        assert!(references_of(Format::Presentation, "shapes.svg", xxe.as_bytes(), None).0.is_empty());
    }

    #[test]
    fn video_page_names_its_scripts_styles_and_tracks() {
        let html = r#"<!DOCTYPE html><html><head>
<link rel="stylesheet" href="css/normalize.css"><link rel="canonical" href="https://elsewhere/">
<script src="video-js/video.min.js"></script><script>var s = "<img src='nope.png'>";</script>
<!-- <script src="commented.js"></script> -->
</head><body><video id=video><source src="video-0.m4v" type="video/mp4"><track kind=captions src='caption_fr.vtt'></video>
<a href="http://bigbluebutton.org">BBB</a><script src="https://cdn.evil/x.js"></script></body></html>"#;
        let (wanted, warnings) = references_of(Format::Video, "index.html", html.as_bytes(), None);
        let paths: Vec<&str> = wanted.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["css/normalize.css", "video-js/video.min.js", "video-0.m4v", "caption_fr.vtt"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let (wanted, _) = references_of(
            Format::Video,
            "css/video.css",
            b"/* url(skip.png) */ @import 'base.css'; a { background: url( \"../img/a.png\" ) } b { src: url(data:x) }",
            None,
        );
        let paths: Vec<&str> = wanted.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["img/a.png", "css/base.css"]);
    }

    #[test]
    fn derive_all_closes_over_the_files() {
        let mut files = FileMap::new();
        files.insert("metadata.xml".into(), b"<recording/>".to_vec());
        files.insert("shapes.svg".into(), SHAPES.as_bytes().to_vec());
        files.insert(
            "presentation/p2/svgs/slide2.svg".into(),
            br#"<svg xmlns="http://www.w3.org/2000/svg"><image href="embedded.png"/></svg>"#.to_vec(),
        );
        let (all, warnings) = derive_all(Format::Presentation, &files, Some(&base()));
        let paths: HashSet<&str> = all.iter().map(|w| w.path.as_str()).collect();
        assert!(paths.contains("presentation/p2/svgs/embedded.png"));
        assert!(paths.contains("video/webcams.webm"));
        assert!(paths.contains("presentation/p1/thumbnails/thumb-1.png"));
        assert_eq!(warnings.len(), 3);
        assert_eq!(all.iter().filter(|w| w.need == Need::Required).count(), 1);
    }

    #[test]
    fn format_dirs_refuse_odd_record_ids() {
        assert_eq!(Format::Presentation.dir("abc-1").as_deref(), Some("presentation/abc-1"));
        assert_eq!(Format::Video.dir("abc-1").as_deref(), Some("playback/video/abc-1"));
        assert_eq!(Format::Video.dir("../x"), None);
        assert_eq!(Format::Video.dir(""), None);
        let web = Url::parse("https://h.example/").unwrap();
        assert_eq!(Format::Video.source_base(&web, "r1").unwrap().as_str(), "https://h.example/playback/video/r1/");
    }
}
