//! Throw-away databases on the local PostgreSQL and MariaDB (each test makes and drops its own, so tests run in
//! parallel) and in SQLite files: Moodle's tables under any prefix, Pod 4.1's tables as its migrations make them.
//! The servers default to the local ones (`BBB_MIGRATE_TEST_PG_URL`, `BBB_MIGRATE_TEST_MYSQL_URL` override).
//! [`moto`] starts a real S3-compatible server for the archive's bucket tests.

use std::sync::atomic::{AtomicU32, Ordering};

pub mod moto;

use migrate_db::sqlx::{self, Connection};
use migrate_db::{Db, OpenOptions};

/// The repository's `tests/fixtures`.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Postgres,
    MariaDb,
    Sqlite,
}

pub struct TestDb {
    pub engine: Engine,
    pub name: String,
    pub url: String,
}

pub fn admin_url(engine: Engine) -> String {
    match engine {
        Engine::Postgres => std::env::var("BBB_MIGRATE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        Engine::MariaDb => {
            std::env::var("BBB_MIGRATE_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
        }
        Engine::Sqlite => String::new(),
    }
}

fn base(url: &str) -> &str {
    url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url)
}

impl TestDb {
    /// A new database holding Moodle's tables under `prefix` and the seed rows.
    pub async fn moodle(engine: Engine, prefix: &str) -> TestDb {
        let fixtures = format!("{FIXTURES}/moodle");
        let schema_file = match engine {
            Engine::Postgres => "schema.postgres.sql",
            Engine::MariaDb => "schema.mysql.sql",
            Engine::Sqlite => panic!("Moodle runs on PostgreSQL or MySQL/MariaDB"),
        };
        let schema = std::fs::read_to_string(format!("{fixtures}/{schema_file}")).unwrap().replace("mdl_", prefix);
        let seed = std::fs::read_to_string(format!("{fixtures}/seed.sql")).unwrap().replace("mdl_", prefix);
        Self::create(engine, &[&schema, &seed]).await
    }

    /// A new database with all of Esup-Pod 4.1's tables, as a real Pod has them, and site 1.
    pub async fn pod(engine: Engine) -> TestDb {
        let fixtures = format!("{FIXTURES}/pod");
        let file = match engine {
            Engine::Postgres => "schema.postgres.sql",
            Engine::MariaDb => "schema.mysql.sql",
            Engine::Sqlite => "schema.sqlite.sql",
        };
        let schema = std::fs::read_to_string(format!("{fixtures}/{file}")).unwrap();
        let site = "INSERT INTO django_site (id, domain, name) VALUES (1, 'example.com', 'example.com');";
        Self::create(engine, &[&schema, site]).await
    }

    /// A new, empty database on `engine`, then each script run in it.
    pub async fn create(engine: Engine, scripts: &[&str]) -> TestDb {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!("bbbm_test_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let admin = admin_url(engine);
        let url = match engine {
            Engine::Sqlite => format!("sqlite://{}/{name}.sqlite?mode=rwc", std::env::temp_dir().display()),
            _ => format!("{}/{name}", base(&admin)),
        };
        match engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("local PostgreSQL");
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
                // A connection per script: pg_dump's output empties the search_path of its session.
                for script in scripts {
                    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(&without_psql_commands(script)).execute(&mut db).await.expect("script loads");
                }
            }
            Engine::MariaDb => {
                let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("local MariaDB");
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let mut db = sqlx::MySqlConnection::connect(&url).await.unwrap();
                for script in scripts {
                    sqlx::raw_sql(script).execute(&mut db).await.expect("script loads");
                }
            }
            Engine::Sqlite => {
                let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for script in scripts {
                    sqlx::raw_sql(script).execute(&mut db).await.expect("script loads");
                }
            }
        }
        TestDb { engine, name, url }
    }

    pub async fn open(&self, read_only: bool) -> Db {
        Db::open(&self.url, OpenOptions { read_only, ..Default::default() }).await.expect("test database opens")
    }

    pub async fn execute(&self, sql: &str) {
        let db = self.open(false).await;
        migrate_db::with_db!(&db, pool => sqlx::raw_sql(sql).execute(pool).await.map(|_| ())).unwrap();
        db.close().await;
    }

    pub async fn drop(self) {
        let admin = admin_url(self.engine);
        let sql = format!("DROP DATABASE IF EXISTS {}", self.name);
        match self.engine {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&format!("{sql} WITH (FORCE)")).execute(&mut conn).await.unwrap();
            }
            Engine::MariaDb => {
                let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
            }
            Engine::Sqlite => {
                let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{}.sqlite", self.name)));
            }
        }
    }
}

/// The script without psql's meta-commands (`\\restrict …` lines of recent pg_dump output), which only psql
/// understands.
pub fn without_psql_commands(script: &str) -> String {
    script.lines().filter(|l| !l.starts_with('\\')).collect::<Vec<_>>().join("\n")
}
