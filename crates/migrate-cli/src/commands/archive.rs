//! `archive`: every published file of the selected recordings, verified, in a BBB server's own layout, so
//! that BBB's player keeps playing them from any static web server after the old server is gone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bbb_api::{FormatKind, Recording};
use bbb_archive::{ArchiveOptions, Archiver, Format, RecordingSource};
use migrate_ledger::{ActionOutput, Lease, Ledger, NewAction};

use super::migrate::{Done, Outcome, register, run_each, skipped};
use crate::cli::ArchiveArgs;

pub async fn run(explicit: Option<&Path>, args: ArchiveArgs) -> ExitCodeResult {
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    if args.serve_config {
        let base = args.base_url.as_deref().context("--serve-config needs --base-url https://archive.univ.fr")?;
        print!("{}", nginx_snippet(&args.dir, base)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (selection, query) = super::selection(&args.selection)?;
    let client = crate::source::client(config)?;
    let ledger = if args.verify { None } else { Some(super::inventory::open_ledger(&config.ledger.database).await?) };
    let inventory = super::inventory::collect(&client, &query, &selection, ledger.as_ref()).await?;
    if args.verify {
        return verify(&args.dir, &inventory.entries).await;
    }
    let ledger = ledger.expect("opened above");
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create the archive {}", args.dir.display()))?;
    let mut work = Vec::new();
    let mut outcomes = Vec::new();
    for entry in &inventory.entries {
        let rec = &entry.recording;
        match source_of(rec) {
            Some(source) => work.push((rec, source)),
            None => outcomes.push(skipped(&rec.record_id, rec.display_name(), "no presentation or video playback")),
        }
    }
    let actions: Vec<NewAction> = work
        .iter()
        .map(|(rec, source)| NewAction {
            key: format!("archive:{}", rec.record_id),
            kind: "archive".into(),
            record_id: Some(rec.record_id.clone()),
            target: args.dir.display().to_string(),
            details: serde_json::json!({ "formats": source.formats.iter().map(|f| f.format.as_str()).collect::<Vec<_>>() }),
        })
        .collect();
    register(&ledger, &actions).await.context("cannot record the plan in the ledger")?;
    let http = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(30)).build()?;
    let options = ArchiveOptions { concurrency: args.jobs.unwrap_or(8).max(1), ..ArchiveOptions::default() };
    let archiver = Arc::new(Archiver::new(http, args.dir.clone(), options));
    let holder = migrate_ledger::default_owner();
    fn id<'a>((rec, _): &'a (&'a Recording, RecordingSource)) -> (&'a str, &'a str) {
        (rec.record_id.as_str(), rec.display_name())
    }
    // Recordings two at a time; their files share the archiver's download limit.
    outcomes.extend(
        run_each(&work, 2, "archiving", id, |(rec, source)| {
            let (archiver, ledger, holder) = (archiver.clone(), &ledger, holder.clone());
            async move { archive_one(&archiver, ledger, rec, source, &holder).await }
        })
        .await,
    );
    let done = outcomes.iter().filter(|o| o.status == "done").count();
    let already = outcomes.iter().filter(|o| o.status == "already done").count();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == "failed").collect();
    let bytes: u64 = outcomes.iter().filter_map(|o| o.output.as_ref()?.get("size")?.as_u64()).sum();
    println!(
        "archive {}: {done} archived, {already} already archived, {} failed, {} skipped; {} in the archive for these",
        args.dir.display(),
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

/// The formats to copy and where the server publishes them: under the playback URLs' own host.
fn source_of(rec: &Recording) -> Option<RecordingSource> {
    let mut formats = Vec::new();
    let mut root = None;
    for (kind, format) in [(FormatKind::Presentation, Format::Presentation), (FormatKind::Video, Format::Video)] {
        if let Some(playback) = rec.format(&kind) {
            root = root.or_else(|| web_root_of(&playback.url));
            formats.push(format);
        }
    }
    RecordingSource::on_server(&root?, &rec.record_id, &formats)
}

/// `https://host/prefix/` of `https://host/prefix/playback/…`.
fn web_root_of(playback_url: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(playback_url).ok()?;
    let prefix = url.path().split("/playback/").next()?.trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/"));
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

async fn archive_one(
    archiver: &Archiver,
    ledger: &Ledger,
    rec: &Recording,
    source: &RecordingSource,
    holder: &str,
) -> Done {
    let key = format!("archive:{}", rec.record_id);
    let lease = match super::migrate::lease(ledger, &key, holder, super::migrate::LEASE).await {
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
    match archiver.archive(source).await {
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
                path: Some(report.manifest_path.display().to_string()),
                size: Some(size),
                sha256: bbb_archive::fetch::hash_file(&report.manifest_path).await.ok().map(|(_, sha)| sha),
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
        Err(e) => {
            let message = e.to_string();
            if held {
                let _ = ledger.fail(&key, holder, &message).await;
            }
            ("failed", message, None)
        }
    }
}

/// Re-reads every archived file of the selected recordings against its manifest.
async fn verify(dir: &Path, entries: &[migrate_inventory::Entry]) -> ExitCodeResult {
    let dir = dir.to_path_buf();
    let ids: Vec<(String, String)> = entries
        .iter()
        .filter(|e| source_of(&e.recording).is_some())
        .map(|e| (e.recording.record_id.clone(), e.recording.display_name().to_owned()))
        .collect();
    let results = tokio::task::spawn_blocking(move || {
        ids.into_iter().map(|(id, name)| (bbb_archive::verify(&dir, &id), id, name)).collect::<Vec<_>>()
    })
    .await?;
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
        assert_eq!(
            web_root_of("https://bbb.univ.fr/playback/presentation/2.3/x-1").unwrap().as_str(),
            "https://bbb.univ.fr/"
        );
        assert_eq!(
            web_root_of("https://sl.univ.fr/prefix/playback/video/x-1/").unwrap().as_str(),
            "https://sl.univ.fr/prefix/"
        );
    }

    #[test]
    fn the_nginx_snippet_serves_the_archive_and_hides_manifests() {
        let text = nginx_snippet(Path::new("/srv/bbb-archive"), "https://archive.univ.fr").unwrap();
        assert!(text.contains("server_name archive.univ.fr;") && text.contains("root /srv/bbb-archive;"));
        assert!(text.contains("location /manifests/ { deny all; }"));
    }
}
