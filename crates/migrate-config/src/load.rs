//! Finding the config file, layering the environment over it, and turning mistakes into messages that
//! name the key, where it came from and what to do — without ever quoting a secret.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::model::Config;
use crate::secret::{Secret, mask_url_password};

/// Prefix of the environment variables that set keys: `BBB_MIGRATE_<SECTION>__<KEY>`.
pub const ENV_PREFIX: &str = "BBB_MIGRATE_";
/// Environment variable naming the config file (used when there is no `--config` and no
/// `./bbb-migrate.toml`). Not a key.
pub const CONFIG_PATH_ENV: &str = "BBB_MIGRATE_CONFIG";
/// The file looked for in the current directory.
pub const DEFAULT_FILE_NAME: &str = "bbb-migrate.toml";

/// The top-level sections, i.e. what may follow `BBB_MIGRATE_`.
const SECTIONS: [&str; 11] =
    ["source", "ledger", "pod", "moodle", "greenlight", "owners", "notice", "render", "claim", "queue", "archive"];

/// The sections that are arrays of tables (`[[moodle]]`), set by `BBB_MIGRATE_<SECTION>__<N>__<KEY>`.
const ARRAY_SECTIONS: [&str; 2] = ["moodle", "greenlight"];

/// Keys whose values may be secret: their errors never describe the value.
fn is_sensitive(key: &str) -> bool {
    matches!(
        key,
        "source.secret"
            | "source.url"
            | "pod.secret_key"
            | "queue.amqp_url"
            | "ledger.database"
            | "pod.database"
            | "archive.secret_access_key"
    ) || (ARRAY_SECTIONS.iter().any(|s| key.starts_with(&format!("{s}["))) && key.ends_with("].database"))
}

/// Where the configuration came from, for messages (`config show` prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    /// No file anywhere: defaults plus environment variables.
    DefaultsOnly,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "config file {}", path.display()),
            Self::DefaultsOnly => f.write_str("defaults and environment only (no config file)"),
        }
    }
}

/// A loaded configuration and how it was put together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    pub source: ConfigSource,
    /// Keys set by environment variables, e.g. `source.secret`, `moodle[0].database`; sorted.
    pub env_overrides: Vec<String>,
    /// Keys whose secret (or URL password) is written in the config file itself; with a world-readable
    /// file, [`Loaded::check`](crate::Loaded::check) warns about them.
    pub secrets_in_file: Vec<String>,
}

/// Why the configuration could not be loaded. Messages name the file, line or key, and never contain a
/// secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {} ({given_by}) does not exist", path.display())]
    NotFound { path: PathBuf, given_by: &'static str },
    #[error("cannot read config file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}: TOML syntax error at {}: {message}", path.display(), at(*line, *column))]
    Syntax { path: PathBuf, line: Option<usize>, column: Option<usize>, message: String },
    #[error("unknown key `{key}` in {origin}{}", suggestion(did_you_mean.as_deref(), known))]
    UnknownKey { key: String, origin: String, did_you_mean: Option<String>, known: Vec<String> },
    #[error("`{key}` in {origin}: {message}")]
    Invalid { key: String, origin: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("cannot read `{key}` {}: {reason}", path.display())]
    SecretFile { key: String, path: PathBuf, reason: String },
    #[error(
        "both `{key}` ({secret_origin}) and `{key}_file` ({file_origin}) are set: keep one \
         (an empty value unsets `{key}_file`)"
    )]
    Conflict { key: String, secret_origin: String, file_origin: String },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "an unknown position".to_owned(),
    }
}

fn suggestion(did_you_mean: Option<&str>, known: &[String]) -> String {
    let mut out = String::new();
    if let Some(guess) = did_you_mean {
        out.push_str(&format!(" (did you mean `{guess}`?)"));
    }
    if !known.is_empty() {
        out.push_str(&format!("; valid keys here: {}", known.join(", ")));
    }
    out
}

/// `source.secret` → `BBB_MIGRATE_SOURCE__SECRET`, `moodle[0].database` → `BBB_MIGRATE_MOODLE__0__DATABASE`.
pub fn env_var_name(key: &str) -> String {
    let path = key.replace('[', ".").replace(']', "");
    format!("{ENV_PREFIX}{}", path.split('.').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("__").to_uppercase())
}

/// Loads with the process environment and current directory. See [`load_from`].
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else { continue };
        if !name.to_ascii_uppercase().starts_with(ENV_PREFIX) {
            continue;
        }
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) => return Err(ConfigError::Env { var: name, message: "is not valid UTF-8".to_owned() }),
        }
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    load_from(explicit, &env, &cwd)
}

