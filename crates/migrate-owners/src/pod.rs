//! Owners of recordings made from Esup-Pod's meeting module: the meeting's owner and its additional owners.
//!
//! Pod sets `meeting.meeting_id` = the meeting's id zero-padded to 4 digits + `-` + the slug of its name, on
//! every save: a meeting renamed after a recording keeps its id but not its meetingID. So a recording is
//! matched on the exact meetingID first, then on the leading number (the meeting's id), which the evidence says.

use std::collections::{BTreeMap, HashMap};

use bbb_api::Recording;
use migrate_db::{BATCH, Db, with_db};

use crate::{Finding, Owner, OwnerSource, SourceError, SourceKind, dedup_owners};

/// Pod's meeting module, in the Pod database.
pub struct PodMeetings {
    /// The Pod database, or why it could not be opened (reported for Pod-shaped recordings only).
    pub db: Result<Db, String>,
}

/// The meeting id a Pod meetingID starts with (`0042-cours-de-droit` → 42), if it has Pod's shape.
pub fn meeting_number(meeting_id: &str) -> Option<i64> {
    let (digits, _) = meeting_id.split_once('-')?;
    (digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

struct MeetingRow {
    id: i64,
    meeting_id: String,
    name: String,
}

type UserRow = (i64, String, String, String, String);
/// A meeting joined with its owner: meeting id, meetingID, name, then the owner's [`UserRow`] fields.
type MeetingOwnerRow = (i64, String, String, i64, String, String, String, String);

#[async_trait::async_trait]
impl OwnerSource for PodMeetings {
    fn name(&self) -> String {
        "pod meetings".to_owned()
    }

    async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
        let candidates: Vec<&Recording> =
            recordings.iter().copied().filter(|r| meeting_number(&r.meeting_id).is_some()).collect();
        if candidates.is_empty() {
            return Ok(BTreeMap::new());
        }
        let result = match &self.db {
            Ok(db) => lookup(db, &candidates).await,
            Err(e) => Err(SourceError(format!("database unreachable ({e})"))),
        };
        // A failure is the reason for the recordings that look like Pod's, not for every other one.
        Ok(result.unwrap_or_else(|e| {
            tracing::warn!("Pod meetings lookup failed: {e}");
            candidates.iter().map(|r| (r.record_id.clone(), Finding::NoOwner(e.to_string()))).collect()
        }))
    }
}

async fn lookup(db: &Db, candidates: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
    let mut meetings: HashMap<i64, MeetingRow> = HashMap::new();
    let mut owners_of: HashMap<i64, Vec<(UserRow, bool)>> = HashMap::new();
    let engine = db.engine();
    for chunk in candidates.chunks(BATCH) {
        let texts: Vec<&str> = chunk.iter().map(|r| r.meeting_id.as_str()).collect();
        let numbers: Vec<i64> = chunk.iter().filter_map(|r| meeting_number(&r.meeting_id)).collect();
        let sql = format!(
            "SELECT m.id, m.meeting_id, m.name, {}, u.username, u.email, u.first_name, u.last_name \
                 FROM meeting m JOIN auth_user u ON u.id = m.owner_id \
                 WHERE m.meeting_id IN ({}) OR m.id IN ({})",
            engine.int("u.id"),
            engine.params(1, texts.len()),
            engine.params(texts.len() + 1, numbers.len())
        );
        let rows: Vec<MeetingOwnerRow> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for t in &texts { q = q.bind(*t); }
            for n in &numbers { q = q.bind(*n); }
            q.fetch_all(pool).await
        })
        .map_err(|e| describe(e, "reading Pod meetings"))?;
        for (id, meeting_id, name, uid, username, email, first, last) in rows {
            meetings.insert(id, MeetingRow { id, meeting_id, name });
            owners_of.entry(id).or_default().push(((uid, username, email, first, last), true));
        }
    }
    let ids: Vec<i64> = meetings.keys().copied().collect();
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "SELECT {}, {}, u.username, u.email, u.first_name, u.last_name \
                 FROM meeting_additional_owners a JOIN auth_user u ON u.id = a.user_id \
                 WHERE a.meeting_id IN ({}) ORDER BY a.id",
            engine.int("a.meeting_id"),
            engine.int("u.id"),
            engine.params(1, chunk.len())
        );
        let rows: Vec<(i64, i64, String, String, String, String)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(*id); }
            q.fetch_all(pool).await
        })
        .map_err(|e| describe(e, "reading Pod meeting additional owners"))?;
        for (meeting, uid, username, email, first, last) in rows {
            owners_of.entry(meeting).or_default().push(((uid, username, email, first, last), false));
        }
    }
    // By meetingID (the lowest id if Pod has it twice), not by scanning every meeting for every recording.
    let mut by_meeting_id: HashMap<&str, &MeetingRow> = HashMap::new();
    for m in meetings.values() {
        let kept = by_meeting_id.entry(m.meeting_id.as_str()).or_insert(m);
        if m.id < kept.id {
            *kept = m;
        }
    }
    let mut findings = BTreeMap::new();
    for rec in candidates.iter().copied() {
        let exact = by_meeting_id.get(rec.meeting_id.as_str()).copied();
        let renamed = || meeting_number(&rec.meeting_id).and_then(|n| meetings.get(&n));
        let Some(meeting) = exact.or_else(renamed) else { continue };
        let how = if meeting.meeting_id == rec.meeting_id {
            String::new()
        } else {
            format!(", renamed since the recording (now `{}`)", meeting.meeting_id)
        };
        let mut owners: Vec<Owner> = owners_of
            .get(&meeting.id)
            .into_iter()
            .flatten()
            .map(|((uid, username, email, first, last), main)| Owner {
                username: Some(username.clone()),
                email: (!email.is_empty()).then(|| email.clone()),
                first_name: first.clone(),
                last_name: last.clone(),
                source: SourceKind::Pod,
                evidence: format!(
                    "Pod meeting {} «{}»{how}: {} (user {uid})",
                    meeting.id,
                    meeting.name,
                    if *main { "owner" } else { "additional owner" }
                ),
            })
            .collect();
        dedup_owners(&mut owners);
        findings.insert(rec.record_id.clone(), Finding::Owners(owners));
    }
    Ok(findings)
}

fn describe(error: migrate_db::sqlx::Error, what: &str) -> SourceError {
    if migrate_db::is_missing_table(&error) {
        SourceError(format!("{what}: the Pod database has no meeting module tables ({error})"))
    } else {
        SourceError(format!("{what}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_meeting_ids_give_their_number() {
        assert_eq!(meeting_number("0042-cours-de-droit"), Some(42));
        assert_eq!(meeting_number("12345-x"), Some(12345));
        assert_eq!(meeting_number("042-x"), None, "Pod pads to 4 digits");
        assert_eq!(meeting_number("abcd-x"), None);
        assert_eq!(meeting_number("f3b1c0de2a-12-3"), None);
    }
}
