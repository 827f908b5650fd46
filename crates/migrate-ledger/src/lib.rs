//! The migration ledger: bbb-migrate's own memory of what it has seen and done, so every step can
//! be resumed and no side effect happens twice.
//!
//! - `recordings`: every recording an inventory pass saw, with the caller's JSON snapshot.
//! - `actions`: one row per side effect, keyed by an idempotency key. Workers take a lease
//!   ([`Ledger::try_lease`]), do the work, and [`Ledger::complete`] it; a done action is never
//!   leased again and an expired lease is taken over.
//! - `runs`: one row per invocation, for reports.
//!
//! Backends: an embedded SQLite file (default; WAL mode) or PostgreSQL for several hosts. The
//! schema is embedded and migrated on [`Ledger::open`]. Timestamps are stored as UTC RFC 3339 text
//! with millisecond precision on both backends.
//!
//! The crate does not depend on the rest of the workspace: callers hand in plain fields and a
//! JSON snapshot.

mod error;
mod ledger;
mod model;
mod time;
mod url;

pub use error::LedgerError;
pub use ledger::{Ledger, default_owner, hostname, is_dead_local_holder};
pub use model::{
    ActionFilter, ActionOutput, ActionRow, ActionStatus, Backend, Lease, NewAction, ParseStatusError, RunId, RunRow,
    SeenRecording, SeenStats, StoredRecording,
};
pub use url::mask_url;
