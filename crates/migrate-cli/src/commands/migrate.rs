//! `plan` and `migrate`: the selected recordings into Pod, as external recordings (import) or as files to
//! claim (claim). Both build the same plan from the old server, the owners and Pod's current state; `plan`
//! prints it, `migrate` runs it item by item under a ledger lease, so that a rerun resumes and converges.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use migrate_config::Config;
use migrate_db::{Db, OpenOptions};
use migrate_ledger::{ActionOutput, Lease, Ledger, NewAction};
use migrate_plan::claim::{ClaimPlan, ClaimState, ClaimWorld, Recorder};
use migrate_plan::import::{ImportPlan, ImportSettings, MatchUsersBy, PlannedOwner, PodState, Selected};
use migrate_pod::Pod;
use migrate_pod::users::NewUserProfile;
use serde::Serialize;

use crate::cli::{MigrateArgs, Mode, OutputFormat, PlanArgs, SelectionArgs};

/// How long a lease on one recording lasts before another worker may take it over.
pub(super) const LEASE: Duration = Duration::from_secs(30 * 60);

pub async fn plan(explicit: Option<&Path>, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let prepared = prepare(&loaded.config, &args.selection, args.mode, None).await?;
    let mut out = super::output_writer(args.output.as_deref())?;
    prepared.print(&mut out, args.format)?;
    out.flush()?;
    if args.format != OutputFormat::Table || args.output.is_some() {
        eprintln!("{}", prepared.summary());
    }
    prepared.pod.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(explicit: Option<&Path>, args: MigrateArgs) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        let plan_args =
            PlanArgs { selection: args.selection, mode: args.mode, format: OutputFormat::Table, output: None };
        return plan(explicit, plan_args).await;
    }
    let loaded = migrate_config::load(explicit)?;
    if args.queue {
        return super::queue::publish(&loaded.config, &args).await;
    }
    let (report, path) = execute(&loaded.config, &args).await?;
    println!("{}", report.summary_line());
    for failure in report.outcomes.iter().filter(|o| o.status == "failed").take(20) {
        println!("  failed: {} {} — {}", failure.record_id, failure.name, failure.detail);
    }
    if report.failed > 20 {
        println!("  … {} more failures in the report", report.failed - 20);
    }
    println!("report: {}", path.display());
    Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Plans and runs one migration; returns its report and where it was written.
pub(super) async fn execute(config: &Config, args: &MigrateArgs) -> anyhow::Result<(Report, PathBuf)> {
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    let prepared = prepare(config, &args.selection, args.mode, Some(&ledger)).await?;
    let run = ledger.start_run(&format!("migrate --mode {}", args.mode.as_str())).await?;
    let started = Instant::now();
    let outcomes = match &prepared.plan {
        Planned::Import(plan) => {
            let profile = new_user_profile(config);
            check_secret_key(config, plan)?;
            let jobs = args.jobs.unwrap_or(8).max(1);
            run_import(&prepared.pod, &ledger, plan, profile, config.pod.secret_key.expose(), jobs).await
        }
        Planned::Claim(plan, target) => {
            let jobs = args.jobs.unwrap_or_else(default_claim_jobs).max(1);
            super::claim::run(config, &ledger, plan, target, jobs).await?
        }
    };
    let report = Report::new(args.mode, &prepared, outcomes, started.elapsed());
    let path = args.report.clone().unwrap_or_else(|| {
        let at = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        PathBuf::from(format!("bbb-migrate-report-{}-{at}.json", args.mode.as_str()))
    });
    // Streamed: the whole report as one buffer was the run's largest allocation.
    let written = std::fs::File::create(&path).map_err(anyhow::Error::from).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &report)?;
        Ok(out.flush()?)
    });
    written.with_context(|| format!("cannot write the report {}", path.display()))?;
    let status = if report.failed == 0 { "done" } else { "done with failures" };
    ledger.finish_run(run, status, &report.totals()).await?;
    prepared.pod.close().await;
    ledger.close().await;
    Ok((report, path))
}

