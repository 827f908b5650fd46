//! Fetching a recording's files into the archive: streamed, hashed while streaming, resumable, atomic.
//!
//! Each file is written to `<file>.part` and renamed into place only when complete and as long as announced, so
//! a file under its real name is always whole. A `.part` left by an interrupted run is continued with an HTTP
//! `Range` request; a server that ignores `Range` (answers `200`) gets a fresh full download instead, and one
//! that answers `206` from another offset too. Downloads run in parallel up to [`ArchiveOptions::concurrency`],
//! shared by every recording archived through the same [`Archiver`], and new references are followed as soon as
//! the file naming them is in, so media and slides overlap.
//!
//! Error messages carry URLs without query string, fragment or credentials: protected servers put tokens there.
//!
//! A format may come with an entry URL ([`FormatSource::entry`]): the one-time playback link of a Scalelite with
//! protected recordings (`/recording/<id>/presentation?token=…`). It is opened first, with the archiver's client,
//! whose cookie store keeps the session cookie the server sets (`recording_<format>_<id>`, scoped to the files'
//! path), so that the files are then fetched the way a browser fetches them. A refused token, or files still
//! refused after it, fail the recording with [`ArchiveError::Protected`].
//!
//! With a [`Bucket`] as destination the same steps run in a local staging directory, and each completed file is
//! uploaded with its SHA-256 before it counts as archived; a file already in the bucket with the SHA-256 its
//! manifest records (`x-amz-meta-sha256`) is neither downloaded nor uploaded again.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

use crate::files::{self, Format, Need, Wanted};
use crate::manifest::{
    self, AbsentEntry, FileEntry, FormatEntry, MANIFEST_VERSION, Manifest, ManifestError, RejectedEntry,
};
use crate::store::Bucket;

/// How the archiver behaves.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Downloads in flight at once, across every recording archived through one [`Archiver`].
    pub concurrency: usize,
    /// Further attempts after a transport error, a 5xx or a short body; each resumes where the last stopped.
    pub retries: u32,
    /// `fsync` each file before renaming it into place, so that a crash never leaves a short file under its
    /// real name. Off only for benchmarks and throw-away copies.
    pub fsync: bool,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        Self { concurrency: 8, retries: 3, fsync: true }
    }
}

/// Where one format of a recording is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSource {
    pub format: Format,
    /// The directory URL of its files, ending with `/` (`https://bbb.example/presentation/<id>/`).
    pub base: Url,
    /// A URL to open before the files, whose cookies grant access to them: a protected Scalelite's one-time
    /// playback link, fresh from `getRecordings`. `None` for servers that serve files to anyone.
    pub entry: Option<Url>,
}

/// A recording to archive: its ID and the formats to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSource {
    pub record_id: String,
    pub formats: Vec<FormatSource>,
}

impl RecordingSource {
    /// The formats of `record_id` where a stock BBB or Scalelite server publishes them under `web_root`
    /// (`https://bbb.example/`). `None` when the record ID is not a plain name.
    pub fn on_server(web_root: &Url, record_id: &str, formats: &[Format]) -> Option<Self> {
        let formats = formats
            .iter()
            .map(|&format| Some(FormatSource { format, base: format.source_base(web_root, record_id)?, entry: None }))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { record_id: record_id.to_owned(), formats })
    }
}

/// Whether `url` is a protected server's one-time playback link: a `token` parameter (Scalelite 1.2+ with
/// `PROTECTED_RECORDINGS_ENABLED`) or Scalelite's `/recording/<id>/<format>` play route.
pub fn is_protected_link(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| k == "token") || url.path().contains("/recording/")
}

/// `https://host/prefix/` of a playback URL (`…/playback/…` or a protected `…/recording/…` link).
pub fn web_root_of(playback: &Url) -> Option<Url> {
    let path = playback.path();
    let cut = path.find("/playback/").or_else(|| path.find("/recording/"))?;
    let mut root = playback.clone();
    root.set_path(&format!("{}/", &path[..cut]));
    root.set_query(None);
    root.set_fragment(None);
    Some(root)
}

