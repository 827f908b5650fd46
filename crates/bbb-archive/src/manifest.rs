//! `bbb-migrate-manifest.json`: what was archived for one recording, with the size and SHA-256 of every file.
//!
//! The manifest is the archive's own record of completeness: it is written (atomically) only when every file of
//! every format was fetched, so its presence means "complete when written", and [`crate::verify`] re-reads the
//! files against it. It lives outside the served tree, in `manifests/<recordID>/`, so that the served
//! directories stay byte-for-byte what the old server published. While an archive run is under way, finished
//! files are appended to `journal.jsonl` next to it, so that an interrupted run resumes without fetching them
//! again.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::files::{Format, RefWarning, is_plain_component};

/// The manifest's file name, one per recording.
pub const MANIFEST_NAME: &str = "bbb-migrate-manifest.json";
/// The manifest format written by this version; readers refuse newer ones.
pub const MANIFEST_VERSION: u32 = 1;
const JOURNAL_NAME: &str = "journal.jsonl";

/// Everything archived for one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub record_id: String,
    /// The tool that wrote it (`bbb-archive 0.1.0`).
    pub tool: String,
    pub completed_at: DateTime<Utc>,
    pub formats: Vec<FormatEntry>,
    /// Every archived file, sorted by path.
    pub files: Vec<FileEntry>,
    /// Files that were asked for and that the server did not have (404), with why they were asked for; kept so
    /// that a later run need not ask again and a reader sees what the source lacked.
    #[serde(default)]
    pub absent: Vec<AbsentEntry>,
    /// References found in published files and not followed (hostile or broken).
    #[serde(default)]
    pub rejected_references: Vec<RejectedEntry>,
}

/// One archived format of the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatEntry {
    pub format: Format,
    /// Its directory relative to the archive root (`presentation/<id>`).
    pub dir: String,
    /// Where its files came from, without query string or credentials (`https://bbb.example/presentation/<id>/`).
    pub source_base: String,
}

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the archive root, `/`-separated (`presentation/<id>/shapes.svg`).
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub fetched_at: DateTime<Utc>,
}

/// A file asked for that the source did not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AbsentEntry {
    /// Relative to the archive root.
    pub path: String,
    /// `true` when a published file named it (the source is incomplete), `false` for a probe.
    pub referenced: bool,
}

/// A reference not followed, with its format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectedEntry {
    pub format: Format,
    #[serde(flatten)]
    pub warning: RefWarning,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no manifest for recording {record_id}")]
    Missing { record_id: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a valid manifest ({message})")]
    Invalid { path: PathBuf, message: String },
    #[error("not a plain record ID: {0:?}")]
    BadRecordId(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The directory holding a recording's manifest and journal: `<root>/manifests/<recordID>`.
pub fn manifest_dir(root: &Path, record_id: &str) -> Result<PathBuf, ManifestError> {
    if !is_plain_component(record_id) {
        return Err(ManifestError::BadRecordId(record_id.to_owned()));
    }
    Ok(root.join("manifests").join(record_id))
}

/// The manifest's path: `<root>/manifests/<recordID>/bbb-migrate-manifest.json`.
pub fn manifest_path(root: &Path, record_id: &str) -> Result<PathBuf, ManifestError> {
    Ok(manifest_dir(root, record_id)?.join(MANIFEST_NAME))
}

/// The manifest's path relative to the archive root (its object key under a bucket's prefix).
pub fn manifest_rel(record_id: &str) -> Result<String, ManifestError> {
    if !is_plain_component(record_id) {
        return Err(ManifestError::BadRecordId(record_id.to_owned()));
    }
    Ok(format!("manifests/{record_id}/{MANIFEST_NAME}"))
}

/// Joins a manifest path to the root, refusing anything that could leave it (a manifest is data, and may have
/// been edited by hand).
pub fn safe_join(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(['\\', '\0']) || part.contains(':') {
            return None;
        }
        out.push(part);
    }
    (out != root).then_some(out)
}

impl Manifest {
    /// Reads the manifest of `record_id` under `root`.
    pub fn load(root: &Path, record_id: &str) -> Result<Self, ManifestError> {
        let path = manifest_path(root, record_id)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing { record_id: record_id.to_owned() });
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        Self::from_json(&bytes, record_id, &path.display().to_string())
    }

    /// A manifest read from `shown` (a path or an object's location, for messages), which must describe
    /// `record_id`.
    pub fn from_json(bytes: &[u8], record_id: &str, shown: &str) -> Result<Self, ManifestError> {
        let path = PathBuf::from(shown);
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| ManifestError::Invalid { path: path.clone(), message: e.to_string() })?;
        if manifest.format_version > MANIFEST_VERSION {
            return Err(ManifestError::Invalid {
                path,
                message: format!(
                    "format version {} is newer than this tool's {MANIFEST_VERSION}",
                    manifest.format_version
                ),
            });
        }
        if manifest.record_id != record_id {
            return Err(ManifestError::Invalid { path, message: format!("it describes {}", manifest.record_id) });
        }
        Ok(manifest)
    }

    /// Writes the manifest atomically (temporary file, fsync, rename) and removes the journal.
    pub fn store(&self, root: &Path) -> Result<PathBuf, ManifestError> {
        let dir = manifest_dir(root, &self.record_id)?;
        let path = dir.join(MANIFEST_NAME);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ManifestError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let json = self.to_json()?;
        let tmp = dir.join(format!(".{MANIFEST_NAME}.tmp"));
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&json).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        let _ = std::fs::remove_file(dir.join(JOURNAL_NAME));
        Ok(path)
    }

    /// The manifest as written: pretty JSON with a final newline.
    pub fn to_json(&self) -> Result<Vec<u8>, ManifestError> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| ManifestError::Invalid { path: PathBuf::from(MANIFEST_NAME), message: e.to_string() })?;
        json.push(b'\n');
        Ok(json)
    }

    /// The entry of `path` (relative to the archive root).
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        // Sorted when written; a hand-edited manifest may not be, hence the fallback.
        match self.files.binary_search_by(|f| f.path.as_str().cmp(path)) {
            Ok(i) => Some(&self.files[i]),
            Err(_) => self.files.iter().find(|f| f.path == path),
        }
    }

    /// Total bytes of the archived files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The journal of a run under way: one [`FileEntry`] per line, appended as files complete.
pub(crate) fn journal_path(root: &Path, record_id: &str) -> Result<PathBuf, ManifestError> {
    Ok(manifest_dir(root, record_id)?.join(JOURNAL_NAME))
}

/// Entries of an earlier, interrupted run; a torn last line (crash while appending) is ignored.
pub(crate) fn read_journal(root: &Path, record_id: &str) -> Vec<FileEntry> {
    let Ok(path) = journal_path(root, record_id) else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}
