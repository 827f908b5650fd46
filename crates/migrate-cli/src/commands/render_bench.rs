//! `bench render`: rendering speed, memory and A/V sync of `bbb-migrate render` on a generated recording, next
//! to a bare ffmpeg composite of the same media in the same run (what rendering costs beyond ffmpeg's own work).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bbb_render::{Inputs, RenderOptions, Size};
use migrate_demo::DemoRecording;
use migrate_demo::media::{MediaCache, MediaSpec};
use migrate_demo::published::{PublishedFile, presentation_file, presentation_files};
use migrate_demo::sync::{self, Region};

use crate::cli::{BenchSound, RenderBenchArgs};

/// What BBB publishes: 640×480 webcams at 15 frames per second.
const WEBCAM: (u32, u32, u32) = (640, 480, 15);

/// 49 s of a French lecture read by espeak-ng (tests/fixtures/speech/, see its SOURCES), looped as the sound.
const SPEECH: &[u8] = include_bytes!("../../../../tests/fixtures/speech/lecture-fr.opus");

pub async fn run(args: RenderBenchArgs) -> anyhow::Result<ExitCode> {
    let work = args.work_dir.clone().unwrap_or_else(|| PathBuf::from("target/bbb-render-bench"));
    let kind = if args.slides_only { "slides-only" } else { "webcam" };
    let sound_kind = match args.sound {
        BenchSound::Speech => "speech",
        BenchSound::Tone => "tone",
    };
    let rec = work.join(format!("recording-{}min-{kind}-{sound_kind}", args.minutes));
    let demo = bench_recording(args.minutes, !args.slides_only);
    let started = Instant::now();
    write_inputs(&demo, &rec, &work.join("media"), args.sound).await?;
    eprintln!("inputs ready in {:.1} s ({})", started.elapsed().as_secs_f64(), rec.display());
    let inputs = Inputs::from_dir(&rec)?;
    let tl = &inputs.timeline;
    let recording_secs = tl.duration.as_secs_f64();

    // Our render, as a user runs it: the real binary, with an empty configuration.
    let config = work.join("empty.toml");
    std::fs::write(&config, "")?;
    let out = work.join(format!("render-{kind}.mp4"));
    let _ = std::fs::remove_file(&out);
    let mut render = std::process::Command::new(std::env::current_exe()?);
    render.arg("--quiet").arg("--config").arg(&config).arg("render").arg(&rec).arg("-o").arg(&out);
    render.args(["--size", &args.size]);
    if let Some(fps) = args.fps {
        render.args(["--fps", &fps.to_string()]);
    }
    if let Some(preset) = &args.x264_preset {
        render.args(["--x264-preset", preset]);
    }
    if let Some(params) = &args.x264_params {
        render.args(["--x264-params", params]);
    }
    let ours = measure(render).context("bbb-migrate render")?;

    // The same media through ffmpeg alone, with the same size, frame rate and encoder settings.
    let size: Size = args.size.parse().map_err(|e| anyhow::anyhow!("--size: {e}"))?;
    let options = RenderOptions {
        size,
        x264_preset: args.x264_preset.clone().unwrap_or_else(|| RenderOptions::default().x264_preset),
        x264_params: args.x264_params.clone().unwrap_or_else(|| RenderOptions::default().x264_params),
        ..RenderOptions::default()
    };
    let fps = args.fps.unwrap_or(if args.slides_only { 5 } else { 15 });
    let webcam = inputs.media.webcams.clone();
    let sound = webcam.clone().or_else(|| inputs.media.audio.clone()).context("the recording has no sound file")?;
    let bare_out = work.join(format!("bare-{kind}.mp4"));
    let bare = measure(bare_composite(&options, fps, webcam.as_deref(), &sound, recording_secs, &bare_out))
        .context("bare ffmpeg")?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ratio = |d: Duration| recording_secs / d.as_secs_f64();
    println!(
        "recording: {:.0} min {kind}, {} slide showings, {} shapes, {} cursor moves; output {} at {fps} fps, {cores} \
         cores",
        recording_secs / 60.0,
        tl.slides.len(),
        tl.shapes.len(),
        tl.cursor_points().len(),
        args.size,
    );
    for (name, m) in [("bbb-migrate render", &ours), ("bare ffmpeg composite", &bare)] {
        println!(
            "{name:<22} {:7.1} s = {:6.1}× real time ({:.1}× per core), peak memory {} MiB (with ffmpeg)",
            m.elapsed.as_secs_f64(),
            ratio(m.elapsed),
            ratio(m.elapsed) / cores as f64,
            m.peak_rss / (1 << 20)
        );
    }
    println!("render / bare ffmpeg: {:.2}×", ours.elapsed.as_secs_f64() / bare.elapsed.as_secs_f64());
    let decoding = measure(reencode(&options, fps, &out, false)).context("decoding the render")?;
    let encoding = measure(reencode(&options, fps, &out, true)).context("encoding the render again")?;
    let x264 = encoding.elapsed.saturating_sub(decoding.elapsed);
    println!(
        "x264 alone on these frames {:.1} s = {:.1}× real time: no composite with these settings can go faster",
        x264.as_secs_f64(),
        ratio(x264)
    );

    let in_sync = report_sync(&out, &sound, args.sound, webcam.as_deref(), &options, recording_secs).await;
    Ok(if in_sync { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A generated recording of `minutes` with 12 slides, annotations, cursor moves and, unless slides-only, a
/// BBB-sized webcam with sound.
fn bench_recording(minutes: u64, has_webcam: bool) -> DemoRecording {
    let base = migrate_demo::generate(&migrate_demo::CatalogueOptions::new(1, "http://127.0.0.1:1/")).remove(0);
    DemoRecording {
        duration_ms: minutes * 60_000,
        slides: 12,
        has_webcam,
        has_deskshare: false,
        has_video_format: false,
        seed: 42,
        ..base
    }
}

async fn write_inputs(demo: &DemoRecording, rec: &Path, media: &Path, sound: BenchSound) -> anyhow::Result<()> {
    std::fs::create_dir_all(rec)?;
    let cache = MediaCache::new(media.to_path_buf(), "ffmpeg");
    let speech = media.join("lecture-fr.opus");
    std::fs::create_dir_all(media)?;
    std::fs::write(&speech, SPEECH)?;
    for path in presentation_files(demo) {
        let target = rec.join(&path);
        std::fs::create_dir_all(target.parent().unwrap_or(rec))?;
        match presentation_file(demo, &path) {
            Some(PublishedFile::Bytes { body, .. }) => std::fs::write(&target, body)?,
            Some(PublishedFile::Media(spec)) => {
                let (width, height, fps) = WEBCAM;
                let spec = if spec.width > 0 { MediaSpec { width, height, fps, ..spec } } else { spec };
                if !target.exists() {
                    let generated = cache.get(&spec).await?;
                    match sound {
                        BenchSound::Speech if spec.kind.has_audio() => {
                            with_speech(&generated, &speech, demo.duration_ms, &target)?
                        }
                        _ => {
                            std::fs::copy(generated, &target)?;
                        }
                    }
                }
            }
            None => {}
        }
    }
    Ok(())
}

/// `generated` with its sound replaced by the speech, looped to the same length, in the same codec BBB uses
/// for that file (Opus in .webm, Vorbis in .ogg).
fn with_speech(generated: &Path, speech: &Path, duration_ms: u64, target: &Path) -> anyhow::Result<()> {
    let codec = if target.extension().is_some_and(|e| e == "ogg") { "libvorbis" } else { "libopus" };
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(generated)
        .args(["-stream_loop", "-1", "-i"])
        .arg(speech)
        .args(["-map", "0:v?", "-map", "1:a", "-c:v", "copy", "-c:a", codec, "-b:a", "48k", "-t"])
        .arg(format!("{}.{:03}", duration_ms / 1000, duration_ms % 1000))
        .arg(target)
        .status()
        .context("running ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg could not put the speech into {}: {status}", target.display());
    }
    Ok(())
}

/// A background, the webcam (if any) where the renderer puts it, and the sound: everything the renderer asks
/// ffmpeg to do, minus the presentation.
fn bare_composite(
    options: &RenderOptions,
    fps: u32,
    webcam: Option<&Path>,
    sound: &Path,
    secs: f64,
    out: &Path,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(&options.ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"]);
    cmd.arg(format!("color=c=0x202020:s={}:r={fps}", options.size));
    cmd.arg("-i").arg(webcam.unwrap_or(sound));
    let graph = match webcam_region(options) {
        Some(cam) if webcam.is_some() => format!(
            "[1:v]fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:\
             color=0x202020,setsar=1[cam];[0:v][cam]overlay=x={x}:y={y}:eof_action=pass,format=yuv420p[v];\
             [1:a]aresample=48000,apad[a]",
            w = cam.width,
            h = cam.height,
            x = cam.x,
            y = cam.y,
        ),
        _ => "[0:v]format=yuv420p[v];[1:a]aresample=48000,apad[a]".to_owned(),
    };
    cmd.args(["-filter_complex", &graph, "-map", "[v]", "-map", "[a]"]);
    x264_args(&mut cmd, options, fps);
    cmd.args(["-pix_fmt", "yuv420p", "-ac", "1", "-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k"]);
    cmd.args(["-movflags", "+faststart", "-t", &format!("{secs:.3}")]).arg(out);
    cmd
}

/// The renderer's x264 settings.
fn x264_args(cmd: &mut std::process::Command, options: &RenderOptions, fps: u32) {
    cmd.args(["-c:v", "libx264", "-preset", &options.x264_preset, "-crf", &options.crf.to_string()]);
    if !options.x264_params.is_empty() {
        cmd.args(["-x264-params", &options.x264_params]);
    }
    cmd.args(["-g", &(fps * 10).to_string()]);
}

/// `rendered`'s picture decoded and, with `encode`, encoded again with the renderer's settings (to nothing):
/// the difference between the two is what x264 alone costs for these frames, a floor under any composite.
fn reencode(options: &RenderOptions, fps: u32, rendered: &Path, encode: bool) -> std::process::Command {
    let mut cmd = std::process::Command::new(&options.ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"]).arg(rendered).arg("-an");
    if encode {
        x264_args(&mut cmd, options, fps);
    }
    cmd.args(["-f", "null", "-"]);
    cmd
}

/// Where the `auto` layout puts the webcam at the output size.
fn webcam_region(options: &RenderOptions) -> Option<Region> {
    bbb_render::Areas::resolve(options.layout, options.size, true).webcam.map(|a| Region {
        x: a.x,
        y: a.y,
        width: a.width,
        height: a.height,
    })
}

/// Sound against the source at the start, middle and end (the beep of that second for the tone, the best
/// waveform match for speech), and the webcam picture at the same instants.
async fn report_sync(
    out: &Path,
    sound: &Path,
    kind: BenchSound,
    webcam: Option<&Path>,
    options: &RenderOptions,
    secs: f64,
) -> bool {
    let ffmpeg = options.ffmpeg.as_path();
    let last = (secs as u64).saturating_sub(2).max(1);
    let mut ok = true;
    for second in [1, last / 2, last] {
        let moved = match kind {
            BenchSound::Tone => {
                let heard = sync::beep_offset(ffmpeg, out, second).await;
                let source = sync::beep_offset(ffmpeg, sound, second).await;
                heard.zip(source).map(|(h, s)| h - s)
            }
            BenchSound::Speech => sync::sound_offset(ffmpeg, out, sound, second as f64).await,
        };
        let sound_line = match moved {
            Some(moved) => {
                let moved = moved * 1000.0;
                ok &= moved.abs() <= 40.0;
                format!("sound {moved:+.1} ms from the source")
            }
            None => {
                ok = false;
                "sound: not found in the output".to_owned()
            }
        };
        let picture_line = match (webcam, webcam_region(options)) {
            (Some(cam), Some(region)) => {
                match sync::picture_match(ffmpeg, out, region, cam, f64::from(WEBCAM.2), second as f64).await {
                    Some(m) => {
                        ok &= m.in_sync();
                        format!(
                            "webcam {} (difference {:.1}, frame before {:.1}, after {:.1})",
                            if m.in_sync() { "in sync" } else { "OUT OF SYNC" },
                            m.same_instant,
                            m.frame_before,
                            m.frame_after
                        )
                    }
                    None => {
                        ok = false;
                        "webcam: cannot decode".to_owned()
                    }
                }
            }
            _ => String::new(),
        };
        println!("A/V at {:>6}: {sound_line}; {picture_line}", format_secs(second));
    }
    ok
}

fn format_secs(s: u64) -> String {
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Wall time and peak resident memory of a child process and everything it starts.
struct Measured {
    elapsed: Duration,
    peak_rss: u64,
}

fn measure(mut cmd: std::process::Command) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut peak_rss = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak_rss = peak_rss.max(tree_rss(child.id()));
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        bail!("exited with {status}");
    }
    Ok(Measured { elapsed: started.elapsed(), peak_rss })
}

/// Resident memory of process `root` and its descendants, from /proc (0 where /proc is absent).
fn tree_rss(root: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let procs: Vec<(u32, u32, u64)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name is in parentheses and may hold spaces: the fields after it are fixed.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ppid = fields.get(1)?.parse().ok()?;
            let rss_pages: u64 = fields.get(21)?.parse().ok()?;
            Some((pid, ppid, rss_pages * 4096))
        })
        .collect();
    let mut tree = vec![root];
    let mut total = 0;
    while let Some(pid) = tree.pop() {
        for &(child, parent, rss) in &procs {
            if child == pid {
                total += rss;
            }
            if parent == pid {
                tree.push(child);
            }
        }
    }
    total
}
