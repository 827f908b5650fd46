//! Cleanup: the external recordings that still point at the old server, once it is switched off — selected
//! by the exact URL prefix (LIKE wildcards escaped, then checked byte for byte, since SQLite's and MySQL's
//! LIKE ignore case), saved to a backup file, deleted in one transaction; and `restore` from that file.

use chrono::{DateTime, Utc};
use migrate_db::{BATCH, with_db};
use serde::{Deserialize, Serialize};

use crate::{Pod, PodError, parse_timestamp, timestamp_column, timestamp_param, timestamp_value};

/// Marks a backup file as ours, so `restore` refuses any other JSON.
pub const BACKUP_FORMAT: &str = "bbb-migrate/pod-external-recordings";

/// Every column of one `import_video_externalrecording` row, plus the owner's username for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRecordingRow {
    pub id: i64,
    pub name: String,
    pub start_at: DateTime<Utc>,
    pub owner_id: Option<i64>,
    /// Not a column: shown in the summary and checked on restore.
    pub owner_username: Option<String>,
    pub site_id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub source_url: String,
    pub state: Option<String>,
    pub uploaded_to_pod_by_id: Option<i64>,
}

/// The backup file `cleanup --backup` writes before deleting anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub version: u32,
    pub written_at: DateTime<Utc>,
    /// The URL prefix the rows were selected by.
    pub prefix: String,
    pub rows: Vec<ExternalRecordingRow>,
}

impl Backup {
    pub fn new(prefix: &str, rows: Vec<ExternalRecordingRow>) -> Backup {
        Backup { format: BACKUP_FORMAT.to_owned(), version: 1, written_at: Utc::now(), prefix: prefix.to_owned(), rows }
    }

    /// Reads a backup, refusing files that are not one.
    pub fn parse(text: &str) -> Result<Backup, PodError> {
        let backup: Backup = serde_json::from_str(text)
            .map_err(|e| PodError::Invalid(format!("not a bbb-migrate cleanup backup: {e}")))?;
        if backup.format != BACKUP_FORMAT || backup.version != 1 {
            return Err(PodError::Invalid(format!(
                "not a bbb-migrate cleanup backup (format {:?} version {})",
                backup.format, backup.version
            )));
        }
        Ok(backup)
    }
}

/// What `restore` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreOutcome {
    pub restored: usize,
    /// Rows whose id is in the table again (restored before, or never deleted).
    pub already_there: usize,
}

/// `prefix` for `LIKE … ESCAPE '!'`: every wildcard taken literally.
pub fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

type Row = (i64, String, String, Option<i64>, Option<String>, i64, String, String, Option<String>, Option<i64>);

impl Pod {
    /// Every external recording whose source URL starts with `prefix` (exactly, case included).
    pub async fn external_recordings_under(&self, prefix: &str) -> Result<Vec<ExternalRecordingRow>, PodError> {
        if prefix.trim().is_empty() {
            return Err(PodError::Invalid("an empty URL prefix would select every external recording".into()));
        }
        let engine = self.db.engine();
        let sql = format!(
            "SELECT {}, e.name, {}, {}, u.username, {}, e.type, e.source_url, e.state, {} \
             FROM import_video_externalrecording e LEFT JOIN auth_user u ON u.id = e.owner_id \
             WHERE e.source_url LIKE {} ESCAPE '!' ORDER BY e.id",
            engine.int("e.id"),
            timestamp_column(engine, "e.start_at"),
            engine.int("e.owner_id"),
            engine.int("e.site_id"),
            engine.int("e.uploaded_to_pod_by_id"),
            engine.param(1)
        );
        let pattern = like_prefix(prefix);
        let rows: Vec<Row> = with_db!(&self.db, pool => {
            migrate_db::sqlx::query_as(&sql).bind(pattern.as_str()).fetch_all(pool).await
        })
        .map_err(PodError::sql("reading Pod's import_video_externalrecording"))?;
        rows.into_iter()
            .filter(|r| r.7.starts_with(prefix))
            .map(|r| {
                let start_at = parse_timestamp(&r.2).ok_or_else(|| {
                    PodError::Invalid(format!("external recording {}: unreadable start_at {:?}", r.0, r.2))
                })?;
                Ok(ExternalRecordingRow {
                    id: r.0,
                    name: r.1,
                    start_at,
                    owner_id: r.3,
                    owner_username: r.4,
                    site_id: r.5,
                    kind: r.6,
                    source_url: r.7,
                    state: r.8,
                    uploaded_to_pod_by_id: r.9,
                })
            })
            .collect()
    }

    /// Deletes exactly these rows (by id, and only while their source URL is unchanged), in one transaction;
    /// returns how many went.
    pub async fn delete_external_recordings(&self, rows: &[ExternalRecordingRow]) -> Result<u64, PodError> {
        let engine = self.db.engine();
        let sql = format!(
            "DELETE FROM import_video_externalrecording WHERE id = {} AND source_url = {}",
            engine.param(1),
            engine.param(2)
        );
        with_db!(&self.db, pool => {
            let mut tx = pool.begin().await.map_err(PodError::sql("starting a transaction"))?;
            let mut deleted = 0;
            for chunk in rows.chunks(BATCH) {
                for row in chunk {
                    deleted += migrate_db::sqlx::query(&sql)
                        .bind(row.id)
                        .bind(row.source_url.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(PodError::sql(format!("deleting external recording {}", row.id)))?
                        .rows_affected();
                }
            }
            tx.commit().await.map_err(PodError::sql("committing the deletion"))?;
            Ok(deleted)
        })
    }

    /// Puts backed-up rows back with their ids, in one transaction; rows whose id exists are left alone.
    pub async fn restore_external_recordings(&self, rows: &[ExternalRecordingRow]) -> Result<RestoreOutcome, PodError> {
        let engine = self.db.engine();
        let p = |n| engine.param(n);
        let exists = format!("SELECT {} FROM import_video_externalrecording WHERE id = {}", engine.int("id"), p(1));
        let insert = format!(
            "INSERT INTO import_video_externalrecording (id, name, start_at, owner_id, site_id, type, source_url, \
             state, uploaded_to_pod_by_id) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
            p(1),
            p(2),
            timestamp_param(engine, 3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9)
        );
        with_db!(&self.db, pool => {
            let mut tx = pool.begin().await.map_err(PodError::sql("starting a transaction"))?;
            let mut outcome = RestoreOutcome::default();
            for row in rows {
                let found: Option<i64> = migrate_db::sqlx::query_scalar(&exists)
                    .bind(row.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(PodError::sql("reading import_video_externalrecording"))?;
                if found.is_some() {
                    outcome.already_there += 1;
                    continue;
                }
                migrate_db::sqlx::query(&insert)
                    .bind(row.id)
                    .bind(row.name.as_str())
                    .bind(timestamp_value(engine, row.start_at))
                    .bind(row.owner_id)
                    .bind(row.site_id)
                    .bind(row.kind.as_str())
                    .bind(row.source_url.as_str())
                    .bind(row.state.as_deref())
                    .bind(row.uploaded_to_pod_by_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(PodError::sql(format!("restoring external recording {}", row.id)))?;
                outcome.restored += 1;
            }
            tx.commit().await.map_err(PodError::sql("committing the restore"))?;
            Ok(outcome)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_prefix("https://old_bbb.univ.fr/"), "https://old!_bbb.univ.fr/%");
        assert_eq!(like_prefix("a%b!c"), "a!%b!!c%");
    }
}
