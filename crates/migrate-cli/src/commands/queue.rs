//! The RabbitMQ side of a migration: `migrate --queue` and `archive DIR --queue` publish one job per planned
//! recording, `worker` consumes them on any number of hosts and `retry --failed` queues again what failed.
//!
//! The queue only carries work; the shared ledger decides it. A job's key is its ledger action's key: the
//! worker takes the action's lease (renewed while it works, so a dead worker's job is taken over once the lease
//! expires), does the work with the very functions local mode uses, marks the action done or failed, and only
//! then lets the queue ack. A job whose action is done is acked without work, so publishing a plan twice, a
//! redelivery after a crash, or a dead letter requeued after success cost a ledger read each.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use migrate_config::Config;
use migrate_ledger::{ActionFilter, ActionStatus, Ledger, NewAction};
use migrate_pod::Pod;
use migrate_pod::users::NewUserProfile;
use migrate_queue::{Admin, CancellationToken, Job, JobError, JobHandler, JobKind, Publisher, RetryPolicy, Worker};
use tokio::sync::OnceCell;

use super::claim::Handover;
use super::migrate::Planned;
use crate::cli::{MigrateArgs, Mode, RetryArgs, WorkerArgs};

/// The `[queue]` settings as the queue library takes them; `None` when `queue.amqp_url` is unset.
pub(super) fn queue_config(config: &Config) -> Option<migrate_queue::QueueConfig> {
    let url = config.queue.amqp_url.as_ref()?;
    let mut q = migrate_queue::QueueConfig::new(url.expose()).with_queue(config.queue.queue.trim());
    q.retry = RetryPolicy {
        max_attempts: config.queue.max_attempts.max(1),
        base_delay: Duration::from_millis(config.queue.retry_delay_ms),
        max_delay: Duration::from_secs(30 * 60),
    };
    q.prefetch = config.queue.prefetch.max(1);
    q.shutdown_grace = Duration::from_secs(config.queue.shutdown_grace_secs);
    Some(q)
}

pub(super) fn require_queue(config: &Config) -> anyhow::Result<migrate_queue::QueueConfig> {
    queue_config(config).context(
        "queue.amqp_url is not set: set it (or BBB_MIGRATE_QUEUE__AMQP_URL) to the RabbitMQ the workers share, \
         e.g. amqp://bbb-migrate:PASSWORD@rabbitmq.univ.fr/bbb-migrate",
    )
}

/// Where the queue is, for people: the URL with its password masked.
pub(super) fn where_(q: &migrate_queue::QueueConfig) -> String {
    format!("{} at {}", q.queue, migrate_queue::mask_url(&q.amqp_url))
}

fn kind_of(mode: Mode) -> JobKind {
    match mode {
        Mode::Import => JobKind::Import,
        Mode::Claim => JobKind::Claim,
    }
}

