//! Owners from Pod's meeting module, on the three engines Pod supports, with Pod 4.1's real tables.

mod common;

use common::{Engine, TestDb, recording};
use migrate_owners::pod::PodMeetings;
use migrate_owners::{OwnerSource, Resolver};

/// Users, and meetings as Pod's `Meeting.save()` leaves them (`meeting_id` = zero-padded id + slug of name).
fn rows(engine: Engine) -> String {
    let (yes, no) = match engine {
        Engine::Sqlite | Engine::MariaDb => ("1", "0"),
        Engine::Postgres => ("true", "false"),
    };
    // DurationField: an interval on PostgreSQL, microseconds in a bigint elsewhere.
    let two_hours = match engine {
        Engine::Postgres => "interval '2 hours'",
        _ => "7200000000",
    };
    let user = |id: u32, username: &str, first: &str, last: &str| {
        format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) \
             VALUES ({id}, '!', {no}, '{username}', '{first}', '{last}', '{username}@univ.fr', {yes}, {yes}, '2024-01-01 08:00:00');\n"
        )
    };
    let meeting = |id: u32, name: &str, meeting_id: &str, owner: u32| {
        format!(
            "INSERT INTO meeting (id, name, meeting_id, attendee_password, moderator_password, start_at, expected_duration, \
             frequency, monthly_type, is_restricted, is_running, max_participants, welcome_text, webcam_only_for_moderators, \
             record, auto_start_recording, allow_start_stop_recording, lock_settings_disable_cam, lock_settings_disable_mic, \
             lock_settings_disable_private_chat, lock_settings_disable_public_chat, lock_settings_disable_note, \
             lock_settings_locked_layout, is_personal, created_at, updated_at, is_webinar, enable_chat, owner_id, site_id) \
             VALUES ({id}, '{name}', '{meeting_id}', 'a', 'm', '2024-02-01 10:00:00', {two_hours}, 1, 'date_day', {no}, {no}, 150, \
             'Bienvenue', {no}, {yes}, {no}, {yes}, {no}, {no}, {no}, {no}, {no}, {no}, {no}, '2024-01-15 10:00:00', \
             '2024-03-01 10:00:00', {no}, {no}, {owner}, 1);\n"
        )
    };
    let mut sql = String::new();
    sql += &user(1, "admin", "Admin", "Pod");
    sql += &user(7, "cmartin", "Claire", "Martin");
    sql += &user(8, "jdupont", "Jean", "Dupont");
    sql += &user(9, "zlefevre", "Zoé", "Lefèvre");
    sql += &meeting(42, "Cours de droit", "0042-cours-de-droit", 7);
    sql += &meeting(1234, "Soutenances 2024", "1234-soutenances-2024", 8);
    sql += "INSERT INTO meeting_additional_owners (id, meeting_id, user_id) VALUES (1, 42, 9);\n";
    sql += "INSERT INTO meeting_additional_owners (id, meeting_id, user_id) VALUES (2, 42, 8);\n";
    sql
}

async fn owners_from_pod_meetings(engine: Engine) {
    let db = TestDb::pod(engine).await;
    db.execute(&rows(engine)).await;
    let source = PodMeetings { db: Ok(db.open(true).await) };
    let recs = vec![
        recording("a", "0042-cours-de-droit", &[]),
        recording("b", "1234-soutenances", &[]),
        recording("c", "0999-disparue", &[]),
        recording("d", "f00d-1-2", &[]),
    ];
    assert!(source.name().contains("pod"));
    let res = Resolver::new(vec![Box::new(source)]).resolve(&recs).await;
    let names = |i: usize| res[i].owners.iter().map(|o| o.username.clone().unwrap()).collect::<Vec<_>>();
    assert_eq!(names(0), ["cmartin", "zlefevre", "jdupont"], "owner, then additional owners in order");
    assert_eq!(res[0].owners[1].first_name, "Zoé");
    assert!(res[0].owners[1].evidence.contains("additional owner"));
    assert_eq!(names(1), ["jdupont"], "matched by meeting number after a rename");
    assert!(res[1].owners[0].evidence.contains("renamed since the recording (now `1234-soutenances-2024`)"));
    assert_eq!(res[2].fallback_reason.as_deref(), Some("no source matched this recording"));
    assert_eq!(res[3].fallback_reason.as_deref(), Some("no source matched this recording"));
    db.drop().await;
}

#[tokio::test]
async fn sqlite_owners_from_pod_meetings() {
    owners_from_pod_meetings(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_owners_from_pod_meetings() {
    owners_from_pod_meetings(Engine::Postgres).await;
}

#[tokio::test]
async fn mariadb_owners_from_pod_meetings() {
    owners_from_pod_meetings(Engine::MariaDb).await;
}
