//! A BBB-compatible API server on loopback: same checksum rule, paging, states, filters and error answers as a
//! real server, plus faults that tests can inject one request at a time.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bbb_api::{ChecksumAlgorithm, Recording, StateFilter};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::catalogue::{self, CatalogueOptions};
use crate::recording::DemoRecording;

/// How the server answers `offset`/`limit`, to imitate each generation of old server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paging {
    /// BBB ≥ 2.6: honours `offset` and `limit` (1–100).
    #[default]
    Supported,
    /// BBB < 2.6 and older Scalelite: ignores them and answers everything at once.
    Ignored,
    /// Scalelite with `GET_RECORDINGS_API_FILTERED=true`: refuses a listing without `meetingID`/`recordID`.
    ScaleliteFiltered,
}

/// A one-shot misbehaviour applied to the next API request ([`DemoServer::inject`]), or to the next request for a
/// published file of one recording ([`DemoServer::inject_file_faults`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally (lets a test aim the next fault at a later request).
    Pass,
    /// Answer with this HTTP status and a short HTML body.
    Status(u16),
    /// Wait this long before answering normally (to trigger client timeouts).
    Delay(Duration),
    /// Send only the first half of the normal answer.
    Truncate,
    /// Answer `200 OK` with a body that is not XML.
    Garbage,
    /// Send the headers of the whole answer (its `Content-Length`) and half of its body, then close the
    /// connection: a server or proxy dying mid-transfer.
    CutOff,
}

/// What the demo server serves and how.
#[derive(Clone)]
pub struct ServerOptions {
    pub secret: String,
    pub paging: Paging,
    /// Algorithms the server accepts (a BBB < 2.5 knows only SHA-1 and SHA-256).
    pub algorithms: Vec<ChecksumAlgorithm>,
    pub recordings: usize,
    pub seed: u64,
    /// Where generated media are cached; `None` means a fresh temporary directory.
    pub media_dir: Option<std::path::PathBuf>,
    pub ffmpeg: String,
    /// Answer `Range: bytes=N-` on media files with `206 Partial Content`, as nginx does; off by default, as
    /// servers that ignore it exist too (clients must then rewrite the whole file).
    pub byte_ranges: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            secret: DEMO_SECRET.to_owned(),
            paging: Paging::Supported,
            algorithms: ChecksumAlgorithm::ALL.to_vec(),
            recordings: 60,
            seed: 2024,
            media_dir: None,
            ffmpeg: "ffmpeg".to_owned(),
            byte_ranges: false,
        }
    }
}

/// The shared secret of the demo server (a real server's comes from `bbb-conf --secret`).
pub const DEMO_SECRET: &str = "8cd8ef52e8e101574e400365b55e11a6";

struct Shared {
    options: ServerOptions,
    recordings: Vec<DemoRecording>,
    /// Each recording's `<recording>` element, rendered once: pages are then cheap to assemble.
    fragments: Vec<String>,
    faults: Mutex<VecDeque<Fault>>,
    /// One-shot faults per recording, applied to the requests for its published files in order.
    file_faults: Mutex<std::collections::HashMap<String, VecDeque<Fault>>>,
    /// Recordings whose published files all answer 404 (a recording damaged on the server).
    broken: Mutex<std::collections::HashSet<String>>,
    requests: Mutex<Vec<String>>,
    media: crate::media::MediaCache,
    _media_tmp: Option<tempfile_dir::TempDir>,
}

