//! Secrets and injection, as a user of the binary meets them: a secret or a URL with a password on the command
//! line is refused (process arguments are public on a host) and never echoed; remote names holding HTML/JS
//! (`<script>`, `"><img onerror=…>`, `' onmouseover='…`) reach the Moodle notice — read back from real Moodle
//! databases on PostgreSQL and MariaDB — and the HTML report only escaped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Output;

use migrate_db::sqlx;
use migrate_db::with_db;
use migrate_demo::{DemoServer, ServerOptions};
use migrate_testdb::{Engine, TestDb};

fn bbb_migrate() -> std::process::Command {
    #[allow(deprecated)]
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bbb-migrate"));
    cmd.env_remove("BBB_MIGRATE_CONFIG").env_remove("BBB_MIGRATE_LOG");
    cmd
}

fn all(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn secrets_on_the_command_line_are_refused_and_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &[&str]); 5] = [
        (
            &["--secret", "s3cr3t-on-argv", "inventory"],
            "s3cr3t-on-argv",
            &["BBB_MIGRATE_SOURCE__SECRET", "source.secret_file"],
        ),
        (&["inventory", "--secret=s3cr3t-on-argv"], "s3cr3t-on-argv", &["BBB_MIGRATE_SOURCE__SECRET"]),
        (
            &["migrate", "--mode", "import", "--pod-secret-key", "k3y-on-argv"],
            "k3y-on-argv",
            &["BBB_MIGRATE_POD__SECRET_KEY"],
        ),
        (
            &["bench", "owners", "--server", "postgres://postgres:Pw-on-argv@127.0.0.1:5432/postgres"],
            "Pw-on-argv",
            &["BBB_MIGRATE_BENCH_SERVER", "postgres://postgres:****@127.0.0.1:5432/postgres"],
        ),
        (
            &["cleanup", "--dry-run", "--prefix", "https://admin:Pw-on-argv@old.univ.fr/"],
            "Pw-on-argv",
            &["https://admin:****@old.univ.fr/", "configuration file"],
        ),
    ];
    for (args, secret, hints) in cases {
        let out = bbb_migrate().current_dir(dir.path()).args(args).output().unwrap();
        let text = all(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: refused as a usage error\n{text}");
        assert!(text.contains("refused") && text.contains("command line"), "{args:?}\n{text}");
        for hint in hints {
            assert!(text.contains(hint), "{args:?}: `{hint}` missing\n{text}");
        }
        assert!(!text.contains(secret), "{args:?}: the secret was echoed\n{text}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing was done: no ledger, no file");
}

/// The same URL from the environment is taken, and its password still never printed when it fails.
#[test]
fn a_password_from_the_environment_is_used_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let out = bbb_migrate()
        .current_dir(dir.path())
        .env("BBB_MIGRATE_BENCH_SERVER", "postgres://postgres:Pw-in-env@127.0.0.1:1/postgres")
        .args(["bench", "import", "--recordings", "1"])
        .output()
        .unwrap();
    let text = all(&out);
    assert!(!out.status.success(), "nothing listens on port 1\n{text}");
    assert!(!text.contains("refused on the command line"), "{text}");
    assert!(text.contains("127.0.0.1:1") || text.contains("connect"), "the failure says what it tried\n{text}");
    assert!(!text.contains("Pw-in-env"), "{text}");
}

// ---------------------------------------------------------------------------------------------------------------

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const QUOTE: &str = "x' onmouseover='alert(1)";

fn hostile(i: usize) -> &'static str {
    [SCRIPT, IMG, QUOTE][i % 3]
}

/// Every way the three hostile strings may appear once escaped (`'` as `&#39;` or `&#x27;`).
fn assert_escaped(html: &str, what: &str) {
    for raw in ["<script", "<img src=x", "' onmouseover='", "\"><img"] {
        assert!(!html.contains(raw), "{what}: `{raw}` unescaped in\n{html}");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{what}\n{html}");
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), "{what}\n{html}");
    assert!(
        html.contains("x&#39; onmouseover=&#39;alert(1)") || html.contains("x&#x27; onmouseover"),
        "{what}\n{html}"
    );
}

/// A demo server whose Moodle recordings carry hostile names (their own and in `bbb-recording-name`).
async fn hostile_server() -> DemoServer {
    let options = ServerOptions { recordings: 24, ..Default::default() };
    DemoServer::start_adjusted(options, SocketAddr::from(([127, 0, 0, 1], 0)), |_, recordings| {
        for (i, demo) in recordings.iter_mut().filter(|d| d.recording.origin() == Some("Moodle")).enumerate() {
            let rec = &mut demo.recording;
            rec.name = hostile(i).to_owned();
            rec.metadata.insert("bbb-recording-name".into(), hostile(i).to_owned());
            rec.metadata.insert("meetingName".into(), hostile(i + 1).to_owned());
        }
    })
    .await
    .unwrap()
}

