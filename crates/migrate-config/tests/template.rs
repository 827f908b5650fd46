//! The `config init` template: it loads back to the defaults and documents every key with its variable.

use std::collections::{BTreeMap, BTreeSet};

use migrate_config::{Config, GreenlightConfig, MoodleConfig, Secret, Severity, env_var_name, load_from, template};
use tempfile::TempDir;

/// A config with every optional key set, so that serializing it shows every key.
fn full_config() -> Config {
    let mut config = Config::default();
    config.source.url = "https://bbb.univ.fr/".into();
    config.source.secret = Secret::new("****");
    config.source.secret_file = Some("/etc/bbb-migrate/secret".into());
    config.pod.database = Some("postgres://pod@db/pod".into());
    config.pod.secret_key = Secret::new("****");
    config.pod.secret_key_file = Some("/etc/bbb-migrate/pod".into());
    config.pod.fallback_owner = Some("admin".into());
    config.pod.recorder_id = Some(2);
    config.pod.recorder_path = Some("/data/ftp-pod/ftp/".into());
    config.moodle.push(MoodleConfig {
        server_name: "default".into(),
        database: "postgres://moodle@db/moodle".into(),
        table_prefix: "mdl_".into(),
    });
    config.greenlight.push(GreenlightConfig {
        server_name: "gl.univ.fr".into(),
        database: "postgres://greenlight@db/greenlight_production".into(),
    });
    config.owners.ignore_servers = vec!["a.univ.fr".into(), "b.univ.fr".into()];
    config.queue.amqp_url = Some(Secret::new("amqp://rabbit/vhost"));
    config.queue.max_attempts = 7;
    config.queue.retry_delay_ms = 1_500;
    config.queue.prefetch = 2;
    config.queue.lease_secs = 120;
    config.queue.shutdown_grace_secs = 30;
    config.claim.owner = Some("pod".into());
    config.claim.group = Some("pod".into());
    config.claim.mode = Some("0664".into());
    config.render.fps = Some(10);
    config.archive.base_url = "https://archive.univ.fr".into();
    config.archive.endpoint = "https://s3.univ.fr".into();
    config.archive.access_key_id = "bbb-archive".into();
    config.archive.secret_access_key = Secret::new("****");
    config.archive.staging_dir = "/var/tmp/bbb-archive".into();
    config
}

/// The variable of a flattened key, the first entry for the `[[moodle]]`/`[[greenlight]]` arrays.
fn array_entry_var(key: &str) -> String {
    for section in ["moodle", "greenlight"] {
        if let Some(field) = key.strip_prefix(&format!("{section}.")) {
            return env_var_name(&format!("{section}[0].{field}"));
        }
    }
    env_var_name(key)
}

/// `section.key` (and `moodle.key` for `[[moodle]]`) → the value as TOML.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, toml::Value>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            toml::Value::Array(items) if items.iter().all(toml::Value::is_table) && !items.is_empty() => {
                for item in items {
                    flatten(&path, item.as_table().unwrap(), out);
                }
            }
            _ => {
                out.insert(path, value.clone());
            }
        }
    }
}

fn all_keys() -> BTreeMap<String, toml::Value> {
    let mut keys = BTreeMap::new();
    flatten("", &toml::Table::try_from(full_config()).unwrap(), &mut keys);
    keys
}

/// The template's keys, per section, whether commented out or not.
fn template_keys() -> BTreeSet<String> {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in template().lines() {
        let line = line.trim();
        let bare = line.strip_prefix('#').map_or(line, str::trim);
        if bare.starts_with('[') && bare.ends_with(']') {
            section = bare.trim_matches(['[', ']']).to_owned();
        } else if let Some((key, _)) = bare.split_once(" = ") {
            if key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                keys.insert(format!("{section}.{key}"));
            }
        }
    }
    keys
}

#[test]
fn template_loads_back_to_the_defaults() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bbb-migrate.toml");
    std::fs::write(&path, template()).unwrap();
    let loaded = load_from(Some(&path), &[], dir.path()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.config.source.secret.is_empty());
    assert!(loaded.secrets_in_file.is_empty());
    // And as ./bbb-migrate.toml, found without --config.
    assert_eq!(load_from(None, &[], dir.path()).unwrap().config, Config::default());
}

#[test]
fn defaults_only_lack_the_old_server() {
    let problems = Config::default().check();
    let keys: Vec<_> = problems.iter().map(|p| (p.key.as_str(), p.severity)).collect();
    assert_eq!(keys, [("source.url", Severity::Error), ("source.secret", Severity::Error)], "{problems:#?}");
    assert!(problems[1].fix.contains("BBB_MIGRATE_SOURCE__SECRET"));
    assert!(problems[1].fix.contains("bbb-conf --secret"));
    assert!(problems[0].fix.contains("https://bbb.univ.fr/bigbluebutton/"));
}

#[test]
fn template_documents_every_key_and_its_env_var() {
    let documented = template_keys();
    for key in all_keys().keys() {
        assert!(documented.contains(key), "`{key}` is not in the template (documented: {documented:?})");
        let var = array_entry_var(key);
        assert!(template().contains(&format!("env: {var} ")), "`{key}`: {var} is not in the template");
    }
    // And nothing in the template that the config does not know.
    let known: BTreeSet<String> = all_keys().into_keys().collect();
    let extra: Vec<_> = documented.difference(&known).collect();
    assert!(extra.is_empty(), "template documents unknown keys: {extra:?}");
}

#[test]
fn template_maps_the_old_pod_script() {
    for (old, new) in [
        ("SCRIPT_BBB_SERVER_URL", "source.url"),
        ("SCRIPT_BBB_SECRET_KEY", "source.secret"),
        ("SCRIPT_ADMIN_ID", "pod.fallback_owner"),
        ("SCRIPT_RECORDER_ID", "pod.recorder_id"),
        ("DEFAULT_RECORDER_PATH", "pod.recorder_path"),
        ("SCRIPT_INFORM", "notice (later)"),
    ] {
        let line = template().lines().find(|l| l.contains(old)).unwrap_or_else(|| panic!("{old} missing"));
        assert!(line.contains(new), "{old} should map to {new}: {line}");
    }
}

#[test]
fn every_key_can_be_set_from_the_environment() {
    let mut expected = full_config();
    // Both a secret and its *_file cannot be set at once; the *_file keys have their own tests.
    expected.source.secret_file = None;
    expected.pod.secret_key_file = None;
    let dir = TempDir::new().unwrap();
    let mut vars = Vec::new();
    for (key, value) in all_keys() {
        if key.ends_with("_file") {
            continue;
        }
        let var = array_entry_var(&key);
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => {
                items.iter().map(|i| i.as_str().unwrap().to_owned()).collect::<Vec<_>>().join(",")
            }
            other => other.to_string(),
        };
        vars.push((var, text));
    }
    // amqp_url serializes masked; give the real value.
    for (var, value) in &mut vars {
        if var == "BBB_MIGRATE_QUEUE__AMQP_URL" {
            *value = "amqp://rabbit/vhost".into();
        }
    }
    let loaded = load_from(None, &vars, dir.path()).unwrap();
    assert_eq!(loaded.config, expected);
    assert_eq!(loaded.env_overrides.len(), vars.len());
    assert!(loaded.env_overrides.contains(&"moodle[0].server_name".to_owned()));
    assert!(loaded.env_overrides.contains(&"pod.new_users.establishment".to_owned()));
}
