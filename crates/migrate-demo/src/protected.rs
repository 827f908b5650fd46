//! A Scalelite with `PROTECTED_RECORDINGS_ENABLED`, in front of a [`DemoServer`]: the tests' protected server.
//!
//! It behaves as Scalelite's playback controller does (read in blindsidenetworks/scalelite): `getRecordings`
//! lists each playback as a one-time link `/recording/<recordID>/<format>?token=<64 hex>`, a fresh token per
//! listing and format, previews left out. Opening the link consumes the token, sets the cookie
//! `recording_<format>_<recordID>` (`Secure; HttpOnly`, scoped to the format's files) and redirects (307) to the
//! player. The files themselves answer 404 without a valid cookie, as Scalelite does; a used, unknown or
//! refused token answers 404 too. Everything else goes to the demo server unchanged. The one liberty: the video
//! format's cookie is scoped to `/playback/video/<recordID>`, where the demo publishes it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::DemoServer;

/// A protected front running on loopback; stops when dropped.
pub struct ProtectedFront {
    addr: SocketAddr,
    shared: Arc<Front>,
    stop: Option<oneshot::Sender<()>>,
}

struct Front {
    inner_root: String,
    own_root: String,
    client: reqwest::Client,
    /// Unused tokens: token → (recordID, format).
    tokens: Mutex<HashMap<String, (String, String)>>,
    /// Cookie values granted: value → (recordID, format).
    sessions: Mutex<HashMap<String, (String, String)>>,
    /// Recordings whose links are refused as if their token had been used.
    refused: Mutex<HashSet<String>>,
    counter: AtomicUsize,
    issued: AtomicUsize,
    consumed: AtomicUsize,
    denied_files: AtomicUsize,
}

impl ProtectedFront {
    /// Starts the front on a free loopback port, forwarding to `inner`.
    pub async fn start(inner: &DemoServer) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Front {
            inner_root: inner.web_root(),
            own_root: format!("http://{addr}/"),
            client,
            tokens: Mutex::default(),
            sessions: Mutex::default(),
            refused: Mutex::default(),
            counter: AtomicUsize::new(0),
            issued: AtomicUsize::new(0),
            consumed: AtomicUsize::new(0),
            denied_files: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/recording/{record_id}/{format}", get(play))
            .fallback(forward)
            .with_state(shared.clone());
        let stop = crate::server::serve(listener, app, "protected front");
        Ok(Self { addr, shared, stop: Some(stop) })
    }

    /// `source.url` for this server.
    pub fn api_url(&self) -> String {
        format!("http://{}/bigbluebutton/api/", self.addr)
    }

    pub fn web_root(&self) -> String {
        self.shared.own_root.clone()
    }

    /// From now on the links of `record_id` are refused (404), as a used or expired token is.
    pub fn refuse_tokens(&self, record_id: &str) {
        self.shared.refused.lock().expect("refused").insert(record_id.to_owned());
    }

    /// Tokens handed out in `getRecordings` answers so far.
    pub fn tokens_issued(&self) -> usize {
        self.shared.issued.load(Ordering::SeqCst)
    }

    /// Tokens exchanged for a cookie so far.
    pub fn tokens_consumed(&self) -> usize {
        self.shared.consumed.load(Ordering::SeqCst)
    }

    /// Requests for published files refused for want of a valid cookie.
    pub fn files_refused(&self) -> usize {
        self.shared.denied_files.load(Ordering::SeqCst)
    }
}

impl Drop for ProtectedFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Front {
    fn random(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        hex::encode(Sha256::digest(format!("{n}:{nanos}:{}:{}", std::process::id(), self.own_root)))
    }

    fn mint(&self, record_id: &str, format: &str) -> String {
        let token = self.random();
        self.tokens.lock().expect("tokens").insert(token.clone(), (record_id.to_owned(), format.to_owned()));
        self.issued.fetch_add(1, Ordering::SeqCst);
        token
    }
}

/// Where a format's files are, which its cookie is scoped to.
fn files_path(format: &str, record_id: &str) -> String {
    match format {
        "video" => format!("/playback/video/{record_id}"),
        other => format!("/{other}/{record_id}"),
    }
}

/// Where the link redirects once the token is consumed: the format's player.
fn player_path(format: &str, record_id: &str) -> String {
    match format {
        "presentation" => format!("/playback/presentation/2.3/{record_id}"),
        "video" => format!("/playback/video/{record_id}/"),
        other => format!("/{other}/{record_id}/"),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "<html><body><h1>Recording not found</h1></body></html>").into_response()
}

async fn play(
    State(front): State<Arc<Front>>,
    Path((record_id, format)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let token = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let granted = front.tokens.lock().expect("tokens").remove(&token);
    if granted != Some((record_id.clone(), format.clone()))
        || front.refused.lock().expect("refused").contains(&record_id)
    {
        return not_found();
    }
    front.consumed.fetch_add(1, Ordering::SeqCst);
    let value = front.random();
    front.sessions.lock().expect("sessions").insert(value.clone(), (record_id.clone(), format.clone()));
    let cookie = format!(
        "recording_{format}_{record_id}={value}; path={}; secure; HttpOnly; SameSite=None",
        files_path(&format, &record_id)
    );
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::SET_COOKIE, cookie), (header::LOCATION, player_path(&format, &record_id))],
    )
        .into_response()
}

