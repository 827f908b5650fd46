//! `config check` and secrecy: every problem reported at once, and no secret ever shown.

use std::path::{Path, PathBuf};

use migrate_config::{
    Config, ConfigError, GreenlightConfig, MoodleConfig, Problem, Secret, Severity, load_from, mask_url_password,
};
use tempfile::TempDir;

const SECRET: &str = "Zq7-distinctive-S3CRET-value-91";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn valid() -> Config {
    let mut config = Config::default();
    config.source.url = "https://bbb.univ.fr/bigbluebutton/".into();
    config.source.secret = Secret::new("8cd8ef52e8e101574e400365b55e11a6");
    config
}

fn keyed(problems: &[Problem]) -> Vec<(&str, Severity)> {
    problems.iter().map(|p| (p.key.as_str(), p.severity)).collect()
}

#[test]
fn a_valid_config_has_no_problems() {
    assert_eq!(valid().check(), []);
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let mut config = valid();
    config.source.url = "bbb.univ.fr".into();
    config.source.secret = Secret::new("changeme");
    config.source.page_size = 500;
    config.source.timeout_secs = 0;
    config.source.retries = 50;
    config.ledger.database = "mysql://ledger@db/ledger".into();
    config.pod.match_users_by = "uid".into();
    config.owners.order = vec!["pod".into(), "ldap".into()];
    config.render.size = "1281x720".into();
    config.moodle = vec![
        MoodleConfig { server_name: "".into(), database: "postgres://m@db/m".into(), ..MoodleConfig::default() },
        MoodleConfig {
            server_name: "m.univ.fr".into(),
            database: "postgres://m@db/m".into(),
            ..MoodleConfig::default()
        },
        MoodleConfig {
            server_name: "M.univ.fr".into(),
            database: "postgres://m@db/m2".into(),
            ..MoodleConfig::default()
        },
    ];
    let problems = config.check();
    let expected = [
        ("source.url", Severity::Error),
        ("source.secret", Severity::Warning),
        ("source.page_size", Severity::Error),
        ("source.timeout_secs", Severity::Error),
        ("source.retries", Severity::Warning),
        ("ledger.database", Severity::Error),
        ("pod.match_users_by", Severity::Error),
        ("moodle[0].server_name", Severity::Error),
        ("moodle[2].server_name", Severity::Error),
        ("owners.order", Severity::Error),
        ("render.size", Severity::Error),
    ];
    assert_eq!(keyed(&problems), expected, "{problems:#?}");
    for problem in &problems {
        assert!(!problem.message.is_empty() && !problem.fix.is_empty(), "{problem}");
    }
    assert!(problems[9].message.contains("ldap"));
    assert!(problems[8].message.contains("moodle[1]"), "{}", problems[8]);
    // The URL problem carries api_base_url's own explanation.
    assert!(problems[0].message.contains("is not a URL"), "{}", problems[0]);
}

#[test]
fn every_admin_form_of_the_url_is_accepted() {
    for form in [
        "https://bbb.univ.fr/",
        "https://bbb.univ.fr/bigbluebutton/",
        "https://bbb.univ.fr/bigbluebutton/api",
        "https://bbb.univ.fr",
        " https://bbb.univ.fr/bigbluebutton/api/ ",
    ] {
        let mut config = valid();
        config.source.url = form.into();
        assert_eq!(config.source_api_url().unwrap().as_str(), "https://bbb.univ.fr/bigbluebutton/api/", "{form}");
        assert_eq!(config.check(), [], "{form}");
    }
    let mut config = valid();
    config.source.url = String::new();
    let problem = config.source_api_url().unwrap_err();
    assert_eq!(problem.key, "source.url");
    assert!(problem.fix.contains("e.g. https://bbb.univ.fr/bigbluebutton/"), "{problem}");
}

#[test]
fn sqlite_and_postgres_ledgers_are_accepted() {
    for database in
        ["sqlite://bbb-migrate-ledger.sqlite", "sqlite:/var/lib/x.db", "postgres://u:p@h/db", "postgresql://h/db"]
    {
        let mut config = valid();
        config.ledger.database = database.into();
        assert_eq!(config.check(), [], "{database}");
    }
}

