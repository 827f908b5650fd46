//! `status`: where the migration stands, read from the ledger alone (so it works from any host sharing it), plus
//! the queue's depths when one is configured and reachable.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use migrate_ledger::{ActionFilter, ActionRow, ActionStatus, Ledger};
use serde::Serialize;

use crate::cli::{StatusArgs, StatusFormat};

/// Completions younger than this make the rate the ETA is computed from.
const RATE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Default, Serialize)]
pub struct KindCounts {
    pub done: u64,
    pub running: u64,
    pub failed: u64,
    pub pending: u64,
    pub skipped: u64,
    pub total: u64,
}

#[derive(Debug, Serialize)]
pub struct Running {
    pub key: String,
    pub kind: String,
    pub record_id: Option<String>,
    /// `host:pid` of the lease holder.
    pub owner: String,
    pub host: String,
    pub lease_expires: Option<DateTime<Utc>>,
    /// The lease expired: its worker died or hangs; the next worker to get the job takes it over.
    pub stale: bool,
    pub attempts: u32,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub key: String,
    pub kind: String,
    pub record_id: Option<String>,
    pub name: Option<String>,
    pub error: String,
    pub attempts: u32,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct QueueStatus {
    pub queue: String,
    pub waiting: u32,
    pub retrying: u32,
    pub dead: u32,
    pub workers: u32,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub ledger: String,
    pub at: DateTime<Utc>,
    pub kinds: BTreeMap<String, KindCounts>,
    pub running: Vec<Running>,
    pub failed: Vec<Failed>,
    /// Completions per minute over the last 15 minutes, when at least two happened.
    pub rate_per_minute: Option<f64>,
    /// Pending + running at that rate.
    pub eta_seconds: Option<f64>,
    pub queue: Option<QueueStatus>,
    /// Why the queue could not be read, when configured.
    pub queue_error: Option<String>,
}

pub async fn run(explicit: Option<&Path>, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let config = loaded.config;
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    let mut status = read(&ledger).await?;
    ledger.close().await;
    if let Some(queue) = super::queue::queue_config(&config) {
        let name = queue.queue.clone();
        let read = async {
            let admin = migrate_queue::Admin::connect(&queue).await?;
            let counts = admin.counts().await;
            let _ = admin.close().await;
            counts
        };
        match tokio::time::timeout(Duration::from_secs(15), read).await {
            Ok(Ok(c)) => {
                status.queue = Some(QueueStatus {
                    queue: name,
                    waiting: c.main,
                    retrying: c.retry,
                    dead: c.dead,
                    workers: c.consumers,
                })
            }
            Ok(Err(e)) => status.queue_error = Some(e.to_string()),
            Err(_) => status.queue_error = Some("no answer from RabbitMQ in 15 s".into()),
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        StatusFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &status)?;
            use std::io::Write;
            writeln!(out)?;
        }
        StatusFormat::Table => print_table(&mut out, &status, args.failures)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything `status` shows from the ledger.
pub async fn read(ledger: &Ledger) -> anyhow::Result<Status> {
    let now = Utc::now();
    let mut kinds: BTreeMap<String, KindCounts> = BTreeMap::new();
    for ((kind, status), n) in ledger.action_counts().await? {
        let counts = kinds.entry(kind).or_default();
        match status {
            ActionStatus::Done => counts.done += n,
            ActionStatus::Running => counts.running += n,
            ActionStatus::Failed => counts.failed += n,
            ActionStatus::Pending => counts.pending += n,
            ActionStatus::Skipped => counts.skipped += n,
        }
        counts.total += n;
    }
    let by_status = |status| ActionFilter { status: Some(status), ..Default::default() };
    let running: Vec<Running> = ledger
        .actions(&by_status(ActionStatus::Running))
        .await?
        .into_iter()
        .map(|a| {
            let owner = a.lease_owner.clone().unwrap_or_default();
            Running {
                host: owner.rsplit_once(':').map_or(owner.as_str(), |(h, _)| h).to_owned(),
                stale: a.lease_expires.is_none_or(|e| e <= now),
                lease_expires: a.lease_expires,
                attempts: a.attempts,
                key: a.key,
                kind: a.kind,
                record_id: a.record_id,
                owner,
            }
        })
        .collect();
    let failed: Vec<Failed> =
        ledger.actions(&by_status(ActionStatus::Failed)).await?.into_iter().map(failure).collect();
    let done = ledger.actions(&by_status(ActionStatus::Done)).await?;
    let rate_per_minute = rate(&done, now);
    let remaining: u64 = kinds.values().map(|k| k.pending + k.running).sum();
    let eta_seconds = rate_per_minute.filter(|r| *r > 0.0).map(|r| remaining as f64 / r * 60.0);
    Ok(Status {
        ledger: ledger.display_url(),
        at: now,
        kinds,
        running,
        failed,
        rate_per_minute,
        eta_seconds,
        queue: None,
        queue_error: None,
    })
}

fn failure(a: ActionRow) -> Failed {
    Failed {
        name: a.details.get("name").and_then(|n| n.as_str()).map(str::to_owned),
        error: a.last_error.unwrap_or_default(),
        attempts: a.attempts,
        at: a.finished_at,
        key: a.key,
        kind: a.kind,
        record_id: a.record_id,
    }
}

/// Completions per minute over the recent window: n completions spread over the time from the first of them
/// to now (or to the last, when the last is the newest event we know of).
fn rate(done: &[ActionRow], now: DateTime<Utc>) -> Option<f64> {
    let since = now - chrono::Duration::from_std(RATE_WINDOW).ok()?;
    let mut recent: Vec<DateTime<Utc>> = done.iter().filter_map(|a| a.finished_at).filter(|t| *t >= since).collect();
    if recent.len() < 2 {
        return None;
    }
    recent.sort();
    let span = (now - recent[0]).num_milliseconds() as f64 / 60_000.0;
    (span > 0.0).then(|| recent.len() as f64 / span)
}

fn duration_text(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

fn print_table(out: &mut dyn std::io::Write, status: &Status, max_failures: usize) -> anyhow::Result<()> {
    writeln!(out, "ledger {} at {}", status.ledger, status.at.format("%Y-%m-%d %H:%M:%S UTC"))?;
    if status.kinds.is_empty() {
        writeln!(out, "nothing recorded yet: run `bbb-migrate migrate --mode import|claim [--queue]`")?;
    }
    writeln!(
        out,
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "done", "running", "failed", "pending", "skipped", "total"
    )?;
    for (kind, k) in &status.kinds {
        writeln!(
            out,
            "{kind:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            k.done, k.running, k.failed, k.pending, k.skipped, k.total
        )?;
    }
    if !status.running.is_empty() {
        let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &status.running {
            *per_host.entry(r.host.as_str()).or_default() += 1;
        }
        let hosts: Vec<String> = per_host.iter().map(|(h, n)| format!("{h} {n}")).collect();
        writeln!(out, "running on: {}", hosts.join(", "))?;
        for r in status.running.iter().take(20) {
            let stale =
                if r.stale { " (lease expired: the worker is gone; the next delivery takes it over)" } else { "" };
            writeln!(out, "  {} by {} (attempt {}){stale}", r.key, r.owner, r.attempts)?;
        }
    }
    if !status.failed.is_empty() {
        writeln!(out, "failed:")?;
        for f in status.failed.iter().take(max_failures) {
            let name = f.name.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
            writeln!(out, "  {}{name} (attempt {}): {}", f.key, f.attempts, f.error)?;
        }
        if status.failed.len() > max_failures {
            writeln!(out, "  … {} more (`status --format json`, `report`)", status.failed.len() - max_failures)?;
        }
        writeln!(out, "after a fix: `bbb-migrate retry --failed`")?;
    }
    match (status.rate_per_minute, status.eta_seconds) {
        (Some(rate), Some(eta)) if eta > 0.0 => {
            writeln!(out, "rate {rate:.1}/min over the last 15 min: about {} left", duration_text(eta))?
        }
        (Some(rate), _) => writeln!(out, "rate {rate:.1}/min over the last 15 min: nothing left")?,
        (None, _) => writeln!(out, "no recent completions: no ETA")?,
    }
    if let Some(q) = &status.queue {
        writeln!(
            out,
            "queue {}: {} waiting, {} waiting to retry, {} dead-lettered, {} worker(s) connected",
            q.queue, q.waiting, q.retrying, q.dead, q.workers
        )?;
    }
    if let Some(e) = &status.queue_error {
        writeln!(out, "queue: cannot read it: {e}")?;
    }
    Ok(())
}
