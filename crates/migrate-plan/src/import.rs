//! Option 2, import: one Pod external recording of type `bigbluebutton` per (recording, owner), pointing at
//! the old playback, and the Pod users that must exist first.
//!
//! The plan is decided from what Pod already holds ([`PodState`]), so that `plan` shows exactly what
//! `migrate` will write, and a rerun — or a Pod where the old Python script already made rows — plans nothing
//! twice: an external recording exists when a row has the same owner and any spelling of the same playback
//! URL (2.0 or 2.3 presentation form, with or without the trailing slash).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bbb_api::{FormatKind, Recording};
use chrono::{DateTime, Utc};
use migrate_owners::{Owner, Resolution};
use serde::{Deserialize, Serialize};

pub use crate::Skipped;

/// `import_video_externalrecording.name` is a varchar(250).
pub const NAME_MAX: usize = 250;
/// `import_video_externalrecording.source_url` is a varchar(500).
pub const SOURCE_URL_MAX: usize = 500;

/// A Pod account (`auth_user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodUser {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A row of `import_video_externalrecording` that may already cover a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingExternal {
    pub id: i64,
    pub source_url: String,
    pub owner_id: Option<i64>,
}

/// How owners found in the front-ends are recognised among Pod's users (`pod.match_users_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchUsersBy {
    Username,
    Email,
}

/// What Pod holds that the plan depends on: the users the owners may be, and the external recordings that
/// may already point at the selected recordings.
#[derive(Debug, Clone, Default)]
pub struct PodState {
    pub users: Vec<PodUser>,
    pub external: Vec<ExistingExternal>,
}

/// The settings the import plan follows.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub match_by: MatchUsersBy,
    /// Who gets the recordings whose owners are unknown (checked to exist before planning).
    pub fallback: PodUser,
}

/// The usernames and e-mails to look up in Pod before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserKeys {
    pub usernames: BTreeSet<String>,
    /// Lower-cased.
    pub emails: BTreeSet<String>,
}

/// Every username and e-mail of the resolved owners: a user can match by either.
pub fn user_keys<'a>(resolutions: impl IntoIterator<Item = &'a Resolution>) -> UserKeys {
    let mut keys = UserKeys::default();
    for owner in resolutions.into_iter().flat_map(|r| &r.owners) {
        if let Some(u) = owner.username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            keys.usernames.insert(u.to_owned());
        }
        if let Some(e) = owner.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            keys.emails.insert(e.to_lowercase());
        }
    }
    keys
}

/// The playback an external recording points at: the `video` playback when there is one (Pod imports it
/// directly), else the presentation in its 2.3 form (the only one current players have).
pub fn source_url(rec: &Recording) -> Option<String> {
    rec.format(&FormatKind::Video)
        .map(|f| f.url.trim().to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| rec.presentation_url().filter(|u| !u.is_empty()))
}

/// Every spelling of `rec`'s playback URLs that an earlier run or the old script may have stored.
pub fn url_variants(rec: &Recording) -> Vec<String> {
    let mut urls = BTreeSet::new();
    for format in rec.formats.iter().filter(|f| matches!(f.kind, FormatKind::Video | FormatKind::Presentation)) {
        let raw = format.url.trim();
        for url in [raw.to_owned(), bbb_api::presentation_url_v23(raw, &rec.record_id)] {
            let bare = url.trim_end_matches('/').to_owned();
            urls.insert(format!("{bare}/"));
            urls.insert(bare);
        }
    }
    urls.into_iter().filter(|u| u.len() > 1).collect()
}

/// A person to create in Pod (`auth_user` + Owner profile), from what the front-end knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// Whose external recording a row is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PlannedOwner {
    /// A Pod user that exists.
    Existing { user: PodUser },
    /// A user to create first.
    New { user: NewUser },
}

impl PlannedOwner {
    pub fn username(&self) -> &str {
        match self {
            Self::Existing { user } => &user.username,
            Self::New { user } => &user.username,
        }
    }
}