/// Loads the configuration: the file (`explicit`, else `cwd/bbb-migrate.toml` if it exists, else the file
/// named by `BBB_MIGRATE_CONFIG`, else none), then `BBB_MIGRATE_<SECTION>__<KEY>` variables from `env` over
/// it, then `*_file` secrets. Relative paths are resolved against `cwd`. Does not validate values: see
/// [`Config::check`](crate::Config::check).
pub fn load_from(explicit: Option<&Path>, env: &[(String, String)], cwd: &Path) -> Result<Loaded, ConfigError> {
    let env_vars = parse_env(env)?;

    let path = match explicit {
        Some(path) => Some(existing(cwd.join(path), "given with --config")?),
        None => {
            let local = cwd.join(DEFAULT_FILE_NAME);
            if local.is_file() {
                Some(local)
            } else {
                match &env_vars.config_path {
                    Some(path) if !path.is_empty() => {
                        Some(existing(cwd.join(path), "named by the BBB_MIGRATE_CONFIG environment variable")?)
                    }
                    _ => None,
                }
            }
        }
    };

    let table = match &path {
        Some(path) => read_table(path)?,
        None => toml::Table::new(),
    };
    let origins = Origins { file: path.clone(), env: &env_vars.keys };

    let file_dict = match Value::serialize(&table) {
        Ok(Value::Dict(_, dict)) => dict,
        _ => Dict::new(),
    };
    let env_dict = env_layer(&env_vars.keys, &file_dict)?;
    let figment = Figment::new()
        .merge(Layer { name: origins.file_name(), dict: file_dict })
        .merge(Layer { name: "environment variables".to_owned(), dict: env_dict });
    let mut config: Config = figment.extract().map_err(|err| origins.explain(err))?;

    let file_dir = path.as_deref().and_then(Path::parent).unwrap_or(cwd).to_path_buf();
    let base_for = |key: &str| if origins.is_set_by_env(key) { cwd.to_path_buf() } else { file_dir.clone() };
    resolve_secret_file(
        &mut config.source.secret,
        &mut config.source.secret_file,
        "source.secret",
        &base_for("source.secret_file"),
        &origins,
    )?;
    resolve_secret_file(
        &mut config.pod.secret_key,
        &mut config.pod.secret_key_file,
        "pod.secret_key",
        &base_for("pod.secret_key_file"),
        &origins,
    )?;

    let mut env_overrides: Vec<String> = env_vars.keys.iter().map(|k| k.key.clone()).collect();
    env_overrides.sort();
    Ok(Loaded {
        config,
        source: path.map_or(ConfigSource::DefaultsOnly, ConfigSource::File),
        env_overrides,
        secrets_in_file: secrets_in(&table),
    })
}

fn existing(path: PathBuf, given_by: &'static str) -> Result<PathBuf, ConfigError> {
    if path.is_file() { Ok(path) } else { Err(ConfigError::NotFound { path, given_by }) }
}

/// Reads and parses the file ourselves (rather than figment's `Toml::file`) to report syntax errors with
/// line and column but without toml's source excerpt, which could show a secret.
fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::Read { path: path.to_path_buf(), reason: err.to_string() })?;
    text.parse::<toml::Table>().map_err(|err| {
        let (line, column) = match err.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                (Some(before.matches('\n').count() + 1), Some(before[line_start..].chars().count() + 1))
            }
            None => (None, None),
        };
        let message = err.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        ConfigError::Syntax { path: path.to_path_buf(), line, column, message }
    })
}

/// One `BBB_MIGRATE_…` variable that sets a key.
#[derive(Debug)]
struct EnvKey {
    var: String,
    /// `source.secret`, `moodle[0].database`.
    key: String,
    /// Lower-cased levels: `["source", "secret"]`, `["moodle", "0", "database"]`.
    path: Vec<String>,
    value: String,
}

struct EnvVars {
    keys: Vec<EnvKey>,
    config_path: Option<String>,
}

