//! `cleanup` and `restore`: the external recordings that point at the old server, deleted once it is gone —
//! after every row has been written to a backup file — and put back from that file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use migrate_db::{Db, OpenOptions};
use migrate_pod::Pod;
use migrate_pod::cleanup::Backup;
use migrate_pod::relink::RelinkBackup;

use crate::cli::{CleanupArgs, RestoreArgs};

pub async fn cleanup(explicit: Option<&Path>, args: CleanupArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    let prefix = match &args.prefix {
        Some(prefix) => prefix.clone(),
        None => {
            let api = config.source_api_url().map_err(|p| anyhow::anyhow!("{}: {} ({})", p.key, p.message, p.fix))?;
            bbb_api::web_root(&api).to_string()
        }
    };
    anyhow::ensure!(
        prefix.starts_with("http://") || prefix.starts_with("https://"),
        "`{prefix}` is not a web address prefix (https://old-server/)"
    );
    let pod = open(config, args.dry_run).await?;
    let rows = pod.external_recordings_under(&prefix).await?;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *per_owner.entry(row.owner_username.clone().unwrap_or_else(|| "(no owner)".into())).or_default() += 1;
    }
    println!("{} external recording(s) point at {prefix}", rows.len());
    let mut owners: Vec<_> = per_owner.into_iter().collect();
    owners.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (owner, n) in owners.iter().take(20) {
        println!("  {n:>6}  {owner}");
    }
    if owners.len() > 20 {
        println!("  … and {} other owner(s)", owners.len() - 20);
    }
    if args.dry_run || rows.is_empty() {
        if args.dry_run {
            println!("dry run: nothing deleted; `cleanup --backup rows.json` deletes them after saving them");
        }
        pod.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let backup_path = args.backup.as_deref().context("--backup FILE is required to delete")?;
    write_backup(backup_path, &Backup::new(&prefix, rows.clone()))?;
    println!("{} row(s) saved to {}", rows.len(), backup_path.display());
    let deleted = pod.delete_external_recordings(&rows).await?;
    println!(
        "{deleted} external recording(s) deleted in one transaction; `bbb-migrate restore {}` puts them back",
        backup_path.display()
    );
    if deleted as usize != rows.len() {
        println!("{} row(s) had changed or gone meanwhile and were left alone", rows.len() - deleted as usize);
    }
    pod.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(explicit: Option<&Path>, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let text = std::fs::read_to_string(&args.backup)
        .with_context(|| format!("cannot read the backup {}", args.backup.display()))?;
    let format =
        serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["format"].as_str().map(str::to_owned));
    if format.as_deref() == Some(migrate_pod::relink::RELINK_FORMAT) {
        let backup: RelinkBackup = serde_json::from_str(&text).context("damaged relink backup")?;
        let reverse: Vec<_> = backup.changes.iter().map(|c| c.reversed()).collect();
        let pod = open(&loaded.config, false).await?;
        let changed = pod.relink(&reverse).await?;
        println!(
            "{changed} of {} external recording(s) point at the old server again (the others were changed since)",
            reverse.len()
        );
        pod.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let backup = Backup::parse(&text)?;
    let pod = open(&loaded.config, false).await?;
    let outcome = pod.restore_external_recordings(&backup.rows).await?;
    println!(
        "{} external recording(s) restored, {} already there (backup of {} rows, prefix {})",
        outcome.restored,
        outcome.already_there,
        backup.rows.len(),
        backup.prefix
    );
    pod.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn open(config: &migrate_config::Config, read_only: bool) -> anyhow::Result<Pod> {
    let url = config.pod.database.as_deref().context("pod.database is not set")?;
    let db = Db::open(url, OpenOptions { read_only, ..OpenOptions::default() })
        .await
        .context("cannot open Pod's database (pod.database)")?;
    Ok(Pod::new(db, config.pod.site_id.into()).await?)
}

/// The backup is complete on disk (written, flushed, synced) before anything is deleted, and never replaces
/// an older backup.
fn write_backup(path: &Path, backup: &Backup) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create the backup {} (it must not exist yet)", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(backup)?)?;
    file.sync_all()?;
    Ok(())
}
