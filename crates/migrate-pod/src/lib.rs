//! Esup-Pod's database, written the way Pod's own code would write it.
//!
//! bbb-migrate writes rows, so no Django signal runs: everything Pod's Python code adds beyond the schema is
//! done here — a new `auth_user` gets its `authentication_owner` profile (hash key = SHA-256 of Pod's
//! `SECRET_KEY` + username), its site membership and its `podfile_userfolder`; timestamps are written in
//! UTC as Django stores them on each engine. Every write for one recording is one transaction, and re-checks
//! inside it what the plan saw, so a rerun or a concurrent worker never duplicates a row.
//!
//! Modules: [`users`] (accounts), [`external`] (import mode's external recordings), [`recorder`] (claim
//! mode's recorder and the files Pod has seen), [`cleanup`] (backup, delete and restore of rows that point
//! at the old server), [`relink`] (those rows pointed at the archive instead, reversibly).

pub mod cleanup;
pub mod external;
pub mod recorder;
pub mod relink;
pub mod users;

use chrono::{DateTime, Utc};
use migrate_db::{Db, DbError, Engine, with_db};

pub use migrate_db;

/// Why Pod could not be read or written. Messages are the database's own, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{context}: {message}")]
    Sql { context: String, message: String, unique_violation: bool },
    #[error("{0}")]
    Invalid(String),
}

impl PodError {
    fn sql(context: impl Into<String>) -> impl FnOnce(migrate_db::sqlx::Error) -> PodError {
        let context = context.into();
        move |e| {
            let unique_violation = matches!(&e, migrate_db::sqlx::Error::Database(d) if d.is_unique_violation());
            let message = if connection_lost(&e) {
                format!(
                    "the connection to Pod's database was lost ({e}); rerun to retry: what was written is found \
                     again, nothing is written twice"
                )
            } else {
                e.to_string()
            };
            PodError::Sql { context, message, unique_violation }
        }
    }

    /// A UNIQUE constraint refused the write: somebody else wrote the same row meanwhile.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, PodError::Sql { unique_violation: true, .. })
    }
}

/// The connection went away under the statement (killed, server restarted, network cut): a driver-level error
/// ("expected to read 4 bytes, got 0 bytes at EOF" says nothing to a user) or PostgreSQL's admin/crash shutdown
/// and connection-exception classes.
fn connection_lost(e: &migrate_db::sqlx::Error) -> bool {
    use migrate_db::sqlx::Error;
    match e {
        Error::Io(_) | Error::Protocol(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(d) => {
            d.code().is_some_and(|c| matches!(c.as_ref(), "57P01" | "57P02" | "57P03") || c.starts_with("08"))
        }
        _ => false,
    }
}

/// The Pod database, for one Pod site.
#[derive(Clone)]
pub struct Pod {
    db: Db,
    site_id: i64,
    has_userfolders: bool,
}

impl Pod {
    /// Checks that the site exists and that the tables a migration needs are there.
    pub async fn new(db: Db, site_id: i64) -> Result<Pod, PodError> {
        let engine = db.engine();
        let sql = format!("SELECT {} FROM django_site WHERE id = {}", engine.int("id"), engine.param(1));
        let found: Option<i64> = with_db!(&db, pool => {
            migrate_db::sqlx::query_scalar(&sql).bind(site_id).fetch_optional(pool).await
        })
        .map_err(PodError::sql("reading Pod's django_site"))?;
        if found.is_none() {
            return Err(PodError::Invalid(format!(
                "Pod has no site with id {site_id} (django_site): set pod.site_id to Pod's SITE_ID"
            )));
        }
        let has_userfolders = with_db!(&db, pool => {
            migrate_db::sqlx::query("SELECT id FROM podfile_userfolder WHERE 1 = 0").fetch_all(pool).await.map(|_| ())
        })
        .is_ok();
        Ok(Pod { db, site_id, has_userfolders })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn site_id(&self) -> i64 {
        self.site_id
    }

    pub async fn close(&self) {
        self.db.close().await
    }
}

/// A timestamp as a bind parameter: Django's text form (UTC), cast to `timestamptz` on PostgreSQL, taken as
/// is by MySQL's DATETIME(6) and stored as is in SQLite's text columns.
fn timestamp_param(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Postgres => format!("CAST({} AS TIMESTAMPTZ)", engine.param(n)),
        Engine::MySql | Engine::Sqlite => engine.param(n),
    }
}

fn timestamp_value(engine: Engine, t: DateTime<Utc>) -> String {
    let text = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    match engine {
        Engine::Postgres => format!("{text}+00:00"),
        Engine::MySql | Engine::Sqlite => text,
    }
}

/// A timestamp column read back as UTC RFC 3339 text on every engine.
fn timestamp_column(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Postgres => {
            format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        }
        Engine::MySql => format!("DATE_FORMAT({column}, '%Y-%m-%dT%H:%i:%s.%fZ')"),
        Engine::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {column})"),
    }
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// What `doctor` learns by trying each kind of write bbb-migrate makes, inside a transaction that is rolled
/// back: whether the database account holds the grants, without leaving anything behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCheck {
    /// `INSERT auth_user + profile + site + folder`, `INSERT import_video_externalrecording`, …
    pub what: &'static str,
    /// Needed by which commands.
    pub needed_by: &'static str,
    pub result: Result<(), String>,
}

