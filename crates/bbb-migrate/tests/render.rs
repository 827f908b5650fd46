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
    // ffprobe's codec names and duration of a file.
    let probe = |file: &std::path::Path| -> (String, f64) {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1"])
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let duration = text.lines().find_map(|l| l.strip_prefix("duration=")).unwrap().parse().unwrap();
        (text, duration)
    };
    let (text, duration) = probe(&video);
    assert!(text.contains("codec_name=h264") && text.contains("codec_name=aac"), "{text}");
    assert!((duration - demo.duration_ms as f64 / 1000.0).abs() <= 1.0, "{duration} s for {} ms", demo.duration_ms);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");

    // The files kept on disk render alone: no server configured.
    let from_dir = dir.path().join("from-dir.mp4");
    let out = Command::cargo_bin("bbb-migrate")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("BBB_MIGRATE_CONFIG")
        .arg("render")
        .arg(&kept)
        .arg("-o")
        .arg(&from_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!((probe(&from_dir).1 - duration).abs() < 0.1, "the same recording from disk and from the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_with_a_video_playback_is_copied_unless_rendering_is_forced() {
    // A catalogue whose newest short recording also has the `video` format.
    let (seed, record_id, duration_ms) = (0..200u64)
        .find_map(|seed| {
            let mut options = migrate_demo::CatalogueOptions::new(20, "http://127.0.0.1:1/");
            options.seed = seed;
            migrate_demo::generate(&options)
                .into_iter()
                .find(|d| d.has_video_format && d.recording.published && d.duration_ms < 240_000)
                .map(|d| (seed, d.recording.record_id, d.duration_ms))
        })
        .expect("some seed has a short recording with a video playback");
    let server = DemoServer::start(ServerOptions { recordings: 20, seed, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], output: &str| {
        Command::cargo_bin("bbb-migrate")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
            .args(["render", &record_id, "-o", output])
            .args(extra)
            .output()
            .unwrap()
    };
    let copied = run(&[], "copied.mp4");
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    assert!(String::from_utf8_lossy(&copied.stdout).contains("video playback"), "copied, not rendered");
    let rendered = run(&["--force-render"], "rendered.mp4");
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(String::from_utf8_lossy(&rendered.stdout).contains("× real time"));
    for file in ["copied.mp4", "rendered.mp4"] {
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        let seconds: f64 = String::from_utf8_lossy(&probe.stdout).trim().parse().unwrap();
        assert!((seconds - duration_ms as f64 / 1000.0).abs() <= 1.0, "{file}: {seconds} s for {duration_ms} ms");
    }
    let copied_bytes = std::fs::read(dir.path().join("copied.mp4")).unwrap();
    assert!(copied_bytes.windows(4).any(|w| w == b"moov"), "an MP4");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no temporary file left");
}
