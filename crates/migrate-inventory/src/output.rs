//! The printable forms of an inventory: an aligned table for people, JSON and CSV for tools, and a summary.

use std::collections::BTreeMap;
use std::io::{self, Write};

use bbb_api::Recording;
use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::origin::origin_of;
use crate::selection::Entry;

/// One recording in the JSON form (the field names are a documented interface).
#[derive(Debug, Clone, Serialize)]
pub struct InventoryRow {
    pub position: usize,
    pub record_id: String,
    pub meeting_id: String,
    pub name: String,
    pub origin: String,
    pub state: String,
    pub published: bool,
    pub start_time: String,
    pub end_time: String,
    pub duration_seconds: u64,
    pub participants: Option<u32>,
    pub raw_size: Option<u64>,
    pub metadata: BTreeMap<String, String>,
    pub formats: Vec<FormatRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FormatRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub length_minutes: Option<u32>,
    pub size: Option<u64>,
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl InventoryRow {
    pub fn new(entry: &Entry) -> Self {
        let rec = &entry.recording;
        Self {
            position: entry.position,
            record_id: rec.record_id.clone(),
            meeting_id: rec.meeting_id.clone(),
            name: rec.display_name().to_owned(),
            origin: origin_of(rec).to_string(),
            state: rec.state.to_string(),
            published: rec.published,
            start_time: rfc3339(&rec.start_time),
            end_time: rfc3339(&rec.end_time),
            duration_seconds: rec.duration().as_secs(),
            participants: rec.participants,
            raw_size: rec.raw_size,
            metadata: rec.metadata.clone(),
            formats: rec
                .formats
                .iter()
                .map(|f| FormatRow {
                    kind: f.kind.to_string(),
                    url: f.url.clone(),
                    length_minutes: f.length_minutes,
                    size: f.size,
                })
                .collect(),
        }
    }
}

/// Totals shown after every listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub total_seconds: u64,
    pub per_format: BTreeMap<String, usize>,
    pub per_origin: BTreeMap<String, usize>,
    pub per_state: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of<'a>(recordings: impl IntoIterator<Item = &'a Recording>) -> Self {
        let mut summary = Self::default();
        for rec in recordings {
            summary.count += 1;
            summary.total_seconds += rec.duration().as_secs();
            for format in &rec.formats {
                *summary.per_format.entry(format.kind.to_string()).or_default() += 1;
            }
            *summary.per_origin.entry(origin_of(rec).to_string()).or_default() += 1;
            *summary.per_state.entry(rec.state.to_string()).or_default() += 1;
        }
        summary
    }

    pub fn total_hours(&self) -> f64 {
        self.total_seconds as f64 / 3600.0
    }

    /// A few lines for people, e.g. under the table.
    pub fn to_text(&self) -> String {
        let list = |m: &BTreeMap<String, usize>| {
            if m.is_empty() {
                return "none".to_owned();
            }
            m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        format!(
            "{} recording(s), {:.1} hours\n  formats: {}\n  origins: {}\n  states:  {}",
            self.count,
            self.total_hours(),
            list(&self.per_format),
            list(&self.per_origin),
            list(&self.per_state)
        )
    }
}

