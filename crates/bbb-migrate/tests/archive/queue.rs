//! `archive DIR --queue` and `worker` as subprocesses: the real RabbitMQ (a unique queue per test, deleted at
//! the end), a PostgreSQL ledger in its own throw-away database, the demo server behind its protected front (so
//! the workers must ask for fresh one-time links: the ones listed when the jobs were published are never used).
//! Two workers without a Pod archive every recording once; the archive has exactly the files and checksums of a
//! local run; publishing again queues nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use migrate_demo::protected::ProtectedFront;
use migrate_ledger::{ActionFilter, ActionStatus, Ledger};
use migrate_testdb::{Engine, TestDb};

use crate::common::{demo_server, published, std_command};

fn amqp_url() -> String {
    std::env::var("MIGRATE_QUEUE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `bbb-migrate` through the protected front, with the `ledger` database and the AMQP `queue`.
fn command(dir: &Path, front: &ProtectedFront, secret: &str, ledger: &str, queue: &str) -> std::process::Command {
    let mut cmd = std_command(dir, &front.api_url(), secret);
    cmd.env_remove("BBB_MIGRATE_LOG")
        .env_remove("BBB_MIGRATE_POD__DATABASE")
        .env("BBB_MIGRATE_LEDGER__DATABASE", ledger)
        .env("BBB_MIGRATE_QUEUE__AMQP_URL", amqp_url())
        .env("BBB_MIGRATE_QUEUE__QUEUE", queue)
        .env("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS", "200");
    cmd
}

/// Runs `cmd` with `args`, which must succeed: its output.
fn run(cmd: std::process::Command, args: &[&str]) -> String {
    let (ok, text) = crate::common::output(&mut assert_cmd::Command::from_std(cmd), args);
    assert!(ok, "{args:?} failed:\n{text}");
    text
}

fn queued(out: &str) -> usize {
    let n = out.split(" job(s) queued").next().and_then(|s| s.rsplit(' ').next()).unwrap_or_default();
    n.parse().unwrap_or_else(|_| panic!("no job count in {out}"))
}

/// path → (size, sha256) of every file of every manifest under `archive`.
fn files(archive: &Path) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(archive.join("manifests")).unwrap().flatten() {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.path().join("bbb-migrate-manifest.json")).unwrap()).unwrap();
        for f in m["files"].as_array().unwrap() {
            let path = f["path"].as_str().unwrap().to_owned();
            out.insert(path, (f["size"].as_u64().unwrap(), f["sha256"].as_str().unwrap().to_owned()));
        }
    }
    out
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_archive_like_a_local_run() {
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 12, 30_000).await;
    let front = ProtectedFront::start(&server).await.unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let queue = format!("bbbm-test.archive.{}.{nanos}", std::process::id());
    let ledger_db = TestDb::create(Engine::Postgres, &[]).await;
    let cmd = || command(work.path(), &front, server.secret(), &ledger_db.url, &queue);

    // The reference: a local run, with its own ledger.
    let local = work.path().join("local");
    let mut reference = cmd();
    reference.env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/local.sqlite", work.path().display()));
    run(reference, &["archive", local.to_str().unwrap(), "--state", "published"]);
    let expected = files(&local);
    assert!(expected.len() > 30, "{}", expected.len());

    let archive = work.path().join("queued");
    let dir = archive.to_str().unwrap();
    let out = run(cmd(), &["archive", dir, "--state", "published", "--queue"]);
    let total = queued(&out);
    let published = published(&server).len();
    assert_eq!(total, published, "{out}");
    assert!(!out.contains("guest:guest"), "the AMQP password is masked: {out}");
    assert!(!archive.join("manifests").exists(), "publishing archives nothing");
    let consumed_before = front.tokens_consumed();

    let mut workers = Workers(Vec::new());
    for i in 0..2 {
        let log = std::fs::File::create(work.path().join(format!("worker-{i}.log"))).unwrap();
        workers
            .0
            .push(cmd().args(["-v", "worker", "--idle-exit", "3"]).stdout(Stdio::null()).stderr(log).spawn().unwrap());
    }
    let logs = || {
        (0..2)
            .map(|i| std::fs::read_to_string(work.path().join(format!("worker-{i}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    for child in &mut workers.0 {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "worker exit {status:?}\n{}", logs());
                break;
            }
            assert!(Instant::now() < deadline, "the workers did not finish\n{}", logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let ledger = Ledger::open(&ledger_db.url).await.unwrap();
    let actions = ledger.actions(&ActionFilter { kind: Some("archive".into()), ..Default::default() }).await.unwrap();
    ledger.close().await;
    assert_eq!(actions.len(), total);
    for a in &actions {
        assert_eq!(a.status, ActionStatus::Done, "{} {:?}\n{}", a.key, a.last_error, logs());
        assert_eq!(a.attempts, 1, "{} leased {} times\n{}", a.key, a.attempts, logs());
        assert!(a.output_path.as_deref().is_some_and(|p| p.ends_with("bbb-migrate-manifest.json")));
    }
    let holders: std::collections::BTreeSet<_> = actions.iter().filter_map(|a| a.lease_owner.clone()).collect();
    assert_eq!(holders.len(), 2, "both workers took a share: {holders:?}");
    assert_eq!(files(&archive), expected, "the same files and checksums as a local run");
    assert!(front.tokens_consumed() > consumed_before, "the workers opened fresh links");

    let out = run(cmd(), &["archive", dir, "--verify", "--state", "published"]);
    assert!(out.contains(&format!("verify: {total} recording(s) complete and matching")), "{out}");
    let out = run(cmd(), &["archive", dir, "--state", "published", "--queue"]);
    assert_eq!(queued(&out), 0, "{out}");
    assert!(out.contains(&format!("{total} already done")), "{out}");

    drop(workers);
    // The topology's names depend on the retry policy: the workers'.
    let mut config = migrate_queue::QueueConfig::new(amqp_url()).with_queue(&queue);
    config.retry = migrate_queue::RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(30 * 60),
    };
    if let Ok(admin) = migrate_queue::Admin::connect(&config).await {
        let _ = admin.delete_all().await;
        let _ = admin.close().await;
    }
    ledger_db.drop().await;
}
