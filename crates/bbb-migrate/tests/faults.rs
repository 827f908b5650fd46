//! Fault injection: the real `bbb-migrate` binary against the demo old server misbehaving on purpose (5xx,
//! answers that never come, connections closed mid-body, truncated or foreign XML, published files missing or
//! damaged), Pod databases on the local PostgreSQL and MariaDB losing their connections or refusing writes,
//! RabbitMQ dropped under a worker, the recorder's disk filling up, and the tool itself SIGKILLed at random
//! points. After each: every failure is reported with its cause, and a rerun leaves exactly the state of a clean
//! run — the same Pod rows (read back, sorted, duplicates kept so that a row made twice shows), the same files
//! byte for byte, no temporary file left, every ledger action done and none stuck as leased.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use migrate_db::sqlx::{self, Connection};
use migrate_db::with_db;
use migrate_demo::{DemoServer, Fault, ServerOptions};
use migrate_ledger::{ActionFilter, ActionRow, ActionStatus, Ledger};
use migrate_testdb::{Engine, TestDb};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------------------
// The tool, its Pod and what a user would look at afterwards.
// ---------------------------------------------------------------------------------------------------------------

/// One `bbb-migrate` set-up: a working directory (ledger, reports), the server, a Pod, extra settings.
struct Tool {
    dir: tempfile::TempDir,
    api_url: String,
    secret: String,
    pod_url: String,
    env: Vec<(String, String)>,
}

impl Tool {
    fn new(server: &DemoServer, pod_url: &str) -> Tool {
        let dir = tempfile::tempdir().unwrap();
        Tool {
            dir,
            api_url: server.api_url(),
            secret: server.secret().to_owned(),
            pod_url: pod_url.to_owned(),
            env: vec![
                // Short limits, so that a hanging server costs a second, not half a minute.
                ("BBB_MIGRATE_SOURCE__TIMEOUT_SECS".into(), "1".into()),
                ("BBB_MIGRATE_SOURCE__RETRIES".into(), "1".into()),
            ],
        }
    }

    fn with(mut self, key: &str, value: &str) -> Tool {
        self.set(key, value);
        self
    }

    fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    fn ledger_url(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "BBB_MIGRATE_LEDGER__DATABASE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("sqlite://{}/ledger.sqlite", self.dir.path().display()))
    }

