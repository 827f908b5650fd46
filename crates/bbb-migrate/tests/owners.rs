//! `bbb-migrate owners` and `inventory --with-owners` as a subprocess: the demo old server's recordings, a
//! Moodle on the local PostgreSQL and a Pod on SQLite, both filled from what the demo server holds.

use assert_cmd::Command;
use migrate_db::sqlx::{self, Connection};
use migrate_demo::{DemoServer, ServerOptions};
use serde_json::Value;

const MOODLE_HOST: &str = "moodle.demo.univ.fr";

struct Moodle {
    name: String,
    url: String,
}

impl Moodle {
    /// A Moodle database where each course of the demo's Moodle recordings has one editing teacher, `prof<course>`.
    async fn for_server(server: &DemoServer) -> Moodle {
        let name = format!("cli_owners_{}", std::process::id());
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("local PostgreSQL");
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let schema = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/moodle/schema.postgres.sql"
        ))
        .unwrap();
        let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(&schema).execute(&mut db).await.unwrap();
        let mut sql = String::from(
            "INSERT INTO mdl_role (id, shortname, description, sortorder) VALUES (3, 'editingteacher', '', 3);\n",
        );
        let mut courses = std::collections::BTreeSet::new();
        for demo in server.recordings() {
            let rec = &demo.recording;
            if rec.origin() != Some("Moodle") {
                continue;
            }
            let parts: Vec<&str> = rec.meeting_id.split('-').collect();
            let (seed, course) = (parts[0], parts[1].parse::<i64>().unwrap());
            let activity: i64 = parts[2].split('[').next().unwrap().parse().unwrap();
            sql += &format!(
                "INSERT INTO mdl_bigbluebuttonbn (id, course, name, meetingid) VALUES ({activity}, {course}, 'Activité {activity}', '{seed}') ON CONFLICT DO NOTHING;\n"
            );
            if courses.insert(course) {
                sql += &format!(
                    "INSERT INTO mdl_user (id, username, firstname, lastname, email) VALUES ({course}, 'prof{course}', 'Prof', 'N°{course}', 'prof{course}@univ.fr');\n\
                     INSERT INTO mdl_context (id, contextlevel, instanceid) VALUES ({course}, 50, {course});\n\
                     INSERT INTO mdl_role_assignments (roleid, contextid, userid) VALUES (3, {course}, {course});\n"
                );
            }
        }
        sqlx::raw_sql(&sql).execute(&mut db).await.unwrap();
        Moodle { name, url }
    }

    async fn drop(self) {
        let mut conn = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_come_from_moodle_and_pod_and_the_rest_is_explained() {
    let server = DemoServer::start(ServerOptions { recordings: 40, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let moodle = Moodle::for_server(&server).await;
    let pod = migrate_demo::pod_db::create(&dir.path().join("pod.sqlite"), server.recordings()).await.unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
        cmd.current_dir(dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
            .env("BBB_MIGRATE_POD__DATABASE", &pod)
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_MOODLE__0__SERVER_NAME", MOODLE_HOST)
            .env("BBB_MIGRATE_MOODLE__0__DATABASE", &moodle.url)
            .env("BBB_MIGRATE_NOTICE__LINK", "https://pod.univ.fr/")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["owners", "--state", "any", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), server.recordings().len());
    for demo in server.recordings() {
        let rec = &demo.recording;
        let row = rows.iter().find(|r| r["record_id"] == rec.record_id.as_str()).unwrap();
        let owners: Vec<&str> =
            row["owners"].as_array().unwrap().iter().map(|o| o["username"].as_str().unwrap()).collect();
        if rec.origin() == Some("Moodle") {
            let course = rec.meeting_id.split('-').nth(1).unwrap();
            assert_eq!(owners, [format!("prof{course}")], "{row}");
            assert_eq!(row["owners"][0]["source"], "moodle");
            assert_eq!(row["owners"][0]["last_name"], format!("N°{course}"));
        } else if let Some(number) = migrate_demo::pod_db::pod_meeting_number(demo) {
            assert_eq!(owners[0], migrate_demo::pod_db::owner_of_meeting(number), "{row}");
            assert_eq!(owners.len(), if number % 3 == 0 { 2 } else { 1 }, "additional owner of every third meeting");
        } else {
            assert!(owners.is_empty(), "{row}");
            assert_eq!(row["fallback_reason"], "no source matched this recording");
        }
    }
    let unresolved = run(&["owners", "--state", "any", "--unresolved", "-f", "json"]);
    let unresolved: Vec<Value> = serde_json::from_slice(&unresolved.stdout).unwrap();
    assert!(!unresolved.is_empty() && unresolved.iter().all(|r| r["owners"].as_array().unwrap().is_empty()));

    let csv = run(&["inventory", "--state", "any", "--with-owners", "-f", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",owners,owner_emails,fallback_reason"));
    assert!(text.contains("prof") && text.contains("(moodle)") && text.contains("no source matched"));

    let stdout = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let activities = server.recordings().iter().filter(|r| r.recording.origin() == Some("Moodle")).count();
    let dry = stdout(run(&["notice", "--state", "any", "--dry-run"]));
    assert!(dry.contains("would moodle moodle.demo.univ.fr activity") && dry.contains(": add"), "{dry}");
    assert!(dry.contains("(dry run: nothing written)"));
    let added = stdout(run(&["notice", "--state", "any"]));
    let changed: usize = added.lines().last().unwrap().split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(changed > 0 && changed <= activities, "{added}");
    let again = stdout(run(&["notice", "--state", "any"]));
    assert!(again.ends_with(&format!("0 activit(ies) changed, {changed} unchanged\n")), "{again}");
    let removed = stdout(run(&["notice", "--state", "any", "--remove"]));
    assert!(removed.ends_with(&format!("{changed} activit(ies) changed, 0 unchanged\n")), "{removed}");
    moodle.drop().await;
}
