//! Rendering speed on this machine, next to a bare ffmpeg composite of the same media in the same run.
//!
//! `cargo run -p bbb-render --example bench [minutes] [work dir]` (default 10 minutes under
//! `target/bbb-render-bench`): generates a recording with slides, annotations, cursor moves and a 640×480
//! webcam with sound, renders it to MP4 at 1280×720, then times ffmpeg alone putting the same webcam video
//! beside a plain background with the same encoder settings (no slide rendering). Prints seconds of recording
//! per second of work for both. Not a test: figures depend on the machine. `BENCH_FPS=10` and
//! `BENCH_PRESET=superfast` try the speed knobs.

use std::path::PathBuf;
use std::time::Instant;

use bbb_render::{Inputs, RenderOptions, render_to_file};
use migrate_demo::DemoRecording;
use migrate_demo::media::{MediaCache, MediaSpec};
use migrate_demo::published::{PublishedFile, presentation_file, presentation_files};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let minutes: u64 = args.get(1).and_then(|m| m.parse().ok()).unwrap_or(10);
    let work = args.get(2).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/bbb-render-bench"));
    let duration_ms = minutes * 60_000;
    let base = migrate_demo::generate(&migrate_demo::CatalogueOptions::new(1, "http://127.0.0.1:1/")).remove(0);
    let demo = DemoRecording {
        duration_ms,
        slides: 12,
        has_webcam: true,
        has_deskshare: false,
        has_video_format: false,
        seed: 42,
        ..base
    };

    let rec = work.join(format!("recording-{minutes}min"));
    std::fs::create_dir_all(&rec)?;
    let cache = MediaCache::new(work.join("media"), "ffmpeg");
    let t = Instant::now();
    for path in presentation_files(&demo) {
        let target = rec.join(&path);
        std::fs::create_dir_all(target.parent().unwrap_or(&rec))?;
        match presentation_file(&demo, &path) {
            Some(PublishedFile::Bytes { body, .. }) => std::fs::write(&target, body)?,
            Some(PublishedFile::Media(spec)) => {
                // BBB's webcam size, not the demo's quarter-size default.
                let spec = MediaSpec { width: 640, height: 480, ..spec };
                if !target.exists() {
                    std::fs::copy(cache.get(&spec).await?, &target)?;
                }
            }
            None => {}
        }
    }
    eprintln!("inputs ready in {:.1} s ({})", t.elapsed().as_secs_f64(), rec.display());

    let inputs = Inputs::from_dir(&rec)?;
    let tl = &inputs.timeline;
    eprintln!(
        "{} min: {} slide showings, {} shapes, {} change points, {} cursor moves",
        minutes,
        tl.slides.len(),
        tl.shapes.len(),
        tl.change_points().len(),
        tl.cursor_points().len()
    );
    // BENCH_FPS / BENCH_PRESET try the speed knobs without editing code.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut options = RenderOptions { fps: env("BENCH_FPS").and_then(|f| f.parse().ok()), ..RenderOptions::default() };
    if let Some(preset) = env("BENCH_PRESET") {
        options.x264_preset = preset;
    }
    let out = work.join("render.mp4");
    let report = render_to_file(&inputs, &out, &options, |_| {}).await?;
    let ours = report.elapsed.as_secs_f64();

    // The same media through ffmpeg alone: background + webcam beside it + sound, same size, rate and encoder.
    let webcams = inputs.media.webcams.clone().ok_or("no webcams file")?;
    let cam = report.areas.webcam.ok_or("no webcam area")?;
    let secs = format!("{:.3}", duration_ms as f64 / 1000.0);
    let graph = format!(
        "[1:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=0x202020,setsar=1,fps={fps}[cam];\
         [0:v][cam]overlay=x={x}:y={y}:eof_action=pass,format=yuv420p[v];[1:a]aresample=48000,apad[a]",
        w = cam.width,
        h = cam.height,
        x = cam.x,
        y = cam.y,
        fps = report.fps
    );
    let bare_out = work.join("bare.mp4");
    let t = Instant::now();
    let status = tokio::process::Command::new(&options.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c=0x202020:s={}:r={}", options.size, report.fps))
        .arg("-i")
        .arg(&webcams)
        .args(["-filter_complex", &graph, "-map", "[v]", "-map", "[a]"])
        .args(["-c:v", "libx264", "-preset", &options.x264_preset, "-crf", &options.crf.to_string()])
        .args(["-g", &(report.fps * 10).to_string(), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
        .args(["-movflags", "+faststart", "-t", &secs])
        .arg(&bare_out)
        .status()
        .await?;
    let bare = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("bare ffmpeg failed: {status}").into());
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rec_secs = duration_ms as f64 / 1000.0;
    println!("recording: {minutes} min, output {} at {} fps, {} cores", options.size, report.fps, cores);
    println!(
        "bbb-render:  {ours:7.1} s  = {:6.1}× real time ({:.1}× per core); {} distinct frames, {} slide layers",
        rec_secs / ours,
        rec_secs / ours / cores as f64,
        report.frames,
        report.layers
    );
    println!(
        "bare ffmpeg: {bare:7.1} s  = {:6.1}× real time ({:.1}× per core); webcam composite only",
        rec_secs / bare,
        rec_secs / bare / cores as f64
    );
    println!("overhead of drawing the presentation: {:+.0}%", (ours / bare - 1.0) * 100.0);
    Ok(())
}
