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
use migrate_demo::{DemoServer, ServerOptions};
use migrate_ledger::{ActionFilter, ActionStatus, Ledger};
use migrate_testdb::{Engine, TestDb};

fn amqp_url() -> String {
    std::env::var("MIGRATE_QUEUE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn command(dir: &Path, front: &ProtectedFront, secret: &str, ledger: &str, queue: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bbb-migrate"));
    cmd.current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env_remove("BBB_MIGRATE_LOG")
        .env_remove("BBB_MIGRATE_POD__DATABASE")
        .env("BBB_MIGRATE_SOURCE__URL", front.api_url())
        .env("BBB_MIGRATE_SOURCE__SECRET", secret)
        .env("BBB_MIGRATE_LEDGER__DATABASE", ledger)
        .env("BBB_MIGRATE_QUEUE__AMQP_URL", amqp_url())
        .env("BBB_MIGRATE_QUEUE__QUEUE", queue)
        .env("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS", "200");
    cmd
}

fn run(mut cmd: std::process::Command, args: &[&str]) -> String {
    let out = cmd.args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?} failed:\n{text}");
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
    let media = work.path().join("media");
    let options = ServerOptions {
        recordings: 12,
        media_dir: Some(media.clone()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        ..ServerOptions::default()
    };
    let server = DemoServer::start(options).await.unwrap();
    migrate_demo::media::stand_in_media(&media, server.recordings(), |_| 30_000).unwrap();
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
    let published =
        server.recordings().iter().filter(|d| d.recording.published && !d.recording.formats.is_empty()).count();
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