impl RecordingSource {
    /// The formats of `record_id` from its playback URLs as `getRecordings` lists them: files under the URLs'
    /// web root, and each protected link ([`is_protected_link`]) kept as its format's entry. `None` when no URL
    /// can be read or the record ID is not a plain name.
    pub fn from_playbacks(record_id: &str, playbacks: &[(Format, &str)]) -> Option<Self> {
        let parsed: Vec<(Format, Url)> =
            playbacks.iter().filter_map(|(f, u)| Some((*f, Url::parse(u).ok()?))).collect();
        let root = parsed.iter().find_map(|(_, u)| web_root_of(u))?;
        let formats = parsed
            .into_iter()
            .map(|(format, url)| {
                let base = format.source_base(&root, record_id)?;
                Some(FormatSource { format, base, entry: is_protected_link(&url).then_some(url) })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { record_id: record_id.to_owned(), formats })
    }

    /// Whether a format needs its entry link opened first (its links are one-time: refresh them before use).
    pub fn is_protected(&self) -> bool {
        self.formats.iter().any(|f| f.entry.is_some())
    }
}

/// What one archive run did.
#[derive(Debug, Clone)]
pub struct ArchiveReport {
    /// The manifest written (complete: every file present and hashed).
    pub manifest: Manifest,
    /// Where the manifest was written: a path, or `s3://bucket/prefix/manifests/<id>/bbb-migrate-manifest.json`.
    pub manifest_location: String,
    /// SHA-256 of the manifest as written.
    pub manifest_sha256: String,
    /// Files downloaded by this run (wholly or the rest of a `.part`).
    pub downloaded_files: usize,
    /// Bytes received over the network by this run.
    pub downloaded_bytes: u64,
    /// Files already in the archive and matching their earlier record, not fetched again.
    pub reused_files: usize,
    /// Downloads continued from a `.part` with a `Range` request that the server honoured.
    pub resumed_files: usize,
    /// HTTP requests sent.
    pub requests: usize,
}

/// Why a recording could not be archived completely. Files already complete stay (and are journaled), so the
/// next run only fetches the rest.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a plain record ID: {0:?}")]
    BadRecordId(String),
    #[error("recording {record_id}: the server has no {url} (required)")]
    Required { record_id: String, url: String },
    #[error("recording {record_id}: the video format has none of {}", files::VIDEO_MEDIA.join(", "))]
    NoVideo { record_id: String },
    #[error("recording {record_id}: {} file(s) failed, first: {}", failures.len(), failures.first().map_or("", String::as_str))]
    Failed { record_id: String, failures: Vec<String> },
    /// A protected recording whose playback token was refused, or whose files were refused even with the
    /// session the token opened.
    #[error("recording {record_id}: protected recording: {message}")]
    Protected { record_id: String, message: String },
    #[error("recording {record_id}: {message}")]
    Store { record_id: String, message: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// A failure fetching one file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: body ended after {got} of {expected} bytes")]
    Short { url: String, got: u64, expected: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl FetchError {
    fn retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Transport { .. } | Self::Short { .. } => true,
            Self::Io { .. } | Self::Store(_) => false,
        }
    }
}

/// `url` as it may be shown: no query string, fragment or credentials.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The URL of `path` (relative, `/`-separated, decoded) under `base`, each component percent-encoded.
pub fn file_url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(base.query());
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(path.split('/'));
    }
    url
}

/// The HTTP client archiving wants: cookies kept (protected recordings' sessions), rustls, a connect timeout.
pub fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().cookie_store(true).connect_timeout(connect_timeout).build()
}

/// Archives recordings into one directory tree; cheap to share (`Arc`) between tasks archiving several
/// recordings at once, which then share its download limit.
pub struct Archiver {
    ctx: Arc<Ctx>,
}

struct Ctx {
    client: reqwest::Client,
    /// The archive directory, or the staging directory of a bucket.
    root: PathBuf,
    bucket: Option<Bucket>,
    permits: Semaphore,
    options: ArchiveOptions,
    /// Directories known to exist, to spare a `create_dir_all` per file.
    dirs: std::sync::Mutex<HashSet<PathBuf>>,
}

/// Bodies up to this size announced with a `Content-Length` are collected in memory and written, synced and
/// renamed in one blocking call; larger ones are streamed to disk.
const SMALL_FILE: u64 = 4 * 1024 * 1024;

/// The result of one file's task.
struct Done {
    format: Format,
    wanted: Wanted,
    dir: String,
    outcome: Result<Got, FetchError>,
}

