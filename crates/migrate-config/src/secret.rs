//! Values that must never be printed: the BBB shared secret, Pod's `SECRET_KEY`, passwords inside URLs.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// What a secret looks like on screen.
pub const MASK: &str = "****";

/// A secret string (BBB shared secret, Pod `SECRET_KEY`, AMQP URL with its password).
///
/// `Debug`, `Display` and `Serialize` all print `****` (or `(empty)` / `""` when it is empty), so a `Config`
/// can be logged, shown with `config show` or sent to a worker without leaking it; the only way to the
/// value is [`Secret::expose`], which makes every use easy to grep for. The memory is zeroed on drop
/// (`secrecy`).
#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself: only for signing requests or opening connections, never for messages.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Equality on the value, so that configs can be compared in tests (not constant-time: nothing here is a
/// comparison an attacker can time).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() { "(empty)" } else { MASK })
    }
}

/// Serializes masked: `""` when empty (so a round trip keeps "not set"), `"****"` otherwise.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.is_empty() { "" } else { MASK })
    }
}

/// Accepts a string (or a bare integer, for secrets made only of digits). Errors never quote the value:
/// serde's usual "invalid type: floating point `1.5`" would print it.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Secret, E> {
                std::str::from_utf8(v).map(Secret::new).map_err(|_| E::custom("a secret must be UTF-8 text"))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(not_a_string())
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(not_a_string())
            }

            fn visit_char<E: de::Error>(self, v: char) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(not_a_string())
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(not_a_string())
            }
        }

        fn not_a_string<E: de::Error>() -> E {
            E::custom("a secret must be a quoted string (its value is not shown)")
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

/// `postgres://pod:s3cret@db/pod` → `postgres://pod:****@db/pod`, for showing database and AMQP URLs.
///
/// Works on the text (no parse/re-format, so the admin sees what they wrote) and errs on the side of
/// masking: the password is everything between the first `:` of the user-info and the last `@` before the
/// query. `password=…` parameters (libpq key/value strings, query strings) are masked too.
pub fn mask_url_password(url: &str) -> String {
    let mut out = match url.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = &url[rest_start..];
            let head_end = rest.find(['?', '#']).unwrap_or(rest.len());
            match rest[..head_end].rfind('@') {
                Some(at) => match rest[..at].find(':') {
                    Some(colon) => format!("{}{}{MASK}{}", &url[..rest_start], &rest[..=colon], &rest[at..]),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // `password=…` in a query string or a libpq/ODBC-style key=value string.
    let mut search_from = 0;
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(found) = lower[search_from..].find("password=") else { break };
        let value_start = search_from + found + "password=".len();
        let value_end = out[value_start..].find(['&', ';', ' ', '\t', '#']).map_or(out.len(), |end| value_start + end);
        if value_end > value_start && &out[value_start..value_end] != MASK {
            out.replace_range(value_start..value_end, MASK);
        }
        search_from = value_start + MASK.len().min(out.len() - value_start);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("hunter2-distinctive");
        assert_eq!(format!("{secret}"), "****");
        assert_eq!(format!("{secret:?}"), "****");
        assert_eq!(format!("{:?}", Secret::default()), "(empty)");
        assert_eq!(secret.expose(), "hunter2-distinctive");
        assert!(!secret.is_empty());
        assert!(Secret::new("").is_empty());
    }

    #[test]
    fn masks_url_passwords() {
        for (input, expected) in [
            ("postgres://pod:s3cret@db/pod", "postgres://pod:****@db/pod"),
            (
                "postgresql://pod:p%40ss@db.univ.fr:5432/pod?sslmode=require",
                "postgresql://pod:****@db.univ.fr:5432/pod?sslmode=require",
            ),
            ("mysql://moodle:a@b:c@db/moodle", "mysql://moodle:****@db/moodle"),
            ("amqp://:only@rabbit/vhost", "amqp://:****@rabbit/vhost"),
            ("amqp://guest@rabbit/", "amqp://guest@rabbit/"),
            ("sqlite://bbb-migrate-ledger.sqlite", "sqlite://bbb-migrate-ledger.sqlite"),
            ("postgres://db/pod?user=pod&password=s3cret&x=1", "postgres://db/pod?user=pod&password=****&x=1"),
            ("host=db user=pod PASSWORD=s3cret dbname=pod", "host=db user=pod PASSWORD=**** dbname=pod"),
            ("", ""),
        ] {
            assert_eq!(mask_url_password(input), expected, "{input}");
        }
    }
}
