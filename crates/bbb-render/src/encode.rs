//! The video file: distinct frames piped to ffmpeg with their timestamps, ffmpeg repeating them at the output
//! rate, adding the webcam and screen-share videos and the sound, then ffprobe checking the result before it
//! gets its final name.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bbb_presentation::{Time, Timeline};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ffmpeg::{self, Probe, tail};
use crate::frame::FrameRenderer;
use crate::layout::{Area, Areas, DESKSHARE_PAD, WEBCAM_PAD};
use crate::{Inputs, RenderError, RenderOptions, mkv, yuv};

/// How far a render has got, for a progress bar: frames are handed to ffmpeg in recording order, and the pipe
/// makes rendering wait for encoding, so `done` tracks the encoder too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: Time,
    pub total: Time,
    /// Distinct frames sent so far.
    pub frames: usize,
}

/// What a finished render did, for the log and the ledger.
#[derive(Debug, Clone)]
pub struct RenderReport {
    /// The verified output, under its final name.
    pub output: PathBuf,
    /// The recording's duration, which the output's matches within a second.
    pub duration: Time,
    /// The output's duration as ffprobe measured it, in seconds.
    pub output_duration: f64,
    pub areas: Areas,
    pub fps: u32,
    /// Distinct pictures drawn and piped (the encoder repeats them).
    pub frames: usize,
    /// How many times the slide layer was drawn (once per change of slide, annotation or view).
    pub layers: usize,
    pub video_codec: String,
    /// The audio codec of the output, and whether it carries the recording's sound or generated silence.
    pub audio_codec: Option<String>,
    pub silent_audio: bool,
    pub chapters: usize,
    /// Everything that was not as published: parser warnings, missing slides, missing media.
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

impl RenderReport {
    /// Seconds of recording per second of work: the figure that matters when migrating thousands of hours.
    pub fn speed(&self) -> f64 {
        self.duration.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Mp4,
    WebM,
    Mkv,
}

impl Container {
    /// From the extension; `name.mp4.part` is an MP4 too, so that callers can render under a name that
    /// watchers of video extensions (Pod's recorder scan) ignore until they rename it.
    fn of(path: &Path) -> Result<Container, RenderError> {
        let ext_of = |p: &Path| p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let mut ext = ext_of(path);
        if ext == "part" {
            ext = ext_of(Path::new(path.file_stem().unwrap_or_default()));
        }
        match ext.as_str() {
            "mp4" | "m4v" | "mov" => Ok(Container::Mp4),
            "webm" => Ok(Container::WebM),
            "mkv" => Ok(Container::Mkv),
            _ => Err(RenderError::Input(format!(
                "{}: unknown output type `.{ext}`; use .mp4 (H.264 + AAC), .webm (VP9 + Opus) or .mkv",
                path.display()
            ))),
        }
    }

