//! `archive`: every published file of the selected recordings, verified, in a BBB server's own layout, so
//! that BBB's player keeps playing them from any static web server after the old server is gone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bbb_api::{BbbClient, FormatKind, Recording, RecordingsQuery, StateFilter};
use bbb_archive::{ArchiveOptions, Archiver, Bucket, Format, RecordingSource, S3Settings};
use migrate_config::Config;
use migrate_ledger::{ActionOutput, Lease, Ledger, NewAction};
use migrate_queue::{Job, JobKind, Publisher};
use serde::{Deserialize, Serialize};

use super::migrate::{Done, Outcome, register, run_each, skipped};
use crate::cli::ArchiveArgs;

pub async fn run(explicit: Option<&Path>, args: ArchiveArgs) -> ExitCodeResult {
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    let dir = args.dir.to_string_lossy().into_owned();
    let destination = Destination::of(config, &dir)?;
    if args.serve_config {
        let Destination::Dir(path) = &destination else {
            anyhow::bail!("--serve-config is for an archive directory; a bucket is served by its own web front end")
        };
        let base = args.base_url.as_deref().context("--serve-config needs --base-url https://archive.univ.fr")?;
        print!("{}", nginx_snippet(path, base)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (selection, query) = super::selection(&args.selection)?;
    let client = crate::source::client(config)?;
    let ledger = if args.verify { None } else { Some(super::inventory::open_ledger(&config.ledger.database).await?) };
    let inventory = super::inventory::collect(&client, &query, &selection, ledger.as_ref()).await?;
    if args.verify {
        return verify(&destination, &inventory.entries).await;
    }
    let ledger = ledger.expect("opened above");
    if let Destination::Dir(path) = &destination {
        std::fs::create_dir_all(path).with_context(|| format!("cannot create the archive {}", path.display()))?;
    }
    let mut work: Vec<(&Recording, ArchiveJob)> = Vec::new();
    let mut outcomes = Vec::new();
    for entry in &inventory.entries {
        let rec = &entry.recording;
        match ArchiveJob::of(rec, &destination.to_string()) {
            Some(job) => work.push((rec, job)),
            None => outcomes.push(skipped(&rec.record_id, rec.display_name(), "no presentation or video playback")),
        }
    }
    let actions: Vec<NewAction> = work.iter().map(|(_, job)| job.action()).collect();
    register(&ledger, &actions).await.context("cannot record the plan in the ledger")?;
    if args.queue {
        return publish(config, &ledger, &work, outcomes.len()).await;
    }
    let archiver = Arc::new(destination.archiver(config, args.jobs.unwrap_or(8))?);
    let holder = migrate_ledger::default_owner();
    fn id<'a>((rec, _): &'a (&'a Recording, ArchiveJob)) -> (&'a str, &'a str) {
        (rec.record_id.as_str(), rec.display_name())
    }
    // Recordings two at a time; their files share the archiver's download limit.
    outcomes.extend(
        run_each(&work, 2, "archiving", id, |(_, job)| {
            let (archiver, ledger, holder, client) = (archiver.clone(), &ledger, holder.clone(), &client);
            async move { archive_one(&archiver, ledger, Some(client), job, &holder, super::migrate::LEASE).await }
        })
        .await,
    );
    let done = outcomes.iter().filter(|o| o.status == "done").count();
    let already = outcomes.iter().filter(|o| o.status == "already done").count();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == "failed").collect();
    let bytes: u64 = outcomes.iter().filter_map(|o| o.output.as_ref()?.get("size")?.as_u64()).sum();
    println!(
        "archive {destination}: {done} archived, {already} already archived, {} failed, {} skipped; {} in the \
         archive for these",
        failed.len(),
        outcomes.iter().filter(|o| o.status == "skipped").count(),
        super::migrate::bytes(bytes)
    );
    for r in outcomes.iter().filter(|o| o.detail.starts_with("repaired")) {
        println!("  {} {} — {}", r.record_id, r.name, r.detail);
    }
    for f in failed.iter().take(20) {
        println!("  failed: {} {} — {}", f.record_id, f.name, f.detail);
    }
    ledger.close().await;
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

type ExitCodeResult = anyhow::Result<ExitCode>;

/// Where the archive is: a local or mounted directory, or an S3-compatible bucket (`s3://bucket/prefix`).
pub(super) enum Destination {
    Dir(PathBuf),
    Bucket(Bucket),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(path) => write!(f, "{}", path.display()),
            Self::Bucket(bucket) => write!(f, "{bucket}"),
        }
    }
}

