//! Throw-away ledgers for tests: a SQLite file in a temp dir, or a PostgreSQL database of its own
//! that is dropped when the guard goes (also on panic), plus a sweep of databases left behind by
//! test processes that no longer exist.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

pub const PREFIX: &str = "ledger_test_";

/// The maintenance database used to create and drop test databases.
pub fn admin_url() -> String {
    std::env::var("LEDGER_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{db}")
}

pub struct TestDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        // A subdirectory that does not exist yet: open must create it.
        let path = dir.path().join("state").join("ledger.sqlite");
        TestDb { url: format!("sqlite://{}", path.display()), dir: Some(dir), pg_name: None }
    }

    pub async fn postgres() -> TestDb {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("{PREFIX}{}_{}_{}", std::process::id(), nanos, SEQ.fetch_add(1, Ordering::Relaxed));
        let mut admin =
            PgConnection::connect(&admin_url()).await.expect("PostgreSQL for tests (set LEDGER_TEST_PG_ADMIN_URL)");
        sweep_stale(&mut admin).await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await.expect("create test database");
        let _ = admin.close().await;
        TestDb { url: url_for(&name), dir: None, pg_name: Some(name) }
    }

    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self.url.strip_prefix("sqlite://").map(Into::into)
    }
}

/// Drops test databases whose creating process is gone (a killed test run cannot clean up).
async fn sweep_stale(admin: &mut PgConnection) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ledger\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name[PREFIX.len()..].split('_').next().unwrap_or("");
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut *admin).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which must not be blocked on itself: do the async
        // work on a thread with its own runtime and wait for it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}
