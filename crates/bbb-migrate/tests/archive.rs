//! `bbb-migrate archive` as a subprocess against the demo old server: the archive has every published file in
//! the server's layout, a rerun fetches nothing, `--verify` finds a damaged file, and the next run repairs it.

use std::path::Path;

use assert_cmd::Command;
use migrate_demo::{DemoServer, ServerOptions};

fn bbb_migrate(dir: &Path, server: &DemoServer) -> Command {
    let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
    cmd.current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
        .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
        .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/ledger.sqlite", dir.display()));
    cmd
}

fn output(cmd: &mut Command, args: &[&str]) -> (bool, String) {
    let out = cmd.args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_verify_and_repair() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    let options = ServerOptions {
        recordings: 8,
        media_dir: Some(media.clone()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        ..ServerOptions::default()
    };
    let server = DemoServer::start(options).await.unwrap();
    migrate_demo::media::stand_in_media(&media, server.recordings(), |_| 20_000).unwrap();
    let archive = work.path().join("archive");
    let dir = archive.to_str().unwrap();

    let (ok, text) = output(&mut bbb_migrate(work.path(), &server), &["archive", dir, "--state", "published"]);
    assert!(ok, "{text}");
    let published: Vec<_> =
        server.recordings().iter().filter(|d| d.recording.published && !d.recording.formats.is_empty()).collect();
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
