//! Workers in separate processes: this test binary re-executes itself with `worker_subprocess` as the only test
//! and the settings in environment variables. Workers append what they do to a shared log file (one `write` per
//! line, opened in append mode, so lines from both processes never mix); stdin closing asks a worker to stop.
//!
//! The handler stands in for the ledger's idempotency check with a marker file per key created with
//! `create_new`: the first handler to finish a key does the "effect" (`done`), a later one for the same key only
//! acks (`skip`). So the tests check both at-least-once delivery and the exactly-once effect built on it.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{QueueGuard, test_config, unique_queue, wait_for};
use migrate_queue::{Admin, CancellationToken, Job, JobKind, Publisher, Worker};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

const ENV_QUEUE: &str = "MQ_TEST_WORKER_QUEUE";
const ENV_LOG: &str = "MQ_TEST_WORKER_LOG";
const ENV_SLEEP_MS: &str = "MQ_TEST_WORKER_SLEEP_MS";
const ENV_HANG_ON: &str = "MQ_TEST_WORKER_HANG_ON";
const ENV_EFFECTS: &str = "MQ_TEST_WORKER_EFFECTS";

/// The worker process's body; a no-op in a normal test run (no queue in the environment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_subprocess() {
    let Ok(queue) = std::env::var(ENV_QUEUE) else { return };
    let log = std::env::var(ENV_LOG).unwrap();
    let sleep = Duration::from_millis(std::env::var(ENV_SLEEP_MS).ok().and_then(|s| s.parse().ok()).unwrap_or(0));
    let hang_on = std::env::var(ENV_HANG_ON).ok();
    let effects = std::path::PathBuf::from(std::env::var(ENV_EFFECTS).unwrap());
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let mut stdin = tokio::io::stdin();
        while stdin.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
        s.cancel();
    });
    let pid = std::process::id();
    let append = move |line: String| {
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
        f.write_all(line.as_bytes()).unwrap();
    };
    let handler = move |job: Job| {
        let append = append.clone();
        let marker = effects.join(&job.key);
        let hang = hang_on.as_deref() == Some(job.key.as_str());
        async move {
            append(format!("start {} {pid} {}\n", job.key, job.redelivered));
            if hang {
                // "Mid-render": the parent kills this process with SIGKILL now.
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            tokio::time::sleep(sleep).await;
            let event = match std::fs::OpenOptions::new().write(true).create_new(true).open(&marker) {
                Ok(_) => "done",
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => "skip",
                Err(e) => return Err(migrate_queue::JobError::retryable(e)),
            };
            append(format!("{event} {} {pid} {}\n", job.key, job.redelivered));
            Ok(())
        }
    };
    Worker::new(test_config(&queue)).run(handler, stop).await.unwrap();
}

fn spawn_worker(queue: &str, log: &std::path::Path, sleep_ms: u64, hang_on: Option<&str>) -> Child {
    let effects = log.parent().unwrap().join("effects");
    std::fs::create_dir_all(&effects).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["worker_subprocess", "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV_QUEUE, queue)
        .env(ENV_LOG, log)
        .env(ENV_SLEEP_MS, sleep_ms.to_string())
        .env(ENV_EFFECTS, effects)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(key) = hang_on {
        cmd.env(ENV_HANG_ON, key);
    }
    cmd.spawn().unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    event: String,
    key: String,
    pid: u32,
    redelivered: bool,
}

fn read_log(path: &std::path::Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            Some(Line {
                event: parts.next()?.to_owned(),
                key: parts.next()?.to_owned(),
                pid: parts.next()?.parse().ok()?,
                redelivered: parts.next()? == "true",
            })
        })
        .collect()
}

/// Keys whose effect happened.
fn done_keys(path: &std::path::Path) -> HashSet<String> {
    read_log(path).into_iter().filter(|l| l.event == "done").map(|l| l.key).collect()
}

/// Every key's effect happened exactly once; a key handled more than once was redelivered.
fn assert_exactly_once_effect(lines: &[Line], keys: &[String]) {
    let mut by_key: HashMap<&str, Vec<&Line>> = HashMap::new();
    for l in lines.iter().filter(|l| l.event == "done" || l.event == "skip") {
        by_key.entry(&l.key).or_default().push(l);
    }
    for key in keys {
        let handled = by_key.get(key.as_str()).unwrap_or_else(|| panic!("{key} never handled"));
        let effects = handled.iter().filter(|l| l.event == "done").count();
        assert_eq!(effects, 1, "{key}: effect happened {effects} times: {handled:?}");
        if handled.len() > 1 {
            assert!(handled.iter().any(|l| l.redelivered), "{key} handled {} times without redelivery", handled.len());
        }
    }
}

