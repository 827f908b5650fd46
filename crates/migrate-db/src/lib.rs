//! Connections to the databases of the front-ends (Pod, Moodle, Greenlight): one [`Db`] over PostgreSQL,
//! MySQL/MariaDB or SQLite, chosen by the URL, with what the engines disagree on kept in one place —
//! placeholders, integer casts, identifier quoting — so that every query is written once and stays
//! parameterized.
//!
//! Queries run on the engine's own pool through [`with_db!`], so values are typed by the real driver (no
//! `Any` driver and its lossy conversions).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Executor};

pub use sqlx;

/// A front-end database, on its engine's pool.
#[derive(Clone)]
pub enum Db {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// The SQL dialect of a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
    Sqlite,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
            Self::Sqlite => "SQLite",
        })
    }
}

/// Runs `$body` with `$pool` bound to the engine's own pool (`&PgPool`, `&MySqlPool` or `&SqlitePool`).
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Postgres($pool) => $body,
            $crate::Db::MySql($pool) => $body,
            $crate::Db::Sqlite($pool) => $body,
        }
    };
}

/// How to open a database.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Refuse writes at the session level: Moodle and Greenlight are only read (except for the notice).
    pub read_only: bool,
    pub max_connections: u32,
    /// Connecting, and waiting for a free connection of the pool.
    pub connect_timeout: Duration,
    /// Longest a single statement may run (PostgreSQL and MySQL).
    pub statement_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            max_connections: 4,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(120),
        }
    }
}

/// Why a database could not be used. Never holds a password: URLs are masked.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL `{url}`: use postgres://, mysql:// (MariaDB too) or sqlite://")]
    UnsupportedUrl { url: String },
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("table prefix `{prefix}` may only hold a-z, A-Z, 0-9 and _")]
    BadPrefix { prefix: String },
    #[error("{context}: {message}")]
    Query { context: String, message: String },
}

impl Db {
    /// Opens `url` and checks the connection at once (a pool would only fail at first use).
    pub async fn open(url: &str, options: OpenOptions) -> Result<Db, DbError> {
        let display = mask_url(url);
        let secrets = url_secrets(url);
        let connect_err =
            |e: sqlx::Error| DbError::Connect { url: display.clone(), message: scrub(&e.to_string(), &secrets) };
        let lower = url.trim().to_ascii_lowercase();
        let db = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let mut connect = PgConnectOptions::from_str(url.trim()).map_err(connect_err)?;
            let mut settings =
                vec![("statement_timeout".to_owned(), options.statement_timeout.as_millis().to_string())];
            if options.read_only {
                settings.push(("default_transaction_read_only".to_owned(), "on".to_owned()));
            }
            // No statement logging: statements carry front-end data, and slow ones would flood the log.
            connect = connect.options(settings).application_name("bbb-migrate").disable_statement_logging();
            probe::<sqlx::PgConnection>(&connect, options.connect_timeout).await.map_err(connect_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            Db::Postgres(pool)
        } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            let normalized = if lower.starts_with("mariadb://") {
                format!("mysql://{}", &url.trim()[10..])
            } else {
                url.trim().to_owned()
            };
            let connect = MySqlConnectOptions::from_str(&normalized)
                .map_err(connect_err)?
                .charset("utf8mb4")
                .disable_statement_logging();
            probe::<sqlx::MySqlConnection>(&connect, options.connect_timeout).await.map_err(connect_err)?;
            let read_only = options.read_only;
            let timeout_ms = options.statement_timeout.as_millis();
            let pool = MySqlPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        // MariaDB and MySQL name the statement timeout differently; ignore the one that is unknown.
                        let _ = conn
                            .execute(
                                format!("SET SESSION max_statement_time = {}", timeout_ms as f64 / 1000.0).as_str(),
                            )
                            .await;
                        if read_only {
                            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            Db::MySql(pool)
        } else if lower.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url.trim())
                .map_err(connect_err)?
                .read_only(options.read_only)
                .busy_timeout(options.connect_timeout)
                .foreign_keys(true)
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            Db::Sqlite(pool)
        } else {
            return Err(DbError::UnsupportedUrl { url: display });
        };
        Ok(db)
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Postgres(_) => Engine::Postgres,
            Db::MySql(_) => Engine::MySql,
            Db::Sqlite(_) => Engine::Sqlite,
        }
    }

    pub async fn close(&self) {
        with_db!(self, pool => pool.close().await)
    }
}

