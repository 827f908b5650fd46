//! Archive mode end to end: generated recordings from the demo server are archived, served again by a real HTTP
//! server and checked against the file list derived from the served files themselves; interrupted downloads
//! resume; corruption is found; hostile references are not followed.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use bbb_archive::files::is_scanned;
use bbb_archive::{
    ArchiveError, ArchiveOptions, Archiver, Format, FormatSource, Need, Problem, RecordingSource, first_level,
    references_of, verify,
};
use common::{StaticServer, demo, sources};
use url::Url;

fn archiver(root: &Path, concurrency: usize) -> Archiver {
    Archiver::new(reqwest::Client::new(), root, ArchiveOptions { concurrency, ..ArchiveOptions::default() })
}

/// Fetches `format`'s files from `base` the way a player would find them: the first-level list, then what each
/// fetched file names, until nothing new. Returns what was served (path → bytes) and every path asked for.
async fn crawl(format: Format, base: &Url) -> (BTreeMap<String, Vec<u8>>, Vec<(String, Need, u16)>) {
    let client = reqwest::Client::new();
    let mut queue = first_level(format);
    let mut seen: HashSet<String> = queue.iter().map(|w| w.path.clone()).collect();
    let mut served = BTreeMap::new();
    let mut asked = Vec::new();
    while let Some(w) = queue.pop() {
        let response = client.get(bbb_archive::file_url(base, &w.path)).send().await.unwrap();
        let status = response.status().as_u16();
        asked.push((w.path.clone(), w.need, status));
        if status != 200 {
            continue;
        }
        let bytes = response.bytes().await.unwrap().to_vec();
        if is_scanned(format, &w.path) {
            let (refs, _) = references_of(format, &w.path, &bytes, Some(base));
            for r in refs {
                if seen.insert(r.path.clone()) {
                    queue.push(r);
                }
            }
        }
        served.insert(w.path, bytes);
    }
    (served, asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn archived_recordings_are_complete_and_served_as_the_player_needs() {
    let media = tempfile::tempdir().unwrap();
    let server = demo(14, media.path(), 48 * 1024).await;
    let all = sources(&server);
    let mut picked: Vec<_> = all.iter().filter(|(d, _)| d.has_video_format).take(2).cloned().collect();
    picked.extend(all.iter().filter(|(d, _)| !d.has_video_format).take(3).cloned());
    assert!(picked.len() >= 4, "the catalogue has recordings of both kinds");
    let archive = tempfile::tempdir().unwrap();
    let archiver = Arc::new(archiver(archive.path(), 8));

    let mut tasks = tokio::task::JoinSet::new();
    for (_, source) in picked.clone() {
        let archiver = archiver.clone();
        tasks.spawn(async move { archiver.archive(&source).await });
    }
    let mut reports = Vec::new();
    while let Some(done) = tasks.join_next().await {
        reports.push(done.unwrap().unwrap());
    }

    let web = StaticServer::start(archive.path().to_path_buf()).await;
    for (demo, source) in &picked {
        let id = &demo.recording.record_id;
        let report = reports.iter().find(|r| &r.manifest.record_id == id).unwrap();
        let manifest = &report.manifest;
        assert!(report.downloaded_files > 0 && report.reused_files == 0);
        assert!(manifest.rejected_references.is_empty(), "{:?}", manifest.rejected_references);
        let check = verify(archive.path(), id).unwrap();
        assert!(check.is_ok(), "{:?}", check.problems);
        assert_eq!(check.files_checked, manifest.files.len());

        // Everything the demo server publishes for the presentation is in the archive.
        let archived: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        for rel in migrate_demo::published::presentation_files(demo) {
            assert!(archived.contains(format!("presentation/{id}/{rel}").as_str()), "{id}: {rel} not archived");
        }
        if demo.has_video_format {
            for rel in ["index.html", "video-0.m4v"] {
                assert!(archived.contains(format!("playback/video/{id}/{rel}").as_str()), "{id}: {rel}");
            }
        }

        // Served from the archive by a plain static server, every file the player would ask for (found from
        // the served files themselves) is there, byte for byte what the manifest says, and nothing else is.
        for fs in &source.formats {
            let dir = fs.format.dir(id).unwrap();
            let base = web.url(&format!("{dir}/"));
            let (served, asked) = crawl(fs.format, &base).await;
            // Named files the source itself lacked are recorded as such (the demo server publishes no slide
            // text files although shapes.svg names them); every other named file is served.
            for (path, need, status) in &asked {
                let full = format!("{dir}/{path}");
                if *need != Need::Probe && *status != 200 {
                    assert!(
                        manifest.absent.iter().any(|a| a.referenced && a.path == full),
                        "{full} ({need:?}) neither served nor recorded as absent at the source"
                    );
                    assert!(path.contains("/textfiles/"), "{full}: the demo server publishes it");
                }
            }
            for (path, bytes) in &served {
                let entry = manifest.file(&format!("{dir}/{path}")).unwrap_or_else(|| panic!("{path} not in manifest"));
                assert_eq!(entry.size, bytes.len() as u64);
                assert_eq!(entry.sha256, sha256(bytes), "{path}");
            }
            let in_manifest: BTreeSet<String> = manifest
                .files
                .iter()
                .filter_map(|f| f.path.strip_prefix(&format!("{dir}/")).map(str::to_owned))
                .collect();
            let served_paths: BTreeSet<String> = served.keys().cloned().collect();
            assert_eq!(in_manifest, served_paths, "{dir}: archived files = files the player finds");
        }
        // The video page is served as the directory index too, as nginx does.
        if demo.has_video_format {
            let page = reqwest::get(web.url(&format!("playback/video/{id}/"))).await.unwrap();
            assert_eq!(page.status(), 200);
        }
    }
    assert!(web.take_log().iter().all(|l| !l.path.contains("manifests")), "manifests are not part of playback");

    // A second run finds everything in place and asks for nothing.
    let (_, source) = &picked[0];
    let again = archiver.archive(source).await.unwrap();
    assert_eq!((again.downloaded_files, again.requests), (0, 0));
    assert_eq!(again.reused_files, again.manifest.files.len());
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The largest archived file of a manifest.
fn largest(manifest: &bbb_archive::Manifest) -> bbb_archive::FileEntry {
    manifest.files.iter().max_by_key(|f| f.size).unwrap().clone()
}

/// Turns an archived file back into an interrupted download: its first `keep` bytes in `<file>.part`.
fn interrupt(root: &Path, entry: &bbb_archive::FileEntry, keep: usize) -> Vec<u8> {
    let path = root.join(&entry.path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(bbb_archive::fetch::part_path(&path), &bytes[..keep]).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_downloads_resume_with_range_and_only_fetch_the_rest() {
    // The "old server" is a real static server (byte ranges supported) over an archive made from the demo.
    let media = tempfile::tempdir().unwrap();
    let server = demo(6, media.path(), 300 * 1024).await;
    let (demo_rec, demo_source) = sources(&server).into_iter().next().unwrap();
    let id = demo_rec.recording.record_id.clone();
    let origin = tempfile::tempdir().unwrap();
    archiver(origin.path(), 4).archive(&demo_source).await.unwrap();
    let old = StaticServer::start(origin.path().to_path_buf()).await;
    let source = RecordingSource::on_server(&old.url(""), &id, &[Format::Presentation]).unwrap();

    let archive = tempfile::tempdir().unwrap();
    let first = archiver(archive.path(), 4).archive(&source).await.unwrap();
    let big = largest(&first.manifest);
    assert!(big.size > 200_000, "{big:?}");

    // Rerun after truncating a .part: one request, for the rest only.
    let keep = (big.size as usize) * 2 / 5;
    let original = interrupt(archive.path(), &big, keep);
    old.take_log();
    let second = archiver(archive.path(), 4).archive(&source).await.unwrap();
    let log = old.take_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].path, format!("/{}", big.path));
    assert_eq!(log[0].range.as_deref(), Some(format!("bytes={keep}-").as_str()));
    assert_eq!(log[0].status, 206);
    assert_eq!(log[0].content_length, Some(big.size - keep as u64));
    assert_eq!((second.resumed_files, second.downloaded_files), (1, 1));
    assert_eq!(second.downloaded_bytes, big.size - keep as u64);
    assert_eq!(std::fs::read(archive.path().join(&big.path)).unwrap(), original);
    assert!(!bbb_archive::fetch::part_path(&archive.path().join(&big.path)).exists());
    assert!(verify(archive.path(), &id).unwrap().is_ok());

    // A connection cut mid-body is retried within the run from where it stopped.
    let fresh = tempfile::tempdir().unwrap();
    old.cut_next(&format!("/{}", big.path), 100_000);
    let third = archiver(fresh.path(), 4).archive(&source).await.unwrap();
    let tries: Vec<_> = old.take_log().into_iter().filter(|l| l.path == format!("/{}", big.path)).collect();
    assert_eq!(tries.len(), 2, "{tries:?}");
    assert_eq!(tries[0].range, None);
    let resumed_at: u64 =
        tries[1].range.as_deref().unwrap().trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(resumed_at > 0 && resumed_at <= 100_000, "{resumed_at}");
    assert_eq!(tries[1].status, 206);
    assert_eq!(third.resumed_files, 1);
    assert_eq!(third.manifest.file(&big.path).unwrap().sha256, big.sha256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_ignoring_range_gets_a_full_download() {
    // The demo server answers 200 with the whole file whatever the Range header says.
    let media = tempfile::tempdir().unwrap();
    let server = demo(6, media.path(), 200 * 1024).await;
    let (demo_rec, source) = sources(&server).into_iter().next().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let first = archiver(archive.path(), 4).archive(&source).await.unwrap();
    let big = largest(&first.manifest);
    let original = interrupt(archive.path(), &big, 1000);
    let second = archiver(archive.path(), 4).archive(&source).await.unwrap();
    assert_eq!((second.resumed_files, second.downloaded_files), (0, 1));
    assert_eq!(second.downloaded_bytes, big.size);
    assert_eq!(std::fs::read(archive.path().join(&big.path)).unwrap(), original);
    assert!(verify(archive.path(), &demo_rec.recording.record_id).unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_missing_truncated_and_corrupted_files_and_a_rerun_repairs_them() {
    let media = tempfile::tempdir().unwrap();
    let server = demo(6, media.path(), 32 * 1024).await;
    let (demo_rec, source) = sources(&server).into_iter().next().unwrap();
    let id = demo_rec.recording.record_id.clone();
    let pid = demo_rec.presentation_id();
    let archive = tempfile::tempdir().unwrap();
    archiver(archive.path(), 4).archive(&source).await.unwrap();
    assert!(bbb_archive::is_archived(archive.path(), &id));

    let at = |rel: &str| archive.path().join(format!("presentation/{id}/{rel}"));
    let slide = at(&format!("presentation/{pid}/slide-1.png"));
    let mut bytes = std::fs::read(&slide).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&slide, &bytes).unwrap();
    let thumb = at(&format!("presentation/{pid}/thumbnails/thumb-1.png"));
    let len = std::fs::metadata(&thumb).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&thumb).unwrap().set_len(len - 10).unwrap();
    std::fs::remove_file(at("shapes.svg")).unwrap();

    let report = verify(archive.path(), &id).unwrap();
    assert!(!report.is_ok());
    let mut kinds: Vec<&str> = report
        .problems
        .iter()
        .map(|p| match p {
            Problem::Missing { path } if path.ends_with("/shapes.svg") => "missing",
            Problem::SizeMismatch { path, expected, actual }
                if path.ends_with("thumb-1.png") && *actual + 10 == *expected =>
            {
                "size"
            }
            Problem::ChecksumMismatch { path, .. } if path.ends_with("slide-1.png") => "checksum",
            other => panic!("unexpected {other}"),
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["checksum", "missing", "size"]);
    assert!(!bbb_archive::is_archived(archive.path(), &id));

    let repair = archiver(archive.path(), 4).archive(&source).await.unwrap();
    assert_eq!(repair.downloaded_files, 3);
    assert!(verify(archive.path(), &id).unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_references_in_shapes_svg_are_not_followed_and_are_reported() {
    let origin = tempfile::tempdir().unwrap();
    let id = "0123456789abcdef0123456789abcdef01234567-1700000000000";
    let rec = origin.path().join(format!("presentation/{id}"));
    std::fs::create_dir_all(rec.join("presentation/p1")).unwrap();
    std::fs::create_dir_all(origin.path().join("etc")).unwrap();
    std::fs::write(origin.path().join("etc/passwd"), "root:x:0:0").unwrap();
    std::fs::write(origin.path().join("abs.png"), "outside").unwrap();
    std::fs::write(rec.join("metadata.xml"), format!("<recording><id>{id}</id></recording>")).unwrap();
    std::fs::write(rec.join("presentation/p1/slide-1.png"), "png").unwrap();
    std::fs::write(
        rec.join("shapes.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
  <image id="image1" in="0" out="1" xlink:href="presentation/p1/slide-1.png"/>
  <image id="image2" in="1" out="2" xlink:href="../../etc/passwd"/>
  <image id="image3" in="2" out="3" xlink:href="http://evil/x.png"/>
  <image id="image4" in="3" out="4" xlink:href="/abs.png"/>
  <image id="image5" in="4" out="5" xlink:href="presentation/p1/slide-2.png"/>
</svg>"#,
    )
    .unwrap();
    let old = StaticServer::start(origin.path().to_path_buf()).await;
    let source = RecordingSource::on_server(&old.url(""), id, &[Format::Presentation]).unwrap();
    let archive = tempfile::tempdir().unwrap();
    let report = archiver(archive.path(), 4).archive(&source).await.unwrap();

    let refused: Vec<&str> = report.manifest.rejected_references.iter().map(|r| r.warning.reference.as_str()).collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    for r in ["../../etc/passwd", "http://evil/x.png", "/abs.png"] {
        assert!(refused.contains(&r), "{r} not reported: {refused:?}");
    }
    let log = old.take_log();
    assert!(log.iter().all(|l| l.path.starts_with(&format!("/presentation/{id}/"))), "{log:?}");
    assert!(log.iter().all(|l| !l.path.contains("passwd") && !l.path.contains("abs.png") && !l.path.contains("evil")));
    let archived: Vec<&str> = report.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        archived,
        [
            format!("presentation/{id}/metadata.xml"),
            format!("presentation/{id}/presentation/p1/slide-1.png"),
            format!("presentation/{id}/shapes.svg")
        ]
    );
    // The slide named but missing on the source is reported as such.
    assert!(report.manifest.absent.iter().any(|a| a.referenced && a.path.ends_with("slide-2.png")));
    assert!(!archive.path().join("etc").exists() && !archive.path().join("abs.png").exists());
}

#[tokio::test]
async fn a_missing_required_file_fails_without_showing_tokens() {
    let origin = tempfile::tempdir().unwrap();
    let old = StaticServer::start(origin.path().to_path_buf()).await;
    let base = Url::parse(&format!("http://{}/presentation/gone-1/?token=s3cret", old.addr)).unwrap();
    let source = RecordingSource {
        record_id: "gone-1".into(),
        formats: vec![FormatSource { format: Format::Presentation, base, entry: None }],
    };
    let archive = tempfile::tempdir().unwrap();
    let err = archiver(archive.path(), 2).archive(&source).await.unwrap_err();
    assert!(matches!(err, ArchiveError::Required { .. }), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("metadata.xml") && !shown.contains("s3cret"), "{shown}");
    assert!(bbb_archive::Manifest::load(archive.path(), "gone-1").is_err());

    // A refused connection is an error too, and still shows no token.
    let closed = Url::parse("http://127.0.0.1:9/presentation/x-1/?token=s3cret").unwrap();
    let source = RecordingSource {
        record_id: "x-1".into(),
        formats: vec![FormatSource { format: Format::Presentation, base: closed, entry: None }],
    };
    let options = ArchiveOptions { retries: 0, ..ArchiveOptions::default() };
    let err = Archiver::new(reqwest::Client::new(), archive.path(), options).archive(&source).await.unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
