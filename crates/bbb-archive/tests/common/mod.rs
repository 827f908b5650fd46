//! Fixtures shared by the archive tests and the benchmark: the demo server with media that need no ffmpeg, and
//! a real static HTTP server (tower-http `ServeDir`, byte ranges included) that logs every request.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use bbb_api::FormatKind;
use bbb_archive::{Format, RecordingSource};
use migrate_demo::media::MediaSpec;
use migrate_demo::{DemoRecording, DemoServer, ServerOptions};
use tokio::sync::oneshot;
use url::Url;

/// Stand-in media for every recording in the demo server's cache (see `migrate_demo::media::stand_in_media`).
pub fn fake_media(dir: &Path, demos: &[DemoRecording], size: impl Fn(&MediaSpec) -> usize) {
    migrate_demo::media::stand_in_media(dir, demos, size).unwrap();
}

#[allow(unused_imports)] // not every test binary that includes this module uses it
pub use migrate_demo::media::pseudo_random;

/// A demo server of `recordings` generated recordings whose media are `media_size` bytes each.
pub async fn demo(recordings: usize, media_dir: &Path, media_size: usize) -> DemoServer {
    let options = ServerOptions {
        recordings,
        media_dir: Some(media_dir.to_path_buf()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        ..ServerOptions::default()
    };
    let server = DemoServer::start(options).await.unwrap();
    fake_media(media_dir, server.recordings(), |_| media_size);
    server
}

/// The published recordings of the demo server that have a presentation, as archive sources.
pub fn sources(server: &DemoServer) -> Vec<(DemoRecording, RecordingSource)> {
    let web_root = Url::parse(&server.web_root()).unwrap();
    server
        .recordings()
        .iter()
        .filter(|d| d.recording.published && d.recording.format(&FormatKind::Presentation).is_some())
        .map(|d| {
            let mut formats = vec![Format::Presentation];
            if d.has_video_format {
                formats.push(Format::Video);
            }
            let source = RecordingSource::on_server(&web_root, &d.recording.record_id, &formats).unwrap();
            (d.clone(), source)
        })
        .collect()
}

/// One request seen by [`StaticServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
    pub content_length: Option<u64>,
}

/// A real HTTP server over a directory, with a request log and an optional fault: the first response for one
/// path is cut after some bytes (the connection drops mid-body, as when a run is interrupted).
pub struct StaticServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Logged>>>,
    cut: Arc<Mutex<Option<(String, usize)>>>,
    _stop: oneshot::Sender<()>,
}

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Logged>>>,
    cut: Arc<Mutex<Option<(String, usize)>>>,
}

impl StaticServer {
    pub async fn start(root: PathBuf) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let cut = Arc::new(Mutex::new(None));
        let shared = Shared { log: log.clone(), cut: cut.clone() };
        let app = axum::Router::new()
            .fallback_service(tower_http::services::ServeDir::new(root))
            .layer(middleware::from_fn_with_state(shared, record));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, log, cut, _stop: stop }
    }

    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}/{path}", self.addr)).unwrap()
    }

    /// Cuts the next response for `path` after `after` bytes.
    pub fn cut_next(&self, path: &str, after: usize) {
        *self.cut.lock().unwrap() = Some((path.to_owned(), after));
    }

    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let range = request.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    let content_length =
        response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    shared.log.lock().unwrap().push(Logged {
        path: path.clone(),
        range,
        status: response.status().as_u16(),
        content_length,
    });
    let cut = {
        let mut cut = shared.cut.lock().unwrap();
        match cut.as_ref() {
            Some((p, _)) if *p == path => cut.take().map(|(_, n)| n),
            _ => None,
        }
    };
    let Some(after) = cut else { return response };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let head = bytes.slice(..after.min(bytes.len()));
    // Let the head reach the client before the connection drops, as with a real interruption.
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]);
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        Err(std::io::Error::other("connection cut by the test"))
    });
    Response::from_parts(parts, Body::from_stream(futures_util::StreamExt::chain(head, cut)))
}
