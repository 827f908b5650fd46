//! `bbb-migrate render` as a subprocess against the demo old server: published files fetched over HTTP, then
//! one frame, and a whole (short) recording verified with ffprobe.

use assert_cmd::Command;
use migrate_demo::{DemoServer, ServerOptions};

#[tokio::test(flavor = "multi_thread")]
async fn renders_a_frame_by_record_id_and_a_video_by_playback_url() {
    let server = DemoServer::start(ServerOptions { recordings: 40, ..Default::default() }).await.unwrap();
    let demo = server
        .recordings()
        .iter()
        .filter(|d| d.recording.published && d.recording.format(&bbb_api::FormatKind::Presentation).is_some())
        .min_by_key(|d| d.duration_ms)
        .unwrap();
    assert!(demo.duration_ms < 300_000, "the catalogue has a short recording");
    let dir = tempfile::tempdir().unwrap();
    let bbb_migrate = || {
        let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
        cmd.current_dir(dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", server.secret());
        cmd
    };
    let frame = dir.path().join("frame.png");
    let out = bbb_migrate()
        .args(["render", &demo.recording.record_id, "--frame", "00:00:30", "--keep-files", "files", "-o"])
        .arg(&frame)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&frame).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let kept = dir.path().join("files").join(&demo.recording.record_id);
    assert!(kept.join("shapes.svg").is_file() && kept.join("metadata.xml").is_file());
    let slides = std::fs::read_dir(kept.join("presentation").join(demo.presentation_id())).unwrap().count();
    assert!(slides >= demo.slides as usize, "every slide image named in shapes.svg was fetched");

    let url = &demo.recording.format(&bbb_api::FormatKind::Presentation).unwrap().url;
    let video = dir.path().join("talk.mp4");
    let out = bbb_migrate().args(["render", url, "-o"]).arg(&video).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("× real time"));
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1"])
        .arg(&video)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(text.contains("codec_name=h264") && text.contains("codec_name=aac"), "{text}");
    let duration: f64 = text.lines().find_map(|l| l.strip_prefix("duration=")).unwrap().parse().unwrap();
    assert!((duration - demo.duration_ms as f64 / 1000.0).abs() <= 1.0, "{duration} s for {} ms", demo.duration_ms);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");
}
