//! Ledger URLs: which backend, where, and how to print them without the password.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::LedgerError;

/// A parsed ledger location.
pub(crate) enum Target {
    Sqlite {
        path: PathBuf,
        memory: bool,
        options: Box<SqliteConnectOptions>,
        display: String,
    },
    Postgres {
        options: Box<PgConnectOptions>,
        display: String,
        /// Raw and decoded password, scrubbed from any error text the driver produces.
        secrets: Vec<String>,
    },
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, LedgerError> {
        let trimmed = url.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let display = mask_url(trimmed);
            let secrets = url_secrets(trimmed);
            let options = PgConnectOptions::from_str(trimmed)
                .map_err(|e| LedgerError::Connect { url: display.clone(), message: scrub(&e.to_string(), &secrets) })?;
            Ok(Target::Postgres { options: Box::new(options), display, secrets })
        } else if lower.starts_with("sqlite:") {
            let rest = &trimmed["sqlite:".len()..];
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (db, params) = rest.split_once('?').unwrap_or((rest, ""));
            let memory = db == ":memory:" || params.split('&').any(|kv| kv.eq_ignore_ascii_case("mode=memory"));
            let options = SqliteConnectOptions::from_str(trimmed)
                .map_err(|e| LedgerError::SqliteOpen { path: PathBuf::from(db), message: e.to_string() })?;
            let path = options.get_filename().to_path_buf();
            let display = if memory { "sqlite::memory:".to_owned() } else { format!("sqlite://{}", path.display()) };
            Ok(Target::Sqlite { path, memory, options: Box::new(options), display })
        } else if trimmed.is_empty() || trimmed.contains("://") {
            Err(LedgerError::UnsupportedUrl { url: mask_url(trimmed) })
        } else {
            // A plain path is the friendliest way to name the default, embedded ledger.
            let path = PathBuf::from(trimmed);
            Ok(Target::Sqlite {
                options: Box::new(SqliteConnectOptions::new().filename(&path)),
                display: format!("sqlite://{}", path.display()),
                path,
                memory: false,
            })
        }
    }
}

/// The URL with any password replaced by `****` (userinfo and `password=` query parameters),
/// safe for logs and error messages.
///
/// ```
/// assert_eq!(
///     migrate_ledger::mask_url("postgres://u:secret@db.example/ledger"),
///     "postgres://u:****@db.example/ledger"
/// );
/// ```
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];

    let mut out = String::with_capacity(url.len() + 4);
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":****");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }

    let tail = &rest[auth_end..];
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            let after = &tail[q + 1..];
            let (query, fragment) = match after.find('#') {
                Some(h) => after.split_at(h),
                None => (after, ""),
            };
            let masked: Vec<String> = query
                .split('&')
                .map(|kv| {
                    let name = kv.split('=').next().unwrap_or("");
                    if is_secret_param(name) { format!("{name}=****") } else { kv.to_owned() }
                })
                .collect();
            out.push_str(&masked.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(tail),
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("password") || name.eq_ignore_ascii_case("sslpassword")
}

/// Every spelling of the password the URL carries, longest first.
fn url_secrets(url: &str) -> Vec<String> {
    let mut raw = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        if let Some(at) = authority.rfind('@') {
            if let Some((_, pw)) = authority[..at].split_once(':') {
                raw.push(pw.to_owned());
            }
        }
        if let Some((_, query)) = rest[auth_end..].split_once('?') {
            let query = query.split('#').next().unwrap_or("");
            for kv in query.split('&') {
                if let Some((name, value)) = kv.split_once('=') {
                    if is_secret_param(name) {
                        raw.push(value.to_owned());
                    }
                }
            }
        }
    }
    let mut all: Vec<String> =
        raw.iter().flat_map(|s| [s.clone(), percent_decode(s)]).filter(|s| !s.is_empty()).collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes every secret from a driver message.
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    secrets.iter().fold(message.to_owned(), |m, s| m.replace(s.as_str(), "****"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_userinfo_password() {
        assert_eq!(
            mask_url("postgres://bob:p%40ss@db:5432/ledger?sslmode=require"),
            "postgres://bob:****@db:5432/ledger?sslmode=require"
        );
        assert_eq!(mask_url("postgresql://bob@db/l"), "postgresql://bob@db/l");
        assert_eq!(mask_url("postgres://db/l"), "postgres://db/l");
        assert_eq!(mask_url("sqlite://data/ledger.sqlite"), "sqlite://data/ledger.sqlite");
        assert_eq!(mask_url("ledger.sqlite"), "ledger.sqlite");
    }

    #[test]
    fn masks_query_password() {
        assert_eq!(
            mask_url("postgres://db/l?user=u&password=hunter2&sslmode=disable#x"),
            "postgres://db/l?user=u&password=****&sslmode=disable#x"
        );
    }

    #[test]
    fn secrets_include_decoded_password() {
        let s = url_secrets("postgres://bob:p%40ss@db/l?password=zz");
        assert!(s.contains(&"p%40ss".to_owned()));
        assert!(s.contains(&"p@ss".to_owned()));
        assert!(s.contains(&"zz".to_owned()));
        assert_eq!(scrub("bad p@ss and zz", &s), "bad **** and ****");
    }

    #[test]
    fn parses_backends() {
        match Target::parse("sqlite://some/dir/ledger.sqlite").ok().unwrap() {
            Target::Sqlite { path, memory, display, .. } => {
                assert_eq!(path, PathBuf::from("some/dir/ledger.sqlite"));
                assert!(!memory);
                assert_eq!(display, "sqlite://some/dir/ledger.sqlite");
            }
            Target::Postgres { .. } => panic!("expected sqlite"),
        }
        match Target::parse("sqlite:///abs/ledger.sqlite").ok().unwrap() {
            Target::Sqlite { path, .. } => assert_eq!(path, PathBuf::from("/abs/ledger.sqlite")),
            Target::Postgres { .. } => panic!("expected sqlite"),
        }
        assert!(matches!(Target::parse("sqlite::memory:").ok().unwrap(), Target::Sqlite { memory: true, .. }));
        assert!(matches!(Target::parse("plain/ledger.sqlite").ok().unwrap(), Target::Sqlite { memory: false, .. }));
        match Target::parse("postgresql://u:pw@h/db").ok().unwrap() {
            Target::Postgres { display, .. } => assert_eq!(display, "postgresql://u:****@h/db"),
            Target::Sqlite { .. } => panic!("expected postgres"),
        }
        let err = Target::parse("mysql://u:pw@h/db").err().unwrap().to_string();
        assert!(err.contains("u:****@h") && !err.contains("pw@"), "{err}");
    }
}