/// One external recording for one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    pub owner: PlannedOwner,
    /// Why this owner: the source's evidence, or the fallback's reason.
    pub evidence: String,
    pub fallback: bool,
    /// Set when Pod already has this row (made by an earlier run or the old script): nothing to write.
    pub existing_id: Option<i64>,
}

/// What import mode does for one recording: every row is written in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportItem {
    pub position: usize,
    pub record_id: String,
    pub name: String,
    pub start_at: DateTime<Utc>,
    pub duration_secs: u64,
    pub origin: String,
    pub source_url: String,
    /// Every spelling of the playback URLs that counts as the same recording ([`url_variants`]).
    #[serde(skip)]
    pub url_variants: Vec<String>,
    pub rows: Vec<ImportRow>,
    /// Owners that were found but cannot be given a row, and why.
    pub notes: Vec<String>,
}

impl ImportItem {
    /// The ledger's idempotency key.
    pub fn key(&self) -> String {
        format!("import:{}", self.record_id)
    }

    pub fn rows_to_create(&self) -> impl Iterator<Item = &ImportRow> {
        self.rows.iter().filter(|r| r.existing_id.is_none())
    }

    pub fn is_done(&self) -> bool {
        self.rows_to_create().next().is_none()
    }
}

/// The whole import plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportPlan {
    pub items: Vec<ImportItem>,
    pub skipped: Vec<Skipped>,
}

/// Counts for the plan's summary and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportTotals {
    pub recordings: usize,
    pub rows_to_create: usize,
    pub rows_existing: usize,
    pub users_to_create: usize,
    pub to_fallback: usize,
    pub skipped: usize,
    pub hours: f64,
    /// username → (recordings, rows to create)
    pub per_owner: BTreeMap<String, (usize, usize)>,
    pub per_origin: BTreeMap<String, usize>,
}

impl ImportPlan {
    pub fn totals(&self) -> ImportTotals {
        let mut t = ImportTotals { recordings: self.items.len(), skipped: self.skipped.len(), ..Default::default() };
        let mut new_users = BTreeSet::new();
        for item in &self.items {
            t.hours += item.duration_secs as f64 / 3600.0;
            *t.per_origin.entry(item.origin.clone()).or_default() += 1;
            if item.rows.iter().any(|r| r.fallback) {
                t.to_fallback += 1;
            }
            for row in &item.rows {
                let entry = t.per_owner.entry(row.owner.username().to_owned()).or_default();
                entry.0 += 1;
                if row.existing_id.is_some() {
                    t.rows_existing += 1;
                } else {
                    t.rows_to_create += 1;
                    entry.1 += 1;
                    if let PlannedOwner::New { user } = &row.owner {
                        new_users.insert(user.username.clone());
                    }
                }
            }
        }
        t.users_to_create = new_users.len();
        t
    }
}

/// One selected recording with its owners, as the plan receives it.
pub struct Selected<'a> {
    pub position: usize,
    pub recording: &'a Recording,
    pub resolution: &'a Resolution,
}