    fn format(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::WebM => "webm",
            Container::Mkv => "matroska",
        }
    }
}

/// The media actually used, after probing.
struct Media {
    webcam_video: Option<PathBuf>,
    audio: Option<PathBuf>,
    deskshare: Option<PathBuf>,
}

async fn probe_or_warn(
    options: &RenderOptions,
    path: &Option<PathBuf>,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<(PathBuf, Probe)> {
    let path = path.as_ref()?;
    match ffmpeg::probe(&options.ffprobe, path).await {
        Ok(p) => Some((path.clone(), p)),
        Err(e @ RenderError::FfmpegMissing(_)) => {
            warnings.push(e.to_string());
            None
        }
        Err(e) => {
            warnings.push(format!("{what} ignored: {e}"));
            None
        }
    }
}

async fn choose_media(inputs: &Inputs, options: &RenderOptions, warnings: &mut Vec<String>) -> Media {
    let webcams = probe_or_warn(options, &inputs.media.webcams, "video/webcams", warnings).await;
    let audio_file = probe_or_warn(options, &inputs.media.audio, "audio/audio", warnings).await;
    let deskshare = probe_or_warn(options, &inputs.media.deskshare, "deskshare video", warnings).await;
    let webcam_video = webcams.as_ref().filter(|(_, p)| p.video.is_some()).map(|(f, _)| f.clone());
    let audio = webcams.iter().chain(audio_file.iter()).find(|(_, p)| p.audio.is_some()).map(|(f, _)| f.clone());
    if audio.is_none() {
        warnings.push(
            "no sound: neither video/webcams.* nor audio/audio.* has an audio track; the output has a silent one"
                .into(),
        );
    }
    let deskshare = deskshare.filter(|(_, p)| p.video.is_some()).map(|(f, _)| f);
    if !inputs.timeline.deskshare.is_empty() && deskshare.is_none() {
        warnings.push(format!(
            "screen sharing during {} interval(s) but no usable deskshare/deskshare.*: a placeholder is shown",
            inputs.timeline.deskshare.len()
        ));
    }
    Media { webcam_video, audio, deskshare }
}

/// The instants whose pictures are sent: every slide-layer change and cursor move, keeping only the last of
/// those falling on the same output frame (the encoder would show only that one).
pub(crate) fn schedule(timeline: &Timeline, fps: u32) -> Vec<Time> {
    let mut instants: Vec<Time> = timeline.change_points().into_iter().chain(timeline.cursor_points()).collect();
    instants.push(Time::ZERO);
    instants.sort_unstable();
    instants.dedup();
    let tick = |t: Time| (t.as_millis() * u64::from(fps) + 500) / 1000;
    let mut out: Vec<Time> = Vec::with_capacity(instants.len());
    for t in instants {
        match out.last_mut() {
            Some(last) if tick(*last) == tick(t) && *last != Time::ZERO => *last = t,
            _ => out.push(t),
        }
    }
    out
}

fn secs(t: Time) -> String {
    format!("{}.{:03}", t.as_millis() / 1000, t.as_millis() % 1000)
}

/// `;FFMETADATA1` with one chapter per slide change, escaped as ffmpeg's metadata format wants.
fn chapters_file(timeline: &Timeline) -> String {
    let escape = |s: &str| {
        s.chars()
            .flat_map(|c| match c {
                '=' | ';' | '#' | '\\' => vec!['\\', c],
                '\n' | '\r' => vec![' '],
                c => vec![c],
            })
            .collect::<String>()
    };
    let mut out = String::from(";FFMETADATA1\n");
    if let Some(name) = &timeline.info.meeting_name {
        out.push_str(&format!("title={}\n", escape(name)));
    }
    let chapters: Vec<_> = timeline.chapters.iter().filter(|c| c.start < timeline.duration).collect();
    for (i, c) in chapters.iter().enumerate() {
        let end = chapters.get(i + 1).map_or(timeline.duration, |n| n.start);
        if end <= c.start {
            continue;
        }
        out.push_str(&format!(
            "[CHAPTER]\nTIMEBASE=1/1000\nSTART={}\nEND={}\ntitle={}\n",
            c.start.as_millis(),
            end.as_millis(),
            escape(&c.title)
        ));
    }
    out
}

/// The frame rate first: only the pictures kept are scaled (a third fewer for a 15 fps webcam in a 10 fps output).
fn fit_filter(input: &str, area: Area, pad: &str, fps: u32, output: &str) -> String {
    let (w, h) = (area.width, area.height);
    format!(
        "[{input}]fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={pad},setsar=1[{output}]"
    )
}

/// The longest a picture is held in a variable-frame-rate output before it is sent again: players and
/// re-encoders (Pod's) handle a sparse stream better when a frame comes at least this often.
const MAX_HOLD: Time = Time::from_millis(2_000);

fn ffmpeg_args() -> Vec<String> {
    ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"].map(String::from).to_vec()
}

/// The picture: drawn frames from the pipe, webcam and screen share composited over them, encoded.
struct VideoCommand {
    args: Vec<String>,
    /// `false`: variable frame rate, so the renderer must repeat a picture that lasts long (see [`MAX_HOLD`]).
    constant_rate: bool,
}

fn video_command(
    timeline: &Timeline,
    media: &Media,
    areas: Areas,
    fps: u32,
    container: Container,
    options: &RenderOptions,
    output: &Path,
) -> VideoCommand {
    let mut args = ffmpeg_args();
    let mut inputs = 0usize;
    let mut input = |args: &mut Vec<String>, spec: &[&str]| {
        args.extend(spec.iter().map(|s| s.to_string()));
        inputs += 1;
        inputs - 1
    };
    // A few pictures queued ahead (each is a full frame: 1.4 MB at 720p), not dozens.
    let frames = input(&mut args, &["-thread_queue_size", "16", "-f", "matroska", "-i", "pipe:0"]);
    let webcam = match (&media.webcam_video, areas.webcam) {
        (Some(f), Some(_)) => Some(input(&mut args, &["-i", &f.to_string_lossy()])),
        _ => None,
    };
    let desk_intervals: Vec<String> =
        timeline.deskshare.iter().map(|d| format!("between(t,{},{})", secs(d.start), secs(d.end))).collect();
    let deskshare = match (&media.deskshare, areas.slides) {
        (Some(f), Some(_)) if !desk_intervals.is_empty() => Some(input(&mut args, &["-i", &f.to_string_lossy()])),
        _ => None,
    };

    // Nothing moves by itself on screen: the drawn pictures are the video, each held until the next (variable
    // frame rate, keyframes every 10 s for seeking). Else the encoder repeats them at a constant rate under the
    // webcam or screen share.
    let constant_rate = webcam.is_some() || deskshare.is_some();
    let rate = if constant_rate { format!(",fps={fps}") } else { String::new() };
    let mut graph = vec![format!("[{frames}:v]format=yuv420p{rate}[v0]")];
    let mut last = "v0".to_owned();
    if let (Some(i), Some(area)) = (webcam, areas.webcam) {
        graph.push(fit_filter(&format!("{i}:v"), area, WEBCAM_PAD, fps, "cam"));
        graph.push(format!("[{last}][cam]overlay=x={}:y={}:eof_action=pass[v1]", area.x, area.y));
        last = "v1".into();
    }
    if let (Some(i), Some(area)) = (deskshare, areas.slides) {
        graph.push(fit_filter(&format!("{i}:v"), area, DESKSHARE_PAD, fps, "desk"));
        graph.push(format!(
            "[{last}][desk]overlay=x={}:y={}:eof_action=pass:enable='{}'[v2]",
            area.x,
            area.y,
            desk_intervals.join("+")
        ));
        last = "v2".into();
    }
    graph.push(format!("[{last}]format=yuv420p[v]"));
    args.extend(["-filter_complex".into(), graph.join(";"), "-map".into(), "[v]".into()]);
    if let Some(t) = options.threads {
        args.extend(["-threads".into(), t.to_string()]);
    }
    let keyint = (fps * 10).to_string();
    if !constant_rate {
        // Millisecond timestamps as sent: left to itself, ffmpeg guesses a frame rate from the first pictures
        // and rounds every timestamp to it (a picture held 2 s then lasts 2.1).
        args.extend(
            ["-vsync", "vfr", "-enc_time_base:v", "1:1000", "-force_key_frames", "expr:gte(t,n_forced*10)"]
                .map(String::from),
        );
    }
    match container {
        Container::Mp4 | Container::Mkv => {
            args.extend(
                ["-c:v", "libx264", "-preset", &options.x264_preset, "-crf", &options.crf.to_string(), "-g", &keyint]
                    .map(String::from),
            );
            if !options.x264_params.is_empty() {
                args.extend(["-x264-params".into(), options.x264_params.clone()]);
            }
        }
        Container::WebM => {
            let crf = (options.crf + 10).min(63).to_string();
            args.extend(
                [
                    "-c:v",
                    "libvpx-vp9",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-row-mt",
                    "1",
                    "-crf",
                    &crf,
                    "-b:v",
                    "0",
                    "-g",
                    &keyint,
                ]
                .map(String::from),
            );
        }
    }
    args.extend(["-pix_fmt", "yuv420p", "-t", &secs(timeline.duration), "-f", container.format()].map(String::from));
    args.push(output.to_string_lossy().into_owned());
    VideoCommand { args, constant_rate }
}

/// The sound, encoded by an ffmpeg of its own beside the picture's: in one ffmpeg it is encoded on the same
/// thread that feeds the video encoder, and it costs as much as the rest of a slides-only render. Its file
/// is MP4 (or WebM for Opus), which keeps the encoder's start delay (an edit list, a codec delay): the sound
/// stays in sync through the mux.
/// `true` with it: the recording has no sound and this is generated silence.
fn sound_command(timeline: &Timeline, media: &Media, container: Container, output: &Path) -> (Vec<String>, bool) {
    let mut args = ffmpeg_args();
    let silent = media.audio.is_none();
    match &media.audio {
        Some(f) => args.extend(["-i".into(), f.to_string_lossy().into_owned()]),
        None => args.extend(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono"].map(String::from)),
    }
    args.extend(["-map", "0:a:0", "-af", "aresample=48000,apad", "-t", &secs(timeline.duration)].map(String::from));
    match container {
        // BBB records one mixed mono conference. The fast AAC coder: half the CPU of the default one on speech,
        // and 64 kb/s mono a quarter less than 96: no audible difference on a voice.
        Container::Mp4 | Container::Mkv => {
            args.extend(["-ac", "1", "-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-f", "mp4"].map(String::from))
        }
        Container::WebM => args.extend(["-c:a", "libopus", "-b:a", "64k", "-f", "webm"].map(String::from)),
    }
    args.push(output.to_string_lossy().into_owned());
    (args, silent)
}

/// Picture and sound into the output, as they are, with the chapters and (MP4) the index at the front.
fn mux_command(
    video: &Path,
    sound: &Path,
    chapters: Option<&Path>,
    container: Container,
    output: &Path,
) -> Vec<String> {
    let mut args = ffmpeg_args();
    for input in [video, sound].into_iter().chain(chapters) {
        if Some(input) == chapters {
            args.extend(["-f".into(), "ffmetadata".into()]);
        }
        args.extend(["-i".into(), input.to_string_lossy().into_owned()]);
    }
    args.extend(["-map", "0:v:0", "-map", "1:a:0", "-c", "copy"].map(String::from));
    if chapters.is_some() {
        args.extend(["-map_metadata", "2", "-map_chapters", "2"].map(String::from));
    } else {
        args.extend(["-map_metadata", "-1", "-map_chapters", "-1"].map(String::from));
    }
    if container == Container::Mp4 {
        args.extend(["-movflags".into(), "+faststart".into()]);
    }
    args.extend(["-f".into(), container.format().into(), output.to_string_lossy().into_owned()]);
    args
}

/// Deletes a temporary file unless disarmed: a failed or abandoned render leaves nothing behind.
struct Remove(Option<PathBuf>);

impl Drop for Remove {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Sends `picture` again every [`MAX_HOLD`] after `sent` until `until`; `false` once ffmpeg stopped reading.
async fn hold(tx: &tokio::sync::mpsc::Sender<Vec<u8>>, picture: &[u8], sent: &mut Time, until: Time) -> bool {
    while sent.as_millis() + MAX_HOLD.as_millis() < until.as_millis() {
        *sent = Time::from_millis(sent.as_millis() + MAX_HOLD.as_millis());
        let mut chunk = mkv::frame_prefix(sent.as_millis(), picture.len());
        chunk.extend_from_slice(picture);
        if tx.send(chunk).await.is_err() {
            return false;
        }
    }
    true
}

/// A running ffmpeg and the error output it will have written, which says what went wrong if it fails.
struct Ffmpeg {
    process: tokio::process::Child,
    stderr: tokio::task::JoinHandle<String>,
}

impl Ffmpeg {
    fn spawn(options: &RenderOptions, args: &[String], piped_input: bool) -> Result<Ffmpeg, RenderError> {
        let mut process = tokio::process::Command::new(&options.ffmpeg)
            .args(args)
            .stdin(if piped_input { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => RenderError::FfmpegMissing(options.ffmpeg.display().to_string()),
                _ => RenderError::Io { context: format!("starting {}", options.ffmpeg.display()), source: e },
            })?;
        let mut pipe = process.stderr.take();
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(s) = pipe.as_mut() {
                let _ = s.read_to_end(&mut buf).await;
            }
            String::from_utf8_lossy(&buf).into_owned()
        });
        Ok(Ffmpeg { process, stderr })
    }

    async fn finish(mut self) -> Result<(), RenderError> {
        let status = self.process.wait().await.map_err(RenderError::io("waiting for ffmpeg"))?;
        let stderr = self.stderr.await.unwrap_or_default();
        if !status.success() {
            return Err(RenderError::Ffmpeg(format!("{status}: {}", tail(&stderr))));
        }
        Ok(())
    }
}

fn temp_path(output: &Path, suffix: &str) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "render".into());
    output.with_file_name(format!(".{name}.{}.{suffix}", std::process::id()))
}

