//! The `Ledger` handle: one pool, two backends, the same SQL on both.
//!
//! Every state change is a single statement (or one transaction whose first statement writes), so
//! it is atomic on PostgreSQL (row locks, re-checked `WHERE` under READ COMMITTED) and on SQLite
//! (one writer at a time; a write-first transaction never has to upgrade a stale read snapshot).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{Connection, FromRow};

use crate::LedgerError;
use crate::error::db;
use crate::model::*;
use crate::time::{add_ttl, fmt_ts, now, parse_opt, parse_ts};
use crate::url::{Target, scrub};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Several processes (executor, workers) may share one SQLite file; writes are short, so waiting
/// is better than failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Rows per multi-row upsert: 9 parameters a row stays far below SQLite's 32766 and PG's 65535.
const UPSERT_CHUNK: usize = 500;

#[derive(Clone)]
enum DbPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool: the SQL text is shared, the types stay
/// native (no `Any` driver, no global driver registry).
macro_rules! with_pool {
    ($ledger:expr, $pool:ident => $body:expr) => {
        match &$ledger.pool {
            DbPool::Sqlite($pool) => $body,
            DbPool::Postgres($pool) => $body,
        }
    };
}

/// The tool's memory: recordings seen, actions and their leases, runs. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    pool: DbPool,
    display: Arc<str>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger").field("backend", &self.backend()).field("url", &self.display).finish()
    }
}

const RECORDING_COLS: &str = "record_id, meeting_id, name, state, published, start_time, end_time, \
     origin, server, snapshot, first_seen, last_seen, seen_count";

const ACTION_COLS: &str = "id, \"key\", kind, record_id, target, status, attempts, lease_owner, \
     lease_expires, last_error, output_path, output_size, output_sha256, details, output_details, \
     created_at, updated_at, finished_at";

const RUN_COLS: &str = "id, command, started_at, finished_at, host, pid, status, summary";

#[derive(FromRow)]
struct RecordingDb {
    record_id: String,
    meeting_id: String,
    name: String,
    state: String,
    published: bool,
    start_time: String,
    end_time: String,
    origin: Option<String>,
    server: String,
    snapshot: Json<Value>,
    first_seen: String,
    last_seen: String,
    seen_count: i64,
}

impl TryFrom<RecordingDb> for StoredRecording {
    type Error = LedgerError;

    fn try_from(r: RecordingDb) -> Result<Self, LedgerError> {
        let what = |col: &str| format!("recordings.{col} of {}", r.record_id);
        Ok(StoredRecording {
            start_time: parse_ts(&what("start_time"), &r.start_time)?,
            end_time: parse_ts(&what("end_time"), &r.end_time)?,
            first_seen: parse_ts(&what("first_seen"), &r.first_seen)?,
            last_seen: parse_ts(&what("last_seen"), &r.last_seen)?,
            seen_count: non_negative(&what("seen_count"), r.seen_count)?,
            record_id: r.record_id,
            meeting_id: r.meeting_id,
            name: r.name,
            state: r.state,
            published: r.published,
            origin: r.origin,
            server: r.server,
            snapshot: r.snapshot.0,
        })
    }
}

#[derive(FromRow)]
struct ActionDb {
    id: i64,
    key: String,
    kind: String,
    record_id: Option<String>,
    target: String,
    status: String,
    attempts: i64,
    lease_owner: Option<String>,
    lease_expires: Option<String>,
    last_error: Option<String>,
    output_path: Option<String>,
    output_size: Option<i64>,
    output_sha256: Option<String>,
    details: Json<Value>,
    output_details: Option<Json<Value>>,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
}

impl TryFrom<ActionDb> for ActionRow {
    type Error = LedgerError;

    fn try_from(a: ActionDb) -> Result<Self, LedgerError> {
        let what = |col: &str| format!("actions.{col} of {:?}", a.key);
        let status = a
            .status
            .parse()
            .map_err(|e: ParseStatusError| LedgerError::Corrupt { what: what("status"), message: e.to_string() })?;
        let attempts = u32::try_from(a.attempts)
            .map_err(|e| LedgerError::Corrupt { what: what("attempts"), message: e.to_string() })?;
        Ok(ActionRow {
            status,
            attempts,
            lease_expires: parse_opt(&what("lease_expires"), a.lease_expires.as_deref())?,
            output_size: a.output_size.map(|s| non_negative(&what("output_size"), s)).transpose()?,
            created_at: parse_ts(&what("created_at"), &a.created_at)?,
            updated_at: parse_ts(&what("updated_at"), &a.updated_at)?,
            finished_at: parse_opt(&what("finished_at"), a.finished_at.as_deref())?,
            id: a.id,
            key: a.key,
            kind: a.kind,
            record_id: a.record_id,
            target: a.target,
            lease_owner: a.lease_owner,
            last_error: a.last_error,
            output_path: a.output_path,
            output_sha256: a.output_sha256,
            details: a.details.0,
            output_details: a.output_details.map(|j| j.0),
        })
    }
}