/// `migrate --queue`: plan as local mode does, register every action in the ledger, and publish one job per
/// action that is not done yet.
pub async fn publish(config: &Config, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let queue = require_queue(config)?;
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    let prepared = super::migrate::prepare(config, &args.selection, args.mode, Some(&ledger)).await?;
    let run = ledger.start_run(&format!("migrate --mode {} --queue", args.mode.as_str())).await?;
    let (actions, payloads, skipped): (Vec<NewAction>, Vec<serde_json::Value>, usize) = match &prepared.plan {
        Planned::Import(plan) => {
            super::migrate::check_secret_key(config, plan)?;
            (
                plan.items.iter().map(super::migrate::import_action).collect(),
                plan.items.iter().map(super::migrate::import_payload).collect(),
                plan.skipped.len(),
            )
        }
        Planned::Claim(plan, _) => (
            plan.items.iter().map(super::claim::claim_action).collect(),
            plan.items.iter().map(|i| serde_json::to_value(i).unwrap_or_default()).collect(),
            plan.skipped.len(),
        ),
    };
    prepared.pod.close().await;
    super::migrate::register(&ledger, &actions).await.context("cannot record the plan in the ledger")?;
    let done = done_keys(&ledger, args.mode.as_str()).await?;
    let kind = kind_of(args.mode);
    let jobs: Vec<Job> = actions
        .iter()
        .zip(payloads)
        .filter(|(a, _)| !done.contains(&a.key))
        .map(|(a, payload)| Job::new(a.key.clone(), kind, a.record_id.clone(), payload))
        .collect();
    let publisher = Publisher::connect(&queue).await.context("cannot publish the jobs")?;
    let queued = publisher.publish_all(&jobs).await.context("cannot publish the jobs")?;
    let _ = publisher.close().await;
    let already = actions.len() - jobs.len();
    let summary = serde_json::json!({
        "mode": args.mode.as_str(), "queued": queued, "already_done": already, "skipped": skipped,
        "queue": queue.queue,
    });
    ledger.finish_run(run, "queued", &summary).await?;
    ledger.close().await;
    println!(
        "{}: {queued} job(s) queued on {}, {already} already done, {skipped} skipped; start `bbb-migrate worker` on \
         each host, follow with `bbb-migrate status`",
        args.mode.as_str(),
        where_(&queue)
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn done_keys(ledger: &Ledger, kind: &str) -> anyhow::Result<HashSet<String>> {
    let filter = ActionFilter { kind: Some(kind.to_owned()), status: Some(ActionStatus::Done), record_id: None };
    Ok(ledger.actions(&filter).await?.into_iter().map(|a| a.key).collect())
}

/// What every job of a worker shares.
struct Context {
    config: Config,
    ledger: Ledger,
    /// Pod, when `pod.database` is set (import and claim jobs need it; archive jobs do not).
    pod: Option<Pod>,
    /// One archiver per archive destination named by the jobs, sharing their download limit.
    archivers: Mutex<std::collections::HashMap<String, Arc<bbb_archive::Archiver>>>,
    /// The old server's API, for protected recordings' fresh links; made on the first archive job.
    api: OnceCell<Result<bbb_api::BbbClient, String>>,
    profile: NewUserProfile,
    holder: String,
    lease: Duration,
    /// Claim mode's directory and file hand-over, resolved on the first claim job.
    claim: OnceCell<Result<(PathBuf, Handover), String>>,
    /// Keys being worked on in this process (the lease holder is the process, so a duplicate job of a key that
    /// this process is already doing must wait rather than share the lease).
    running: Mutex<HashSet<String>>,
    /// When the last job ended, for `--idle-exit`.
    last_activity: Mutex<std::time::Instant>,
    busy: std::sync::atomic::AtomicUsize,
}

struct Handler(Arc<Context>);

/// A job's plan item.
enum Item {
    Import(migrate_plan::import::ImportItem),
    Claim(migrate_plan::claim::ClaimItem),
    Archive(super::archive::ArchiveJob),
}

impl JobHandler for Handler {
    fn handle(&self, job: Job) -> impl Future<Output = Result<(), JobError>> + Send {
        let ctx = self.0.clone();
        async move {
            ctx.busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let result = ctx.handle(job).await;
            *ctx.last_activity.lock().expect("activity lock") = std::time::Instant::now();
            ctx.busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            result
        }
    }
}

/// Removes a key from the running set when the job ends, however it ends (a stop deadline drops the future).
struct Running<'a>(&'a Mutex<HashSet<String>>, String);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.lock().expect("running lock").remove(&self.1);
    }
}