impl Destination {
    /// `dir` as given on the command line or in a job; a bucket takes `[archive]`'s endpoint and credentials.
    pub(super) fn of(config: &Config, dir: &str) -> anyhow::Result<Self> {
        if !dir.starts_with("s3://") {
            return Ok(Self::Dir(PathBuf::from(dir)));
        }
        let a = &config.archive;
        let settings = S3Settings {
            endpoint: a.endpoint.clone(),
            region: a.region.clone(),
            access_key_id: a.access_key_id.clone(),
            secret_access_key: a.secret_access_key.expose().to_owned(),
        };
        Ok(Self::Bucket(Bucket::connect(dir, &settings).with_context(|| {
            "archive to a bucket: s3://BUCKET/PREFIX, with archive.endpoint, archive.access_key_id and \
             BBB_MIGRATE_ARCHIVE__SECRET_ACCESS_KEY set"
        })?))
    }

    /// An archiver writing here, `jobs` downloads at once.
    pub(super) fn archiver(&self, config: &Config, jobs: usize) -> anyhow::Result<Archiver> {
        let http = bbb_archive::http_client(Duration::from_secs(30))?;
        let options = ArchiveOptions { concurrency: jobs.max(1), ..ArchiveOptions::default() };
        Ok(match self {
            Self::Dir(path) => Archiver::new(http, path.clone(), options),
            Self::Bucket(bucket) => {
                let staging = match config.archive.staging_dir.trim() {
                    "" => std::env::temp_dir().join("bbb-migrate-archive-staging"),
                    dir => PathBuf::from(dir),
                };
                Archiver::to_bucket(http, bucket.clone(), staging, options)
            }
        })
    }
}

/// One recording to archive, as the ledger records it and a `worker` receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ArchiveJob {
    pub record_id: String,
    /// The archive directory or `s3://bucket/prefix`.
    pub destination: String,
    /// Where the old server publishes the files (`https://bbb.univ.fr/`).
    pub web_root: String,
    pub formats: Vec<Format>,
    /// The server hands out one-time links: a fresh one is asked for right before the files are fetched.
    #[serde(default)]
    pub protected: bool,
}

impl ArchiveJob {
    /// The job of `rec`, `None` when it has no playback to archive.
    fn of(rec: &Recording, destination: &str) -> Option<Self> {
        let source = source_of(rec)?;
        let url = playbacks(rec).first().and_then(|(_, u)| url::Url::parse(u).ok())?;
        Some(Self {
            record_id: rec.record_id.clone(),
            destination: destination.to_owned(),
            web_root: bbb_archive::web_root_of(&url)?.to_string(),
            formats: source.formats.iter().map(|f| f.format).collect(),
            protected: source.is_protected(),
        })
    }

    pub(super) fn key(&self) -> String {
        format!("archive:{}", self.record_id)
    }

    fn action(&self) -> NewAction {
        NewAction {
            key: self.key(),
            kind: "archive".into(),
            record_id: Some(self.record_id.clone()),
            target: self.destination.clone(),
            details: serde_json::to_value(self).unwrap_or_default(),
        }
    }

    /// Where the files are, without links (a protected recording gets fresh ones from [`fresh_source`]).
    fn source(&self) -> Option<RecordingSource> {
        RecordingSource::on_server(&url::Url::parse(&self.web_root).ok()?, &self.record_id, &self.formats)
    }
}

/// The presentation and video playback URLs of `rec`, as listed.
fn playbacks(rec: &Recording) -> Vec<(Format, &str)> {
    [(FormatKind::Presentation, Format::Presentation), (FormatKind::Video, Format::Video)]
        .into_iter()
        .filter_map(|(kind, format)| Some((format, rec.format(&kind)?.url.as_str())))
        .collect()
}

/// The formats to copy and where the server publishes them: under the playback URLs' own host.
fn source_of(rec: &Recording) -> Option<RecordingSource> {
    RecordingSource::from_playbacks(&rec.record_id, &playbacks(rec))
}

/// The recording as `getRecordings` lists it now, with fresh one-time links.
async fn fresh_source(api: &BbbClient, record_id: &str) -> Result<RecordingSource, String> {
    let query =
        RecordingsQuery { state: StateFilter::Any, record_ids: vec![record_id.to_owned()], ..Default::default() };
    let page = api.get_recordings_page(&query, None, None, 1).await.map_err(|e| e.to_string())?;
    let rec = page
        .recordings
        .iter()
        .find(|r| r.record_id == record_id)
        .ok_or_else(|| "getRecordings does not list it any more".to_owned())?;
    source_of(rec).ok_or_else(|| "getRecordings lists it without a presentation or video playback".to_owned())
}

