//! `plan`, `migrate`, `cleanup` and `restore` as a subprocess, against the demo old server and a Pod database
//! with all of Pod 4.1's tables: SQLite (the demo's own Pod) and the local PostgreSQL and MariaDB.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use migrate_db::sqlx;
use migrate_db::with_db;
use migrate_demo::{DemoServer, ServerOptions};
use migrate_testdb::{Engine, TestDb};
use serde_json::Value;

fn bbb_migrate(dir: &Path, server: &DemoServer, pod_url: &str) -> Command {
    let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
    cmd.current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
        .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
        .env("BBB_MIGRATE_POD__DATABASE", pod_url)
        .env("BBB_MIGRATE_POD__SECRET_KEY", "test-secret-key")
        .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
        // Moodle recordings name their course in `bbb-context-label`: taken as a username here, so that the
        // import also creates Pod users.
        .env("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\", \"metadata\"]")
        .env("BBB_MIGRATE_OWNERS__METADATA_USERNAME_KEYS", "[\"bbb-context-label\"]")
        .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/ledger.sqlite", dir.display()));
    cmd
}

fn run(cmd: &mut Command, args: &[&str]) -> String {
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every row of the tables import mode writes, ids left out, sorted: the state two runs must agree on.
async fn pod_rows(db: &migrate_db::Db) -> Vec<String> {
    let engine = db.engine();
    let concat = if engine == migrate_db::Engine::MySql {
        "CONCAT(e.name, '|', e.source_url, '|', u.username, '|', e.site_id)".to_owned()
    } else {
        format!("e.name || '|' || e.source_url || '|' || u.username || '|' || {}", engine.int("e.site_id"))
    };
    let sql = format!("SELECT {concat} FROM import_video_externalrecording e JOIN auth_user u ON u.id = e.owner_id");
    let mut rows: Vec<String> = with_db!(db, pool => sqlx::query_scalar(&sql).fetch_all(pool).await).unwrap();
    let users = "SELECT username FROM auth_user";
    let mut users: Vec<String> = with_db!(db, pool => sqlx::query_scalar(users).fetch_all(pool).await).unwrap();
    users.sort();
    rows.sort();
    rows.extend(users.into_iter().map(|u| format!("user {u}")));
    rows
}

/// Import twice → the same rows; the plan then has nothing to create; cleanup + restore round trip.
async fn import_twice_then_cleanup(pod_url: &str, server: &DemoServer, db: &migrate_db::Db) {
    let dir = tempfile::tempdir().unwrap();
    let plan: Value = serde_json::from_str(&run(
        &mut bbb_migrate(dir.path(), server, pod_url),
        &["plan", "--mode", "import", "--format", "json"],
    ))
    .unwrap();
    let to_create = plan["totals"]["rows_to_create"].as_u64().unwrap();
    assert!(to_create >= 50, "{}", plan["totals"]);
    assert!(plan["totals"]["users_to_create"].as_u64().unwrap() > 0, "owners named in the metadata are new to Pod");
    assert!(plan["totals"]["to_fallback"].as_u64().unwrap() > 0, "Greenlight and unknown recordings: the fallback");
    assert_eq!(pod_rows(db).await.iter().filter(|r| !r.starts_with("user ")).count(), 0, "plan wrote nothing");
    assert!(!dir.path().join("ledger.sqlite").exists(), "plan does not even create the ledger");

    // An earlier run was killed while it held the lease of the first recording: its process is gone, so this
    // run takes the lease over at once instead of reporting the recording busy for half an hour.
    let ledger =
        migrate_ledger::Ledger::open(&format!("sqlite://{}/ledger.sqlite", dir.path().display())).await.unwrap();
    let key = format!("import:{}", plan["items"][0]["record_id"].as_str().unwrap());
    let action = migrate_ledger::NewAction {
        key: key.clone(),
        kind: "import".into(),
        record_id: None,
        target: String::new(),
        details: Value::Null,
    };
    ledger.ensure_action(&action).await.unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = format!("{}:{}", migrate_ledger::hostname(), gone.id());
    gone.wait().unwrap();
    ledger.try_lease(&key, &dead, std::time::Duration::from_secs(1800)).await.unwrap();
    ledger.close().await;

    let out =
        run(&mut bbb_migrate(dir.path(), server, pod_url), &["migrate", "--mode", "import", "--report", "r1.json"]);
    assert!(out.contains("0 failed") && out.contains("0 busy"), "{out}");
    let first = pod_rows(db).await;
    assert_eq!(first.iter().filter(|r| !r.starts_with("user ")).count() as u64, to_create);
    let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("r1.json")).unwrap()).unwrap();
    assert_eq!(report["failed"], 0);

    let out = run(&mut bbb_migrate(dir.path(), server, pod_url), &["migrate", "--mode", "import"]);
    assert!(out.contains(" 0 done,"), "second run does nothing: {out}");
    assert_eq!(pod_rows(db).await, first, "a second run writes nothing");
    let replan: Value = serde_json::from_str(&run(
        &mut bbb_migrate(dir.path(), server, pod_url),
        &["plan", "--mode", "import", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(replan["totals"]["rows_to_create"], 0);
    assert_eq!(replan["totals"]["rows_existing"].as_u64().unwrap(), to_create);

    // Cleanup: the rows pointing at the demo server, backed up, deleted, restored.
    let dry = run(&mut bbb_migrate(dir.path(), server, pod_url), &["cleanup", "--dry-run"]);
    assert!(dry.contains(&format!("{to_create} external recording(s) point at")), "{dry}");
    assert_eq!(pod_rows(db).await, first);
    run(&mut bbb_migrate(dir.path(), server, pod_url), &["cleanup", "--backup", "rows.json"]);
    assert_eq!(pod_rows(db).await.iter().filter(|r| !r.starts_with("user ")).count(), 0);
    let again = bbb_migrate(dir.path(), server, pod_url).args(["cleanup", "--backup", "rows.json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 external recording(s)"));
    run(&mut bbb_migrate(dir.path(), server, pod_url), &["restore", "rows.json"]);
    assert_eq!(pod_rows(db).await, first, "restore puts every row back");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_into_the_demo_pod_on_sqlite() {
    let server = DemoServer::start(ServerOptions { recordings: 60, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pod_url = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let db = migrate_db::Db::open(&pod_url, Default::default()).await.unwrap();
    import_twice_then_cleanup(&pod_url, &server, &db).await;

    // Owners named by the metadata got accounts with their profile.
    let owners: BTreeSet<String> = server
        .recordings()
        .iter()
        .filter(|d| d.recording.origin() == Some("Moodle") && !d.recording.formats.is_empty())
        .filter_map(|d| d.recording.metadata.get("bbb-context-label").cloned())
        .collect();
    assert!(!owners.is_empty());
    for owner in owners {
        let sql =
            "SELECT o.hashkey FROM authentication_owner o JOIN auth_user u ON u.id = o.user_id WHERE u.username = ?";
        let key: String = with_db!(&db, pool => sqlx::query_scalar(sql).bind(&owner).fetch_one(pool).await).unwrap();
        assert_eq!(key, migrate_pod::users::hashkey("test-secret-key", &owner));
    }
}

/// A Pod on a real server: Pod 4.1's tables, the site, an administrator, and the demo's Pod meetings.
async fn server_pod(engine: Engine, server: &DemoServer) -> TestDb {
    let db = TestDb::pod(engine).await;
    let (yes, no, two_hours) = match engine {
        Engine::Postgres => ("true", "false", "interval '2 hours'"),
        _ => ("1", "0", "7200000000"),
    };
    let mut sql = format!(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, \
         date_joined) VALUES (1, '!', {yes}, 'admin', 'Admin', 'Pod', 'admin@univ.fr', {yes}, {yes}, '2024-01-01 08:00:00');\n"
    );
    let mut meetings = BTreeSet::new();
    let mut next_user = 100;
    let mut users = std::collections::BTreeMap::new();
    for demo in server.recordings() {
        let Some(number) = migrate_demo::pod_db::pod_meeting_number(demo) else { continue };
        if !meetings.insert(number) {
            continue;
        }
        let owner = migrate_demo::pod_db::owner_of_meeting(number);
        let id = *users.entry(owner).or_insert_with(|| {
            next_user += 1;
            next_user
        });
        sql += &format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
             is_active, date_joined) SELECT {id}, '!', {no}, '{owner}', 'F', 'L', '{owner}@univ.fr', {yes}, {yes}, \
             '2024-01-01 08:00:00' WHERE NOT EXISTS (SELECT 1 FROM auth_user WHERE id = {id});\n"
        );
        sql += &format!(
            "INSERT INTO meeting (id, name, meeting_id, attendee_password, moderator_password, start_at, expected_duration, \
             frequency, monthly_type, is_restricted, is_running, max_participants, welcome_text, webcam_only_for_moderators, \
             record, auto_start_recording, allow_start_stop_recording, lock_settings_disable_cam, lock_settings_disable_mic, \
             lock_settings_disable_private_chat, lock_settings_disable_public_chat, lock_settings_disable_note, \
             lock_settings_locked_layout, is_personal, created_at, updated_at, is_webinar, enable_chat, owner_id, site_id) \
             VALUES ({number}, 'm', '{}', 'a', 'm', '2024-02-01 10:00:00', {two_hours}, 1, 'date_day', {no}, {no}, 150, \
             'Bienvenue', {no}, {yes}, {no}, {yes}, {no}, {no}, {no}, {no}, {no}, {no}, {no}, '2024-01-15 10:00:00', \
             '2024-03-01 10:00:00', {no}, {no}, {id}, 1);\n",
            demo.recording.meeting_id
        );
    }
    if matches!(engine, Engine::Postgres) {
        // Rows inserted with explicit ids leave PostgreSQL's identity behind; Pod's own rows never do.
        sql += "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT MAX(id) FROM auth_user));\n";
    }
    db.execute(&sql).await;
    db
}

async fn import_on_server(engine: Engine) {
    let server = DemoServer::start(ServerOptions { recordings: 60, ..Default::default() }).await.unwrap();
    let pod = server_pod(engine, &server).await;
    let db = pod.open(false).await;
    import_twice_then_cleanup(&pod.url, &server, &db).await;
    db.close().await;
    pod.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_into_pod_on_postgres() {
    import_on_server(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_into_pod_on_mariadb() {
    import_on_server(Engine::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_fallback_owner_stops_before_anything_is_written() {
    let server = DemoServer::start(ServerOptions { recordings: 10, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pod_url = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let out = bbb_migrate(dir.path(), &server, &pod_url)
        .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "nobody")
        .args(["migrate", "--mode", "import"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pod.fallback_owner `nobody`") && err.contains("nothing was written"), "{err}");
    let db = migrate_db::Db::open(&pod_url, Default::default()).await.unwrap();
    assert!(pod_rows(&db).await.iter().all(|r| r.starts_with("user ")));
}

/// Claim mode end to end: video playbacks copied, presentations rendered, files appear only complete and
/// with the configured permissions, a rerun redoes nothing, and a file Pod has recorded is never rewritten.
#[tokio::test(flavor = "multi_thread")]
async fn claim_mode_end_to_end() {
    // A catalogue whose two newest published recordings are short, one with a video playback.
    let seed = (0..20_000u64)
        .find(|seed| {
            let mut options = migrate_demo::CatalogueOptions::new(12, "http://127.0.0.1:1/");
            options.seed = *seed;
            let mut newest: Vec<_> =
                migrate_demo::generate(&options).into_iter().filter(|d| d.recording.published).collect();
            newest.sort_by_key(|d| std::cmp::Reverse(d.recording.start_time));
            let top = &newest[..2.min(newest.len())];
            top.len() == 2
                && top.iter().all(|d| d.duration_ms < 200_000)
                && top.iter().any(|d| d.has_video_format)
                && top.iter().any(|d| !d.has_video_format)
        })
        .expect("a seed with two short recordings, one with a video playback");
    let server = DemoServer::start(ServerOptions { recordings: 12, seed, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pod_url = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let recorder_path = dir.path().join("ftp");
    let target = recorder_path.join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    std::fs::create_dir_all(&target).unwrap();
    let claim = |args: &[&str]| {
        let mut cmd = bbb_migrate(dir.path(), &server, &pod_url);
        cmd.env("BBB_MIGRATE_POD__RECORDER_ID", "1")
            .env("BBB_MIGRATE_POD__RECORDER_PATH", recorder_path.to_str().unwrap())
            .env("BBB_MIGRATE_CLAIM__MODE", "0640")
            .env("BBB_MIGRATE_STATE", "published");
        run(&mut cmd, args)
    };
    let check = claim(&["config", "check"]);
    assert!(
        check.contains("✓ recorder 1") && check.contains("is writable") && check.contains("✓ fallback owner admin"),
        "{check}"
    );
    let doctor = claim(&["doctor"]);
    assert!(
        doctor.contains("✓ Pod grant: INSERT import_video_externalrecording")
            && doctor.contains("✓ ffmpeg encoder libx264")
            && doctor.contains("configuration is usable"),
        "{doctor}"
    );
    let plan: Value = serde_json::from_str(&claim(&[
        "plan",
        "--mode",
        "claim",
        "--state",
        "published",
        "--to",
        "2",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(plan["totals"]["files"], 2, "{plan}");
    assert!(plan["totals"]["to_copy"].as_u64().unwrap() >= 1 && plan["totals"]["to_render"].as_u64().unwrap() >= 1);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "plan writes nothing");

    let out = claim(&["migrate", "--mode", "claim", "--state", "published", "--to", "2"]);
    assert!(out.contains("2 done") && out.contains("0 failed"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".mp4") || name.ends_with(".m4v"), "only finished video files: {name}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o7777, 0o640, "{name}");
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "default=nw=1"])
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&probe.stdout);
        assert!(text.contains("codec_type=video") && text.contains("codec_type=audio"), "{name}: {text}");
    }
    for item in plan["items"].as_array().unwrap() {
        let expected = target.join(item["file_name"].as_str().unwrap());
        assert!(expected.is_file(), "{} as planned", expected.display());
    }

    // A rerun redoes nothing; a file Pod has recorded and then moved away is not written again.
    let before: Vec<_> = files.iter().map(|f| std::fs::metadata(f).unwrap().modified().unwrap()).collect();
    let out = claim(&["migrate", "--mode", "claim", "--state", "published", "--to", "2"]);
    assert!(out.contains("0 done, 2 already done"), "{out}");
    let after: Vec<_> = files.iter().map(|f| std::fs::metadata(f).unwrap().modified().unwrap()).collect();
    assert_eq!(before, after);
    let moved = &files[0];
    let db = migrate_db::Db::open(&pod_url, Default::default()).await.unwrap();
    with_db!(&db, pool => sqlx::query(
        "INSERT INTO recorder_recordingfiletreatment (file, file_size, date_added, require_manual_claim, email_sent, type, recorder_id) \
         VALUES (?, 1, '2024-01-01 00:00:00', 1, 0, 'video', 1)").bind(moved.to_str().unwrap()).execute(pool).await.map(|_| ()))
    .unwrap();
    std::fs::remove_file(moved).unwrap();
    std::fs::remove_file(dir.path().join("ledger.sqlite")).unwrap();
    let plan = claim(&["plan", "--mode", "claim", "--state", "published", "--to", "2"]);
    assert!(plan.contains("known to Pod"), "{plan}");
    claim(&["migrate", "--mode", "claim", "--state", "published", "--to", "2"]);
    assert!(!moved.exists(), "a file Pod has recorded is never written again");
}
