//! Errors say what failed and what to check. None of them carries a database password: URLs are
//! masked before they get here.

use std::path::PathBuf;

/// Everything the ledger can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error(
        "unsupported ledger URL {url:?}: use sqlite://path/to/ledger.sqlite (or a plain file path) \
         or postgres://user@host/database"
    )]
    UnsupportedUrl { url: String },

    #[error(
        "cannot create or open the SQLite ledger file {}: {source} (check that the directory exists \
         or can be created and is writable)",
        path.display()
    )]
    SqliteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot open the SQLite ledger {}: {message}", path.display())]
    SqliteOpen { path: PathBuf, message: String },

    #[error(
        "cannot connect to the PostgreSQL ledger {url}: {message} (check host, port, user, password \
         and that the database exists)"
    )]
    Connect { url: String, message: String },

    #[error(
        "cannot bring the ledger schema at {url} up to date: {message} (if another bbb-migrate \
         version already uses this ledger, run the same version everywhere)"
    )]
    Migrate { url: String, message: String },

    #[error("lease on action {key:?} is no longer held by this worker: another worker took it over, or it was reset")]
    LeaseLost { key: String },

    #[error("no action with key {key:?} in the ledger: call ensure_action first")]
    UnknownAction { key: String },

    #[error("no run with id {id} in the ledger")]
    UnknownRun { id: i64 },

    #[error("action {key:?} is {status}: it cannot be {wanted}")]
    InvalidTransition { key: String, status: String, wanted: &'static str },

    #[error("action {key:?} kept changing under concurrent workers; try again")]
    Contention { key: String },

    #[error("the ledger database refused {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error("the ledger holds a value it cannot read back ({what}): {message}")]
    Corrupt { what: String, message: String },

    #[error("{what} is too large to store in the ledger ({value})")]
    OutOfRange { what: &'static str, value: u64 },
}

/// Wraps a sqlx error with what the ledger was doing.
pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
    move |source| LedgerError::Database { operation, source }
}
