//! The drop-in for Pod's import-video module, run with node exactly as Pod runs bbb-recorder's export.js.

use assert_cmd::Command;
use migrate_demo::{DemoServer, ServerOptions};

#[tokio::test(flavor = "multi_thread")]
async fn pods_node_export_js_call_gets_its_video_from_the_native_renderer() {
    let server = DemoServer::start(ServerOptions { recordings: 40, ..Default::default() }).await.unwrap();
    let demo = server
        .recordings()
        .iter()
        .filter(|d| d.recording.published && d.recording.format(&bbb_api::FormatKind::Presentation).is_some())
        .min_by_key(|d| d.duration_ms)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (plugin, videos) = (dir.path().join("bbb-recorder"), dir.path().join("videos"));
    Command::cargo_bin("bbb-migrate")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("BBB_MIGRATE_CONFIG")
        .args(["pod-plugin", "install"])
        .arg(&plugin)
        .arg("--output")
        .arg(&videos)
        .assert()
        .success();
    let node = |args: &[&str]| {
        std::process::Command::new("node")
            .current_dir(&plugin)
            .arg("export.js")
            .args(args)
            .env_remove("BBB_MIGRATE_CONFIG")
            .output()
            .expect("node (apt-get install nodejs)")
    };
    let url = &demo.recording.format(&bbb_api::FormatKind::Presentation).unwrap().url;
    // Pod names its files .webm; a changed setting can ask for the others.
    for (name, video_codecs, audio_codec) in [
        ("video-import.webm", &["vp9", "vp8"][..], "opus"),
        ("video-import.mp4", &["h264"][..], "aac"),
        ("video-import.mkv", &["h264"][..], "aac"),
    ] {
        let out = node(&[url, name]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let video = videos.join(name);
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1"])
            .arg(&video)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&probe.stdout);
        assert!(video_codecs.iter().any(|c| text.contains(&format!("codec_name={c}"))), "{name}: {text}");
        assert!(text.contains(&format!("codec_name={audio_codec}")), "{name}: {text}");
        let duration: f64 = text.lines().find_map(|l| l.strip_prefix("duration=")).unwrap().parse().unwrap();
        assert!((duration - demo.duration_ms as f64 / 1000.0).abs() <= 1.0, "{name}: {duration}");
    }

    let refused = node(&[url, "../escape.webm"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(!dir.path().join("escape.webm").exists());
    let failed = node(&["https://127.0.0.1:1/playback/presentation/2.3/nope", "x.webm"]);
    assert!(!failed.status.success(), "bbb-migrate's failure is Pod's failure");
}
