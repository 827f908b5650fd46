//! End to end: a generated recording with webcam and screen sharing written to a directory as the CLI
//! downloads it, rendered with ffmpeg, and the output checked with ffprobe and by decoding a frame.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bbb_presentation::Time;
use bbb_render::{Inputs, Layout, RenderError, RenderOptions, render_frame_png, render_to_file};
use migrate_demo::DemoRecording;
use migrate_demo::published::{PublishedFile, Script, presentation_file, presentation_files};
use migrate_demo::sync::{self, Region};
use tiny_skia::{IntSize, Pixmap};

/// Writes every published file of `demo` under `dir` (media made by ffmpeg through the shared cache).
async fn write_recording(demo: &DemoRecording, dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let cache = common::media_cache();
    for path in presentation_files(demo) {
        let target = dir.join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        match presentation_file(demo, &path).unwrap() {
            PublishedFile::Bytes { body, .. } => std::fs::write(&target, body).unwrap(),
            PublishedFile::Media(spec) => {
                let made = cache.get(&spec).await.unwrap();
                std::fs::copy(made, &target).unwrap();
            }
        }
    }
}

fn ffprobe_json(file: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_chapters"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn decode_frame(file: &Path, t: f64, w: u32, h: u32) -> Pixmap {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-ss", &format!("{t:.3}"), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Pixmap::from_vec(out.stdout, IntSize::from_wh(w, h).unwrap()).unwrap()
}

fn no_leftovers(dir: &Path) {
    let hidden: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minute_recording_with_webcam_and_deskshare_to_mp4() {
    let demo = common::rich_demo(120_000);
    let root = common::out_dir("e2e");
    let rec = root.join("recording");
    write_recording(&demo, &rec).await;
    let inputs = Inputs::from_dir(&rec).unwrap();
    assert!(inputs.media.webcams.is_some() && inputs.media.deskshare.is_some());
    let out = root.join("out.mp4");
    let _ = std::fs::remove_file(&out);
    let options = RenderOptions::default();
    let mut calls = 0;
    let report = render_to_file(&inputs, &out, &options, |_| calls += 1).await.unwrap();
    eprintln!("{report:#?}\nspeed: {:.1}× real time", report.speed());
    assert!(calls >= 1);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(!report.silent_audio);
    assert_eq!(report.areas.webcam.map(|a| (a.width, a.height)), Some((320, 240)), "auto = webcam beside the slides");
    assert!(report.frames < 2_000, "{} frames piped for 2 minutes", report.frames);
    no_leftovers(&root);

    let probe = ffprobe_json(&out);
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 120.0).abs() < 1.0, "{duration}");
    let codecs: Vec<&str> =
        probe["streams"].as_array().unwrap().iter().map(|s| s["codec_name"].as_str().unwrap()).collect();
    assert!(codecs.contains(&"h264") && codecs.contains(&"aac"), "{codecs:?}");
    let video = probe["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(1280), Some(720)));
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert!(probe["chapters"].as_array().unwrap().len() >= 2, "chapters from slide changes");

    // A known instant: a finished annotation on a slide, away from any change (the output is at 15 fps).
    let script = Script::of(&demo);
    let at = script
        .showings
        .iter()
        .filter(|s| s.slide.is_some())
        .flat_map(|s| s.shapes.iter().map(move |x| (s, x)))
        .find_map(|(s, x)| {
            let done = x.revisions.last()?.0;
            let gone = x.undo_tenths.unwrap_or(s.out_tenths).min(s.out_tenths);
            (done + 10 < gone).then_some(done + 5)
        })
        .unwrap();
    let t = Time::from_millis(at * 100);
    let decoded = decode_frame(&out, t.as_secs_f64(), 1280, 720);
    let expected = Pixmap::decode_png(&render_frame_png(&inputs, t, &options).await.unwrap()).unwrap();
    let _ = std::fs::write(root.join("decoded.png"), decoded.encode_png().unwrap());
    let _ = std::fs::write(root.join("expected.png"), expected.encode_png().unwrap());
    let share = common::similarity_within(&decoded, &expected, 24);
    assert!(share > 0.97, "only {:.1}% of the decoded frame matches the frame renderer at {t}", share * 100.0);

    // During screen sharing the slide area shows the deskshare video (not the black placeholder).
    let (a, b) = script.deskshares[0];
    let mid = (a + b) as f64 / 20.0;
    let desk = decode_frame(&out, mid, 1280, 720);
    let dark = (0..720).step_by(8).flat_map(|y| (0..960).step_by(8).map(move |x| (x, y))).filter(|(x, y)| {
        let p = desk.pixel(*x, *y).unwrap();
        p.red() < 20 && p.green() < 20 && p.blue() < 20
    });
    assert!(dark.count() < 120 * 90 / 2, "the screen share video is shown at {mid}s");

    // Sound and picture stay together: the beep of each whole second is where the source has it (±40 ms), and
    // the webcam area shows the source's picture of that instant, not the frame before or after it.
    let webcams = inputs.media.webcams.clone().unwrap();
    let cam = report.areas.webcam.unwrap();
    let region = Region { x: cam.x, y: cam.y, width: cam.width, height: cam.height };
    let ffmpeg = Path::new("ffmpeg");
    for second in [2, 61, 118] {
        let heard = sync::beep_offset(ffmpeg, &out, second).await.expect("a beep in the output");
        let source = sync::beep_offset(ffmpeg, &webcams, second).await.expect("a beep in the source");
        eprintln!("at {second} s: beep {:+.1} ms in the output, {:+.1} ms in the source", heard * 1e3, source * 1e3);
        assert!((heard - source).abs() <= 0.040, "sound moved by {:.1} ms at {second} s", (heard - source) * 1e3);
        let shown = sync::picture_match(ffmpeg, &out, region, &webcams, 10.0, second as f64).await.unwrap();
        assert!(shown.in_sync(), "webcam picture at {second} s is not the source's of that instant: {shown:?}");
    }
}

