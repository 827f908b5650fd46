//! Loading: where the file is found, how the environment overrides it, and what mistakes say.

use std::path::{Path, PathBuf};

use bbb_api::ChecksumAlgorithm;
use migrate_config::{Config, ConfigError, ConfigSource, load_from};
use tempfile::TempDir;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn url_of(config: &Config) -> &str {
    &config.source.url
}

// ---------------------------------------------------------------------------------------------------------
// File lookup order: --config > ./bbb-migrate.toml > BBB_MIGRATE_CONFIG > defaults.

#[test]
fn explicit_file_wins_over_local_file_and_env_var() {
    let dir = TempDir::new().unwrap();
    let explicit = write(dir.path(), "etc/explicit.toml", "[source]\nurl = \"https://explicit/\"\n");
    write(dir.path(), "bbb-migrate.toml", "[source]\nurl = \"https://local/\"\n");
    let named = write(dir.path(), "named.toml", "[source]\nurl = \"https://named/\"\n");
    let vars = env(&[("BBB_MIGRATE_CONFIG", named.to_str().unwrap())]);

    let loaded = load_from(Some(&explicit), &vars, dir.path()).unwrap();
    assert_eq!(url_of(&loaded.config), "https://explicit/");
    assert_eq!(loaded.source, ConfigSource::File(explicit));
    assert!(loaded.env_overrides.is_empty(), "BBB_MIGRATE_CONFIG is not a key: {:?}", loaded.env_overrides);
}

#[test]
fn relative_explicit_path_is_taken_from_cwd() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "conf/x.toml", "[source]\nurl = \"https://relative/\"\n");
    let loaded = load_from(Some(Path::new("conf/x.toml")), &[], dir.path()).unwrap();
    assert_eq!(url_of(&loaded.config), "https://relative/");
}

#[test]
fn local_file_wins_over_env_var() {
    let dir = TempDir::new().unwrap();
    let local = write(dir.path(), "bbb-migrate.toml", "[source]\nurl = \"https://local/\"\n");
    let named = write(dir.path(), "named.toml", "[source]\nurl = \"https://named/\"\n");
    let vars = env(&[("BBB_MIGRATE_CONFIG", named.to_str().unwrap())]);

    let loaded = load_from(None, &vars, dir.path()).unwrap();
    assert_eq!(url_of(&loaded.config), "https://local/");
    assert_eq!(loaded.source, ConfigSource::File(local));
}

#[test]
fn env_var_names_the_file_when_there_is_no_local_file() {
    let dir = TempDir::new().unwrap();
    let named = write(dir.path(), "named.toml", "[source]\nurl = \"https://named/\"\n");
    let vars = env(&[("BBB_MIGRATE_CONFIG", named.to_str().unwrap()), ("BBB_MIGRATE_LOG", "debug")]);

    let loaded = load_from(None, &vars, dir.path()).unwrap();
    assert_eq!(url_of(&loaded.config), "https://named/");
    assert_eq!(loaded.source, ConfigSource::File(named));
    assert!(loaded.env_overrides.is_empty(), "{:?}", loaded.env_overrides);
}

#[test]
fn no_file_anywhere_gives_defaults() {
    let dir = TempDir::new().unwrap();
    let loaded = load_from(None, &[], dir.path()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.source, ConfigSource::DefaultsOnly);
    assert!(loaded.env_overrides.is_empty());
    // An empty BBB_MIGRATE_CONFIG means "not set".
    let loaded = load_from(None, &env(&[("BBB_MIGRATE_CONFIG", "")]), dir.path()).unwrap();
    assert_eq!(loaded.source, ConfigSource::DefaultsOnly);
}

#[test]
fn missing_explicit_file_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nowhere/bbb-migrate.toml");
    // Even with a local file present: --config must not silently fall back.
    write(dir.path(), "bbb-migrate.toml", "");
    let err = load_from(Some(&missing), &[], dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(missing.to_str().unwrap()), "{message}");
    assert!(message.contains("--config"), "{message}");
}

#[test]
fn missing_file_named_by_env_var_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let vars = env(&[("BBB_MIGRATE_CONFIG", "/nonexistent/bbb-migrate.toml")]);
    let message = load_from(None, &vars, dir.path()).unwrap_err().to_string();
    assert!(message.contains("/nonexistent/bbb-migrate.toml"), "{message}");
    assert!(message.contains("BBB_MIGRATE_CONFIG"), "{message}");
}

