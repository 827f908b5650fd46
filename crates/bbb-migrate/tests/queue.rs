//! `migrate --queue`, `worker`, `status`, `retry` and `report` as subprocesses, against the demo server, the
//! real RabbitMQ (a unique queue per test, deleted at the end) and a PostgreSQL ledger in its own throw-away
//! database: workers in separate processes, one killed with SIGKILL mid-render, a poison recording, a plan
//! published twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use migrate_db::sqlx;
use migrate_db::with_db;
use migrate_demo::{DemoServer, ServerOptions};
use migrate_ledger::{ActionFilter, ActionRow, ActionStatus, Ledger};
use migrate_testdb::{Engine, TestDb};
use serde_json::Value;

fn amqp_url() -> String {
    std::env::var("MIGRATE_QUEUE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// One test's world: the demo server, its Pod, a PostgreSQL ledger, a queue name, and the workers it started.
struct World {
    server: DemoServer,
    dir: tempfile::TempDir,
    pod_url: String,
    ledger_db: Option<TestDb>,
    queue: String,
    extra_env: Vec<(String, String)>,
    workers: Vec<Child>,
}

impl World {
    async fn new(server: DemoServer, test: &str, extra_env: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let pod_url = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
        let ledger_db = TestDb::create(Engine::Postgres, &[]).await;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let queue = format!("bbbm-test.{test}.{}.{nanos}", std::process::id());
        let extra_env = extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        World { server, dir, pod_url, ledger_db: Some(ledger_db), queue, extra_env, workers: Vec::new() }
    }

    fn ledger_url(&self) -> &str {
        &self.ledger_db.as_ref().unwrap().url
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bbb-migrate"));
        cmd.current_dir(self.dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env_remove("BBB_MIGRATE_LOG")
            .env("BBB_MIGRATE_SOURCE__URL", self.server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", self.server.secret())
            .env("BBB_MIGRATE_POD__DATABASE", &self.pod_url)
            .env("BBB_MIGRATE_POD__SECRET_KEY", "test-secret-key")
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\", \"metadata\"]")
            .env("BBB_MIGRATE_OWNERS__METADATA_USERNAME_KEYS", "[\"bbb-context-label\"]")
            .env("BBB_MIGRATE_LEDGER__DATABASE", self.ledger_url())
            .env("BBB_MIGRATE_QUEUE__AMQP_URL", amqp_url())
            .env("BBB_MIGRATE_QUEUE__QUEUE", &self.queue)
            .env("BBB_MIGRATE_QUEUE__SHUTDOWN_GRACE_SECS", "20");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start_worker(&mut self) -> u32 {
        let log = std::fs::File::create(self.dir.path().join(format!("worker-{}.log", self.workers.len()))).unwrap();
        let child = self.command().args(["-v", "worker"]).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let pid = child.id();
        self.workers.push(child);
        pid
    }

    fn worker_logs(&self) -> String {
        (0..self.workers.len())
            .map(|i| std::fs::read_to_string(self.dir.path().join(format!("worker-{i}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    /// SIGTERM to every live worker; each must exit on its own, successfully, within a few seconds.
    fn stop_workers(&mut self) {
        for child in &self.workers {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for child in &mut self.workers {
            loop {
                match child.try_wait().unwrap() {
                    Some(status) => {
                        // A worker killed on purpose shows as signalled; the others must exit cleanly.
                        use std::os::unix::process::ExitStatusExt;
                        assert!(status.success() || status.signal() == Some(9), "worker exit: {status:?}");
                        break;
                    }
                    None if Instant::now() > deadline => {
                        let _ = child.kill();
                        panic!("a worker did not stop within 20 s of SIGTERM");
                    }
                    None => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.workers.clear();
    }

    async fn actions(&self, kind: &str) -> Vec<ActionRow> {
        let ledger = Ledger::open(self.ledger_url()).await.unwrap();
        let rows = ledger.actions(&ActionFilter { kind: Some(kind.into()), ..Default::default() }).await.unwrap();
        ledger.close().await;
        rows
    }

    async fn queue_counts(&self) -> migrate_queue::QueueCounts {
        let config = self.queue_config();
        let admin = migrate_queue::Admin::connect(&config).await.unwrap();
        let counts = admin.counts().await.unwrap();
        let _ = admin.close().await;
        counts
    }

    fn queue_config(&self) -> migrate_queue::QueueConfig {
        let mut config = migrate_queue::QueueConfig::new(amqp_url()).with_queue(&self.queue);
        // The topology's names depend on the retry policy: the same as the workers'.
        let attempts = self.env("BBB_MIGRATE_QUEUE__MAX_ATTEMPTS").map_or(5, |v| v.parse().unwrap());
        let delay = self.env("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS").map_or(30_000, |v| v.parse().unwrap());
        config.retry = migrate_queue::RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(delay),
            max_delay: Duration::from_secs(30 * 60),
        };
        config
    }

    fn env(&self, key: &str) -> Option<&str> {
        self.extra_env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Stops the workers, deletes the queues and the ledger database.
    async fn finish(mut self) {
        self.stop_workers();
        let config = self.queue_config();
        if let Ok(admin) = migrate_queue::Admin::connect(&config).await {
            let _ = admin.delete_all().await;
            let _ = admin.close().await;
        }
        if let Some(db) = self.ledger_db.take() {
            db.drop().await;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for child in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, world: &World, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\nworkers:\n{}", world.worker_logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Import rows and users, ids left out, sorted.
async fn pod_rows(pod_url: &str) -> Vec<String> {
    let db = migrate_db::Db::open(pod_url, Default::default()).await.unwrap();
    let sql = "SELECT e.name || '|' || e.source_url || '|' || u.username FROM import_video_externalrecording e \
               JOIN auth_user u ON u.id = e.owner_id";
    let mut rows: Vec<String> = with_db!(&db, pool => sqlx::query_scalar(sql).fetch_all(pool).await).unwrap();
    let mut users: Vec<String> =
        with_db!(&db, pool => sqlx::query_scalar("SELECT username FROM auth_user").fetch_all(pool).await).unwrap();
    db.close().await;
    rows.sort();
    users.sort();
    rows.extend(users.into_iter().map(|u| format!("user {u}")));
    rows
}

fn queued(out: &str) -> u64 {
    let n = out.split(" job(s) queued").next().and_then(|s| s.rsplit(' ').next()).unwrap_or_default();
    n.parse().unwrap_or_else(|_| panic!("no job count in {out}"))
}

/// A Pod on the local PostgreSQL (several worker processes write at once, which a SQLite Pod only takes one
/// process at a time): Pod 4.1's tables, the site, an administrator, and the demo's Pod meetings with their owners.
async fn postgres_pod(server: &DemoServer) -> TestDb {
    let db = TestDb::pod(Engine::Postgres).await;
    let mut sql = String::from(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
         is_active, date_joined) VALUES (1, '!', true, 'admin', 'Admin', 'Pod', 'admin@univ.fr', true, true, \
         '2024-01-01 08:00:00');\n",
    );
    let mut meetings = std::collections::BTreeSet::new();
    let mut users = BTreeMap::new();
    for demo in server.recordings() {
        let Some(number) = migrate_demo::pod_db::pod_meeting_number(demo) else { continue };
        if !meetings.insert(number) {
            continue;
        }
        let owner = migrate_demo::pod_db::owner_of_meeting(number);
        let next = 101 + users.len();
        let id = *users.entry(owner).or_insert(next);
        sql += &format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
             is_active, date_joined) SELECT {id}, '!', false, '{owner}', 'F', 'L', '{owner}@univ.fr', true, true, \
             '2024-01-01 08:00:00' WHERE NOT EXISTS (SELECT 1 FROM auth_user WHERE id = {id});\n"
        );
        sql += &format!(
            "INSERT INTO meeting (id, name, meeting_id, attendee_password, moderator_password, start_at, \
             expected_duration, frequency, monthly_type, is_restricted, is_running, max_participants, welcome_text, \
             webcam_only_for_moderators, record, auto_start_recording, allow_start_stop_recording, \
             lock_settings_disable_cam, lock_settings_disable_mic, lock_settings_disable_private_chat, \
             lock_settings_disable_public_chat, lock_settings_disable_note, lock_settings_locked_layout, is_personal, \
             created_at, updated_at, is_webinar, enable_chat, owner_id, site_id) VALUES ({number}, 'm', '{}', 'a', \
             'm', '2024-02-01 10:00:00', interval '2 hours', 1, 'date_day', false, false, 150, 'Bienvenue', false, \
             true, false, true, false, false, false, false, false, false, false, '2024-01-15 10:00:00', \
             '2024-03-01 10:00:00', false, false, {id}, 1);\n",
            demo.recording.meeting_id
        );
    }
    db.execute(&sql).await;
    db
}

/// Two workers on ~50 import jobs published twice: every action done by exactly one lease, the Pod rows are
/// exactly a local run's, a third publish queues nothing; status and report agree.
#[tokio::test(flavor = "multi_thread")]
async fn two_workers_import_like_a_local_run() {
    let server = DemoServer::start(ServerOptions { recordings: 50, ..Default::default() }).await.unwrap();
    // The reference: a local run into its own copy of the same Pod.
    let local_dir = tempfile::tempdir().unwrap();
    let local_db = postgres_pod(&server).await;
    let local_pod = local_db.url.clone();
    let queued_db = postgres_pod(&server).await;
    let mut world = World::new(server, "import", &[("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS", "200")]).await;
    world.pod_url = queued_db.url.clone();
    let out = world
        .command()
        .args(["migrate", "--mode", "import", "--report", "local.json"])
        .env("BBB_MIGRATE_POD__DATABASE", &local_pod)
        .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/ledger.sqlite", local_dir.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = pod_rows(&local_pod).await;
    assert!(expected.iter().filter(|r| !r.starts_with("user ")).count() >= 40, "{expected:?}");

    // Published twice before any worker runs: every job is in the queue twice.
    let first = queued(&world.run(&["migrate", "--mode", "import", "--queue"]));
    let second = queued(&world.run(&["migrate", "--mode", "import", "--queue"]));
    assert!(first >= 40, "{first}");
    assert_eq!(first, second, "nothing done yet: the same jobs again");
    assert_eq!(world.queue_counts().await.main as u64, 2 * first);
    assert_eq!(pod_rows(&world.pod_url).await.iter().filter(|r| !r.starts_with("user ")).count(), 0);

    world.start_worker();
    world.start_worker();
    let total = first as usize;
    wait_for("every import done", Duration::from_secs(60), &world, || async {
        let actions = world.actions("import").await;
        actions.len() == total && actions.iter().all(|a| a.status == ActionStatus::Done)
    })
    .await;
    wait_for("the duplicates acked", Duration::from_secs(30), &world, || async {
        let c = world.queue_counts().await;
        c.main == 0 && c.retry == 0
    })
    .await;
    let actions = world.actions("import").await;
    for a in &actions {
        assert_eq!(
            a.attempts,
            1,
            "{} was leased {} times: {:?}\n{}",
            a.key,
            a.attempts,
            a.last_error,
            world.worker_logs()
        );
    }
    let owners: std::collections::BTreeSet<&str> = actions.iter().filter_map(|a| a.lease_owner.as_deref()).collect();
    assert_eq!(owners.len(), 2, "both workers took a share: {owners:?}");
    assert_eq!(pod_rows(&world.pod_url).await, expected, "the same rows as a local run, none twice");
    assert_eq!(world.queue_counts().await.dead, 0);

    // A third publish: everything is done, nothing is queued.
    let out = world.run(&["migrate", "--mode", "import", "--queue"]);
    assert_eq!(queued(&out), 0, "{out}");
    assert!(out.contains(&format!("{total} already done")), "{out}");
    assert!(!out.contains("guest:guest"), "the AMQP password is masked: {out}");

    let status: Value = serde_json::from_str(&world.run(&["status", "--format", "json"])).unwrap();
    assert_eq!(status["kinds"]["import"]["done"], total as u64, "{status}");
    assert_eq!(status["kinds"]["import"]["failed"], 0);
    assert_eq!(status["kinds"]["import"]["pending"], 0);
    assert!(status["rate_per_minute"].as_f64().unwrap() > 0.0, "{status}");
    assert_eq!(status["queue"]["waiting"], 0, "{status}");
    assert!(!status.to_string().contains("guest:guest"));
    let table = world.run(&["status"]);
    assert!(table.contains("import") && table.contains(&total.to_string()), "{table}");

    world.run(&["report", "--format", "html", "-o", "report.html"]);
    let html = std::fs::read_to_string(world.dir.path().join("report.html")).unwrap();
    assert!(html.contains("Per origin") && html.contains("Per owner"), "report sections");
    assert!(html.contains(&format!("<div class=card><b>{total}</b>done</div>")), "done total in the report");
    assert!(!html.contains("<script"), "no script, every remote value escaped");
    world.run(&["report", "--format", "json", "-o", "report.json"]);
    let report: Value = serde_json::from_slice(&std::fs::read(world.dir.path().join("report.json")).unwrap()).unwrap();
    let per_origin: BTreeMap<String, Value> = serde_json::from_value(report["per_origin"].clone()).unwrap();
    let origin_total: u64 = per_origin.values().map(|c| c["total"].as_u64().unwrap()).sum();
    assert_eq!(origin_total, total as u64);
    assert!(report["hours_migrated"].as_f64().unwrap() > 0.0);
    world.finish().await;
    local_db.drop().await;
    queued_db.drop().await;
}

/// Meetings to select — two short presentations to render and one recording with a video playback (the copy
/// made a poison), each alone in its meeting — and the catalogue seed that has them.
fn claim_meetings(recordings: &[migrate_demo::DemoRecording]) -> Option<Vec<String>> {
    let alone = |m: &str| recordings.iter().filter(|d| d.recording.meeting_id == m).count() == 1;
    let usable = |d: &&migrate_demo::DemoRecording| {
        d.recording.published && !d.recording.formats.is_empty() && alone(&d.recording.meeting_id)
    };
    let renders = recordings.iter().filter(usable).filter(|d| !d.has_video_format && d.duration_ms < 150_000);
    let copy = recordings.iter().filter(usable).find(|d| d.has_video_format)?;
    let mut meetings: Vec<String> = renders.take(2).map(|d| d.recording.meeting_id.clone()).collect();
    (meetings.len() == 2).then(|| {
        meetings.push(copy.recording.meeting_id.clone());
        meetings
    })
}

fn claim_seed() -> u64 {
    (0..5_000u64)
        .find(|seed| {
            let mut options = migrate_demo::CatalogueOptions::new(30, "http://127.0.0.1:1/");
            options.seed = *seed;
            claim_meetings(&migrate_demo::generate(&options)).is_some()
        })
        .expect("a catalogue with two short presentations")
}

/// Claim mode through the queue: a worker killed with SIGKILL mid-render has its job taken over once its lease
/// expires (one file, no temporary left); a recording whose files are gone is failed with its reason and
/// dead-lettered after queue.max_attempts while the others complete; `retry --failed` sends it round again.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_takeover_and_a_poison_recording() {
    let seed = claim_seed();
    let server = DemoServer::start(ServerOptions { recordings: 30, seed, ..Default::default() }).await.unwrap();
    let meetings = claim_meetings(server.recordings()).unwrap();
    let env = [
        ("BBB_MIGRATE_QUEUE__MAX_ATTEMPTS", "3"),
        ("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS", "300"),
        ("BBB_MIGRATE_QUEUE__LEASE_SECS", "3"),
        ("BBB_MIGRATE_POD__RECORDER_ID", "1"),
    ];
    let mut world = World::new(server, "claim", &env).await;
    let recorder_path = world.dir.path().join("ftp");
    let target: PathBuf = recorder_path.join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    std::fs::create_dir_all(&target).unwrap();
    world.extra_env.push(("BBB_MIGRATE_POD__RECORDER_PATH".into(), recorder_path.display().to_string()));

    let selection: Vec<&str> = meetings.iter().flat_map(|m| ["--meeting", m.as_str()]).collect();
    let args = [&["migrate", "--mode", "claim", "--queue"][..], &selection].concat();
    let plan: Value =
        serde_json::from_str(&world.run(&[&["plan", "--mode", "claim", "--format", "json"][..], &selection].concat()))
            .unwrap();
    let items = plan["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{plan}");
    // The poison: the copy (its video file answers 404 from now on).
    let poison = items.iter().find(|i| i["method"]["kind"] == "copy").unwrap();
    let poison_id = poison["record_id"].as_str().unwrap().to_owned();
    world.server.break_recording(&poison_id);
    assert_eq!(queued(&world.run(&args)), 3);

    let first = world.start_worker();
    let second = world.start_worker();
    // Wait for a render under way, then SIGKILL the worker holding its lease.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim: u32 = loop {
        assert!(Instant::now() < deadline, "no render under way\n{}", world.worker_logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let hidden =
            std::fs::read_dir(&target).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with('.'));
        if !hidden {
            continue;
        }
        let running = world
            .actions("claim")
            .await
            .into_iter()
            .find(|a| a.status == ActionStatus::Running && a.details["method"]["kind"] == "render");
        if let Some(pid) =
            running.and_then(|a| a.lease_owner).and_then(|o| o.rsplit_once(':').map(|(_, p)| p.to_owned()))
        {
            break pid.parse().unwrap();
        }
    };
    assert!(victim == first || victim == second, "the lease holder {victim} is one of our workers");
    std::process::Command::new("kill").args(["-KILL", &victim.to_string()]).status().unwrap();
    world.start_worker();

    wait_for("both renders done and the poison dead-lettered", Duration::from_secs(100), &world, || async {
        let actions = world.actions("claim").await;
        let done = actions.iter().filter(|a| a.status == ActionStatus::Done).count();
        let failed =
            actions.iter().any(|a| a.status == ActionStatus::Failed && a.record_id.as_deref() == Some(&poison_id));
        done == 2 && failed && world.queue_counts().await.dead == 1
    })
    .await;
    let actions = world.actions("claim").await;
    let poisoned = actions.iter().find(|a| a.record_id.as_deref() == Some(&poison_id)).unwrap();
    assert_eq!(poisoned.attempts, 3, "tried queue.max_attempts times");
    let reason = poisoned.last_error.clone().unwrap();
    assert!(reason.contains("video-0.m4v"), "{reason}");
    let taken_over = actions.iter().filter(|a| a.status == ActionStatus::Done).filter(|a| a.attempts >= 2).count();
    assert_eq!(taken_over, 1, "the killed worker's render was taken over once: {actions:#?}");

    // One finished file per render, nothing else: no .part, no hidden temporary of the killed render.
    let mut names: Vec<String> =
        std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut expected: Vec<String> = items
        .iter()
        .filter(|i| i["record_id"] != poison_id.as_str())
        .map(|i| i["file_name"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for a in actions.iter().filter(|a| a.status == ActionStatus::Done) {
        let file = target.join(Path::new(a.output_path.as_deref().unwrap()).file_name().unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().len(), a.output_size.unwrap(), "{}", file.display());
    }

    let status: Value = serde_json::from_str(&world.run(&["status", "--format", "json"])).unwrap();
    assert_eq!(status["kinds"]["claim"]["done"], 2, "{status}");
    assert_eq!(status["kinds"]["claim"]["failed"], 1);
    assert!(status["failed"][0]["error"].as_str().unwrap().contains("video-0.m4v"));
    assert_eq!(status["queue"]["dead"], 1);

    world.run(&["report", "--format", "html", "-o", "claim.html"]);
    let html = std::fs::read_to_string(world.dir.path().join("claim.html")).unwrap();
    assert!(html.contains("Failures (1)") && html.contains("video-0.m4v"), "the failure and its reason");
    assert!(html.contains("src=\"data:image/png;base64,"), "thumbnails embedded");
    assert!(!html.contains(&world.server.web_root()), "self-contained: no link to the old server");

    // After a "fix": retry sends the poison round again (it fails again: the files are still gone).
    let out = world.run(&["retry", "--failed"]);
    assert!(
        out.contains("1 failed action(s) put back to pending") && out.contains("1 dead letter(s) moved back"),
        "{out}"
    );
    wait_for("the poison dead again", Duration::from_secs(30), &world, || async {
        let a = world.actions("claim").await.into_iter().find(|a| a.record_id.as_deref() == Some(&poison_id)).unwrap();
        a.status == ActionStatus::Failed && a.attempts == 6 && world.queue_counts().await.dead == 1
    })
    .await;
    world.finish().await;
}

/// Without a queue, `retry --failed` resets and says to rerun migrate; `migrate --queue` refuses clearly.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_queue() {
    let server = DemoServer::start(ServerOptions { recordings: 5, ..Default::default() }).await.unwrap();
    let world = World::new(server, "noqueue", &[]).await;
    let out = world.command().env_remove("BBB_MIGRATE_QUEUE__AMQP_URL").args(["retry", "--failed"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 failed action(s) put back") && text.contains("rerun `bbb-migrate migrate"), "{text}");
    let out = world
        .command()
        .env_remove("BBB_MIGRATE_QUEUE__AMQP_URL")
        .args(["migrate", "--mode", "import", "--queue"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue.amqp_url is not set"));
    world.finish().await;
}
