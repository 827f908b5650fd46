//! `{archive}` in the Moodle notice: after `archive` copied some Moodle recordings, `notice` links each
//! activity to the archived playback of exactly those, under `archive.base_url`; a Moodle on the local
//! PostgreSQL holds the activities of the demo server's Moodle recordings.

use std::collections::BTreeMap;
use std::path::Path;

use migrate_db::{sqlx, with_db};
use migrate_demo::DemoServer;
use migrate_testdb::{Engine, FIXTURES, TestDb};

use crate::common::{bbb_migrate, demo_server, output};

const MOODLE_HOST: &str = "moodle.demo.univ.fr";

/// Moodle's tables and one activity per demo Moodle recording's meeting (the meetingID names the activity).
async fn moodle(server: &DemoServer) -> TestDb {
    let schema = std::fs::read_to_string(format!("{FIXTURES}/moodle/schema.postgres.sql")).unwrap();
    let mut sql = String::new();
    for demo in server.recordings().iter().filter(|d| d.recording.origin() == Some("Moodle")) {
        let parts: Vec<&str> = demo.recording.meeting_id.split('-').collect();
        let (seed, course) = (parts[0], parts[1]);
        let activity = parts[2].split('[').next().unwrap();
        sql += &format!(
            "INSERT INTO mdl_bigbluebuttonbn (id, course, name, meetingid) VALUES ({activity}, {course}, \
             'Activité {activity}', '{seed}') ON CONFLICT DO NOTHING;\n"
        );
    }
    TestDb::create(Engine::Postgres, &[&schema, &sql]).await
}

/// `bbb-migrate` with that Moodle, its notice template and, if given, `archive.base_url`.
fn run(dir: &Path, server: &DemoServer, moodle: &TestDb, base_url: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = bbb_migrate(dir, server);
    cmd.env("BBB_MIGRATE_MOODLE__0__SERVER_NAME", MOODLE_HOST)
        .env("BBB_MIGRATE_MOODLE__0__DATABASE", &moodle.url)
        .env("BBB_MIGRATE_NOTICE__LINK", "https://pod.univ.fr/")
        .env("BBB_MIGRATE_NOTICE__TEMPLATE", "<p>{activity} : <a href=\"{link}\">Pod</a> {archive}</p>");
    if let Some(url) = base_url {
        cmd.env("BBB_MIGRATE_ARCHIVE__BASE_URL", url);
    }
    output(&mut cmd, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_notice_links_the_archived_playbacks() {
    let work = tempfile::tempdir().unwrap();
    let server = demo_server(work.path(), 40, 2_000).await;
    let moodle = moodle(&server).await;
    let mut by_meeting: BTreeMap<&str, Vec<&bbb_api::Recording>> = BTreeMap::new();
    for d in server.recordings() {
        let r = &d.recording;
        if r.origin() == Some("Moodle") && r.published && r.format(&bbb_api::FormatKind::Presentation).is_some() {
            by_meeting.entry(r.meeting_id.as_str()).or_default().push(r);
        }
    }
    let meetings: Vec<&str> = by_meeting.keys().copied().collect();
    assert!(meetings.len() >= 3, "{meetings:?}");
    let (archived_meeting, other_meeting) = (meetings[0], meetings[1]);
    let archive = work.path().join("archive");
    let dir = archive.to_str().unwrap();
    let (ok, text) = run(work.path(), &server, &moodle, None, &["archive", dir, "--meeting", archived_meeting]);
    assert!(ok, "{text}");

    let (ok, text) = run(work.path(), &server, &moodle, None, &["notice", "--state", "any"]);
    assert!(!ok && text.contains("archive.base_url is empty"), "{text}");

    let (ok, text) =
        run(work.path(), &server, &moodle, Some("https://archive.univ.fr/"), &["notice", "--state", "any"]);
    assert!(ok, "{text}");
    let db = moodle.open(true).await;
    let sql = "SELECT meetingid, intro FROM mdl_bigbluebuttonbn";
    let rows: Vec<(String, Option<String>)> = with_db!(&db, pool => sqlx::query_as(sql).fetch_all(pool).await).unwrap();
    db.close().await;
    let intro_of = |meeting: &str| {
        let seed = meeting.split('-').next().unwrap();
        rows.iter().find(|(m, _)| m == seed).and_then(|(_, i)| i.clone()).unwrap_or_default()
    };
    let linked = intro_of(archived_meeting);
    for rec in &by_meeting[archived_meeting] {
        let url = format!("https://archive.univ.fr/playback/presentation/2.3/{}", rec.record_id);
        assert!(linked.contains(&format!("<a href=\"{url}\">")), "{url} in {linked}");
    }
    assert!(linked.contains("<a href=\"https://pod.univ.fr/\">Pod</a>"), "{linked}");
    let unlinked = intro_of(other_meeting);
    assert!(unlinked.contains("<a href=\"https://pod.univ.fr/\">Pod</a>"), "{unlinked}");
    assert!(!unlinked.contains("archive.univ.fr"), "not archived, no archive link: {unlinked}");
    moodle.drop().await;
}
