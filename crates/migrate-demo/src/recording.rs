//! A generated recording: what the demo server answers in `getRecordings`, plus the knobs that decide which
//! published files exist and what they contain.

use bbb_api::{FormatKind, PlaybackFormat, Recording};

/// Everything needed to answer for one generated recording, deterministic from `seed`.
#[derive(Debug, Clone)]
pub struct DemoRecording {
    /// What `getRecordings` reports (ids, times, metadata, formats with URLs on the demo server).
    pub recording: Recording,
    /// Drives every pseudo-random choice in the published files, so a recording is identical on every run.
    pub seed: u64,
    /// Exact playback duration in milliseconds (`metadata.xml` `<playback><duration>`); may differ from
    /// `end - start` by a few seconds, as on a real server.
    pub duration_ms: u64,
    /// Number of slides in the uploaded presentation (≥ 1).
    pub slides: u32,
    /// Webcam video published (`video/webcams.webm` with video); else audio only.
    pub has_webcam: bool,
    /// Screen sharing happened (`deskshare.xml` non-empty and `deskshare/deskshare.webm`).
    pub has_deskshare: bool,
    /// The server also processed the `video` format (`/playback/video/<id>/video-0.m4v`).
    pub has_video_format: bool,
}

impl DemoRecording {
    /// Gives the recording a `video` playback (replacing any) on the server at `web_root` (ending in `/`) whose
    /// file advertises `size` bytes: what tests and the soak use to make every recording a copy, not a render.
    pub fn set_video_playback(&mut self, web_root: &str, size: u64) {
        self.has_video_format = true;
        let rec = &mut self.recording;
        rec.formats.retain(|f| f.kind != FormatKind::Video);
        rec.formats.push(PlaybackFormat {
            kind: FormatKind::Video,
            url: format!("{web_root}playback/video/{}/", rec.record_id),
            length_minutes: Some(1),
            processing_time_ms: None,
            size: Some(size),
            previews: Vec::new(),
        });
    }

    /// The id of the uploaded presentation, the folder of its slide images (`presentation/<id>/slide-N.png`).
    pub fn presentation_id(&self) -> String {
        presentation_id(&self.recording.record_id, self.recording.start_time.timestamp_millis())
    }
}

/// BBB names an uploaded presentation `<sha1>-<upload epoch ms>`; ours is uploaded 1.2 s after the start.
pub(crate) fn presentation_id(record_id: &str, start_ms: i64) -> String {
    use sha1::{Digest, Sha1};
    format!("{}-{}", hex::encode(Sha1::digest(format!("{record_id}/slides").as_bytes())), start_ms + 1_200)
}