impl Context {
    async fn handle(self: &Arc<Self>, job: Job) -> Result<(), JobError> {
        if !self.running.lock().expect("running lock").insert(job.key.clone()) {
            return Err(JobError::retryable(format!("{} is already being done by this worker", job.key)));
        }
        let _running = Running(&self.running, job.key.clone());
        let item = match job.kind {
            JobKind::Import => Item::Import(
                super::migrate::import_item(&job.payload)
                    .map_err(|e| JobError::permanent(format!("not an import job payload: {e}")))?,
            ),
            JobKind::Claim => Item::Claim(
                serde_json::from_value(job.payload.clone())
                    .map_err(|e| JobError::permanent(format!("not a claim job payload: {e}")))?,
            ),
            JobKind::Archive => Item::Archive(
                serde_json::from_value(job.payload.clone())
                    .map_err(|e| JobError::permanent(format!("not an archive job payload: {e}")))?,
            ),
        };
        let key = match &item {
            Item::Import(i) => i.key(),
            Item::Claim(i) => i.key(),
            Item::Archive(j) => j.key(),
        };
        check_key(&job, &key)?;
        let record_id = job.record_id.as_deref().unwrap_or("-");
        let started = std::time::Instant::now();
        let item = Arc::new(item);
        loop {
            let (status, detail, _) = self.work(item.clone(), &key).await?;
            let seconds = started.elapsed().as_secs_f64();
            match status {
                "done" | "already done" | "skipped" => {
                    tracing::info!(record_id, status, attempt = job.attempt, seconds, "{detail}");
                    return Ok(());
                }
                // Redelivered while another holds the lease: most likely this job's earlier delivery went to a
                // worker that died or lost its connection. Wait for its lease to end (done, failed, or expired
                // because nobody renews it), then take it over.
                "busy" if job.redelivered => {
                    tracing::info!(record_id, "{detail}: waiting for that lease to end");
                    self.wait_for_lease(&key).await;
                }
                // A second copy of a job (the plan published twice, a requeue) while a live holder works: the
                // holder's own delivery stays unacked until it is done or failed, so this copy adds nothing.
                "busy" => {
                    tracing::info!(record_id, "{detail}: this copy of the job is a duplicate, acked");
                    return Ok(());
                }
                _ => {
                    tracing::error!(record_id, attempt = job.attempt, "{detail}");
                    return Err(JobError::retryable(detail));
                }
            }
        }
    }

    /// The work of one item under its lease, as local mode does it.
    async fn work(self: &Arc<Self>, item: Arc<Item>, key: &str) -> Result<super::migrate::Done, JobError> {
        let pod = || {
            self.pod.as_ref().ok_or_else(|| {
                JobError::permanent("pod.database is not set on this worker: it cannot do import or claim jobs")
            })
        };
        match item.as_ref() {
            Item::Archive(job) => {
                let archiver = self.archiver(&job.destination).map_err(JobError::permanent)?;
                let api = if job.protected {
                    let api = self
                        .api
                        .get_or_init(|| async { crate::source::client(&self.config).map_err(|e| format!("{e:#}")) });
                    Some(api.await.as_ref().map_err(|e| JobError::permanent(e.clone()))?)
                } else {
                    None
                };
                let work = super::archive::archive_one(&archiver, &self.ledger, api, job, &self.holder, self.lease);
                Ok(self.renewing(key, work).await)
            }
            Item::Import(item) => {
                let work = super::migrate::import_one(
                    pod()?,
                    &self.ledger,
                    item,
                    &self.profile,
                    self.config.pod.secret_key.expose(),
                    &self.holder,
                    self.lease,
                );
                Ok(self.renewing(key, work).await)
            }
            Item::Claim(_) => {
                let pod = pod()?;
                if let Err(e) = self.claim.get_or_init(|| claim_target(&self.config, pod)).await {
                    // This host cannot write claim files at all: its configuration needs fixing.
                    return Err(JobError::permanent(e));
                }
                // Rendering holds non-Send state across awaits: it runs on a blocking thread of its own, driven by
                // this runtime (a stop deadline then requeues the job while the thread finishes; the ledger keeps
                // the second delivery from redoing it).
                let (ctx, key) = (self.clone(), key.to_owned());
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    handle.block_on(async {
                        let (Some(Ok((dir, handover))), Item::Claim(item)) = (ctx.claim.get(), item.as_ref()) else {
                            unreachable!("resolved above")
                        };
                        let work = super::claim::claim_one(
                            &ctx.config,
                            &ctx.ledger,
                            item,
                            dir,
                            handover,
                            &ctx.holder,
                            ctx.lease,
                        );
                        ctx.renewing(&key, work).await
                    })
                })
                .await
                .map_err(|e| JobError::retryable(format!("the claim job's thread ended abnormally: {e}")))
            }
        }
    }

    /// The archiver of `destination` (a directory or `s3://bucket/prefix`), made once per destination.
    fn archiver(&self, destination: &str) -> Result<Arc<bbb_archive::Archiver>, String> {
        let mut archivers = self.archivers.lock().expect("archivers lock");
        if let Some(a) = archivers.get(destination) {
            return Ok(a.clone());
        }
        let dest = super::archive::Destination::of(&self.config, destination).map_err(|e| format!("{e:#}"))?;
        if let super::archive::Destination::Dir(dir) = &dest {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the archive {}: {e}", dir.display()))?;
        }
        let archiver = Arc::new(dest.archiver(&self.config, 8).map_err(|e| format!("{e:#}"))?);
        archivers.insert(destination.to_owned(), archiver.clone());
        Ok(archiver)
    }

    /// Returns once `key` is no longer under somebody else's live lease.
    async fn wait_for_lease(&self, key: &str) {
        let period = (self.lease / 6).clamp(Duration::from_millis(250), Duration::from_secs(10));
        loop {
            tokio::time::sleep(period).await;
            match self.ledger.action(key).await {
                Ok(Some(row))
                    if row.status == ActionStatus::Running
                        && row.lease_owner.as_deref() != Some(self.holder.as_str())
                        && row.lease_expires.is_some_and(|e| e > chrono::Utc::now()) => {}
                Ok(_) => return,
                Err(e) => tracing::warn!(key, "cannot read the ledger: {e}"),
            }
        }
    }

    /// Runs `work` while renewing the lease on `key` every third of its length.
    async fn renewing<F: Future>(&self, key: &str, work: F) -> F::Output {
        let period = (self.lease / 3).max(Duration::from_millis(200));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => {
                    if let Err(e) = self.ledger.renew_lease(key, &self.holder, self.lease).await {
                        tracing::warn!(key, "cannot renew the lease: {e}");
                    }
                }
            }
        }
    }
}