/// The profile of the Pod users import mode creates (`[pod.new_users]`).
pub(super) fn new_user_profile(config: &Config) -> NewUserProfile {
    NewUserProfile {
        auth_type: config.pod.new_users.auth_type.clone(),
        affiliation: config.pod.new_users.affiliation.clone(),
        establishment: config.pod.new_users.establishment.clone(),
    }
}

/// Users can only be created with Pod's SECRET_KEY (their hash key): refuse before writing anything.
pub(super) fn check_secret_key(config: &Config, plan: &ImportPlan) -> anyhow::Result<()> {
    let users_to_create = plan.totals().users_to_create;
    if users_to_create > 0 && config.pod.secret_key.is_empty() {
        anyhow::bail!(
            "pod.secret_key is empty, but {users_to_create} Pod user(s) must be created and their hash key is \
             SHA-256 of Pod's SECRET_KEY + username: set pod.secret_key (or BBB_MIGRATE_POD__SECRET_KEY, or \
             pod.secret_key_file) to Pod's SECRET_KEY; nothing was written"
        );
    }
    Ok(())
}

/// One ffmpeg already keeps about two cores busy.
fn default_claim_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get() / 2).unwrap_or(1).max(1)
}

/// The plan and what it was made from.
pub struct Prepared {
    pub pod: Pod,
    pub plan: Planned,
    pub fallback: Option<migrate_plan::import::PodUser>,
}

pub enum Planned {
    Import(ImportPlan),
    Claim(ClaimPlan, ClaimTarget),
}

/// Where claim mode writes.
pub struct ClaimTarget {
    pub recorder: Recorder,
    /// `recorder_path/directory` on this machine.
    pub dir: PathBuf,
    pub free_bytes: Option<u64>,
}

/// Lists the server, resolves owners (import), reads Pod, and plans. Only the ledger's inventory rows are
/// written, and only when `ledger` is given (`migrate`); `plan` writes nothing at all.
pub(super) async fn prepare(
    config: &Config,
    selection: &SelectionArgs,
    mode: Mode,
    ledger: Option<&Ledger>,
) -> anyhow::Result<Prepared> {
    let (selection, query) = super::selection(selection)?;
    let pod = open_pod(config, ledger.is_none()).await?;
    let client = crate::source::client(config)?;
    let inventory = super::inventory::collect(&client, &query, &selection, ledger).await?;
    match mode {
        Mode::Import => {
            let fallback = fallback_owner(config, &pod).await?;
            let resolver = super::owners::resolver(config).await;
            let resolutions = super::owners::resolve(&resolver, &inventory.entries).await;
            let keys = migrate_plan::import::user_keys(&resolutions);
            let users = pod.users_matching(&keys.usernames, &keys.emails).await?;
            let urls: Vec<String> =
                inventory.entries.iter().flat_map(|e| migrate_plan::import::url_variants(&e.recording)).collect();
            let external = pod.external_recordings_with_urls(&urls).await?;
            let selected: Vec<Selected> = inventory
                .entries
                .iter()
                .zip(&resolutions)
                .map(|(e, r)| Selected { position: e.position, recording: &e.recording, resolution: r })
                .collect();
            let match_by =
                if config.pod.match_users_by == "email" { MatchUsersBy::Email } else { MatchUsersBy::Username };
            let settings = ImportSettings { match_by, fallback: fallback.clone() };
            let plan = migrate_plan::import::plan_import(&selected, &PodState { users, external }, &settings);
            Ok(Prepared { pod, plan: Planned::Import(plan), fallback: Some(fallback) })
        }
        Mode::Claim => {
            let recorder_id = config.pod.recorder_id.context(
                "pod.recorder_id is not set: claim mode writes into the directory of a Pod recorder (the old \
                 script's SCRIPT_RECORDER_ID); create one in Pod's admin (Recorders) and set its id",
            )?;
            let recorder_path =
                config.pod.recorder_path.clone().context(
                    "pod.recorder_path is not set: use Pod's DEFAULT_RECORDER_PATH (e.g. /data/ftp-pod/ftp/)",
                )?;
            let recorder = pod.recorder(recorder_id.into()).await?.with_context(|| {
                format!("Pod has no recorder with id {recorder_id} (recorder_recorder): check pod.recorder_id")
            })?;
            if recorder.manager_id.is_some() {
                tracing::warn!(
                    recorder = recorder.name,
                    "the recorder has a manager: Pod e-mails the manager instead of offering the files to claim"
                );
            }
            let dir = PathBuf::from(migrate_plan::naming::pod_join(&recorder_path, &recorder.directory, ""));
            let files_present = list_files(&dir);
            let mut plan = migrate_plan::claim::plan_claim(
                &inventory.entries.iter().map(|e| (e.position, &e.recording)).collect::<Vec<_>>(),
                &recorder,
                &recorder_path,
                &ClaimWorld { files_present, known_to_pod: Default::default() },
            );
            let paths: Vec<String> = plan.items.iter().map(|i| i.pod_path.clone()).collect();
            let known = pod.known_recorder_files(&paths).await?;
            for item in &mut plan.items {
                if known.contains(&item.pod_path) {
                    item.state = ClaimState::KnownToPod;
                }
            }
            let free_bytes = free_space(&dir);
            Ok(Prepared { pod, plan: Planned::Claim(plan, ClaimTarget { recorder, dir, free_bytes }), fallback: None })
        }
    }
}

