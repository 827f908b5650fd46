//! Owners of recordings made from Moodle's BigBlueButton activity (`mod_bigbluebuttonbn`, Moodle 3.9 to 4.5,
//! PostgreSQL or MySQL/MariaDB, any table prefix).
//!
//! The activity is found, in this order, by the recordID in `bigbluebuttonbn_recordings` (Moodle ≥ 4.0; rows
//! with `imported = 1` are links into another activity and prove nothing), by the full meetingID in the
//! `Create` rows of `bigbluebuttonbn_logs` (Moodle 3 and 4), or by parsing the meetingID
//! `<seed>-<course>-<activity>[<group>]` and checking the activity's seed. Its moderators are then read from the
//! activity's `participants` rules: users listed as moderators, members of the roles listed as moderators
//! (role assignments in the course context — what the old Pod script ignored), and for "everyone is a
//! moderator" the course's editing teachers. With no moderator rule at all, Moodle's default applies: the user
//! who created the activity (its `Add` log), else the editing teachers. Deleted users are never owners.
//!
//! The rules are pure functions ([`parse_meeting_id`], [`parse_participants`], [`decide`]) over rows loaded in
//! a few batched queries per site.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bbb_api::Recording;
use migrate_db::{BATCH, Db, with_db};
use serde_json::Value;

use crate::{Finding, Owner, OwnerSource, SourceError, SourceKind, dedup_owners};

/// Moodle's context level of a course.
const CONTEXT_COURSE: i64 = 50;
/// The role Moodle gives course teachers who may edit; moderators when "everyone" is.
const EDITING_TEACHER: &str = "editingteacher";

/// A Moodle meetingID, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRef {
    /// The activity's `meetingid` column (40 hex characters in Moodle ≥ 2.x).
    pub seed: String,
    pub course: i64,
    pub activity: i64,
    pub group: Option<i64>,
}

/// Parses `<seed>-<course>-<activity>`, `…[<group>]` (Moodle 4 always, Moodle 3 with groups) and the
/// `…-<group>` some plugin versions wrote. `None` for anything else.
pub fn parse_meeting_id(meeting_id: &str) -> Option<MeetingRef> {
    let mut parts = meeting_id.split('-');
    let seed = parts.next()?;
    let course = parts.next()?;
    let rest = parts.next()?;
    let dash_group = parts.next();
    if parts.next().is_some() || seed.is_empty() || !seed.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let number =
        |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten();
    let (activity, bracket_group) = match rest.split_once('[') {
        Some((activity, group)) => {
            let group = group.strip_suffix(']')?;
            (activity, Some(if group.is_empty() { 0 } else { number(group)? }))
        }
        None => (rest, None),
    };
    let group = match (bracket_group, dash_group) {
        (Some(_), Some(_)) => return None,
        (Some(g), None) => Some(g),
        (None, Some(g)) => Some(number(g)?),
        (None, None) => None,
    };
    Some(MeetingRef { seed: seed.to_owned(), course: number(course)?, activity: number(activity)?, group })
}

/// Who a `participants` rule selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// A role by id, or by shortname as older plugin versions wrote it.
    RoleId(i64),
    RoleName(String),
    User(i64),
}

/// One entry of an activity's `participants` JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub selection: Selection,
    pub moderator: bool,
}

/// Reads the `participants` column: a JSON array of `{"selectiontype", "selectionid", "role"}`. NULL or
/// empty means "the site default". Entries that cannot be read are skipped and reported.
pub fn parse_participants(json: Option<&str>) -> (Vec<Rule>, Vec<String>) {
    let Some(text) = json.map(str::trim).filter(|t| !t.is_empty()) else { return (Vec::new(), Vec::new()) };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return (Vec::new(), vec![format!("participants is not JSON ({e})")]),
    };
    let Some(entries) = value.as_array() else { return (Vec::new(), vec!["participants is not a JSON array".into()]) };
    let mut rules = Vec::new();
    let mut warnings = Vec::new();
    for entry in entries {
        let field = |k: &str| entry.get(k).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
        let kind = field("selectiontype").unwrap_or_default();
        let id = field("selectionid").unwrap_or_default();
        let moderator = field("role").is_some_and(|r| r.eq_ignore_ascii_case("moderator"));
        let selection = match kind.as_str() {
            "all" => Selection::All,
            "role" => match id.parse::<i64>() {
                Ok(n) => Selection::RoleId(n),
                Err(_) if !id.is_empty() => Selection::RoleName(id),
                Err(_) => {
                    warnings.push(format!("participants entry without a role: {entry}"));
                    continue;
                }
            },
            "user" => match id.parse::<i64>() {
                Ok(n) => Selection::User(n),
                Err(_) => {
                    warnings.push(format!("participants entry with user id `{id}`"));
                    continue;
                }
            },
            other => {
                warnings.push(format!("participants entry of unknown type `{other}`"));
                continue;
            }
        };
        rules.push(Rule { selection, moderator });
    }
    (rules, warnings)
}