#[derive(FromRow)]
struct RunDb {
    id: i64,
    command: String,
    started_at: String,
    finished_at: Option<String>,
    host: String,
    pid: i64,
    status: String,
    summary: Option<Json<Value>>,
}

impl TryFrom<RunDb> for RunRow {
    type Error = LedgerError;

    fn try_from(r: RunDb) -> Result<Self, LedgerError> {
        let what = |col: &str| format!("runs.{col} of run {}", r.id);
        Ok(RunRow {
            started_at: parse_ts(&what("started_at"), &r.started_at)?,
            finished_at: parse_opt(&what("finished_at"), r.finished_at.as_deref())?,
            pid: u32::try_from(r.pid)
                .map_err(|e| LedgerError::Corrupt { what: what("pid"), message: e.to_string() })?,
            id: RunId(r.id),
            command: r.command,
            host: r.host,
            status: r.status,
            summary: r.summary.map(|j| j.0),
        })
    }
}

fn non_negative(what: &str, v: i64) -> Result<u64, LedgerError> {
    u64::try_from(v).map_err(|_| LedgerError::Corrupt { what: what.to_owned(), message: format!("negative value {v}") })
}

fn to_rows<D, T>(rows: Vec<D>) -> Result<Vec<T>, LedgerError>
where
    T: TryFrom<D, Error = LedgerError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// `INSERT … VALUES (…), (…) ON CONFLICT … RETURNING` for `n` recordings. `$1` is the time of
/// this pass, `$2` the server; each row then takes 9 parameters. `changed_seen` remembers the
/// `seen_count` at which the snapshot last changed, so the returned pair classifies each row
/// without a prior read: new (`seen_count = 1`), updated (`changed_seen = seen_count`), or
/// unchanged.
fn upsert_sql(n: usize) -> String {
    let mut sql = String::with_capacity(300 + n * 64);
    sql.push_str(
        "INSERT INTO recordings (record_id, meeting_id, name, state, published, start_time, \
         end_time, origin, snapshot, server, first_seen, last_seen, seen_count, changed_seen) VALUES ",
    );
    for i in 0..n {
        let b = 3 + i * 9;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $2, $1, $1, 1, 1)",
            b,
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8
        ));
    }
    sql.push_str(
        " ON CONFLICT (record_id) DO UPDATE SET \
         meeting_id = excluded.meeting_id, name = excluded.name, state = excluded.state, \
         published = excluded.published, start_time = excluded.start_time, \
         end_time = excluded.end_time, origin = excluded.origin, server = excluded.server, \
         snapshot = excluded.snapshot, last_seen = excluded.last_seen, \
         seen_count = recordings.seen_count + 1, \
         changed_seen = CASE WHEN recordings.snapshot = excluded.snapshot \
             THEN recordings.changed_seen ELSE recordings.seen_count + 1 END \
         RETURNING seen_count, changed_seen",
    );
    sql
}

/// Is this SQLite's "someone else holds the lock" (BUSY/LOCKED and their extended codes)?
fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
        }
        _ => false,
    }
}

