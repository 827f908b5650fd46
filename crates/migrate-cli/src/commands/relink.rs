//! `relink`: the Pod external recordings bbb-migrate created (and only those, as its ledger knows them) point at
//! the archived playback instead of the old server, once `archive` has copied the recording.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use migrate_ledger::{ActionFilter, ActionStatus};
use migrate_pod::relink::{Relink, RelinkBackup};

use crate::cli::RelinkArgs;

pub async fn run(explicit: Option<&Path>, args: RelinkArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    let api = config.source_api_url().map_err(|p| anyhow::anyhow!("{}: {} ({})", p.key, p.message, p.fix))?;
    let old_root = bbb_api::web_root(&api).to_string();
    let new_root = format!("{}/", args.to.trim_end_matches('/'));
    anyhow::ensure!(
        url::Url::parse(&new_root).is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
        "--to {}: give the archive's public address, e.g. https://archive.univ.fr",
        args.to
    );
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    let done = |kind: &str| ActionFilter { kind: Some(kind.into()), status: Some(ActionStatus::Done), record_id: None };
    let archived: HashSet<String> =
        ledger.actions(&done("archive")).await?.into_iter().filter_map(|a| a.record_id).collect();
    let mut ours: Vec<(i64, String)> = Vec::new();
    for action in ledger.actions(&done("import")).await? {
        let created = action.output_details.as_ref().and_then(|d| d.get("created")).and_then(|c| c.as_array()).cloned();
        for pair in created.unwrap_or_default() {
            if let (Some(id), Some(record_id)) = (pair.get(1).and_then(|v| v.as_i64()), action.record_id.clone()) {
                ours.push((id, record_id));
            }
        }
    }
    ledger.close().await;
    let pod = super::cleanup::open(config, args.dry_run).await?;
    let ids: Vec<i64> = ours.iter().map(|(id, _)| *id).collect();
    let current: std::collections::HashMap<i64, String> = pod.external_source_urls(&ids).await?.into_iter().collect();
    let (mut changes, mut not_archived, mut already, mut elsewhere) = (Vec::new(), 0, 0, 0);
    for (id, record_id) in &ours {
        let Some(url) = current.get(id) else { continue };
        if url.starts_with(&new_root) {
            already += 1;
        } else if !url.starts_with(&old_root) {
            elsewhere += 1;
        } else if !archived.contains(record_id) {
            not_archived += 1;
        } else {
            changes.push(Relink { id: *id, from: url.clone(), to: format!("{new_root}{}", &url[old_root.len()..]) });
        }
    }
    println!(
        "{} external recording(s) made by bbb-migrate: {} to point at {new_root}, {already} already do, \
         {not_archived} not archived yet (left on {old_root}), {elsewhere} changed by someone else (left alone)",
        ours.len(),
        changes.len()
    );
    for change in changes.iter().take(5) {
        println!("  #{}: {} → {}", change.id, change.from, change.to);
    }
    if args.dry_run || changes.is_empty() {
        if args.dry_run {
            println!("dry run: nothing changed");
        }
        pod.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let backup = args.backup.as_deref().context("--backup FILE is required to relink")?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(backup)
        .with_context(|| format!("cannot create the backup {} (it must not exist yet)", backup.display()))?;
    file.write_all(&serde_json::to_vec_pretty(&RelinkBackup::new(changes.clone()))?)?;
    file.sync_all()?;
    let changed = pod.relink(&changes).await?;
    println!(
        "{changed} external recording(s) relinked in one transaction; `bbb-migrate restore {}` undoes it",
        backup.display()
    );
    pod.close().await;
    Ok(ExitCode::SUCCESS)
}
