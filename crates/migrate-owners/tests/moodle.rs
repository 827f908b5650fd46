//! Moodle owner lookup against the real local PostgreSQL and MariaDB, with Moodle's own table definitions
//! (tests/fixtures/moodle) and realistic rows: every kind of participants rule, Moodle 3 logs, Moodle 4
//! recordings rows, deleted activities and users. Each test makes its own database and drops it.

mod common;

use bbb_api::Recording;
use common::{Engine, TestDb, recording};
use migrate_owners::moodle::MoodleSite;
use migrate_owners::{Resolution, Resolver};

const SITE: &str = "moodle.univ.fr";

fn seed(c: char) -> String {
    std::iter::repeat_n(c, 40).collect()
}

fn moodle(record_id: &str, meeting_id: &str) -> Recording {
    recording(record_id, meeting_id, &[("bbb-origin", "Moodle"), ("bbb-origin-server-name", SITE)])
}

fn recordings() -> Vec<Recording> {
    vec![
        moodle("r1-recording-of-activity-1", &format!("{}-100-1[0]", seed('1'))),
        moodle("r2", &format!("{}-100-2", seed('2'))),
        moodle("r3", &format!("{}-101-3[0]", seed('3'))),
        moodle("r4-recording-of-activity-4", &format!("{}-101-4[2]", seed('4'))),
        moodle("r5", &format!("{}-102-5[0]", seed('5'))),
        moodle("r6-recording-of-activity-6", &format!("{}-100-6[0]", seed('6'))),
        moodle("r7", &format!("{}-100-77[0]", seed('7'))),
        moodle("r8", &format!("{}-100-1", seed('f'))),
        recording(
            "r9",
            &format!("{}-100-1[0]", seed('1')),
            &[("bbb-origin", "Moodle"), ("bbb-origin-server-name", "elsewhere.univ.fr")],
        ),
        recording("r10", "0042-cours-pod", &[]),
        recording(
            "r11",
            &format!("{}-1-1", seed('9')),
            &[("bbb-origin", "Moodle"), ("bbb-origin-server-name", "moodle2.univ.fr")],
        ),
    ]
}

fn usernames(r: &Resolution) -> Vec<&str> {
    r.owners.iter().map(|o| o.username.as_deref().unwrap()).collect()
}

async fn resolve(db: &TestDb, prefix: &str) -> Vec<Resolution> {
    resolve_with(db, prefix, false).await
}

async fn resolve_with(db: &TestDb, prefix: &str, session_starters: bool) -> Vec<Resolution> {
    let sites = vec![SITE.to_owned(), "moodle2.univ.fr".to_owned()];
    let site = MoodleSite {
        server_name: SITE.into(),
        db: Ok(db.open(true).await),
        table_prefix: prefix.into(),
        other_sites: sites.clone(),
        ignore_servers: vec![],
        include_session_starters: session_starters,
    };
    let unreachable = MoodleSite {
        server_name: "moodle2.univ.fr".into(),
        db: Err("cannot connect to postgres://moodle:****@db2/moodle: connection refused".into()),
        table_prefix: "mdl_".into(),
        other_sites: sites,
        ignore_servers: vec![],
        include_session_starters: false,
    };
    Resolver::new(vec![Box::new(site), Box::new(unreachable)]).resolve(&recordings()).await
}

