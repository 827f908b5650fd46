//! Who owns each recording. BBB forgets its moderators when a meeting ends; only the front-ends know them.
//!
//! Each front-end is an [`OwnerSource`] (one file each: [`pod`], [`moodle`], [`metadata`]); a [`Resolver`]
//! asks them in the configured order, each only about the recordings still unresolved, and returns one
//! [`Resolution`] per recording: the owners with the evidence for each, or — when no source could tell — the
//! reasons, which the report shows next to the fallback administrator.
//!
//! Every source reads in batches (thousands of recordings per query) with parameterized SQL; a source whose
//! database fails is reported as the reason for the recordings it was asked about and the others go on.

pub mod greenlight;
pub mod metadata;
pub mod moodle;
pub mod notice;
pub mod pod;

use std::collections::BTreeMap;
use std::fmt;

use bbb_api::Recording;
use serde::Serialize;

/// A person who owns a recording, as a front-end knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Login name in the front-end (Moodle and Pod usernames are usually the same CAS/LDAP uid).
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub source: SourceKind,
    /// Why this person: which row of which database, in words an admin can check.
    pub evidence: String,
}

/// Where an owner was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Pod,
    Moodle,
    Greenlight,
    Metadata,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::Moodle => "moodle",
            Self::Greenlight => "greenlight",
            Self::Metadata => "metadata",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a source says about one recording it recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Owners found (never empty).
    Owners(Vec<Owner>),
    /// The recording is this source's, but no owner can be named: the reason says why (activity deleted,
    /// every moderator deleted…).
    NoOwner(String),
}

/// The answer for one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub record_id: String,
    pub owners: Vec<Owner>,
    /// Set when `owners` is empty: why the recording goes to the fallback owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

impl Resolution {
    pub fn is_resolved(&self) -> bool {
        !self.owners.is_empty()
    }
}

/// Why a source could not answer at all (its database is unreachable, its schema unexpected).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

impl From<migrate_db::DbError> for SourceError {
    fn from(e: migrate_db::DbError) -> Self {
        Self(e.to_string())
    }
}

/// A front-end that may know who owns recordings.
#[async_trait::async_trait]
pub trait OwnerSource: Send + Sync {
    /// Short name for messages (`moodle moodle.univ.fr`).
    fn name(&self) -> String;

    /// What this source knows about `recordings`, keyed by record ID. Recordings it does not recognise are
    /// simply absent.
    async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError>;
}

/// Asks the sources in order; the first that finds owners for a recording wins.
pub struct Resolver {
    sources: Vec<Box<dyn OwnerSource>>,
}

impl Resolver {
    pub fn new(sources: Vec<Box<dyn OwnerSource>>) -> Self {
        Self { sources }
    }