/// Renders the recording to `output` (`.mp4`: H.264 + AAC with faststart; `.webm`: VP9 + Opus; `.mkv`:
/// H.264 + AAC), calling `progress` as frames are encoded. The file appears under `output` only once ffprobe
/// has checked its duration and streams; until then it is a hidden temporary next to it.
pub async fn render_to_file(
    inputs: &Inputs,
    output: &Path,
    options: &RenderOptions,
    mut progress: impl FnMut(Progress),
) -> Result<RenderReport, RenderError> {
    let started = Instant::now();
    let timeline = &inputs.timeline;
    if timeline.duration == Time::ZERO {
        return Err(RenderError::Input(
            "the recording has zero length (no duration in metadata.xml, no events)".into(),
        ));
    }
    let container = Container::of(output)?;
    let mut warnings: Vec<String> = inputs.warnings.iter().map(ToString::to_string).collect();
    let media = choose_media(inputs, options, &mut warnings).await;
    let areas = Areas::resolve(options.layout, options.size, media.webcam_video.is_some());
    let moving = areas.webcam.is_some() || (media.deskshare.is_some() && !timeline.deskshare.is_empty());
    let fps = options.fps.unwrap_or(if moving { 15 } else { 5 }).clamp(1, 60);

    // Never a video extension: directory watchers (Pod's recorder scan) must not take a partial file.
    let temp = Remove(Some(temp_path(output, "part")));
    let temp_file = temp.0.clone().unwrap_or_default();
    let chapters =
        (options.chapters && !timeline.chapters.is_empty()).then(|| Remove(Some(temp_path(output, "chapters.txt"))));
    if let Some(Remove(Some(path))) = &chapters {
        tokio::fs::write(path, chapters_file(timeline))
            .await
            .map_err(RenderError::io(format!("writing {}", path.display())))?;
    }
    let chapters_path = chapters.as_ref().and_then(|c| c.0.clone());
    let video = Remove(Some(temp_path(output, "video.part")));
    let video_file = video.0.clone().unwrap_or_default();
    let sound = Remove(Some(temp_path(output, "sound.part")));
    let sound_file = sound.0.clone().unwrap_or_default();
    let cmd = video_command(timeline, &media, areas, fps, container, options, &video_file);
    let (sound_args, silent_audio) = sound_command(timeline, &media, container, &sound_file);
    let sound_encoder = Ffmpeg::spawn(options, &sound_args, false)?;
    let mut child = Ffmpeg::spawn(options, &cmd.args, true)?;
    let Some(mut stdin) = child.process.stdin.take() else {
        return Err(RenderError::Ffmpeg("no pipe to ffmpeg's input".into()));
    };
    // A writer task, so that the next frame is drawn while ffmpeg reads the previous one.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(3);
    let writer = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            stdin.write_all(&chunk).await?;
        }
        stdin.shutdown().await
    });

    let (frames, layers, render_warnings) = {
        let mut renderer = FrameRenderer::new(timeline, inputs.files(), areas)
            .ok_or_else(|| RenderError::Input(format!("cannot allocate a {} picture", options.size)))?;
        let mut sent = 0usize;
        let (width, height) = (areas.size.width as usize, areas.size.height as usize);
        let frame_len = width * height * 3 / 2;
        let mut previous: Option<Vec<u8>> = None;
        let mut last_sent = Time::ZERO;
        let mut ok = tx.send(mkv::header(areas.size.width, areas.size.height)).await.is_ok();
        let mut last_report = Instant::now();
        for t in schedule(timeline, fps).into_iter().filter(|t| *t < timeline.duration) {
            if !ok {
                break;
            }
            if let (false, Some(last)) = (cmd.constant_rate, &previous) {
                ok = hold(&tx, last, &mut last_sent, t).await;
            }
            let mut chunk = mkv::frame_prefix(t.as_millis(), frame_len);
            let pixels_at = chunk.len();
            yuv::rgba_to_i420(renderer.render(t).data(), width, height, &mut chunk);
            let pixels = &chunk[pixels_at..];
            if previous.as_deref() == Some(pixels) {
                continue;
            }
            last_sent = t;
            previous = Some(pixels.to_vec());
            ok = tx.send(chunk).await.is_ok();
            sent += 1;
            if last_report.elapsed() > Duration::from_millis(200) {
                progress(Progress { done: t, total: timeline.duration, frames: sent });
                last_report = Instant::now();
            }
        }
        // The last picture again at the very end, so that the encoder holds it until the duration.
        if let (true, Some(last)) = (ok, previous) {
            if !cmd.constant_rate {
                hold(&tx, &last, &mut last_sent, timeline.duration).await;
            }
            let mut chunk = mkv::frame_prefix(timeline.duration.as_millis(), frame_len);
            chunk.extend_from_slice(&last);
            let _ = tx.send(chunk).await;
        }
        (sent, renderer.layers_drawn(), renderer.warnings().to_vec())
    };
    drop(tx);
    warnings.extend(render_warnings);
    let write_result = writer.await;
    let video_result = child.finish().await;
    if let (Err(RenderError::Ffmpeg(e)), Ok(Err(write_error))) = (&video_result, &write_result) {
        return Err(RenderError::Ffmpeg(format!("ffmpeg stopped reading frames ({write_error}): {e}")));
    }
    video_result?;
    if let Ok(Err(e)) = write_result {
        return Err(RenderError::Ffmpeg(format!("ffmpeg stopped reading frames ({e})")));
    }
    sound_encoder.finish().await.map_err(|e| match e {
        RenderError::Ffmpeg(e) => RenderError::Ffmpeg(format!("encoding the sound: {e}")),
        e => e,
    })?;
    let mux = mux_command(&video_file, &sound_file, chapters_path.as_deref(), container, &temp_file);
    Ffmpeg::spawn(options, &mux, false)?.finish().await?;
    drop((video, sound));
    progress(Progress { done: timeline.duration, total: timeline.duration, frames });

    let (probe, video_codec) = verify(&options.ffprobe, &temp_file, timeline.duration).await?;
    let measured = probe.duration.unwrap_or(0.0);
    tokio::fs::rename(&temp_file, output).await.map_err(RenderError::io(format!(
        "renaming {} to {}",
        temp_file.display(),
        output.display()
    )))?;
    let mut temp = temp;
    temp.0 = None;
    Ok(RenderReport {
        output: output.to_path_buf(),
        duration: timeline.duration,
        output_duration: measured,
        areas,
        fps,
        frames,
        layers,
        video_codec,
        audio_codec: probe.audio,
        silent_audio,
        chapters: if chapters_path.is_some() { probe.chapters } else { 0 },
        warnings,
        elapsed: started.elapsed(),
    })
}

