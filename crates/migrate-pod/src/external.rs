//! Import mode's rows: `import_video_externalrecording`, one per (recording, owner), and the accounts they
//! need, written for one recording in one transaction.

use chrono::Utc;
use migrate_db::{BATCH, with_db};
use migrate_plan::import::{ExistingExternal, ImportItem, PlannedOwner};
use serde::Serialize;

use crate::users::{NewUserProfile, hashkey, unusable_password};
use crate::{Pod, PodError, timestamp_param, timestamp_value};

/// What one recording's transaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    /// `(username, external recording id)` of the rows created.
    pub created: Vec<(String, i64)>,
    /// Rows that were already there (made meanwhile, by an earlier run or by the old script).
    pub already_there: usize,
    /// Usernames of the accounts created.
    pub users_created: Vec<String>,
}

impl Pod {
    /// The external recordings whose source URL is one of `urls`, any owner.
    pub async fn external_recordings_with_urls(&self, urls: &[String]) -> Result<Vec<ExistingExternal>, PodError> {
        let engine = self.db.engine();
        let mut found = Vec::new();
        for chunk in urls.chunks(BATCH) {
            let sql = format!(
                "SELECT {}, source_url, {} FROM import_video_externalrecording WHERE source_url IN ({})",
                engine.int("id"),
                engine.int("owner_id"),
                engine.params(1, chunk.len())
            );
            let rows: Vec<(i64, String, Option<i64>)> = with_db!(&self.db, pool => {
                let mut q = migrate_db::sqlx::query_as(&sql);
                for u in chunk { q = q.bind(u.as_str()); }
                q.fetch_all(pool).await
            })
            .map_err(PodError::sql("reading Pod's import_video_externalrecording"))?;
            found.extend(rows.into_iter().map(|(id, source_url, owner_id)| ExistingExternal {
                id,
                source_url,
                owner_id,
            }));
        }
        Ok(found)
    }

