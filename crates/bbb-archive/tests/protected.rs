//! Protected recordings: the demo server behind a Scalelite-like front with `PROTECTED_RECORDINGS_ENABLED`
//! (one-time links, cookie sessions, files refused without the cookie). The archiver opens a fresh link and gets
//! every file, identical to what the unprotected server publishes; a used or refused link, or no link at all,
//! fails with a reason that says so.

mod common;

use bbb_api::{BbbClient, ClientOptions, FormatKind, Recording, RecordingsQuery};
use bbb_archive::{ArchiveError, ArchiveOptions, Archiver, Format, RecordingSource};
use common::demo;
use migrate_demo::protected::ProtectedFront;
use sha2::{Digest, Sha256};
use url::Url;

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().unwrap()
}

async fn listing(front: &ProtectedFront, secret: &str) -> Vec<Recording> {
    let client = BbbClient::new(ClientOptions::new(Url::parse(&front.api_url()).unwrap(), secret)).unwrap();
    client.list_recordings(&RecordingsQuery::default(), |_| {}).await.unwrap().recordings
}

fn source(rec: &Recording) -> RecordingSource {
    let mut playbacks = Vec::new();
    if let Some(p) = rec.format(&FormatKind::Presentation) {
        playbacks.push((Format::Presentation, p.url.as_str()));
    }
    if let Some(v) = rec.format(&FormatKind::Video) {
        playbacks.push((Format::Video, v.url.as_str()));
    }
    RecordingSource::from_playbacks(&rec.record_id, &playbacks).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protected_recordings_are_fetched_through_their_one_time_link() {
    let media = tempfile::tempdir().unwrap();
    let server = demo(10, media.path(), 16 * 1024).await;
    let front = ProtectedFront::start(&server).await.unwrap();
    let recordings: Vec<Recording> = listing(&front, server.secret())
        .await
        .into_iter()
        .filter(|r| r.published && r.format(&FormatKind::Presentation).is_some())
        .collect();
    assert!(recordings.len() >= 3);
    let first = recordings.iter().find(|r| r.format(&FormatKind::Video).is_some()).unwrap_or(&recordings[0]);
    let link = &first.format(&FormatKind::Presentation).unwrap().url;
    assert!(link.contains("/recording/") && link.contains("?token="), "{link}");
    let src = source(first);
    assert!(src.is_protected());

    // Without a cookie the files are refused, as by Scalelite: the archiver says the server has no metadata.
    let archive = tempfile::tempdir().unwrap();
    let unopened = RecordingSource {
        record_id: src.record_id.clone(),
        formats: src.formats.iter().map(|f| bbb_archive::FormatSource { entry: None, ..f.clone() }).collect(),
    };
    let err =
        Archiver::new(cookie_client(), archive.path(), ArchiveOptions::default()).archive(&unopened).await.unwrap_err();
    assert!(matches!(err, ArchiveError::Required { .. }), "{err}");
    assert!(front.files_refused() > 0);

    // With the fresh link: every file, byte for byte what the unprotected server publishes.
    let report = Archiver::new(cookie_client(), archive.path(), ArchiveOptions::default()).archive(&src).await.unwrap();
    assert_eq!(front.tokens_consumed(), src.formats.len());
    let http = reqwest::Client::new();
    for file in &report.manifest.files {
        // The demo serves the video page as its directory's index, as BBB does.
        let path = file.path.strip_suffix("index.html").unwrap_or(&file.path);
        let direct = http.get(format!("{}{path}", server.web_root())).send().await.unwrap();
        assert_eq!(direct.status(), 200, "{}", file.path);
        assert_eq!(hex::encode(Sha256::digest(direct.bytes().await.unwrap())), file.sha256, "{}", file.path);
        let on_disk = std::fs::read(archive.path().join(&file.path)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&on_disk)), file.sha256);
    }
    assert!(report.manifest.files.iter().any(|f| f.path.ends_with("shapes.svg")));
    if first.format(&FormatKind::Video).is_some() {
        assert!(report.manifest.files.iter().any(|f| f.path.starts_with("playback/video/")), "video files too");
    }
    // No token, no session: nothing in the manifest keeps the link.
    let json = String::from_utf8(report.manifest.to_json().unwrap()).unwrap();
    assert!(!json.contains("token"), "{json}");

    // The same link again (a new process has no cookie): refused, and said so.
    let again = tempfile::tempdir().unwrap();
    let err = Archiver::new(cookie_client(), again.path(), ArchiveOptions::default()).archive(&src).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ArchiveError::Protected { .. }), "{message}");
    assert!(message.contains("protected recording: the server refused the playback token"), "{message}");
    assert!(!message.contains("token="), "the token is never shown: {message}");

    // A recording whose links the server refuses fails; another, archived after it, succeeds.
    let (refused, other) = (&recordings[1], &recordings[2]);
    front.refuse_tokens(&refused.record_id);
    let fresh = listing(&front, server.secret()).await;
    let pick = |id: &str| source(fresh.iter().find(|r| r.record_id == id).unwrap());
    let archiver = Archiver::new(cookie_client(), archive.path(), ArchiveOptions::default());
    let err = archiver.archive(&pick(&refused.record_id)).await.unwrap_err();
    assert!(err.to_string().contains("refused the playback token"), "{err}");
    archiver.archive(&pick(&other.record_id)).await.unwrap();
}
