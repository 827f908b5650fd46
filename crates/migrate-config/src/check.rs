//! Validation, kept apart from loading so that `config check` can list every problem at once.

use std::fmt;
use std::path::Path;

use url::Url;

use crate::load::{ConfigSource, Loaded, env_var_name};
use crate::model::{Config, OWNER_SOURCES};
use crate::secret::mask_url_password;

/// How bad a [`Problem`] is: errors stop `migrate`, warnings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// Something wrong with one key, and what to do about it. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, as written in the file: `source.secret`, `moodle[1].server_name`.
    pub key: String,
    pub message: String,
    /// What to do.
    pub fix: String,
    pub severity: Severity,
}

impl Problem {
    pub fn error(key: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into(), fix: fix.into(), severity: Severity::Error }
    }

    pub fn warning(key: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into(), fix: fix.into(), severity: Severity::Warning }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {} (fix: {})", self.severity, self.key, self.message, self.fix)
    }
}

const SOURCE_URL_EXAMPLE: &str = "set source.url to the old server, e.g. https://bbb.univ.fr/bigbluebutton/";
const SOURCE_SECRET_FIX: &str =
    "set BBB_MIGRATE_SOURCE__SECRET or source.secret_file; on the old server `bbb-conf --secret` prints it";

/// Text that admins leave in templates instead of the real value.
fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.trim().to_lowercase();
    ["changeme", "change-me", "change_me", "xxx", "…", "...", "your-secret", "your_secret"]
        .iter()
        .any(|p| lower.contains(p))
        || matches!(lower.as_str(), "secret" | "password" | "todo" | "fixme")
        || (lower.starts_with('<') && lower.ends_with('>'))
}

/// `1280x720` → `(1280, 720)` when both are even and non-zero.
fn even_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.trim().split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?);
    (w > 0 && h > 0 && w % 2 == 0 && h % 2 == 0).then_some((w, h))
}

fn scheme(url: &str) -> Option<String> {
    url.split_once(':').map(|(scheme, _)| scheme.trim().to_ascii_lowercase())
}

impl Config {
    /// The old server's API base (`https://host/bigbluebutton/api/`), from any form of `source.url`.
    pub fn source_api_url(&self) -> Result<Url, Problem> {
        let url = self.source.url.trim();
        if url.is_empty() {
            return Err(Problem::error("source.url", "the old server's address is not set", SOURCE_URL_EXAMPLE));
        }
        bbb_api::server_url::api_base_url(url).map_err(|err| {
            Problem::error(
                "source.url",
                err.to_string().replace(url, &mask_url_password(url)),
                "give the address as https://host/, https://host/bigbluebutton/ or https://host/bigbluebutton/api",
            )
        })
    }

