//! Pod writes on the three engines Pod supports, with all of Esup-Pod 4.1's tables as its migrations make
//! them: rows read back column by column, reruns, concurrent writers, cleanup and restore, refused writes.

use chrono::{TimeZone, Utc};
use migrate_db::sqlx::{self, Row};
use migrate_db::with_db;
use migrate_plan::import::{ImportItem, ImportRow, NewUser, PlannedOwner, PodUser};
use migrate_pod::Pod;
use migrate_pod::cleanup::Backup;
use migrate_pod::users::{NewUserProfile, hashkey};
use migrate_testdb::{Engine, TestDb};

const SECRET: &str = "django-insecure-test-key";

fn profile() -> NewUserProfile {
    NewUserProfile { auth_type: "CAS".into(), affiliation: "faculty".into(), establishment: "Etab_1".into() }
}

fn seed(engine: Engine) -> String {
    let (yes, no) = match engine {
        Engine::Postgres => ("true", "false"),
        _ => ("1", "0"),
    };
    let user = |id: u32, username: &str| {
        format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
             is_active, date_joined) VALUES ({id}, '!x', {no}, '{username}', 'F', 'L', '{username}@univ.fr', {yes}, \
             {yes}, '2024-01-01 08:00:00');\n"
        )
    };
    let mut sql = user(1, "admin") + &user(7, "cmartin");
    // A row the old Python script made for cmartin, with the 2.0 presentation URL.
    sql += "INSERT INTO import_video_externalrecording (id, name, start_at, type, source_url, state, owner_id, site_id) \
            VALUES (500, 'Old script row', '2023-11-14 22:13:20', 'bigbluebutton', \
            'https://old.univ.fr/playback/presentation/2.0/playback.html?meetingId=rec-1', NULL, 7, 1);\n";
    if matches!(engine, Engine::Postgres) {
        // Rows inserted with explicit ids leave PostgreSQL's identity behind; Pod's own rows never do.
        for table in ["auth_user", "import_video_externalrecording"] {
            sql += &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}));\n");
        }
    }
    sql
}

fn pod_user(id: i64, username: &str) -> PodUser {
    PodUser {
        id,
        username: username.into(),
        email: format!("{username}@univ.fr"),
        first_name: "F".into(),
        last_name: "L".into(),
    }
}

fn new_user(username: &str) -> PlannedOwner {
    PlannedOwner::New {
        user: NewUser {
            username: username.into(),
            email: format!("{username}@univ.fr"),
            first_name: "Zoé".into(),
            last_name: "Lefèvre".into(),
        },
    }
}

fn row(owner: PlannedOwner) -> ImportRow {
    ImportRow { owner, evidence: "test".into(), fallback: false, existing_id: None }
}

fn item(record_id: &str, rows: Vec<ImportRow>) -> ImportItem {
    let url = format!("https://old.univ.fr/playback/presentation/2.3/{record_id}");
    ImportItem {
        position: 1,
        record_id: record_id.into(),
        name: format!("Cours « {record_id} »"),
        start_at: Utc.with_ymd_and_hms(2023, 11, 14, 22, 13, 20).unwrap(),
        duration_secs: 3600,
        origin: "Moodle".into(),
        source_url: url.clone(),
        url_variants: vec![
            url,
            format!("https://old.univ.fr/playback/presentation/2.0/playback.html?meetingId={record_id}"),
        ],
        rows,
        notes: vec![],
    }
}

