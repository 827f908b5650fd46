//! Deserializers that accept both the TOML type and a string.
//!
//! Environment variables are always strings (`BBB_MIGRATE_SOURCE__PAGE_SIZE=50`), and we keep them as
//! strings so that a numeric-looking secret stays text; the number, list and enum fields therefore also
//! accept text. None of these errors quote secrets: they are only used on non-secret fields.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::str::FromStr;

use serde::de::{self, Deserializer, Unexpected, Visitor};

struct NumberVisitor<T>(PhantomData<T>);

impl<T> Visitor<'_> for NumberVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64> + FromStr,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"a smaller whole number"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &"a positive whole number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.trim().parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &"a whole number"))
    }
}

/// A whole number, from TOML or from text (`"50"`).
pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64> + FromStr,
{
    d.deserialize_any(NumberVisitor(PhantomData))
}

/// An optional whole number; an empty string means "not set".
pub fn optional_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64> + FromStr,
{
    struct OptVisitor<T>(PhantomData<T>);
    impl<T: TryFrom<u64> + TryFrom<i64> + FromStr> Visitor<'_> for OptVisitor<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number, or an empty string for \"not set\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            NumberVisitor(PhantomData).visit_u64(v).map(Some)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            NumberVisitor(PhantomData).visit_i64(v).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() { Ok(None) } else { NumberVisitor(PhantomData).visit_str(v).map(Some) }
        }
    }
    d.deserialize_any(OptVisitor(PhantomData))
}

/// An optional string; an empty string means "not set" (so `BBB_MIGRATE_POD__DATABASE=` unsets it).
pub fn optional_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: String = serde::Deserialize::deserialize(d)?;
    Ok(if value.trim().is_empty() { None } else { Some(value) })
}

/// An optional path; an empty string means "not set".
pub fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(optional_string(d)?.map(PathBuf::from))
}

/// An optional secret; an empty string means "not set".
pub fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<crate::Secret>, D::Error> {
    let value: crate::Secret = serde::Deserialize::deserialize(d)?;
    Ok(if value.expose().trim().is_empty() { None } else { Some(value) })
}

/// A list of strings: a TOML array, or text — `pod,moodle` (comma-separated) or `["pod", "moodle"]`.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings (in an environment variable: comma-separated)")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                items.push(item);
            }
            Ok(items)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            if v.starts_with('[') {
                #[derive(serde::Deserialize)]
                struct Wrapper {
                    v: Vec<String>,
                }
                return toml::from_str::<Wrapper>(&format!("v = {v}"))
                    .map(|w| w.v)
                    .map_err(|e| E::custom(format!("not a TOML list of strings: {}", e.message())));
            }
            Ok(v.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect())
        }
    }
    d.deserialize_any(ListVisitor)
}

/// A boolean, from TOML or from text (`true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`).
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct BoolVisitor;
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Ok(true),
                "false" | "no" | "0" | "off" => Ok(false),
                _ => Err(E::invalid_value(Unexpected::Str(v), &"true or false")),
            }
        }
    }
    d.deserialize_any(BoolVisitor)
}

/// An enum parsed with its `FromStr` (case-insensitive for the checksum: `SHA256`, `sha-256`).
pub fn from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let value: String = serde::Deserialize::deserialize(d)?;
    value.parse().map_err(de::Error::custom)
}
