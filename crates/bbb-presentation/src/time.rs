//! Recording time and the warnings parsing leaves behind.

use std::fmt;

/// An instant of recording time, in whole milliseconds from the start of the recording.
///
/// Published files count seconds rounded to 0.1 (`timestamp="33.1"`) on *recording* time (unrecorded gaps cut
/// out), while `metadata.xml` gives the duration in ms: integer milliseconds hold both exactly, compare and hash
/// without float surprises, and cannot be NaN or negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

/// Beyond this a time is junk rather than a long recording (about 31 years).
const MAX_SECONDS: f64 = 1e9;

impl Time {
    pub const ZERO: Time = Time(0);

    pub const fn from_millis(ms: u64) -> Self {
        Time(ms)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The time `seconds` after the start, rounded to the millisecond; `None` for NaN, infinities, negative or
    /// absurdly large values, which the caller reports with the file and element they came from.
    pub fn from_secs_f64(seconds: f64) -> Option<Self> {
        if !seconds.is_finite() || seconds < 0.0 && seconds != 0.0 || seconds > MAX_SECONDS {
            return None;
        }
        Some(Time((seconds.max(0.0) * 1000.0).round() as u64))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    pub fn saturating_sub(self, other: Time) -> Time {
        Time(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// Something in the published files that could not be used as written, said precisely enough to find it: the
/// file, the element (with its line where the file is XML) and what was wrong. Parsing keeps going after a
/// warning, so one broken shape never costs the whole recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Relative path of the published file, e.g. `shapes.svg`.
    pub file: String,
    /// The element or JSON path concerned, e.g. `<g id="image2-draw3"> (line 14)` or `["3"].shapes[2]`; empty
    /// when the warning is about the whole file.
    pub element: String,
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.element.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.element, self.reason)
        }
    }
}

/// Collects the warnings of one file.
pub(crate) struct Warnings<'a> {
    pub(crate) file: &'static str,
    pub(crate) out: &'a mut Vec<Warning>,
}

impl<'a> Warnings<'a> {
    pub(crate) fn new(file: &'static str, out: &'a mut Vec<Warning>) -> Self {
        Warnings { file, out }
    }

    pub(crate) fn push(&mut self, element: impl Into<String>, reason: impl Into<String>) {
        self.out.push(Warning { file: self.file.to_owned(), element: element.into(), reason: reason.into() });
    }

    pub(crate) fn file(&mut self, reason: impl Into<String>) {
        self.push(String::new(), reason);
    }
}

/// Parses a seconds value as written in the published files (`"33.1"`, `"-0.0"`, `" 12 "`).
pub(crate) fn parse_seconds(text: &str) -> Result<Time, String> {
    let trimmed = text.trim();
    let value: f64 = trimmed.parse().map_err(|_| format!("`{}` is not a number of seconds", shorten(trimmed)))?;
    Time::from_secs_f64(value).ok_or_else(|| format!("`{}` is not a usable time", shorten(trimmed)))
}

/// Parses a finite number; junk, NaN and infinities are errors.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    match trimmed.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{}` is not a finite number", shorten(trimmed))),
    }
}

/// Cuts a quoted value for a warning, so one megabyte of junk does not become a megabyte of warning.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_milliseconds() {
        assert_eq!(parse_seconds("33.1"), Ok(Time::from_millis(33_100)));
        assert_eq!(parse_seconds("-0.0"), Ok(Time::ZERO));
        assert_eq!(parse_seconds(" 6.2 "), Ok(Time::from_millis(6_200)));
        assert_eq!(parse_seconds("108.4").unwrap().to_string(), "108.400s");
        for junk in ["", "abc", "NaN", "inf", "-1", "-0.5", "1e300", "1.2.3"] {
            assert!(parse_seconds(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn long_junk_is_shortened_in_messages() {
        let junk = "x".repeat(10_000);
        assert!(parse_seconds(&junk).unwrap_err().len() < 100);
    }
}
