//! Re-reading an archive against its manifests: what is missing, shorter or longer, or different.

use std::fmt;
use std::path::Path;

use crate::fetch::hash_file_blocking;
use crate::manifest::{FileEntry, Manifest, ManifestError, safe_join};

/// Something wrong with one archived file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing {
        path: String,
    },
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
    ChecksumMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// Present but unreadable (permissions, I/O error).
    Unreadable {
        path: String,
        error: String,
    },
    /// The manifest names a path that would leave the archive root: it is not read.
    UnsafePath {
        path: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path } => write!(f, "{path}: missing"),
            Self::SizeMismatch { path, expected, actual } => {
                write!(f, "{path}: {actual} bytes, {expected} expected")
            }
            Self::ChecksumMismatch { path, expected, actual } => {
                write!(f, "{path}: SHA-256 {actual}, {expected} expected")
            }
            Self::Unreadable { path, error } => write!(f, "{path}: unreadable ({error})"),
            Self::UnsafePath { path } => write!(f, "{path}: path leaves the archive; not checked"),
        }
    }
}

/// The result of checking one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub record_id: String,
    pub files_checked: usize,
    pub bytes_checked: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    fn new(record_id: &str) -> Self {
        VerifyReport { record_id: record_id.to_owned(), files_checked: 0, bytes_checked: 0, problems: Vec::new() }
    }

    /// The recording is archived: every file of its manifest is present and matches.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Compares what reading `path` back gave (`size` bytes hashing to `sha`) with its manifest `entry`.
    fn read_back(&mut self, path: String, entry: &FileEntry, size: u64, sha: String) {
        self.bytes_checked += size;
        if size != entry.size {
            self.problems.push(Problem::SizeMismatch { path, expected: entry.size, actual: size });
        } else if sha != entry.sha256 {
            self.problems.push(Problem::ChecksumMismatch { path, expected: entry.sha256.clone(), actual: sha });
        }
    }
}

/// Re-reads every file of `record_id`'s manifest under `root` and compares sizes and SHA-256. Blocking (it reads
/// everything); run it on a blocking thread from async code. No manifest is an error: nothing says what to check.
pub fn verify(root: &Path, record_id: &str) -> Result<VerifyReport, ManifestError> {
    Ok(verify_manifest(root, &Manifest::load(root, record_id)?))
}

/// [`verify`] with a manifest already read.
pub fn verify_manifest(root: &Path, manifest: &Manifest) -> VerifyReport {
    let mut report = VerifyReport::new(&manifest.record_id);
    for entry in &manifest.files {
        let path = entry.path.clone();
        let Some(full) = safe_join(root, &entry.path) else {
            report.problems.push(Problem::UnsafePath { path });
            continue;
        };
        report.files_checked += 1;
        let meta = match std::fs::metadata(&full) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                report.problems.push(Problem::Missing { path });
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.problems.push(Problem::Missing { path });
                continue;
            }
            Err(e) => {
                report.problems.push(Problem::Unreadable { path, error: e.to_string() });
                continue;
            }
        };
        if meta.len() != entry.size {
            report.problems.push(Problem::SizeMismatch { path, expected: entry.size, actual: meta.len() });
            continue;
        }
        match hash_file_blocking(&full) {
            Ok((size, sha)) => report.read_back(path, entry, size, sha),
            Err(e) => report.problems.push(Problem::Unreadable { path, error: e.to_string() }),
        }
    }
    report
}

/// [`verify`] for an archive in a bucket: every object of the manifest read back in full and hashed.
pub async fn verify_bucket(bucket: &crate::store::Bucket, record_id: &str) -> Result<VerifyReport, ManifestError> {
    let rel = crate::manifest::manifest_rel(record_id)?;
    let manifest = match bucket.get_bytes(&rel).await? {
        Some(bytes) => Manifest::from_json(&bytes, record_id, &bucket.location(&rel))?,
        None => return Err(ManifestError::Missing { record_id: record_id.to_owned() }),
    };
    let mut report = VerifyReport::new(&manifest.record_id);
    for entry in &manifest.files {
        let path = entry.path.clone();
        if safe_join(Path::new("/"), &entry.path).is_none() {
            report.problems.push(Problem::UnsafePath { path });
            continue;
        }
        report.files_checked += 1;
        match bucket.hash(&entry.path).await {
            Ok(None) => report.problems.push(Problem::Missing { path }),
            Ok(Some((size, sha))) => report.read_back(path, entry, size, sha),
            Err(e) => report.problems.push(Problem::Unreadable { path, error: e.to_string() }),
        }
    }
    Ok(report)
}

/// Whether `record_id` is archived under `root`: a manifest exists and every file it lists is present and
/// matches.
pub fn is_archived(root: &Path, record_id: &str) -> bool {
    verify(root, record_id).is_ok_and(|r| r.is_ok())
}

/// Record IDs that have a manifest under `root`, sorted.
pub fn archived_record_ids(root: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(root.join("manifests")) else { return Vec::new() };
    let mut ids: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(crate::manifest::MANIFEST_NAME).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}
