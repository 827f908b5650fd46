//! `owners`: who owns each recording, and why — or why nobody could be found.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use migrate_config::Config;
use migrate_db::{Db, OpenOptions};
use migrate_inventory::Entry;
use migrate_owners::greenlight::Greenlight;
use migrate_owners::metadata::MetadataSource;
use migrate_owners::moodle::MoodleSite;
use migrate_owners::pod::PodMeetings;
use migrate_owners::{OwnerSource, Resolution, Resolver};
use serde::Serialize;

use crate::cli::{OutputFormat, OwnersArgs};

pub async fn run(explicit: Option<&Path>, args: OwnersArgs) -> anyhow::Result<ExitCode> {
    let (selection, query) = super::selection(&args.selection)?;
    let loaded = migrate_config::load(explicit)?;
    let client = crate::source::client(&loaded.config)?;
    let inventory = super::inventory::collect(&client, &query, &selection, None).await?;
    let resolver = resolver(&loaded.config).await;
    let resolutions = resolve(&resolver, &inventory.entries).await;
    let rows: Vec<OwnersRow> = inventory
        .entries
        .iter()
        .zip(&resolutions)
        .filter(|(_, r)| !args.unresolved || !r.is_resolved())
        .map(|(e, r)| OwnersRow::new(e, r))
        .collect();
    let mut out = super::output_writer(args.output.as_deref())?;
    match args.format {
        OutputFormat::Table => writeln!(out, "{}", table(&rows))?,
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => write_csv(&mut out, &rows)?,
    }
    out.flush()?;
    let resolved = resolutions.iter().filter(|r| r.is_resolved()).count();
    let fallback = loaded.config.pod.fallback_owner.as_deref().unwrap_or("(pod.fallback_owner not set)");
    eprintln!(
        "{} recording(s): {resolved} with owners, {} for the fallback owner {fallback}; sources asked: {}",
        resolutions.len(),
        resolutions.len() - resolved,
        resolver.source_names().join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// The configured owner sources, in `owners.order`. Databases are opened read-only; one that cannot be opened
/// becomes the stated reason for its own recordings, not an error for the whole run.
pub async fn resolver(config: &Config) -> Resolver {
    let read_only = OpenOptions { read_only: true, ..OpenOptions::default() };
    let mut sources: Vec<Box<dyn OwnerSource>> = Vec::new();
    for name in &config.owners.order {
        match name.as_str() {
            "pod" => match config.pod.database.as_deref() {
                Some(url) => {
                    let db = Db::open(url, read_only).await.map_err(|e| e.to_string());
                    sources.push(Box::new(PodMeetings { db }));
                }
                None => tracing::info!("owner source pod skipped: pod.database is not set"),
            },
            "moodle" => {
                let names: Vec<String> = config.moodle.iter().map(|m| m.server_name.clone()).collect();
                for site in &config.moodle {
                    let db = Db::open(&site.database, read_only).await.map_err(|e| e.to_string());
                    sources.push(Box::new(MoodleSite {
                        server_name: site.server_name.clone(),
                        db,
                        table_prefix: site.table_prefix.clone(),
                        other_sites: names.clone(),
                        ignore_servers: config.owners.ignore_servers.clone(),
                        include_session_starters: config.owners.moodle_session_starter,
                    }));
                }
            }
            "greenlight" => {
                for greenlight in &config.greenlight {
                    let db = Db::open(&greenlight.database, read_only).await.map_err(|e| e.to_string());
                    sources.push(Box::new(Greenlight { server_name: greenlight.server_name.clone(), db }));
                }
            }
            "metadata" => {
                let owners = &config.owners;
                if !owners.metadata_username_keys.is_empty() || !owners.metadata_email_keys.is_empty() {
                    sources.push(Box::new(MetadataSource {
                        username_keys: owners.metadata_username_keys.clone(),
                        email_keys: owners.metadata_email_keys.clone(),
                    }));
                }
            }
            other => tracing::warn!("owner source {other} is not available in this version; skipped"),
        }
    }
    Resolver::new(sources)
}

/// One resolution per entry, in order.
pub async fn resolve(resolver: &Resolver, entries: &[Entry]) -> Vec<Resolution> {
    let recordings: Vec<bbb_api::Recording> = entries.iter().map(|e| e.recording.clone()).collect();
    resolver.resolve(&recordings).await
}

/// What `owners --format json` prints per recording.
#[derive(Serialize)]
struct OwnersRow<'a> {
    position: usize,
    record_id: &'a str,
    name: &'a str,
    owners: &'a [migrate_owners::Owner],
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_reason: Option<&'a str>,
}

impl<'a> OwnersRow<'a> {
    fn new(entry: &'a Entry, resolution: &'a Resolution) -> Self {
        Self {
            position: entry.position,
            record_id: &entry.recording.record_id,
            name: entry.recording.display_name(),
            owners: &resolution.owners,
            fallback_reason: resolution.fallback_reason.as_deref(),
        }
    }
}

/// `user (source)` for each owner, `;`-separated: the form the CSV and the table share.
pub fn owner_list(owners: &[migrate_owners::Owner]) -> String {
    owners
        .iter()
        .map(|o| {
            let who = o
                .username
                .clone()
                .or_else(|| o.email.clone())
                .unwrap_or_else(|| format!("{} {}", o.first_name, o.last_name));
            format!("{who} ({})", o.source)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn table(rows: &[OwnersRow]) -> String {
    if rows.is_empty() {
        return "no recording matches".to_owned();
    }
    let lines = rows.iter().map(|row| {
        let why = match row.fallback_reason {
            Some(reason) => format!("→ fallback: {reason}"),
            None => row.owners.first().map(|o| o.evidence.clone()).unwrap_or_default(),
        };
        vec![row.position.to_string(), row.name.to_owned(), owner_list(row.owners), why]
    });
    let width = crate::commands::inventory::terminal_width();
    migrate_inventory::output::text_table(&["#", "name", "owners", "evidence / reason"], lines, width, &[1, 2, 3])
}

fn write_csv(out: &mut impl Write, rows: &[OwnersRow]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "position",
        "record_id",
        "name",
        "owners",
        "emails",
        "sources",
        "evidence",
        "fallback_reason",
    ])?;
    for row in rows {
        let join =
            |f: &dyn Fn(&migrate_owners::Owner) -> String| row.owners.iter().map(f).collect::<Vec<_>>().join("; ");
        writer.write_record([
            row.position.to_string(),
            row.record_id.to_owned(),
            row.name.to_owned(),
            join(&|o| o.username.clone().unwrap_or_default()),
            join(&|o| o.email.clone().unwrap_or_default()),
            join(&|o| o.source.to_string()),
            join(&|o| o.evidence.clone()),
            row.fallback_reason.unwrap_or_default().to_owned(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