    pub fn source_names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name()).collect()
    }

    /// One resolution per recording, in the order given.
    pub async fn resolve(&self, recordings: &[Recording]) -> Vec<Resolution> {
        let mut owners: BTreeMap<&str, Vec<Owner>> = BTreeMap::new();
        let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for source in &self.sources {
            let pending: Vec<&Recording> =
                recordings.iter().filter(|r| !owners.contains_key(r.record_id.as_str())).collect();
            if pending.is_empty() {
                break;
            }
            match source.lookup(&pending).await {
                Ok(findings) => {
                    for rec in &pending {
                        match findings.get(&rec.record_id) {
                            Some(Finding::Owners(found)) if !found.is_empty() => {
                                owners.insert(rec.record_id.as_str(), found.clone());
                            }
                            Some(Finding::Owners(_)) => {}
                            Some(Finding::NoOwner(reason)) => {
                                reasons
                                    .entry(rec.record_id.as_str())
                                    .or_default()
                                    .push(format!("{}: {reason}", source.name()));
                            }
                            None => {}
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(source = %source.name(), "owner source failed: {e}");
                    for rec in &pending {
                        reasons
                            .entry(rec.record_id.as_str())
                            .or_default()
                            .push(format!("{}: lookup failed ({e})", source.name()));
                    }
                }
            }
        }
        recordings
            .iter()
            .map(|rec| {
                let id = rec.record_id.as_str();
                match owners.remove(id) {
                    Some(found) => Resolution { record_id: id.to_owned(), owners: found, fallback_reason: None },
                    None => {
                        let reason = reasons
                            .remove(id)
                            .map(|r| r.join("; "))
                            .unwrap_or_else(|| "no source matched this recording".to_owned());
                        Resolution { record_id: id.to_owned(), owners: Vec::new(), fallback_reason: Some(reason) }
                    }
                }
            })
            .collect()
    }
}

/// Keeps the first owner of each identity (username, else e-mail, else name): a teacher listed both as a user
/// and through a role is one owner, with the first evidence.
pub(crate) fn dedup_owners(owners: &mut Vec<Owner>) {
    let mut seen = std::collections::HashSet::new();
    owners.retain(|o| {
        let key = o
            .username
            .clone()
            .or_else(|| o.email.as_ref().map(|e| e.to_lowercase()))
            .unwrap_or_else(|| format!("{} {}", o.first_name, o.last_name));
        seen.insert(key)
    });
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use bbb_api::{Breakout, Recording, RecordingState};
    use chrono::{TimeZone, Utc};

    pub fn recording(record_id: &str, meeting_id: &str, metadata: &[(&str, &str)]) -> Recording {
        Recording {
            record_id: record_id.to_owned(),
            meeting_id: meeting_id.to_owned(),
            internal_meeting_id: None,
            name: "x".to_owned(),
            state: RecordingState::Published,
            published: true,
            start_time: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            end_time: Utc.timestamp_millis_opt(1_700_000_600_000).unwrap(),
            participants: None,
            raw_size: None,
            size: None,
            metadata: metadata.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
            formats: Vec::new(),
            breakout: Breakout::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::recording;

    struct Fixed(&'static str, Result<Vec<(&'static str, Finding)>, &'static str>);

    #[async_trait::async_trait]
    impl OwnerSource for Fixed {
        fn name(&self) -> String {
            self.0.to_owned()
        }
        async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
            let known = self.1.clone().map_err(|e| SourceError(e.to_owned()))?;
            Ok(known
                .into_iter()
                .filter(|(id, _)| recordings.iter().any(|r| r.record_id == *id))
                .map(|(id, f)| (id.to_owned(), f))
                .collect())
        }
    }

    fn owner(username: &str, source: SourceKind) -> Owner {
        Owner {
            username: Some(username.to_owned()),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            source,
            evidence: "test".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_first_source_that_finds_owners_wins_and_reasons_accumulate() {
        let recs = vec![recording("a", "m", &[]), recording("b", "m", &[]), recording("c", "m", &[])];
        let resolver = Resolver::new(vec![
            Box::new(Fixed("pod", Ok(vec![("a", Finding::Owners(vec![owner("alice", SourceKind::Pod)]))]))),
            Box::new(Fixed("moodle x", Err("connection refused"))),
            Box::new(Fixed(
                "metadata",
                Ok(vec![
                    ("a", Finding::Owners(vec![owner("other", SourceKind::Metadata)])),
                    ("b", Finding::NoOwner("activity deleted".into())),
                ]),
            )),
        ]);
        let res = resolver.resolve(&recs).await;
        assert_eq!(res[0].owners[0].username.as_deref(), Some("alice"), "pod came first");
        assert_eq!(
            res[1].fallback_reason.as_deref(),
            Some("moodle x: lookup failed (connection refused); metadata: activity deleted")
        );
        assert_eq!(res[2].fallback_reason.as_deref(), Some("moodle x: lookup failed (connection refused)"));
        assert!(res.iter().skip(1).all(|r| r.owners.is_empty()));
    }

    #[test]
    fn duplicates_keep_the_first_evidence() {
        let mut owners =
            vec![owner("a", SourceKind::Moodle), owner("b", SourceKind::Moodle), owner("a", SourceKind::Pod)];
        dedup_owners(&mut owners);
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[0].source, SourceKind::Moodle);
    }
}
