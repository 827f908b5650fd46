//! The archive in an S3-compatible bucket, against a real S3 server (moto's `moto_server`): the demo's
//! recordings land under the prefix in the server's layout, every object read back (with a client of its own,
//! not through `Bucket`) has the size and SHA-256 the manifest records, a rerun neither downloads nor uploads, `verify`
//! finds a damaged object and the next run repairs exactly it.

mod common;

use std::collections::BTreeMap;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};

use bbb_archive::{ArchiveOptions, Archiver, Bucket, Manifest, Problem, S3Settings, verify_bucket};
use common::{demo, sources};
use migrate_testdb::moto::Moto;
use sha2::{Digest, Sha256};

fn settings(moto: &Moto) -> S3Settings {
    S3Settings {
        endpoint: moto.endpoint(),
        region: "us-east-1".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    }
}

/// A plain S3 client on the same bucket, to read back what the archiver wrote.
fn raw(moto: &Moto) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_bucket_name("bbb-archive")
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap()
}

async fn get(s3: &AmazonS3, key: &str) -> Vec<u8> {
    s3.get(&Key::from(key)).await.unwrap_or_else(|e| panic!("{key}: {e}")).bytes().await.unwrap().to_vec()
}

/// `Last-Modified` and ETag of every object, to tell whether anything was written again.
async fn versions(s3: &AmazonS3, keys: &[String]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for key in keys {
        let meta = s3.head(&Key::from(key.as_str())).await.unwrap();
        out.push((meta.last_modified.to_rfc3339(), meta.e_tag));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn archive_into_a_bucket_verify_and_repair() {
    let Some(moto) = Moto::start() else { return };
    let http = reqwest::Client::new();
    // moto accepts an unsigned CreateBucket.
    let created = http.put(format!("{}/bbb-archive", moto.endpoint())).send().await.unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let media = tempfile::tempdir().unwrap();
    let server = demo(8, media.path(), 40 * 1024).await;
    let picked: Vec<_> = sources(&server).into_iter().take(4).collect();
    assert!(picked.iter().any(|(d, _)| d.has_video_format) || picked.len() == 4);
    let staging = tempfile::tempdir().unwrap();
    let bucket = Bucket::connect("s3://bbb-archive/univ/2024", &settings(&moto)).unwrap();
    let archiver =
        Archiver::to_bucket(reqwest::Client::new(), bucket.clone(), staging.path(), ArchiveOptions::default());

    let mut manifests = Vec::new();
    for (_, source) in &picked {
        let report = archiver.archive(source).await.unwrap();
        assert_eq!(report.reused_files, 0);
        assert_eq!(report.downloaded_files, report.manifest.files.len());
        assert_eq!(
            report.manifest_location,
            format!("s3://bbb-archive/univ/2024/manifests/{}/bbb-migrate-manifest.json", source.record_id)
        );
        manifests.push(report.manifest);
    }
    // Staging is emptied once a recording's manifest is in the bucket.
    let left: Vec<_> = walk(staging.path());
    assert!(left.is_empty(), "staging keeps nothing: {left:?}");

    // Every object read back matches the manifest, which is in the bucket too.
    let s3 = raw(&moto);
    let mut keys = Vec::new();
    let mut bytes = 0u64;
    for manifest in &manifests {
        let key = format!("univ/2024/manifests/{}/bbb-migrate-manifest.json", manifest.record_id);
        let stored = Manifest::from_json(&get(&s3, &key).await, &manifest.record_id, &key).unwrap();
        assert_eq!(&stored, manifest);
        assert!(manifest.files.iter().any(|f| f.path.ends_with("/shapes.svg")));
        for file in &manifest.files {
            let key = format!("univ/2024/{}", file.path);
            let body = get(&s3, &key).await;
            assert_eq!(body.len() as u64, file.size, "{key}");
            assert_eq!(hex::encode(Sha256::digest(&body)), file.sha256, "{key}");
            bytes += file.size;
            keys.push(key);
        }
    }
    assert!(keys.len() > 20 && bytes > 100_000, "{} objects, {bytes} bytes", keys.len());
    // The objects are what the old server published, byte for byte.
    let (demo_rec, source) = &picked[0];
    let shapes = format!("presentation/{}/shapes.svg", demo_rec.recording.record_id);
    let original = http.get(source.formats[0].base.join("shapes.svg").unwrap()).send().await.unwrap();
    let original = original.bytes().await.unwrap();
    let entry = manifests[0].file(&shapes).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&original)), entry.sha256);

    // A rerun (a new process: a fresh archiver) downloads nothing and writes no object again.
    let before = versions(&s3, &keys).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let again = Archiver::to_bucket(reqwest::Client::new(), bucket.clone(), staging.path(), ArchiveOptions::default());
    for (_, source) in &picked {
        let report = again.archive(source).await.unwrap();
        assert_eq!((report.downloaded_files, report.requests), (0, 0), "{}", source.record_id);
        assert_eq!(report.reused_files, report.manifest.files.len());
    }
    assert_eq!(versions(&s3, &keys).await, before, "nothing re-uploaded");

    // verify reads every object back: all good, then one damaged object is found and only it is repaired.
    for manifest in &manifests {
        let report = verify_bucket(&bucket, &manifest.record_id).await.unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.files_checked, manifest.files.len());
        assert_eq!(report.bytes_checked, manifest.total_size());
    }
    let victim = format!("univ/2024/{shapes}");
    s3.put(&Key::from(victim.as_str()), "<svg/>".into()).await.unwrap();
    let id = &demo_rec.recording.record_id;
    let report = verify_bucket(&bucket, id).await.unwrap();
    assert!(
        matches!(report.problems.as_slice(), [Problem::SizeMismatch { path, .. }] if *path == shapes),
        "{:?}",
        report.problems
    );
    let repaired = again.archive(source).await.unwrap();
    assert_eq!(repaired.downloaded_files, 1, "only the damaged object is fetched again");
    assert!(verify_bucket(&bucket, id).await.unwrap().is_ok());

    // Nothing but the archive under the prefix: the layout of a BBB server, plus the manifests.
    let listed: Vec<String> =
        s3.list(Some(&Key::from("univ/2024"))).map(|m| m.unwrap().location.to_string()).collect().await;
    assert_eq!(listed.len(), keys.len() + picked.len(), "the files and one manifest per recording");
    let mut tops: BTreeMap<String, usize> = BTreeMap::new();
    for key in &listed {
        let rest = key.strip_prefix("univ/2024/").expect("under the prefix");
        let top = if rest.starts_with("playback/video/") { "playback/video" } else { rest.split('/').next().unwrap() };
        *tops.entry(top.to_owned()).or_default() += 1;
    }
    assert!(tops.keys().all(|k| ["presentation", "playback/video", "manifests"].contains(&k.as_str())), "{tops:?}");
    assert_eq!(tops["manifests"], picked.len());
}