    fn command(&self) -> std::process::Command {
        #[allow(deprecated)]
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bbb-migrate"));
        cmd.current_dir(self.dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env_remove("BBB_MIGRATE_LOG")
            .env("BBB_MIGRATE_SOURCE__URL", &self.api_url)
            .env("BBB_MIGRATE_SOURCE__SECRET", &self.secret)
            .env("BBB_MIGRATE_POD__DATABASE", &self.pod_url)
            .env("BBB_MIGRATE_POD__SECRET_KEY", "test-secret-key")
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\", \"metadata\"]")
            .env("BBB_MIGRATE_OWNERS__METADATA_USERNAME_KEYS", "[\"bbb-context-label\"]")
            .env("BBB_MIGRATE_LEDGER__DATABASE", self.ledger_url())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn report(&self, name: &str) -> Value {
        let path = self.dir.path().join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn actions(&self, kind: &str) -> Vec<ActionRow> {
        let ledger = Ledger::open(&self.ledger_url()).await.unwrap();
        let rows = ledger.actions(&ActionFilter { kind: Some(kind.into()), ..Default::default() }).await.unwrap();
        ledger.close().await;
        rows
    }

    /// Every action of `kind` done, none running (no lease of a dead process left behind), `expected` of them.
    async fn assert_ledger_done(&self, kind: &str, expected: usize) {
        let actions = self.actions(kind).await;
        let stuck: Vec<_> = actions.iter().filter(|a| a.status != ActionStatus::Done).collect();
        assert!(stuck.is_empty(), "{kind} actions not done: {stuck:#?}");
        assert_eq!(actions.len(), expected, "{kind} actions");
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The failed outcomes of a report, by record ID, with their detail.
fn failures(report: &Value) -> BTreeMap<String, String> {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "failed")
        .map(|o| (o["record_id"].as_str().unwrap().to_owned(), o["detail"].as_str().unwrap().to_owned()))
        .collect()
}

/// Every row of the tables import mode writes, ids left out, sorted, duplicates kept: the state two runs must
/// agree on (external recordings with their owner, users with their profile, site memberships, home folders).
async fn pod_state(url: &str) -> Vec<String> {
    let db = migrate_db::Db::open(url, Default::default()).await.unwrap();
    let mysql = db.engine() == migrate_db::Engine::MySql;
    let cat = |parts: &[&str]| {
        if mysql {
            format!("CONVERT(CONCAT({}) USING utf8mb4)", parts.join(", '|', "))
        } else {
            parts.join(" || '|' || ")
        }
    };
    let txt = |col: &str| {
        if mysql {
            format!("COALESCE(CAST({col} AS CHAR), '-')")
        } else {
            format!("COALESCE(CAST({col} AS TEXT), '-')")
        }
    };
    let queries = [
        format!(
            "SELECT {} FROM import_video_externalrecording e JOIN auth_user u ON u.id = e.owner_id",
            cat(&[
                "'external'",
                "e.name",
                "e.source_url",
                "u.username",
                &txt("e.site_id"),
                "e.type",
                &txt("e.start_at")
            ])
        ),
        format!(
            "SELECT {} FROM auth_user u LEFT JOIN authentication_owner o ON o.user_id = u.id",
            cat(&["'user'", "u.username", "u.email", &txt("o.hashkey"), &txt("o.auth_type"), &txt("o.affiliation")])
        ),
        format!(
            "SELECT {} FROM authentication_owner_sites s JOIN authentication_owner o ON o.id = s.owner_id \
             JOIN auth_user u ON u.id = o.user_id",
            cat(&["'site'", "u.username", &txt("s.site_id")])
        ),
        format!(
            "SELECT {} FROM podfile_userfolder f JOIN auth_user u ON u.id = f.owner_id",
            cat(&["'folder'", "u.username", "f.name"])
        ),
    ];
    let mut rows = Vec::new();
    for sql in &queries {
        let part: Vec<String> = with_db!(&db, pool => sqlx::query_scalar(sql.as_str()).fetch_all(pool).await)
            .unwrap_or_else(|e| {
                panic!("{sql}: {e}");
            });
        rows.extend(part);
    }
    db.close().await;
    rows.sort();
    rows
}

fn externals(state: &[String]) -> usize {
    state.iter().filter(|r| r.starts_with("external|")).count()
}

/// No row of `state` twice.
fn assert_no_duplicates(state: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for row in state {
        assert!(seen.insert(row), "row written twice: {row}");
    }
}

/// A Pod 4.1 database on the local PostgreSQL or MariaDB with its site and an administrator (the fallback owner).
async fn server_pod(engine: Engine) -> TestDb {
    let db = TestDb::pod(engine).await;
    let yes = if matches!(engine, Engine::Postgres) { "true" } else { "1" };
    let mut sql = format!(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
         is_active, date_joined) VALUES (1, '!', {yes}, 'admin', 'Admin', 'Pod', 'admin@univ.fr', {yes}, {yes}, \
         '2024-01-01 08:00:00');\n"
    );
    if matches!(engine, Engine::Postgres) {
        // An explicit id leaves PostgreSQL's identity behind; Pod's own rows never do.
        sql += "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT MAX(id) FROM auth_user));\n";
    }
    db.execute(&sql).await;
    db
}

/// Back to what [`server_pod`] made: every row import mode writes deleted (a Pod server database costs seconds to
/// create; the clean run and the faulty one take turns in the same one).
async fn reset_pod(db: &TestDb) {
    db.execute(
        "DELETE FROM import_video_externalrecording; DELETE FROM authentication_owner_sites; \
         DELETE FROM podfile_userfolder; DELETE FROM authentication_owner; DELETE FROM auth_user WHERE id <> 1;",
    )
    .await;
}

/// The demo Pod (SQLite, every Pod table, recorder 1) for `server`, in `dir`.
async fn sqlite_pod(dir: &Path, name: &str, server: &DemoServer) -> String {
    migrate_demo::pod_db::create(&dir.join(name), server.recordings()).await.unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Claim mode's world: recordings with a small real video playback, the recorder directory, the files.
// ---------------------------------------------------------------------------------------------------------------

/// A demo server whose `n` recordings all have a `video` playback, each a real, distinct, small MP4 (2–4 s,
/// 320×240, made here with ffmpeg into the server's media cache): claim mode copies them instead of rendering,
/// which keeps the claim scenarios at a second or two each. `advertised` is the size getRecordings announces.
/// Byte ranges are honoured, as nginx does: an interrupted copy is resumed, not fetched again.
async fn video_server(n: usize, advertised: u64) -> (DemoServer, tempfile::TempDir) {
    let media = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        recordings: n,
        media_dir: Some(media.path().to_owned()),
        byte_ranges: true,
        ..Default::default()
    };
    let server = DemoServer::start_adjusted(options, SocketAddr::from(([127, 0, 0, 1], 0)), |web_root, recordings| {
        for demo in recordings.iter_mut() {
            demo.set_video_playback(web_root, advertised);
        }
    })
    .await
    .unwrap();
    for (i, demo) in server.recordings().iter().enumerate() {
        let spec = migrate_demo::published::video_playback_file(demo).unwrap();
        let out = media.path().join(spec.file_name());
        let seconds = 2 + i % 3;
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc=size=320x240:rate=10:duration={seconds}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={}:duration={seconds}", 300 + 40 * i))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart", "-f", "mp4"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg made the stand-in video");
    }
    (server, media)
}

/// The published recordings of a claim server (those claim mode works on).
fn published(server: &DemoServer) -> Vec<String> {
    let mut recs: Vec<_> =
        server.recordings().iter().filter(|d| d.recording.published && !d.recording.formats.is_empty()).collect();
    recs.sort_by_key(|d| std::cmp::Reverse(d.recording.start_time));
    recs.into_iter().map(|d| d.recording.record_id.clone()).collect()
}

/// `tool` set up for claim mode into `recorder_path`; returns the recorder directory.
fn claim_into(tool: &mut Tool, recorder_path: &Path) -> PathBuf {
    let target = recorder_path.join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    std::fs::create_dir_all(&target).unwrap();
    tool.set("BBB_MIGRATE_POD__RECORDER_ID", "1");
    tool.set("BBB_MIGRATE_POD__RECORDER_PATH", recorder_path.to_str().unwrap());
    target
}

const CLAIM: &[&str] = &["migrate", "--mode", "claim", "--state", "published", "--jobs", "1", "--report"];

/// Every file of a directory (hidden temporaries and `.part` files included) with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Names only, for messages.
fn names(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&str, usize)> {
    files.iter().map(|(n, b)| (n.as_str(), b.len())).collect()
}

/// The file name a claim plan gives each recording.
fn planned_files(tool: &Tool) -> BTreeMap<String, String> {
    plan_order(tool).into_iter().collect()
}

/// The claim plan's items in order (the order a `--jobs 1` run works in): record ID and file name.
fn plan_order(tool: &Tool) -> Vec<(String, String)> {
    let plan: Value =
        serde_json::from_str(&tool.ok(&["plan", "--mode", "claim", "--state", "published", "--format", "json"]))
            .unwrap();
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["record_id"].as_str().unwrap().to_owned(), i["file_name"].as_str().unwrap().to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The old server misbehaving.
// ---------------------------------------------------------------------------------------------------------------

/// getRecordings answering 5xx, hanging past `source.timeout_secs`, closing the connection mid-body, sending
/// half its XML or an HTML error page — on the second page of the listing, after the retries: each run stops
/// before writing anything, saying which page and why (never with the secret); faults that clear up within the
/// retries are absorbed; the rerun's Pod is exactly a clean run's.
#[tokio::test(flavor = "multi_thread")]
async fn old_server_faults_are_reported_and_a_rerun_converges() {
    let server = DemoServer::start(ServerOptions { recordings: 14, ..Default::default() }).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let clean_pod = sqlite_pod(work.path(), "clean.sqlite", &server).await;
    let faulty_pod = sqlite_pod(work.path(), "faulty.sqlite", &server).await;
    let clean = Tool::new(&server, &clean_pod).with("BBB_MIGRATE_SOURCE__PAGE_SIZE", "5");
    clean.ok(&["migrate", "--mode", "import", "--report", "r.json"]);
    let expected = pod_state(&clean_pod).await;
    assert!(externals(&expected) >= 8, "{expected:?}");

    let tool = Tool::new(&server, &faulty_pod).with("BBB_MIGRATE_SOURCE__PAGE_SIZE", "5");
    let untouched = pod_state(&faulty_pod).await;
    // Each fault twice: the first attempt and the one retry (source.retries = 1); page 1 passes.
    let cases: [(&str, Fault, &[&str]); 5] = [
        ("5xx", Fault::Status(503), &["getRecordings (page 2)", "HTTP 503 after 2 attempt(s)"]),
        ("hang", Fault::Delay(Duration::from_secs(3)), &["getRecordings (page 2)", "no answer within 1 s"]),
        ("cut off", Fault::CutOff, &["getRecordings (page 2)", "closed the connection mid-answer after 2 attempt(s)"]),
        ("truncated", Fault::Truncate, &["getRecordings (page 2", "malformed answer after 2 attempt(s)"]),
        ("garbage", Fault::Garbage, &["getRecordings (page 2", "malformed answer after 2 attempt(s)"]),
    ];
    for (what, fault, expected_words) in cases {
        server.inject([Fault::Pass, fault.clone(), fault]);
        let started = Instant::now();
        let out = tool.run(&["migrate", "--mode", "import", "--report", "faulty.json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: the run must fail\n{}", text(&out));
        for word in expected_words {
            assert!(err.contains(word), "{what}: `{word}` missing from\n{err}");
        }
        assert!(!err.contains(&tool.secret) && !err.contains("checksum="), "{what}: no secret, no signed URL: {err}");
        assert!(started.elapsed() < Duration::from_secs(15), "{what}: took {:?}", started.elapsed());
        assert_eq!(server.pending_faults(), 0, "{what}: every fault was met");
        assert_eq!(pod_state(&faulty_pod).await, untouched, "{what}: nothing written before the listing is complete");
        assert!(!tool.dir.path().join("faulty.json").exists(), "{what}: no report of a run that did not start");
    }

    // Transient faults within the retries (source.retries = 3): absorbed, the run completes.
    let tool = tool.with("BBB_MIGRATE_SOURCE__RETRIES", "3");
    server.inject([Fault::Status(502), Fault::CutOff, Fault::Pass, Fault::Truncate, Fault::Garbage]);
    let out = tool.ok(&["migrate", "--mode", "import", "--report", "rerun.json"]);
    assert!(out.contains("0 failed"), "{out}");
    assert_eq!(server.pending_faults(), 0);
    let state = pod_state(&faulty_pod).await;
    assert_no_duplicates(&state);
    assert_eq!(state, expected, "the rerun's Pod is a clean run's");
    let again = tool.ok(&["migrate", "--mode", "import", "--report", "again.json"]);
    assert!(again.contains(" 0 done,"), "{again}");
    assert_eq!(pod_state(&faulty_pod).await, expected);
    tool.assert_ledger_done("import", tool.report("rerun.json")["done"].as_u64().unwrap() as usize).await;
}

/// Claim mode with one fault per recording on its video playback: missing (404 for both file names), 503, the
/// connection closed mid-file, no byte for longer than `source.timeout_secs`, half the file sent as if complete
/// (its `+faststart` header still names the whole duration), an HTML page instead of the video. Each of those
/// recordings fails with its cause, the healthy one is done, nothing incomplete gets a final name; the rerun
/// (the faults gone; the cut-off copy resumed with a byte range) gives the clean run's files byte for byte and
/// leaves no temporary file.
#[tokio::test(flavor = "multi_thread")]
async fn claim_file_faults_fail_only_their_recording() {
    let (server, _media) = video_server(9, 50_000).await;
    let ids = published(&server);
    assert!(ids.len() >= 7, "{ids:?}");
    let work = tempfile::tempdir().unwrap();
    let mut clean = Tool::new(&server, &sqlite_pod(work.path(), "clean.sqlite", &server).await);
    let clean_dir = claim_into(&mut clean, &work.path().join("ftp-clean"));
    clean.ok(&[CLAIM, &["clean.json"]].concat());
    let expected = files(&clean_dir);
    assert_eq!(expected.len(), ids.len(), "{:?}", names(&expected));

    let mut tool = Tool::new(&server, &sqlite_pod(work.path(), "faulty.sqlite", &server).await);
    // Same path length as the clean run's: Pod's 200-character limit shapes the file names.
    let dir = claim_into(&mut tool, &work.path().join("ftp-fault"));
    let plan = planned_files(&tool);
    let faults: [(&str, Vec<Fault>, &str); 6] = [
        ("404", vec![Fault::Status(404), Fault::Status(404)], "HTTP 404 for both video-0.m4v and capture.m4v"),
        ("503", vec![Fault::Status(503)], "503"),
        ("cut off", vec![Fault::CutOff], "body"),
        ("hang", vec![Fault::Delay(Duration::from_secs(4))], "stopped answering"),
        ("truncated", vec![Fault::Truncate], "incomplete or damaged"),
        ("garbage", vec![Fault::Garbage], "damaged"),
    ];
    for ((_, fault, _), id) in faults.iter().zip(&ids) {
        server.inject_file_faults(id, fault.clone());
    }
    let out = tool.run(&[CLAIM, &["faulty.json"]].concat());
    assert_eq!(out.status.code(), Some(2), "failures make exit status 2\n{}", text(&out));
    assert_eq!(server.pending_faults(), 0);
    let report = tool.report("faulty.json");
    let failed = failures(&report);
    for ((what, _, cause), id) in faults.iter().zip(&ids) {
        let detail = failed.get(id).unwrap_or_else(|| panic!("{what}: {id} not failed: {report:#}"));
        assert!(detail.contains(cause), "{what}: `{cause}` missing from `{detail}`");
        assert!(!dir.join(&plan[id]).exists(), "{what}: no file under the final name");
    }
    assert_eq!(failed.len(), faults.len(), "{failed:#?}");
    assert_eq!(report["done"].as_u64().unwrap() as usize, ids.len() - faults.len());
    let left = files(&dir);
    for id in &ids[faults.len()..] {
        assert!(left.get(&plan[id]) == expected.get(&plan[id]), "healthy recording copied");
    }
    // The copy cut off mid-file keeps what it received (Pod's scan ignores `.part`), for the rerun to resume.
    let cut = &left[&format!("{}.part", plan[&ids[2]])];
    let whole = &expected[&plan[&ids[2]]];
    assert!(!cut.is_empty() && cut.len() < whole.len() && whole.starts_with(cut), "{} of {}", cut.len(), whole.len());

    let out = tool.ok(&[CLAIM, &["rerun.json"]].concat());
    assert!(out.contains(&format!("{} done", faults.len())) && out.contains("0 failed"), "{out}");
    let got = files(&dir);
    assert_eq!(names(&got), names(&expected), "the same files, no temporary left");
    assert!(got == expected, "byte for byte the clean run's files");
    tool.assert_ledger_done("claim", ids.len()).await;
}

/// A wrong secret: the server's checksumError, said as "check source.secret", with neither the configured
/// secret nor the server's one anywhere in what the run prints or logs; then, fixed, a run whose debug log and
/// report hold no secret either.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_named_and_never_printed() {
    let server = DemoServer::start(ServerOptions { recordings: 4, ..Default::default() }).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let pod = sqlite_pod(work.path(), "pod.sqlite", &server).await;
    let wrong = "wr0ng-Secret-4f1c9e";
    let mut tool = Tool::new(&server, &pod);
    tool.secret = wrong.to_owned();
    let log = tool.dir.path().join("log.jsonl");
    for args in [
        &["-vv", "--log-file", log.to_str().unwrap(), "migrate", "--mode", "import", "--report", "r.json"][..],
        &["-vv", "inventory"],
        &["config", "check"],
        &["doctor"],
    ] {
        let out = tool.run(args);
        assert!(!out.status.success(), "{args:?}: a wrong secret fails\n{}", text(&out));
        let all = text(&out);
        assert!(all.contains("source.secret"), "{args:?}: the key to fix is named\n{all}");
        assert!(all.contains("secret"), "{all}");
        assert!(!all.contains(wrong) && !all.contains(server.secret()), "{args:?}: a secret was printed\n{all}");
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("source.secret"), "{logged}");
    assert!(!logged.contains(wrong) && !logged.contains(server.secret()), "{logged}");
    assert!(!tool.dir.path().join("r.json").exists());

    // The right secret, fixed: the run works, and neither its debug log nor its report holds the secret or
    // Pod's secret key.
    tool.secret = server.secret().to_owned();
    let out =
        tool.run(&["-vv", "--log-file", log.to_str().unwrap(), "migrate", "--mode", "import", "--report", "r.json"]);
    assert!(out.status.success(), "{}", text(&out));
    let everything = [
        text(&out),
        std::fs::read_to_string(&log).unwrap(),
        std::fs::read_to_string(tool.dir.path().join("r.json")).unwrap(),
    ]
    .join("\n");
    assert!(everything.contains("getRecordings"), "the debug log is there: {everything}");
    assert!(!everything.contains(server.secret()) && !everything.contains("test-secret-key"), "{everything}");
}

// ---------------------------------------------------------------------------------------------------------------
// 2. The disk filling up.
// ---------------------------------------------------------------------------------------------------------------

/// A tmpfs mounted for the test, unmounted (lazily, so a failed assertion cannot leave it busy) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, bytes: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0755"), "bbbm-faults"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(dir.to_owned()))
    }

    fn resize(&self, bytes: u64) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

const PAGE: u64 = 4096;

fn pages(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(PAGE)
}

/// The recorder directory is a tmpfs just too small for one of three videos (the server advertises tiny
/// sizes, so the free-space check before the run passes — a disk filled by someone else meanwhile looks the
/// same). That recording fails with "No space left on device", its `.part` is removed (it would only hold the
/// space), the videos before and after it are complete and intact; once space is freed the rerun completes with
/// the clean run's files.
///
/// Needs `mount -t tmpfs` (root, or CAP_SYS_ADMIN): where mounting is not permitted the scenario is skipped
/// with a notice on stderr rather than faked — an injected writer would not test the real ENOSPC path.
#[tokio::test(flavor = "multi_thread")]
async fn disk_full_while_writing_a_video() {
    let (server, _media) = video_server(4, 1_000).await;
    let ids = published(&server);
    assert!(ids.len() >= 3, "{ids:?}");
    let work = tempfile::tempdir().unwrap();
    let mut clean = Tool::new(&server, &sqlite_pod(work.path(), "clean.sqlite", &server).await);
    let clean_dir = claim_into(&mut clean, &work.path().join("ftp-clean"));
    let order = plan_order(&clean);
    let plan: BTreeMap<String, String> = order.iter().cloned().collect();
    let ids: Vec<String> = order.into_iter().map(|(id, _)| id).collect();
    clean.ok(&[CLAIM, &["clean.json"]].concat());
    let expected = files(&clean_dir);
    let sizes: Vec<usize> = ids.iter().map(|id| expected[&plan[id]].len()).collect();
    // The victim: the second video if those after it fit in its place, else the last one. The disk holds
    // everything before it and one page less than it: it cannot fit, and once its `.part` is gone the ones after
    // it do.
    let p: Vec<u64> = sizes.iter().map(|s| pages(*s)).collect();
    let v = if p[2..].iter().sum::<u64>() < p[1] { 1 } else { ids.len() - 1 };
    let victim = &ids[v];
    let room = PAGE * (p[..v].iter().sum::<u64>() + p[v] - 1);
    let recorder_path = work.path().join("ftp-fault");
    let target = recorder_path.join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    let disk = match Tmpfs::mount(&target, room) {
        Ok(disk) => disk,
        Err(e) => {
            eprintln!("disk_full_while_writing_a_video: skipped, cannot mount a tmpfs here: {e}");
            return;
        }
    };
    let mut tool = Tool::new(&server, &sqlite_pod(work.path(), "faulty.sqlite", &server).await);
    claim_into(&mut tool, &recorder_path);
    let out = tool.run(&[CLAIM, &["full.json"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report = tool.report("full.json");
    let failed = failures(&report);
    assert_eq!(failed.keys().collect::<Vec<_>>(), [victim], "only the video that did not fit: {failed:#?}");
    assert!(failed[victim].contains("No space left on device"), "{}", failed[victim]);
    let got = files(&target);
    assert!(!got.contains_key(&plan[victim]), "no file under the final name");
    assert!(!got.keys().any(|n| n.ends_with(".part") || n.starts_with('.')), "no partial file left: {:?}", names(&got));
    for id in ids.iter().filter(|id| *id != victim) {
        assert!(got.get(&plan[id]) == expected.get(&plan[id]), "{id}: complete and intact");
    }

    disk.resize(64 << 20);
    let out = tool.ok(&[CLAIM, &["rerun.json"]].concat());
    assert!(out.contains("1 done") && out.contains("0 failed"), "{out}");
    let got = files(&target);
    assert_eq!(names(&got), names(&expected));
    assert!(got == expected, "byte for byte the clean run's files");
    tool.assert_ledger_done("claim", ids.len()).await;
    drop(disk);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Pod's database losing connections or refusing writes.
// ---------------------------------------------------------------------------------------------------------------

/// Kills every other connection to `db` on its server; how many were killed.
async fn kill_connections(engine: Engine, admin: &str, db: &str) -> usize {
    match engine {
        Engine::Postgres => {
            let Ok(mut conn) = sqlx::PgConnection::connect(admin).await else { return 0 };
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(db)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            let _ = conn.close().await;
            killed.into_iter().filter(|k| *k).count()
        }
        Engine::MariaDb => {
            let Ok(mut conn) = sqlx::MySqlConnection::connect(admin).await else { return 0 };
            let ids: Vec<u64> = sqlx::query_scalar(
                "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
            )
            .bind(db)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            let mut killed = 0;
            for id in ids {
                killed += sqlx::raw_sql(&format!("KILL {id}")).execute(&mut conn).await.is_ok() as usize;
            }
            let _ = conn.close().await;
            killed
        }
        Engine::Sqlite => unreachable!("SQLite has no connections to kill"),
    }
}

async fn external_count(db: &migrate_db::Db) -> i64 {
    let sql = "SELECT COUNT(*) FROM import_video_externalrecording";
    with_db!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap_or(0)
}

/// `migrate --mode import` on many recordings while a side connection kills every connection of the tool to
/// Pod's database, again and again, once the first rows are in: the run ends normally (no crash, a report),
/// each recording it could not write is failed with the database's message, the rerun completes and the Pod
/// equals a clean run's, nothing twice.
async fn connections_killed_mid_import(engine: Engine) {
    let server = DemoServer::start(ServerOptions { recordings: 90, ..Default::default() }).await.unwrap();
    let faulty_db = server_pod(engine).await;
    Tool::new(&server, &faulty_db.url).ok(&["migrate", "--mode", "import", "--jobs", "2", "--report", "r.json"]);
    let expected = pod_state(&faulty_db.url).await;
    let total = externals(&expected);
    assert!(total >= 60, "{total}");
    reset_pod(&faulty_db).await;

    let tool = Tool::new(&server, &faulty_db.url);
    let stderr = std::fs::File::create(tool.dir.path().join("stderr.log")).unwrap();
    let mut child = tool
        .command()
        .args(["migrate", "--mode", "import", "--jobs", "2", "--report", "killed.json"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let side = faulty_db.open(false).await;
    let admin = migrate_testdb::admin_url(engine);
    let deadline = Instant::now() + Duration::from_secs(30);
    while external_count(&side).await == 0 && child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no row written");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    side.close().await;
    let mut killed = 0;
    let mut rounds = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        killed += kill_connections(engine, &admin, &faulty_db.name).await;
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(tool.dir.path().join("stderr.log")).unwrap();
    assert!(killed >= 1, "the run ended before a connection could be killed ({rounds} rounds)\n{log}");
    assert!(matches!(status.code(), Some(0 | 2)), "the run ends normally, with its report: {status:?}\n{log}");
    let report = tool.report("killed.json");
    let failed = failures(&report);
    for (id, detail) in &failed {
        assert!(
            detail.contains("the connection to Pod's database was lost"),
            "{id}: the cause, said plainly: {detail}"
        );
    }
    if let Some(detail) = failed.values().next() {
        eprintln!("{engine:?}: e.g. {detail}");
    }
    let state = pod_state(&faulty_db.url).await;
    assert_no_duplicates(&state);
    eprintln!("{engine:?}: {killed} connection(s) killed in {rounds} round(s), {} recording(s) failed", failed.len());

    let out = tool.ok(&["migrate", "--mode", "import", "--jobs", "2", "--report", "rerun.json"]);
    assert!(out.contains("0 failed") && out.contains("0 busy"), "{out}");
    let state = pod_state(&faulty_db.url).await;
    assert_no_duplicates(&state);
    assert_eq!(state, expected, "the rerun's Pod is a clean run's");
    let imports = tool.actions("import").await.len();
    tool.assert_ledger_done("import", imports).await;
    faulty_db.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_connections_killed_mid_import() {
    connections_killed_mid_import(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_connections_killed_mid_import() {
    connections_killed_mid_import(Engine::MariaDb).await;
}

/// A PostgreSQL Pod with a trigger refusing the insert of one recording: that recording fails with the
/// database's own message, the others are done; once the trigger is gone the rerun writes it (and the user it
/// needs) once.
#[tokio::test(flavor = "multi_thread")]
async fn a_pod_refusing_one_recording() {
    let server = DemoServer::start(ServerOptions { recordings: 16, ..Default::default() }).await.unwrap();
    let faulty_db = server_pod(Engine::Postgres).await;
    Tool::new(&server, &faulty_db.url).ok(&["migrate", "--mode", "import", "--report", "r.json"]);
    let expected = pod_state(&faulty_db.url).await;
    reset_pod(&faulty_db).await;
    // A Moodle recording: its owner is a Pod user to create in the same transaction.
    let refused = server
        .recordings()
        .iter()
        .find(|d| d.recording.origin() == Some("Moodle") && d.recording.published && !d.recording.formats.is_empty())
        .map(|d| d.recording.record_id.clone())
        .unwrap();
    faulty_db
        .execute(&format!(
            "CREATE FUNCTION bbbm_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.source_url LIKE '%{refused}%' THEN RAISE EXCEPTION 'Pod refuses this recording (test trigger)'; END IF; \
               RETURN NEW; END $$;\n\
             CREATE TRIGGER bbbm_refuse BEFORE INSERT ON import_video_externalrecording \
               FOR EACH ROW EXECUTE FUNCTION bbbm_refuse();"
        ))
        .await;
    let tool = Tool::new(&server, &faulty_db.url);
    let out = tool.run(&["migrate", "--mode", "import", "--report", "refused.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let failed = failures(&tool.report("refused.json"));
    assert_eq!(failed.keys().collect::<Vec<_>>(), [&refused], "{failed:#?}");
    assert!(failed[&refused].contains("Pod refuses this recording (test trigger)"), "{}", failed[&refused]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Pod refuses this recording"), "{}", text(&out));
    let partial = pod_state(&faulty_db.url).await;
    assert!(!partial.iter().any(|r| r.contains(&refused)), "nothing of the refused recording");

    faulty_db.execute("DROP TRIGGER bbbm_refuse ON import_video_externalrecording;").await;
    let out = tool.ok(&["migrate", "--mode", "import", "--report", "rerun.json"]);
    assert!(out.contains("1 done") && out.contains("0 failed"), "{out}");
    let state = pod_state(&faulty_db.url).await;
    assert_no_duplicates(&state);
    assert_eq!(state, expected);
    faulty_db.drop().await;
}

/// A MariaDB Pod account with SELECT only (and a password in its URL): every recording fails with MariaDB's
/// "command denied", the password never shows; with the right account the rerun completes like a clean run.
#[tokio::test(flavor = "multi_thread")]
async fn a_pod_account_without_write_grants() {
    let server = DemoServer::start(ServerOptions { recordings: 10, ..Default::default() }).await.unwrap();
    let faulty_db = server_pod(Engine::MariaDb).await;
    Tool::new(&server, &faulty_db.url).ok(&["migrate", "--mode", "import", "--report", "r.json"]);
    let expected = pod_state(&faulty_db.url).await;
    reset_pod(&faulty_db).await;
    let user = format!("bbbm_ro_{}", std::process::id());
    let password = "Ro-pa55word-7d2e";
    let admin = migrate_testdb::admin_url(Engine::MariaDb);
    let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
    for sql in [
        format!("DROP USER IF EXISTS '{user}'@'%'"),
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
        format!("GRANT SELECT ON {}.* TO '{user}'@'%'", faulty_db.name),
    ] {
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    }
    let read_only_url = format!("mysql://{user}:{password}@127.0.0.1:3306/{}", faulty_db.name);
    let untouched = pod_state(&faulty_db.url).await;
    let mut tool = Tool::new(&server, &read_only_url);
    let out = tool.run(&["migrate", "--mode", "import", "--report", "denied.json"]);
    let all = text(&out);
    assert!(!all.contains(password), "the password is never printed\n{all}");
    assert_eq!(out.status.code(), Some(2), "{all}");
    let report_text = std::fs::read_to_string(tool.dir.path().join("denied.json")).unwrap();
    assert!(!report_text.contains(password));
    let report = tool.report("denied.json");
    let failed = failures(&report);
    assert_eq!(report["done"], 0);
    assert!(!failed.is_empty());
    for (id, detail) in &failed {
        assert!(detail.contains("command denied"), "{id}: MariaDB's own message: {detail}");
    }
    assert_eq!(pod_state(&faulty_db.url).await, untouched, "nothing written");

    tool.pod_url = faulty_db.url.clone();
    let out = tool.ok(&["migrate", "--mode", "import", "--report", "rerun.json"]);
    assert!(out.contains(&format!("{} done", failed.len())) && out.contains("0 failed"), "{out}");
    let state = pod_state(&faulty_db.url).await;
    assert_no_duplicates(&state);
    assert_eq!(state, expected);
    sqlx::raw_sql(&format!("DROP USER IF EXISTS '{user}'@'%'")).execute(&mut conn).await.unwrap();
    faulty_db.drop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. RabbitMQ dropping the worker's connection.
// ---------------------------------------------------------------------------------------------------------------

fn amqp_url() -> String {
    std::env::var("MIGRATE_QUEUE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A TCP proxy in front of the broker: `cut()` drops every connection through it (a broker restart or a network
/// cut, as the client sees it), `set_up(false)` refuses new ones until `set_up(true)`.
struct Proxy {
    port: u16,
    generation: tokio::sync::watch::Sender<u64>,
    up: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let up = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicU64::new(0));
        let (g, u, a) = (generation.clone(), up.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let mut cut = g.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { port, generation, up, accepted, task }
    }

    /// The broker's URL through this proxy.
    fn url(&self) -> String {
        let url = amqp_url();
        let (scheme, rest) = url.split_once("://").unwrap();
        let (user, rest) = rest.split_once('@').map_or(("", rest), |(u, r)| (u, r));
        let path = rest.find('/').map_or("", |i| &rest[i..]);
        let user = if user.is_empty() { String::new() } else { format!("{user}@") };
        format!("{scheme}://{user}127.0.0.1:{}{path}", self.port)
    }

    fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// `migrate --queue` publishes, a `worker` consumes through a proxy that is cut (every connection dropped, new
/// ones refused for over a second) while jobs remain: the worker reconnects by itself and finishes; every job is
/// done exactly once in Pod (the rows are a local clean run's), the queue ends empty, nothing dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn rabbitmq_dropped_under_a_worker() {
    let server = DemoServer::start(ServerOptions { recordings: 70, ..Default::default() }).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let clean_pod = sqlite_pod(work.path(), "clean.sqlite", &server).await;
    Tool::new(&server, &clean_pod).ok(&["migrate", "--mode", "import", "--report", "r.json"]);
    let expected = pod_state(&clean_pod).await;

    let pod = sqlite_pod(work.path(), "queued.sqlite", &server).await;
    let ledger_db = TestDb::create(Engine::Postgres, &[]).await;
    let upstream = {
        let url = amqp_url();
        let rest = url.split_once("://").unwrap().1;
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let host = rest.split('/').next().unwrap();
        if host.contains(':') { host.to_owned() } else { format!("{host}:5672") }
    };
    let proxy = Proxy::start(upstream).await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let queue = format!("bbbm-faults.{}.{nanos}", std::process::id());
    let tool = Tool::new(&server, &pod)
        .with("BBB_MIGRATE_LEDGER__DATABASE", &ledger_db.url)
        .with("BBB_MIGRATE_QUEUE__AMQP_URL", &proxy.url())
        .with("BBB_MIGRATE_QUEUE__QUEUE", &queue)
        .with("BBB_MIGRATE_QUEUE__RETRY_DELAY_MS", "200")
        .with("BBB_MIGRATE_QUEUE__SHUTDOWN_GRACE_SECS", "5");
    let out = tool.ok(&["migrate", "--mode", "import", "--queue"]);
    let total = externals(&expected);
    assert!(out.contains("job(s) queued"), "{out}");

    let log_path = tool.dir.path().join("worker.log");
    let mut worker: Child = tool
        .command()
        .args(["-v", "worker"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let jobs = tool.actions("import").await.len();
    let done = || async { tool.actions("import").await.iter().filter(|a| a.status == ActionStatus::Done).count() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while done().await < 3 {
        assert!(Instant::now() < deadline, "the worker did nothing\n{}", std::fs::read_to_string(&log_path).unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.set_up(false);
    proxy.cut();
    let at_cut = done().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set_up(true);
    assert!(at_cut < jobs, "the cut came after the last job ({at_cut}/{jobs}): inconclusive");
    let deadline = Instant::now() + Duration::from_secs(60);
    while done().await < jobs {
        assert!(
            Instant::now() < deadline,
            "the worker did not finish after the cut\n{}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(worker.id().to_string()).status();
    let status = worker.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 2, "the worker connected again through the proxy\n{log}");
    assert!(log.contains("RabbitMQ connection lost; reconnecting"), "the loss is logged with its cause\n{log}");
    eprintln!(
        "rabbitmq: cut with {at_cut}/{jobs} jobs done; {} connection(s) through the proxy; {}",
        proxy.accepted.load(Ordering::SeqCst),
        log.lines().find(|l| l.contains("connection lost")).unwrap_or_default()
    );

    let state = pod_state(&pod).await;
    assert_no_duplicates(&state);
    assert_eq!(state, expected, "every job done exactly once in Pod");
    assert_eq!(externals(&state), total);
    tool.assert_ledger_done("import", jobs).await;
    let mut config = migrate_queue::QueueConfig::new(amqp_url()).with_queue(&queue);
    config.retry.base_delay = Duration::from_millis(200);
    let admin = migrate_queue::Admin::connect(&config).await.unwrap();
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead), (0, 0, 0), "{counts:?}");
    let _ = admin.delete_all().await;
    let _ = admin.close().await;
    ledger_db.drop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// 5. SIGKILL at random points.
// ---------------------------------------------------------------------------------------------------------------

/// A pseudo-random instant in the first 80 % of `span` (a clean run's duration; a second run is a little faster),
/// at least 50 ms in: xorshift of the seed, the same seed, the same instant.
fn kill_after(seed: u64, span: Duration) -> Duration {
    let span = span.mul_f64(0.8).saturating_sub(Duration::from_millis(50));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    Duration::from_millis(50 + x % (span.as_millis() as u64 + 1))
}

/// Starts `args` and SIGKILLs it once `now` says so (if still running); whether it was killed.
async fn kill_when<F, Fut>(tool: &Tool, args: &[&str], mut now: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut child = tool.command().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !now().await {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the moment to kill never came");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap_or_default();
    child.wait().unwrap();
    killed
}

/// [`kill_when`] `after` has passed.
async fn kill_during(tool: &Tool, args: &[&str], after: Duration) -> bool {
    let at = Instant::now() + after;
    kill_when(tool, args, || async move { Instant::now() >= at }).await
}

/// Import runs SIGKILLed at random instants (seeds 1–6, within a clean run's duration, so that the kills land
/// while listing, planning or writing; Pod on PostgreSQL, and on SQLite for the last seed), and once right after
/// its first row is in Pod (seed 0: surely mid-writes); each rerun: the Pod equals a clean run's, nothing twice,
/// every action done, the dead process's leases taken over at once (the rerun reports nothing busy).
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_points_of_an_import() {
    let server = DemoServer::start(ServerOptions { recordings: 120, ..Default::default() }).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let import = ["migrate", "--mode", "import", "--jobs", "2", "--report"];
    let clean_sqlite = sqlite_pod(work.path(), "clean.sqlite", &server).await;
    let started = Instant::now();
    Tool::new(&server, &clean_sqlite).ok(&[&import[..], &["r.json"]].concat());
    let (expected_sqlite, span_sqlite) = (pod_state(&clean_sqlite).await, started.elapsed());
    let pg = server_pod(Engine::Postgres).await;
    let started = Instant::now();
    Tool::new(&server, &pg.url).ok(&[&import[..], &["r.json"]].concat());
    let (expected_pg, span_pg) = (pod_state(&pg.url).await, started.elapsed());
    let mut killed_mid_run = 0;
    for seed in 0..=6u64 {
        let (pod_url, expected, after) = if seed == 6 {
            let url = sqlite_pod(work.path(), &format!("pod-{seed}.sqlite"), &server).await;
            (url, &expected_sqlite, kill_after(seed, span_sqlite))
        } else {
            reset_pod(&pg).await;
            (pg.url.clone(), &expected_pg, kill_after(seed, span_pg))
        };
        let tool = Tool::new(&server, &pod_url);
        let args = [&import[..], &["k.json"]].concat();
        let killed = if seed == 0 {
            let side = migrate_db::Db::open(&pod_url, Default::default()).await.unwrap();
            let killed = kill_when(&tool, &args, || async { external_count(&side).await > 0 }).await;
            side.close().await;
            killed
        } else {
            kill_during(&tool, &args, after).await
        };
        let partial = externals(&pod_state(&pod_url).await);
        if killed && partial > 0 && partial < externals(expected) {
            killed_mid_run += 1;
        }
        let out = tool.ok(&[&import[..], &["rerun.json"]].concat());
        assert!(out.contains("0 failed") && out.contains("0 busy"), "seed {seed} ({after:?}): {out}");
        let state = pod_state(&pod_url).await;
        assert_no_duplicates(&state);
        assert!(&state == expected, "seed {seed} ({after:?}, {partial} rows when killed): not a clean run's Pod");
        let imports = tool.actions("import").await.len();
        tool.assert_ledger_done("import", imports).await;
        let when = if seed == 0 { "at its first row".to_owned() } else { format!("after {after:?}") };
        eprintln!("import seed {seed}: killed {when} (killed: {killed}, {partial} rows by then)");
    }
    assert!(killed_mid_run >= 1, "no kill landed in the middle of the writes");
    pg.drop().await;
}

/// Claim runs (copies) SIGKILLed at random instants (seeds 2–4, within a clean run's duration) and once a copy is
/// under way (seed 1), each rerun: the clean run's files byte for byte,
/// no `.part` or hidden temporary left, nothing half-written counted as done, every action done.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_points_of_a_claim_run() {
    let (server, _media) = video_server(8, 50_000).await;
    let ids = published(&server);
    let work = tempfile::tempdir().unwrap();
    let mut clean = Tool::new(&server, &sqlite_pod(work.path(), "clean.sqlite", &server).await);
    let clean_dir = claim_into(&mut clean, &work.path().join("ftp-clean"));
    let started = Instant::now();
    clean.ok(&[CLAIM, &["clean.json"]].concat());
    let span = started.elapsed();
    let expected = files(&clean_dir);
    assert_eq!(expected.len(), ids.len());
    let mut killed_mid_run = 0;
    for seed in 1..=4u64 {
        let after = kill_after(seed + 100, span);
        let mut tool = Tool::new(&server, &sqlite_pod(work.path(), &format!("pod-{seed}.sqlite"), &server).await);
        let dir = claim_into(&mut tool, &work.path().join(format!("ftp-kill{seed}")));
        let args = [CLAIM, &["k.json"]].concat();
        // Seed 1: as soon as a copy is under way (a `.part` in the directory); the others at random instants.
        let part =
            || std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".part"));
        let killed = if seed == 1 {
            kill_when(&tool, &args, || async { part() }).await
        } else {
            kill_during(&tool, &args, after).await
        };
        let left = files(&dir);
        killed_mid_run += (killed && left != expected) as usize;
        let out = tool.ok(&[CLAIM, &["rerun.json"]].concat());
        assert!(out.contains("0 failed") && out.contains("0 busy"), "seed {seed}: {out}");
        let got = files(&dir);
        assert_eq!(names(&got), names(&expected), "seed {seed} ({after:?}), left by the kill: {:?}", names(&left));
        assert!(got == expected, "seed {seed}: byte for byte the clean run's files");
        tool.assert_ledger_done("claim", ids.len()).await;
        let actions = tool.actions("claim").await;
        for a in &actions {
            let file = dir.join(Path::new(a.output_path.as_deref().unwrap()).file_name().unwrap());
            assert_eq!(std::fs::metadata(&file).unwrap().len(), a.output_size.unwrap(), "{}", file.display());
        }
        let when = if seed == 1 { "at its first .part".to_owned() } else { format!("after {after:?}") };
        eprintln!("claim seed {seed}: killed {when} (killed: {killed}, left {:?})", names(&left));
    }
    assert!(killed_mid_run >= 1, "no kill landed in the middle of the copies");
}
