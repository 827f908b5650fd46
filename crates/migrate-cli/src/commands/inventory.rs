//! `inventory`: list, number, filter, print, and remember what the old server holds.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bbb_api::{BbbClient, Recording, RecordingsQuery};
use migrate_inventory::{Entry, Selection, Summary, output};
use migrate_ledger::{Ledger, SeenRecording, SeenStats};

use crate::cli::{InventoryArgs, OutputFormat};

pub async fn run(explicit: Option<&Path>, args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let (selection, query) = super::selection(&args.selection)?;
    let loaded = migrate_config::load(explicit)?;
    let client = crate::source::client(&loaded.config)?;
    let ledger = if args.no_ledger { None } else { Some(open_ledger(&loaded.config.ledger.database).await?) };
    let outcome = collect(&client, &query, &selection, ledger.as_ref()).await?;
    let mut out = super::output_writer(args.output.as_deref())?;
    let summary = Summary::of(outcome.entries.iter().map(|e| &e.recording));
    match args.format {
        OutputFormat::Table => {
            if outcome.entries.is_empty() {
                writeln!(out, "no recording matches")?;
            } else {
                writeln!(out, "{}", output::table(&outcome.entries, terminal_width()))?;
            }
            writeln!(out, "{}", summary.to_text())?;
        }
        OutputFormat::Json if args.with_owners => {
            let owners = owners_of(&loaded.config, &outcome.entries).await;
            let rows: Vec<serde_json::Value> = outcome
                .entries
                .iter()
                .zip(&owners)
                .map(|(entry, resolution)| {
                    let mut row = serde_json::to_value(output::InventoryRow::new(entry)).unwrap_or_default();
                    row["owners"] = serde_json::to_value(&resolution.owners).unwrap_or_default();
                    row["fallback_reason"] = serde_json::to_value(&resolution.fallback_reason).unwrap_or_default();
                    row
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        OutputFormat::Json => output::write_json(&mut out, &outcome.entries)?,
        OutputFormat::Csv if args.with_owners => {
            let owners = owners_of(&loaded.config, &outcome.entries).await;
            let by_id: std::collections::HashMap<&str, &migrate_owners::Resolution> =
                owners.iter().map(|r| (r.record_id.as_str(), r)).collect();
            output::write_csv_with(&mut out, &outcome.entries, &["owners", "owner_emails", "fallback_reason"], |e| {
                let r = by_id[e.recording.record_id.as_str()];
                let emails = r.owners.iter().filter_map(|o| o.email.clone()).collect::<Vec<_>>().join("; ");
                vec![super::owners::owner_list(&r.owners), emails, r.fallback_reason.clone().unwrap_or_default()]
            })?
        }
        OutputFormat::Csv => output::write_csv(&mut out, &outcome.entries)?,
    }
    out.flush()?;
    if args.format != OutputFormat::Table || args.output.is_some() {
        eprintln!("{}", summary.to_text());
    }
    if let Some(stats) = outcome.seen {
        eprintln!(
            "ledger: {} new, {} changed, {} unchanged ({} listed on the server)",
            stats.new, stats.updated, stats.unchanged, outcome.listed
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn owners_of(config: &migrate_config::Config, entries: &[Entry]) -> Vec<migrate_owners::Resolution> {
    let resolver = super::owners::resolver(config).await;
    super::owners::resolve(&resolver, entries).await
}

/// What one inventory pass produced.
pub struct Inventory {
    pub entries: Vec<Entry>,
    /// How many recordings the server listed before the local filters.
    pub listed: usize,
    pub seen: Option<SeenStats>,
}

/// Lists the server, stores every listed recording in the ledger, and applies the selection.
pub async fn collect(
    client: &BbbClient,
    query: &RecordingsQuery,
    selection: &Selection,
    ledger: Option<&Ledger>,
) -> anyhow::Result<Inventory> {
    let listing = crate::source::list(client, query).await?;
    let listed = listing.recordings.len();
    let seen = match ledger {
        Some(ledger) => Some(remember(ledger, client.options().api_base.as_str(), &listing.recordings).await?),
        None => None,
    };
    let entries = migrate_inventory::select(listing.recordings, selection)?;
    Ok(Inventory { entries, listed, seen })
}

pub async fn open_ledger(url: &str) -> anyhow::Result<Ledger> {
    Ledger::open(url).await.with_context(|| "cannot open the ledger (ledger.database)".to_string())
}

/// Stores recordings in the ledger in batches, each batch one transaction.
pub async fn remember(ledger: &Ledger, server: &str, recordings: &[Recording]) -> anyhow::Result<SeenStats> {
    let mut total = SeenStats::default();
    for chunk in recordings.chunks(500) {
        let seen: Vec<SeenRecording> = chunk.iter().map(seen_recording).collect::<anyhow::Result<_>>()?;
        let stats = ledger.record_seen(server, &seen).await.context("cannot store the inventory in the ledger")?;
        total.new += stats.new;
        total.updated += stats.updated;
        total.unchanged += stats.unchanged;
    }
    Ok(total)
}

fn seen_recording(rec: &Recording) -> anyhow::Result<SeenRecording> {
    Ok(SeenRecording {
        record_id: rec.record_id.clone(),
        meeting_id: rec.meeting_id.clone(),
        name: rec.display_name().to_owned(),
        state: rec.state.to_string(),
        published: rec.published,
        start_time: rec.start_time,
        end_time: rec.end_time,
        origin: Some(migrate_inventory::origin_of(rec).to_string()),
        snapshot: serde_json::to_value(rec)?,
    })
}

pub fn terminal_width() -> u16 {
    if !std::io::stdout().is_terminal() {
        return 200;
    }
    console::Term::stdout().size_checked().map(|(_, w)| w).unwrap_or(120)
}