/// A short recording built by hand, for the error and format cases.
fn short_demo(has_webcam: bool) -> DemoRecording {
    let base = migrate_demo::generate(&migrate_demo::CatalogueOptions::new(1, "http://127.0.0.1:1/")).remove(0);
    DemoRecording {
        duration_ms: 8_000,
        slides: 2,
        has_webcam,
        has_deskshare: false,
        has_video_format: false,
        seed: 7,
        ..base
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webm_output_and_audio_only_recording() {
    let root = common::out_dir("webm");
    let rec = root.join("recording");
    write_recording(&short_demo(false), &rec).await;
    let inputs = Inputs::from_dir(&rec).unwrap();
    assert!(inputs.media.webcams.is_none() && inputs.media.audio.is_some());
    let out = root.join("out.webm");
    let report = render_to_file(&inputs, &out, &RenderOptions::default(), |_| {}).await.unwrap();
    assert_eq!(report.video_codec, "vp9");
    assert_eq!(report.audio_codec.as_deref(), Some("opus"));
    assert!(report.areas.webcam.is_none(), "no webcam video: slides only");
    assert_eq!(report.fps, 5);
    no_leftovers(&root);
}

/// `webcam-only`: the webcam fills the picture (letterboxed), no slides; MKV output is H.264 + AAC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webcam_only_layout_to_mkv() {
    let root = common::out_dir("webcam-only");
    let rec = root.join("recording");
    write_recording(&short_demo(true), &rec).await;
    let inputs = Inputs::from_dir(&rec).unwrap();
    let options = RenderOptions { layout: Layout::WebcamOnly, ..RenderOptions::default() };
    let out = root.join("out.mkv");
    let report = render_to_file(&inputs, &out, &options, |_| {}).await.unwrap();
    assert_eq!((report.video_codec.as_str(), report.audio_codec.as_deref()), ("h264", Some("aac")));
    assert!(report.areas.slides.is_none());
    assert_eq!(report.areas.webcam.map(|a| (a.width, a.height)), Some((1280, 720)));
    let t = Time::from_millis(4_000);
    let decoded = decode_frame(&out, t.as_secs_f64(), 1280, 720);
    let expected = Pixmap::decode_png(&render_frame_png(&inputs, t, &options).await.unwrap()).unwrap();
    let _ = std::fs::write(root.join("decoded.png"), decoded.encode_png().unwrap());
    let _ = std::fs::write(root.join("expected.png"), expected.encode_png().unwrap());
    let share = common::similarity_within(&decoded, &expected, 24);
    assert!(share > 0.97, "only {:.1}% of the decoded frame is the webcam's picture", share * 100.0);
    no_leftovers(&root);
}

/// Without webcam or screen share, only the drawn pictures are encoded (variable frame rate): far fewer frames
/// than a constant rate, yet never more than 2 s apart, a keyframe about every 10 s, the sound in sync, and
/// the picture of a static stretch right when decoded after a seek.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slides_only_mp4_holds_each_picture_with_a_variable_frame_rate() {
    let demo = DemoRecording { duration_ms: 90_000, slides: 3, ..short_demo(false) };
    let root = common::out_dir("vfr");
    let rec = root.join("recording");
    write_recording(&demo, &rec).await;
    let inputs = Inputs::from_dir(&rec).unwrap();
    let out = root.join("out.mp4");
    let options = RenderOptions::default();
    let report = render_to_file(&inputs, &out, &options, |_| {}).await.unwrap();
    assert!(report.areas.webcam.is_none());

    let packets = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8(packets.stdout).unwrap();
    let mut frames: Vec<(f64, bool)> = text
        .lines()
        .filter_map(|l| {
            let (t, flags) = l.split_once(',')?;
            Some((t.parse().ok()?, flags.starts_with('K')))
        })
        .collect();
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(frames.len() > 40 && frames.len() < 90 * 5 / 2, "{} frames for 90 s (5 fps would be 450)", frames.len());
    let gaps = frames.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max);
    assert!(gaps <= 2.01, "a picture held {gaps:.2} s without a frame");
    let keys: Vec<f64> = frames.iter().filter(|f| f.1).map(|f| f.0).collect();
    let key_gap = keys.windows(2).map(|w| w[1] - w[0]).fold(keys[0], f64::max);
    // Forced at the first frame after each 10 s mark, and frames come at least every 2 s.
    assert!(key_gap <= 12.01 && frames.last().unwrap().0 > 88.0, "keyframes {keys:?}");

    let sound = inputs.media.audio.clone().unwrap();
    for second in [3, 87] {
        let heard = sync::beep_offset(Path::new("ffmpeg"), &out, second).await.unwrap();
        let source = sync::beep_offset(Path::new("ffmpeg"), &sound, second).await.unwrap();
        assert!((heard - source).abs() <= 0.040, "sound moved by {:.1} ms at {second} s", (heard - source) * 1e3);
    }
    // The middle of the longest stretch without a change: reached by seeking, drawn as the frame renderer draws it.
    let mut changes: Vec<Time> = inputs.timeline.change_points();
    changes.push(inputs.timeline.duration);
    let (a, b) = changes.windows(2).map(|w| (w[0], w[1])).max_by_key(|(a, b)| b.as_millis() - a.as_millis()).unwrap();
    let t = Time::from_millis((a.as_millis() + b.as_millis()) / 2);
    let decoded = decode_frame(&out, t.as_secs_f64(), 1280, 720);
    let expected = Pixmap::decode_png(&render_frame_png(&inputs, t, &options).await.unwrap()).unwrap();
    let share = common::similarity_within(&decoded, &expected, 24);
    assert!(share > 0.97, "only {:.1}% of the frame at {t} matches", share * 100.0);
    no_leftovers(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_inputs_give_warnings_or_clear_errors() {
    let root = common::out_dir("damaged");
    let rec = root.join("recording");
    write_recording(&short_demo(true), &rec).await;
    // No sound at all: the output gets a silent track and the report says so.
    std::fs::remove_file(rec.join("video/webcams.webm")).unwrap();
    let inputs = Inputs::from_dir(&rec).unwrap();
    let out = root.join("silent.mkv");
    let options = RenderOptions { layout: Layout::PresentationWebcam, ..RenderOptions::default() };
    let report = render_to_file(&inputs, &out, &options, |_| {}).await.unwrap();
    assert!(report.silent_audio);
    assert!(report.warnings.iter().any(|w| w.contains("no sound")), "{:?}", report.warnings);
    assert!(report.areas.webcam.is_none(), "no webcam to place");

    // Unknown output type, zero length, missing ffmpeg, not a recording.
    let err = render_to_file(&inputs, &root.join("x.avi"), &options, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains(".avi"), "{err}");
    let missing = RenderOptions { ffmpeg: "/nonexistent/ffmpeg".into(), ..RenderOptions::default() };
    let err = render_to_file(&inputs, &root.join("y.mp4"), &missing, |_| {}).await.unwrap_err();
    assert!(matches!(err, RenderError::FfmpegMissing(_)), "{err}");
    let empty = Inputs::new(std::collections::BTreeMap::<String, Vec<u8>>::new(), Default::default());
    let err = render_to_file(&empty, &root.join("z.mp4"), &options, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("zero length"), "{err}");
    assert!(Inputs::from_dir(root.join("nowhere")).is_err());
    assert!(Inputs::from_dir(rec.join("video")).is_err());
    no_leftovers(&root);
}