// ---------------------------------------------------------------------------------------------------------
// Environment overrides.

#[test]
fn env_overrides_nested_keys_over_the_file() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[source]\nurl = \"https://file/\"\npage_size = 20\n[pod.new_users]\nauth_type = \"local\"\n",
    );
    let vars = env(&[
        ("BBB_MIGRATE_SOURCE__URL", "https://env/"),
        ("BBB_MIGRATE_SOURCE__PAGE_SIZE", "50"),
        ("BBB_MIGRATE_LEDGER__DATABASE", "postgres://ledger@db/ledger"),
        ("BBB_MIGRATE_POD__NEW_USERS__AUTH_TYPE", "Shibboleth"),
        ("BBB_MIGRATE_POD__RECORDER_ID", "7"),
        ("BBB_MIGRATE_SOURCE__CHECKSUM", "SHA256"),
        ("UNRELATED", "x"),
    ]);
    let loaded = load_from(Some(&file), &vars, dir.path()).unwrap();
    let config = &loaded.config;
    assert_eq!(config.source.url, "https://env/");
    assert_eq!(config.source.page_size, 50);
    assert_eq!(config.source.checksum, ChecksumAlgorithm::Sha256);
    assert_eq!(config.ledger.database, "postgres://ledger@db/ledger");
    assert_eq!(config.pod.new_users.auth_type, "Shibboleth");
    assert_eq!(config.pod.new_users.affiliation, "member", "untouched keys keep their default");
    assert_eq!(config.pod.recorder_id, Some(7));
    assert_eq!(
        loaded.env_overrides,
        [
            "ledger.database",
            "pod.new_users.auth_type",
            "pod.recorder_id",
            "source.checksum",
            "source.page_size",
            "source.url"
        ]
    );
}

#[test]
fn env_var_names_are_case_insensitive() {
    let dir = TempDir::new().unwrap();
    let vars = env(&[("bbb_migrate_Source__Page_Size", "42")]);
    let loaded = load_from(None, &vars, dir.path()).unwrap();
    assert_eq!(loaded.config.source.page_size, 42);
    assert_eq!(loaded.env_overrides, ["source.page_size"]);
}

#[test]
fn numeric_looking_secrets_stay_strings() {
    let dir = TempDir::new().unwrap();
    for value in ["12345", "007", "1e3", "true", "0x10"] {
        let vars = env(&[("BBB_MIGRATE_SOURCE__SECRET", value), ("BBB_MIGRATE_POD__SECRET_KEY", value)]);
        let loaded = load_from(None, &vars, dir.path()).unwrap();
        assert_eq!(loaded.config.source.secret.expose(), value);
        assert_eq!(loaded.config.pod.secret_key.expose(), value);
        assert_eq!(loaded.env_overrides, ["pod.secret_key", "source.secret"]);
    }
    // Also a bare number in the file.
    let file = write(dir.path(), "n.toml", "[source]\nsecret = 12345\n");
    assert_eq!(load_from(Some(&file), &[], dir.path()).unwrap().config.source.secret.expose(), "12345");
}

#[test]
fn lists_and_unsetting_from_env() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[pod]\ndatabase = \"postgres://pod@db/pod\"\nfallback_owner = \"admin\"\n");
    let vars = env(&[
        ("BBB_MIGRATE_OWNERS__ORDER", "pod, metadata"),
        ("BBB_MIGRATE_OWNERS__IGNORE_SERVERS", r#"["a.univ.fr", "b.univ.fr"]"#),
        ("BBB_MIGRATE_POD__DATABASE", ""),
    ]);
    let config = load_from(Some(&file), &vars, dir.path()).unwrap().config;
    assert_eq!(config.owners.order, ["pod", "metadata"]);
    assert_eq!(config.owners.ignore_servers, ["a.univ.fr", "b.univ.fr"]);
    assert_eq!(config.pod.database, None, "an empty value unsets an optional key");
    assert_eq!(config.pod.fallback_owner.as_deref(), Some("admin"));
}

