//! Which recordings a command works on: filters, then positions 1..N newest first, then a range of positions.
//!
//! Positions are counted after the filters, so `--origin Moodle --from 1 --to 2` means "the two most recent
//! Moodle recordings" — what the old script's documentation promised for its min/max values but, as it kept
//! the server's order, did not always deliver.

use bbb_api::{Recording, StateFilter};
use chrono::{DateTime, NaiveDate, Utc};

use crate::origin::origin_of;

/// A user's choice of recordings. Every field is optional; the default selects everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// First position (1 = newest), inclusive.
    pub from: Option<usize>,
    /// Last position, inclusive.
    pub to: Option<usize>,
    /// Recordings that started on or after this day (UTC).
    pub since: Option<NaiveDate>,
    /// Recordings that started on or before this day (UTC).
    pub until: Option<NaiveDate>,
    /// Exact meeting IDs; empty = all.
    pub meetings: Vec<String>,
    /// Front-end names (`Moodle`, `Pod`, `Greenlight`, `unknown`, or any `bbb-origin` value); empty = all.
    pub origins: Vec<String>,
    /// Applied again locally because some servers ignore `state`.
    pub states: StateFilter,
}

/// A selected recording and its position in the newest-first list.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub position: usize,
    pub recording: Recording,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("--from and --to count from 1 (1 = the newest recording); 0 is not a position")]
    ZeroPosition,
    #[error("--from {from} is after --to {to}: the range is empty (positions count from the newest, 1)")]
    FromAfterTo { from: usize, to: usize },
    #[error("--from {from} is beyond the last recording: only {count} recording(s) match the other filters")]
    FromBeyondEnd { from: usize, count: usize },
    #[error("--since {since} is after --until {until}")]
    SinceAfterUntil { since: NaiveDate, until: NaiveDate },
}

impl Selection {
    /// Range and date errors that need no recordings to detect, so commands can fail before any network call.
    pub fn validate(&self) -> Result<(), SelectionError> {
        if self.from == Some(0) || self.to == Some(0) {
            return Err(SelectionError::ZeroPosition);
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(SelectionError::FromAfterTo { from, to });
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(SelectionError::SinceAfterUntil { since, until });
        }
        Ok(())
    }

    fn keeps(&self, rec: &Recording) -> bool {
        let day = rec.start_time.date_naive();
        self.since.is_none_or(|since| day >= since)
            && self.until.is_none_or(|until| day <= until)
            && (self.meetings.is_empty() || self.meetings.iter().any(|m| m == &rec.meeting_id))
            && (self.origins.is_empty() || {
                let origin = origin_of(rec);
                self.origins.iter().any(|o| origin.matches(o))
            })
            && self.states.matches(&rec.state)
    }
}

/// Sorts newest first (ties broken by record ID, so the numbering is stable), filters, numbers, and cuts the range.
pub fn select(mut recordings: Vec<Recording>, selection: &Selection) -> Result<Vec<Entry>, SelectionError> {
    selection.validate()?;
    recordings.sort_by(|a, b| b.start_time.cmp(&a.start_time).then_with(|| a.record_id.cmp(&b.record_id)));
    let numbered: Vec<Entry> = recordings
        .into_iter()
        .filter(|r| selection.keeps(r))
        .enumerate()
        .map(|(i, recording)| Entry { position: i + 1, recording })
        .collect();
    let count = numbered.len();
    let from = selection.from.unwrap_or(1);
    if from > count && selection.from.is_some() {
        return Err(SelectionError::FromBeyondEnd { from, count });
    }
    let to = selection.to.unwrap_or(usize::MAX);
    Ok(numbered.into_iter().filter(|e| e.position >= from && e.position <= to).collect())
}