/// A running demo server; stops when dropped.
pub struct DemoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl DemoServer {
    /// Binds 127.0.0.1 on a free port and starts serving on the current tokio runtime.
    pub async fn start(options: ServerOptions) -> std::io::Result<Self> {
        Self::start_on(options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(options: ServerOptions, bind: SocketAddr) -> std::io::Result<Self> {
        Self::start_adjusted(options, bind, |_, _| {}).await
    }

    /// Like [`DemoServer::start_on`], with `adjust` given the web root and the generated recordings to change
    /// before anything is served (e.g. give every recording a video playback of a known size).
    pub async fn start_adjusted(
        options: ServerOptions,
        bind: SocketAddr,
        adjust: impl FnOnce(&str, &mut Vec<DemoRecording>),
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let web_root = format!("http://{addr}/");
        let mut catalogue = CatalogueOptions::new(options.recordings, &web_root);
        catalogue.seed = options.seed;
        let mut recordings = catalogue::generate(&catalogue);
        adjust(&web_root, &mut recordings);
        // A real server lists by internal id, not by date: make clients sort for themselves.
        recordings.sort_by(|a, b| a.recording.record_id.cmp(&b.recording.record_id));
        let fragments = recordings.iter().map(|r| recording_xml(&r.recording)).collect();
        let (media_dir, media_tmp) = match &options.media_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let tmp = tempfile_dir::TempDir::new()?;
                (tmp.path().to_owned(), Some(tmp))
            }
        };
        let media = crate::media::MediaCache::new(media_dir, options.ffmpeg.clone());
        let shared = Arc::new(Shared {
            options,
            recordings,
            fragments,
            faults: Mutex::default(),
            file_faults: Mutex::default(),
            broken: Mutex::default(),
            requests: Mutex::default(),
            media,
            _media_tmp: media_tmp,
        });
        let app = Router::new()
            .route("/bigbluebutton/api", get(api_root))
            .route("/bigbluebutton/api/", get(api_root))
            .route("/bigbluebutton/api/{call}", get(api_call))
            .route("/presentation/{record_id}/{*path}", get(presentation_file))
            .route("/playback/presentation/2.3/{record_id}", get(playback_page))
            .route("/playback/presentation/2.0/playback.html", get(playback_page_v20))
            .route("/playback/video/{record_id}/", get(video_page))
            .route("/playback/video/{record_id}/{file}", get(video_file))
            .with_state(shared.clone());
        let stop = serve(listener, app, "demo server");
        Ok(Self { addr, shared, stop: Some(stop) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's web root, e.g. `http://127.0.0.1:40123/`.
    pub fn web_root(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The URL to put in `source.url` (Pod's `BBB_API_URL` form).
    pub fn api_url(&self) -> String {
        format!("http://{}/bigbluebutton/api/", self.addr)
    }

    pub fn secret(&self) -> &str {
        &self.shared.options.secret
    }

    /// Every generated recording, including those a default listing hides (processing, deleted).
    pub fn recordings(&self) -> &[DemoRecording] {
        &self.shared.recordings
    }

    /// Queues faults; each applies to one API request, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.faults.lock().expect("fault queue").extend(faults);
    }

    /// Queues faults for the published files of `record_id` (presentation files, video playback); each applies
    /// to one request for one of its files, in order. `Status(404)` there is a file missing once.
    pub fn inject_file_faults(&self, record_id: &str, faults: impl IntoIterator<Item = Fault>) {
        self.shared.file_faults.lock().expect("file faults").entry(record_id.to_owned()).or_default().extend(faults);
    }

    /// Faults queued and not applied yet: API ones and file ones.
    pub fn pending_faults(&self) -> usize {
        let files: usize = self.shared.file_faults.lock().expect("file faults").values().map(VecDeque::len).sum();
        self.shared.faults.lock().expect("fault queue").len() + files
    }

    /// Drops every queued fault (API and files); broken recordings stay broken.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("fault queue").clear();
        self.shared.file_faults.lock().expect("file faults").clear();
    }

    /// From now on every published file of `record_id` (presentation files, video playback) answers 404, while
    /// the API still lists the recording: a recording damaged on the server.
    pub fn break_recording(&self, record_id: &str) {
        self.shared.broken.lock().expect("broken set").insert(record_id.to_owned());
    }

    /// Query strings of the API requests received so far (checksum removed), oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("request log").clone()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Minimal temporary directory, removed on drop, so that the demo server needs no dev-only crate.
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<Self> {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
            let path = std::env::temp_dir().join(format!("bbb-migrate-demo-media-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn xml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn failed(key: &str, message: &str) -> Response {
    xml_response(format!(
        "<response>\n<returncode>FAILED</returncode>\n<messageKey>{key}</messageKey>\n<message>{}</message>\n</response>",
        escape(message)
    ))
}

async fn api_root() -> Response {
    xml_response(
        "<response>\n<returncode>SUCCESS</returncode>\n<version>2.0</version>\n<apiVersion>2.0</apiVersion>\n\
         <bbbVersion>2.7.4</bbbVersion>\n</response>"
            .into(),
    )
}

async fn api_call(State(shared): State<Arc<Shared>>, Path(call): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let (signed, checksum) = split_checksum(&raw);
    shared.requests.lock().expect("request log").push(format!("{call}?{signed}"));
    let fault = shared.faults.lock().expect("fault queue").pop_front();
    if let Some(Fault::Delay(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    if let Some(Fault::Status(code)) = fault {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, format!("<html><body><h1>{code}</h1>nginx</body></html>")).into_response();
    }
    if fault == Some(Fault::Garbage) {
        return (StatusCode::OK, "<html><body>Bad Gateway</body>").into_response();
    }
    let response = answer_call(&shared, &call, &signed, checksum);
    damage(response, fault.as_ref()).await
}

/// A normal answer cut short by `fault` (`Truncate`: half the body, consistent length; `CutOff`: the whole
/// length announced, half sent, connection closed); others leave it alone.
async fn damage(response: Response, fault: Option<&Fault>) -> Response {
    if !matches!(fault, Some(Fault::Truncate | Fault::CutOff)) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    if fault == Some(&Fault::CutOff) {
        parts.headers.insert(header::CONTENT_LENGTH, bytes.len().into());
        use futures_util::StreamExt;
        // The error waits a moment, so that the headers and the half are on the wire before the connection goes.
        let cut = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "demo fault: cut off"))
        });
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(half)]).chain(cut);
        return Response::from_parts(parts, Body::from_stream(body));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(half))
}

/// The next fault queued for a file of `record_id`, applied before answering: `Some` is the whole answer
/// (an error status, garbage), `None` means answer normally, then pass the fault to [`damage`].
async fn file_fault(shared: &Shared, record_id: &str) -> (Option<Response>, Option<Fault>) {
    let fault = {
        let mut faults = shared.file_faults.lock().expect("file faults");
        let fault = faults.get_mut(record_id).and_then(VecDeque::pop_front);
        if faults.get(record_id).is_some_and(VecDeque::is_empty) {
            faults.remove(record_id);
        }
        fault
    };
    match &fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("<html><body><h1>{code}</h1>nginx</body></html>");
            return (Some((status, body).into_response()), None);
        }
        Some(Fault::Garbage) => {
            return (Some((StatusCode::OK, "<html><body>Bad Gateway</body>").into_response()), None);
        }
        _ => {}
    }
    (None, fault)
}

