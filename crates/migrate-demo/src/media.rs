//! Real media files for the demo server, made with ffmpeg from synthetic sources and cached on disk.
//!
//! What a BBB 2.3–2.5 server publishes (record-and-playback `presentation.yml` and the process/publish scripts):
//! `video/webcams.webm` is VP9 + Opus (only when webcams, broadcast video or captions existed), else
//! `audio/audio.webm` + `audio/audio.ogg`; `deskshare/deskshare.webm` is VP9 without audio on a 1280×720
//! canvas; the separate `video` format publishes `video-0.m4v`, H.264 + AAC at 1280×720.
//!
//! The pictures are test patterns with a moving square and a progress bar along the bottom edge (its width is
//! `t / duration`), and the sound is a sine with a beep at every whole second, so that a renderer test can check
//! both picture timing and audio sync from the decoded output. Frame rates are given as an exact fraction
//! (`frames / duration`) so that every file lasts `duration_ms` to the millisecond, whatever the duration.
//! Encoders run with realtime settings: a 60-minute webcams file takes well under a minute on 2 cores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, Semaphore};

/// Which published media file a spec describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    /// `video/webcams.webm`: VP9 video + Opus audio (the recording's clock).
    Webcams,
    /// `audio/audio.webm`: Opus audio only, published instead of webcams when nobody shared a camera.
    AudioOnly,
    /// `audio/audio.ogg`: Vorbis audio, published next to `audio.webm` (older players use it).
    AudioOgg,
    /// `deskshare/deskshare.webm`: VP9, no audio, covering the whole recording like BBB's.
    Deskshare,
    /// The `video` format's `video-0.m4v`: H.264 + AAC, 1280×720.
    VideoPlayback,
}

impl MediaKind {
    /// Default frames per second (the exact rate is `frames / duration`, see the module docs). Lower than BBB's
    /// (15 for webcams, 24 for the video format) where that keeps generation fast; BBB's own deskshare is 5.
    fn default_fps(self) -> u32 {
        match self {
            Self::Webcams => 10,
            Self::Deskshare => 5,
            Self::VideoPlayback => 10,
            Self::AudioOnly | Self::AudioOgg => 0,
        }
    }

    fn has_video(self) -> bool {
        self.default_fps() > 0
    }

    pub fn has_audio(self) -> bool {
        !matches!(self, Self::Deskshare)
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Webcams | Self::AudioOnly | Self::Deskshare => "webm",
            Self::AudioOgg => "ogg",
            Self::VideoPlayback => "m4v",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Webcams => "webcams",
            Self::AudioOnly => "audio",
            Self::AudioOgg => "audio-ogg",
            Self::Deskshare => "deskshare",
            Self::VideoPlayback => "video",
        }
    }
}

/// One media file to generate: everything that changes its bytes, so it is also the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaSpec {
    pub kind: MediaKind,
    pub duration_ms: u64,
    /// Frame size; ignored (use 0) for the audio kinds.
    pub width: u32,
    pub height: u32,
    /// Frames per second of the video (0 for the audio kinds); BBB's own rates are 15 for webcams, 24 for the
    /// video format.
    pub fps: u32,
    /// Varies the colours and the tone so that two recordings' files differ.
    pub seed: u64,
}

impl MediaSpec {
    /// Webcams at 320×240: a quarter of BBB's 640×480, enough for layout tests and four times cheaper.
    pub fn webcams(duration_ms: u64, seed: u64) -> Self {
        Self {
            kind: MediaKind::Webcams,
            duration_ms,
            width: 320,
            height: 240,
            fps: MediaKind::Webcams.default_fps(),
            seed,
        }
    }

    pub fn audio_only(duration_ms: u64, seed: u64) -> Self {
        Self {
            kind: MediaKind::AudioOnly,
            duration_ms,
            width: 0,
            height: 0,
            fps: MediaKind::AudioOnly.default_fps(),
            seed,
        }
    }

    pub fn audio_ogg(duration_ms: u64, seed: u64) -> Self {
        Self {
            kind: MediaKind::AudioOgg,
            duration_ms,
            width: 0,
            height: 0,
            fps: MediaKind::AudioOgg.default_fps(),
            seed,
        }
    }

    /// Deskshare on BBB's output canvas (`deskshare_output_width` × `deskshare_output_height` = 1280×720).
    pub fn deskshare(duration_ms: u64, seed: u64) -> Self {
        Self {
            kind: MediaKind::Deskshare,
            duration_ms,
            width: 1280,
            height: 720,
            fps: MediaKind::Deskshare.default_fps(),
            seed,
        }
    }

    /// The `video` format's file at BBB's 1280×720.
    pub fn video_playback(duration_ms: u64, seed: u64) -> Self {
        Self {
            kind: MediaKind::VideoPlayback,
            duration_ms,
            width: 1280,
            height: 720,
            fps: MediaKind::VideoPlayback.default_fps(),
            seed,
        }
    }