/// Retries what `busy_timeout` cannot wait for (journal mode switch, snapshot conflicts).
async fn retry_sqlite_busy<T, F, Fut>(mut op: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(20);
    for _ in 0..12 {
        match op().await {
            Err(e) if is_sqlite_busy(&e) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
    op().await
}

/// This machine's name, for `runs.host` and lease owners.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `host:pid`: the lease owner name of this process.
pub fn default_owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether a lease holder named like [`default_owner`] is a process of this host that no longer runs, so
/// that its lease can be taken over at once ([`Ledger::take_over`]). Holders of other hosts are never "dead"
/// here: only their lease expiry tells.
pub fn is_dead_local_holder(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    host == hostname() && pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Ledger {
    /// Opens (and creates, for SQLite) the ledger and applies the embedded schema migrations.
    ///
    /// `sqlite://path/to/ledger.sqlite`, `sqlite::memory:` or a plain path select the embedded
    /// backend; `postgres://…` / `postgresql://…` a shared server.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        let ledger = match Target::parse(url)? {
            Target::Sqlite { path, memory, options, display } => open_sqlite(path, memory, *options, display).await?,
            Target::Postgres { options, display, secrets } => open_postgres(*options, display, &secrets).await?,
        };
        tracing::info!(ledger = %ledger.display, "ledger open");
        Ok(ledger)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            DbPool::Sqlite(_) => Backend::Sqlite,
            DbPool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with its password masked, for logs and reports.
    pub fn display_url(&self) -> String {
        self.display.to_string()
    }

    /// Closes the pool, waiting for connections in use (SQLite then checkpoints its WAL).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    // ----------------------------------------------------------------- recordings

    /// Upserts one inventory page in one transaction. Duplicate ids within `recordings` count
    /// once (the last one wins).
    pub async fn record_seen(&self, server: &str, recordings: &[SeenRecording]) -> Result<SeenStats, LedgerError> {
        let mut stats = SeenStats::default();
        if recordings.is_empty() {
            return Ok(stats);
        }
        let mut last_index: HashMap<&str, usize> = HashMap::with_capacity(recordings.len());
        for (i, r) in recordings.iter().enumerate() {
            last_index.insert(r.record_id.as_str(), i);
        }
        let rows: Vec<(&SeenRecording, String, String)> = recordings
            .iter()
            .enumerate()
            .filter(|(i, r)| last_index[r.record_id.as_str()] == *i)
            .map(|(_, r)| (r, fmt_ts(r.start_time), fmt_ts(r.end_time)))
            .collect();
        let seen_at = fmt_ts(now());

        let returned: Vec<(i64, i64)> = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut out = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(UPSERT_CHUNK) {
                let sql = upsert_sql(chunk.len());
                let mut q = sqlx::query_as::<_, (i64, i64)>(&sql)
                    .bind(seen_at.as_str())
                    .bind(server);
                for (r, start, end) in chunk {
                    q = q
                        .bind(r.record_id.as_str())
                        .bind(r.meeting_id.as_str())
                        .bind(r.name.as_str())
                        .bind(r.state.as_str())
                        .bind(r.published)
                        .bind(start.as_str())
                        .bind(end.as_str())
                        .bind(r.origin.as_deref())
                        .bind(Json(&r.snapshot));
                }
                out.extend(q.fetch_all(&mut *tx).await?);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(out)
        }
        .await)
        .map_err(db("recording seen recordings"))?;

        for (seen_count, changed_seen) in returned {
            if seen_count <= 1 {
                stats.new += 1;
            } else if changed_seen == seen_count {
                stats.updated += 1;
            } else {
                stats.unchanged += 1;
            }
        }
        tracing::debug!(server, ?stats, "recordings seen");
        Ok(stats)
    }

    pub async fn recording(&self, record_id: &str) -> Result<Option<StoredRecording>, LedgerError> {
        let sql = format!("SELECT {RECORDING_COLS} FROM recordings WHERE record_id = $1");
        let row: Option<RecordingDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(record_id).fetch_optional(pool).await
        })
        .map_err(db("reading a recording"))?;
        row.map(StoredRecording::try_from).transpose()
    }

    /// All recordings, newest `start_time` first.
    pub async fn recordings(&self) -> Result<Vec<StoredRecording>, LedgerError> {
        let sql = format!("SELECT {RECORDING_COLS} FROM recordings ORDER BY start_time DESC, record_id ASC");
        let rows: Vec<RecordingDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .map_err(db("listing recordings"))?;
        to_rows(rows)
    }

    pub async fn recording_count(&self) -> Result<u64, LedgerError> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM recordings").fetch_one(pool).await
        })
        .map_err(db("counting recordings"))?;
        non_negative("recording count", n)
    }

    // ----------------------------------------------------------------- runs

    /// Records the start of one invocation (`status` = `running`).
    pub async fn start_run(&self, command: &str) -> Result<RunId, LedgerError> {
        let started = fmt_ts(now());
        let host = hostname();
        let pid = i64::from(std::process::id());
        let id: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO runs (command, started_at, host, pid, status) \
                 VALUES ($1, $2, $3, $4, 'running') RETURNING id",
            )
            .bind(command)
            .bind(started.as_str())
            .bind(host.as_str())
            .bind(pid)
            .fetch_one(pool)
            .await
        })
        .map_err(db("recording the start of a run"))?;
        Ok(RunId(id))
    }

    pub async fn finish_run(&self, run: RunId, status: &str, summary: &Value) -> Result<(), LedgerError> {
        let finished = fmt_ts(now());
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE runs SET finished_at = $2, status = $3, summary = $4 WHERE id = $1",
            )
            .bind(run.0)
            .bind(finished.as_str())
            .bind(status)
            .bind(Json(summary))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db("recording the end of a run"))?;
        if done == 0 {
            return Err(LedgerError::UnknownRun { id: run.0 });
        }
        Ok(())
    }

    pub async fn run(&self, run: RunId) -> Result<Option<RunRow>, LedgerError> {
        let sql = format!("SELECT {RUN_COLS} FROM runs WHERE id = $1");
        let row: Option<RunDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(run.0).fetch_optional(pool).await
        })
        .map_err(db("reading a run"))?;
        row.map(RunRow::try_from).transpose()
    }

    /// All runs, newest first.
    pub async fn runs(&self) -> Result<Vec<RunRow>, LedgerError> {
        let sql = format!("SELECT {RUN_COLS} FROM runs ORDER BY id DESC");
        let rows: Vec<RunDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await
        })
        .map_err(db("listing runs"))?;
        to_rows(rows)
    }

    // ----------------------------------------------------------------- actions

    /// Inserts the action as `pending` unless its key exists; returns the stored row either way
    /// (an existing row is returned unchanged, whatever `action` says).
    pub async fn ensure_action(&self, action: &NewAction) -> Result<ActionRow, LedgerError> {
        let at = fmt_ts(now());
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO actions (\"key\", kind, record_id, target, status, attempts, details, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $6) \
                 ON CONFLICT (\"key\") DO NOTHING",
            )
            .bind(action.key.as_str())
            .bind(action.kind.as_str())
            .bind(action.record_id.as_deref())
            .bind(action.target.as_str())
            .bind(Json(&action.details))
            .bind(at.as_str())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db("recording an action"))?;
        self.action(&action.key).await?.ok_or_else(|| LedgerError::UnknownAction { key: action.key.clone() })
    }

    /// [`Ledger::ensure_action`] for many actions in one transaction, without reading them back: a
    /// run registers its whole plan at once. Returns how many were new.
    pub async fn ensure_actions(&self, actions: &[NewAction]) -> Result<u64, LedgerError> {
        let at = fmt_ts(now());
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut new = 0;
            for action in actions {
                new += sqlx::query(
                    "INSERT INTO actions (\"key\", kind, record_id, target, status, attempts, details, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $6) \
                     ON CONFLICT (\"key\") DO NOTHING",
                )
                .bind(action.key.as_str())
                .bind(action.kind.as_str())
                .bind(action.record_id.as_deref())
                .bind(action.target.as_str())
                .bind(Json(&action.details))
                .bind(at.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(new)
        }
        .await)
        .map_err(db("recording actions"))
    }

    /// Takes the lease on `key` for `ttl` unless the action is done or someone else holds a live
    /// lease. Pending, failed, skipped and expired-running actions are all taken: whether to
    /// retry failed work is the caller's policy (see [`Ledger::reset_failed`]).
    ///
    /// The decision is one conditional `UPDATE`, so concurrent callers on any number of
    /// connections or hosts get exactly one `Acquired`. Lease times use the local clock: hosts
    /// sharing a PostgreSQL ledger need synchronised clocks (NTP), well within the TTL.
    pub async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<Lease, LedgerError> {
        let sql = format!(
            "UPDATE actions SET status = 'running', lease_owner = $2, lease_expires = $3, \
             attempts = attempts + 1, updated_at = $4, finished_at = NULL \
             WHERE \"key\" = $1 AND status <> 'done' \
             AND NOT (status = 'running' AND COALESCE(lease_owner, '') <> $2 \
                      AND COALESCE(lease_expires, '') > $4) \
             RETURNING {ACTION_COLS}"
        );
        // The UPDATE and the follow-up read are separate statements; if the row changed in
        // between (the holder failed, say) the decision is simply taken again.
        for _ in 0..16 {
            let at = now();
            let expires = add_ttl(at, ttl);
            let (at_s, expires_s) = (fmt_ts(at), fmt_ts(expires));
            let taken: Vec<ActionDb> = with_pool!(self, pool => {
                sqlx::query_as(&sql)
                    .bind(key)
                    .bind(owner)
                    .bind(expires_s.as_str())
                    .bind(at_s.as_str())
                    .fetch_all(pool)
                    .await
            })
            .map_err(db("taking a lease"))?;
            if let Some(row) = taken.into_iter().next() {
                let row = ActionRow::try_from(row)?;
                tracing::debug!(key, owner, attempts = row.attempts, "lease acquired");
                return Ok(Lease::Acquired(row));
            }
            let row = self.action(key).await?.ok_or_else(|| LedgerError::UnknownAction { key: key.to_owned() })?;
            match (row.status, row.lease_owner.as_deref(), row.lease_expires) {
                (ActionStatus::Done, _, _) => return Ok(Lease::AlreadyDone(row)),
                (ActionStatus::Running, Some(holder), Some(exp)) if holder != owner && exp > at => {
                    tracing::debug!(key, holder, %exp, "lease busy");
                    return Ok(Lease::Busy { owner: holder.to_owned(), expires: exp });
                }
                _ => tokio::task::yield_now().await,
            }
        }
        Err(LedgerError::Contention { key: key.to_owned() })
    }

    /// Takes over the live lease of `dead_owner` — a holder the caller knows is gone (a process of this host
    /// that no longer exists: Ctrl-C, SIGKILL, reboot) — without waiting for it to expire. One conditional
    /// `UPDATE`: if the holder changed meanwhile, `None`.
    pub async fn take_over(
        &self,
        key: &str,
        dead_owner: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<ActionRow>, LedgerError> {
        let sql = format!(
            "UPDATE actions SET lease_owner = $2, lease_expires = $3, attempts = attempts + 1, updated_at = $4 \
             WHERE \"key\" = $1 AND status = 'running' AND lease_owner = $5 RETURNING {ACTION_COLS}"
        );
        let at = now();
        let (at_s, expires_s) = (fmt_ts(at), fmt_ts(add_ttl(at, ttl)));
        let taken: Vec<ActionDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(key)
                .bind(owner)
                .bind(expires_s.as_str())
                .bind(at_s.as_str())
                .bind(dead_owner)
                .fetch_all(pool)
                .await
        })
        .map_err(db("taking over a lease"))?;
        taken.into_iter().next().map(ActionRow::try_from).transpose()
    }

    /// Extends a lease the caller still holds; `false` if it lost it.
    pub async fn renew_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, LedgerError> {
        let at = now();
        let (at_s, expires_s) = (fmt_ts(at), fmt_ts(add_ttl(at, ttl)));
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE actions SET lease_expires = $3, updated_at = $4 \
                 WHERE \"key\" = $1 AND status = 'running' AND lease_owner = $2",
            )
            .bind(key)
            .bind(owner)
            .bind(expires_s.as_str())
            .bind(at_s.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db("renewing a lease"))?;
        Ok(n == 1)
    }

    /// Marks the action done with its output, only if `owner` still holds it (an expired lease
    /// nobody took over still counts). Repeating the call after success is harmless.
    pub async fn complete(&self, key: &str, owner: &str, output: &ActionOutput) -> Result<(), LedgerError> {
        let size = output
            .size
            .map(|s| i64::try_from(s).map_err(|_| LedgerError::OutOfRange { what: "output size", value: s }))
            .transpose()?;
        let out_details = (!output.details.is_null()).then_some(Json(&output.details));
        let at = fmt_ts(now());
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE actions SET status = 'done', lease_expires = NULL, output_path = $3, \
                 output_size = $4, output_sha256 = $5, output_details = $6, last_error = NULL, \
                 updated_at = $7, finished_at = $7 \
                 WHERE \"key\" = $1 AND status = 'running' AND lease_owner = $2",
            )
            .bind(key)
            .bind(owner)
            .bind(output.path.as_deref())
            .bind(size)
            .bind(output.sha256.as_deref())
            .bind(out_details)
            .bind(at.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db("marking an action done"))?;
        if n == 1 {
            tracing::debug!(key, owner, "action done");
            return Ok(());
        }
        self.after_lost_update(key, owner, ActionStatus::Done).await
    }

    /// Marks the action failed with its cause and releases the lease, only if `owner` still
    /// holds it.
    pub async fn fail(&self, key: &str, owner: &str, error: &str) -> Result<(), LedgerError> {
        let at = fmt_ts(now());
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE actions SET status = 'failed', lease_expires = NULL, last_error = $3, \
                 updated_at = $4, finished_at = $4 \
                 WHERE \"key\" = $1 AND status = 'running' AND lease_owner = $2",
            )
            .bind(key)
            .bind(owner)
            .bind(error)
            .bind(at.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db("marking an action failed"))?;
        if n == 1 {
            tracing::debug!(key, owner, error, "action failed");
            return Ok(());
        }
        self.after_lost_update(key, owner, ActionStatus::Failed).await
    }

    /// Why a holder-only update changed nothing: unknown key, a harmless repeat, or a lost lease.
    async fn after_lost_update(&self, key: &str, owner: &str, wanted: ActionStatus) -> Result<(), LedgerError> {
        match self.action(key).await? {
            None => Err(LedgerError::UnknownAction { key: key.to_owned() }),
            Some(row) if row.status == wanted && row.lease_owner.as_deref() == Some(owner) => Ok(()),
            Some(_) => Err(LedgerError::LeaseLost { key: key.to_owned() }),
        }
    }

    /// Marks the action skipped with a reason (kept in `last_error`). A done action cannot be
    /// skipped: that would let it run again. Skipping a running action ends its lease.
    pub async fn skip(&self, key: &str, reason: &str) -> Result<(), LedgerError> {
        let at = fmt_ts(now());
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE actions SET status = 'skipped', lease_expires = NULL, last_error = $2, \
                 updated_at = $3, finished_at = $3 WHERE \"key\" = $1 AND status <> 'done'",
            )
            .bind(key)
            .bind(reason)
            .bind(at.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db("marking an action skipped"))?;
        if n == 1 {
            return Ok(());
        }
        match self.action(key).await? {
            None => Err(LedgerError::UnknownAction { key: key.to_owned() }),
            Some(row) => Err(LedgerError::InvalidTransition {
                key: key.to_owned(),
                status: row.status.to_string(),
                wanted: "skipped",
            }),
        }
    }

    pub async fn action(&self, key: &str) -> Result<Option<ActionRow>, LedgerError> {
        let sql = format!("SELECT {ACTION_COLS} FROM actions WHERE \"key\" = $1");
        let row: Option<ActionDb> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(key).fetch_optional(pool).await
        })
        .map_err(db("reading an action"))?;
        row.map(ActionRow::try_from).transpose()
    }

    /// Actions matching every set field of `filter`, oldest first.
    pub async fn actions(&self, filter: &ActionFilter) -> Result<Vec<ActionRow>, LedgerError> {
        let mut conds = Vec::new();
        if filter.kind.is_some() {
            conds.push(format!("kind = ${}", conds.len() + 1));
        }
        if filter.status.is_some() {
            conds.push(format!("status = ${}", conds.len() + 1));
        }
        if filter.record_id.is_some() {
            conds.push(format!("record_id = ${}", conds.len() + 1));
        }
        let mut sql = format!("SELECT {ACTION_COLS} FROM actions");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(" ORDER BY id ASC");
        let rows: Vec<ActionDb> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            if let Some(kind) = &filter.kind {
                q = q.bind(kind.as_str());
            }
            if let Some(status) = filter.status {
                q = q.bind(status.as_str());
            }
            if let Some(record_id) = &filter.record_id {
                q = q.bind(record_id.as_str());
            }
            q.fetch_all(pool).await
        })
        .map_err(db("listing actions"))?;
        to_rows(rows)
    }

    /// How many actions of each kind are in each status (absent pairs are zero).
    pub async fn action_counts(&self) -> Result<BTreeMap<(String, ActionStatus), u64>, LedgerError> {
        let rows: Vec<(String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT kind, status, COUNT(*) FROM actions GROUP BY kind, status")
                .fetch_all(pool)
                .await
        })
        .map_err(db("counting actions"))?;
        rows.into_iter()
            .map(|(kind, status, n)| {
                let status = status.parse().map_err(|e: ParseStatusError| LedgerError::Corrupt {
                    what: format!("actions.status of kind {kind:?}"),
                    message: e.to_string(),
                })?;
                Ok(((kind, status), non_negative("action count", n)?))
            })
            .collect()
    }

    /// Puts failed actions (of one kind, or all) back to pending; returns how many.
    pub async fn reset_failed(&self, kind: Option<&str>) -> Result<u64, LedgerError> {
        let at = fmt_ts(now());
        let n = with_pool!(self, pool => {
            let q = match kind {
                Some(kind) => sqlx::query(
                    "UPDATE actions SET status = 'pending', updated_at = $1, finished_at = NULL \
                     WHERE status = 'failed' AND kind = $2",
                )
                .bind(at.as_str())
                .bind(kind),
                None => sqlx::query(
                    "UPDATE actions SET status = 'pending', updated_at = $1, finished_at = NULL \
                     WHERE status = 'failed'",
                )
                .bind(at.as_str()),
            };
            q.execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(db("resetting failed actions"))?;
        Ok(n)
    }
}

async fn open_sqlite(
    path: PathBuf,
    memory: bool,
    options: SqliteConnectOptions,
    display: String,
) -> Result<Ledger, LedgerError> {
    if !memory {
        // Create the directory and file ourselves: the OS error names the real problem, where
        // SQLite would only say "unable to open database file".
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| LedgerError::SqliteFile { path: path.clone(), source })?;
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| LedgerError::SqliteFile { path: path.clone(), source })?;
    }
    let open_err = |e: &dyn fmt::Display| LedgerError::SqliteOpen { path: path.clone(), message: e.to_string() };
    // WAL + NORMAL: readers never block the writer and commits skip an fsync; a power cut can
    // lose the last commits but never corrupts, and every action is idempotent anyway.
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);
    let pool_options = if memory {
        // An in-memory database lives as long as its connection.
        SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    };
    let pool = pool_options.acquire_timeout(ACQUIRE_TIMEOUT).connect_with(options).await.map_err(|e| open_err(&e))?;

    if !memory {
        // WAL is a property of the file, so set it once here rather than on every connection;
        // the switch needs an exclusive lock that busy_timeout cannot wait for, hence the retry.
        let mode: String = retry_sqlite_busy(|| sqlx::query_scalar("PRAGMA journal_mode = WAL").fetch_one(&pool))
            .await
            .map_err(|e| open_err(&e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let ledger = display.as_str();
            tracing::warn!(ledger, mode, "SQLite refused WAL mode; concurrent access will be slower");
        }
    }

    // Two processes opening a fresh file at once race on the first migration; the loser's
    // transaction rolls back and the retry finds it applied.
    let mut attempt = 0;
    loop {
        match SQLITE_MIGRATOR.run(&pool).await {
            Ok(()) => break,
            Err(MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)) if attempt < 8 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => {
                return Err(LedgerError::Migrate { url: display, message: e.to_string() });
            }
        }
    }
    Ok(Ledger { pool: DbPool::Sqlite(pool), display: display.into() })
}

