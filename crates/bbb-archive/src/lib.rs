//! Archive mode: keep every BigBlueButton recording playable, exactly as published, after its server is gone.
//!
//! A recording's published files are copied, verified and laid out the way a BBB server lays them out, so that
//! BBB's own players, installed on any static web server, play them unchanged.
//!
//! # File list ([`files`], pure)
//! What to copy follows from BBB itself: the fixed first-level files of each [`Format`] (what the publish
//! scripts write and bbb-playback `src/config.js` asks for, plus its media probes), then every file those files
//! name: slide images, thumbnails and slide texts in `shapes.svg`, caption files in `captions.json`, slide texts
//! in `presentation_text.json`, scripts, styles and fonts of the video page. References are resolved like a
//! browser would and kept only inside the recording's own directory; anything else (`..` escaping it, absolute
//! paths elsewhere, other hosts, `file:`, NUL, backslashes) is a [`RefWarning`], never a request. Malformed
//! files give a warning, never a panic.
//!
//! # Layout
//! The URL path of a file on a BBB server is its path under the archive root:
//!
//! | archive | BBB server disk | URL |
//! |---|---|---|
//! | `presentation/<id>/…` | `/var/bigbluebutton/published/presentation/<id>/…` | `/presentation/<id>/…` |
//! | `playback/video/<id>/…` | `/var/bigbluebutton/published/video/<id>/…` | `/playback/video/<id>/…` |
//! | `manifests/<id>/bbb-migrate-manifest.json` | — | not served |
//!
//! so one `root <archive>;` in nginx (locations `/presentation/` and `/playback/video/`, byte ranges on by
//! default for static files) serves both, and bbb-playback installed at `<archive>/playback/presentation/2.3/`
//! (or its usual `/var/bigbluebutton/playback/presentation/2.3`) plays `/playback/presentation/2.3/<id>`.
//!
//! # Manifest and integrity ([`manifest`], [`verify`])
//! Each recording gets `manifests/<id>/bbb-migrate-manifest.json`: format version, record ID, the source URL of
//! each format (without query string), and every file's path, size, SHA-256 and fetch time, plus what the source
//! lacked and which references were refused. It is written atomically once every file is in; a recording is
//! archived only when its manifest exists and [`verify`] finds every file present and matching.
//!
//! # Storage ([`store`])
//! A local or mounted directory, or an S3-compatible bucket ([`Bucket`], `s3://bucket/prefix`) holding the same
//! layout under its prefix; files pass through a local staging directory and are uploaded with their SHA-256
//! (checked by the server on upload, kept as object metadata for later runs), and [`verify_bucket`] reads every
//! object back.
//!
//! # Protected recordings
//! A Scalelite with `PROTECTED_RECORDINGS_ENABLED` lists one-time links (`/recording/<id>/<format>?token=…`)
//! that set a cookie scoped to the recording's files; [`FormatSource::entry`] names that link and the archiver
//! opens it first with its cookie-keeping client (see [`fetch`]).
//!
//! # Fetching ([`Archiver`])
//! Streaming downloads into `<file>.part`, hashed while streaming, renamed into place when complete; an
//! interrupted `.part` is continued with `Range` (or downloaded again if the server ignores `Range`); files of
//! one or many recordings download in parallel up to a bound. A 404 on an optional file is "absent", on a
//! required one (`metadata.xml`, the video page) an error. Error messages never show query strings.

pub mod fetch;
pub mod files;
pub mod manifest;
pub mod store;
pub mod verify;

pub use bbb_presentation::PublishedFiles;
pub use fetch::{
    ArchiveError, ArchiveOptions, ArchiveReport, Archiver, FetchError, FormatSource, RecordingSource, file_url,
    http_client, is_protected_link, redact, web_root_of,
};
pub use files::{
    Format, Need, RefWarning, Resolved, Wanted, derive_all, first_level, references_of, resolve_reference,
};
pub use manifest::{FileEntry, MANIFEST_NAME, Manifest, ManifestError, manifest_path, manifest_rel};
pub use store::{Bucket, S3Settings, StoreError, parse_s3_url};
pub use verify::{Problem, VerifyReport, is_archived, verify, verify_bucket, verify_manifest};