/// The import plan: pure, from the selection, the owners and Pod's state.
pub fn plan_import(selected: &[Selected], state: &PodState, settings: &ImportSettings) -> ImportPlan {
    let by_username: HashMap<&str, &PodUser> = state.users.iter().map(|u| (u.username.as_str(), u)).collect();
    let mut by_email: HashMap<String, &PodUser> = HashMap::new();
    for user in &state.users {
        if !user.email.trim().is_empty() {
            by_email.entry(user.email.trim().to_lowercase()).or_insert(user);
        }
    }
    // Pod's rows by the URL they point at. A recording's rows are those whose URL is one of its spellings
    // ([`url_variants`]): the rule the writer checks again inside its transaction. (Comparing every row with
    // every recording was quadratic, and turned another recording's 2.0-form row into this one's.)
    let mut external_by_url: HashMap<&str, Vec<&ExistingExternal>> = HashMap::new();
    for e in &state.external {
        external_by_url.entry(e.source_url.as_str()).or_default().push(e);
    }
    let mut plan = ImportPlan::default();
    for s in selected {
        let rec = s.recording;
        let Some(source_url) = source_url(rec) else {
            plan.skipped.push(Skipped::new(s.position, s.recording, "no presentation or video playback to point at"));
            continue;
        };
        if source_url.chars().count() > SOURCE_URL_MAX {
            plan.skipped.push(Skipped::new(
                s.position,
                s.recording,
                "its playback URL is longer than Pod's 500 characters",
            ));
            continue;
        }
        let variants = url_variants(rec);
        let existing: HashMap<i64, i64> = variants
            .iter()
            .flat_map(|url| external_by_url.get(url.as_str()).into_iter().flatten())
            .filter_map(|e| e.owner_id.map(|owner| (owner, e.id)))
            .collect();
        let mut notes = Vec::new();
        let mut owners: Vec<(PlannedOwner, String, bool)> = Vec::new();
        for owner in &s.resolution.owners {
            match pod_user_for(owner, settings.match_by, &by_username, &by_email) {
                Some(user) => {
                    owners.push((PlannedOwner::Existing { user: user.clone() }, owner.evidence.clone(), false))
                }
                None => match new_user(owner) {
                    Some(user) => owners.push((PlannedOwner::New { user }, owner.evidence.clone(), false)),
                    None => notes.push(format!(
                        "{} {} ({}) has no username: no Pod account can be created",
                        owner.first_name, owner.last_name, owner.source
                    )),
                },
            }
        }
        if owners.is_empty() {
            let reason = s
                .resolution
                .fallback_reason
                .clone()
                .unwrap_or_else(|| "no owner can be given a Pod account".to_owned());
            owners.push((PlannedOwner::Existing { user: settings.fallback.clone() }, reason, true));
        }
        let mut seen = HashSet::new();
        let rows = owners
            .into_iter()
            .filter(|(owner, _, _)| seen.insert(owner.username().to_owned()))
            .map(|(owner, evidence, fallback)| {
                let existing_id = match &owner {
                    PlannedOwner::Existing { user } => existing.get(&user.id).copied(),
                    PlannedOwner::New { .. } => None,
                };
                ImportRow { owner, evidence, fallback, existing_id }
            })
            .collect();
        plan.items.push(ImportItem {
            position: s.position,
            record_id: rec.record_id.clone(),
            name: rec.display_name().trim().chars().take(NAME_MAX).collect(),
            start_at: rec.start_time,
            duration_secs: rec.duration().as_secs(),
            origin: migrate_inventory::origin_of(rec).to_string(),
            source_url,
            url_variants: variants,
            rows,
            notes,
        });
    }
    plan
}

/// The Pod user an owner is: by the configured key first, by the other one when the owner lacks it.
fn pod_user_for<'a>(
    owner: &Owner,
    match_by: MatchUsersBy,
    by_username: &HashMap<&str, &'a PodUser>,
    by_email: &HashMap<String, &'a PodUser>,
) -> Option<&'a PodUser> {
    let username = owner.username.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let email = owner.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
    let by_name = || username.and_then(|u| by_username.get(u).copied());
    let by_mail = || email.as_ref().and_then(|e| by_email.get(e).copied());
    match match_by {
        MatchUsersBy::Username if username.is_some() => by_name(),
        MatchUsersBy::Username => by_mail(),
        MatchUsersBy::Email if email.is_some() => by_mail(),
        MatchUsersBy::Email => by_name(),
    }
}