/// Picks the key-setting variables out of the environment. Variables without `__` (`BBB_MIGRATE_CONFIG`,
/// `BBB_MIGRATE_LOG`, …) are not keys, except that `BBB_MIGRATE_SOURCE_SECRET` (one underscore) is
/// refused with the right spelling rather than silently ignored.
fn parse_env(env: &[(String, String)]) -> Result<EnvVars, ConfigError> {
    let mut keys: Vec<EnvKey> = Vec::new();
    let mut config_path = None;
    for (var, value) in env {
        let upper = var.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix(ENV_PREFIX) else { continue };
        let rest = rest.to_ascii_lowercase();
        if upper == CONFIG_PATH_ENV {
            config_path = Some(value.clone());
            continue;
        }
        if !rest.contains("__") {
            if let Some(section) = SECTIONS.iter().find(|s| rest == **s || rest.starts_with(&format!("{s}_"))) {
                let key_part = rest[section.len()..].trim_start_matches('_');
                let hint = if key_part.is_empty() {
                    format!("set one key of [{section}], e.g. {}", env_var_name(&format!("{section}.<key>")))
                } else {
                    format!("did you mean {}?", env_var_name(&format!("{section}.{key_part}")))
                };
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("levels are separated by a double underscore: {hint}"),
                });
            }
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "has an empty level (`___` or a trailing `__`)".to_owned(),
            });
        }
        let key = if ARRAY_SECTIONS.contains(&path[0].as_str()) {
            let section = &path[0];
            let index_ok = path.get(1).is_some_and(|i| i.parse::<usize>().is_ok());
            if path.len() != 3 || !index_ok {
                let upper = section.to_ascii_uppercase();
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!(
                        "[[{section}]] entries are set with BBB_MIGRATE_{upper}__<N>__<KEY>, \
                         N = 0 for the first entry (e.g. BBB_MIGRATE_{upper}__0__DATABASE)"
                    ),
                });
            }
            format!("{section}[{}].{}", path[1].parse::<usize>().unwrap_or_default(), path[2])
        } else {
            path.join(".")
        };
        if let Some(other) = keys.iter().find(|k| k.key == key) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: format!("sets `{key}` like {} does: keep one", other.var),
            });
        }
        keys.push(EnvKey { var: var.clone(), key, path, value: value.clone() });
    }
    Ok(EnvVars { keys, config_path })
}

/// The environment as one figment layer. Values stay strings (figment's `Env` would turn `12345` into a
/// number, which a secret must not become); number and list fields accept strings instead.
///
/// `[[moodle]]` is an array, which figment replaces as a whole, so the layer carries the file's array with
/// the variables applied to entry N (N = the file's entry count adds one more entry).
fn env_layer(keys: &[EnvKey], file: &Dict) -> Result<Dict, ConfigError> {
    let mut dict = Dict::new();
    for section in ARRAY_SECTIONS {
        let mut section_keys: Vec<(&EnvKey, usize)> = keys
            .iter()
            .filter(|k| k.path[0] == section)
            .map(|k| (k, k.path[1].parse::<usize>().unwrap_or(usize::MAX)))
            .collect();
        if section_keys.is_empty() {
            continue;
        }
        section_keys.sort_by_key(|(_, index)| *index);
        let mut entries = match file.get(section) {
            Some(Value::Array(_, entries)) => entries.clone(),
            _ => Vec::new(),
        };
        for (key, index) in section_keys {
            if index == entries.len() {
                entries.push(Value::from(Dict::new()));
            }
            let count = entries.len();
            let Some(Value::Dict(_, entry)) = entries.get_mut(index) else {
                return Err(ConfigError::Env {
                    var: key.var.clone(),
                    message: format!(
                        "there is no [[{section}]] entry {index} to change (the file has {count} entries, numbered from 0)"
                    ),
                });
            };
            entry.insert(key.path[2].clone(), Value::from(key.value.clone()));
        }
        dict.insert(section.to_owned(), Value::from(entries));
    }
    for key in keys.iter().filter(|k| !ARRAY_SECTIONS.contains(&k.path[0].as_str())) {
        insert(&mut dict, &key.path, Value::from(key.value.clone())).map_err(|()| ConfigError::Env {
            var: key.var.clone(),
            message: "conflicts with another variable that sets a key below it".to_owned(),
        })?;
    }
    Ok(dict)
}