/// A `bigbluebuttonbn` activity.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: i64,
    pub course: i64,
    pub seed: String,
    pub name: String,
    pub participants: Option<String>,
}

/// A `bigbluebuttonbn_recordings` row.
#[derive(Debug, Clone)]
pub struct RecordingRow {
    pub activity: i64,
    pub headless: bool,
    pub imported: bool,
}

/// A Moodle user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub deleted: bool,
}

/// Everything one site's queries loaded for a batch of recordings.
#[derive(Debug, Default)]
pub struct Loaded {
    pub recordings: HashMap<String, RecordingRow>,
    /// Full meetingID → activity, from `Create` logs.
    pub create_logs: HashMap<String, i64>,
    /// Full meetingID → the user who started that session (its `Create` log).
    pub session_starters: HashMap<String, i64>,
    /// Also count the user who started the session as an owner (`owners.moodle_session_starter`).
    pub include_session_starters: bool,
    pub activities: HashMap<i64, Activity>,
    /// Activity id → the user of its `Add` log (who created it).
    pub creators: HashMap<i64, i64>,
    pub role_ids: HashMap<String, i64>,
    pub role_names: HashMap<i64, String>,
    /// Course → (role, user) assignments in the course context, for the roles that matter.
    pub assignments: HashMap<i64, Vec<(i64, i64)>>,
    pub users: HashMap<i64, User>,
}

/// The activity a recording was made in, and how it was found; `Err` says why it is gone. `None`: not one of
/// this Moodle's recordings.
pub fn find_activity<'a>(rec: &Recording, loaded: &'a Loaded) -> Option<Result<(&'a Activity, &'static str), String>> {
    let parsed = parse_meeting_id(&rec.meeting_id);
    let (activity_id, found_by) = if let Some(row) = loaded.recordings.get(&rec.record_id).filter(|r| !r.imported) {
        if row.headless {
            return Some(Err(format!("activity {} was deleted (its recordings are headless)", row.activity)));
        }
        (row.activity, "bigbluebuttonbn_recordings")
    } else if let Some(&activity) = loaded.create_logs.get(&rec.meeting_id) {
        (activity, "the meeting's Create log")
    } else if let Some(parsed) = &parsed {
        let by_id = loaded.activities.get(&parsed.activity).filter(|a| a.seed == parsed.seed);
        let by_seed = || loaded.activities.values().find(|a| a.seed == parsed.seed);
        match by_id.or_else(by_seed) {
            Some(activity) => (activity.id, "the meetingID"),
            None => {
                return Some(Err(format!(
                    "activity {} of course {} no longer exists (deleted?)",
                    parsed.activity, parsed.course
                )));
            }
        }
    } else {
        return None;
    };
    Some(match loaded.activities.get(&activity_id) {
        Some(activity) => Ok((activity, found_by)),
        None => Err(format!("activity {activity_id} no longer exists (deleted?)")),
    })
}

