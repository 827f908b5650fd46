//! The Moodle notice against the real local PostgreSQL and MariaDB: added once, updated, removed, and every
//! activity it should not touch left byte for byte.

mod common;

use bbb_api::Recording;
use common::{Engine, TestDb, recording};
use migrate_db::{Db, with_db};
use migrate_owners::moodle::MoodleSite;
use migrate_owners::notice::{self, Change, END_MARKER, START_MARKER};

fn seed(c: char) -> String {
    std::iter::repeat_n(c, 40).collect()
}

fn recordings() -> Vec<Recording> {
    let meta = [("bbb-origin", "Moodle"), ("bbb-origin-server-name", "moodle.univ.fr")];
    vec![
        recording("r1-recording-of-activity-1", &format!("{}-100-1[0]", seed('1')), &meta),
        recording("r8", &format!("{}-100-1", seed('f')), &meta),
        recording("r2", &format!("{}-100-2", seed('2')), &meta),
        recording("r6-recording-of-activity-6", &format!("{}-100-6[0]", seed('6')), &meta),
    ]
}

fn site(db: Db) -> MoodleSite {
    MoodleSite {
        server_name: "moodle.univ.fr".into(),
        db: Ok(db),
        table_prefix: "mdl_".into(),
        other_sites: vec!["moodle.univ.fr".into()],
        ignore_servers: vec![],
        include_session_starters: false,
    }
}

async fn intros(db: &Db) -> Vec<(i64, Option<String>)> {
    with_db!(db, pool => migrate_db::sqlx::query_as("SELECT id, intro FROM mdl_bigbluebuttonbn ORDER BY id").fetch_all(pool).await).unwrap()
}

async fn added_updated_removed(engine: Engine) {
    let db = TestDb::moodle(engine, "mdl_").await;
    db.execute("UPDATE mdl_bigbluebuttonbn SET intro = '<p>Séances du mardi &amp; jeudi</p>' WHERE id = 2").await;
    let writer = db.open(false).await;
    let before = intros(&writer).await;
    let site = site(writer.clone());
    let recs = recordings();
    let message = |name: &str, count: usize| {
        notice::render(
            "<p>{recordings} enregistrement(s) de « {activity} » sont sur <a href=\"{link}\">Pod</a>.</p>",
            "https://pod.univ.fr/",
            name,
            count,
        )
    };

    let targets = notice::plan(&site, &recs, Some(&message)).await.unwrap();
    let summary: Vec<(i64, usize, Change)> =
        targets.iter().map(|t| (t.activity, t.recordings, t.change.clone())).collect();
    assert_eq!(summary, [(1, 2, Change::Add), (2, 1, Change::Add)], "activities 1 and 2; 6 is deleted (headless)");
    assert_eq!(intros(&writer).await, before, "planning writes nothing");

    let applied = notice::apply(&site, &targets, 1_800_000_000).await.unwrap();
    assert_eq!(applied.len(), 2);
    let after = intros(&writer).await;
    let intro_2 = after[1].1.clone().unwrap();
    assert_eq!(
        intro_2,
        format!(
            "<p>Séances du mardi &amp; jeudi</p>{START_MARKER}<p>1 enregistrement(s) de « TD économie » sont sur <a href=\"https://pod.univ.fr/\">Pod</a>.</p>{END_MARKER}"
        )
    );
    // The apostrophe is escaped like every HTML-special character (the template may put a name in an attribute).
    assert!(after[0].1.as_deref().unwrap().contains("2 enregistrement(s) de « Amphi d&#39;économie »"), "{after:?}");
    for (i, (id, intro)) in after.iter().enumerate().skip(2) {
        assert_eq!(intro, &before[i].1, "activity {id} untouched");
    }
    let cacherev: Vec<(i64,)> = with_db!(&writer, pool => migrate_db::sqlx::query_as("SELECT cacherev FROM mdl_course WHERE id = 100").fetch_all(pool).await).unwrap();
    assert!(cacherev[0].0 >= 1_800_000_000, "course cache revision bumped");

    let again = notice::plan(&site, &recs, Some(&message)).await.unwrap();
    assert!(again.iter().all(|t| t.change == Change::Unchanged), "running it again changes nothing");
    assert!(notice::apply(&site, &again, 1_800_000_001).await.unwrap().is_empty());

    let other =
        |name: &str, count: usize| notice::render("<p>Voir Pod ({recordings}) : {activity}</p>", "x", name, count);
    let update = notice::plan(&site, &recs, Some(&other)).await.unwrap();
    assert!(update.iter().all(|t| t.change == Change::Update));
    notice::apply(&site, &update, 1_800_000_002).await.unwrap();
    assert!(
        intros(&writer).await[1]
            .1
            .as_deref()
            .unwrap()
            .ends_with(&format!("<p>Voir Pod (1) : TD économie</p>{END_MARKER}"))
    );

    let removal = notice::plan(&site, &recs, None).await.unwrap();
    assert!(removal.iter().all(|t| t.change == Change::Remove));
    notice::apply(&site, &removal, 1_800_000_003).await.unwrap();
    let restored = intros(&writer).await;
    assert_eq!(restored[1].1.as_deref(), Some("<p>Séances du mardi &amp; jeudi</p>"), "byte for byte");
    assert_eq!(restored[0].1.as_deref(), Some(""), "a NULL description comes back empty");
    db.drop().await;
}