fn insert(dict: &mut Dict, path: &[String], value: Value) -> Result<(), ()> {
    match path {
        [] => Err(()),
        [last] => {
            if matches!(dict.get(last), Some(Value::Dict(..))) {
                return Err(());
            }
            dict.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match dict.entry(first.clone()).or_insert_with(|| Value::from(Dict::new())) {
            Value::Dict(_, inner) => insert(inner, rest, value),
            _ => Err(()),
        },
    }
}

/// A figment provider over an already-built dictionary.
struct Layer {
    name: String,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

/// Knows which key came from where, to name it in errors.
struct Origins<'a> {
    file: Option<PathBuf>,
    env: &'a [EnvKey],
}

impl Origins<'_> {
    fn file_name(&self) -> String {
        match &self.file {
            Some(path) => format!("config file {}", path.display()),
            None => "defaults".to_owned(),
        }
    }

    fn env_var(&self, key: &str) -> Option<&EnvKey> {
        self.env.iter().find(|k| {
            k.key == key || k.key.strip_prefix(key).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    fn is_set_by_env(&self, key: &str) -> bool {
        self.env_var(key).is_some()
    }

    /// "environment variable BBB_MIGRATE_X__Y" or "config file PATH".
    fn of(&self, key: &str) -> String {
        match self.env_var(key) {
            Some(env) => format!("environment variable {}", env.var),
            None => self.file_name(),
        }
    }

    fn explain(&self, err: figment::Error) -> ConfigError {
        let mut key = String::new();
        for part in &err.path {
            if part.parse::<usize>().is_ok() {
                key.push_str(&format!("[{part}]"));
            } else {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(part);
            }
        }
        let join = |key: &str, field: &str| if key.is_empty() { field.to_owned() } else { format!("{key}.{field}") };
        match &err.kind {
            Kind::UnknownField(field, expected) => {
                // figment's path usually ends with the unknown field itself; the parent is what is left.
                let full = if err.path.last() == Some(field) { key.clone() } else { join(&key, field) };
                let parent = full.strip_suffix(field.as_str()).unwrap_or("").trim_end_matches('.');
                ConfigError::UnknownKey {
                    origin: self.of(&full),
                    did_you_mean: closest(field, expected).map(|guess| join(parent, guess)),
                    known: expected.iter().map(|k| (*k).to_owned()).collect(),
                    key: full,
                }
            }
            kind => {
                let message = match kind {
                    Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) if is_sensitive(&key) => {
                        format!("expected {expected} (the value is not shown: it may be secret)")
                    }
                    Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
                    Kind::InvalidValue(actual, expected) => format!("expected {expected}, found {actual}"),
                    Kind::UnknownVariant(_, _) if is_sensitive(&key) => "is not one of the allowed values".to_owned(),
                    other => other.to_string(),
                };
                ConfigError::Invalid { origin: self.of(&key), key, message }
            }
        }
    }
}

/// The known key nearest to a typo, if it is near enough to be a typo.
fn closest<'k>(typo: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(typo, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

/// Reads `<key>_file` into `<key>`, trimmed. A relative path is taken from `base` (the config file's
/// directory, or the current directory when the path came from the environment).
fn resolve_secret_file(
    secret: &mut Secret,
    file: &mut Option<PathBuf>,
    key: &str,
    base: &Path,
    origins: &Origins<'_>,
) -> Result<(), ConfigError> {
    let Some(path) = file.as_ref() else { return Ok(()) };
    let file_key = format!("{key}_file");
    if !secret.is_empty() {
        return Err(ConfigError::Conflict {
            key: key.to_owned(),
            secret_origin: origins.of(key),
            file_origin: origins.of(&file_key),
        });
    }
    let full = base.join(path);
    let raw = std::fs::read_to_string(&full).map(Secret::new).map_err(|err| ConfigError::SecretFile {
        key: file_key,
        path: full.clone(),
        reason: err.to_string(),
    })?;
    *secret = Secret::new(raw.expose().trim());
    *file = Some(full);
    Ok(())
}

/// Keys of the file that hold a secret or a URL with a password.
fn secrets_in(table: &toml::Table) -> Vec<String> {
    let value = |section: &str, key: &str| table.get(section).and_then(|s| s.get(key));
    let has_password =
        |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).is_some_and(|s| mask_url_password(s) != s);
    let mut found = Vec::new();
    for (section, key) in [("source", "secret"), ("pod", "secret_key"), ("archive", "secret_access_key")] {
        if value(section, key).is_some_and(|v| v.as_str() != Some("")) {
            found.push(format!("{section}.{key}"));
        }
    }
    if value("queue", "amqp_url").and_then(toml::Value::as_str).is_some_and(|s| !s.is_empty()) {
        found.push("queue.amqp_url".to_owned());
    }
    for (section, key) in [("source", "url"), ("ledger", "database"), ("pod", "database")] {
        if has_password(value(section, key)) {
            found.push(format!("{section}.{key}"));
        }
    }
    for section in ARRAY_SECTIONS {
        if let Some(toml::Value::Array(entries)) = table.get(section) {
            for (index, entry) in entries.iter().enumerate() {
                if has_password(entry.get("database")) {
                    found.push(format!("{section}[{index}].database"));
                }
            }
        }
    }
    found
}