/// A config where the distinctive secret is in every sensitive place, with problems around it.
fn config_full_of_secrets() -> Config {
    let mut config = valid();
    config.source.url = format!("ftp://admin:{SECRET}@bbb.univ.fr/");
    config.source.secret = Secret::new(format!("{SECRET} xxx"));
    config.pod.secret_key = Secret::new(format!("changeme-{SECRET}"));
    config.pod.database = Some(format!("pod://pod:{SECRET}@db/pod not a url"));
    config.ledger.database = format!("mysql://ledger:{SECRET}@db/ledger");
    config.moodle.push(MoodleConfig {
        server_name: String::new(),
        database: format!("oracle://moodle:{SECRET}@db/moodle"),
        table_prefix: "mdl_".into(),
    });
    config.queue.amqp_url = Some(Secret::new(format!("http://rabbit:{SECRET}@mq/")));
    config
}

#[test]
fn secrets_never_appear_in_debug_redacted_or_problems() {
    let config = config_full_of_secrets();
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    let shown = config.redacted();
    assert!(!shown.contains(SECRET), "{shown}");
    let problems = config.check();
    assert!(problems.len() >= 6, "{problems:#?}");
    for problem in &problems {
        let text = format!("{problem} {problem:?}");
        assert!(!text.contains(SECRET), "{text}");
    }
    let problem = config.source_api_url().unwrap_err();
    assert!(!format!("{problem}").contains(SECRET));
    assert!(format!("{problem}").contains("admin:****@"), "{problem}");
}

#[test]
fn secrets_never_appear_in_load_errors() {
    let dir = TempDir::new().unwrap();
    let files = [
        // Syntax errors on the secret's own line.
        format!("[source]\nsecret = \"{SECRET}\n"),
        format!("[source]\nsecret = {SECRET}\n"),
        format!("[source]\nsecret = '{SECRET}' x\n"),
        // Wrong types for sensitive keys.
        format!("[source]\nsecret = [\"{SECRET}\"]\n"),
        format!("[source]\nsecret = {{ v = \"{SECRET}\" }}\n"),
        "[source]\nsecret = 1.5\n".to_owned(),
        format!("[ledger]\ndatabase = [\"postgres://u:{SECRET}@h/db\"]\n"),
        format!("[queue]\namqp_url = [\"amqp://u:{SECRET}@h/\"]\n"),
        format!("[[moodle]]\ndatabase = {{ url = \"postgres://u:{SECRET}@h/db\" }}\n"),
        // Unknown key next to a secret.
        format!("[source]\nsecret = \"{SECRET}\"\nsecrte = \"{SECRET}\"\n"),
        format!("[source]\n{SECRET} = \"x\"\n"),
    ];
    for (index, text) in files.iter().enumerate() {
        let path = write(dir.path(), &format!("{index}.toml"), text);
        let err = load_from(Some(&path), &[], dir.path()).expect_err(text);
        let message = format!("{err} {err:?}");
        assert!(!message.contains(SECRET) || text.contains(&format!("\n{SECRET} =")), "{message}");
        assert!(!message.contains("1.5") || !text.contains("1.5"), "{message}");
    }

    // From the environment: a misspelled variable, a conflict with secret_file, a bad section.
    write(dir.path(), "s", "x");
    let cases = [
        env(&[("BBB_MIGRATE_SOURCE_SECRET", SECRET)]),
        env(&[("BBB_MIGRATE_SOURCE__SECRET", SECRET), ("BBB_MIGRATE_SOURCE__SECRET_FILE", "s")]),
        env(&[("BBB_MIGRATE_SOURCE__SECRET__X", SECRET)]),
        env(&[("BBB_MIGRATE_MOODLE__9__DATABASE", SECRET)]),
        env(&[("BBB_MIGRATE_SOURCE__SECRET", SECRET), ("bbb_migrate_source__secret", SECRET)]),
    ];
    for vars in cases {
        let err = load_from(None, &vars, dir.path()).expect_err("must fail");
        let message = format!("{err} {err:?}");
        assert!(!message.contains(SECRET), "{message}");
    }
}

#[test]
fn an_unknown_key_that_is_itself_a_pasted_secret_is_the_only_exception() {
    // `config check` cannot guess that a *key* is secret; this documents that a pasted secret used as a
    // key name is echoed as the unknown key (it is the user's typo, shown so they can find it).
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "c.toml", "[source]\nabc = 1\n");
    let err = load_from(Some(&path), &[], dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey { .. }));
}

