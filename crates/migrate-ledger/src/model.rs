//! The values the ledger takes and gives back. Plain data, no database types, so callers stay
//! independent of sqlx.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which database holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One embedded file: the default for a single host.
    Sqlite,
    /// A shared server: for several hosts working on the same migration.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A recording as an inventory pass saw it on the old server.
///
/// Times are stored to the millisecond (BigBlueButton's own precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenRecording {
    pub record_id: String,
    pub meeting_id: String,
    pub name: String,
    pub state: String,
    pub published: bool,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub origin: Option<String>,
    /// The full recording as the caller models it; compared to detect changes.
    pub snapshot: Value,
}

/// What one `record_seen` call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenStats {
    /// Never seen before.
    pub new: u64,
    /// Seen before with a different snapshot.
    pub updated: u64,
    /// Seen before with the identical snapshot (last_seen and seen_count still move).
    pub unchanged: u64,
}

impl SeenStats {
    /// Number of distinct recordings the call covered.
    pub fn total(&self) -> u64 {
        self.new + self.updated + self.unchanged
    }
}

/// A recording as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecording {
    pub record_id: String,
    pub meeting_id: String,
    pub name: String,
    pub state: String,
    pub published: bool,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub origin: Option<String>,
    pub snapshot: Value,
    /// Base URL of the old server it was last seen on.
    pub server: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub seen_count: u64,
}

/// An action the plan wants done once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAction {
    /// Idempotency key, e.g. `claim:<recordID>` or `import:<source_url>:<owner>`.
    pub key: String,
    pub kind: String,
    pub record_id: Option<String>,
    /// Human description of what the action touches.
    pub target: String,
    pub details: Value,
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 5] =
        [ActionStatus::Pending, ActionStatus::Running, ActionStatus::Done, ActionStatus::Failed, ActionStatus::Skipped];

    /// The spelling stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Running => "running",
            ActionStatus::Done => "done",
            ActionStatus::Failed => "failed",
            ActionStatus::Skipped => "skipped",
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `pending|running|done|failed|skipped`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action status {0:?}: expected pending, running, done, failed or skipped")]
pub struct ParseStatusError(pub String);

impl FromStr for ActionStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseStatusError(s.to_owned()))
    }
}

/// One row of the `actions` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRow {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub record_id: Option<String>,
    pub target: String,
    pub status: ActionStatus,
    /// How many times a lease was granted.
    pub attempts: u32,
    /// Last holder (`host:pid`); the lease is live only while `status` is `Running`.
    pub lease_owner: Option<String>,
    pub lease_expires: Option<DateTime<Utc>>,
    /// Last failure, or the reason given to `skip`.
    pub last_error: Option<String>,
    pub output_path: Option<String>,
    pub output_size: Option<u64>,
    pub output_sha256: Option<String>,
    /// What the plan said (from `NewAction::details`).
    pub details: Value,
    /// What the run produced (from `ActionOutput::details`), kept apart from the plan's details.
    pub output_details: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a finished action produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionOutput {
    pub path: Option<String>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub details: Value,
}

/// The answer of `try_lease`.
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// The caller now holds the lease and must do the work, then `complete` or `fail`.
    Acquired(ActionRow),
    /// Somebody already did it: do nothing.
    AlreadyDone(ActionRow),
    /// Somebody else holds a live lease.
    Busy { owner: String, expires: DateTime<Utc> },
}

/// Which actions `actions()` returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionFilter {
    pub kind: Option<String>,
    pub status: Option<ActionStatus>,
    pub record_id: Option<String>,
}

/// Identifies one invocation of the tool in the `runs` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One row of the `runs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: RunId,
    pub command: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub host: String,
    pub pid: u32,
    /// `running` until `finish_run` sets the caller's status.
    pub status: String,
    pub summary: Option<Value>,
}