#[tokio::test]
async fn postgres_notice_is_added_updated_and_removed() {
    added_updated_removed(Engine::Postgres).await;
}

#[tokio::test]
async fn mariadb_notice_is_added_updated_and_removed() {
    added_updated_removed(Engine::MariaDb).await;
}

#[tokio::test]
async fn a_read_only_moodle_gets_a_clear_message_and_nothing_changes() {
    for engine in [Engine::Postgres, Engine::MariaDb] {
        let db = TestDb::moodle(engine, "mdl_").await;
        let reader = db.open(true).await;
        let before = intros(&reader).await;
        let site = site(reader.clone());
        let message = |_: &str, _: usize| "<p>x</p>".to_owned();
        let targets = notice::plan(&site, &recordings(), Some(&message)).await.unwrap();
        let err = notice::apply(&site, &targets, 1).await.unwrap_err().to_string();
        assert!(err.contains("refuses writes"), "{engine:?}: {err}");
        assert_eq!(intros(&reader).await, before);
        db.drop().await;
    }
}

/// `{archive}`: each activity's notice links the archived playback of its archived recordings only.
#[tokio::test]
async fn postgres_notice_links_the_archived_playbacks() {
    let db = TestDb::moodle(Engine::Postgres, "mdl_").await;
    let writer = db.open(false).await;
    let site = site(writer.clone());
    let mut recs = recordings();
    for rec in &mut recs {
        rec.formats.push(bbb_api::PlaybackFormat {
            kind: bbb_api::FormatKind::Presentation,
            url: format!("https://old.univ.fr/playback/presentation/2.3/{}", rec.record_id),
            length_minutes: Some(60),
            processing_time_ms: None,
            size: None,
            previews: vec![],
        });
    }
    // Activity 1 has r1 and r8, activity 2 has r2: only r1 is archived.
    let archived = |id: &str| id == "r1-recording-of-activity-1";
    let message = |name: &str, recs: &[&Recording]| {
        let links = notice::archive_links("https://archive.univ.fr", recs, &archived);
        notice::render_with_archive("<p>{activity} ({recordings}) : {archive}</p>", "", &links, name, recs.len())
    };
    let targets = notice::plan_with(&site, &recs, Some(&message)).await.unwrap();
    assert_eq!(targets.iter().map(|t| (t.activity, t.recordings)).collect::<Vec<_>>(), [(1, 2), (2, 1)]);
    notice::apply(&site, &targets, 1_800_000_000).await.unwrap();
    let after = intros(&writer).await;
    let one = after[0].1.as_deref().unwrap();
    assert!(
        one.contains(
            "(2) : <a href=\"https://archive.univ.fr/playback/presentation/2.3/r1-recording-of-activity-1\">\
             recording r1-recording-of-activity-1 (2023-11-14)</a></p>"
        ),
        "{one}"
    );
    assert!(!one.contains("/r8"), "r8 is not archived: {one}");
    let two = after[1].1.as_deref().unwrap();
    assert!(two.ends_with(&format!("<p>TD économie (1) : </p>{END_MARKER}")), "{two}");
    db.drop().await;
}