    /// The `Content-Type` nginx gives this file on a BBB server (its stock `mime.types`).
    pub fn content_type(&self) -> &'static str {
        match self.kind.extension() {
            "webm" => "video/webm",
            "ogg" => "audio/ogg",
            _ => "video/x-m4v",
        }
    }

    /// The cache file name: unique per spec, with the extension of the published file.
    pub fn file_name(&self) -> String {
        let size = if self.kind.has_video() {
            format!("{}x{}-{}fps-", self.width, self.height, self.fps)
        } else {
            String::new()
        };
        format!("{}-{size}{}ms-{:016x}.{}", self.kind.label(), self.duration_ms, self.seed, self.kind.extension())
    }

    /// The exact frame rate `frames/duration` (as ffmpeg's `num/den`) that makes the last frame end at
    /// `duration_ms`; a fixed rate would overshoot by up to one frame.
    fn frame_rate(&self) -> (u64, u64) {
        let duration = self.duration_ms.max(1);
        let frames = ((duration * u64::from(self.fps) + 500) / 1000).max(1);
        let (num, den) = (frames * 1000, duration);
        let g = gcd(num, den);
        (num / g, den / g)
    }

    /// The ffmpeg command line (without the program) writing this file to `out`.
    pub fn ffmpeg_args(&self, out: &Path) -> Vec<String> {
        let secs = format!("{}.{:03}", self.duration_ms / 1000, self.duration_ms % 1000);
        let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"].map(String::from).to_vec();
        let mut input = |spec: String| {
            args.extend(["-f".into(), "lavfi".into(), "-i".into(), spec]);
        };
        let (w, h) = (self.width.max(16) & !1, self.height.max(16) & !1);
        let mix = splitmix(self.seed);
        let square = 0x20_20_20 | (mix as u32 & 0xdf_df_df);
        let tone = 300 + (mix >> 32) % 500;
        if self.kind.has_video() {
            let (num, den) = self.frame_rate();
            let rate = format!("{num}/{den}");
            let base = if w >= 1280 { "smptehdbars" } else { "smptebars" };
            input(format!("{base}=size={w}x{h}:rate={rate}"));
            let side = (h / 6).max(8);
            input(format!("color=c=0x{square:06x}:size={side}x{side}:rate={rate}"));
            input(format!("color=c=white:size={w}x{}:rate={rate}", (h / 40).max(2)));
        }
        if self.kind.has_audio() {
            let rate = if self.kind == MediaKind::AudioOgg { 22_050 } else { 48_000 };
            input(format!("sine=frequency={tone}:beep_factor=4:sample_rate={rate}:samples_per_frame={}", rate / 10));
        }
        if self.kind.has_video() {
            // Square: a triangle wave across, a sine up and down. Bar: slides in from the left, full at the end.
            let speed = 40 + mix % 60;
            let graph = format!(
                "[0][1]overlay=x='abs(mod(t*{speed},2*(W-w))-(W-w))':y='(H-h)/2+(H-h)/3*sin(t)'[sq];\
                 [sq][2]overlay=x='-W+W*t/{secs}':y=H-h,format=yuv420p[v]"
            );
            args.extend(["-filter_complex".into(), graph, "-map".into(), "[v]".into()]);
            if self.kind.has_audio() {
                args.extend(["-map".into(), "3:a".into()]);
            }
        } else {
            args.extend(["-map".into(), "0:a".into()]);
        }
        args.extend(["-t".into(), secs.clone()]);
        let codec: &[&str] = match self.kind {
            MediaKind::Webcams | MediaKind::Deskshare => &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-threads",
                "2",
                "-lag-in-frames",
                "0",
                "-aq-mode",
                "0",
                "-static-thresh",
                "100",
                "-b:v",
                "300k",
                "-g",
                "150",
            ],
            MediaKind::VideoPlayback => {
                &["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-threads", "2", "-g", "100"]
            }
            MediaKind::AudioOnly | MediaKind::AudioOgg => &[],
        };
        args.extend(codec.iter().map(|s| s.to_string()));
        let audio: &[&str] = match self.kind {
            MediaKind::Webcams | MediaKind::AudioOnly => {
                &["-c:a", "libopus", "-compression_level", "0", "-b:a", "32k", "-ac", "1"]
            }
            MediaKind::AudioOgg => &["-c:a", "libvorbis", "-q:a", "0", "-ac", "1"],
            MediaKind::VideoPlayback => &["-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ac", "1"],
            MediaKind::Deskshare => &["-an"],
        };
        args.extend(audio.iter().map(|s| s.to_string()));
        // Bit-exact muxing: no random segment UIDs or dates, so a spec always gives the same bytes.
        args.extend(["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"].map(String::from));
        let format: &[&str] = match self.kind.extension() {
            "webm" => &["-f", "webm"],
            "ogg" => &["-f", "ogg"],
            _ => &["-movflags", "+faststart", "-f", "mp4"],
        };
        args.extend(format.iter().map(|s| s.to_string()));
        args.push(out.to_string_lossy().into_owned());
        args
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Why a media file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(
        "ffmpeg not found (`{ffmpeg}`): the demo server makes its media with it; install ffmpeg (apt-get install ffmpeg)"
    )]
    FfmpegMissing { ffmpeg: String },
    #[error("ffmpeg failed ({status}): {stderr_tail}")]
    FfmpegFailed { status: ExitStatus, stderr_tail: String },
    #[error("media cache: {0}")]
    Io(#[from] std::io::Error),
}