#[test]
fn moodle_entries_are_addressed_by_index() {
    let dir = TempDir::new().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[[moodle]]\nserver_name = \"default\"\ndatabase = \"postgres://m@db/moodle\"\n\n\
         [[moodle]]\nserver_name = \"moodle2.univ.fr\"\ndatabase = \"mysql://m2@db/moodle2\"\ntable_prefix = \"m2_\"\n",
    );
    let vars = env(&[
        ("BBB_MIGRATE_MOODLE__1__DATABASE", "mysql://m2:pw@db/moodle2"),
        ("BBB_MIGRATE_MOODLE__2__SERVER_NAME", "third.univ.fr"),
        ("BBB_MIGRATE_MOODLE__2__DATABASE", "postgres://m3@db/m3"),
    ]);
    let loaded = load_from(Some(&file), &vars, dir.path()).unwrap();
    let moodle = &loaded.config.moodle;
    assert_eq!(moodle.len(), 3);
    assert_eq!(moodle[0].database, "postgres://m@db/moodle");
    assert_eq!(moodle[1].server_name, "moodle2.univ.fr");
    assert_eq!(moodle[1].database, "mysql://m2:pw@db/moodle2");
    assert_eq!(moodle[1].table_prefix, "m2_");
    assert_eq!(moodle[2].server_name, "third.univ.fr");
    assert_eq!(moodle[2].table_prefix, "mdl_");
    assert_eq!(loaded.env_overrides, ["moodle[1].database", "moodle[2].database", "moodle[2].server_name"]);

    let err = load_from(Some(&file), &env(&[("BBB_MIGRATE_MOODLE__5__DATABASE", "x")]), dir.path()).unwrap_err();
    assert!(err.to_string().contains("BBB_MIGRATE_MOODLE__5__DATABASE"), "{err}");
    let err = load_from(Some(&file), &env(&[("BBB_MIGRATE_MOODLE__DATABASE", "x")]), dir.path()).unwrap_err();
    assert!(err.to_string().contains("BBB_MIGRATE_MOODLE__<N>__<KEY>"), "{err}");
}

#[test]
fn single_underscore_typo_is_refused_with_the_right_name() {
    let dir = TempDir::new().unwrap();
    let err = load_from(None, &env(&[("BBB_MIGRATE_SOURCE_SECRET", "x")]), dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("BBB_MIGRATE_SOURCE_SECRET"), "{message}");
    assert!(message.contains("BBB_MIGRATE_SOURCE__SECRET"), "{message}");
}

#[test]
fn unknown_env_key_names_the_variable() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\nurl = \"https://h/\"\n");
    let err = load_from(Some(&file), &env(&[("BBB_MIGRATE_SOURCE__SECRTE", "x")]), dir.path()).unwrap_err();
    match &err {
        ConfigError::UnknownKey { key, origin, did_you_mean, .. } => {
            assert_eq!(key, "source.secrte");
            assert!(origin.contains("BBB_MIGRATE_SOURCE__SECRTE"), "{origin}");
            assert_eq!(did_you_mean.as_deref(), Some("source.secret"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_number_from_env_names_key_and_variable() {
    let dir = TempDir::new().unwrap();
    let err = load_from(None, &env(&[("BBB_MIGRATE_SOURCE__RETRIES", "many")]), dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("source.retries"), "{message}");
    assert!(message.contains("BBB_MIGRATE_SOURCE__RETRIES"), "{message}");
}

// ---------------------------------------------------------------------------------------------------------
// *_file secrets.

#[test]
fn secret_file_is_read_and_trimmed_relative_to_the_config_file() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "etc/secrets/bbb", "  0123456789abcdef\n");
    write(dir.path(), "etc/secrets/pod", "django-key\n");
    let file = write(
        dir.path(),
        "etc/bbb-migrate.toml",
        "[source]\nsecret_file = \"secrets/bbb\"\n[pod]\nsecret_key_file = \"secrets/pod\"\n",
    );
    let cwd = TempDir::new().unwrap();
    let config = load_from(Some(&file), &[], cwd.path()).unwrap().config;
    assert_eq!(config.source.secret.expose(), "0123456789abcdef");
    assert_eq!(config.source.secret_file.as_deref(), Some(dir.path().join("etc/secrets/bbb").as_path()));
    assert_eq!(config.pod.secret_key.expose(), "django-key");
}

#[test]
fn secret_file_from_env_is_relative_to_cwd() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "s", "from-env-file");
    let config = load_from(None, &env(&[("BBB_MIGRATE_SOURCE__SECRET_FILE", "s")]), dir.path()).unwrap().config;
    assert_eq!(config.source.secret.expose(), "from-env-file");
}

