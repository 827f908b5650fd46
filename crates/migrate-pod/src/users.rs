//! Pod accounts: finding the owners among `auth_user`, and what a new account needs beyond its row.

use migrate_db::{BATCH, with_db};
use migrate_plan::import::PodUser;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::{Pod, PodError};

/// The Owner profile of the accounts bbb-migrate creates (`[pod.new_users]`): sites customise Pod's
/// AUTH_TYPE, AFFILIATION and ESTABLISHMENTS, so the defaults come from configuration.
#[derive(Debug, Clone)]
pub struct NewUserProfile {
    pub auth_type: String,
    pub affiliation: String,
    pub establishment: String,
}

/// `authentication_owner.hashkey`: hex SHA-256 of Pod's SECRET_KEY followed by the username, as `Owner.save()`
/// computes it.
pub fn hashkey(secret_key: &str, username: &str) -> String {
    hex::encode(Sha256::digest(format!("{secret_key}{username}").as_bytes()))
}

/// Django's unusable password: `!` and 40 random characters, so nobody can log in with a password until the
/// person signs in through CAS/Shibboleth or an admin sets one.
pub fn unusable_password() -> String {
    let tail: String = rand::rng().sample_iter(&Alphanumeric).take(40).map(char::from).collect();
    format!("!{tail}")
}

type UserRow = (i64, String, String, String, String);

fn user(row: UserRow) -> PodUser {
    PodUser { id: row.0, username: row.1, email: row.2, first_name: row.3, last_name: row.4 }
}

impl Pod {
    fn user_columns(&self) -> String {
        format!("{}, username, email, first_name, last_name", self.db.engine().int("id"))
    }

    /// The user named by `pod.fallback_owner`: a numeric id (the old SCRIPT_ADMIN_ID) or a username.
    pub async fn user_by_id_or_username(&self, who: &str) -> Result<Option<PodUser>, PodError> {
        let engine = self.db.engine();
        let who = who.trim();
        let (sql, id) = match who.parse::<i64>() {
            Ok(id) => {
                (format!("SELECT {} FROM auth_user WHERE id = {}", self.user_columns(), engine.param(1)), Some(id))
            }
            Err(_) => {
                (format!("SELECT {} FROM auth_user WHERE username = {}", self.user_columns(), engine.param(1)), None)
            }
        };
        let row: Option<UserRow> = with_db!(&self.db, pool => {
            let q = migrate_db::sqlx::query_as(&sql);
            let q = match id { Some(id) => q.bind(id), None => q.bind(who.to_owned()) };
            q.fetch_optional(pool).await
        })
        .map_err(PodError::sql("reading Pod's auth_user"))?;
        Ok(row.map(user))
    }

    /// The users with any of these usernames or (case-insensitively) e-mails.
    pub async fn users_matching(
        &self,
        usernames: impl IntoIterator<Item = &String>,
        emails: impl IntoIterator<Item = &String>,
    ) -> Result<Vec<PodUser>, PodError> {
        let engine = self.db.engine();
        let mut users = Vec::new();
        let usernames: Vec<&String> = usernames.into_iter().collect();
        for chunk in usernames.chunks(BATCH) {
            let sql = format!(
                "SELECT {} FROM auth_user WHERE username IN ({})",
                self.user_columns(),
                engine.params(1, chunk.len())
            );
            let rows: Vec<UserRow> = with_db!(&self.db, pool => {
                let mut q = migrate_db::sqlx::query_as(&sql);
                for u in chunk { q = q.bind(u.as_str()); }
                q.fetch_all(pool).await
            })
            .map_err(PodError::sql("reading Pod's auth_user"))?;
            users.extend(rows.into_iter().map(user));
        }
        let emails: Vec<String> = emails.into_iter().map(|e| e.to_lowercase()).collect();
        for chunk in emails.chunks(BATCH) {
            let sql = format!(
                "SELECT {} FROM auth_user WHERE LOWER(email) IN ({})",
                self.user_columns(),
                engine.params(1, chunk.len())
            );
            let rows: Vec<UserRow> = with_db!(&self.db, pool => {
                let mut q = migrate_db::sqlx::query_as(&sql);
                for e in chunk { q = q.bind(e.as_str()); }
                q.fetch_all(pool).await
            })
            .map_err(PodError::sql("reading Pod's auth_user"))?;
            users.extend(rows.into_iter().map(user));
        }
        users.sort_by_key(|u| u.id);
        users.dedup_by_key(|u| u.id);
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashkey_is_sha256_of_secret_then_username() {
        // printf '%s' 'secretjdupont' | sha256sum
        assert_eq!(hashkey("secret", "jdupont"), "86e36c611f00d13eda635505345a9cfd7b063a7838d89029e4336f625d99feef");
    }

    #[test]
    fn unusable_passwords_look_like_djangos() {
        let p = unusable_password();
        assert!(p.starts_with('!') && p.len() == 41 && p[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(p, unusable_password());
    }
}
