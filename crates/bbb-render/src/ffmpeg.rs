//! ffprobe and single-frame ffmpeg calls: what a media file holds, and one decoded picture of it.

use std::path::Path;
use std::process::Stdio;

use bbb_presentation::Time;
use tiny_skia::{IntSize, Pixmap, PixmapPaint, Transform};

use crate::layout::{Area, Areas, DESKSHARE_PAD, WEBCAM_PAD};
use crate::{Inputs, RenderError, RenderOptions};

/// What ffprobe says about a media file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Probe {
    /// Codec name of the first video stream.
    pub video: Option<String>,
    pub audio: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Container duration in seconds.
    pub duration: Option<f64>,
    pub chapters: usize,
}

pub(crate) async fn probe(ffprobe: &Path, file: &Path) -> Result<Probe, RenderError> {
    let output =
        run_ffprobe(ffprobe, file, &["-print_format", "json", "-show_format", "-show_streams", "-show_chapters"])
            .await?;
    let json: serde_json::Value = serde_json::from_slice(&output)
        .map_err(|e| RenderError::Ffmpeg(format!("ffprobe answered something else than JSON: {e}")))?;
    let mut p = Probe::default();
    for s in json["streams"].as_array().into_iter().flatten() {
        let codec = s["codec_name"].as_str().unwrap_or("?").to_owned();
        match s["codec_type"].as_str() {
            Some("video") if p.video.is_none() && s["disposition"]["attached_pic"].as_i64() != Some(1) => {
                p.video = Some(codec);
                p.width = s["width"].as_u64().map(|v| v as u32);
                p.height = s["height"].as_u64().map(|v| v as u32);
            }
            Some("audio") if p.audio.is_none() => p.audio = Some(codec),
            _ => {}
        }
    }
    p.duration = json["format"]["duration"].as_str().and_then(|d| d.parse().ok());
    p.chapters = json["chapters"].as_array().map_or(0, Vec::len);
    Ok(p)
}

/// ffprobe's standard output for `file`, or why it could not read the file.
async fn run_ffprobe(ffprobe: &Path, file: &Path, args: &[&str]) -> Result<Vec<u8>, RenderError> {
    let output = tokio::process::Command::new(ffprobe)
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RenderError::FfmpegMissing(ffprobe.display().to_string()),
            _ => RenderError::Io { context: format!("running {}", ffprobe.display()), source: e },
        })?;
    if !output.status.success() {
        return Err(RenderError::Input(format!(
            "{} is not a readable media file: {}",
            file.display(),
            tail(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    Ok(output.stdout)
}

/// Where the decoded picture and sound of a file end, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DecodedEnd {
    pub video: Option<f64>,
    pub audio: Option<f64>,
}

/// Decodes `file` from `from` seconds to its end: a file cut short (a full disk, a killed writer) can keep a
/// header (`+faststart`) that names its whole duration, so only decoding its last seconds proves it is whole.
pub(crate) async fn decoded_end(ffprobe: &Path, file: &Path, from: f64) -> Result<DecodedEnd, RenderError> {
    let interval = format!("{from:.3}%");
    let entries = "frame=media_type,best_effort_timestamp_time,pkt_duration_time";
    let output =
        run_ffprobe(ffprobe, file, &["-read_intervals", &interval, "-show_entries", entries, "-of", "compact=p=0"])
            .await?;
    let mut end = DecodedEnd::default();
    for line in String::from_utf8_lossy(&output).lines() {
        let field = |key: &str| line.split('|').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='));
        let number = |key: &str| field(key).and_then(|v| v.parse::<f64>().ok());
        let Some(at) = number("best_effort_timestamp_time") else { continue };
        let frame_end = at + number("pkt_duration_time").unwrap_or(0.0);
        let slot = match field("media_type") {
            Some("video") => &mut end.video,
            Some("audio") => &mut end.audio,
            _ => continue,
        };
        *slot = Some(slot.map_or(frame_end, |e: f64| e.max(frame_end)));
    }
    Ok(end)
}

/// The last lines of ffmpeg's error output, which say what went wrong.
pub(crate) fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let from = lines.len().saturating_sub(8);
    lines[from..].join("\n")
}

/// The picture of `file` at `t`, fitted (letterboxed on `pad`) into `w`×`h`, as RGBA.
async fn grab(ffmpeg: &Path, file: &Path, t: Time, (w, h): (u32, u32), pad: &str) -> Option<Pixmap> {
    let filter = format!(
        "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={pad},format=rgba"
    );
    let output = tokio::process::Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-ss", &format!("{:.3}", t.as_secs_f64()), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-an", "-vf", &filter, "-f", "rawvideo", "pipe:1"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let size = IntSize::from_wh(w, h)?;
    if !output.status.success() || output.stdout.len() != (w * h * 4) as usize {
        return None;
    }
    Pixmap::from_vec(output.stdout, size)
}

fn paste(target: &mut Pixmap, picture: &Pixmap, area: Area) {
    target.draw_pixmap(
        area.x as i32,
        area.y as i32,
        picture.as_ref(),
        &PixmapPaint::default(),
        Transform::identity(),
        None,
    );
}

/// Adds the webcam and screen-share pictures of instant `t` to a still, best effort: a still without them is
/// still worth having, so failures are silent.
pub(crate) async fn composite_videos_at(
    pixmap: &mut Pixmap,
    inputs: &Inputs,
    areas: Areas,
    t: Time,
    options: &RenderOptions,
) {
    if let (Some(area), Some(file)) = (areas.webcam, &inputs.media.webcams) {
        if let Some(p) = grab(&options.ffmpeg, file, t, (area.width, area.height), WEBCAM_PAD).await {
            paste(pixmap, &p, area);
        }
    }
    if let (Some(area), Some(file), Some(_)) = (areas.slides, &inputs.media.deskshare, inputs.timeline.deskshare_at(t))
    {
        if let Some(p) = grab(&options.ffmpeg, file, t, (area.width, area.height), DESKSHARE_PAD).await {
            paste(pixmap, &p, area);
        }
    }
}