/// `archive --queue`: one job per recording not archived yet, for the `worker`s.
async fn publish(
    config: &Config,
    ledger: &Ledger,
    work: &[(&Recording, ArchiveJob)],
    skipped: usize,
) -> ExitCodeResult {
    let queue = super::queue::require_queue(config)?;
    let done = super::queue::done_keys(ledger, "archive").await?;
    let jobs: Vec<Job> = work
        .iter()
        .filter(|(_, job)| !done.contains(&job.key()))
        .map(|(_, job)| {
            Job::new(
                job.key(),
                JobKind::Archive,
                Some(job.record_id.clone()),
                serde_json::to_value(job).unwrap_or_default(),
            )
        })
        .collect();
    let publisher = Publisher::connect(&queue).await.context("cannot publish the jobs")?;
    let queued = publisher.publish_all(&jobs).await.context("cannot publish the jobs")?;
    let _ = publisher.close().await;
    ledger.close().await;
    println!(
        "archive: {queued} job(s) queued on {}, {} already done, {skipped} skipped; start `bbb-migrate worker` on each \
         host, follow with `bbb-migrate status`",
        super::queue::where_(&queue),
        work.len() - jobs.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// One recording into the archive under the ledger lease `archive:<recordID>` for `ttl`: local mode and
/// `worker` alike. A protected recording gets a fresh link from `api` first.
pub(super) async fn archive_one(
    archiver: &Archiver,
    ledger: &Ledger,
    api: Option<&BbbClient>,
    job: &ArchiveJob,
    holder: &str,
    ttl: Duration,
) -> Done {
    let key = job.key();
    let lease = match super::migrate::lease(ledger, &key, holder, ttl).await {
        Ok(lease) => lease,
        Err(e) => return ("failed", format!("ledger: {e}"), None),
    };
    let held = match lease {
        Lease::Acquired(_) => true,
        // Done before: the archiver still re-checks every file against the manifest and fetches what is
        // missing or damaged since (what `--verify` may have found).
        Lease::AlreadyDone(_) => false,
        Lease::Busy { owner, .. } => return ("busy", format!("being archived by {owner}"), None),
    };
    let key_ref = key.as_str();
    let fail = |message: String| async move {
        if held {
            let _ = ledger.fail(key_ref, holder, &message).await;
        }
        ("failed", message, None)
    };
    let source = if job.protected {
        let fresh = match api {
            Some(api) => fresh_source(api, &job.record_id).await,
            None => Err("no API client to ask for one".to_owned()),
        };
        match fresh {
            Ok(source) => source,
            Err(e) => {
                return fail(format!("protected recording: cannot get a fresh playback link from getRecordings: {e}"))
                    .await;
            }
        }
    } else {
        match job.source() {
            Some(source) => source,
            None => return fail(format!("not an archivable source: {}", job.web_root)).await,
        }
    };
    match archiver.archive(&source).await {
        Ok(report) => {
            let size = report.manifest.total_size();
            let note = format!(
                "{} file(s), {}: {} downloaded ({}), {} already there, {} resumed",
                report.manifest.files.len(),
                super::migrate::bytes(size),
                report.downloaded_files,
                super::migrate::bytes(report.downloaded_bytes),
                report.reused_files,
                report.resumed_files
            );
            let output = ActionOutput {
                path: Some(report.manifest_location.clone()),
                size: Some(size),
                sha256: Some(report.manifest_sha256.clone()),
                // Every file's size and SHA-256 in the ledger too, so `status`/`report` need not read the archive.
                details: serde_json::json!({
                    "note": note,
                    "files": report.manifest.files.iter()
                        .map(|f| serde_json::json!({ "path": f.path, "size": f.size, "sha256": f.sha256 }))
                        .collect::<Vec<_>>(),
                }),
            };
            let value = serde_json::to_value(&output).unwrap_or_default();
            if held {
                if let Err(e) = ledger.complete(&key, holder, &output).await {
                    return ("failed", format!("archived, but the ledger failed: {e}"), Some(value));
                }
                ("done", note, Some(value))
            } else if report.downloaded_files > 0 {
                ("done", format!("repaired: {note}"), Some(value))
            } else {
                ("already done", note, Some(value))
            }
        }
        Err(e) => fail(e.to_string()).await,
    }
}

/// Re-reads every archived file of the selected recordings against its manifest (in a bucket: every object).
async fn verify(destination: &Destination, entries: &[migrate_inventory::Entry]) -> ExitCodeResult {
    let ids: Vec<(String, String)> = entries
        .iter()
        .filter(|e| source_of(&e.recording).is_some())
        .map(|e| (e.recording.record_id.clone(), e.recording.display_name().to_owned()))
        .collect();
    let results = match destination {
        Destination::Dir(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                ids.into_iter().map(|(id, name)| (bbb_archive::verify(&dir, &id), id, name)).collect::<Vec<_>>()
            })
            .await?
        }
        Destination::Bucket(bucket) => {
            let mut out = Vec::new();
            for (id, name) in ids {
                out.push((bbb_archive::verify_bucket(bucket, &id).await, id, name));
            }
            out
        }
    };
    let (mut good, mut bad, mut missing, mut bytes) = (0, 0, 0, 0u64);
    for (result, id, name) in &results {
        match result {
            Ok(report) if report.is_ok() => {
                good += 1;
                bytes += report.bytes_checked;
            }
            Ok(report) => {
                bad += 1;
                println!("✗ {id} {name}: {} problem(s)", report.problems.len());
                for problem in report.problems.iter().take(10) {
                    println!("    {problem}");
                }
            }
            Err(e) => {
                missing += 1;
                println!("✗ {id} {name}: not archived ({e})");
            }
        }
    }
    println!(
        "verify: {good} recording(s) complete and matching ({}), {bad} damaged, {missing} not archived; \
         `bbb-migrate archive DIR` fetches what is missing or damaged",
        super::migrate::bytes(bytes)
    );
    Ok(if bad + missing == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// An nginx `server` block serving the archive under `base_url`, with BBB's player from its Debian package.
fn nginx_snippet(dir: &Path, base_url: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(base_url).context("--base-url is not a URL")?;
    let host = url.host_str().context("--base-url needs a host")?;
    let root: PathBuf = std::path::absolute(dir)?;
    Ok(format!(
        "# bbb-migrate archive of {root} served as {base}\n\
         # The player: BBB's bbb-playback package (bbb-playback-presentation) installs it under\n\
         # /var/bigbluebutton/playback/presentation/2.3; copy that directory to this host.\n\
         server {{\n\
         \x20   listen 443 ssl http2;\n\
         \x20   server_name {host};\n\
         \x20   # ssl_certificate …; ssl_certificate_key …;\n\
         \x20   root {root};\n\
         \n\
         \x20   # Published files, laid out as on the BBB server; static files get byte ranges (seeking in media).\n\
         \x20   location /presentation/ {{\n\
         \x20       add_header Access-Control-Allow-Origin *;\n\
         \x20       types {{ video/webm webm; video/mp4 mp4 m4v; audio/webm weba; text/vtt vtt; }}\n\
         \x20   }}\n\
         \x20   location /playback/video/ {{\n\
         \x20       types {{ video/mp4 mp4 m4v; video/webm webm; text/html html; }}\n\
         \x20   }}\n\
         \x20   # The presentation player: /playback/presentation/2.3/<recordID>\n\
         \x20   location /playback/presentation/2.3 {{\n\
         \x20       root /var/bigbluebutton;\n\
         \x20       try_files $uri /playback/presentation/2.3/index.html;\n\
         \x20   }}\n\
         \x20   # Manifests (sizes, SHA-256) are for bbb-migrate archive --verify, not for the public.\n\
         \x20   location /manifests/ {{ deny all; }}\n\
         }}\n",
        root = root.display(),
        base = base_url,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_roots_come_from_playback_urls() {
        let root = |u: &str| bbb_archive::web_root_of(&url::Url::parse(u).unwrap()).unwrap().to_string();
        assert_eq!(root("https://bbb.univ.fr/playback/presentation/2.3/x-1"), "https://bbb.univ.fr/");
        assert_eq!(root("https://sl.univ.fr/prefix/playback/video/x-1/"), "https://sl.univ.fr/prefix/");
        assert_eq!(root("https://sl.univ.fr/recording/x-1/presentation?token=ab"), "https://sl.univ.fr/");
    }

    #[test]
    fn jobs_round_trip_through_the_ledger_details() {
        let job = ArchiveJob {
            record_id: "x-1".into(),
            destination: "s3://bbb-archive/univ".into(),
            web_root: "https://sl.univ.fr/".into(),
            formats: vec![Format::Presentation, Format::Video],
            protected: true,
        };
        let back: ArchiveJob = serde_json::from_value(job.action().details).unwrap();
        assert_eq!(back, job);
        assert_eq!(job.source().unwrap().formats[1].base.as_str(), "https://sl.univ.fr/playback/video/x-1/");
    }

    #[test]
    fn the_nginx_snippet_serves_the_archive_and_hides_manifests() {
        let text = nginx_snippet(Path::new("/srv/bbb-archive"), "https://archive.univ.fr").unwrap();
        assert!(text.contains("server_name archive.univ.fr;") && text.contains("root /srv/bbb-archive;"));
        assert!(text.contains("location /manifests/ { deny all; }"));
    }
}