/// Generated media files under one directory, each made once.
///
/// A file appears under its final name only when ffmpeg succeeded (temporary name, then rename), so a cache
/// directory kept between runs only holds complete files and is reused as is. Concurrent callers asking for
/// the same spec wait for a single generation; different specs are generated at most one per core at a time.
pub struct MediaCache {
    dir: PathBuf,
    ffmpeg: String,
    cells: Mutex<HashMap<MediaSpec, Arc<OnceCell<PathBuf>>>>,
    permits: Semaphore,
    generated: AtomicUsize,
    temp_counter: AtomicUsize,
}

impl MediaCache {
    pub fn new(dir: PathBuf, ffmpeg: impl Into<String>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            dir,
            ffmpeg: ffmpeg.into(),
            cells: Mutex::default(),
            permits: Semaphore::new(cores),
            generated: AtomicUsize::new(0),
            temp_counter: AtomicUsize::new(0),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many files this cache ran ffmpeg for (files found on disk from an earlier run do not count).
    pub fn generated(&self) -> usize {
        self.generated.load(Ordering::Relaxed)
    }

    /// The path of the file for `spec`, generating it first if needed.
    pub async fn get(&self, spec: &MediaSpec) -> Result<PathBuf, MediaError> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(spec.clone()).or_default().clone()
        };
        cell.get_or_try_init(|| self.generate(spec)).await.cloned()
    }

    async fn generate(&self, spec: &MediaSpec) -> Result<PathBuf, MediaError> {
        let path = self.dir.join(spec.file_name());
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Ok(path);
        }
        tokio::fs::create_dir_all(&self.dir).await?;
        let _permit = self.permits.acquire().await.map_err(|e| std::io::Error::other(e.to_string()))?;
        let temp = self.dir.join(format!(
            ".{}.{}-{}.part",
            spec.file_name(),
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let guard = RemoveOnDrop(Some(temp.clone()));
        let output = tokio::process::Command::new(&self.ffmpeg)
            .args(spec.ffmpeg_args(&temp))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => MediaError::FfmpegMissing { ffmpeg: self.ffmpeg.clone() },
                _ => MediaError::Io(e),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String =
                stderr.trim_end().chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(MediaError::FfmpegFailed { status: output.status, stderr_tail: tail });
        }
        tokio::fs::rename(&temp, &path).await?;
        drop(guard.disarm());
        self.generated.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(file = %path.display(), "demo media generated");
        Ok(path)
    }
}

/// Deletes a partial file when generation fails or the caller gives up (future dropped).
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) -> Option<PathBuf> {
        self.0.take()
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Fills `dir`, a media cache, with stand-in files for every medium of `demos` (deterministic pseudo-random
/// bytes, `size(spec)` long), so that a server using that cache serves them without running ffmpeg: for tests
/// and benchmarks that move files (archive, copies) rather than play them. Files already there are kept.
pub fn stand_in_media(
    dir: &Path,
    demos: &[crate::DemoRecording],
    size: impl Fn(&MediaSpec) -> usize,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for demo in demos {
        let (d, s) = (demo.duration_ms, demo.seed);
        for spec in [
            MediaSpec::webcams(d, s),
            MediaSpec::audio_only(d, s),
            MediaSpec::audio_ogg(d, s),
            MediaSpec::deskshare(d, s),
            MediaSpec::video_playback(d, s),
        ] {
            let path = dir.join(spec.file_name());
            if !path.is_file() {
                std::fs::write(&path, pseudo_random(s ^ path.to_string_lossy().len() as u64, size(&spec)))?;
            }
        }
    }
    Ok(())
}

/// Deterministic bytes (xorshift), cheap to make in any amount.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rate_makes_the_last_frame_end_at_the_duration() {
        let spec = MediaSpec::webcams(10_037, 1);
        let (num, den) = spec.frame_rate();
        let frames = 100; // round(10.037 s × 10 fps)
        assert_eq!(num * 10_037, frames * 1000 * den);
        assert_eq!(MediaSpec::deskshare(60_000, 1).frame_rate(), (5, 1));
    }

    #[test]
    fn file_names_are_unique_per_spec() {
        let a = MediaSpec::webcams(1000, 1);
        let mut b = a.clone();
        b.seed = 2;
        assert_ne!(a.file_name(), b.file_name());
        assert!(a.file_name().ends_with(".webm"));
        assert!(MediaSpec::video_playback(1000, 1).file_name().ends_with(".m4v"));
        assert!(MediaSpec::audio_ogg(1000, 1).file_name().ends_with(".ogg"));
        assert_eq!(MediaSpec::audio_ogg(1000, 1).content_type(), "audio/ogg");
    }
}