/// The query string without its `checksum` parameter (what BBB signs), and the checksum.
fn split_checksum(raw_query: &str) -> (String, Option<String>) {
    let mut checksum = None;
    let signed: Vec<&str> = raw_query
        .split('&')
        .filter(|pair| match pair.strip_prefix("checksum=") {
            Some(sum) => {
                checksum = Some(sum.to_owned());
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    (signed.join("&"), checksum)
}

fn answer_call(shared: &Shared, call: &str, signed: &str, checksum: Option<String>) -> Response {
    let Some(checksum) = checksum else {
        return failed("checksumError", "You did not pass the checksum security check");
    };
    let valid = ChecksumAlgorithm::from_checksum_len(checksum.len())
        .filter(|alg| shared.options.algorithms.contains(alg))
        .is_some_and(|alg| alg.sign(call, signed, &shared.options.secret) == checksum.to_ascii_lowercase());
    if !valid {
        return failed("checksumError", "You did not pass the checksum security check");
    }
    match call {
        "getRecordings" => get_recordings(shared, signed),
        _ => failed("unsupportedRequest", "This request is not supported by the demo server."),
    }
}

fn get_recordings(shared: &Shared, query: &str) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let list = |name: &str| -> Vec<String> {
        param(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let meeting_ids = list("meetingID");
    let record_ids = list("recordID");
    if shared.options.paging == Paging::ScaleliteFiltered && meeting_ids.is_empty() && record_ids.is_empty() {
        return failed("missingParameters", "param meetingID or recordID must be included.");
    }
    let state = param("state").map(StateFilter::parse).unwrap_or_default();
    let meta: Vec<(&str, &str)> =
        params.iter().filter_map(|(k, v)| k.strip_prefix("meta_").map(|key| (key, v.as_str()))).collect();
    let selected: Vec<usize> = shared
        .recordings
        .iter()
        .enumerate()
        .filter(|(_, demo)| {
            let rec = &demo.recording;
            (meeting_ids.is_empty() || meeting_ids.contains(&rec.meeting_id))
                && (record_ids.is_empty() || record_ids.iter().any(|id| rec.record_id.starts_with(id.as_str())))
                && state.matches(&rec.state)
                && meta.iter().all(|(k, v)| rec.metadata.get(&k.to_ascii_lowercase()).is_some_and(|m| m == v))
        })
        .map(|(i, _)| i)
        .collect();
    let total = selected.len();
    let page: &[usize] = if shared.options.paging == Paging::Supported {
        let offset = param("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
        let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
        let start = offset.min(total);
        &selected[start..(start + limit).min(total)]
    } else {
        &selected
    };
    let mut body = String::with_capacity(page.len() * 2_000 + 200);
    body.push_str("<response>\n<returncode>SUCCESS</returncode>\n");
    if page.is_empty() {
        body.push_str("<recordings></recordings>\n<messageKey>noRecordings</messageKey>\n<message>There are no recordings for the meeting(s).</message>\n");
    } else {
        body.push_str("<recordings>\n");
        for &i in page {
            body.push_str(&shared.fragments[i]);
        }
        body.push_str("</recordings>\n");
    }
    if shared.options.paging == Paging::Supported {
        body.push_str(&format!("<totalElements>{total}</totalElements>\n"));
    }
    body.push_str("</response>");
    xml_response(body)
}

/// One `<recording>` element as BBB 2.6 writes it.
fn recording_xml(rec: &Recording) -> String {
    let mut x = String::with_capacity(2_000);
    let tag = |x: &mut String, name: &str, value: &str| {
        x.push_str(&format!("<{name}>{}</{name}>\n", escape(value)));
    };
    x.push_str("<recording>\n");
    tag(&mut x, "recordID", &rec.record_id);
    tag(&mut x, "meetingID", &rec.meeting_id);
    tag(&mut x, "internalMeetingID", rec.internal_meeting_id.as_deref().unwrap_or_default());
    tag(&mut x, "name", &rec.name);
    tag(&mut x, "isBreakout", if rec.breakout.is_breakout { "true" } else { "false" });
    tag(&mut x, "published", if rec.published { "true" } else { "false" });
    tag(&mut x, "state", rec.state.as_str());
    tag(&mut x, "startTime", &rec.start_time.timestamp_millis().to_string());
    tag(&mut x, "endTime", &rec.end_time.timestamp_millis().to_string());
    if let Some(p) = rec.participants {
        tag(&mut x, "participants", &p.to_string());
    }
    if let Some(raw) = rec.raw_size {
        tag(&mut x, "rawSize", &raw.to_string());
    }
    x.push_str("<metadata>\n");
    for (key, value) in &rec.metadata {
        // Metadata values come CDATA-wrapped from BBB 2.x (as in real answers); names are escaped text.
        if value.contains("]]>") {
            tag(&mut x, key, value);
        } else {
            x.push_str(&format!("<{key}><![CDATA[{value}]]></{key}>\n"));
        }
    }
    x.push_str("</metadata>\n");
    if let Some(parent) = &rec.breakout.parent_meeting_id {
        x.push_str("<breakout>\n");
        tag(&mut x, "parentId", parent);
        tag(&mut x, "sequence", &rec.breakout.sequence.unwrap_or(1).to_string());
        tag(&mut x, "freeJoin", "false");
        x.push_str("</breakout>\n");
    }
    if let Some(size) = rec.size {
        tag(&mut x, "size", &size.to_string());
    }
    x.push_str("<playback>\n");
    for format in &rec.formats {
        x.push_str("<format>\n");
        tag(&mut x, "type", format.kind.as_str());
        tag(&mut x, "url", &format.url);
        if let Some(t) = format.processing_time_ms {
            tag(&mut x, "processingTime", &t.to_string());
        }
        if let Some(l) = format.length_minutes {
            tag(&mut x, "length", &l.to_string());
        }
        if let Some(s) = format.size {
            tag(&mut x, "size", &s.to_string());
        }
        if !format.previews.is_empty() {
            x.push_str("<preview>\n<images>\n");
            for img in &format.previews {
                x.push_str(&format!(
                    "<image alt=\"{}\" height=\"{}\" width=\"{}\">{}</image>\n",
                    escape(img.alt.as_deref().unwrap_or_default()),
                    img.height.unwrap_or(136),
                    img.width.unwrap_or(176),
                    escape(&img.url)
                ));
            }
            x.push_str("</images>\n</preview>\n");
        }
        x.push_str("</format>\n");
    }
    x.push_str("</playback>\n<data>\n</data>\n</recording>\n");
    x
}

/// XML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn find<'a>(shared: &'a Shared, record_id: &str) -> Option<&'a DemoRecording> {
    if shared.broken.lock().expect("broken set").contains(record_id) {
        return None;
    }
    shared.recordings.iter().find(|r| r.recording.record_id == record_id)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "<html><body><h1>404 Not Found</h1></body></html>").into_response()
}

async fn presentation_file(
    State(shared): State<Arc<Shared>>,
    Path((record_id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (answer, fault) = file_fault(&shared, &record_id).await;
    if let Some(answer) = answer {
        return answer;
    }
    let response = presentation_answer(&shared, &record_id, &path, range_start(&shared, &headers)).await;
    damage(response, fault.as_ref()).await
}

async fn presentation_answer(shared: &Shared, record_id: &str, path: &str, range: Option<u64>) -> Response {
    let Some(demo) = find(shared, record_id).filter(|d| d.recording.state != bbb_api::RecordingState::Processing)
    else {
        return not_found();
    };
    match crate::published::presentation_file(demo, path) {
        Some(crate::published::PublishedFile::Bytes { content_type, body }) => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Some(crate::published::PublishedFile::Media(spec)) => serve_media(shared, &spec, range).await,
        None => not_found(),
    }
}

/// The start of a `Range: bytes=N-` request (what resuming clients send), when the server honours ranges.
fn range_start(shared: &Shared, headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let start = value.trim().strip_prefix("bytes=")?.strip_suffix('-')?;
    shared.options.byte_ranges.then(|| start.parse().ok()).flatten()
}

async fn serve_media(shared: &Shared, spec: &crate::media::MediaSpec, range: Option<u64>) -> Response {
    match shared.media.get(spec).await {
        Ok(path) => match tokio::fs::read(&path).await {
            Ok(bytes) => match range.map(|start| (start, bytes.len() as u64)) {
                Some((start, len)) if start >= len => {
                    (StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{len}"))])
                        .into_response()
                }
                Some((start, len)) => (
                    StatusCode::PARTIAL_CONTENT,
                    [
                        (header::CONTENT_TYPE, spec.content_type().to_owned()),
                        (header::CONTENT_RANGE, format!("bytes {start}-{}/{len}", len - 1)),
                    ],
                    bytes[start as usize..].to_vec(),
                )
                    .into_response(),
                None => ([(header::CONTENT_TYPE, spec.content_type())], bytes).into_response(),
            },
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(e) => {
            tracing::error!("demo media generation failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

async fn playback_page(State(shared): State<Arc<Shared>>, Path(record_id): Path<String>) -> Response {
    match find(&shared, &record_id) {
        Some(demo) => player_html(&demo.recording),
        None => not_found(),
    }
}

async fn playback_page_v20(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let record_id = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "meetingId")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    playback_page(State(shared), Path(record_id)).await
}

fn player_html(rec: &Recording) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><div id=\"root\">Demo playback of {}</div></body></html>",
        escape(rec.display_name()),
        escape(&rec.record_id)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn video_page(State(shared): State<Arc<Shared>>, Path(record_id): Path<String>) -> Response {
    match find(&shared, &record_id).filter(|d| d.has_video_format) {
        Some(demo) => player_html(&demo.recording),
        None => not_found(),
    }
}

async fn video_file(
    State(shared): State<Arc<Shared>>,
    Path((record_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (answer, fault) = file_fault(&shared, &record_id).await;
    if let Some(answer) = answer {
        return answer;
    }
    let Some(demo) = find(&shared, &record_id) else { return not_found() };
    let response = match crate::published::video_playback_file(demo) {
        Some(spec) if file == "video-0.m4v" => serve_media(&shared, &spec, range_start(&shared, &headers)).await,
        _ => not_found(),
    };
    damage(response, fault.as_ref()).await
}

/// Serves `app` on `listener` in the background until the returned sender is used or dropped.
pub(crate) fn serve(listener: TcpListener, app: axum::Router, what: &'static str) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = server.await {
            tracing::error!("{what} stopped: {e}");
        }
    });
    stop
}