/// Parses `--since`/`--until` values: a day (`2024-09-01`) or an RFC 3339 instant (its UTC day is used).
pub fn parse_day(value: &str) -> Result<NaiveDate, String> {
    let value = value.trim();
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc).date_naive()))
        .map_err(|_| format!("`{value}` is not a date: expected YYYY-MM-DD, e.g. 2024-09-01"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(id: &str, day: u32, origin: &str) -> Recording {
        Recording {
            record_id: id.into(),
            meeting_id: format!("m-{id}"),
            internal_meeting_id: None,
            name: id.into(),
            state: bbb_api::RecordingState::Published,
            published: true,
            start_time: Utc.with_ymd_and_hms(2024, 3, day, 10, 0, 0).unwrap(),
            end_time: Utc.with_ymd_and_hms(2024, 3, day, 11, 0, 0).unwrap(),
            participants: None,
            raw_size: None,
            size: None,
            metadata: [("bbb-origin".to_string(), origin.to_string())].into(),
            formats: vec![],
            breakout: Default::default(),
        }
    }

    fn sample() -> Vec<Recording> {
        // Deliberately not in date order, as a server answers.
        vec![
            rec("c", 3, "Moodle"),
            rec("a", 1, "Moodle"),
            rec("e", 5, "Greenlight"),
            rec("b", 2, "Greenlight"),
            rec("d", 4, "Moodle"),
        ]
    }

    fn ids(entries: &[Entry]) -> Vec<(usize, &str)> {
        entries.iter().map(|e| (e.position, e.recording.record_id.as_str())).collect()
    }

    #[test]
    fn positions_count_from_the_newest() {
        let all = select(sample(), &Selection::default()).unwrap();
        assert_eq!(ids(&all), [(1, "e"), (2, "d"), (3, "c"), (4, "b"), (5, "a")]);
        let two = select(sample(), &Selection { from: Some(1), to: Some(2), ..Default::default() }).unwrap();
        assert_eq!(ids(&two), [(1, "e"), (2, "d")]);
    }

    #[test]
    fn filters_apply_before_numbering() {
        let sel = Selection { origins: vec!["moodle".into()], from: Some(2), to: Some(3), ..Default::default() };
        assert_eq!(ids(&select(sample(), &sel).unwrap()), [(2, "c"), (3, "a")]);
        let days = Selection {
            since: Some(NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()),
            until: Some(NaiveDate::from_ymd_opt(2024, 3, 4).unwrap()),
            ..Default::default()
        };
        assert_eq!(ids(&select(sample(), &days).unwrap()), [(1, "d"), (2, "c"), (3, "b")]);
        let meeting = Selection { meetings: vec!["m-b".into()], ..Default::default() };
        assert_eq!(ids(&select(sample(), &meeting).unwrap()), [(1, "b")]);
    }

    #[test]
    fn range_edges() {
        let sel = |from, to| Selection { from, to, ..Default::default() };
        assert_eq!(select(sample(), &sel(Some(0), None)), Err(SelectionError::ZeroPosition));
        assert_eq!(select(sample(), &sel(None, Some(0))), Err(SelectionError::ZeroPosition));
        assert_eq!(select(sample(), &sel(Some(4), Some(2))), Err(SelectionError::FromAfterTo { from: 4, to: 2 }));
        assert_eq!(select(sample(), &sel(Some(6), None)), Err(SelectionError::FromBeyondEnd { from: 6, count: 5 }));
        assert_eq!(ids(&select(sample(), &sel(Some(5), Some(99))).unwrap()), [(5, "a")]);
        assert_eq!(ids(&select(sample(), &sel(Some(3), Some(3))).unwrap()), [(3, "c")]);
        assert!(select(vec![], &Selection::default()).unwrap().is_empty());
    }

    #[test]
    fn days_parse_in_both_forms() {
        assert_eq!(parse_day("2024-09-01").unwrap(), NaiveDate::from_ymd_opt(2024, 9, 1).unwrap());
        assert_eq!(parse_day("2024-09-01T23:30:00-02:00").unwrap(), NaiveDate::from_ymd_opt(2024, 9, 2).unwrap());
        assert!(parse_day("01/09/2024").unwrap_err().contains("YYYY-MM-DD"));
    }
}