/// A Moodle whose activities (one per meeting of the demo's Moodle recordings) are named with the hostile strings
/// too, as a teacher could name them; each course has an editing teacher.
async fn hostile_moodle(engine: Engine, server: &DemoServer) -> (TestDb, BTreeMap<i64, &'static str>) {
    let file = match engine {
        Engine::Postgres => "schema.postgres.sql",
        _ => "schema.mysql.sql",
    };
    let schema = std::fs::read_to_string(format!("{}/moodle/{file}", migrate_testdb::FIXTURES)).unwrap();
    let db = TestDb::create(engine, &[&schema]).await;
    let mut sql = String::from(
        "INSERT INTO mdl_role (id, shortname, description, sortorder) VALUES (3, 'editingteacher', '', 3);\n",
    );
    let mut activities = BTreeMap::new();
    let mut courses = std::collections::BTreeSet::new();
    for demo in server.recordings().iter().filter(|d| d.recording.origin() == Some("Moodle")) {
        let parts: Vec<&str> = demo.recording.meeting_id.split('-').collect();
        let (seed, course) = (parts[0], parts[1].parse::<i64>().unwrap());
        let activity: i64 = parts[2].split('[').next().unwrap().parse().unwrap();
        if activities.contains_key(&activity) {
            continue;
        }
        let name = hostile(activities.len());
        activities.insert(activity, name);
        sql += &format!(
            "INSERT INTO mdl_bigbluebuttonbn (id, course, name, meetingid, intro) VALUES ({activity}, {course}, '{}', \
             '{seed}', '<p>Cours</p>');\n",
            name.replace('\'', "''")
        );
        if courses.insert(course) {
            sql += &format!(
                "INSERT INTO mdl_user (id, username, firstname, lastname, email) VALUES ({course}, 'prof{course}', \
                 'Prof', 'N', 'prof{course}@univ.fr');\n\
                 INSERT INTO mdl_context (id, contextlevel, instanceid) VALUES ({course}, 50, {course});\n\
                 INSERT INTO mdl_role_assignments (roleid, contextid, userid) VALUES (3, {course}, {course});\n"
            );
        }
    }
    db.execute(&sql).await;
    (db, activities)
}

async fn intros(db: &TestDb) -> BTreeMap<i64, String> {
    let conn = db.open(true).await;
    let rows: Vec<(i64, Option<String>)> = with_db!(&conn, pool => {
        sqlx::query_as("SELECT id, intro FROM mdl_bigbluebuttonbn").fetch_all(pool).await
    })
    .unwrap();
    conn.close().await;
    rows.into_iter().map(|(id, intro)| (id, intro.unwrap_or_default())).collect()
}

async fn notice_escapes(engine: Engine) {
    let server = hostile_server().await;
    let (moodle, activities) = hostile_moodle(engine, &server).await;
    assert!(activities.len() >= 3, "each hostile name on an activity: {activities:?}");
    let dir = tempfile::tempdir().unwrap();
    // The activity in an element, a double-quoted and a single-quoted attribute.
    let template = "<p title=\"{activity}\"><span title='{activity}'>{activity}</span>: {recordings} → <a href=\"{link}\">Pod</a></p>";
    let out = bbb_migrate()
        .current_dir(dir.path())
        .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
        .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
        .env("BBB_MIGRATE_MOODLE__0__SERVER_NAME", migrate_demo::catalogue::MOODLE_HOST)
        .env("BBB_MIGRATE_MOODLE__0__DATABASE", &moodle.url)
        .env("BBB_MIGRATE_NOTICE__LINK", "https://pod.univ.fr/")
        .env("BBB_MIGRATE_NOTICE__TEMPLATE", template)
        .args(["notice", "--state", "any"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let intros = intros(&moodle).await;
    for (id, name) in &activities {
        let intro = &intros[id];
        assert!(intro.starts_with("<p>Cours</p><!-- bbb-migrate:notice --><p title=\""), "{engine:?} {id}: {intro}");
        let notice = intro.strip_prefix("<p>Cours</p>").unwrap();
        for raw in ["<script", "<img", "' onmouseover='", "\"><img"] {
            assert!(!notice.contains(raw), "{engine:?} activity {id} ({name}): `{raw}` unescaped in {notice}");
        }
    }
    let written: String = intros.values().cloned().collect::<Vec<_>>().join("\n");
    assert_escaped(&written, &format!("{engine:?} notices"));
    moodle.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_moodle_notice_escapes_hostile_names_on_postgres() {
    notice_escapes(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_moodle_notice_escapes_hostile_names_on_mariadb() {
    notice_escapes(Engine::MariaDb).await;
}

/// Import the hostile recordings, then `report --format html`: every name shows escaped.
#[tokio::test(flavor = "multi_thread")]
async fn the_html_report_escapes_hostile_recording_names() {
    let server = hostile_server().await;
    let dir = tempfile::tempdir().unwrap();
    let pod = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let run = |args: &[&str]| {
        let out = bbb_migrate()
            .current_dir(dir.path())
            .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
            .env("BBB_MIGRATE_POD__DATABASE", &pod)
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/ledger.sqlite", dir.path().display()))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}\n{}", all(&out));
    };
    run(&["migrate", "--mode", "import", "--report", "r.json"]);
    run(&["report", "--format", "html", "--no-thumbnails", "-o", "report.html"]);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_escaped(&html, "HTML report");
}