    /// Every problem of this configuration, errors and warnings, in file order. Empty = good to go.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.check_source(&mut problems);
        self.check_ledger(&mut problems);
        self.check_pod(&mut problems);
        self.check_moodle(&mut problems);
        self.check_greenlight(&mut problems);
        self.check_owners(&mut problems);
        self.check_render(&mut problems);
        self.check_claim(&mut problems);
        self.check_queue(&mut problems);
        self.check_archive(&mut problems);
        problems
    }

    fn check_source(&self, problems: &mut Vec<Problem>) {
        let source = &self.source;
        if let Err(problem) = self.source_api_url() {
            problems.push(problem);
        }
        let secret = source.secret.expose();
        if secret.is_empty() {
            let message = match &source.secret_file {
                Some(path) => format!("the old server's shared secret is not set ({} is empty)", path.display()),
                None => "the old server's shared secret is not set".to_owned(),
            };
            problems.push(Problem::error("source.secret", message, SOURCE_SECRET_FIX));
        } else if looks_like_placeholder(secret) {
            problems.push(Problem::warning(
                "source.secret",
                "looks like a placeholder, not the server's secret",
                SOURCE_SECRET_FIX,
            ));
        } else if secret.trim() != secret || secret.contains(char::is_whitespace) {
            problems.push(Problem::warning(
                "source.secret",
                "contains spaces or line breaks, which BBB secrets never do",
                "copy the secret again, without the surrounding text",
            ));
        }
        if !(1..=100).contains(&source.page_size) {
            problems.push(Problem::error(
                "source.page_size",
                format!("{} is outside 1..=100 (BBB refuses a larger getRecordings limit)", source.page_size),
                "set source.page_size between 1 and 100 (default 100)",
            ));
        }
        if source.timeout_secs == 0 {
            problems.push(Problem::error(
                "source.timeout_secs",
                "0 would make every request time out",
                "set source.timeout_secs to a number of seconds, e.g. 30 (the default)",
            ));
        }
        if source.connect_timeout_secs == 0 {
            problems.push(Problem::error(
                "source.connect_timeout_secs",
                "0 would make every connection time out",
                "set source.connect_timeout_secs to a number of seconds, e.g. 10 (the default)",
            ));
        }
        if source.retries > 20 {
            problems.push(Problem::warning(
                "source.retries",
                format!("{} retries can keep a dead server busy for a very long time", source.retries),
                "use a few retries, e.g. 3 (the default)",
            ));
        }
    }

    fn check_ledger(&self, problems: &mut Vec<Problem>) {
        let database = self.ledger.database.trim();
        if !matches!(scheme(database).as_deref(), Some("sqlite" | "postgres" | "postgresql")) {
            problems.push(Problem::error(
                "ledger.database",
                if database.is_empty() {
                    "is empty".to_owned()
                } else {
                    format!("`{}` is neither a SQLite nor a PostgreSQL URL", mask_url_password(database))
                },
                "use sqlite://bbb-migrate-ledger.sqlite (the default) or postgres://user:password@host/database",
            ));
        }
    }

    fn check_pod(&self, problems: &mut Vec<Problem>) {
        let pod = &self.pod;
        if let Some(database) = &pod.database {
            if Url::parse(database.trim()).is_err() {
                problems.push(Problem::error(
                    "pod.database",
                    format!("`{}` is not a database URL", mask_url_password(database)),
                    "use postgres://user:password@host/pod or mysql://user:password@host/pod",
                ));
            }
        }
        if !pod.secret_key.is_empty() && looks_like_placeholder(pod.secret_key.expose()) {
            problems.push(Problem::warning(
                "pod.secret_key",
                "looks like a placeholder, not Pod's SECRET_KEY",
                "copy SECRET_KEY from Pod's settings_local.py, or use pod.secret_key_file",
            ));
        }
        if pod.site_id == 0 {
            problems.push(Problem::error(
                "pod.site_id",
                "Django site ids start at 1",
                "set pod.site_id to Pod's SITE_ID (usually 1)",
            ));
        }
        if !matches!(pod.match_users_by.as_str(), "username" | "email") {
            problems.push(Problem::error(
                "pod.match_users_by",
                format!("`{}` is neither `username` nor `email`", pod.match_users_by),
                "set pod.match_users_by to \"username\" (the default) or \"email\"",
            ));
        }
    }

    fn check_claim(&self, problems: &mut Vec<Problem>) {
        if let Some(Err(message)) = self.claim.mode_bits() {
            problems.push(Problem::error(
                "claim.mode",
                message,
                "write the permissions in octal, e.g. mode = \"0664\"",
            ));
        }
    }

    fn check_moodle(&self, problems: &mut Vec<Problem>) {
        for (index, moodle) in self.moodle.iter().enumerate() {
            let key = |field: &str| format!("moodle[{index}].{field}");
            let name = moodle.server_name.trim();
            if name.is_empty() {
                problems.push(Problem::error(
                    key("server_name"),
                    "is empty",
                    "set it to the recordings' bbb-origin-server-name (e.g. moodle.univ.fr), or `default`",
                ));
            } else if let Some(first) =
                self.moodle[..index].iter().position(|m| m.server_name.trim().eq_ignore_ascii_case(name))
            {
                problems.push(Problem::error(
                    key("server_name"),
                    format!("`{name}` is already used by moodle[{first}]"),
                    "keep one [[moodle]] entry per server name",
                ));
            }
            let database = moodle.database.trim();
            if !matches!(scheme(database).as_deref(), Some("postgres" | "postgresql" | "mysql" | "mariadb")) {
                problems.push(Problem::error(
                    key("database"),
                    if database.is_empty() {
                        "is empty".to_owned()
                    } else {
                        format!("`{}` is neither a PostgreSQL nor a MySQL/MariaDB URL", mask_url_password(database))
                    },
                    format!(
                        "use postgres://user:password@host/moodle or mysql://user:password@host/moodle \
                         (or set {})",
                        env_var_name(&key("database"))
                    ),
                ));
            }
            if !moodle.table_prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                problems.push(Problem::error(
                    key("table_prefix"),
                    format!("`{}` has characters other than a-z, 0-9 and _", moodle.table_prefix),
                    "use Moodle's $CFG->prefix from config.php (usually mdl_)",
                ));
            }
        }
    }

    fn check_greenlight(&self, problems: &mut Vec<Problem>) {
        for (index, greenlight) in self.greenlight.iter().enumerate() {
            let key = format!("greenlight[{index}].database");
            let database = greenlight.database.trim();
            if !matches!(scheme(database).as_deref(), Some("postgres" | "postgresql")) {
                problems.push(Problem::error(
                    key.clone(),
                    if database.is_empty() {
                        "is empty".to_owned()
                    } else {
                        format!("`{}` is not a PostgreSQL URL", mask_url_password(database))
                    },
                    format!("use postgres://user:password@host/greenlight_production (or set {})", env_var_name(&key)),
                ));
            }
        }
    }

    fn check_owners(&self, problems: &mut Vec<Problem>) {
        for (index, source) in self.owners.order.iter().enumerate() {
            if !OWNER_SOURCES.contains(&source.as_str()) {
                problems.push(Problem::error(
                    "owners.order",
                    format!("`{source}` is not an owner source"),
                    format!("use some of {} (in the order to ask them)", OWNER_SOURCES.join(", ")),
                ));
            } else if self.owners.order[..index].contains(source) {
                problems.push(Problem::warning(
                    "owners.order",
                    format!("`{source}` is listed twice"),
                    "list each owner source once",
                ));
            }
        }
    }

    fn check_render(&self, problems: &mut Vec<Problem>) {
        if even_size(&self.render.size).is_none() {
            problems.push(Problem::error(
                "render.size",
                format!(
                    "`{}` is not WIDTHxHEIGHT with even, non-zero numbers (the video encoder needs them even)",
                    self.render.size
                ),
                "use e.g. 1280x720 (the default) or 1920x1080",
            ));
        }
        if self.render.ffmpeg.trim().is_empty() {
            problems.push(Problem::error(
                "render.ffmpeg",
                "is empty",
                "set it to ffmpeg (the default) or its full path",
            ));
        }
    }

    fn check_queue(&self, problems: &mut Vec<Problem>) {
        if let Some(amqp) = &self.queue.amqp_url {
            if !matches!(scheme(amqp.expose()).as_deref(), Some("amqp" | "amqps")) {
                problems.push(Problem::error(
                    "queue.amqp_url",
                    "is not an amqp:// or amqps:// URL (value not shown: it may hold a password)",
                    "use amqp://user:password@host/vhost, or leave it unset to work locally",
                ));
            }
        }
        if self.queue.queue.trim().is_empty() {
            problems.push(Problem::error(
                "queue.queue",
                "is empty",
                "set it to a queue name, e.g. bbb-migrate (the default)",
            ));
        }
        for (key, zero) in [
            ("queue.max_attempts", self.queue.max_attempts == 0),
            ("queue.prefetch", self.queue.prefetch == 0),
            ("queue.lease_secs", self.queue.lease_secs == 0),
        ] {
            if zero {
                problems.push(Problem::error(key, "is 0", "use at least 1 (see `config init` for the default)"));
            }
        }
    }
}

