//! Owners written into the recording itself by front-ends that do so (a username or e-mail in a `meta_*`
//! parameter): the admin names the keys, since every front-end picks its own.

use std::collections::BTreeMap;

use bbb_api::Recording;

use crate::{Finding, Owner, OwnerSource, SourceError, SourceKind, dedup_owners};

/// Reads owners from configured metadata keys (lower case, as BBB returns them).
pub struct MetadataSource {
    pub username_keys: Vec<String>,
    pub email_keys: Vec<String>,
}

impl MetadataSource {
    /// The owners `rec` names in its metadata (pure: no I/O).
    pub fn owners_of(&self, rec: &Recording) -> Vec<Owner> {
        let mut owners = Vec::new();
        let values = |key: &String| {
            rec.metadata
                .get(&key.to_ascii_lowercase())
                .map(|v| {
                    v.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        for key in &self.username_keys {
            for username in values(key) {
                owners.push(Owner {
                    username: Some(username),
                    email: None,
                    first_name: String::new(),
                    last_name: String::new(),
                    source: SourceKind::Metadata,
                    evidence: format!("recording metadata `{key}`"),
                });
            }
        }
        for key in &self.email_keys {
            for email in values(key).into_iter().filter(|e| looks_like_email(e)) {
                owners.push(Owner {
                    username: None,
                    email: Some(email),
                    first_name: String::new(),
                    last_name: String::new(),
                    source: SourceKind::Metadata,
                    evidence: format!("recording metadata `{key}`"),
                });
            }
        }
        dedup_owners(&mut owners);
        owners
    }
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
}

#[async_trait::async_trait]
impl OwnerSource for MetadataSource {
    fn name(&self) -> String {
        "metadata".to_owned()
    }

    async fn lookup(&self, recordings: &[&Recording]) -> Result<BTreeMap<String, Finding>, SourceError> {
        Ok(recordings
            .iter()
            .filter_map(|rec| {
                let owners = self.owners_of(rec);
                (!owners.is_empty()).then(|| (rec.record_id.clone(), Finding::Owners(owners)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::recording;

    #[test]
    fn configured_keys_give_owners_and_junk_is_ignored() {
        let source = MetadataSource {
            username_keys: vec!["bbb-owner".into()],
            email_keys: vec!["bn-recording-status".into(), "Owner-Email".into()],
        };
        let rec = recording(
            "r",
            "m",
            &[
                ("bbb-owner", "jdupont, cmartin"),
                ("bn-recording-status", "not an e-mail"),
                ("owner-email", "z@univ.fr"),
            ],
        );
        let owners = source.owners_of(&rec);
        let names: Vec<_> = owners.iter().map(|o| o.username.clone().or(o.email.clone()).unwrap()).collect();
        assert_eq!(names, ["jdupont", "cmartin", "z@univ.fr"]);
        assert!(source.owners_of(&recording("r", "m", &[])).is_empty());
    }
}