/// `auth_user`'s limits: username and names 150 characters, e-mail 254.
fn new_user(owner: &Owner) -> Option<NewUser> {
    let clip = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    let username = owner.username.as_deref().map(str::trim).filter(|u| !u.is_empty() && u.chars().count() <= 150)?;
    Some(NewUser {
        username: username.to_owned(),
        email: clip(owner.email.as_deref().unwrap_or(""), 254),
        first_name: clip(&owner.first_name, 150),
        last_name: clip(&owner.last_name, 150),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{owner, recording};

    fn admin() -> PodUser {
        PodUser {
            id: 1,
            username: "admin".into(),
            email: "admin@univ.fr".into(),
            first_name: "".into(),
            last_name: "".into(),
        }
    }

    fn settings() -> ImportSettings {
        ImportSettings { match_by: MatchUsersBy::Username, fallback: admin() }
    }

    fn resolution(id: &str, owners: Vec<Owner>) -> Resolution {
        let fallback_reason = owners.is_empty().then(|| "no source matched this recording".to_owned());
        Resolution { record_id: id.into(), owners, fallback_reason }
    }

    #[test]
    fn owners_become_rows_and_unknown_ones_new_users() {
        let rec = recording("r1", Some("https://old/playback/presentation/2.0/playback.html?meetingId=r1"), None);
        let res = resolution("r1", vec![owner(Some("cmartin"), None), owner(Some("newbie"), Some("N@Univ.fr"))]);
        let state =
            PodState { users: vec![PodUser { id: 7, username: "cmartin".into(), ..admin() }], external: vec![] };
        let plan = plan_import(&[Selected { position: 1, recording: &rec, resolution: &res }], &state, &settings());
        let item = &plan.items[0];
        assert_eq!(item.source_url, "https://old/playback/presentation/2.3/r1");
        assert_eq!(item.rows.len(), 2);
        assert!(matches!(&item.rows[0].owner, PlannedOwner::Existing { user } if user.id == 7));
        assert!(matches!(&item.rows[1].owner, PlannedOwner::New { user } if user.username == "newbie"));
        let totals = plan.totals();
        assert_eq!((totals.rows_to_create, totals.users_to_create, totals.to_fallback), (2, 1, 0));
    }

    #[test]
    fn rows_of_earlier_runs_or_the_old_script_are_recognised() {
        let rec = recording("r1", Some("https://old/playback/presentation/2.0/playback.html?meetingId=r1"), None);
        let res = resolution("r1", vec![owner(Some("cmartin"), None)]);
        let state = PodState {
            users: vec![PodUser { id: 7, username: "cmartin".into(), ..admin() }],
            // The old script with SCRIPT_PLAYBACK_URL_23 = False stored the 2.0 form.
            external: vec![ExistingExternal {
                id: 99,
                source_url: "https://old/playback/presentation/2.0/playback.html?meetingId=r1".into(),
                owner_id: Some(7),
            }],
        };
        let plan = plan_import(&[Selected { position: 1, recording: &rec, resolution: &res }], &state, &settings());
        assert_eq!(plan.items[0].rows[0].existing_id, Some(99));
        assert!(plan.items[0].is_done());
        assert!(
            url_variants(&rec).contains(&"https://old/playback/presentation/2.0/playback.html?meetingId=r1".into())
        );
    }

    /// An old-script row in the 2.0 form belongs to the recording its `meetingId` names, not to every recording
    /// of the same owner on that server (the 2.0 → 2.3 rewrite used to take the planned recording's id).
    #[test]
    fn a_2_0_row_of_one_recording_is_not_another_recordings_row() {
        let a = recording("ra", Some("https://old/playback/presentation/2.0/playback.html?meetingId=ra"), None);
        let b = recording("rb", Some("https://old/playback/presentation/2.3/rb"), None);
        let c = recording("rc", Some("https://old/playback/presentation/2.0/playback.html?meetingId=rc"), None);
        let (ra, rb, rc) = (
            resolution("ra", vec![owner(Some("cmartin"), None)]),
            resolution("rb", vec![owner(Some("cmartin"), None)]),
            resolution("rc", vec![owner(Some("cmartin"), None)]),
        );
        let state = PodState {
            users: vec![PodUser { id: 7, username: "cmartin".into(), ..admin() }],
            external: vec![ExistingExternal {
                id: 99,
                source_url: "https://old/playback/presentation/2.0/playback.html?meetingId=ra".into(),
                owner_id: Some(7),
            }],
        };
        let selected = [
            Selected { position: 1, recording: &a, resolution: &ra },
            Selected { position: 2, recording: &b, resolution: &rb },
            Selected { position: 3, recording: &c, resolution: &rc },
        ];
        let plan = plan_import(&selected, &state, &settings());
        let existing: Vec<Option<i64>> = plan.items.iter().map(|i| i.rows[0].existing_id).collect();
        assert_eq!(existing, [Some(99), None, None]);
        assert_eq!(plan.totals().rows_to_create, 2);
    }

    /// A row the old script made with the presentation URL is this recording's row even when bbb-migrate points
    /// at its video playback: the writer would find it too, so the plan does not announce a second row.
    #[test]
    fn a_row_under_the_other_playback_url_is_recognised() {
        let rec =
            recording("r5", Some("https://old/playback/presentation/2.3/r5"), Some("https://old/playback/video/r5/"));
        let res = resolution("r5", vec![owner(Some("cmartin"), None)]);
        let state = PodState {
            users: vec![PodUser { id: 7, username: "cmartin".into(), ..admin() }],
            external: vec![ExistingExternal {
                id: 5,
                source_url: "https://old/playback/presentation/2.3/r5/".into(),
                owner_id: Some(7),
            }],
        };
        let plan = plan_import(&[Selected { position: 1, recording: &rec, resolution: &res }], &state, &settings());
        assert_eq!(plan.items[0].source_url, "https://old/playback/video/r5/");
        assert_eq!(plan.items[0].rows[0].existing_id, Some(5));
    }

    #[test]
    fn video_playback_wins_and_unknown_owners_go_to_the_fallback() {
        let rec =
            recording("r2", Some("https://old/playback/presentation/2.3/r2"), Some("https://old/playback/video/r2/"));
        let res = resolution("r2", vec![]);
        let plan = plan_import(
            &[Selected { position: 3, recording: &rec, resolution: &res }],
            &PodState::default(),
            &settings(),
        );
        let item = &plan.items[0];
        assert_eq!(item.source_url, "https://old/playback/video/r2/");
        assert!(item.rows[0].fallback && item.rows[0].owner.username() == "admin");
        assert_eq!(item.rows[0].evidence, "no source matched this recording");
    }

    #[test]
    fn owners_without_username_are_noted_and_email_matching_is_case_blind() {
        let rec = recording("r3", Some("https://old/playback/presentation/2.3/r3"), None);
        let res = resolution("r3", vec![owner(None, Some("Claire.Martin@Univ.fr")), owner(None, Some("x@y.fr"))]);
        let state = PodState {
            users: vec![PodUser {
                id: 7,
                username: "cmartin".into(),
                email: "claire.martin@univ.fr".into(),
                ..admin()
            }],
            external: vec![],
        };
        let email = ImportSettings { match_by: MatchUsersBy::Email, ..settings() };
        let plan = plan_import(&[Selected { position: 1, recording: &rec, resolution: &res }], &state, &email);
        let item = &plan.items[0];
        assert_eq!(item.rows.len(), 1);
        assert_eq!(item.rows[0].owner.username(), "cmartin");
        assert_eq!(item.notes.len(), 1, "{:?}", item.notes);
    }

    #[test]
    fn recordings_without_playback_are_skipped() {
        let rec = recording("r4", None, None);
        let res = resolution("r4", vec![]);
        let plan = plan_import(
            &[Selected { position: 1, recording: &rec, resolution: &res }],
            &PodState::default(),
            &settings(),
        );
        assert!(plan.items.is_empty());
        assert_eq!(plan.skipped.len(), 1);
    }
}