/// What this site says about one recording, from the loaded rows (pure). `None`: not one of this Moodle's.
pub fn decide(rec: &Recording, loaded: &Loaded, site: &str) -> Option<Finding> {
    let (activity, found_by) = match find_activity(rec, loaded)? {
        Ok(found) => found,
        Err(reason) => return Some(Finding::NoOwner(reason)),
    };
    let (rules, _) = parse_participants(activity.participants.as_deref());
    let teachers = || -> Vec<i64> {
        let Some(&role) = loaded.role_ids.get(EDITING_TEACHER) else { return Vec::new() };
        assigned(loaded, activity.course, role)
    };
    let mut moderators: Vec<(i64, String)> = Vec::new();
    for rule in rules.iter().filter(|r| r.moderator) {
        match &rule.selection {
            Selection::User(id) => moderators.push((*id, "listed as moderator".into())),
            Selection::RoleId(_) | Selection::RoleName(_) => {
                let role = match &rule.selection {
                    Selection::RoleId(id) => Some(*id),
                    Selection::RoleName(name) => loaded.role_ids.get(name).copied(),
                    _ => None,
                };
                if let Some(role) = role {
                    let name = loaded.role_names.get(&role).cloned().unwrap_or_else(|| format!("#{role}"));
                    for user in assigned(loaded, activity.course, role) {
                        moderators.push((user, format!("moderator by role {name}")));
                    }
                }
            }
            Selection::All => {
                for user in teachers() {
                    moderators.push((user, "everyone is moderator; editing teacher of the course".into()));
                }
            }
        }
    }
    if !rules.iter().any(|r| r.moderator) {
        match loaded.creators.get(&activity.id) {
            Some(&creator) => moderators.push((creator, "created the activity (no moderator listed)".into())),
            None => {
                for user in teachers() {
                    moderators.push((user, "editing teacher of the course (no moderator listed)".into()));
                }
            }
        }
    }
    if loaded.include_session_starters {
        if let Some(&starter) = loaded.session_starters.get(&rec.meeting_id) {
            moderators.push((starter, "started this session (its Create log)".into()));
        }
    }
    let mut deleted = 0;
    let mut owners = Vec::new();
    for (id, why) in moderators {
        match loaded.users.get(&id) {
            Some(user) if user.deleted => deleted += 1,
            Some(user) if user.username == "guest" => {}
            Some(user) => owners.push(Owner {
                username: Some(user.username.clone()),
                email: (!user.email.is_empty()).then(|| user.email.clone()),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                source: SourceKind::Moodle,
                evidence: format!(
                    "Moodle {site}: activity {} «{}» (course {}, found by {found_by}): {why}",
                    activity.id, activity.name, activity.course
                ),
            }),
            None => deleted += 1,
        }
    }
    dedup_owners(&mut owners);
    if owners.is_empty() {
        let reason = if deleted > 0 {
            format!("every moderator of activity {} is deleted in Moodle", activity.id)
        } else {
            format!("activity {} «{}» has no moderator", activity.id, activity.name)
        };
        return Some(Finding::NoOwner(reason));
    }
    Some(Finding::Owners(owners))
}

