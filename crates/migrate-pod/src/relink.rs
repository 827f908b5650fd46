//! Relink: point the external recordings bbb-migrate created at the archived playback instead of the old
//! server, in one transaction, each change compare-and-set (a row someone edited meanwhile is left alone), with a
//! backup file that `restore` reverses.

use chrono::{DateTime, Utc};
use migrate_db::{BATCH, with_db};
use serde::{Deserialize, Serialize};

use crate::{Pod, PodError};

/// Marks a relink backup file.
pub const RELINK_FORMAT: &str = "bbb-migrate/pod-relink";

/// One row's source URL, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relink {
    pub id: i64,
    pub from: String,
    pub to: String,
}

impl Relink {
    pub fn reversed(&self) -> Relink {
        Relink { id: self.id, from: self.to.clone(), to: self.from.clone() }
    }
}

/// What `relink --backup` writes before changing anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelinkBackup {
    pub format: String,
    pub version: u32,
    pub written_at: DateTime<Utc>,
    pub changes: Vec<Relink>,
}

impl RelinkBackup {
    pub fn new(changes: Vec<Relink>) -> RelinkBackup {
        RelinkBackup { format: RELINK_FORMAT.to_owned(), version: 1, written_at: Utc::now(), changes }
    }
}

impl Pod {
    /// The current source URL of each of these external recordings (missing ids are absent).
    pub async fn external_source_urls(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, PodError> {
        let engine = self.db.engine();
        let mut found = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT {}, source_url FROM import_video_externalrecording WHERE id IN ({})",
                engine.int("id"),
                engine.params(1, chunk.len())
            );
            let rows: Vec<(i64, String)> = with_db!(&self.db, pool => {
                let mut q = migrate_db::sqlx::query_as(&sql);
                for id in chunk { q = q.bind(*id); }
                q.fetch_all(pool).await
            })
            .map_err(PodError::sql("reading Pod's import_video_externalrecording"))?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Applies `changes` in one transaction; a row whose URL is no longer `from` is left alone. Returns how
    /// many rows changed.
    pub async fn relink(&self, changes: &[Relink]) -> Result<u64, PodError> {
        let engine = self.db.engine();
        let sql = format!(
            "UPDATE import_video_externalrecording SET source_url = {} WHERE id = {} AND source_url = {}",
            engine.param(1),
            engine.param(2),
            engine.param(3)
        );
        with_db!(&self.db, pool => {
            let mut tx = pool.begin().await.map_err(PodError::sql("starting a transaction"))?;
            let mut changed = 0;
            for change in changes {
                changed += migrate_db::sqlx::query(&sql)
                    .bind(change.to.as_str())
                    .bind(change.id)
                    .bind(change.from.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(PodError::sql(format!("relinking external recording {}", change.id)))?
                    .rows_affected();
            }
            tx.commit().await.map_err(PodError::sql("committing the relink"))?;
            Ok(changed)
        })
    }
}