async fn every_recording_gets_the_right_owners(engine: Engine, prefix: &str) {
    let db = TestDb::moodle(engine, prefix).await;
    let res = resolve(&db, prefix).await;
    let by_id = |id: &str| res.iter().find(|r| r.record_id == id).unwrap();

    let r1 = by_id("r1-recording-of-activity-1");
    assert_eq!(
        usernames(r1),
        ["jdupont", "zlefevre"],
        "user rule, then role by id (teacher); the import row is ignored"
    );
    assert!(r1.owners[1].evidence.contains("moderator by role teacher"), "{}", r1.owners[1].evidence);
    assert!(r1.owners[0].evidence.contains("activity 1 «Amphi d'économie» (course 100"), "{}", r1.owners[0].evidence);
    assert_eq!(r1.owners[1].first_name, "Zoé");
    assert_eq!(r1.owners[1].email.as_deref(), Some("zoe.lefevre@univ.fr"));

    assert_eq!(usernames(by_id("r2")), ["cmartin"], "role by shortname, found through the Moodle 3 Create log");
    assert!(by_id("r2").owners[0].evidence.contains("Create log"));
    assert_eq!(usernames(by_id("r3")), ["jdupont"], "everyone moderator → the course's editing teachers");
    assert_eq!(usernames(by_id("r4-recording-of-activity-4")), ["hbernard"], "site default → who added the activity");
    assert_eq!(
        by_id("r5").fallback_reason.as_deref(),
        Some("moodle moodle.univ.fr: every moderator of activity 5 is deleted in Moodle")
    );
    assert!(by_id("r6-recording-of-activity-6").fallback_reason.as_deref().unwrap().contains("activity 6 was deleted"));
    assert_eq!(
        by_id("r7").fallback_reason.as_deref(),
        Some("moodle moodle.univ.fr: activity 77 of course 100 no longer exists (deleted?)")
    );
    assert_eq!(
        usernames(by_id("r8")),
        ["jdupont", "zlefevre"],
        "the Create log ties an unusual meetingID to activity 1"
    );
    assert_eq!(by_id("r9").fallback_reason.as_deref(), Some("no source matched this recording"));
    assert_eq!(by_id("r10").fallback_reason.as_deref(), Some("no source matched this recording"));
    let r11 = by_id("r11").fallback_reason.as_deref().unwrap();
    assert!(r11.starts_with("moodle moodle2.univ.fr: database unreachable"), "{r11}");
    assert!(!r11.contains("secret"), "{r11}");
    db.drop().await;
}

#[tokio::test]
async fn postgres_every_recording_gets_the_right_owners() {
    every_recording_gets_the_right_owners(Engine::Postgres, "mdl_").await;
}

#[tokio::test]
async fn mariadb_with_another_prefix_every_recording_gets_the_right_owners() {
    every_recording_gets_the_right_owners(Engine::MariaDb, "m2_").await;
}

#[tokio::test]
async fn a_moodle_3_site_without_the_recordings_table_still_resolves_by_logs_and_meeting_ids() {
    let db = TestDb::moodle(Engine::Postgres, "mdl_").await;
    db.execute("DROP TABLE mdl_bigbluebuttonbn_recordings").await;
    let res = resolve(&db, "mdl_").await;
    let by_id = |id: &str| res.iter().find(|r| r.record_id == id).unwrap();
    assert_eq!(usernames(by_id("r1-recording-of-activity-1")), ["jdupont", "zlefevre"], "by meetingID");
    assert_eq!(usernames(by_id("r4-recording-of-activity-4")), ["hbernard"], "by Create log");
    assert_eq!(usernames(by_id("r2")), ["cmartin"]);
    db.drop().await;
}

#[tokio::test]
async fn the_lookup_is_read_only() {
    let db = TestDb::moodle(Engine::MariaDb, "mdl_").await;
    let ro = db.open(true).await;
    let write = migrate_db::with_db!(&ro, pool => {
        migrate_db::sqlx::query("UPDATE mdl_user SET firstname = 'x'").execute(pool).await.map(|_| ())
    });
    assert!(write.is_err(), "a read-only session refuses writes");
    db.drop().await;
}

#[tokio::test]
async fn the_teacher_who_started_the_session_can_be_an_owner_too() {
    let db = TestDb::moodle(Engine::Postgres, "mdl_").await;
    let res = resolve_with(&db, "mdl_", true).await;
    let by_id = |id: &str| res.iter().find(|r| r.record_id == id).unwrap();
    assert_eq!(usernames(by_id("r8")), ["jdupont", "zlefevre", "cmartin"], "moderators, then who started it");
    assert!(by_id("r8").owners[2].evidence.contains("started this session"));
    assert_eq!(usernames(by_id("r2")), ["cmartin"], "one owner once, whatever the reasons");
    db.drop().await;
}
