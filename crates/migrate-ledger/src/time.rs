//! One timestamp format for both backends: UTC RFC 3339 with exactly three fractional digits and a
//! `Z`. Fixed width means text comparison is time comparison, which the lease SQL relies on.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use crate::LedgerError;

pub(crate) fn fmt_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(what: &str, s: &str) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| LedgerError::Corrupt { what: format!("{what} timestamp {s:?}"), message: e.to_string() })
}

pub(crate) fn parse_opt(what: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>, LedgerError> {
    s.map(|s| parse_ts(what, s)).transpose()
}

/// Now, at the precision that is stored, so rows read back equal what was written.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// `now + ttl`, saturating instead of overflowing for absurd TTLs.
pub(crate) fn add_ttl(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    // 100 years is "forever" for a lease and keeps the year at four digits.
    const MAX: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let ttl = chrono::Duration::from_std(ttl.min(MAX)).unwrap_or(chrono::Duration::zero());
    (now + ttl).trunc_subsecs(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_width_and_round_trip() {
        let a = Utc.with_ymd_and_hms(2024, 3, 1, 9, 30, 0).unwrap();
        let b = a + chrono::Duration::milliseconds(5);
        assert_eq!(fmt_ts(a), "2024-03-01T09:30:00.000Z");
        assert_eq!(fmt_ts(b), "2024-03-01T09:30:00.005Z");
        assert!(fmt_ts(a) < fmt_ts(b));
        assert_eq!(parse_ts("t", &fmt_ts(b)).unwrap(), b);
    }

    #[test]
    fn huge_ttl_saturates() {
        let n = now();
        let t = add_ttl(n, std::time::Duration::from_secs(u64::MAX));
        assert!(t > n);
        assert_eq!(fmt_ts(t).len(), fmt_ts(n).len());
    }
}