/// Bad credentials or a missing bucket fail the recording with the bucket's answer, secret not shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_clear_error() {
    let Some(moto) = Moto::start() else { return };
    let media = tempfile::tempdir().unwrap();
    let server = demo(3, media.path(), 4 * 1024).await;
    let (_, source) = sources(&server).into_iter().next().unwrap();
    let mut s = settings(&moto);
    s.secret_access_key = "very-secret-key-value".into();
    let bucket = Bucket::connect("s3://no-such-bucket/x", &s).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let err = Archiver::to_bucket(reqwest::Client::new(), bucket, staging.path(), ArchiveOptions::default())
        .archive(&source)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-bucket") && !err.contains("very-secret-key-value"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

/// Media larger than one part (16 MiB) go up as multipart uploads and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_media_go_up_in_parts() {
    let Some(moto) = Moto::start() else { return };
    let created = reqwest::Client::new().put(format!("{}/bbb-archive", moto.endpoint())).send().await.unwrap();
    assert!(created.status().is_success());
    let media = tempfile::tempdir().unwrap();
    let server = demo(2, media.path(), 17 * 1024 * 1024 + 123).await;
    let (_, source) = sources(&server).into_iter().next().unwrap();
    let bucket = Bucket::connect("s3://bbb-archive/big", &settings(&moto)).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let archiver = Archiver::to_bucket(reqwest::Client::new(), bucket, staging.path(), ArchiveOptions::default());
    let report = archiver.archive(&source).await.unwrap();
    let big: Vec<_> = report.manifest.files.iter().filter(|f| f.size > 16 * 1024 * 1024).collect();
    assert!(!big.is_empty(), "the recording has media above one part");
    let s3 = raw(&moto);
    for file in big {
        let body = get(&s3, &format!("big/{}", file.path)).await;
        assert_eq!((body.len() as u64, hex::encode(Sha256::digest(&body))), (file.size, file.sha256.clone()));
    }
}