async fn count(pod: &Pod, sql: &str) -> i64 {
    with_db!(pod.db(), pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn open(db: &TestDb) -> Pod {
    Pod::new(db.open(false).await, 1).await.expect("Pod opens")
}

async fn import_writes_rows_like_pods_own_code(engine: Engine) {
    let db = TestDb::pod(engine).await;
    db.execute(&seed(engine)).await;
    let pod = open(&db).await;
    let int = |e: &str| pod.db().engine().int(e);
    let flag = |e: &str| int(&format!("CASE WHEN {e} THEN 1 ELSE 0 END"));

    let items = vec![
        item("rec-1", vec![row(PlannedOwner::Existing { user: pod_user(7, "cmartin") }), row(new_user("zlefevre"))]),
        item("rec-2", vec![row(new_user("zlefevre")), row(PlannedOwner::Existing { user: pod_user(1, "admin") })]),
    ];
    let grants = pod.check_grants().await;
    assert!(grants.iter().all(|g| g.result.is_ok()), "{grants:?}");
    let first = pod.write_import(&items[0], &profile(), SECRET).await.unwrap();
    assert_eq!(first.users_created, vec!["zlefevre".to_owned()]);
    assert_eq!(first.already_there, 1, "the old script's 2.0 row for cmartin counts");
    assert_eq!(first.created.len(), 1);
    let second = pod.write_import(&items[1], &profile(), SECRET).await.unwrap();
    assert!(second.users_created.is_empty(), "zlefevre exists now");
    assert_eq!(second.created.len(), 2);

    // Rerun: nothing new.
    for it in &items {
        let again = pod.write_import(it, &profile(), SECRET).await.unwrap();
        assert!(again.created.is_empty() && again.users_created.is_empty(), "{again:?}");
    }
    assert_eq!(count(&pod, &format!("SELECT {} FROM import_video_externalrecording", int("COUNT(*)"))).await, 4);
    assert_eq!(count(&pod, &format!("SELECT {} FROM auth_user", int("COUNT(*)"))).await, 3);

    // The new user, every column.
    let sql = format!(
        "SELECT {}, password, last_login IS NULL, {}, first_name, last_name, email, {}, {}, date_joined IS NOT NULL \
         FROM auth_user WHERE username = 'zlefevre'",
        int("id"),
        flag("is_superuser"),
        flag("is_staff"),
        flag("is_active")
    );
    let (id, password, no_login, superuser, first, last, email, staff, active, joined): (
        i64,
        String,
        bool,
        i64,
        String,
        String,
        String,
        i64,
        i64,
        bool,
    ) = with_db!(pod.db(), pool => sqlx::query_as(&sql).fetch_one(pool).await).unwrap();
    assert!(password.starts_with('!') && password.len() == 41, "unusable password: {password}");
    assert!(no_login && joined);
    assert_eq!((superuser, staff, active), (0, 1, 1));
    assert_eq!((first.as_str(), last.as_str(), email.as_str()), ("Zoé", "Lefèvre", "zlefevre@univ.fr"));

    let sql = format!(
        "SELECT {}, auth_type, affiliation, commentaire, hashkey, userpicture_id IS NULL, establishment, \
         accepts_notifications IS NULL FROM authentication_owner WHERE user_id = {id}",
        int("id")
    );
    let (owner_id, auth_type, affiliation, comment, key, no_picture, establishment, no_notif): (
        i64,
        String,
        String,
        String,
        String,
        bool,
        String,
        bool,
    ) = with_db!(pod.db(), pool => sqlx::query_as(&sql).fetch_one(pool).await).unwrap();
    assert_eq!((auth_type.as_str(), affiliation.as_str(), establishment.as_str()), ("CAS", "faculty", "Etab_1"));
    assert_eq!(key, hashkey(SECRET, "zlefevre"));
    assert!(comment.is_empty() && no_picture && no_notif);
    let sites = format!(
        "SELECT {} FROM authentication_owner_sites WHERE owner_id = {owner_id} AND site_id = 1",
        int("COUNT(*)")
    );
    assert_eq!(count(&pod, &sites).await, 1);
    let folder = format!("SELECT {} FROM podfile_userfolder WHERE owner_id = {id} AND name = 'home'", int("COUNT(*)"));
    assert_eq!(count(&pod, &folder).await, 1);

    // The external recording, every column.
    let sql = format!(
        "SELECT name, type, source_url, {}, {}, state IS NULL, uploaded_to_pod_by_id IS NULL \
         FROM import_video_externalrecording WHERE owner_id = {id} AND source_url LIKE '%rec-1'",
        int("site_id"),
        int("owner_id")
    );
    let r = with_db!(pod.db(), pool => sqlx::query(&sql).fetch_one(pool).await.map(|r| (
        r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2), r.get::<i64, _>(3), r.get::<i64, _>(4),
        r.get::<bool, _>(5), r.get::<bool, _>(6))))
    .unwrap();
    assert_eq!(r.0, "Cours « rec-1 »");
    assert_eq!((r.1.as_str(), r.2.as_str()), ("bigbluebutton", "https://old.univ.fr/playback/presentation/2.3/rec-1"));
    assert_eq!((r.3, r.4, r.5, r.6), (1, id, true, true));
    let rows = pod.external_recordings_under("https://old.univ.fr/").await.unwrap();
    let start = rows.iter().find(|r| r.owner_id == Some(id)).unwrap().start_at;
    assert_eq!(start, Utc.with_ymd_and_hms(2023, 11, 14, 22, 13, 20).unwrap(), "start_at is stored in UTC");

    pod.close().await;
    db.drop().await;
}

#[tokio::test]
async fn import_on_postgres() {
    import_writes_rows_like_pods_own_code(Engine::Postgres).await;
}

#[tokio::test]
async fn import_on_mariadb() {
    import_writes_rows_like_pods_own_code(Engine::MariaDb).await;
}

#[tokio::test]
async fn import_on_sqlite() {
    import_writes_rows_like_pods_own_code(Engine::Sqlite).await;
}

async fn concurrent_writers_create_one_user(engine: Engine) {
    let db = TestDb::pod(engine).await;
    db.execute(&seed(engine)).await;
    let pod = open(&db).await;
    let items: Vec<ImportItem> = (0..8).map(|i| item(&format!("c-{i}"), vec![row(new_user("hbernard"))])).collect();
    let results = futures_join(&pod, &items).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let users = format!("SELECT {} FROM auth_user WHERE username = 'hbernard'", pod.db().engine().int("COUNT(*)"));
    assert_eq!(count(&pod, &users).await, 1);
    let rows = format!(
        "SELECT {} FROM import_video_externalrecording WHERE source_url LIKE '%/c-%'",
        pod.db().engine().int("COUNT(*)")
    );
    assert_eq!(count(&pod, &rows).await, 8);
    pod.close().await;
    db.drop().await;
}

async fn futures_join(pod: &Pod, items: &[ImportItem]) -> Vec<Result<migrate_pod::external::ImportOutcome, String>> {
    let mut handles = Vec::new();
    for it in items {
        let (pod, it) = (pod.clone(), it.clone());
        handles.push(tokio::spawn(async move {
            pod.write_import(&it, &profile(), SECRET).await.map_err(|e| e.to_string())
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_postgres() {
    concurrent_writers_create_one_user(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_mariadb() {
    concurrent_writers_create_one_user(Engine::MariaDb).await;
}

async fn cleanup_and_restore_round_trip(engine: Engine) {
    let db = TestDb::pod(engine).await;
    db.execute(&seed(engine)).await;
    // A look-alike host that a LIKE without the trailing slash, or an unescaped `_`, would also take.
    db.execute(
        "INSERT INTO import_video_externalrecording (id, name, start_at, type, source_url, state, owner_id, site_id) \
         VALUES (501, 'Other server', '2024-01-01 10:00:00', 'bigbluebutton', 'https://old.univ.fr.other/x', NULL, 7, 1);\n\
         INSERT INTO import_video_externalrecording (id, name, start_at, type, source_url, state, owner_id, site_id) \
         VALUES (502, 'Wildcard', '2024-01-01 10:00:00', 'bigbluebutton', 'https://oldXuniv.fr/x', NULL, 7, 1);",
    )
    .await;
    let pod = open(&db).await;
    let it = item("rec-9", vec![row(new_user("amoreau"))]);
    pod.write_import(&it, &profile(), SECRET).await.unwrap();

    let before = pod.external_recordings_under("https://old.univ.fr/").await.unwrap();
    let ids: Vec<i64> = before.iter().map(|r| r.id).collect();
    assert!(ids.contains(&500) && !ids.contains(&501) && !ids.contains(&502), "{ids:?}");
    assert_eq!(before.len(), 2);
    assert!(pod.external_recordings_under("https://old_univ.fr/").await.unwrap().is_empty(), "`_` is literal");
    assert!(pod.external_recordings_under("HTTPS://OLD.UNIV.FR/").await.unwrap().is_empty(), "case counts");

    let backup = Backup::new("https://old.univ.fr/", before.clone());
    let text = serde_json::to_string_pretty(&backup).unwrap();
    assert_eq!(pod.delete_external_recordings(&before).await.unwrap(), 2);
    assert!(pod.external_recordings_under("https://old.univ.fr/").await.unwrap().is_empty());
    let others = format!("SELECT {} FROM import_video_externalrecording", pod.db().engine().int("COUNT(*)"));
    assert_eq!(count(&pod, &others).await, 2, "the other servers' rows stay");

    let restored = Backup::parse(&text).unwrap();
    let outcome = pod.restore_external_recordings(&restored.rows).await.unwrap();
    assert_eq!((outcome.restored, outcome.already_there), (2, 0));
    assert_eq!(pod.external_recordings_under("https://old.univ.fr/").await.unwrap(), before);
    let twice = pod.restore_external_recordings(&restored.rows).await.unwrap();
    assert_eq!((twice.restored, twice.already_there), (0, 2));
    assert!(Backup::parse("{\"rows\": []}").is_err());
    pod.close().await;
    db.drop().await;
}

#[tokio::test]
async fn cleanup_on_postgres() {
    cleanup_and_restore_round_trip(Engine::Postgres).await;
}

#[tokio::test]
async fn cleanup_on_mariadb() {
    cleanup_and_restore_round_trip(Engine::MariaDb).await;
}

#[tokio::test]
async fn cleanup_on_sqlite() {
    cleanup_and_restore_round_trip(Engine::Sqlite).await;
}

/// A database user allowed to read but not write: the write fails with the database's message and leaves
/// nothing behind (the user created first in the same transaction is rolled back).
async fn refused_write_leaves_nothing(engine: Engine) {
    let db = TestDb::pod(engine).await;
    db.execute(&seed(engine)).await;
    let reader = format!("{}_ro", db.name);
    let url = match engine {
        Engine::Postgres => {
            db.execute(&format!(
                "DROP ROLE IF EXISTS {reader}; CREATE ROLE {reader} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}; \
                 GRANT INSERT ON auth_user, authentication_owner, authentication_owner_sites, podfile_userfolder TO {reader};"
            ))
            .await;
            format!("postgres://{reader}@127.0.0.1:5432/{}", db.name)
        }
        Engine::MariaDb => {
            db.execute(&format!(
                "DROP USER IF EXISTS '{reader}'@'%'; CREATE USER '{reader}'@'%'; \
                 GRANT SELECT ON {0}.* TO '{reader}'@'%'; \
                 GRANT INSERT ON {0}.auth_user TO '{reader}'@'%'; GRANT INSERT ON {0}.authentication_owner TO '{reader}'@'%'; \
                 GRANT INSERT ON {0}.authentication_owner_sites TO '{reader}'@'%'; GRANT INSERT ON {0}.podfile_userfolder TO '{reader}'@'%';",
                db.name
            ))
            .await;
            format!("mysql://{reader}@127.0.0.1:3306/{}", db.name)
        }
        Engine::Sqlite => db.url.clone(),
    };
    // SQLite has no users: a file opened read-only stands for the refused write.
    let read_only = matches!(engine, Engine::Sqlite);
    let options = migrate_db::OpenOptions { read_only, ..Default::default() };
    let limited = migrate_db::Db::open(&url, options).await.expect("the limited user connects");
    let pod = Pod::new(limited, 1).await.unwrap();
    // `doctor` sees it before any run: the external recording insert is refused, nothing is left behind.
    let grants = pod.check_grants().await;
    let external = grants.iter().find(|g| g.what == "INSERT import_video_externalrecording").unwrap();
    assert!(external.result.is_err(), "{grants:?}");
    let it = item("rec-ro", vec![row(new_user("lgarcia"))]);
    let err = pod.write_import(&it, &profile(), SECRET).await.unwrap_err().to_string();
    assert!(err.contains("recording rec-ro"), "{err}");
    let lowered = err.to_lowercase();
    assert!(
        lowered.contains("permission denied") || lowered.contains("denied") || lowered.contains("readonly"),
        "the database's own reason: {err}"
    );
    pod.close().await;
    let admin = open(&db).await;
    let users = format!("SELECT {} FROM auth_user WHERE username = 'lgarcia'", admin.db().engine().int("COUNT(*)"));
    assert_eq!(count(&admin, &users).await, 0, "the user created in the failed transaction is rolled back");
    admin.close().await;
    match engine {
        Engine::Postgres => {
            let db_name = db.name.clone();
            db.drop().await;
            let admin = TestDb { engine, name: String::new(), url: migrate_testdb::admin_url(engine) };
            admin.execute(&format!("DROP ROLE IF EXISTS {reader}")).await;
            let _ = db_name;
        }
        Engine::MariaDb => {
            db.execute(&format!("DROP USER IF EXISTS '{reader}'@'%'")).await;
            db.drop().await;
        }
        Engine::Sqlite => db.drop().await,
    }
}

#[tokio::test]
async fn refused_write_on_postgres() {
    refused_write_leaves_nothing(Engine::Postgres).await;
}

#[tokio::test]
async fn refused_write_on_mariadb() {
    refused_write_leaves_nothing(Engine::MariaDb).await;
}

#[tokio::test]
async fn refused_write_on_sqlite() {
    refused_write_leaves_nothing(Engine::Sqlite).await;
}
