//! A Pod database for the demo and the tests: SQLite with all the tables Esup-Pod 4.1's migrations create (the
//! schema in `tests/fixtures/pod/`), holding what a real Pod would hold for the generated recordings — the
//! site, an administrator, one meeting per Pod recording with its owner (and, for some, an additional
//! owner), and a recorder whose directory receives claimable files ([`RECORDER_ID`], [`RECORDER_DIRECTORY`]).
//! A meeting number drawn twice keeps its first name, as a meeting renamed after a recording does.

use std::collections::BTreeMap;
use std::path::Path;

use migrate_db::sqlx::{self, Connection, SqliteConnection};

use crate::recording::DemoRecording;

/// Pod 4.1's tables, as its own migrations create them on SQLite.
pub const POD_SCHEMA_SQLITE: &str = include_str!("../../../tests/fixtures/pod/schema.sqlite.sql");

/// The demo Pod's recorder for claim mode, and its directory under the recorder path.
pub const RECORDER_ID: i64 = 1;
pub const RECORDER_DIRECTORY: &str = "bbb-migration";

const PEOPLE: &[(&str, &str, &str)] = &[
    ("cmartin", "Claire", "Martin"),
    ("jdupont", "Jean", "Dupont"),
    ("zlefevre", "Zoé", "Lefèvre"),
    ("hbernard", "Hugo", "Bernard"),
    ("amoreau", "Anaïs", "Moreau"),
    ("lgarcia", "Léo", "Garcia"),
];

/// The Pod meeting a Pod-origin recording was made in: its id (the number its meetingID starts with).
pub fn pod_meeting_number(demo: &DemoRecording) -> Option<i64> {
    let (digits, _) = demo.recording.meeting_id.split_once('-')?;
    (demo.recording.metadata.contains_key("endcallbackurl") && digits.len() >= 4).then(|| digits.parse().ok())?
}

/// The username `pod_db` gives the owner of meeting `number` (so tests can predict it).
pub fn owner_of_meeting(number: i64) -> &'static str {
    PEOPLE[number as usize % PEOPLE.len()].0
}

/// Creates (or replaces) the database at `path`; returns its `sqlite://` URL.
pub async fn create(path: &Path, recordings: &[DemoRecording]) -> Result<String, sqlx::Error> {
    let _ = std::fs::remove_file(path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = SqliteConnection::connect(&url).await?;
    // One transaction for the 425 statements of the schema and the rows: one sync instead of hundreds (seconds
    // on a busy disk, for every test that makes a Pod).
    let mut tx = db.begin().await?;
    sqlx::raw_sql(POD_SCHEMA_SQLITE).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO django_site (id, domain, name) VALUES (1, 'pod.demo.univ.fr', 'Pod de démonstration')")
        .execute(&mut *tx)
        .await?;
    let user = "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
                is_active, date_joined) VALUES (?, '!', ?, ?, ?, ?, ?, 1, 1, '2023-09-01 08:00:00')";
    sqlx::query(user)
        .bind(1)
        .bind(true)
        .bind("admin")
        .bind("Admin")
        .bind("Pod")
        .bind("admin@demo.univ.fr")
        .execute(&mut *tx)
        .await?;
    for (i, (username, first, last)) in PEOPLE.iter().enumerate() {
        sqlx::query(user)
            .bind(i as i64 + 2)
            .bind(false)
            .bind(username)
            .bind(first)
            .bind(last)
            .bind(format!("{username}@demo.univ.fr"))
            .execute(&mut *tx)
            .await?;
    }
    let mut meetings: BTreeMap<i64, &DemoRecording> = BTreeMap::new();
    for demo in recordings {
        if let Some(number) = pod_meeting_number(demo) {
            meetings.entry(number).or_insert(demo);
        }
    }
    for (number, demo) in &meetings {
        let owner = number % PEOPLE.len() as i64 + 2;
        sqlx::query(
            "INSERT INTO meeting (id, name, meeting_id, attendee_password, moderator_password, start_at, expected_duration, \
             frequency, monthly_type, is_restricted, is_running, max_participants, welcome_text, webcam_only_for_moderators, \
             record, auto_start_recording, allow_start_stop_recording, lock_settings_disable_cam, lock_settings_disable_mic, \
             lock_settings_disable_private_chat, lock_settings_disable_public_chat, lock_settings_disable_note, \
             lock_settings_locked_layout, is_personal, created_at, updated_at, is_webinar, enable_chat, owner_id, site_id) \
             VALUES (?, ?, ?, 'attendee', 'moderator', ?, 7200000000, 1, 'date_day', 0, 0, 150, 'Bienvenue !', 0, 1, 0, 1, \
             0, 0, 0, 0, 0, 0, 0, ?, ?, 0, 0, ?, 1)",
        )
        .bind(number)
        .bind(&demo.recording.name)
        .bind(&demo.recording.meeting_id)
        .bind(demo.recording.start_time.format("%Y-%m-%d %H:%M:%S").to_string())
        .bind(demo.recording.start_time.format("%Y-%m-%d %H:%M:%S").to_string())
        .bind(demo.recording.start_time.format("%Y-%m-%d %H:%M:%S").to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if number % 3 == 0 {
            let other = (number + 1) % PEOPLE.len() as i64 + 2;
            sqlx::query("INSERT INTO meeting_additional_owners (meeting_id, user_id) VALUES (?, ?)")
                .bind(number)
                .bind(other)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query("INSERT INTO video_type (id, title, slug) VALUES (1, 'Other', 'other')").execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO recorder_recorder (id, name, description, address_ip, salt, credentials_login, \
         credentials_password, recording_type, publication_auto, is_draft, is_restricted, cursus, main_lang, \
         transcript, allow_downloading, is_360, disable_comment, directory, type_id, user_id) \
         VALUES (?, 'Ancien serveur BBB', 'Enregistrements BBB à revendiquer', '127.0.0.2', 'salt', '', '', 'video', \
         0, 1, 0, '0', 'fr', '', 0, 0, 0, ?, 1, NULL)",
    )
    .bind(RECORDER_ID)
    .bind(RECORDER_DIRECTORY)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO recorder_recorder_sites (recorder_id, site_id) VALUES (?, 1)")
        .bind(RECORDER_ID)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    db.close().await?;
    Ok(format!("sqlite://{}", path.display()))
}