/// The recording and format whose cookie `path` needs, if it is a protected file.
fn protected_file(path: &str) -> Option<(&str, &'static str)> {
    if let Some(rest) = path.strip_prefix("/presentation/") {
        return Some((rest.split('/').next()?, "presentation"));
    }
    if let Some(rest) = path.strip_prefix("/playback/video/") {
        return Some((rest.split('/').next()?, "video"));
    }
    None
}

fn has_session(front: &Front, headers: &HeaderMap, record_id: &str, format: &str) -> bool {
    let name = format!("recording_{format}_{record_id}");
    let sessions = front.sessions.lock().expect("sessions");
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).any(|pair| {
        pair.trim()
            .split_once('=')
            .is_some_and(|(k, v)| k == name && sessions.get(v).is_some_and(|(r, f)| r == record_id && f == format))
    })
}

async fn forward(State(front): State<Arc<Front>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    if let Some((record_id, format)) = protected_file(&path)
        && !has_session(&front, request.headers(), record_id, format)
    {
        front.denied_files.fetch_add(1, Ordering::SeqCst);
        return not_found();
    }
    let target = format!("{}{}{query}", front.inner_root.trim_end_matches('/'), path);
    let mut outgoing = front.client.get(&target);
    if let Some(range) = request.headers().get(header::RANGE) {
        outgoing = outgoing.header(header::RANGE, range.clone());
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.without_url().to_string()).into_response(),
    };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::CONTENT_RANGE, header::ACCEPT_RANGES, header::LOCATION] {
        if let Some(v) = answer.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.without_url().to_string()).into_response(),
    };
    if path.ends_with("/getRecordings") && status.is_success() {
        let text = String::from_utf8_lossy(&body).replace(&front.inner_root, &front.own_root);
        let protected = protect_listing(&text, &front.own_root, |id, format| front.mint(id, format));
        return (status, headers, protected).into_response();
    }
    (status, headers, Body::from(body)).into_response()
}

/// Text between the first `open` and the next `close` in `s`, with its byte range.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<(usize, usize, &'a str)> {
    let start = s.find(open)? + open.len();
    let end = start + s[start..].find(close)?;
    Some((start, end, &s[start..end]))
}

/// A `getRecordings` answer with every playback URL turned into a one-time link and previews left out.
fn protect_listing(xml: &str, own_root: &str, mut mint: impl FnMut(&str, &str) -> String) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<recording>") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</recording>").map_or(rest.len(), |e| start + e + "</recording>".len());
        let recording = &rest[start..end];
        let record_id = between(recording, "<recordID>", "</recordID>").map_or("", |(_, _, id)| id).to_owned();
        let mut chunk = recording;
        while let Some(f) = chunk.find("<format>") {
            out.push_str(&chunk[..f]);
            let f_end = chunk[f..].find("</format>").map_or(chunk.len(), |e| f + e + "</format>".len());
            let mut format = chunk[f..f_end].to_owned();
            let kind = between(&format, "<type>", "</type>").map(|(_, _, t)| t.to_owned());
            if let (Some(kind), Some((s, e, _))) = (kind, between(&format, "<url>", "</url>")) {
                let token = mint(&record_id, &kind);
                format.replace_range(s..e, &format!("{own_root}recording/{record_id}/{kind}?token={token}"));
            }
            if let Some((s, e, _)) = between(&format, "<preview>", "</preview>") {
                format.replace_range(s - "<preview>".len()..e + "</preview>".len(), "");
            }
            out.push_str(&format);
            chunk = &chunk[f_end..];
        }
        out.push_str(chunk);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_get_one_time_links_and_no_previews() {
        let xml = "<response><recordings><recording>\n<recordID>abc-1</recordID>\n<playback>\n<format>\n\
                   <type>presentation</type>\n<url>http://x/playback/presentation/2.3/abc-1</url>\n<preview>\n\
                   <images><image>http://x/p.png</image></images>\n</preview>\n</format>\n<format>\n<type>video</type>\n\
                   <url>http://x/playback/video/abc-1/</url>\n</format>\n</playback>\n</recording></recordings></response>";
        let mut minted = Vec::new();
        let out = protect_listing(xml, "http://front/", |id, f| {
            minted.push((id.to_owned(), f.to_owned()));
            format!("t{}", minted.len())
        });
        assert!(out.contains("<url>http://front/recording/abc-1/presentation?token=t1</url>"), "{out}");
        assert!(out.contains("<url>http://front/recording/abc-1/video?token=t2</url>"), "{out}");
        assert!(!out.contains("<preview>") && out.ends_with("</recording></recordings></response>"), "{out}");
        assert_eq!(minted, [("abc-1".into(), "presentation".into()), ("abc-1".into(), "video".into())]);
    }

    #[test]
    fn files_need_their_own_format_cookie() {
        assert_eq!(protected_file("/presentation/abc-1/shapes.svg"), Some(("abc-1", "presentation")));
        assert_eq!(protected_file("/playback/video/abc-1/video-0.m4v"), Some(("abc-1", "video")));
        assert_eq!(protected_file("/playback/presentation/2.3/abc-1"), None);
        assert_eq!(files_path("presentation", "abc-1"), "/presentation/abc-1");
    }
}
