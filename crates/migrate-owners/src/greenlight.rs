//! Owners of recordings made from Greenlight rooms (PostgreSQL): the room's owner and the users it is shared
//! with.
//!
//! Greenlight v2 sends `rooms.bbb_id` as the meetingID (bigint ids); v3 sends `rooms.meeting_id` (uuid ids)
//! and also keeps `recordings.record_id` → room. The version is read from the schema, not configured.

use std::collections::{BTreeMap, HashMap};

use bbb_api::Recording;
use migrate_db::{BATCH, Db, with_db};

use crate::{Finding, Owner, OwnerSource, SourceError, SourceKind, dedup_owners};

/// One Greenlight database.
pub struct Greenlight {
    /// `bbb-origin-server-name` of its recordings; empty = any Greenlight-looking recording.
    pub server_name: String,
    pub db: Result<Db, String>,
}

/// Which Greenlight wrote the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

impl Greenlight {
    /// Greenlight recordings say so in `bbb-origin`; older ones are recognised by their meetingID alone
    /// (40 lowercase letters and digits, no dash).
    pub fn claims(&self, rec: &Recording) -> bool {
        let server = rec.origin_server_name().map(str::trim).filter(|s| !s.is_empty());
        if !self.server_name.is_empty() && server.is_some_and(|s| !s.eq_ignore_ascii_case(&self.server_name)) {
            return false;
        }
        let origin = rec.origin().is_some_and(|o| o.eq_ignore_ascii_case("greenlight"));
        let shaped =
            rec.meeting_id.len() == 40 && rec.meeting_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        origin || (rec.origin().is_none() && shaped)
    }
}

struct Room {
    name: String,
    owner: Option<String>,
}

type UserRow = (String, String, String, String);

async fn version(db: &Db) -> Result<Version, SourceError> {
    let sql = "SELECT column_name::text FROM information_schema.columns \
               WHERE table_schema = current_schema() AND table_name = 'rooms' AND column_name IN ('bbb_id', 'meeting_id')";
    let columns: Vec<(String,)> = with_db!(db, pool => migrate_db::sqlx::query_as(sql).fetch_all(pool).await)
        .map_err(|e| SourceError(format!("reading the Greenlight schema: {e}")))?;
    match columns.first().map(|c| c.0.as_str()) {
        Some("bbb_id") => Ok(Version::V2),
        Some("meeting_id") => Ok(Version::V3),
        _ => Err(SourceError("this database has no Greenlight `rooms` table".into())),
    }
}