    /// Writes the rows `item` plans, in one transaction: accounts first (unless they appeared meanwhile), then
    /// each external recording unless its owner already has one for any spelling of the URL. A concurrent
    /// writer creating the same account makes the first attempt fail on `auth_user`'s UNIQUE username; the
    /// transaction is then replayed (up to three times in all) and finds it.
    pub async fn write_import(
        &self,
        item: &ImportItem,
        profile: &NewUserProfile,
        secret_key: &str,
    ) -> Result<ImportOutcome, PodError> {
        let mut attempt = 1;
        loop {
            match self.write_import_once(item, profile, secret_key).await {
                Err(e) if e.is_unique_violation() && attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn write_import_once(
        &self,
        item: &ImportItem,
        profile: &NewUserProfile,
        secret_key: &str,
    ) -> Result<ImportOutcome, PodError> {
        let engine = self.db.engine();
        let p = |n| engine.param(n);
        let now = timestamp_value(engine, Utc::now());
        let start_at = timestamp_value(engine, item.start_at);
        let find_user = format!("SELECT {} FROM auth_user WHERE username = {}", engine.int("id"), p(1));
        let insert_user = format!(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, \
             is_staff, is_active, date_joined) VALUES ({}, NULL, {}, {}, {}, {}, {}, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            timestamp_param(engine, 9)
        );
        let insert_owner = format!(
            "INSERT INTO authentication_owner (user_id, auth_type, affiliation, commentaire, hashkey, \
             userpicture_id, establishment, accepts_notifications) VALUES ({}, {}, {}, '', {}, NULL, {}, NULL)",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        );
        let find_owner = format!("SELECT {} FROM authentication_owner WHERE user_id = {}", engine.int("id"), p(1));
        let insert_owner_site =
            format!("INSERT INTO authentication_owner_sites (owner_id, site_id) VALUES ({}, {})", p(1), p(2));
        let insert_folder = format!(
            "INSERT INTO podfile_userfolder (name, owner_id, created_at) VALUES ('home', {}, {})",
            p(1),
            timestamp_param(engine, 2)
        );
        let find_external = format!(
            "SELECT {} FROM import_video_externalrecording WHERE owner_id = {} AND source_url IN ({})",
            engine.int("id"),
            p(1),
            engine.params(2, item.url_variants.len().max(1))
        );
        let urls: Vec<&str> = if item.url_variants.is_empty() {
            vec![item.source_url.as_str()]
        } else {
            item.url_variants.iter().map(String::as_str).collect()
        };
        let insert_external = format!(
            "INSERT INTO import_video_externalrecording (name, start_at, owner_id, site_id, type, source_url, state, \
             uploaded_to_pod_by_id) VALUES ({}, {}, {}, {}, 'bigbluebutton', {}, NULL, NULL)",
            p(1),
            timestamp_param(engine, 2),
            p(3),
            p(4),
            p(5)
        );
        // PostgreSQL and SQLite hand the new id back in the same statement; MySQL needs a second one.
        let returning = engine != migrate_db::Engine::MySql;
        let insert_external_returning = format!("{insert_external} RETURNING {}", engine.int("id"));
        let site_id = self.site_id;
        let with_folder = self.has_userfolders;
        let context = |what: &str| format!("recording {}: {what}", item.record_id);

        with_db!(&self.db, pool => {
            use migrate_db::sqlx;
            let mut outcome = ImportOutcome::default();
            let mut tx = pool.begin().await.map_err(PodError::sql(context("starting a transaction")))?;
            for row in item.rows_to_create() {
                let owner_id: i64 = match &row.owner {
                    PlannedOwner::Existing { user } => user.id,
                    PlannedOwner::New { user } => {
                        let found: Option<i64> = sqlx::query_scalar(&find_user)
                            .bind(user.username.as_str())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(PodError::sql(context("reading auth_user")))?;
                        match found {
                            Some(id) => id,
                            None => {
                                sqlx::query(&insert_user)
                                    .bind(unusable_password())
                                    .bind(false)
                                    .bind(user.username.as_str())
                                    .bind(user.first_name.as_str())
                                    .bind(user.last_name.as_str())
                                    .bind(user.email.as_str())
                                    .bind(true)
                                    .bind(true)
                                    .bind(now.as_str())
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(PodError::sql(context(&format!("creating Pod user {}", user.username))))?;
                                let id: i64 = sqlx::query_scalar(&find_user)
                                    .bind(user.username.as_str())
                                    .fetch_one(&mut *tx)
                                    .await
                                    .map_err(PodError::sql(context("reading auth_user")))?;
                                sqlx::query(&insert_owner)
                                    .bind(id)
                                    .bind(profile.auth_type.as_str())
                                    .bind(profile.affiliation.as_str())
                                    .bind(hashkey(secret_key, &user.username))
                                    .bind(profile.establishment.as_str())
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(PodError::sql(context("creating the user's authentication_owner")))?;
                                let owner_profile: i64 = sqlx::query_scalar(&find_owner)
                                    .bind(id)
                                    .fetch_one(&mut *tx)
                                    .await
                                    .map_err(PodError::sql(context("reading authentication_owner")))?;
                                sqlx::query(&insert_owner_site)
                                    .bind(owner_profile)
                                    .bind(site_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(PodError::sql(context("adding the user to the site")))?;
                                if with_folder {
                                    sqlx::query(&insert_folder)
                                        .bind(id)
                                        .bind(now.as_str())
                                        .execute(&mut *tx)
                                        .await
                                        .map_err(PodError::sql(context("creating the user's podfile folder")))?;
                                }
                                outcome.users_created.push(user.username.clone());
                                id
                            }
                        }
                    }
                };
                let mut q = sqlx::query_scalar(&find_external).bind(owner_id);
                for url in &urls {
                    q = q.bind(*url);
                }
                let existing: Option<i64> = q
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(PodError::sql(context("reading import_video_externalrecording")))?;
                if existing.is_some() {
                    outcome.already_there += 1;
                    continue;
                }
                let id: i64 = if returning {
                    sqlx::query_scalar(&insert_external_returning)
                        .bind(item.name.as_str())
                        .bind(start_at.as_str())
                        .bind(owner_id)
                        .bind(site_id)
                        .bind(item.source_url.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(PodError::sql(context("creating the external recording")))?
                } else {
                    sqlx::query(&insert_external)
                        .bind(item.name.as_str())
                        .bind(start_at.as_str())
                        .bind(owner_id)
                        .bind(site_id)
                        .bind(item.source_url.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(PodError::sql(context("creating the external recording")))?;
                    let mut q = sqlx::query_scalar(&find_external).bind(owner_id);
                    for url in &urls {
                        q = q.bind(*url);
                    }
                    q.fetch_one(&mut *tx).await.map_err(PodError::sql(context("reading import_video_externalrecording")))?
                };
                outcome.created.push((row.owner.username().to_owned(), id));
            }
            outcome.already_there += item.rows.len() - item.rows_to_create().count();
            tx.commit().await.map_err(PodError::sql(context("committing")))?;
            Ok(outcome)
        })
    }
}
