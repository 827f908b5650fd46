//! `render`: a presentation recording to a video file or one frame, with the native renderer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bbb_render::{Inputs, Layout, RenderOptions, Size, Time};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::RenderArgs;

/// The published files a presentation playback may have, besides its slide images (named in shapes.svg).
const KNOWN_FILES: &[&str] = &[
    "metadata.xml",
    "shapes.svg",
    "panzooms.xml",
    "cursor.xml",
    "deskshare.xml",
    "slides_new.xml",
    "captions.json",
    "tldraw.json",
    "presentation_text.json",
    "polls.json",
    "external_videos.json",
    "video/webcams.mp4",
    "video/webcams.webm",
    "audio/audio.webm",
    "audio/audio.ogg",
    "deskshare/deskshare.mp4",
    "deskshare/deskshare.webm",
];

pub async fn run(explicit: Option<&Path>, args: RenderArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    let mut options = options(config, args.size.as_deref(), args.layout.as_deref())?;
    options.fps = args.fps.or(config.render.fps);
    if let Some(preset) = &args.x264_preset {
        options.x264_preset = preset.clone();
    }
    if let Some(params) = &args.x264_params {
        options.x264_params = params.clone();
    }

    let local = Path::new(&args.source);
    let _temp;
    let dir = if local.is_dir() {
        local.to_path_buf()
    } else {
        let (web_root, record_id) = locate(&args.source, config)?;
        let copyable = matches!(extension(&args.output).as_str(), "mp4" | "m4v" | "mkv");
        if args.frame.is_none() && !args.force_render && copyable {
            let http = http_client(config)?;
            if let Some(seconds) = copy_video_playback(&http, &web_root, &record_id, &args.output, &options).await? {
                println!(
                    "{}: the server's video playback ({seconds:.0} s) copied as is (--force-render renders instead)",
                    args.output.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        let dir = match &args.keep_files {
            Some(dir) => dir.join(&record_id),
            None => {
                _temp = tempfile::tempdir()?;
                _temp.path().to_path_buf()
            }
        };
        let count = download(&http_client(config)?, &web_root, &record_id, &dir).await?;
        tracing::info!(record_id, files = count, dir = %dir.display(), "published files fetched");
        dir
    };
    let inputs = Inputs::from_dir(&dir)?;
    for warning in &inputs.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(at) = &args.frame {
        let t = parse_instant(at).with_context(|| format!("--frame {at}: use HH:MM:SS, MM:SS or seconds"))?;
        let png = bbb_render::render_frame_png(&inputs, t, &options).await?;
        std::fs::write(&args.output, png).with_context(|| format!("cannot write {}", args.output.display()))?;
        println!("frame at {at} written to {}", args.output.display());
        return Ok(ExitCode::SUCCESS);
    }
    let total = inputs.timeline.duration.as_secs_f64();
    let bar = ProgressBar::new(total.ceil() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} s of recording, eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("rendering");
    let report = bbb_render::render_to_file(&inputs, &args.output, &options, |p| {
        bar.set_position(p.done.as_secs_f64() as u64);
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    println!(
        "{}: {:.0} s of recording rendered in {:.1} s ({:.1}× real time), {} {}+{}, {} chapter(s), {} warning(s)",
        report.output.display(),
        report.duration.as_secs_f64(),
        report.elapsed.as_secs_f64(),
        report.speed(),
        report.areas.size,
        report.video_codec,
        report.audio_codec.as_deref().unwrap_or("no audio"),
        report.chapters,
        report.warnings.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `[render]` with the command line's `--size` and `--layout` over it.
pub(super) fn options(
    config: &migrate_config::Config,
    size: Option<&str>,
    layout: Option<&str>,
) -> anyhow::Result<RenderOptions> {
    let size = size.unwrap_or(&config.render.size);
    let layout = layout.unwrap_or(&config.render.layout);
    Ok(RenderOptions {
        size: size.parse::<Size>().map_err(|e| anyhow::anyhow!("size {size}: {e}"))?,
        layout: layout.parse::<Layout>().map_err(|e| anyhow::anyhow!("layout {layout}: {e}"))?,
        ffmpeg: PathBuf::from(&config.render.ffmpeg),
        ffprobe: config.render.ffprobe(),
        fps: config.render.fps,
        x264_preset: config.render.x264_preset.clone(),
        x264_params: config.render.x264_params.clone(),
        ..RenderOptions::default()
    })
}

/// The old server's web root and the recordID, from a playback URL or a bare recordID.
pub(super) fn locate(source: &str, config: &migrate_config::Config) -> anyhow::Result<(url::Url, String)> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source).context("not a valid playback URL")?;
        let from_query = url.query_pairs().find(|(k, _)| k == "meetingId").map(|(_, v)| v.into_owned());
        let from_path =
            url.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)).filter(|s| is_record_id(s));
        let record_id = from_query.or(from_path).filter(|s| is_record_id(s)).with_context(|| {
            format!(
                "no recordID in {source}: expected …/playback/presentation/2.3/<recordID> or …?meetingId=<recordID>"
            )
        })?;
        let mut root = url.clone();
        let prefix = url.path().split("/playback/").next().unwrap_or("");
        root.set_path(&format!("{}/", prefix.trim_end_matches('/')));
        root.set_query(None);
        return Ok((root, record_id));
    }
    anyhow::ensure!(
        is_record_id(source),
        "`{source}` is neither a directory, a playback URL nor a recordID (<40 hex>-<13 digits>)"
    );
    let api = config.source_api_url().map_err(|p| anyhow::anyhow!("{}: {} ({})", p.key, p.message, p.fix))?;
    Ok((bbb_api::web_root(&api), source.to_owned()))
}

/// BBB's recordID shape, the only thing that goes into file URLs and local paths.
fn is_record_id(s: &str) -> bool {
    s.split_once('-').is_some_and(|(hash, ms)| {
        hash.len() == 40
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && (10..=16).contains(&ms.len())
            && ms.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The HTTP client for the old server's published files: `source.connect_timeout_secs` to connect and
/// `source.timeout_secs` without a byte from the server (not for the whole transfer: a webcam file of several
/// GB takes longer than any fixed limit, but a server that stops sending must not hang a run).
pub(super) fn http_client(config: &migrate_config::Config) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("bbb-migrate/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(config.source.connect_timeout_secs.max(1)))
        .read_timeout(std::time::Duration::from_secs(config.source.timeout_secs.max(1)))
        .build()?)
}

/// Fetches the published files of `record_id` into `dir`: the known files, then the slide images and poll
/// charts that shapes.svg names. Missing files are normal (not every recording has every file); files already there are
/// kept (a kept directory resumes).
pub(super) async fn download(
    http: &reqwest::Client,
    web_root: &url::Url,
    record_id: &str,
    dir: &Path,
) -> anyhow::Result<usize> {
    let base = web_root.join(&format!("presentation/{record_id}/"))?;
    let mut count = 0;
    for rel in KNOWN_FILES {
        count += fetch(http, &base, rel, dir).await? as usize;
    }
    let partial = Inputs::from_dir(dir).context("the old server has no presentation files for this recording")?;
    for rel in partial.timeline.image_files() {
        count += fetch(http, &base, rel, dir).await? as usize;
    }
    Ok(count)
}

/// One published file into `dir` (kept if already there); `false` when the server has none.
pub(super) async fn fetch(http: &reqwest::Client, base: &url::Url, rel: &str, dir: &Path) -> anyhow::Result<bool> {
    let Some(target) = crate::paths::safe_join(dir, rel) else {
        tracing::warn!("skipping unsafe published path {rel:?}");
        return Ok(false);
    };
    if target.is_file() {
        return Ok(true);
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = target.with_extension("part");
    let found = match fetch_to(http, base.join(rel)?, &partial).await {
        Ok(found) => found,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context(format!("fetching {rel}")));
        }
    };
    if found {
        std::fs::rename(&partial, &target)?;
    }
    Ok(found)
}

/// GET `url` into `target`, streamed; `false` on a 404. A `target` left by an interrupted download is resumed
/// with a `Range` request (and rewritten whole if the server ignores it). Errors carry no URL (it may hold a
/// token) but every cause (a connection closed mid-body, a timeout).
pub(super) async fn fetch_to(http: &reqwest::Client, url: url::Url, target: &Path) -> anyhow::Result<bool> {
    use tokio::io::AsyncWriteExt;
    let have = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    let mut request = http.get(url);
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let mut response = request.send().await.map_err(http_error)?;
    match response.status() {
        reqwest::StatusCode::NOT_FOUND => return Ok(false),
        reqwest::StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => return Ok(true),
        _ => {}
    }
    response = response.error_for_status().map_err(http_error)?;
    let resumed = have > 0 && response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(target)
        .await
        .with_context(|| format!("cannot write {}", target.display()))?;
    while let Some(chunk) = response.chunk().await.map_err(http_error)? {
        file.write_all(&chunk).await.with_context(|| format!("cannot write {}", target.display()))?;
    }
    file.flush().await.with_context(|| format!("cannot write {}", target.display()))?;
    Ok(true)
}

/// A reqwest error without its URL, with its causes on one line (`error decoding response body: connection
/// closed before message completed`), and a timeout said as such.
pub(super) fn http_error(error: reqwest::Error) -> anyhow::Error {
    let error = error.without_url();
    let timeout = error.is_timeout();
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    let text = parts.join(": ");
    if timeout {
        anyhow::anyhow!("the server stopped answering (source.timeout_secs without data): {text}")
    } else {
        anyhow::anyhow!("{text}")
    }
}

fn extension(path: &Path) -> String {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

/// The `video` playback of `record_id` (`video-0.m4v`, `capture.m4v` before BBB 3.0) into `output` when the
/// server has one: downloaded, remuxed without re-encoding (`+faststart` for MP4), verified with ffprobe, then
/// renamed into place. `None` when there is no such playback.
async fn copy_video_playback(
    http: &reqwest::Client,
    web_root: &url::Url,
    record_id: &str,
    output: &Path,
    options: &RenderOptions,
) -> anyhow::Result<Option<f64>> {
    let base = web_root.join(&format!("playback/video/{record_id}/"))?;
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = output.file_name().context("the output needs a file name")?.to_string_lossy().into_owned();
    let download = parent.join(format!(".{name}.{}.download", std::process::id()));
    let remuxed = parent.join(format!(".{name}.{}.part", std::process::id()));
    let cleanup = || {
        let _ = std::fs::remove_file(&download);
        let _ = std::fs::remove_file(&remuxed);
    };
    let mut found = false;
    for file in ["video-0.m4v", "capture.m4v"] {
        match fetch_to(http, base.join(file)?, &download).await {
            Ok(true) => {
                found = true;
                break;
            }
            Ok(false) => {}
            Err(e) => {
                cleanup();
                return Err(e.context("fetching the video playback"));
            }
        }
    }
    if !found {
        return Ok(None);
    }
    let format = if extension(output) == "mkv" { "matroska" } else { "mp4" };
    let status = tokio::process::Command::new(&options.ffmpeg)
        // -xerror: a download cut short is an error, not a shorter copy.
        .args(["-v", "error", "-xerror", "-y", "-i"])
        .arg(&download)
        .args(["-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", format])
        .arg(&remuxed)
        .status()
        .await
        .context("cannot run ffmpeg (render.ffmpeg)");
    let verified = match status {
        Ok(s) if s.success() => probe_duration(&options.ffprobe, &remuxed).await,
        Ok(s) => Err(anyhow::anyhow!("ffmpeg could not copy the video playback ({s})")),
        Err(e) => Err(e),
    };
    match verified {
        Ok(seconds) => {
            std::fs::rename(&remuxed, output)?;
            cleanup();
            Ok(Some(seconds))
        }
        Err(e) => {
            cleanup();
            Err(e.context("the server's video playback is damaged; --force-render renders the presentation instead"))
        }
    }
}

/// The duration of a file with both a video and an audio stream, or why it is not such a file.
pub(super) async fn probe_duration(ffprobe: &Path, path: &Path) -> anyhow::Result<f64> {
    let out = tokio::process::Command::new(ffprobe)
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "default=nw=1"])
        .arg(path)
        .output()
        .await
        .with_context(|| format!("cannot run {} (beside render.ffmpeg)", ffprobe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        text.contains("codec_type=video") && text.contains("codec_type=audio"),
        "no video and audio streams in the copied file"
    );
    let seconds: f64 =
        text.lines().find_map(|l| l.strip_prefix("duration=")).and_then(|d| d.parse().ok()).unwrap_or(0.0);
    anyhow::ensure!(seconds > 0.0, "the copied file has no duration");
    Ok(seconds)
}

/// Reads every packet of `path` (no decoding, so seconds even for hours of video): a file cut short is refused
/// even when its header (`+faststart`) already names the whole duration, which ffprobe alone takes at its word.
pub(super) async fn check_complete(ffmpeg: &Path, path: &Path) -> anyhow::Result<()> {
    let out = tokio::process::Command::new(ffmpeg)
        .args(["-v", "error", "-xerror", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "null", "-"])
        .output()
        .await
        .context("cannot run ffmpeg (render.ffmpeg)")?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("ffmpeg failed");
    let reason = reason.split_once("] ").map_or(reason, |(_, r)| r);
    anyhow::bail!("the file is incomplete or damaged ({reason})")
}

/// `HH:MM:SS(.mmm)`, `MM:SS` or seconds.
fn parse_instant(s: &str) -> Option<Time> {
    let mut seconds = 0.0;
    for part in s.split(':') {
        let value: f64 = part.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
        seconds = seconds * 60.0 + value;
    }
    Time::from_secs_f64(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_record_ids() {
        assert_eq!(parse_instant("00:12:34").unwrap().as_millis(), 754_000);
        assert_eq!(parse_instant("1:30.5").unwrap().as_millis(), 90_500);
        assert_eq!(parse_instant("42").unwrap().as_millis(), 42_000);
        assert!(parse_instant("x").is_none() && parse_instant("-1").is_none());
        assert!(is_record_id("ba496569e4c8e2d561bf6a54af660ad64dc097cd-1795186854466"));
        assert!(!is_record_id("../../etc-1795186854466"));
    }

    #[test]
    fn playback_urls_of_both_forms_give_the_server_and_the_recording() {
        let config = migrate_config::Config::default();
        let id = "ba496569e4c8e2d561bf6a54af660ad64dc097cd-1795186854466";
        let (root, rid) = locate(&format!("https://bbb.univ.fr/playback/presentation/2.3/{id}"), &config).unwrap();
        assert_eq!((root.as_str(), rid.as_str()), ("https://bbb.univ.fr/", id));
        let (root, rid) =
            locate(&format!("https://bbb.univ.fr/playback/presentation/2.0/playback.html?meetingId={id}"), &config)
                .unwrap();
        assert_eq!((root.as_str(), rid.as_str()), ("https://bbb.univ.fr/", id));
        assert!(locate("https://bbb.univ.fr/playback/presentation/2.3/nope", &config).is_err());
    }
}