pub(super) async fn open_pod(config: &Config, read_only: bool) -> anyhow::Result<Pod> {
    let url = config.pod.database.as_deref().context(
        "pod.database is not set: bbb-migrate reads and writes Pod's database (postgres://, mysql:// or sqlite://)",
    )?;
    // SQLite has one writer at a time: one connection makes concurrent transactions wait instead of failing
    // with "database is locked".
    let max_connections = if url.trim_start().to_ascii_lowercase().starts_with("sqlite:") { 1 } else { 16 };
    let db = Db::open(url, OpenOptions { read_only, max_connections, ..OpenOptions::default() })
        .await
        .context("cannot open Pod's database (pod.database)")?;
    Ok(Pod::new(db, config.pod.site_id.into()).await?)
}

async fn fallback_owner(config: &Config, pod: &Pod) -> anyhow::Result<migrate_plan::import::PodUser> {
    let who = config.pod.fallback_owner.as_deref().context(
        "pod.fallback_owner is not set: name the Pod user (username or id, the old SCRIPT_ADMIN_ID) who gets the \
         recordings whose owner cannot be found",
    )?;
    pod.user_by_id_or_username(who).await?.with_context(|| {
        format!("pod.fallback_owner `{who}`: Pod has no such user (auth_user id or username); nothing was written")
    })
}

