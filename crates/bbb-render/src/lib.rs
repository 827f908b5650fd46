//! Native renderer of BigBlueButton `presentation` recordings: frames drawn on the CPU with tiny-skia, video
//! encoded by an ffmpeg subprocess, far faster than real time and without a browser.
//!
//! Why not screen-capture a browser as bbb-recorder, bbb-video-download or bbb-dl do: those run at or near real
//! time, hang with Chrome, and some are blind to tldraw annotations. Here the [`bbb_presentation::Timeline`]
//! says exactly when the picture changes, so only distinct pictures are drawn ([`FrameRenderer`] caches the
//! slide layer between [`bbb_presentation::Timeline::change_points`] and draws the cursor as an overlay), and
//! ffmpeg repeats them, adds the webcam and screen-share videos and the sound.
//!
//! Entry points: [`Inputs::from_dir`] (a downloaded recording directory), [`render_frame_png`] (one still, for
//! checking a recording) and [`render_to_file`] (MP4/WebM/MKV, written under a temporary name and renamed only
//! once ffprobe has verified it).
//!
//! Text is drawn with DejaVu Sans embedded in the crate (`fonts/SOURCES.md`): renders must not depend on the
//! fonts of the host, and it covers every accent French text needs.
//!
//! For a caller (the CLI's `render` command):
//! - Download the published files into a directory first, keeping their relative paths (`shapes.svg`,
//!   `presentation/<id>/slide-N.png`, `svgs/slideN.svg`, `video/webcams.webm`, `deskshare/deskshare.webm`, …),
//!   then [`Inputs::from_dir`]. Paths read from `shapes.svg` are only joined when made of plain names.
//! - `--size` parses with [`Size`]'s `FromStr` (`1280x720`, even numbers), `--layout` with [`Layout`]'s
//!   (`auto`, `presentation`, `presentation+webcam`, `webcam-only`); a webcam layout without webcam video
//!   falls back to `presentation`.
//! - The output's extension picks the format (`.mp4`, `.webm`, `.mkv`); anything else is an error before any
//!   work. A hidden `.<name>.<pid>.part.*` file sits next to the output while rendering.
//! - [`RenderReport::warnings`] lists what was not as published (missing slide → placeholder, no sound →
//!   silent track, screen share without video → placeholder); they are worth logging, not failing on.
//! - ffmpeg does most of the work: [`RenderOptions::fps`] and [`RenderOptions::x264_preset`] are the speed
//!   knobs; the frames themselves cost little (see `examples/bench.rs`).

mod encode;
mod ffmpeg;
mod font;
mod frame;
mod geom;
mod inputs;
mod layout;
mod mkv;
mod shapes;
mod slides;
mod style;
mod yuv;

use std::path::PathBuf;

pub use bbb_presentation::Time;
pub use encode::{Progress, RenderReport, render_to_file};
pub use frame::FrameRenderer;
pub use inputs::{Inputs, MediaFiles, RecordingDir};
pub use layout::{Area, Areas, Layout, Size};

/// No B-frames, the simplest motion search: on slides beside a small webcam (little moves, most of the
/// picture still) a third less encoding CPU than `veryfast` alone for files about 5 % bigger at the same
/// quality (SSIM) — the encoder is most of a webcam render's work.
pub const SLIDES_X264_PARAMS: &str = "bframes=0:me=dia:subme=1";

/// How to render. `Default` gives 1280×720, layout `auto`, `ffmpeg`/`ffprobe` from `PATH`.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub size: Size,
    pub layout: Layout,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Output frames per second; `None` = 15 when webcam or screen-share video is shown (BBB records webcams
    /// at 15). Without them the output has a variable frame rate (a frame per change, held up to 2 s) and this is
    /// only the highest rate, for cursor moves: `None` = 5, plenty for a pointer and cheap to encode.
    pub fps: Option<u32>,
    /// x264 preset for MP4 (`veryfast` by default: slides compress well and speed matters more).
    pub x264_preset: String,
    /// x264 options over the preset (`-x264-params`). The default, [`SLIDES_X264_PARAMS`], suits a picture
    /// that is mostly still.
    pub x264_params: String,
    /// Constant-quality factor (x264 CRF / VP9 CRF); lower is better and bigger.
    pub crf: u32,
    /// ffmpeg threads (`None` = ffmpeg decides).
    pub threads: Option<u32>,
    /// Write chapters (one per slide change) into the output.
    pub chapters: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            size: Size::default(),
            layout: Layout::default(),
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            fps: None,
            x264_preset: "veryfast".into(),
            x264_params: SLIDES_X264_PARAMS.into(),
            crf: 23,
            threads: None,
            chapters: true,
        }
    }
}

/// Why a render failed. Damaged but usable inputs do not fail a render: they are warnings in the report.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The inputs cannot make a video (not a recording directory, zero length, …).
    #[error("cannot render: {0}")]
    Input(String),
    #[error("ffmpeg not found (`{0}`): install it (apt-get install ffmpeg) or give its path")]
    FfmpegMissing(String),
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    /// The output was written but is not what was asked for; it was deleted.
    #[error("the output failed verification: {0}")]
    Verification(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RenderError {
        let context = context.into();
        move |source| RenderError::Io { context, source }
    }
}

/// Whether the layout may put the webcam on screen: `auto` needs to know if the webcams file has a picture,
/// which only ffprobe can tell.
pub(crate) async fn resolve_areas(inputs: &Inputs, options: &RenderOptions) -> Areas {
    let has_webcam_video = match &inputs.media.webcams {
        Some(path) => ffmpeg::probe(&options.ffprobe, path).await.is_ok_and(|p| p.video.is_some()),
        None => false,
    };
    Areas::resolve(options.layout, options.size, has_webcam_video)
}

/// One still of the recording at `t`, as PNG: slides, annotations and cursor as [`render_to_file`] would show
/// them, with the webcam and screen-share pictures of that instant composited in by ffmpeg when available
/// (without ffmpeg their areas stay empty, and the still is made anyway).
pub async fn render_frame_png(inputs: &Inputs, t: Time, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
    if inputs.timeline.duration == Time::ZERO {
        return Err(RenderError::Input("the recording has zero length".into()));
    }
    let areas = resolve_areas(inputs, options).await;
    let mut pixmap = {
        let mut renderer = FrameRenderer::new(&inputs.timeline, inputs.files(), areas)
            .ok_or_else(|| RenderError::Input(format!("cannot allocate a {} picture", options.size)))?;
        renderer.render(t).clone()
    };
    ffmpeg::composite_videos_at(&mut pixmap, inputs, areas, t, options).await;
    frame::encode_png(&pixmap).map_err(RenderError::Input)
}
