//! `bbb-migrate archive DIR` against a Scalelite with protected recordings (the demo server behind its
//! protected front): each recording's files are fetched through a fresh one-time link, a recording whose link
//! the server refuses fails with that reason while the others are archived, and no token reaches the output.

use std::path::Path;

use assert_cmd::Command;
use migrate_demo::protected::ProtectedFront;

use crate::common::{demo_server, published, std_command};

/// `bbb-migrate` reading the API through the protected front.
fn output(dir: &Path, front: &ProtectedFront, secret: &str, args: &[&str]) -> (bool, String) {
    crate::common::output(&mut Command::from_std(std_command(dir, &front.api_url(), secret)), args)
}

#[tokio::test(flavor = "multi_thread")]
async fn protected_recordings_are_archived_through_fresh_links() {
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 8, 10_000).await;
    let front = ProtectedFront::start(&server).await.unwrap();
    let published = published(&server);
    let refused = &published[0].recording.record_id;
    front.refuse_tokens(refused);
    let archive = work.path().join("archive");
    let dir = archive.to_str().unwrap();

    let (ok, text) = output(work.path(), &front, server.secret(), &["archive", dir, "--state", "published"]);
    assert!(!ok, "a recording failed: exit 2\n{text}");
    let n = published.len();
    assert!(text.contains(&format!("{} archived, 0 already archived, 1 failed", n - 1)), "{text}");
    assert!(
        text.contains(&format!("failed: {refused}"))
            && text.contains("protected recording: the server refused the playback token"),
        "{text}"
    );
    assert!(!text.contains("token="), "no token is shown: {text}");
    // The listing's links were not enough: each archived recording asked for fresh ones and used them.
    let formats: usize = published[1..].iter().map(|d| d.recording.formats.len()).sum();
    assert!(front.tokens_consumed() >= formats, "{} tokens used, {formats} formats", front.tokens_consumed());
    for demo in &published[1..] {
        let id = &demo.recording.record_id;
        for rel in migrate_demo::published::presentation_files(demo) {
            assert!(archive.join("presentation").join(id).join(&rel).is_file(), "{id}/{rel}");
        }
        if demo.has_video_format {
            assert!(archive.join("playback/video").join(id).join("video-0.m4v").is_file(), "video of {id}");
        }
    }
    assert!(!archive.join("manifests").join(refused).join("bbb-migrate-manifest.json").exists());
    let (ok, text) =
        output(work.path(), &front, server.secret(), &["archive", dir, "--verify", "--state", "published"]);
    assert!(
        !ok && text.contains(&format!("{} recording(s) complete", n - 1)) && text.contains("1 not archived"),
        "{text}"
    );
}