async fn open_postgres(options: PgConnectOptions, display: String, secrets: &[String]) -> Result<Ledger, LedgerError> {
    let options = options.application_name("bbb-migrate ledger");
    let connect_err =
        |e: &dyn fmt::Display| LedgerError::Connect { url: display.clone(), message: scrub(&e.to_string(), secrets) };
    // One plain connection first: the pool would keep retrying a refused connection until its
    // acquire timeout, where this fails at once with the real cause.
    let conn = match tokio::time::timeout(PG_CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(connect_err(&e)),
        Err(_) => {
            return Err(connect_err(&format_args!("no answer within {} s", PG_CONNECT_TIMEOUT.as_secs())));
        }
    };
    let _ = conn.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_err(&e))?;
    // sqlx takes an advisory lock, so hosts starting together migrate one at a time. (Run on the pool: a
    // `&mut PgConnection` makes the future not `Send` for every lifetime, so it could not be spawned.)
    POSTGRES_MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| LedgerError::Migrate { url: display.clone(), message: scrub(&e.to_string(), secrets) })?;
    Ok(Ledger { pool: DbPool::Postgres(pool), display: display.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_numbers_parameters() {
        let sql = upsert_sql(2);
        assert!(sql.contains("($3, $4, $5, $6, $7, $8, $9, $10, $11, $2, $1, $1, 1, 1)"));
        assert!(sql.contains("($12, $13, $14, $15, $16, $17, $18, $19, $20, $2, $1, $1, 1, 1)"));
        assert!(!sql.contains("$21"));
    }
}
