//! `notice`: the information message in the Moodle activities whose recordings moved.

use std::path::Path;
use std::process::ExitCode;

use migrate_db::{Db, OpenOptions};
use migrate_owners::moodle::MoodleSite;
use migrate_owners::notice::{self, Applied, Change};

use crate::cli::NoticeArgs;

pub async fn run(explicit: Option<&Path>, args: NoticeArgs) -> anyhow::Result<ExitCode> {
    let (selection, query) = super::selection(&args.selection)?;
    let loaded = migrate_config::load(explicit)?;
    let config = &loaded.config;
    if config.moodle.is_empty() {
        anyhow::bail!("no [[moodle]] database is configured: the notice is written into Moodle activities");
    }
    if !args.remove && config.notice.link.trim().is_empty() {
        anyhow::bail!(
            "notice.link is empty: set it to where the recordings are now (e.g. your Pod's address), \
             in [notice] or with BBB_MIGRATE_NOTICE__LINK"
        );
    }
    let client = crate::source::client(config)?;
    let inventory = super::inventory::collect(&client, &query, &selection, None).await?;
    let recordings: Vec<bbb_api::Recording> = inventory.entries.into_iter().map(|e| e.recording).collect();
    let template = config.notice.template.clone();
    let link = config.notice.link.clone();
    // `{archive}`: the archived playbacks, for the recordings the ledger says `archive` has copied.
    let archived: std::collections::HashSet<String> = if !args.remove && template.contains("{archive}") {
        if config.archive.base_url.trim().is_empty() {
            anyhow::bail!(
                "notice.template uses {{archive}} but archive.base_url is empty: set it to the archive's public \
                 address (what `archive --serve-config --base-url` serves), or BBB_MIGRATE_ARCHIVE__BASE_URL"
            );
        }
        let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
        let filter = migrate_ledger::ActionFilter {
            kind: Some("archive".into()),
            status: Some(migrate_ledger::ActionStatus::Done),
            record_id: None,
        };
        let ids = ledger.actions(&filter).await?.into_iter().filter_map(|a| a.record_id).collect();
        ledger.close().await;
        ids
    } else {
        Default::default()
    };
    let base_url = config.archive.base_url.clone();
    let message = move |activity: &str, recs: &[&bbb_api::Recording]| {
        let links = notice::archive_links(&base_url, recs, &|id: &str| archived.contains(id));
        notice::render_with_archive(&template, &link, &links, activity, recs.len())
    };
    let names: Vec<String> = config.moodle.iter().map(|m| m.server_name.clone()).collect();
    let mut failures = 0;
    let now = chrono::Utc::now().timestamp();
    for moodle in &config.moodle {
        // Read-only for a dry run: planning can never write.
        let options = OpenOptions { read_only: args.dry_run, ..OpenOptions::default() };
        let site = MoodleSite {
            server_name: moodle.server_name.clone(),
            db: Db::open(&moodle.database, options).await.map_err(|e| e.to_string()),
            table_prefix: moodle.table_prefix.clone(),
            other_sites: names.clone(),
            ignore_servers: config.owners.ignore_servers.clone(),
            include_session_starters: config.owners.moodle_session_starter,
        };
        let planned = notice::plan_with(&site, &recordings, if args.remove { None } else { Some(&message) }).await;
        let targets = match planned {
            Ok(targets) => targets,
            Err(e) => {
                eprintln!("✗ moodle {}: {e}", moodle.server_name);
                failures += 1;
                continue;
            }
        };
        for t in &targets {
            let what = match t.change {
                Change::Add => "add",
                Change::Update => "update",
                Change::Remove => "remove",
                Change::Unchanged => "unchanged",
            };
            println!(
                "{} moodle {} activity {} «{}» (course {}, {} recording(s)): {what}",
                if args.dry_run { "would" } else { "  " },
                t.site,
                t.activity,
                t.name,
                t.course,
                t.recordings
            );
        }
        let changes = targets.iter().filter(|t| t.change != Change::Unchanged).count();
        if args.dry_run {
            println!(
                "moodle {}: {} activit(ies), {changes} to change (dry run: nothing written)",
                moodle.server_name,
                targets.len()
            );
            continue;
        }
        match notice::apply(&site, &targets, now).await {
            Ok(results) => {
                let written = results.iter().filter(|(_, a)| *a == Applied::Written).count();
                for (activity, _) in results.iter().filter(|(_, a)| *a == Applied::ChangedMeanwhile) {
                    eprintln!(
                        "! moodle {}: activity {activity} was edited meanwhile; left alone, run again",
                        moodle.server_name
                    );
                }
                println!(
                    "moodle {}: {written} activit(ies) changed, {} unchanged",
                    moodle.server_name,
                    targets.len() - changes
                );
            }
            Err(e) => {
                eprintln!("✗ moodle {}: {e}", moodle.server_name);
                failures += 1;
            }
        }
    }
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