/// File names in `dir` (none if it does not exist yet: the run checks it before writing).
fn list_files(dir: &Path) -> std::collections::HashSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Free bytes on the file system holding `dir`, via `df` (no unsafe statvfs here).
pub fn free_space(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df").args(["-P", "-B1"]).arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

impl Prepared {
    fn summary(&self) -> String {
        match &self.plan {
            Planned::Import(plan) => {
                let t = plan.totals();
                let fallback = self.fallback.as_ref().map(|u| u.username.as_str()).unwrap_or("?");
                format!(
                    "{} recording(s), {:.1} h: {} external recording(s) to create, {} already in Pod; {} Pod user(s) \
                     to create; {} recording(s) for the fallback owner {fallback}; {} skipped",
                    t.recordings,
                    t.hours,
                    t.rows_to_create,
                    t.rows_existing,
                    t.users_to_create,
                    t.to_fallback,
                    t.skipped
                )
            }
            Planned::Claim(plan, target) => {
                let t = plan.totals();
                let free = target.free_bytes.map(|b| format!(", {} free", bytes(b))).unwrap_or_default();
                format!(
                    "{} file(s), {:.1} h: {} to copy, {} to render ({:.1} h), {} already there; about {} to write \
                     into {}{free}; {} skipped",
                    t.files,
                    t.hours,
                    t.to_copy,
                    t.to_render,
                    t.hours_to_render,
                    t.already_there,
                    bytes(t.bytes_to_write),
                    target.dir.display(),
                    t.skipped
                )
            }
        }
    }

    fn print(&self, out: &mut dyn Write, format: OutputFormat) -> anyhow::Result<()> {
        match (&self.plan, format) {
            (Planned::Import(plan), OutputFormat::Json) => {
                let value = serde_json::json!({ "mode": "import", "items": plan.items, "skipped": plan.skipped, "totals": plan.totals() });
                serde_json::to_writer_pretty(&mut *out, &value)?;
                writeln!(out)?;
            }
            (Planned::Claim(plan, target), OutputFormat::Json) => {
                let value = serde_json::json!({
                    "mode": "claim", "recorder": target.recorder, "directory": target.dir, "free_bytes": target.free_bytes,
                    "items": plan.items, "skipped": plan.skipped, "totals": plan.totals(),
                });
                serde_json::to_writer_pretty(&mut *out, &value)?;
                writeln!(out)?;
            }
            (Planned::Import(plan), OutputFormat::Csv) => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record([
                    "position",
                    "record_id",
                    "name",
                    "start",
                    "source_url",
                    "owner",
                    "owner_status",
                    "row",
                    "evidence",
                ])?;
                for item in &plan.items {
                    for row in &item.rows {
                        let owner_status = match (&row.owner, row.fallback) {
                            (_, true) => "fallback",
                            (PlannedOwner::New { .. }, _) => "new user",
                            (PlannedOwner::Existing { .. }, _) => "existing user",
                        };
                        let action =
                            row.existing_id.map(|id| format!("exists #{id}")).unwrap_or_else(|| "create".into());
                        w.write_record([
                            item.position.to_string(),
                            item.record_id.clone(),
                            item.name.clone(),
                            item.start_at.to_rfc3339(),
                            item.source_url.clone(),
                            row.owner.username().to_owned(),
                            owner_status.to_owned(),
                            action,
                            row.evidence.clone(),
                        ])?;
                    }
                }
                w.flush()?;
            }
            (Planned::Claim(plan, _), OutputFormat::Csv) => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record([
                    "position",
                    "record_id",
                    "name",
                    "start",
                    "action",
                    "file",
                    "bytes",
                    "bytes_estimated",
                ])?;
                for item in &plan.items {
                    w.write_record([
                        item.position.to_string(),
                        item.record_id.clone(),
                        item.name.clone(),
                        item.start_at.to_rfc3339(),
                        claim_action(item).to_owned(),
                        item.pod_path.clone(),
                        item.estimated_bytes.to_string(),
                        item.size_is_estimate.to_string(),
                    ])?;
                }
                w.flush()?;
            }
            (Planned::Import(plan), OutputFormat::Table) => {
                let lines = plan.items.iter().map(|item| {
                    let rows = item
                        .rows
                        .iter()
                        .map(|row| {
                            let who = match (&row.owner, row.fallback) {
                                (o, true) => format!("{} (fallback)", o.username()),
                                (PlannedOwner::New { user }, _) => format!("{} (new Pod user)", user.username),
                                (PlannedOwner::Existing { user }, _) => user.username.clone(),
                            };
                            match row.existing_id {
                                Some(id) => format!("{who}: already in Pod (#{id})"),
                                None => format!("{who}: create"),
                            }
                        })
                        .chain(item.notes.iter().map(|n| format!("note: {n}")))
                        .collect::<Vec<_>>()
                        .join("\n");
                    vec![
                        item.position.to_string(),
                        item.name.clone(),
                        item.start_at.format("%Y-%m-%d").to_string(),
                        rows,
                    ]
                });
                let width = super::inventory::terminal_width();
                let table = migrate_inventory::output::text_table(
                    &["#", "name", "date", "external recordings"],
                    lines,
                    width,
                    &[1, 3],
                );
                writeln!(out, "{table}")?;
                for s in &plan.skipped {
                    writeln!(out, "skipped #{} {}: {}", s.position, s.name, s.reason)?;
                }
                let t = plan.totals();
                let mut owners: Vec<_> = t.per_owner.iter().collect();
                owners.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
                let top: Vec<String> =
                    owners.iter().take(10).map(|(u, (n, c))| format!("{u} {n} ({c} to create)")).collect();
                if !top.is_empty() {
                    writeln!(out, "per owner: {}{}", top.join(", "), if owners.len() > 10 { ", …" } else { "" })?;
                }
                let origins: Vec<String> = t.per_origin.iter().map(|(o, n)| format!("{o} {n}")).collect();
                writeln!(out, "per origin: {}", origins.join(", "))?;
                writeln!(out, "{}", self.summary())?;
            }
            (Planned::Claim(plan, target), OutputFormat::Table) => {
                let lines = plan.items.iter().map(|item| {
                    let size = if item.size_is_estimate {
                        format!("~{}", bytes(item.estimated_bytes))
                    } else {
                        bytes(item.estimated_bytes)
                    };
                    vec![
                        item.position.to_string(),
                        item.name.clone(),
                        claim_action(item).to_owned(),
                        item.file_name.clone(),
                        size,
                    ]
                });
                let width = super::inventory::terminal_width();
                let table = migrate_inventory::output::text_table(
                    &["#", "name", "action", "file", "size"],
                    lines,
                    width,
                    &[1, 3],
                );
                writeln!(out, "{table}")?;
                for s in &plan.skipped {
                    writeln!(out, "skipped #{} {}: {}", s.position, s.name, s.reason)?;
                }
                if target.recorder.manager_id.is_some() {
                    writeln!(
                        out,
                        "warning: recorder `{}` has a manager: Pod e-mails the manager instead of offering the files to claim",
                        target.recorder.name
                    )?;
                }
                writeln!(out, "{}", self.summary())?;
            }
        }
        Ok(())
    }
}