async fn wait_consumers(admin: &Admin, n: u32) {
    wait_for("workers consuming", Duration::from_secs(15), || async { admin.counts().await.unwrap().consumers == n })
        .await;
}

/// Closes stdin (the stop request) and expects a clean exit.
async fn stop_gracefully(mut child: Child) {
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("worker exits").unwrap();
    assert!(status.success(), "worker exited with {status}");
}

/// (a) Two worker processes share 50 jobs: every job's effect happens exactly once, both workers took part, a
/// job handled twice was a redelivery (at-least-once without loss), and both stop cleanly when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_fifty_jobs() {
    let queue = unique_queue("two-procs");
    let config = test_config(&queue);
    let _guard = QueueGuard(config.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("handled.log");
    let admin = Admin::connect(&config).await.unwrap();
    admin.declare().await.unwrap();
    let a = spawn_worker(&queue, &log, 10, None);
    let b = spawn_worker(&queue, &log, 10, None);
    wait_consumers(&admin, 2).await;

    let jobs: Vec<Job> =
        (0..50).map(|i| Job::new(format!("job-{i}"), JobKind::Claim, Some(format!("rec-{i}")), json!({}))).collect();
    assert_eq!(Publisher::connect(&config).await.unwrap().publish_all(&jobs).await.unwrap(), 50);
    wait_for("50 jobs done", Duration::from_secs(30), || async { done_keys(&log).len() == 50 }).await;
    stop_gracefully(a).await;
    stop_gracefully(b).await;

    let lines = read_log(&log);
    assert_exactly_once_effect(&lines, &jobs.iter().map(|j| j.key.clone()).collect::<Vec<_>>());
    let pids: HashSet<u32> = lines.iter().map(|l| l.pid).collect();
    assert_eq!(pids.len(), 2, "both workers handled jobs: {pids:?}");
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead, counts.consumers), (0, 0, 0, 0));
}

/// (b) A worker killed with SIGKILL mid-job: the broker redelivers the job to the other worker, which completes
/// it seeing `redelivered`; the jobs queued behind it (prefetch 1: not held by the dead worker) are done too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_job_is_redelivered_and_completed() {
    let queue = unique_queue("sigkill");
    let config = test_config(&queue);
    let _guard = QueueGuard(config.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("handled.log");
    let admin = Admin::connect(&config).await.unwrap();
    admin.declare().await.unwrap();

    let mut victim = spawn_worker(&queue, &log, 0, Some("slow"));
    let victim_pid = victim.id().unwrap();
    wait_consumers(&admin, 1).await;
    let publisher = Publisher::connect(&config).await.unwrap();
    publisher.publish(&Job::new("slow", JobKind::Claim, Some("big".into()), json!({}))).await.unwrap();
    let rest: Vec<Job> = (0..5).map(|i| Job::new(format!("after-{i}"), JobKind::Claim, None, json!({}))).collect();
    publisher.publish_all(&rest).await.unwrap();
    wait_for("the victim started the slow job", Duration::from_secs(10), || async {
        read_log(&log).iter().any(|l| l.event == "start" && l.key == "slow" && l.pid == victim_pid)
    })
    .await;
    assert_eq!(admin.counts().await.unwrap().main, 5, "prefetch 1: the victim holds only the job it runs");

    victim.start_kill().unwrap(); // SIGKILL
    let status = victim.wait().await.unwrap();
    assert!(!status.success());
    let survivor = spawn_worker(&queue, &log, 0, None);
    wait_for("every job done", Duration::from_secs(20), || async { done_keys(&log).len() == 6 }).await;
    stop_gracefully(survivor).await;

    let lines = read_log(&log);
    let mut all_keys: Vec<String> = rest.iter().map(|j| j.key.clone()).collect();
    all_keys.push("slow".into());
    assert_exactly_once_effect(&lines, &all_keys);
    let slow: Vec<&Line> = lines.iter().filter(|l| l.key == "slow").collect();
    assert!(!slow.iter().any(|l| l.event == "done" && l.pid == victim_pid), "the victim never finished");
    let redone: Vec<&&Line> = slow.iter().filter(|l| l.event == "done").collect();
    assert_eq!(redone.len(), 1, "{slow:?}");
    assert!(redone[0].redelivered, "the survivor saw the redelivery flag");
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead), (0, 0, 0));
}
