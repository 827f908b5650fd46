//! Faults on published files (one recording at a time) and a catalogue adjusted before serving.

use std::net::SocketAddr;
use std::time::Duration;

use migrate_demo::{DemoServer, Fault, ServerOptions};

/// A server of `n` recordings, each given a video playback whose file (stand-in bytes) is in `media`.
async fn server_with_videos(n: usize, media: &std::path::Path) -> DemoServer {
    let options = ServerOptions {
        recordings: n,
        media_dir: Some(media.to_path_buf()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        ..Default::default()
    };
    let server = DemoServer::start_adjusted(options, SocketAddr::from(([127, 0, 0, 1], 0)), |web_root, recordings| {
        for demo in recordings.iter_mut() {
            demo.set_video_playback(web_root, 10_000);
        }
    })
    .await
    .unwrap();
    migrate_demo::media::stand_in_media(media, server.recordings(), |_| 10_000).unwrap();
    server
}

fn video_url(server: &DemoServer, i: usize) -> String {
    format!("{}playback/video/{}/video-0.m4v", server.web_root(), server.recordings()[i].recording.record_id)
}

#[tokio::test]
async fn the_adjusted_catalogue_is_what_is_served() {
    let media = tempfile_dir();
    let server = server_with_videos(5, &media).await;
    assert!(server.recordings().iter().all(|d| d.has_video_format));
    let body = reqwest::get(video_url(&server, 0)).await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().await.unwrap().len(), 10_000);
    let _ = std::fs::remove_dir_all(media);
}

#[tokio::test]
async fn file_faults_apply_once_each_to_their_recording_only() {
    let media = tempfile_dir();
    let server = server_with_videos(3, &media).await;
    let id = server.recordings()[1].recording.record_id.clone();
    server.inject_file_faults(&id, [Fault::Status(503), Fault::Status(404), Fault::Truncate, Fault::Garbage]);
    assert_eq!(server.pending_faults(), 4);
    // Another recording is not affected.
    assert_eq!(reqwest::get(video_url(&server, 0)).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(video_url(&server, 1)).await.unwrap().status(), 503);
    assert_eq!(reqwest::get(video_url(&server, 1)).await.unwrap().status(), 404);
    let short = reqwest::get(video_url(&server, 1)).await.unwrap();
    assert_eq!(short.status(), 200);
    assert_eq!(short.bytes().await.unwrap().len(), 5_000, "half the file, with a consistent length");
    let garbage = reqwest::get(video_url(&server, 1)).await.unwrap().text().await.unwrap();
    assert!(garbage.contains("Bad Gateway"));
    assert_eq!(server.pending_faults(), 0);
    assert_eq!(reqwest::get(video_url(&server, 1)).await.unwrap().bytes().await.unwrap().len(), 10_000);
    let _ = std::fs::remove_dir_all(media);
}

#[tokio::test]
async fn a_cut_off_answer_announces_the_whole_length_and_closes_early() {
    let media = tempfile_dir();
    let server = server_with_videos(2, &media).await;
    let id = server.recordings()[0].recording.record_id.clone();
    server.inject_file_faults(&id, [Fault::CutOff]);
    let response = reqwest::get(video_url(&server, 0)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(10_000));
    let err = response.bytes().await.unwrap_err();
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    // The API answers can be cut off too.
    server.inject([Fault::CutOff]);
    let err = reqwest::get(format!("{}getRecordings", server.api_url())).await.unwrap().text().await.unwrap_err();
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    let _ = std::fs::remove_dir_all(media);
}

#[tokio::test]
async fn a_delayed_file_comes_late_and_faults_can_be_cleared() {
    let media = tempfile_dir();
    let server = server_with_videos(2, &media).await;
    let id = server.recordings()[0].recording.record_id.clone();
    server.inject_file_faults(&id, [Fault::Delay(Duration::from_millis(300))]);
    let started = std::time::Instant::now();
    assert_eq!(reqwest::get(video_url(&server, 0)).await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.inject_file_faults(&id, [Fault::Status(500)]);
    server.inject([Fault::Status(500)]);
    assert_eq!(server.pending_faults(), 2);
    server.clear_faults();
    assert_eq!(server.pending_faults(), 0);
    assert_eq!(reqwest::get(video_url(&server, 0)).await.unwrap().status(), 200);
    let _ = std::fs::remove_dir_all(media);
}

fn tempfile_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "migrate-demo-file-faults-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn byte_ranges_are_honoured_only_when_asked() {
    let media = tempfile_dir();
    let server = server_with_videos(1, &media).await;
    let client = reqwest::Client::new();
    let ranged = |server: &DemoServer, from: u64| {
        client.get(video_url(server, 0)).header(reqwest::header::RANGE, format!("bytes={from}-")).send()
    };
    let whole = ranged(&server, 4_000).await.unwrap();
    assert_eq!(whole.status(), 200, "ignored by default");
    assert_eq!(whole.bytes().await.unwrap().len(), 10_000);
    drop(server);

    let options = ServerOptions {
        recordings: 1,
        media_dir: Some(media.clone()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        byte_ranges: true,
        ..Default::default()
    };
    let server = DemoServer::start_adjusted(options, SocketAddr::from(([127, 0, 0, 1], 0)), |web_root, recordings| {
        recordings[0].set_video_playback(web_root, 10_000);
    })
    .await
    .unwrap();
    migrate_demo::media::stand_in_media(&media, server.recordings(), |_| 10_000).unwrap();
    let full = reqwest::get(video_url(&server, 0)).await.unwrap().bytes().await.unwrap();
    let rest = ranged(&server, 4_000).await.unwrap();
    assert_eq!(rest.status(), 206);
    assert_eq!(rest.headers()[reqwest::header::CONTENT_RANGE], "bytes 4000-9999/10000");
    assert_eq!(rest.bytes().await.unwrap(), full.slice(4_000..));
    assert_eq!(ranged(&server, 10_000).await.unwrap().status(), 416, "nothing left to send");
    let _ = std::fs::remove_dir_all(media);
}