fn assigned(loaded: &Loaded, course: i64, role: i64) -> Vec<i64> {
    let mut users: Vec<i64> =
        loaded.assignments.get(&course).into_iter().flatten().filter(|(r, _)| *r == role).map(|(_, u)| *u).collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// One Moodle site: the recordings whose `bbb-origin-server-name` is `server_name` (or, for `default`, the
/// Moodle-looking recordings no other site claims).
pub struct MoodleSite {
    pub server_name: String,
    /// The database, or why it could not be opened (reported for this site's recordings only).
    pub db: Result<Db, String>,
    pub table_prefix: String,
    /// Every configured site's server name, so that `default` leaves theirs alone.
    pub other_sites: Vec<String>,
    /// Server names never looked up (the old script's `IGNORED_SERVERS`).
    pub ignore_servers: Vec<String>,
    /// Also give each recording to the user who started its session (Moodle's `Create` log).
    pub include_session_starters: bool,
}

impl MoodleSite {
    fn is_default(&self) -> bool {
        self.server_name.eq_ignore_ascii_case("default")
    }

    /// Whether `rec` is for this site to answer.
    pub fn claims(&self, rec: &Recording) -> bool {
        let server = rec.origin_server_name().map(str::trim).filter(|s| !s.is_empty());
        if server.is_some_and(|s| self.ignore_servers.iter().any(|i| i.eq_ignore_ascii_case(s))) {
            return false;
        }
        if self.is_default() {
            let moodle_like = rec.origin().is_some_and(|o| o.eq_ignore_ascii_case("moodle"))
                || parse_meeting_id(&rec.meeting_id).is_some();
            let other = server.is_some_and(|s| self.other_sites.iter().any(|o| o.eq_ignore_ascii_case(s)));
            moodle_like && !other
        } else {
            server.is_some_and(|s| s.eq_ignore_ascii_case(&self.server_name))
        }
    }

    /// Loads, in a few batched queries, every row needed to decide about `recordings`.
    pub async fn load(&self, db: &Db, recordings: &[&Recording]) -> Result<Loaded, SourceError> {
        let e = db.engine();
        let t = |name: &str| e.table(&self.table_prefix, name).map_err(SourceError::from);
        let (t_rec, t_logs, t_bbb) =
            (t("bigbluebuttonbn_recordings")?, t("bigbluebuttonbn_logs")?, t("bigbluebuttonbn")?);
        let (t_role, t_ra, t_ctx, t_user) = (t("role")?, t("role_assignments")?, t("context")?, t("user")?);
        let mut loaded = Loaded::default();

        let record_ids: Vec<&str> = recordings.iter().map(|r| r.record_id.as_str()).collect();
        for chunk in record_ids.chunks(BATCH) {
            let sql = format!(
                "SELECT recordingid, bigbluebuttonbnid, {}, {} FROM {t_rec} WHERE recordingid IN ({})",
                e.int("headless"),
                e.int("imported"),
                e.params(1, chunk.len())
            );
            let rows: Result<Vec<(String, i64, i64, i64)>, _> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await);
            match rows {
                Ok(rows) => {
                    for (id, activity, headless, imported) in rows {
                        let row = RecordingRow { activity, headless: headless != 0, imported: imported != 0 };
                        // A recording imported elsewhere has two rows: keep the original's.
                        if !row.imported || !loaded.recordings.contains_key(&id) {
                            loaded.recordings.insert(id, row);
                        }
                    }
                }
                Err(err) if migrate_db::is_missing_table(&err) => {
                    tracing::debug!(site = %self.server_name, "no bigbluebuttonbn_recordings table: Moodle 3");
                    break;
                }
                Err(err) => return Err(SourceError(format!("reading {t_rec}: {err}"))),
            }
        }

        let meeting_ids: Vec<&str> = recordings.iter().map(|r| r.meeting_id.as_str()).collect();
        for chunk in meeting_ids.chunks(BATCH) {
            let sql = format!(
                "SELECT meetingid, bigbluebuttonbnid, userid FROM {t_logs} WHERE log = 'Create' AND meetingid IN ({}) ORDER BY id",
                e.params(1, chunk.len())
            );
            let rows: Vec<(String, i64, Option<i64>)> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await)
                    .map_err(|err| SourceError(format!("reading {t_logs}: {err}")))?;
            for (meeting, activity, user) in rows {
                if let Some(user) = user {
                    loaded.session_starters.entry(meeting.clone()).or_insert(user);
                }
                loaded.create_logs.entry(meeting).or_insert(activity);
            }
        }

        let parsed: Vec<MeetingRef> = recordings.iter().filter_map(|r| parse_meeting_id(&r.meeting_id)).collect();
        let mut activity_ids: BTreeSet<i64> = loaded.recordings.values().map(|r| r.activity).collect();
        activity_ids.extend(loaded.create_logs.values().copied());
        activity_ids.extend(parsed.iter().map(|p| p.activity));
        let seeds: BTreeSet<&str> = parsed.iter().map(|p| p.seed.as_str()).collect();
        let ids: Vec<i64> = activity_ids.into_iter().collect();
        let seeds: Vec<&str> = seeds.into_iter().collect();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT id, course, meetingid, name, participants FROM {t_bbb} WHERE id IN ({})",
                e.params(1, chunk.len())
            );
            let rows: Vec<(i64, i64, String, String, Option<String>)> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await)
                    .map_err(|err| SourceError(format!("reading {t_bbb}: {err}")))?;
            insert_activities(&mut loaded, rows);
        }
        for chunk in seeds.chunks(BATCH) {
            let sql = format!(
                "SELECT id, course, meetingid, name, participants FROM {t_bbb} WHERE meetingid IN ({})",
                e.params(1, chunk.len())
            );
            let rows: Vec<(i64, i64, String, String, Option<String>)> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await)
                    .map_err(|err| SourceError(format!("reading {t_bbb}: {err}")))?;
            insert_activities(&mut loaded, rows);
        }

        let activities: Vec<i64> = loaded.activities.keys().copied().collect();
        for chunk in activities.chunks(BATCH) {
            let sql = format!(
                "SELECT bigbluebuttonbnid, userid FROM {t_logs} WHERE log = 'Add' AND userid IS NOT NULL \
                 AND bigbluebuttonbnid IN ({}) ORDER BY id",
                e.params(1, chunk.len())
            );
            let rows: Vec<(i64, i64)> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await)
                    .map_err(|err| SourceError(format!("reading {t_logs}: {err}")))?;
            for (activity, user) in rows {
                loaded.creators.entry(activity).or_insert(user);
            }
        }

        let sql = format!("SELECT id, shortname FROM {t_role}");
        let roles: Vec<(i64, String)> = with_db!(db, pool => migrate_db::sqlx::query_as(&sql).fetch_all(pool).await)
            .map_err(|err| SourceError(format!("reading {t_role}: {err}")))?;
        for (id, shortname) in roles {
            loaded.role_ids.insert(shortname.clone(), id);
            loaded.role_names.insert(id, shortname);
        }

        // Only the roles the activities' rules name, plus editing teachers: never every student of a course.
        let mut wanted_roles: BTreeSet<i64> = loaded.role_ids.get(EDITING_TEACHER).copied().into_iter().collect();
        loaded.include_session_starters = self.include_session_starters;
        let mut wanted_users: BTreeSet<i64> = loaded.creators.values().copied().collect();
        if self.include_session_starters {
            wanted_users.extend(loaded.session_starters.values().copied());
        }
        for activity in loaded.activities.values() {
            for rule in parse_participants(activity.participants.as_deref()).0.into_iter().filter(|r| r.moderator) {
                match rule.selection {
                    Selection::RoleId(id) => {
                        wanted_roles.insert(id);
                    }
                    Selection::RoleName(name) => wanted_roles.extend(loaded.role_ids.get(&name).copied()),
                    Selection::User(id) => {
                        wanted_users.insert(id);
                    }
                    Selection::All => {}
                }
            }
        }
        let courses: Vec<i64> =
            loaded.activities.values().map(|a| a.course).collect::<BTreeSet<_>>().into_iter().collect();
        let roles: Vec<i64> = wanted_roles.into_iter().collect();
        if !roles.is_empty() {
            for chunk in courses.chunks(BATCH) {
                let sql = format!(
                    "SELECT ctx.instanceid, ra.roleid, ra.userid FROM {t_ra} ra JOIN {t_ctx} ctx ON ctx.id = ra.contextid \
                     WHERE ctx.contextlevel = {CONTEXT_COURSE} AND ctx.instanceid IN ({}) AND ra.roleid IN ({})",
                    e.params(1, chunk.len()),
                    e.params(chunk.len() + 1, roles.len())
                );
                let rows: Vec<(i64, i64, i64)> = with_db!(db, pool => {
                    bind_all(bind_all(migrate_db::sqlx::query_as(&sql), chunk), &roles).fetch_all(pool).await
                })
                .map_err(|err| SourceError(format!("reading {t_ra}: {err}")))?;
                for (course, role, user) in rows {
                    wanted_users.insert(user);
                    loaded.assignments.entry(course).or_default().push((role, user));
                }
            }
        }

        let users: Vec<i64> = wanted_users.into_iter().collect();
        for chunk in users.chunks(BATCH) {
            let sql = format!(
                "SELECT id, username, email, firstname, lastname, {} FROM {t_user} WHERE id IN ({})",
                e.int("deleted"),
                e.params(1, chunk.len())
            );
            let rows: Vec<(i64, String, String, String, String, i64)> =
                with_db!(db, pool => bind_all(migrate_db::sqlx::query_as(&sql), chunk).fetch_all(pool).await)
                    .map_err(|err| SourceError(format!("reading {t_user}: {err}")))?;
            for (id, username, email, first_name, last_name, deleted) in rows {
                loaded.users.insert(id, User { id, username, email, first_name, last_name, deleted: deleted != 0 });
            }
        }
        Ok(loaded)
    }
}