enum Got {
    /// Present: its entry, and whether it was downloaded (else reused).
    File {
        entry: FileEntry,
        downloaded: Option<Downloaded>,
    },
    Absent {
        url: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct Downloaded {
    received: u64,
    resumed: bool,
    requests: usize,
}

impl Archiver {
    /// An archiver writing under `root` with `client` (bring your own: cookies, timeouts, proxy, TLS roots).
    pub fn new(client: reqwest::Client, root: impl Into<PathBuf>, options: ArchiveOptions) -> Self {
        let permits = Semaphore::new(options.concurrency.max(1));
        let dirs = std::sync::Mutex::default();
        Self { ctx: Arc::new(Ctx { client, root: root.into(), bucket: None, permits, options, dirs }) }
    }

    /// An archiver writing into `bucket`, each file passing through `staging` (a local directory, created if
    /// needed; what a recording left there is removed once its manifest is in the bucket).
    pub fn to_bucket(
        client: reqwest::Client,
        bucket: Bucket,
        staging: impl Into<PathBuf>,
        options: ArchiveOptions,
    ) -> Self {
        let permits = Semaphore::new(options.concurrency.max(1));
        let dirs = std::sync::Mutex::default();
        let root = staging.into();
        Self { ctx: Arc::new(Ctx { client, root, bucket: Some(bucket), permits, options, dirs }) }
    }

    /// The archive directory (the staging directory when writing to a bucket).
    pub fn root(&self) -> &Path {
        &self.ctx.root
    }

    /// The bucket written to, if any.
    pub fn bucket(&self) -> Option<&Bucket> {
        self.ctx.bucket.as_ref()
    }

    /// The manifest of `record_id` in this archive (directory or bucket).
    pub async fn load_manifest(&self, record_id: &str) -> Result<Manifest, ManifestError> {
        load_manifest(&self.ctx, record_id).await
    }

    /// [`Archiver::archive`], then, for a protected recording, a clearer error when the files were refused.
    pub async fn archive(&self, source: &RecordingSource) -> Result<ArchiveReport, ArchiveError> {
        let protected = source.is_protected();
        for fs in source.formats.iter().filter(|f| f.entry.is_some()) {
            open_entry(&self.ctx, &source.record_id, fs).await?;
        }
        match self.archive_files(source).await {
            Err(ArchiveError::Required { record_id, url }) if protected => Err(ArchiveError::Protected {
                record_id,
                message: format!("the server accepted the playback token but refused its files ({url}: not found)"),
            }),
            Err(ArchiveError::Failed { record_id, failures })
                if protected && failures.iter().any(|f| f.contains("HTTP 401") || f.contains("HTTP 403")) =>
            {
                Err(ArchiveError::Protected {
                    record_id,
                    message: format!(
                        "the server accepted the playback token but refused {} file(s), first: {}",
                        failures.len(),
                        failures[0]
                    ),
                })
            }
            other => other,
        }
    }

    /// Copies every file of every format of `source` into the archive, then writes its manifest. Files already
    /// archived and matching their earlier record (manifest or journal of an interrupted run) are kept without a
    /// request, and `.part` files are continued.
    async fn archive_files(&self, source: &RecordingSource) -> Result<ArchiveReport, ArchiveError> {
        let root = &self.ctx.root;
        let record_id = &source.record_id;
        manifest::manifest_dir(root, record_id).map_err(|_| ArchiveError::BadRecordId(record_id.clone()))?;
        let previous = match load_manifest(&self.ctx, record_id).await {
            Ok(m) => Some(m),
            Err(ManifestError::Store(e)) => {
                return Err(ArchiveError::Store { record_id: record_id.clone(), message: e.to_string() });
            }
            Err(_) => None,
        };
        let mut known: HashMap<String, FileEntry> = HashMap::new();
        let mut known_absent: HashSet<String> = HashSet::new();
        if let Some(m) = &previous {
            known.extend(m.files.iter().map(|f| (f.path.clone(), f.clone())));
            known_absent.extend(m.absent.iter().map(|a| a.path.clone()));
        }
        known.extend(manifest::read_journal(root, record_id).into_iter().map(|f| (f.path.clone(), f)));
        let known = Arc::new(known);
        // One walk of what is already on disk (files and `.part`s), instead of a `stat` per wanted file.
        let dirs: Vec<PathBuf> =
            source.formats.iter().filter_map(|f| f.format.dir(record_id)).map(|d| root.join(d)).collect();
        let scan_root = root.clone();
        let on_disk =
            Arc::new(tokio::task::spawn_blocking(move || existing_files(&scan_root, &dirs)).await.unwrap_or_default());

        let mut set: JoinSet<Done> = JoinSet::new();
        let mut seen: HashSet<(Format, String)> = HashSet::new();
        let mut formats = Vec::new();
        let mut bases: HashMap<Format, (Url, String)> = HashMap::new();
        for fs in &source.formats {
            let dir = fs.format.dir(record_id).ok_or_else(|| ArchiveError::BadRecordId(record_id.clone()))?;
            formats.push(FormatEntry { format: fs.format, dir: dir.clone(), source_base: redact(&fs.base) });
            bases.insert(fs.format, (fs.base.clone(), dir));
        }
        let spawn = |set: &mut JoinSet<Done>, seen: &mut HashSet<(Format, String)>, format: Format, w: Wanted| {
            if !seen.insert((format, w.path.clone())) {
                return;
            }
            let (base, dir) = bases[&format].clone();
            let ctx = self.ctx.clone();
            let (known, on_disk) = (known.clone(), on_disk.clone());
            set.spawn(async move {
                let rel = format!("{dir}/{}", w.path);
                let disk =
                    OnDisk { file: on_disk.get(&rel).copied(), part: on_disk.get(&format!("{rel}.part")).copied() };
                let outcome = fetch_one(&ctx, &base, &dir, format, &w, known.get(&rel), disk).await;
                Done { format, wanted: w, dir, outcome }
            });
        };
        let mut rejected: Vec<RejectedEntry> = Vec::new();
        let mut absent: Vec<AbsentEntry> = Vec::new();
        for fs in &source.formats {
            for w in files::first_level(fs.format) {
                let path = format!("{}/{}", bases[&fs.format].1, w.path);
                if known_absent.contains(&path) && w.need != Need::Required {
                    seen.insert((fs.format, w.path.clone()));
                    absent.push(AbsentEntry { path, referenced: false });
                    continue;
                }
                spawn(&mut set, &mut seen, fs.format, w);
            }
        }

        let mut entries: Vec<FileEntry> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut required_missing: Option<String> = None;
        let (mut downloaded_files, mut downloaded_bytes, mut resumed_files, mut requests, mut reused) = (0, 0, 0, 0, 0);
        let mut journal = JournalWriter::new(manifest::journal_path(root, record_id)?);
        while let Some(joined) = set.join_next().await {
            let done = match joined {
                Ok(done) => done,
                Err(e) => {
                    failures.push(format!("a download task failed: {e}"));
                    continue;
                }
            };
            match done.outcome {
                Ok(Got::File { entry, downloaded }) => {
                    match downloaded {
                        Some(d) => {
                            downloaded_files += 1;
                            downloaded_bytes += d.received;
                            resumed_files += usize::from(d.resumed);
                            requests += d.requests;
                            journal.append(&entry);
                        }
                        None => reused += 1,
                    }
                    if files::is_scanned(done.format, &done.wanted.path) {
                        let base = &bases[&done.format].0;
                        match read_archived(&self.ctx, &entry.path).await {
                            Ok(bytes) => {
                                let (refs, warnings) =
                                    files::references_of(done.format, &done.wanted.path, &bytes, Some(base));
                                for warning in warnings {
                                    tracing::warn!(record_id = %record_id, "{warning}");
                                    rejected.push(RejectedEntry { format: done.format, warning });
                                }
                                for r in refs {
                                    let path = format!("{}/{}", done.dir, r.path);
                                    if known_absent.contains(&path) && !seen.contains(&(done.format, r.path.clone())) {
                                        seen.insert((done.format, r.path.clone()));
                                        absent.push(AbsentEntry { path, referenced: r.need != Need::Probe });
                                        continue;
                                    }
                                    spawn(&mut set, &mut seen, done.format, r);
                                }
                            }
                            Err(e) => failures.push(format!("{}: {e}", entry.path)),
                        }
                    }
                    entries.push(entry);
                }
                Ok(Got::Absent { url }) => {
                    requests += 1;
                    let path = format!("{}/{}", done.dir, done.wanted.path);
                    match done.wanted.need {
                        Need::Required => required_missing = Some(url),
                        Need::Referenced => {
                            tracing::warn!(
                                record_id = %record_id,
                                "{path} is named by {} but the server does not have it",
                                done.wanted.referenced_by.as_deref().unwrap_or("?")
                            );
                            absent.push(AbsentEntry { path, referenced: true });
                        }
                        Need::Probe => absent.push(AbsentEntry { path, referenced: false }),
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        journal.finish();
        if let Some(url) = required_missing {
            return Err(ArchiveError::Required { record_id: record_id.clone(), url });
        }
        if !failures.is_empty() {
            failures.sort();
            return Err(ArchiveError::Failed { record_id: record_id.clone(), failures });
        }
        if let Some((_, dir)) = bases.get(&Format::Video) {
            let has_video = files::VIDEO_MEDIA.iter().any(|m| entries.iter().any(|e| e.path == format!("{dir}/{m}")));
            if !has_video {
                return Err(ArchiveError::NoVideo { record_id: record_id.clone() });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        absent.sort();
        absent.dedup();
        rejected.sort();
        rejected.dedup();
        let manifest = Manifest {
            format_version: MANIFEST_VERSION,
            record_id: record_id.clone(),
            tool: format!("bbb-archive {}", env!("CARGO_PKG_VERSION")),
            completed_at: Utc::now(),
            formats,
            files: entries,
            absent,
            rejected_references: rejected,
        };
        let json = manifest.to_json()?;
        let manifest_sha256 = hex::encode(Sha256::digest(&json));
        let manifest_location = match &self.ctx.bucket {
            None => {
                let root = self.ctx.root.clone();
                let to_store = manifest.clone();
                let path = tokio::task::spawn_blocking(move || to_store.store(&root)).await.map_err(|e| {
                    ArchiveError::Failed { record_id: record_id.clone(), failures: vec![e.to_string()] }
                })??;
                path.display().to_string()
            }
            Some(bucket) => {
                let rel = manifest::manifest_rel(record_id)?;
                bucket
                    .put_bytes(&rel, json)
                    .await
                    .map_err(|e| ArchiveError::Store { record_id: record_id.clone(), message: e.to_string() })?;
                // Everything is in the bucket: the staging copies (and the journal) have done their job.
                let mut dirs: Vec<String> = bases.values().map(|(_, dir)| dir.clone()).collect();
                dirs.push(format!("manifests/{record_id}"));
                let root = self.ctx.root.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    for dir in dirs {
                        let _ = std::fs::remove_dir_all(root.join(dir));
                    }
                })
                .await;
                bucket.location(&rel)
            }
        };
        Ok(ArchiveReport {
            manifest,
            manifest_location,
            manifest_sha256,
            downloaded_files,
            downloaded_bytes,
            reused_files: reused,
            resumed_files,
            requests,
        })
    }
}

/// Appends finished files to the journal; a failure to write it only costs a re-download later.
struct JournalWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl JournalWriter {
    fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    fn append(&mut self, entry: &FileEntry) {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            self.file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).ok();
        }
        if let (Some(f), Ok(mut line)) = (self.file.as_mut(), serde_json::to_vec(entry)) {
            line.push(b'\n');
            let _ = f.write_all(&line);
        }
    }

    fn finish(self) {
        if let Some(f) = self.file {
            let _ = f.sync_all();
        }
    }
}

/// Sizes of a file and of its `.part` when the run started.
#[derive(Debug, Clone, Copy, Default)]
struct OnDisk {
    file: Option<u64>,
    part: Option<u64>,
}

/// Every file under `dirs` (relative to `root`, `/`-separated) with its size.
fn existing_files(root: &Path, dirs: &[PathBuf]) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let (Ok(rel), Ok(meta)) = (path.strip_prefix(root), entry.metadata())
                && let Some(rel) = rel.to_str()
            {
                out.insert(rel.replace(std::path::MAIN_SEPARATOR, "/"), meta.len());
            }
        }
    }
    out
}

async fn fetch_one(
    ctx: &Ctx,
    base: &Url,
    dir: &str,
    format: Format,
    wanted: &Wanted,
    known: Option<&FileEntry>,
    disk: OnDisk,
) -> Result<Got, FetchError> {
    let _permit = ctx
        .permits
        .acquire()
        .await
        .map_err(|e| FetchError::Transport { url: redact(base), message: format!("archiver closed: {e}") })?;
    let rel = format!("{dir}/{}", wanted.path);
    let dest = ctx.root.join(&rel);
    match &ctx.bucket {
        None => {
            if let Some(known) = known
                && disk.file == Some(known.size)
                && let Ok((_, sha)) = hash_file(&dest).await
                && sha == known.sha256
            {
                return Ok(Got::File { entry: known.clone(), downloaded: None });
            }
        }
        // In a bucket: an object bbb-migrate uploaded carries the SHA-256 it was hashed to; kept when it matches
        // the manifest (or, without a manifest, as what an interrupted run completed).
        Some(bucket) => {
            if let Some(remote) = bucket.head(&rel).await?
                && let Some(sha256) = remote.sha256
            {
                match known {
                    Some(k) if k.size == remote.size && k.sha256 == sha256 => {
                        return Ok(Got::File { entry: k.clone(), downloaded: None });
                    }
                    None => {
                        let entry = FileEntry { path: rel, size: remote.size, sha256, fetched_at: Utc::now() };
                        return Ok(Got::File { entry, downloaded: None });
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let url = file_url(base, &wanted.path);
    let mut result = download(ctx, &url, &dest, disk.part.unwrap_or(0)).await?;
    // BBB serves the video page as the directory index; some front ends only answer the directory URL.
    if result.is_none() && format == Format::Video && wanted.path == "index.html" {
        result = download(ctx, base, &dest, 0).await?;
    }
    if let (Some(bucket), Some((size, sha256, _))) = (&ctx.bucket, &result) {
        bucket.upload(&rel, &dest, *size, sha256).await?;
    }
    match result {
        Some((size, sha256, downloaded)) => Ok(Got::File {
            entry: FileEntry { path: rel, size, sha256, fetched_at: Utc::now() },
            downloaded: Some(downloaded),
        }),
        None => Ok(Got::Absent { url: redact(&url) }),
    }
}

/// Opens a protected format's entry URL (following its redirect), so that the client's cookie store holds the
/// session the server grants for the files.
async fn open_entry(ctx: &Ctx, record_id: &str, fs: &FormatSource) -> Result<(), ArchiveError> {
    let Some(entry) = &fs.entry else { return Ok(()) };
    let protected = |message: String| ArchiveError::Protected { record_id: record_id.to_owned(), message };
    let response = ctx.client.get(entry.clone()).send().await.map_err(|e| {
        protected(format!(
            "cannot open the {} playback link {}: {}",
            fs.format.as_str(),
            redact(entry),
            e.without_url()
        ))
    })?;
    let status = response.status();
    // Read the page to the end: some servers set the cookie only with a complete answer.
    let _ = response.bytes().await;
    if !status.is_success() {
        return Err(protected(format!(
            "the server refused the playback token of its {} playback (HTTP {}): the link was used already or has \
             expired; a fresh getRecordings link is needed",
            fs.format.as_str(),
            status.as_u16()
        )));
    }
    Ok(())
}

/// A file already archived: from the archive directory or the staging directory, else from the bucket.
async fn read_archived(ctx: &Ctx, rel: &str) -> Result<Vec<u8>, String> {
    match tokio::fs::read(ctx.root.join(rel)).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => match &ctx.bucket {
            Some(bucket) => match bucket.get_bytes(rel).await {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err(format!("{} is missing", bucket.location(rel))),
                Err(e) => Err(e.to_string()),
            },
            None => Err(e.to_string()),
        },
    }
}

async fn load_manifest(ctx: &Ctx, record_id: &str) -> Result<Manifest, ManifestError> {
    match &ctx.bucket {
        None => Manifest::load(&ctx.root, record_id),
        Some(bucket) => {
            let rel = manifest::manifest_rel(record_id)?;
            match bucket.get_bytes(&rel).await? {
                Some(bytes) => Manifest::from_json(&bytes, record_id, &bucket.location(&rel)),
                None => Err(ManifestError::Missing { record_id: record_id.to_owned() }),
            }
        }
    }
}

/// The `.part` file next to `dest`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Downloads `url` to `dest` with retries; `None` for 404/410. `part` is the size of `dest`'s `.part` when the
/// run started (0: none).
async fn download(
    ctx: &Ctx,
    url: &Url,
    dest: &Path,
    part: u64,
) -> Result<Option<(u64, String, Downloaded)>, FetchError> {
    let mut stats = Downloaded { received: 0, resumed: false, requests: 0 };
    let mut attempt = 0;
    loop {
        // Later attempts look again: the failed one may have left a longer `.part`.
        let have = if attempt == 0 { Some(part) } else { None };
        match attempt_once(ctx, url, dest, &mut stats, have).await {
            Ok(Some((size, sha))) => return Ok(Some((size, sha, stats))),
            Ok(None) => return Ok(None),
            Err(e) if e.retryable() && attempt < ctx.options.retries => {
                attempt += 1;
                tracing::debug!("retrying ({attempt}): {e}");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn transport(url: &Url, e: reqwest::Error) -> FetchError {
    FetchError::Transport { url: redact(url), message: e.without_url().to_string() }
}

/// `start` and `total` of a `Content-Range: bytes start-end/total` header.
fn content_range(value: Option<&reqwest::header::HeaderValue>) -> Option<(u64, Option<u64>)> {
    let v = value?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = v.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

async fn attempt_once(
    ctx: &Ctx,
    url: &Url,
    dest: &Path,
    stats: &mut Downloaded,
    have: Option<u64>,
) -> Result<Option<(u64, String)>, FetchError> {
    let part = part_path(dest);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    let have = match have {
        Some(h) => h,
        None => tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0),
    };
    let mut request = ctx.client.get(url.clone());
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    stats.requests += 1;
    let mut response = request.send().await.map_err(|e| transport(url, e))?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        if have > 0 {
            let _ = tokio::fs::remove_file(&part).await;
        }
        return Ok(None);
    }
    if status == StatusCode::RANGE_NOT_SATISFIABLE && have > 0 {
        // The `.part` is as long as the file or longer: it cannot be trusted; start over.
        tokio::fs::remove_file(&part).await.map_err(io(&part))?;
        return Err(FetchError::Transport { url: redact(url), message: "range not satisfiable; restarting".into() });
    }
    if !status.is_success() {
        return Err(FetchError::Status { url: redact(url), status: status.as_u16() });
    }
    if let Some(parent) = dest.parent() {
        ensure_dir(ctx, parent).await.map_err(io(parent))?;
    }
    let range = (status == StatusCode::PARTIAL_CONTENT).then(|| content_range(response.headers().get(CONTENT_RANGE)));
    if range.is_none()
        && let Some(expected) = response.content_length().filter(|&n| n <= SMALL_FILE)
    {
        return small_file(ctx, url, response, expected, &part, dest, stats).await.map(Some);
    }
    let (mut hasher, mut size, expected, file) = match range {
        Some(Some((start, total))) if have > 0 && start == have => {
            let (hasher, size) = hash_prefix(&part).await.map_err(io(&part))?;
            let file = tokio::fs::OpenOptions::new().append(true).open(&part).await.map_err(io(&part))?;
            stats.resumed = true;
            (hasher, size, total, file)
        }
        Some(_) => {
            // A 206 we did not ask for, or from another offset: nothing to append to.
            let _ = tokio::fs::remove_file(&part).await;
            return Err(FetchError::Transport { url: redact(url), message: "unexpected partial content".into() });
        }
        None => {
            let file = tokio::fs::File::create(&part).await.map_err(io(&part))?;
            (Sha256::new(), 0, response.content_length(), file)
        }
    };
    let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                let _ = writer.flush().await;
                return Err(transport(url, e));
            }
        };
        hasher.update(&chunk);
        writer.write_all(&chunk).await.map_err(io(&part))?;
        size += chunk.len() as u64;
        stats.received += chunk.len() as u64;
    }
    writer.flush().await.map_err(io(&part))?;
    let file = writer.into_inner();
    if let Some(expected) = expected
        && size != expected
    {
        // Keep the `.part`: the next attempt continues it.
        return Err(FetchError::Short { url: redact(url), got: size, expected });
    }
    if ctx.options.fsync {
        file.sync_all().await.map_err(io(&part))?;
    }
    drop(file);
    tokio::fs::rename(&part, dest).await.map_err(io(dest))?;
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

/// Creates `dir` (and parents) once per archiver.
async fn ensure_dir(ctx: &Ctx, dir: &Path) -> std::io::Result<()> {
    if ctx.dirs.lock().unwrap_or_else(|e| e.into_inner()).contains(dir) {
        return Ok(());
    }
    tokio::fs::create_dir_all(dir).await?;
    ctx.dirs.lock().unwrap_or_else(|e| e.into_inner()).insert(dir.to_path_buf());
    Ok(())
}

/// A body of announced, modest size: collected and hashed in memory, then written, synced and renamed into place
/// in one blocking call (the `.part` step is kept, so a crash still leaves no short file under the real name).
async fn small_file(
    ctx: &Ctx,
    url: &Url,
    mut response: reqwest::Response,
    expected: u64,
    part: &Path,
    dest: &Path,
    stats: &mut Downloaded,
) -> Result<(u64, String), FetchError> {
    let mut body = Vec::with_capacity(expected as usize);
    let mut hasher = Sha256::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                hasher.update(&chunk);
                body.extend_from_slice(&chunk);
                stats.received += chunk.len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                // Keep what arrived, so that the next attempt asks only for the rest.
                if !body.is_empty() {
                    let part = part.to_path_buf();
                    let _ = tokio::task::spawn_blocking(move || std::fs::write(part, body)).await;
                }
                return Err(transport(url, e));
            }
        }
    }
    let size = body.len() as u64;
    if size != expected {
        return Err(FetchError::Short { url: redact(url), got: size, expected });
    }
    let shown = dest.to_path_buf();
    let (part, dest, fsync) = (part.to_path_buf(), dest.to_path_buf(), ctx.options.fsync);
    let written = tokio::task::spawn_blocking(move || -> Result<(), FetchError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FetchError::Io { path, source }
        };
        let mut file = std::fs::File::create(&part).map_err(io(&part))?;
        file.write_all(&body).map_err(io(&part))?;
        if fsync {
            file.sync_all().map_err(io(&part))?;
        }
        drop(file);
        std::fs::rename(&part, &dest).map_err(io(&dest))
    })
    .await;
    match written {
        Ok(result) => result?,
        Err(e) => return Err(FetchError::Io { path: shown, source: std::io::Error::other(e) }),
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// SHA-256 over what a `.part` already holds, to continue hashing where the download resumes.
async fn hash_prefix(path: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 256 * 1024];
    let mut size = 0;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok((hasher, size));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

/// Size and lower-case hex SHA-256 of a file.
pub async fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let (hasher, size) = hash_prefix(path).await?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Size and lower-case hex SHA-256 of a file, without a runtime (for [`crate::verify`]).
pub fn hash_file_blocking(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 256 * 1024];
    let mut size = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((size, hex::encode(hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_playback_urls_of_every_form() {
        let id = "0123456789abcdef0123456789abcdef01234567-1700000000000";
        let plain = RecordingSource::from_playbacks(
            id,
            &[
                (Format::Presentation, &format!("https://bbb.univ.fr/playback/presentation/2.3/{id}")),
                (Format::Video, &format!("https://bbb.univ.fr/playback/video/{id}/")),
            ],
        )
        .unwrap();
        assert!(!plain.is_protected());
        assert_eq!(plain.formats[0].base.as_str(), format!("https://bbb.univ.fr/presentation/{id}/"));
        assert_eq!(plain.formats[1].base.as_str(), format!("https://bbb.univ.fr/playback/video/{id}/"));
        let link = format!("https://sl.univ.fr/sl/recording/{id}/presentation?token={}", "ab".repeat(32));
        let protected = RecordingSource::from_playbacks(id, &[(Format::Presentation, &link)]).unwrap();
        assert!(protected.is_protected());
        assert_eq!(protected.formats[0].base.as_str(), format!("https://sl.univ.fr/sl/presentation/{id}/"));
        assert_eq!(protected.formats[0].entry.as_ref().unwrap().as_str(), link);
        let old = format!("https://bbb.univ.fr/playback/presentation/2.0/playback.html?meetingId={id}");
        assert!(!RecordingSource::from_playbacks(id, &[(Format::Presentation, &old)]).unwrap().is_protected());
        assert!(RecordingSource::from_playbacks("../x", &[(Format::Presentation, &old)]).is_none());
    }
}