fn claim_action(item: &migrate_plan::claim::ClaimItem) -> &'static str {
    match item.state {
        ClaimState::ToDo => item.method.verb(),
        ClaimState::Present => "already there",
        ClaimState::KnownToPod => "known to Pod",
    }
}

/// `1.2 GB`, `340 MB`, `12 kB`.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.0} MB", n / 1e6),
        n => format!("{:.0} kB", n / 1e3),
    }
}

/// What happened to one recording in a run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub record_id: String,
    pub name: String,
    /// done, already done, failed, busy, skipped
    pub status: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    pub seconds: f64,
}

/// A bar over the recordings of a run.
pub fn run_bar(len: usize, what: &str) -> ProgressBar {
    let bar = crate::progress::bars().add(ProgressBar::new(len as u64));
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what}, eta {{eta}}"
        ))
        .expect("static template")
        .progress_chars("=> "),
    );
    bar
}

/// One external-recording transaction per recording, `jobs` at a time, each under a ledger lease.
pub(super) async fn run_import(
    pod: &Pod,
    ledger: &Ledger,
    plan: &ImportPlan,
    profile: NewUserProfile,
    secret_key: &str,
    jobs: usize,
) -> Vec<Outcome> {
    let holder = migrate_ledger::default_owner();
    if let Err(e) = register_each(ledger, &plan.items, import_action).await {
        return plan.items.iter().map(|i| failed(&i.record_id, &i.name, format!("ledger: {e}"))).collect();
    }
    let profile = Arc::new(profile);
    let mut outcomes = run_each(
        &plan.items,
        jobs,
        "importing",
        |item| (item.record_id.as_str(), item.name.as_str()),
        |item| {
            let (holder, profile) = (holder.clone(), profile.clone());
            async move { import_one(pod, ledger, item, &profile, secret_key, &holder, LEASE).await }
        },
    )
    .await;
    outcomes.extend(plan.skipped.iter().map(|s| skipped(&s.record_id, &s.name, &s.reason)));
    outcomes
}

