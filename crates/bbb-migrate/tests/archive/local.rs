//! `bbb-migrate archive` as a subprocess against the demo old server: the archive has every published file in
//! the server's layout, a rerun fetches nothing, `--verify` finds a damaged file, and the next run repairs it.

use std::path::Path;

use crate::common::{bbb_migrate, demo_server, output, published};

#[tokio::test(flavor = "multi_thread")]
async fn archive_verify_and_repair() {
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 8, 20_000).await;
    let archive = work.path().join("archive");
    let dir = archive.to_str().unwrap();

    let (ok, text) = output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--state", "published"]);
    assert!(ok, "{text}");
    let published = published(&server);
    assert!(!published.is_empty());
    assert!(text.contains(&format!("{} archived", published.len())), "{text}");
    for demo in &published {
        let id = &demo.recording.record_id;
        if demo.recording.format(&bbb_api::FormatKind::Presentation).is_some() {
            for rel in migrate_demo::published::presentation_files(demo) {
                let file = archive.join("presentation").join(id).join(&rel);
                assert!(file.is_file(), "{} archived", file.display());
            }
        }
        if demo.has_video_format {
            assert!(archive.join("playback/video").join(id).is_dir(), "video playback of {id}");
        }
        assert!(archive.join("manifests").join(id).join("bbb-migrate-manifest.json").is_file());
    }

    // The ledger holds every file's size and SHA-256, as the manifest does.
    let ledger =
        migrate_ledger::Ledger::open(&format!("sqlite://{}/ledger.sqlite", work.path().display())).await.unwrap();
    let first = &published[0].recording.record_id;
    let action = ledger.action(&format!("archive:{first}")).await.unwrap().expect("an archive action");
    assert_eq!(action.status, migrate_ledger::ActionStatus::Done);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(archive.join("manifests").join(first).join("bbb-migrate-manifest.json")).unwrap(),
    )
    .unwrap();
    let files = action.output_details.unwrap()["files"].as_array().unwrap().len();
    assert_eq!(files, manifest["files"].as_array().unwrap().len());
    ledger.close().await;

    let (ok, text) = output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--state", "published"]);
    assert!(ok && text.contains("0 archived") && text.contains("already archived"), "a rerun fetches nothing: {text}");
    let (ok, text) =
        output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--verify", "--state", "published"]);
    assert!(ok && text.contains(&format!("{} recording(s) complete", published.len())), "{text}");

    // Damage one file: --verify names it and fails; the next archive run fetches it again.
    let victim = archive.join("presentation").join(&published[0].recording.record_id).join("shapes.svg");
    std::fs::write(&victim, b"<svg/>").unwrap();
    let (ok, text) =
        output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--verify", "--state", "published"]);
    assert!(!ok && text.contains("shapes.svg") && text.contains("1 damaged"), "{text}");
    let (ok, text) = output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--state", "published"]);
    assert!(ok && text.contains("repaired"), "{text}");
    let (ok, text) =
        output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--verify", "--state", "published"]);
    assert!(ok && text.contains("0 damaged"), "{text}");

    let (ok, text) = output(
        &mut bbb_migrate(work.path(), &server),
        &["archive", dir, "--serve-config", "--base-url", "https://archive.univ.fr"],
    );
    assert!(ok && text.contains("server_name archive.univ.fr;") && text.contains(&format!("root {dir};")), "{text}");
}

/// Import, archive, then relink: the rows bbb-migrate made point at the archive, only for archived
/// recordings; `restore` puts the old URLs back.
#[tokio::test(flavor = "multi_thread")]
async fn relink_and_restore_round_trip() {
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 10, 5_000).await;
    let pod_url = migrate_demo::pod_db::create(&work.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let cmd = || {
        let mut cmd = bbb_migrate(work.path(), &server);
        cmd.env("BBB_MIGRATE_POD__DATABASE", &pod_url)
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\"]");
        cmd
    };
    let archive = work.path().join("archive");
    let (ok, text) = output(&mut cmd(), &["migrate", "--mode", "import", "--state", "published"]);
    assert!(ok, "{text}");
    // Only the two newest are archived: the others must keep pointing at the old server.
    let (ok, text) = output(&mut cmd(), &["archive", archive.to_str().unwrap(), "--state", "published", "--to", "2"]);
    assert!(ok, "{text}");
    let pod_file = work.path().join("pod.sqlite");
    let before = source_urls(&pod_file).await;
    let (ok, text) = output(&mut cmd(), &["relink", "--to", "https://archive.univ.fr", "--dry-run"]);
    assert!(ok && text.contains("dry run"), "{text}");
    assert_eq!(source_urls(&pod_file).await, before, "a dry run changes nothing");
    let (ok, text) = output(&mut cmd(), &["relink", "--to", "https://archive.univ.fr", "--backup", "relink.json"]);
    assert!(ok && text.contains("relinked"), "{text}");
    let after = source_urls(&pod_file).await;
    let moved: Vec<_> = after.iter().filter(|u| u.starts_with("https://archive.univ.fr/playback/")).collect();
    assert!(!moved.is_empty(), "{after:?}");
    assert!(after.len() > moved.len(), "recordings not archived keep the old server");
    let (ok, text) = output(&mut cmd(), &["restore", "relink.json"]);
    assert!(ok, "{text}");
    assert_eq!(source_urls(&pod_file).await, before, "restore puts every URL back");
}

/// Every external recording's source URL, sorted.
async fn source_urls(path: &Path) -> Vec<String> {
    let db = migrate_db::Db::open(&format!("sqlite://{}", path.display()), Default::default()).await.unwrap();
    let sql = "SELECT source_url FROM import_video_externalrecording ORDER BY source_url";
    let rows: Vec<String> =
        migrate_db::with_db!(&db, pool => migrate_db::sqlx::query_scalar(sql).fetch_all(pool).await).unwrap();
    db.close().await;
    rows
}
