//! What a render reads: the published files of one recording (parsed into a timeline) and its media files.

use std::path::{Component, Path, PathBuf};

use bbb_presentation::{PublishedFiles, Timeline, Warning};

use crate::RenderError;

/// A directory holding a recording's published files as they sit under `/presentation/<recordID>/` on the
/// server (`metadata.xml`, `shapes.svg`, `presentation/<id>/slide-1.png`, `video/webcams.webm`, …) — what the
/// CLI downloads before rendering.
#[derive(Debug, Clone)]
pub struct RecordingDir {
    root: PathBuf,
}

impl RecordingDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RecordingDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file's path when `relative` is made of plain names only: paths come from `shapes.svg`, which is
    /// remote data, and must not reach outside the directory (`../`, `/etc/…`).
    pub fn path_of(&self, relative: &str) -> Option<PathBuf> {
        let rel = Path::new(relative);
        let plain = !relative.is_empty()
            && !relative.contains('\\')
            && rel.components().all(|c| matches!(c, Component::Normal(_)));
        plain.then(|| self.root.join(rel))
    }
}

impl PublishedFiles for RecordingDir {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        let full = self.path_of(path)?;
        std::fs::read(full).ok()
    }
}

/// The media files of a recording, found in the official player's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaFiles {
    /// `video/webcams.mp4` or `video/webcams.webm`: webcam picture and, usually, the sound.
    pub webcams: Option<PathBuf>,
    /// `audio/audio.webm` or `audio/audio.ogg`, published instead of webcams when no camera was shared.
    pub audio: Option<PathBuf>,
    /// `deskshare/deskshare.mp4` or `deskshare/deskshare.webm`, on recording time.
    pub deskshare: Option<PathBuf>,
}

impl MediaFiles {
    pub fn find(dir: &RecordingDir) -> MediaFiles {
        let first = |names: &[&str]| {
            names.iter().filter_map(|n| dir.path_of(n)).find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.len() > 0))
        };
        MediaFiles {
            webcams: first(&["video/webcams.mp4", "video/webcams.webm"]),
            audio: first(&["audio/audio.webm", "audio/audio.ogg"]),
            deskshare: first(&["deskshare/deskshare.mp4", "deskshare/deskshare.webm"]),
        }
    }
}

/// One recording ready to render: its files, the parsed timeline and what parsing warned about.
pub struct Inputs {
    files: Box<dyn PublishedFiles + Send + Sync>,
    pub timeline: Timeline,
    /// Parser warnings; the render adds its own to its report.
    pub warnings: Vec<Warning>,
    pub media: MediaFiles,
}

impl Inputs {
    /// Reads a downloaded recording directory. Fails only when nothing there looks like a presentation
    /// recording (neither `metadata.xml` nor `shapes.svg`); damaged files become warnings.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Inputs, RenderError> {
        let dir = RecordingDir::new(dir);
        if !dir.root().is_dir() {
            return Err(RenderError::Input(format!("{} is not a directory", dir.root().display())));
        }
        let looks_like_one = ["metadata.xml", "shapes.svg"].iter().any(|f| dir.path_of(f).is_some_and(|p| p.is_file()));
        if !looks_like_one {
            return Err(RenderError::Input(format!(
                "{} holds neither metadata.xml nor shapes.svg: not a presentation recording",
                dir.root().display()
            )));
        }
        let media = MediaFiles::find(&dir);
        Ok(Inputs::new(dir, media))
    }

    /// Any source of published files (a test's map, a mirror) with media files given by path.
    pub fn new(files: impl PublishedFiles + Send + Sync + 'static, media: MediaFiles) -> Inputs {
        let (timeline, warnings) = bbb_presentation::parse(&files);
        Inputs { files: Box::new(files), timeline, warnings, media }
    }

    pub fn files(&self) -> &(dyn PublishedFiles + Send + Sync) {
        self.files.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_remote_data_stay_inside() {
        let d = RecordingDir::new("/tmp/rec");
        assert_eq!(d.path_of("presentation/p/slide-1.png"), Some(PathBuf::from("/tmp/rec/presentation/p/slide-1.png")));
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "a\\..\\b", "./x"] {
            assert_eq!(d.path_of(bad), None, "{bad}");
        }
    }
}
