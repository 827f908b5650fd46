//! Claim mode's side of Pod: the recorder whose directory receives the files, and the files Pod has already
//! recorded (a file Pod has seen is never written again, even if it was moved away since).

use std::collections::HashSet;

use migrate_db::{BATCH, with_db};
use migrate_plan::claim::Recorder;

use crate::{Pod, PodError};

impl Pod {
    /// The recorder `recorder_recorder.id = id`.
    pub async fn recorder(&self, id: i64) -> Result<Option<Recorder>, PodError> {
        let engine = self.db.engine();
        let sql = format!(
            "SELECT {}, name, directory, {} FROM recorder_recorder WHERE id = {}",
            engine.int("id"),
            engine.int("user_id"),
            engine.param(1)
        );
        let row: Option<(i64, String, String, Option<i64>)> = with_db!(&self.db, pool => {
            migrate_db::sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .map_err(PodError::sql("reading Pod's recorder_recorder"))?;
        Ok(row.map(|(id, name, directory, manager_id)| Recorder { id, name, directory, manager_id }))
    }

    /// Which of `paths` Pod has recorded, as a file to treat or as a recording.
    pub async fn known_recorder_files(&self, paths: &[String]) -> Result<HashSet<String>, PodError> {
        let engine = self.db.engine();
        let mut known = HashSet::new();
        for chunk in paths.chunks(BATCH) {
            let sql = format!(
                "SELECT file FROM recorder_recordingfiletreatment WHERE file IN ({}) \
                 UNION SELECT source_file FROM recorder_recording WHERE source_file IN ({})",
                engine.params(1, chunk.len()),
                engine.params(chunk.len() + 1, chunk.len())
            );
            let rows: Vec<String> = with_db!(&self.db, pool => {
                let mut q = migrate_db::sqlx::query_scalar(&sql);
                for p in chunk.iter().chain(chunk) { q = q.bind(p.as_str()); }
                q.fetch_all(pool).await
            })
            .map_err(PodError::sql("reading Pod's recorder files"))?;
            known.extend(rows);
        }
        Ok(known)
    }
}