impl Pod {
    /// Tries every write the tool makes, each in a transaction rolled back at once.
    pub async fn check_grants(&self) -> Vec<GrantCheck> {
        let engine = self.db.engine();
        let p = |n| engine.param(n);
        let now = timestamp_value(engine, chrono::Utc::now());
        let user = format!(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, \
             is_staff, is_active, date_joined) VALUES ('!', NULL, {}, '__bbb_migrate_grant_check__', '', '', '', {}, {}, {})",
            p(1),
            p(2),
            p(3),
            timestamp_param(engine, 4)
        );
        let find = format!("SELECT {} FROM auth_user WHERE username = '__bbb_migrate_grant_check__'", engine.int("id"));
        let owner = format!(
            "INSERT INTO authentication_owner (user_id, auth_type, affiliation, commentaire, hashkey, establishment) \
             VALUES ({}, 'local', 'member', '', '__bbb_migrate_grant_check__', '')",
            p(1)
        );
        let external = format!(
            "INSERT INTO import_video_externalrecording (name, start_at, owner_id, site_id, type, source_url) \
             VALUES ('grant check', {}, NULL, {}, 'bigbluebutton', '')",
            timestamp_param(engine, 1),
            p(2)
        );
        let site_id = self.site_id;
        let mut checks = Vec::new();
        let result: Result<(), String> = with_db!(&self.db, pool => async {
            use migrate_db::sqlx;
            let mut tx = pool.begin().await?;
            sqlx::query(&user).bind(false).bind(true).bind(true).bind(now.as_str()).execute(&mut *tx).await?;
            let id: i64 = sqlx::query_scalar(&find).fetch_one(&mut *tx).await?;
            sqlx::query(&owner).bind(id).execute(&mut *tx).await?;
            tx.rollback().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .map_err(|e| e.to_string());
        checks.push(GrantCheck {
            what: "INSERT auth_user, authentication_owner",
            needed_by: "migrate --mode import (new users)",
            result,
        });
        let result: Result<(), String> = with_db!(&self.db, pool => async {
            use migrate_db::sqlx;
            let mut tx = pool.begin().await?;
            sqlx::query(&external).bind(now.as_str()).bind(site_id).execute(&mut *tx).await?;
            tx.rollback().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .map_err(|e| e.to_string());
        checks.push(GrantCheck {
            what: "INSERT import_video_externalrecording",
            needed_by: "migrate --mode import",
            result,
        });
        for (what, needed_by, sql) in [
            (
                "DELETE import_video_externalrecording",
                "cleanup",
                "DELETE FROM import_video_externalrecording WHERE 1 = 0",
            ),
            (
                "UPDATE import_video_externalrecording",
                "relink",
                "UPDATE import_video_externalrecording SET source_url = source_url WHERE 1 = 0",
            ),
            (
                "INSERT authentication_owner_sites",
                "migrate --mode import (new users)",
                "INSERT INTO authentication_owner_sites (owner_id, site_id) SELECT owner_id, site_id FROM authentication_owner_sites WHERE 1 = 0",
            ),
        ] {
            let result = with_db!(&self.db, pool => migrate_db::sqlx::query(sql).execute(pool).await.map(|_| ()))
                .map_err(|e| e.to_string());
            checks.push(GrantCheck { what, needed_by, result });
        }
        checks
    }
}