/// What the work on one item says: status, detail, output.
pub(super) type Done = (&'static str, String, Option<serde_json::Value>);

/// `work` on every item, `jobs` at a time, under a progress bar; one logged [`Outcome`] per item.
pub(super) async fn run_each<'a, T, Fut>(
    items: &'a [T],
    jobs: usize,
    what: &str,
    id: impl Fn(&'a T) -> (&'a str, &'a str),
    work: impl Fn(&'a T) -> Fut,
) -> Vec<Outcome>
where
    Fut: std::future::Future<Output = Done>,
{
    let bar = run_bar(items.len(), "recordings");
    bar.set_message(what.to_owned());
    let outcomes = futures_util::stream::iter(items)
        .map(|item| {
            let (bar, (record_id, name)) = (bar.clone(), id(item));
            let fut = work(item);
            async move {
                let started = Instant::now();
                let (status, detail, output) = fut.await;
                bar.inc(1);
                if status == "failed" {
                    tracing::error!(record_id, "{detail}");
                } else {
                    tracing::info!(record_id, status, "{detail}");
                }
                Outcome {
                    record_id: record_id.to_owned(),
                    name: name.to_owned(),
                    status,
                    detail,
                    output,
                    seconds: started.elapsed().as_secs_f64(),
                }
            }
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    bar.finish_and_clear();
    outcomes
}

pub(super) fn skipped(record_id: &str, name: &str, reason: &str) -> Outcome {
    Outcome {
        record_id: record_id.to_owned(),
        name: name.to_owned(),
        status: "skipped",
        detail: reason.to_owned(),
        output: None,
        seconds: 0.0,
    }
}

/// One recording's external recordings under the ledger lease `key` for `ttl`: local mode and `worker` alike.
pub(super) async fn import_one(
    pod: &Pod,
    ledger: &Ledger,
    item: &migrate_plan::import::ImportItem,
    profile: &NewUserProfile,
    secret_key: &str,
    holder: &str,
    ttl: Duration,
) -> Done {
    let key = item.key();
    match lease(ledger, &key, holder, ttl).await {
        Ok(Lease::Acquired(_)) => {}
        Ok(Lease::AlreadyDone(_)) => return ("already done", "done in an earlier run".into(), None),
        Ok(Lease::Busy { owner, .. }) => return ("busy", format!("being imported by {owner}"), None),
        Err(e) => return ("failed", format!("ledger: {e}"), None),
    }
    match pod.write_import(item, profile, secret_key).await {
        Ok(outcome) => {
            let value = serde_json::to_value(&outcome).unwrap_or_default();
            let output = ActionOutput { details: value.clone(), ..Default::default() };
            if let Err(e) = ledger.complete(&key, holder, &output).await {
                return ("failed", format!("written to Pod, but the ledger failed: {e}"), Some(value));
            }
            let detail = format!(
                "{} row(s) created, {} already there, {} user(s) created",
                outcome.created.len(),
                outcome.already_there,
                outcome.users_created.len()
            );
            ("done", detail, Some(value))
        }
        Err(e) => {
            let message = e.to_string();
            let _ = ledger.fail(&key, holder, &message).await;
            ("failed", message, None)
        }
    }
}

/// [`Ledger::try_lease`], taking over at once a lease whose holder was a process of this host that is gone
/// (an interrupted or killed earlier run), instead of waiting for the lease to expire.
pub(super) async fn lease(
    ledger: &Ledger,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Lease, migrate_ledger::LedgerError> {
    match ledger.try_lease(key, holder, ttl).await? {
        Lease::Busy { owner, expires } if migrate_ledger::is_dead_local_holder(&owner) => {
            match ledger.take_over(key, &owner, holder, ttl).await? {
                Some(row) => {
                    tracing::info!(key, dead = owner, "lease of a process that is gone taken over");
                    Ok(Lease::Acquired(row))
                }
                None => Ok(Lease::Busy { owner, expires }),
            }
        }
        other => Ok(other),
    }
}

pub(super) fn import_action(item: &migrate_plan::import::ImportItem) -> NewAction {
    NewAction {
        key: item.key(),
        kind: "import".into(),
        record_id: Some(item.record_id.clone()),
        target: item.source_url.clone(),
        details: import_payload(item),
    }
}

/// The whole item with its URL spellings (which the plan's JSON leaves out): what a `worker` needs to write it,
/// kept in the ledger too, so that `retry --failed` can queue it again and `report` can tell owners and hours.
pub(super) fn import_payload(item: &migrate_plan::import::ImportItem) -> serde_json::Value {
    let mut value = serde_json::to_value(item).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("url_variants".into(), serde_json::json!(item.url_variants));
    }
    value
}

/// [`import_payload`] read back.
pub(super) fn import_item(payload: &serde_json::Value) -> Result<migrate_plan::import::ImportItem, serde_json::Error> {
    let mut item: migrate_plan::import::ImportItem = serde_json::from_value(payload.clone())?;
    if let Some(urls) = payload.get("url_variants") {
        item.url_variants = serde_json::from_value(urls.clone())?;
    }
    Ok(item)
}

/// The run's actions into the ledger before any work, in a few transactions.
pub(super) async fn register(ledger: &Ledger, actions: &[NewAction]) -> Result<(), migrate_ledger::LedgerError> {
    for chunk in actions.chunks(1_000) {
        ledger.ensure_actions(chunk).await?;
    }
    Ok(())
}

/// [`register`] for `items`, their actions made a thousand at a time: each holds a JSON copy of its item, and
/// all of them at once were the biggest thing a large run kept in memory.
pub(super) async fn register_each<T>(
    ledger: &Ledger,
    items: &[T],
    action: impl Fn(&T) -> NewAction,
) -> Result<(), migrate_ledger::LedgerError> {
    for chunk in items.chunks(1_000) {
        let actions: Vec<NewAction> = chunk.iter().map(&action).collect();
        ledger.ensure_actions(&actions).await?;
    }
    Ok(())
}

/// The outcome of a recording that could not even be tried.
pub(super) fn failed(record_id: &str, name: &str, detail: String) -> Outcome {
    Outcome {
        record_id: record_id.to_owned(),
        name: name.to_owned(),
        status: "failed",
        detail,
        output: None,
        seconds: 0.0,
    }
}

/// The run's report: every recording's outcome and the totals, for the managers and for grep.
#[derive(Debug, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub seconds: f64,
    pub plan: serde_json::Value,
    pub done: usize,
    pub already_done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub busy: usize,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    fn new(mode: Mode, prepared: &Prepared, outcomes: Vec<Outcome>, elapsed: Duration) -> Report {
        let count = |s: &str| outcomes.iter().filter(|o| o.status == s).count();
        let plan = match &prepared.plan {
            Planned::Import(plan) => serde_json::to_value(plan.totals()).unwrap_or_default(),
            Planned::Claim(plan, _) => serde_json::to_value(plan.totals()).unwrap_or_default(),
        };
        Report {
            mode: mode.as_str(),
            finished_at: chrono::Utc::now(),
            seconds: elapsed.as_secs_f64(),
            plan,
            done: count("done"),
            already_done: count("already done"),
            failed: count("failed"),
            skipped: count("skipped"),
            busy: count("busy"),
            outcomes,
        }
    }

    fn totals(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": self.mode, "done": self.done, "already_done": self.already_done, "failed": self.failed,
            "skipped": self.skipped, "busy": self.busy, "seconds": self.seconds, "plan": self.plan,
        })
    }

    pub(super) fn summary_line(&self) -> String {
        format!(
            "{}: {} done, {} already done, {} failed, {} skipped, {} busy elsewhere, in {:.1} s",
            self.mode, self.done, self.already_done, self.failed, self.skipped, self.busy, self.seconds
        )
    }
}