/// One plain connection, so that a refused or unreachable server fails at once with its real cause (a pool
/// would keep retrying until its acquire timeout and then only say "timed out").
async fn probe<C: sqlx::Connection>(options: &C::Options, timeout: Duration) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(timeout, C::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

impl Engine {
    /// The `n`-th (1-based) bind parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Engine::Postgres => format!("${n}"),
            Engine::MySql | Engine::Sqlite => "?".to_owned(),
        }
    }

    /// `count` bind parameters numbered from `first`, comma-separated, for `IN (…)` lists.
    pub fn params(self, first: usize, count: usize) -> String {
        (first..first + count).map(|n| self.param(n)).collect::<Vec<_>>().join(", ")
    }

    /// `expr` as a 64-bit integer whatever its column type (Moodle's flags are TINYINT on MySQL, SMALLINT on
    /// PostgreSQL), so that every engine decodes it as `i64`.
    pub fn int(self, expr: &str) -> String {
        match self {
            Engine::Postgres => format!("CAST({expr} AS BIGINT)"),
            Engine::MySql => format!("CAST({expr} AS SIGNED)"),
            Engine::Sqlite => format!("CAST({expr} AS INTEGER)"),
        }
    }

    /// A quoted identifier (the only way table names from configuration reach SQL).
    pub fn quote(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{}`", ident.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// The quoted name of table `name` under a configured `prefix` (Moodle's `$CFG->prefix`).
    pub fn table(self, prefix: &str, name: &str) -> Result<String, DbError> {
        if !prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(DbError::BadPrefix { prefix: prefix.to_owned() });
        }
        Ok(self.quote(&format!("{prefix}{name}")))
    }
}

/// Rows are fetched by `IN (…)` lists of at most this many values: few round trips, and far below every
/// engine's limit on bind parameters (SQLite's is 32 766, PostgreSQL's 65 535).
pub const BATCH: usize = 1_000;

/// The URL with its password replaced by `****`, for messages and logs.
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.trim().to_owned(),
    }
}

/// The password of `url`, raw and percent-decoded, to scrub from driver messages.
fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url.trim()) else { return Vec::new() };
    let Some(password) = parsed.password() else { return Vec::new() };
    let mut secrets = vec![password.to_owned()];
    secrets.extend(url::form_urlencoded::parse(format!("p={password}").as_bytes()).next().map(|(_, v)| v.into_owned()));
    secrets.retain(|s| s.len() >= 3);
    secrets
}

fn scrub(message: &str, secrets: &[String]) -> String {
    secrets.iter().fold(message.to_owned(), |m, s| m.replace(s.as_str(), "****"))
}

/// A query error with what was being done, for messages that say which step failed.
pub fn query_error(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let context = context.into();
    move |e| DbError::Query { context, message: e.to_string() }
}

/// Whether an error means "this table does not exist" (Moodle 3 has no recordings table, for instance).
pub fn is_missing_table(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            // PostgreSQL 42P01, MySQL 1146 (42S02), SQLite "no such table".
            matches!(db.code().as_deref(), Some("42P01") | Some("42S02") | Some("1146"))
                || db.message().contains("no such table")
                || db.message().contains("doesn't exist")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_engine() {
        assert_eq!(Engine::Postgres.params(3, 3), "$3, $4, $5");
        assert_eq!(Engine::MySql.params(1, 2), "?, ?");
        assert_eq!(Engine::Sqlite.param(7), "?");
    }

    #[test]
    fn table_names_are_quoted_and_prefixes_checked() {
        assert_eq!(Engine::Postgres.table("mdl_", "user").unwrap(), "\"mdl_user\"");
        assert_eq!(Engine::MySql.table("m2_", "role").unwrap(), "`m2_role`");
        assert!(Engine::Postgres.table("mdl_; DROP TABLE x; --", "user").is_err());
        assert!(Engine::MySql.table("a`b", "user").is_err());
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(mask_url("postgres://pod:s3cr%40t@db/pod"), "postgres://pod:****@db/pod");
        assert_eq!(url_secrets("mysql://u:s3cr%40t@h/d"), vec!["s3cr%40t".to_owned(), "s3cr@t".to_owned()]);
        assert_eq!(scrub("password s3cr@t refused", &url_secrets("mysql://u:s3cr%40t@h/d")), "password **** refused");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_clear_error_without_the_password() {
        let err = Db::open("postgres://nobody:hunter22@127.0.0.1:1/none", OpenOptions::default()).await.err().unwrap();
        let text = err.to_string();
        assert!(text.starts_with("cannot connect to postgres://nobody:****@127.0.0.1:1/none"), "{text}");
        assert!(!text.contains("hunter22"));
        let err = Db::open("oracle://x", OpenOptions::default()).await.err().unwrap();
        assert!(matches!(err, DbError::UnsupportedUrl { .. }));
    }

    #[tokio::test]
    async fn a_read_only_sqlite_refuses_writes() {
        let dir = std::env::temp_dir().join(format!("migrate-db-ro-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.sqlite");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = Db::open(&url, OpenOptions::default()).await.unwrap();
        with_db!(&db, pool => sqlx::query("CREATE TABLE t (a INTEGER)").execute(pool).await.map(|_| ())).unwrap();
        db.close().await;
        let ro =
            Db::open(&format!("sqlite://{}", path.display()), OpenOptions { read_only: true, ..Default::default() })
                .await
                .unwrap();
        let write = with_db!(&ro, pool => sqlx::query("INSERT INTO t VALUES (1)").execute(pool).await.map(|_| ()));
        assert!(write.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