#[test]
fn missing_secret_file_names_key_and_path() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\nsecret_file = \"/nonexistent/secret\"\n");
    let err = load_from(Some(&file), &[], dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("source.secret_file"), "{message}");
    assert!(message.contains("/nonexistent/secret"), "{message}");
}

#[test]
fn secret_and_secret_file_together_are_refused() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "s", "a");
    let file = write(dir.path(), "c.toml", "[source]\nsecret_file = \"s\"\n");
    let err = load_from(Some(&file), &env(&[("BBB_MIGRATE_SOURCE__SECRET", "b")]), dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("BBB_MIGRATE_SOURCE__SECRET"), "{err}");
    // An empty variable unsets the file's secret_file, so the environment can take over.
    let vars = env(&[("BBB_MIGRATE_SOURCE__SECRET", "b"), ("BBB_MIGRATE_SOURCE__SECRET_FILE", "")]);
    assert_eq!(load_from(Some(&file), &vars, dir.path()).unwrap().config.source.secret.expose(), "b");
}

// ---------------------------------------------------------------------------------------------------------
// Mistakes in the file.

#[test]
fn unknown_key_in_file_is_named_with_the_file() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\nurl = \"https://h/\"\npagesize = 10\n");
    let err = load_from(Some(&file), &[], dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`source.pagesize`"), "{message}");
    assert!(message.contains("did you mean `source.page_size`"), "{message}");
    assert!(message.contains(file.to_str().unwrap()), "{message}");

    let file = write(dir.path(), "d.toml", "[pod.new_users]\nauth = \"CAS\"\n");
    let message = load_from(Some(&file), &[], dir.path()).unwrap_err().to_string();
    assert!(message.contains("`pod.new_users.auth`"), "{message}");

    let file = write(dir.path(), "e.toml", "[sorce]\nurl = \"https://h/\"\n");
    let message = load_from(Some(&file), &[], dir.path()).unwrap_err().to_string();
    assert!(message.contains("`sorce`") && message.contains("did you mean `source`"), "{message}");

    let file = write(dir.path(), "f.toml", "[[moodle]]\nserver = \"x\"\n");
    let message = load_from(Some(&file), &[], dir.path()).unwrap_err().to_string();
    assert!(message.contains("`moodle[0].server`"), "{message}");
}

#[test]
fn unknown_file_key_is_blamed_on_the_file_even_with_env_in_the_same_section() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\nurll = \"https://h/\"\n");
    let err = load_from(Some(&file), &env(&[("BBB_MIGRATE_SOURCE__SECRET", "x")]), dir.path()).unwrap_err();
    assert!(err.to_string().contains(file.to_str().unwrap()), "{err}");
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\nurl = \"https://h/\"\npage_size = = 3\n");
    let err = load_from(Some(&file), &[], dir.path()).unwrap_err();
    match &err {
        ConfigError::Syntax { path, line, column, .. } => {
            assert_eq!(path, &file);
            assert_eq!(*line, Some(3));
            assert!(column.is_some());
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains(file.to_str().unwrap()), "{message}");
}

#[test]
fn wrong_type_in_file_names_key_and_file() {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "c.toml", "[source]\npage_size = \"lots\"\n");
    let err = load_from(Some(&file), &[], dir.path()).unwrap_err();
    match &err {
        ConfigError::Invalid { key, origin, .. } => {
            assert_eq!(key, "source.page_size");
            assert!(origin.contains(file.to_str().unwrap()), "{origin}");
        }
        other => panic!("{other:?}"),
    }
    let file = write(dir.path(), "d.toml", "[source]\nchecksum = \"md5\"\n");
    let message = load_from(Some(&file), &[], dir.path()).unwrap_err().to_string();
    assert!(message.contains("source.checksum") && message.contains("sha256"), "{message}");
    // Numbers written as strings are fine (same rule as the environment).
    let file = write(dir.path(), "e.toml", "[source]\npage_size = \"50\"\n");
    assert_eq!(load_from(Some(&file), &[], dir.path()).unwrap().config.source.page_size, 50);
}

#[test]
fn unreadable_config_file_names_it() {
    let dir = TempDir::new().unwrap();
    // A directory is "found" by nothing: --config on a directory says it does not exist as a file.
    let err = load_from(Some(dir.path()), &[], dir.path()).unwrap_err();
    assert!(err.to_string().contains(dir.path().to_str().unwrap()), "{err}");
}