/// How far the file's duration may be from the recording's, and its sound's end (the last packet is partly
/// padding). The picture's last frame may start up to [`MAX_HOLD`] earlier still: it is held to the end.
const END_TOLERANCE: f64 = 1.0;

/// What an output must be before it gets its name (Pod picks up whatever is there): as long as the recording,
/// with a picture and a sound that both decode to the end. Returns the probe and the video codec.
async fn verify(ffprobe: &Path, file: &Path, duration: Time) -> Result<(Probe, String), RenderError> {
    let probe = ffmpeg::probe(ffprobe, file).await?;
    let expected = duration.as_secs_f64();
    let measured = probe.duration.unwrap_or(0.0);
    if (measured - expected).abs() > END_TOLERANCE {
        return Err(RenderError::Verification(format!("lasts {measured:.3} s instead of {expected:.3} s")));
    }
    let Some(video_codec) = probe.video.clone() else {
        return Err(RenderError::Verification("no video stream".into()));
    };
    if probe.audio.is_none() {
        return Err(RenderError::Verification("no audio stream".into()));
    }
    // Keyframes come every 10 s, so this decodes at most the last 14 s.
    let end = ffmpeg::decoded_end(ffprobe, file, (expected - 4.0).max(0.0)).await?;
    let held = MAX_HOLD.as_secs_f64();
    for (what, decoded, slack) in [("picture", end.video, held + END_TOLERANCE), ("sound", end.audio, END_TOLERANCE)] {
        let decoded = decoded.unwrap_or(0.0);
        if decoded < expected - slack {
            return Err(RenderError::Verification(format!(
                "the {what} does not decode to the end: it stops at {decoded:.3} s of {expected:.3} s"
            )));
        }
    }
    Ok((probe, video_codec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbb_presentation::{Chapter, CursorMove, Point};

    /// A 20 s MP4 with a picture (and a sound unless `silent`), index at the front as ours are.
    fn media_file(dir: &Path, name: &str, silent: bool) -> PathBuf {
        let path = dir.join(name);
        let mut cmd = std::process::Command::new("ffmpeg");
        cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=15:d=20"]);
        if !silent {
            cmd.args(["-f", "lavfi", "-i", "sine=d=20", "-c:a", "aac"]);
        }
        let status = cmd
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "150", "-movflags", "+faststart"])
            .arg(&path)
            .status()
            .expect("ffmpeg (apt-get install ffmpeg)");
        assert!(status.success());
        path
    }

    #[tokio::test]
    async fn verification_decodes_the_end_and_refuses_a_file_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let ffprobe = Path::new("ffprobe");
        let whole = media_file(dir.path(), "whole.mp4", false);
        let twenty = Time::from_millis(20_000);
        let (probe, codec) = verify(ffprobe, &whole, twenty).await.unwrap();
        assert_eq!((codec.as_str(), probe.audio.as_deref()), ("h264", Some("aac")));

        // The header still says 20 s: only decoding shows that the last 8 s are gone.
        let bytes = std::fs::read(&whole).unwrap();
        let cut = dir.path().join("cut.mp4");
        std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
        assert!((ffmpeg::probe(ffprobe, &cut).await.unwrap().duration.unwrap() - 20.0).abs() < 0.1);
        let err = verify(ffprobe, &cut, twenty).await.unwrap_err().to_string();
        assert!(err.contains("does not decode to the end: it stops at"), "{err}");

        let err = verify(ffprobe, &whole, Time::from_millis(30_000)).await.unwrap_err().to_string();
        assert!(err.contains("lasts 20.0"), "{err}");
        let silent = media_file(dir.path(), "silent.mp4", true);
        let err = verify(ffprobe, &silent, twenty).await.unwrap_err().to_string();
        assert!(err.contains("no audio stream"), "{err}");
    }

    #[test]
    fn schedule_keeps_the_last_instant_per_output_frame() {
        let mut t = Timeline { duration: Time::from_millis(10_000), ..Timeline::default() };
        for ms in [0, 100, 150, 190, 1000, 1010, 5000] {
            t.cursor.push(CursorMove { at: Time::from_millis(ms), position: Some(Point::new(ms as f64, 0.0)) });
        }
        let s: Vec<u64> = schedule(&t, 5).iter().map(|t| t.as_millis()).collect();
        assert_eq!(s, [0, 190, 1010, 5000]);
    }

    #[test]
    fn chapters_are_escaped_and_end_at_the_next() {
        let mut t = Timeline { duration: Time::from_millis(9_000), ..Timeline::default() };
        t.chapters = vec![
            Chapter { start: Time::ZERO, title: "Intro; a=b".into() },
            Chapter { start: Time::from_millis(4_000), title: "Écran\npartagé".into() },
        ];
        let f = chapters_file(&t);
        assert!(f.contains("START=0\nEND=4000\ntitle=Intro\\; a\\=b\n"), "{f}");
        assert!(f.contains("START=4000\nEND=9000\ntitle=Écran partagé\n"), "{f}");
    }

    #[test]
    fn output_types() {
        assert_eq!(Container::of(Path::new("a.MP4")).unwrap(), Container::Mp4);
        assert_eq!(Container::of(Path::new("a.webm")).unwrap(), Container::WebM);
        assert!(Container::of(Path::new("a.avi")).is_err());
    }
}