async fn lookup(db: &Db, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
    let e = db.engine();
    let version = version(db).await?;
    let meeting_column = if version == Version::V2 { "bbb_id" } else { "meeting_id" };
    let deleted = if version == Version::V2 { " AND NOT r.deleted" } else { "" };
    let fail = |what: &'static str| {
        move |err: migrate_db::sqlx::Error| SourceError(format!("reading Greenlight {what}: {err}"))
    };

    // Room of each recording: by record ID (v3 keeps them), else by meetingID.
    let mut room_of: HashMap<String, String> = HashMap::new();
    if version == Version::V3 {
        let ids: Vec<&str> = recordings.iter().map(|r| r.record_id.as_str()).collect();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT record_id, CAST(room_id AS TEXT) FROM recordings WHERE room_id IS NOT NULL AND record_id IN ({})",
                e.params(1, chunk.len())
            );
            let rows: Vec<(String, String)> = with_db!(db, pool => {
                let mut q = migrate_db::sqlx::query_as(&sql);
                for id in chunk { q = q.bind(*id); }
                q.fetch_all(pool).await
            })
            .map_err(fail("recordings"))?;
            room_of.extend(rows);
        }
    }
    let meetings: Vec<&str> = recordings.iter().map(|r| r.meeting_id.as_str()).collect();
    let mut room_by_meeting: HashMap<String, String> = HashMap::new();
    let mut rooms: HashMap<String, Room> = HashMap::new();
    for chunk in meetings.chunks(BATCH) {
        let sql = format!(
            "SELECT CAST(r.id AS TEXT), r.{meeting_column}, COALESCE(r.name, ''), CAST(r.user_id AS TEXT) FROM rooms r \
             WHERE r.{meeting_column} IN ({}){deleted}",
            e.params(1, chunk.len())
        );
        let rows: Vec<(String, String, String, Option<String>)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(*id); }
            q.fetch_all(pool).await
        })
        .map_err(fail("rooms"))?;
        for (id, meeting, name, owner) in rows {
            room_by_meeting.insert(meeting, id.clone());
            rooms.insert(id, Room { name, owner });
        }
    }
    let missing: Vec<String> = room_of.values().filter(|id| !rooms.contains_key(*id)).cloned().collect();
    for chunk in missing.chunks(BATCH) {
        let sql = format!(
            "SELECT CAST(r.id AS TEXT), COALESCE(r.name, ''), CAST(r.user_id AS TEXT) FROM rooms r WHERE CAST(r.id AS TEXT) IN ({})",
            e.params(1, chunk.len())
        );
        let rows: Vec<(String, String, Option<String>)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(id.as_str()); }
            q.fetch_all(pool).await
        })
        .map_err(fail("rooms"))?;
        for (id, name, owner) in rows {
            rooms.insert(id, Room { name, owner });
        }
    }

    // Shared accesses, then every user involved.
    let room_ids: Vec<String> = rooms.keys().cloned().collect();
    let mut shared: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in room_ids.chunks(BATCH) {
        let sql = format!(
            "SELECT CAST(room_id AS TEXT), CAST(user_id AS TEXT) FROM shared_accesses \
             WHERE CAST(room_id AS TEXT) IN ({}) ORDER BY created_at",
            e.params(1, chunk.len())
        );
        let rows: Vec<(String, String)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(id.as_str()); }
            q.fetch_all(pool).await
        })
        .map_err(fail("shared accesses"))?;
        for (room, user) in rows {
            shared.entry(room).or_default().push(user);
        }
    }
    let mut user_ids: Vec<String> = rooms.values().filter_map(|r| r.owner.clone()).collect();
    user_ids.extend(shared.values().flatten().cloned());
    user_ids.sort();
    user_ids.dedup();
    let login =
        if version == Version::V2 { "COALESCE(NULLIF(username, ''), uid, '')" } else { "COALESCE(external_id, '')" };
    let not_deleted = if version == Version::V2 { " AND NOT deleted" } else { "" };
    let mut users: HashMap<String, UserRow> = HashMap::new();
    for chunk in user_ids.chunks(BATCH) {
        let sql = format!(
            "SELECT CAST(id AS TEXT), {login}, COALESCE(email, ''), COALESCE(name, '') FROM users \
             WHERE CAST(id AS TEXT) IN ({}){not_deleted}",
            e.params(1, chunk.len())
        );
        let rows: Vec<(String, String, String, String)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(id.as_str()); }
            q.fetch_all(pool).await
        })
        .map_err(fail("users"))?;
        for row in rows {
            users.insert(row.0.clone(), row);
        }
    }

    let mut findings = BTreeMap::new();
    for rec in recordings {
        let Some(room_id) = room_of.get(&rec.record_id).or_else(|| room_by_meeting.get(&rec.meeting_id)) else {
            continue;
        };
        let Some(room) = rooms.get(room_id) else { continue };
        let people = room
            .owner
            .iter()
            .map(|u| (u, "owner"))
            .chain(shared.get(room_id).into_iter().flatten().map(|u| (u, "shared with")));
        let mut owners: Vec<Owner> = people
            .filter_map(|(id, how)| users.get(id).map(|user| (user, how)))
            .map(|((_, login, email, name), how)| {
                let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
                Owner {
                    username: (!login.is_empty()).then(|| login.clone()),
                    email: (!email.is_empty()).then(|| email.clone()),
                    first_name: first.trim().to_owned(),
                    last_name: last.trim().to_owned(),
                    source: SourceKind::Greenlight,
                    evidence: format!("Greenlight {version:?} room «{}»: {how}", room.name),
                }
            })
            .collect();
        dedup_owners(&mut owners);
        let finding = if owners.is_empty() {
            Finding::NoOwner(format!("the owner of Greenlight room «{}» is deleted", room.name))
        } else {
            Finding::Owners(owners)
        };
        findings.insert(rec.record_id.clone(), finding);
    }
    Ok(findings)
}

#[async_trait::async_trait]
impl OwnerSource for Greenlight {
    fn name(&self) -> String {
        if self.server_name.is_empty() { "greenlight".to_owned() } else { format!("greenlight {}", self.server_name) }
    }

    async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
        let mine: Vec<&Recording> = recordings.iter().copied().filter(|r| self.claims(r)).collect();
        if mine.is_empty() {
            return Ok(BTreeMap::new());
        }
        let result = match &self.db {
            Ok(db) => lookup(db, &mine).await,
            Err(e) => Err(SourceError(format!("database unreachable ({e})"))),
        };
        Ok(result.unwrap_or_else(|e| {
            tracing::warn!("Greenlight lookup failed: {e}");
            mine.iter().map(|r| (r.record_id.clone(), Finding::NoOwner(e.to_string()))).collect()
        }))
    }
}