#[test]
fn redacted_masks_secrets_and_url_passwords_and_is_toml() {
    let mut config = valid();
    config.source.secret = Secret::new(SECRET);
    config.pod.database = Some(format!("postgres://pod:{SECRET}@db/pod"));
    config.ledger.database = format!("postgres://ledger:{SECRET}@db/ledger");
    config.moodle.push(MoodleConfig {
        server_name: "default".into(),
        database: format!("mysql://moodle:{SECRET}@db/moodle"),
        table_prefix: "mdl_".into(),
    });
    config.greenlight.push(GreenlightConfig {
        server_name: String::new(),
        database: format!("postgres://greenlight:{SECRET}@db/greenlight_production"),
    });
    config.queue.amqp_url = Some(Secret::new(format!("amqp://bbb:{SECRET}@rabbit/vhost")));
    let shown = config.redacted();
    assert!(!shown.contains(SECRET), "{shown}");
    let table: toml::Table = shown.parse().unwrap();
    assert_eq!(table["source"]["secret"].as_str(), Some("****"));
    assert_eq!(table["pod"]["secret_key"].as_str(), Some(""), "an empty secret shows as empty");
    assert_eq!(table["pod"]["database"].as_str(), Some("postgres://pod:****@db/pod"));
    assert_eq!(table["ledger"]["database"].as_str(), Some("postgres://ledger:****@db/ledger"));
    assert_eq!(table["moodle"][0]["database"].as_str(), Some("mysql://moodle:****@db/moodle"));
    assert_eq!(
        table["greenlight"][0]["database"].as_str(),
        Some("postgres://greenlight:****@db/greenlight_production")
    );
    assert!(!format!("{:?}", config.greenlight).contains(SECRET));
    assert_eq!(table["queue"]["amqp_url"].as_str(), Some("amqp://bbb:****@rabbit/vhost"));
    assert_eq!(table["source"]["page_size"].as_integer(), Some(100));
    assert_eq!(mask_url_password(&format!("postgres://u:{SECRET}@h/db")), "postgres://u:****@h/db");
}

#[test]
fn loaded_debug_hides_secrets_read_from_files_and_env() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "secret", SECRET);
    let path = write(dir.path(), "c.toml", "[source]\nsecret_file = \"secret\"\n");
    let vars = env(&[
        ("BBB_MIGRATE_POD__SECRET_KEY", SECRET),
        ("BBB_MIGRATE_LEDGER__DATABASE", &format!("postgres://l:{SECRET}@h/l")),
    ]);
    let loaded = load_from(Some(&path), &vars, dir.path()).unwrap();
    assert_eq!(loaded.config.source.secret.expose(), SECRET);
    let text = format!("{loaded:?} {}", loaded.config.redacted());
    assert!(!text.contains(SECRET), "{text}");
}

#[cfg(unix)]
#[test]
fn world_readable_file_with_a_secret_gets_a_chmod_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path =
        write(dir.path(), "c.toml", &format!("[source]\nurl = \"https://bbb.univ.fr/\"\nsecret = \"{SECRET}\"\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = load_from(Some(&path), &[], dir.path()).unwrap();
    assert_eq!(loaded.secrets_in_file, ["source.secret"]);
    let problems = loaded.check();
    assert_eq!(keyed(&problems), [("source.secret", Severity::Warning)], "{problems:#?}");
    assert_eq!(problems[0].fix, format!("chmod 600 {}", path.display()));
    assert!(!format!("{problems:?}").contains(SECRET));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(load_from(Some(&path), &[], dir.path()).unwrap().check(), []);

    // A readable file without secrets is fine: the secret comes from a root-only file.
    let secret_file = write(dir.path(), "secret", SECRET);
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = write(dir.path(), "d.toml", "[source]\nurl = \"https://bbb.univ.fr/\"\nsecret_file = \"secret\"\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = load_from(Some(&path), &[], dir.path()).unwrap();
    assert_eq!(loaded.check(), []);
    // …unless the secret file itself is readable by all.
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(keyed(&loaded.check()), [("source.secret_file", Severity::Warning)]);
}

#[test]
fn database_passwords_in_file_count_as_secrets() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "c.toml",
        "[ledger]\ndatabase = \"postgres://l:pw@h/l\"\n[pod]\ndatabase = \"postgres://pod@h/pod\"\n\
         [[moodle]]\nserver_name = \"default\"\ndatabase = \"mysql://m:pw@h/m\"\n",
    );
    let loaded = load_from(Some(&path), &[], dir.path()).unwrap();
    assert_eq!(loaded.secrets_in_file, ["ledger.database", "moodle[0].database"]);
}
