//! `bbb-migrate archive s3://BUCKET/PREFIX` as a subprocess, against a real S3 server (moto's `moto_server`):
//! every recording archived, the ledger pointing at the manifest in the bucket, a rerun uploading nothing,
//! `--verify` reading every object back, and the secret key never printed.

use std::path::Path;

use assert_cmd::Command;
use migrate_demo::DemoServer;
use migrate_testdb::moto::Moto;

use crate::common::{demo_server, published};

const SECRET_KEY: &str = "s3-secret-that-must-not-show";

/// `bbb-migrate` with the archive's S3 endpoint (moto), its keys and a staging directory.
fn bbb_migrate(dir: &Path, server: &DemoServer, moto: &Moto) -> Command {
    let mut cmd = crate::common::bbb_migrate(dir, server);
    cmd.env("BBB_MIGRATE_ARCHIVE__ENDPOINT", moto.endpoint())
        .env("BBB_MIGRATE_ARCHIVE__ACCESS_KEY_ID", "testing")
        .env("BBB_MIGRATE_ARCHIVE__SECRET_ACCESS_KEY", SECRET_KEY)
        .env("BBB_MIGRATE_ARCHIVE__STAGING_DIR", dir.join("staging"));
    cmd
}

/// [`crate::common::output`], checking the secret key is never printed.
fn output(cmd: &mut Command, args: &[&str]) -> (bool, String) {
    let (ok, text) = crate::common::output(cmd, args);
    assert!(!text.contains(SECRET_KEY), "the secret key is printed: {text}");
    (ok, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_to_a_bucket_rerun_and_verify() {
    let Some(moto) = Moto::start() else { return };
    let created = reqwest_put(&format!("{}/bbb-archive", moto.endpoint())).await;
    assert!(created, "bucket created");
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 6, 20_000).await;
    let published = published(&server).len();
    let url = "s3://bbb-archive/univ";
    let run = |args: &[&str]| output(&mut bbb_migrate(work.path(), &server, &moto), args);

    let (ok, text) = run(&["archive", url, "--state", "published"]);
    assert!(ok && text.contains(&format!("{published} archived")), "{text}");
    assert!(text.contains("archive s3://bbb-archive/univ/:"), "{text}");
    let (ok, text) = run(&["config", "show"]);
    assert!(ok && text.contains("secret_access_key = \"****\""), "{text}");

    // The ledger points at each manifest in the bucket.
    let ledger =
        migrate_ledger::Ledger::open(&format!("sqlite://{}/ledger.sqlite", work.path().display())).await.unwrap();
    let filter = migrate_ledger::ActionFilter { kind: Some("archive".into()), ..Default::default() };
    let actions = ledger.actions(&filter).await.unwrap();
    ledger.close().await;
    assert_eq!(actions.len(), published);
    for a in &actions {
        let id = a.record_id.as_deref().unwrap();
        assert_eq!(a.status, migrate_ledger::ActionStatus::Done);
        assert_eq!(
            a.output_path.as_deref(),
            Some(format!("{url}/manifests/{id}/bbb-migrate-manifest.json").as_str()),
            "{a:?}"
        );
    }

    let (ok, text) = run(&["archive", url, "--state", "published"]);
    assert!(ok && text.contains("0 archived") && text.contains(&format!("{published} already archived")), "{text}");
    assert!(!text.contains("repaired"), "nothing fetched or uploaded again: {text}");
    let (ok, text) = run(&["archive", url, "--verify", "--state", "published"]);
    assert!(ok && text.contains(&format!("verify: {published} recording(s) complete and matching")), "{text}");
    // A recording never archived there is reported missing by --verify.
    let (ok, text) = run(&["archive", "s3://bbb-archive/elsewhere", "--verify", "--state", "published"]);
    assert!(!ok && text.contains(&format!("{published} not archived")), "{text}");
}

/// An unsigned PUT (moto creates a bucket so); whether it succeeded.
async fn reqwest_put(url: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let u = url.strip_prefix("http://").unwrap();
    let (host, path) = u.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("PUT /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}