fn check_key(job: &Job, key: &str) -> Result<(), JobError> {
    if job.key == key {
        Ok(())
    } else {
        Err(JobError::permanent(format!("the job's key {} does not match its payload ({key})", job.key)))
    }
}

/// The recorder directory on this host (`pod.recorder_path` + the recorder's directory in Pod) and who the
/// files go to.
async fn claim_target(config: &Config, pod: &Pod) -> Result<(PathBuf, Handover), String> {
    let resolve = async {
        let recorder_id = config.pod.recorder_id.context("pod.recorder_id is not set on this worker")?;
        let recorder_path = config.pod.recorder_path.clone().context("pod.recorder_path is not set on this worker")?;
        let recorder = pod
            .recorder(recorder_id.into())
            .await?
            .with_context(|| format!("Pod has no recorder with id {recorder_id} (pod.recorder_id)"))?;
        let dir = PathBuf::from(migrate_plan::naming::pod_join(&recorder_path, &recorder.directory, ""));
        super::claim::check_directory(&dir)?;
        Ok::<_, anyhow::Error>((dir, super::claim::handover(config)?))
    };
    resolve.await.map_err(|e| format!("{e:#}"))
}

/// `worker`: consume jobs until SIGTERM/SIGINT (or `--idle-exit`), each under a ledger lease.
pub async fn worker(explicit: Option<&Path>, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let config = loaded.config;
    let queue = require_queue(&config)?;
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    // Pod is needed by import and claim jobs only: a worker that only archives runs without it.
    let pod = match config.pod.database {
        Some(_) => Some(super::migrate::open_pod(&config, false).await?),
        None => None,
    };
    let ctx = Arc::new(Context {
        archivers: Mutex::default(),
        api: OnceCell::new(),
        profile: super::migrate::new_user_profile(&config),
        holder: migrate_ledger::default_owner(),
        lease: Duration::from_secs(config.queue.lease_secs.max(1)),
        claim: OnceCell::new(),
        running: Mutex::default(),
        last_activity: Mutex::new(std::time::Instant::now()),
        busy: Default::default(),
        config,
        ledger,
        pod,
    });
    let stop = CancellationToken::new();
    spawn_signal_handler(stop.clone())?;
    if let Some(idle) = args.idle_exit {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        tokio::spawn(async move {
            let idle = Duration::from_secs_f64(idle.max(0.1));
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let quiet = ctx.last_activity.lock().expect("activity lock").elapsed();
                if ctx.busy.load(std::sync::atomic::Ordering::SeqCst) == 0 && quiet >= idle {
                    tracing::info!("no job for {idle:?}: stopping");
                    stop.cancel();
                    break;
                }
            }
        });
    }
    eprintln!("worker {}: consuming {} (prefetch {})", ctx.holder, where_(&queue), queue.prefetch);
    let stats = Worker::new(queue).run(Handler(ctx.clone()), stop).await.context("the worker stopped")?;
    eprintln!(
        "worker {}: {} done, {} retried, {} dead-lettered, {} malformed, {} requeued on stop",
        ctx.holder, stats.succeeded, stats.retried, stats.dead_lettered, stats.malformed, stats.requeued_on_stop
    );
    if let Some(pod) = &ctx.pod {
        pod.close().await;
    }
    ctx.ledger.close().await;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or SIGINT: stop taking jobs and let the running ones finish (the queue requeues them after
/// `queue.shutdown_grace_secs`). A second signal does the same as the deadline: stop now.
fn spawn_signal_handler(stop: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                tracing::warn!("stop requested: finishing the running job(s)");
                stop.cancel();
            } else {
                tracing::warn!("second stop request: exiting now (the broker requeues unacked jobs)");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

/// `retry --failed`: failed actions back to pending and, with a queue, their jobs queued again and the dead
/// letters moved back.
pub async fn retry(explicit: Option<&Path>, args: RetryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.failed, "say what to retry: `retry --failed` (the only kind of retry there is)");
    let loaded = migrate_config::load(explicit)?;
    let config = loaded.config;
    let ledger = super::inventory::open_ledger(&config.ledger.database).await?;
    let kinds: Vec<&str> = match args.mode {
        Some(mode) => vec![mode.as_str()],
        None => vec!["import", "claim", "archive"],
    };
    let mut failed = Vec::new();
    for kind in &kinds {
        let filter =
            ActionFilter { kind: Some((*kind).to_owned()), status: Some(ActionStatus::Failed), record_id: None };
        failed.extend(ledger.actions(&filter).await?);
    }
    let mut reset = 0;
    for kind in &kinds {
        reset += ledger.reset_failed(Some(kind)).await?;
    }
    let Some(queue) = queue_config(&config) else {
        println!(
            "{reset} failed action(s) put back to pending. No queue is configured (queue.amqp_url): rerun `bbb-migrate \
             migrate --mode {}` to do them",
            args.mode.map_or("import|claim", Mode::as_str)
        );
        ledger.close().await;
        return Ok(ExitCode::SUCCESS);
    };
    let admin = Admin::connect(&queue).await.context("cannot reach the queue")?;
    let dead: HashSet<String> =
        admin.dead_letters(usize::MAX).await?.into_iter().filter_map(|d| d.job.ok().map(|j| j.key)).collect();
    let requeued_dead = admin.requeue_dead().await.context("cannot requeue the dead letters")?;
    let _ = admin.close().await;
    let mut jobs = Vec::new();
    let mut unreadable = 0;
    for action in failed.iter().filter(|a| !dead.contains(&a.key)) {
        let job = match action.kind.as_str() {
            "import" => super::migrate::import_item(&action.details).ok().map(|_| {
                Job::new(action.key.clone(), JobKind::Import, action.record_id.clone(), action.details.clone())
            }),
            "claim" => {
                serde_json::from_value::<migrate_plan::claim::ClaimItem>(action.details.clone()).ok().map(|_| {
                    Job::new(action.key.clone(), JobKind::Claim, action.record_id.clone(), action.details.clone())
                })
            }
            "archive" => serde_json::from_value::<super::archive::ArchiveJob>(action.details.clone()).ok().map(|_| {
                Job::new(action.key.clone(), JobKind::Archive, action.record_id.clone(), action.details.clone())
            }),
            _ => None,
        };
        match job {
            Some(job) => jobs.push(job),
            None => unreadable += 1,
        }
    }
    let publisher = Publisher::connect(&queue).await.context("cannot publish the jobs")?;
    let queued = publisher.publish_all(&jobs).await.context("cannot publish the jobs")?;
    let _ = publisher.close().await;
    ledger.close().await;
    println!(
        "{reset} failed action(s) put back to pending; {queued} job(s) queued and {requeued_dead} dead letter(s) moved \
         back on {}",
        where_(&queue)
    );
    if unreadable > 0 {
        println!(
            "{unreadable} action(s) were recorded by an older version without their job: rerun `bbb-migrate migrate \
             --mode {} --queue` to queue them",
            args.mode.map_or("import|claim", Mode::as_str)
        );
    }
    Ok(ExitCode::SUCCESS)
}