impl Config {
    fn check_archive(&self, problems: &mut Vec<Problem>) {
        for (key, value) in [("archive.base_url", &self.archive.base_url), ("archive.endpoint", &self.archive.endpoint)]
        {
            if !value.is_empty() && !matches!(scheme(value).as_deref(), Some("http" | "https")) {
                problems.push(Problem::error(
                    key,
                    "is not an http:// or https:// address",
                    "e.g. https://archive.univ.fr",
                ));
            }
        }
        if self.archive.access_key_id.is_empty() != self.archive.secret_access_key.is_empty() {
            problems.push(Problem::error(
                "archive.secret_access_key",
                "only one of archive.access_key_id and archive.secret_access_key is set",
                "set both (the secret best with BBB_MIGRATE_ARCHIVE__SECRET_ACCESS_KEY), or neither",
            ));
        }
    }
}

impl Loaded {
    /// [`Config::check`] plus what depends on the files: a warning when the config file or a secret file
    /// holds a secret and every user of the machine can read it.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = self.config.check();
        if let ConfigSource::File(path) = &self.source {
            if !self.secrets_in_file.is_empty() && readable_by_others(path) {
                problems.push(Problem::warning(
                    self.secrets_in_file[0].clone(),
                    format!(
                        "{} holds {} and every user of this machine can read it",
                        path.display(),
                        self.secrets_in_file.join(", ")
                    ),
                    format!("chmod 600 {}", path.display()),
                ));
            }
        }
        for (file, key) in [
            (&self.config.source.secret_file, "source.secret_file"),
            (&self.config.pod.secret_key_file, "pod.secret_key_file"),
        ] {
            if let Some(path) = file {
                if readable_by_others(path) {
                    problems.push(Problem::warning(
                        key,
                        format!("{} holds a secret and every user of this machine can read it", path.display()),
                        format!("chmod 600 {}", path.display()),
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(even_size("1280x720"), Some((1280, 720)));
        assert_eq!(even_size("1920X1080"), Some((1920, 1080)));
        for bad in ["1281x720", "1280x0", "1280", "x720", "1280x720x3", "-2x4", ""] {
            assert_eq!(even_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn placeholders() {
        for placeholder in ["changeme", "CHANGE_ME", "xxxxxxxx", "…", "<secret>", "secret", "your-secret-here"] {
            assert!(looks_like_placeholder(placeholder), "{placeholder}");
        }
        assert!(!looks_like_placeholder("8cd8ef52e8e101574e400365b55e11a6"));
    }
}