fn insert_activities(loaded: &mut Loaded, rows: Vec<(i64, i64, String, String, Option<String>)>) {
    for (id, course, seed, name, participants) in rows {
        loaded.activities.insert(id, Activity { id, course, seed, name, participants });
    }
}

/// Binds every value of `values`, in order.
fn bind_all<'q, DB, O, T>(
    mut query: migrate_db::sqlx::query::QueryAs<'q, DB, O, <DB as migrate_db::sqlx::Database>::Arguments<'q>>,
    values: &'q [T],
) -> migrate_db::sqlx::query::QueryAs<'q, DB, O, <DB as migrate_db::sqlx::Database>::Arguments<'q>>
where
    DB: migrate_db::sqlx::Database,
    T: migrate_db::sqlx::Encode<'q, DB> + migrate_db::sqlx::Type<DB> + Sync + 'q,
    &'q T: migrate_db::sqlx::Encode<'q, DB> + migrate_db::sqlx::Type<DB> + Send,
{
    for value in values {
        query = query.bind(value);
    }
    query
}

#[async_trait::async_trait]
impl OwnerSource for MoodleSite {
    fn name(&self) -> String {
        format!("moodle {}", self.server_name)
    }

    async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
        let mine: Vec<&Recording> = recordings.iter().copied().filter(|r| self.claims(r)).collect();
        if mine.is_empty() {
            return Ok(BTreeMap::new());
        }
        let all_fail =
            |reason: String| Ok(mine.iter().map(|r| (r.record_id.clone(), Finding::NoOwner(reason.clone()))).collect());
        let db = match &self.db {
            Ok(db) => db,
            Err(e) => return all_fail(format!("database unreachable ({e})")),
        };
        let loaded = match self.load(db, &mine).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::warn!(site = %self.server_name, "Moodle lookup failed: {e}");
                return all_fail(format!("database error ({e})"));
            }
        };
        Ok(mine
            .iter()
            .filter_map(|r| decide(r, &loaded, &self.server_name).map(|f| (r.record_id.clone(), f)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::recording;

    #[test]
    fn meeting_ids_of_every_moodle_version_parse() {
        let seed = "0123456789abcdef0123456789abcdef01234567";
        let m = |s: &str| parse_meeting_id(s);
        assert_eq!(
            m(&format!("{seed}-12-345")),
            Some(MeetingRef { seed: seed.into(), course: 12, activity: 345, group: None })
        );
        assert_eq!(m(&format!("{seed}-12-345[0]")).unwrap().group, Some(0));
        assert_eq!(m(&format!("{seed}-12-345[7]")).unwrap().group, Some(7));
        assert_eq!(m(&format!("{seed}-12-345-7")).unwrap().group, Some(7));
        assert_eq!(m(&format!("{seed}-12-345[]")).unwrap().group, Some(0));
        for bad in ["0042-cours-de-droit", "abc", "x-1", &format!("{seed}-a-1"), &format!("{seed}-1-2[3]-4"), ""] {
            assert_eq!(m(bad), None, "{bad}");
        }
    }

    #[test]
    fn participants_of_every_shape_are_read() {
        let json = r#"[{"selectiontype":"all","selectionid":"all","role":"viewer"},
            {"selectiontype":"role","selectionid":"3","role":"moderator"},
            {"selectiontype":"role","selectionid":"editingteacher","role":"moderator"},
            {"selectiontype":"user","selectionid":12,"role":"moderator"},
            {"selectiontype":"group","selectionid":"1","role":"viewer"}]"#;
        let (rules, warnings) = parse_participants(Some(json));
        assert_eq!(
            rules,
            vec![
                Rule { selection: Selection::All, moderator: false },
                Rule { selection: Selection::RoleId(3), moderator: true },
                Rule { selection: Selection::RoleName("editingteacher".into()), moderator: true },
                Rule { selection: Selection::User(12), moderator: true },
            ]
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(parse_participants(None).0, vec![]);
        assert_eq!(parse_participants(Some("[]")).0, vec![]);
        assert!(parse_participants(Some("{not json")).1[0].contains("not JSON"));
    }

    fn user(id: i64, username: &str, deleted: bool) -> User {
        User {
            id,
            username: username.into(),
            email: format!("{username}@univ.fr"),
            first_name: "F".into(),
            last_name: "L".into(),
            deleted,
        }
    }

    fn loaded_with(participants: Option<&str>) -> Loaded {
        let mut l = Loaded::default();
        l.activities.insert(
            5,
            Activity {
                id: 5,
                course: 9,
                seed: "abc".into(),
                name: "Amphi".into(),
                participants: participants.map(Into::into),
            },
        );
        l.role_ids.insert("editingteacher".into(), 3);
        l.role_names.insert(3, "editingteacher".into());
        l.role_ids.insert("teacher".into(), 4);
        l.role_names.insert(4, "teacher".into());
        l.assignments.insert(9, vec![(3, 100), (4, 101), (5, 102)]);
        for u in [
            user(100, "prof", false),
            user(101, "assistant", false),
            user(102, "student", false),
            user(103, "gone", true),
        ] {
            l.users.insert(u.id, u);
        }
        l
    }

    fn usernames(f: Option<Finding>) -> Vec<String> {
        match f {
            Some(Finding::Owners(o)) => o.into_iter().map(|o| o.username.unwrap()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn moderators_come_from_users_roles_and_all() {
        let rec = recording("r", "abc-9-5[0]", &[]);
        let l = loaded_with(Some(
            r#"[{"selectiontype":"role","selectionid":"4","role":"moderator"},{"selectiontype":"user","selectionid":"100","role":"moderator"}]"#,
        ));
        assert_eq!(usernames(decide(&rec, &l, "m")), ["assistant", "prof"]);
        let l = loaded_with(Some(r#"[{"selectiontype":"all","selectionid":"all","role":"moderator"}]"#));
        assert_eq!(usernames(decide(&rec, &l, "m")), ["prof"], "everyone moderator → editing teachers");
        let mut l = loaded_with(Some("[]"));
        assert_eq!(usernames(decide(&rec, &l, "m")), ["prof"], "site default without creator → editing teachers");
        l.creators.insert(5, 101);
        assert_eq!(usernames(decide(&rec, &l, "m")), ["assistant"], "site default → the activity's creator");
    }

    #[test]
    fn deleted_and_unknown_activities_give_reasons() {
        let rec = recording("r", "abc-9-5[0]", &[]);
        let l = loaded_with(Some(r#"[{"selectiontype":"user","selectionid":"103","role":"moderator"}]"#));
        assert_eq!(
            decide(&rec, &l, "m"),
            Some(Finding::NoOwner("every moderator of activity 5 is deleted in Moodle".into()))
        );
        let gone = recording("r", "def-9-6", &[]);
        assert_eq!(
            decide(&gone, &l, "m"),
            Some(Finding::NoOwner("activity 6 of course 9 no longer exists (deleted?)".into()))
        );
        let mut l = loaded_with(None);
        l.recordings.insert("r".into(), RecordingRow { activity: 5, headless: true, imported: false });
        assert!(matches!(decide(&rec, &l, "m"), Some(Finding::NoOwner(r)) if r.contains("headless")));
        assert_eq!(decide(&recording("r2", "0042-pod-meeting", &[]), &l, "m"), None, "not a Moodle recording");
    }

    #[test]
    fn the_seed_must_match_when_found_by_meeting_id() {
        let l = loaded_with(None);
        let other_site = recording("r", "zzz-9-5", &[]);
        assert!(matches!(decide(&other_site, &l, "m"), Some(Finding::NoOwner(_))), "same activity id, other seed");
    }

    #[test]
    fn sites_claim_by_server_name_and_default_takes_the_rest() {
        let site = |name: &str| MoodleSite {
            server_name: name.into(),
            db: Err("unused".into()),
            table_prefix: "mdl_".into(),
            other_sites: vec!["moodle.univ.fr".into(), "default".into()],
            ignore_servers: vec!["test.univ.fr".into()],
            include_session_starters: false,
        };
        let from =
            |server: &str| recording("r", "abc-1-2", &[("bbb-origin", "Moodle"), ("bbb-origin-server-name", server)]);
        assert!(site("moodle.univ.fr").claims(&from("Moodle.Univ.FR")));
        assert!(!site("moodle.univ.fr").claims(&from("other.univ.fr")));
        assert!(site("default").claims(&from("other.univ.fr")));
        assert!(!site("default").claims(&from("moodle.univ.fr")));
        assert!(!site("default").claims(&from("test.univ.fr")), "ignored");
        assert!(site("default").claims(&recording("r", "abc-1-2", &[])), "Moodle-shaped meetingID");
        assert!(!site("default").claims(&recording("r", "0042-x", &[])));
    }
}