/// `h:mm:ss`, the way people read durations.
pub fn clock(seconds: u64) -> String {
    format!("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// An aligned table that fits `width` columns (names are shortened, never the record ID).
pub fn table(entries: &[Entry], width: u16) -> String {
    let rows = entries.iter().map(|entry| {
        let rec = &entry.recording;
        let formats = rec.formats.iter().map(|f| f.kind.to_string()).collect::<Vec<_>>().join(",");
        vec![
            entry.position.to_string(),
            rec.start_time.format("%Y-%m-%d %H:%M").to_string(),
            clock(rec.duration().as_secs()),
            origin_of(rec).to_string(),
            rec.state.to_string(),
            if formats.is_empty() { "-".to_owned() } else { formats },
            rec.display_name().to_owned(),
            rec.record_id.clone(),
        ]
    });
    text_table(&["#", "start (UTC)", "length", "origin", "state", "formats", "name", "record id"], rows, width, &[6])
}

/// An aligned table for a terminal `width` wide: one line per row (grep-able) under a rule; only the
/// `wrapping` columns may wrap, and the first and third columns are right-aligned numbers when they look so.
pub fn text_table(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
    width: u16,
    wrapping: &[usize],
) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_style(comfy_table::TableComponent::HeaderLines, '─')
        .set_style(comfy_table::TableComponent::MiddleHeaderIntersections, '─')
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(header.iter().copied());
    for row in rows {
        table.add_row(row.into_iter().map(|cell| {
            let numeric = !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit() || c == ':');
            let cell_obj = Cell::new(cell);
            if numeric { cell_obj.set_alignment(CellAlignment::Right) } else { cell_obj }
        }));
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        if !wrapping.contains(&index) {
            column.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
    table.to_string()
}

/// One JSON array of [`InventoryRow`]s.
pub fn write_json(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let rows: Vec<InventoryRow> = entries.iter().map(InventoryRow::new).collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)
}

/// CSV with one line per recording; metadata as one JSON column so that no key is lost.
pub fn write_csv(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    write_csv_with(out, entries, &[], |_| Vec::new())
}

/// [`write_csv`] with more columns at the end (e.g. owners), `extra` giving their values for each entry.
pub fn write_csv_with(
    out: &mut impl Write,
    entries: &[Entry],
    extra_headers: &[&str],
    extra: impl Fn(&Entry) -> Vec<String>,
) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let headers = [
        "position",
        "record_id",
        "meeting_id",
        "name",
        "origin",
        "state",
        "published",
        "start_time",
        "end_time",
        "duration_seconds",
        "participants",
        "raw_size",
        "formats",
        "presentation_url",
        "video_url",
        "metadata",
    ];
    writer.write_record(headers.iter().chain(extra_headers))?;
    for entry in entries {
        let row = InventoryRow::new(entry);
        let rec = &entry.recording;
        let url_of = |kind| rec.format(&kind).map(|f| f.url.clone()).unwrap_or_default();
        let mut record = vec![
            row.position.to_string(),
            row.record_id,
            row.meeting_id,
            row.name,
            row.origin,
            row.state,
            row.published.to_string(),
            row.start_time,
            row.end_time,
            row.duration_seconds.to_string(),
            row.participants.map(|p| p.to_string()).unwrap_or_default(),
            row.raw_size.map(|p| p.to_string()).unwrap_or_default(),
            row.formats.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>().join(";"),
            rec.presentation_url().unwrap_or_default(),
            url_of(bbb_api::FormatKind::Video),
            serde_json::to_string(&row.metadata).map_err(io::Error::other)?,
        ];
        record.extend(extra(entry));
        writer.write_record(&record)?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbb_api::{FormatKind, PlaybackFormat, RecordingState};
    use chrono::TimeZone;

    fn entry() -> Entry {
        Entry {
            position: 1,
            recording: Recording {
                record_id: "abc-1700000000000".into(),
                meeting_id: "m1".into(),
                internal_meeting_id: None,
                name: "Réunion \"équipe\", bilan".into(),
                state: RecordingState::Published,
                published: true,
                start_time: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
                end_time: Utc.timestamp_millis_opt(1_700_003_725_000).unwrap(),
                participants: Some(4),
                raw_size: Some(123),
                size: None,
                metadata: [("bbb-origin".to_string(), "Moodle".to_string())].into(),
                formats: vec![PlaybackFormat {
                    kind: FormatKind::Presentation,
                    url: "https://h/playback/presentation/2.0/playback.html?meetingId=abc-1700000000000".into(),
                    length_minutes: Some(62),
                    processing_time_ms: None,
                    size: Some(9),
                    previews: vec![],
                }],
                breakout: Default::default(),
            },
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut out = Vec::new();
        write_json(&mut out, &[entry()]).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let row = &value[0];
        assert_eq!(row["position"], 1);
        assert_eq!(row["start_time"], "2023-11-14T22:13:20.000Z");
        assert_eq!(row["duration_seconds"], 3725);
        assert_eq!(row["metadata"]["bbb-origin"], "Moodle");
        assert_eq!(row["formats"][0]["type"], "presentation");
        assert_eq!(row["formats"][0]["length_minutes"], 62);
    }

    #[test]
    fn csv_quotes_awkward_names_and_converts_old_urls() {
        let mut out = Vec::new();
        write_csv(&mut out, &[entry()]).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[3], "Réunion \"équipe\", bilan");
        assert_eq!(&record[13], "https://h/playback/presentation/2.3/abc-1700000000000");
    }

    #[test]
    fn summary_counts_and_hours() {
        let e = entry();
        let s = Summary::of([&e.recording, &e.recording]);
        assert_eq!(s.count, 2);
        assert_eq!(s.total_seconds, 7450);
        assert_eq!(s.per_format["presentation"], 2);
        assert_eq!(s.per_origin["Moodle"], 2);
        assert!(s.to_text().contains("2 recording(s), 2.1 hours"), "{}", s.to_text());
        assert_eq!(clock(3725), "1:02:05");
    }
}
