//! `report`: the migration for managers, read from the ledger — every action joined with the recording the
//! inventory saw — as one self-contained HTML page, CSV or JSON.
//!
//! Thumbnails: the first preview image BBB lists for the recording (`<preview><images>` of its playback, kept in
//! the ledger's recording snapshot) is fetched once and embedded as a `data:` URI, so the page needs no access to
//! the old server (which is about to disappear). Every value that comes from the server or the front-ends is
//! HTML-escaped; the page has no script.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use migrate_ledger::{ActionFilter, ActionRow, StoredRecording};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{ReportArgs, ReportFormat};

/// Largest preview image embedded.
const MAX_THUMBNAIL_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub key: String,
    pub kind: String,
    pub record_id: Option<String>,
    pub name: String,
    pub origin: String,
    pub start: Option<DateTime<Utc>>,
    pub duration_secs: u64,
    pub status: String,
    pub owners: Vec<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    pub finished_at: Option<DateTime<Utc>>,
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Count {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub hours_done: f64,
}

impl Count {
    fn add(&mut self, line: &Line) {
        self.total += 1;
        if line.status == "done" {
            self.done += 1;
            self.hours_done += line.duration_secs as f64 / 3600.0;
        }
        if line.status == "failed" {
            self.failed += 1;
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub ledger: String,
    pub totals: BTreeMap<String, u64>,
    pub recordings: u64,
    pub hours_migrated: f64,
    pub hours_total: f64,
    pub per_kind: BTreeMap<String, Count>,
    pub per_origin: BTreeMap<String, Count>,
    pub per_owner: BTreeMap<String, Count>,
    pub failures: Vec<Line>,
    pub actions: Vec<Line>,
}

/// Who owns a claim file is decided in Pod, when someone claims it.
const CLAIM_OWNER: &str = "(claim: chosen in Pod)";

pub async fn run(explicit: Option<&Path>, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let loaded = migrate_config::load(explicit)?;
    let ledger = super::inventory::open_ledger(&loaded.config.ledger.database).await?;
    let report = build(&ledger, args.mode.map(|m| m.as_str())).await?;
    ledger.close().await;
    let bytes = match args.format {
        ReportFormat::Json => serde_json::to_vec_pretty(&report)?,
        ReportFormat::Csv => csv(&report)?,
        ReportFormat::Html => {
            let thumbs = if args.no_thumbnails { HashMap::new() } else { thumbnails(&report.actions).await };
            html(&report, &thumbs).into_bytes()
        }
    };
    std::fs::write(&args.output, bytes).with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "{}: {} recording(s), {} done ({:.1} h), {} failed",
        args.output.display(),
        report.recordings,
        report.totals.get("done").copied().unwrap_or(0),
        report.hours_migrated,
        report.failures.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The report's figures from the ledger; `kind` limits it to one mode (default: import and claim).
pub async fn build(ledger: &migrate_ledger::Ledger, kind: Option<&str>) -> anyhow::Result<Report> {
    let kinds: Vec<&str> = kind.map_or_else(|| vec!["import", "claim"], |k| vec![k]);
    let mut actions = Vec::new();
    for kind in kinds {
        actions.extend(ledger.actions(&ActionFilter { kind: Some(kind.to_owned()), ..Default::default() }).await?);
    }
    let recordings: HashMap<String, StoredRecording> =
        ledger.recordings().await?.into_iter().map(|r| (r.record_id.clone(), r)).collect();
    let lines: Vec<Line> =
        actions.into_iter().map(|a| line(a.clone(), a.record_id.as_ref().and_then(|id| recordings.get(id)))).collect();
    let mut report = Report {
        generated_at: Utc::now(),
        ledger: ledger.display_url(),
        totals: BTreeMap::new(),
        recordings: lines.len() as u64,
        hours_migrated: 0.0,
        hours_total: 0.0,
        per_kind: BTreeMap::new(),
        per_origin: BTreeMap::new(),
        per_owner: BTreeMap::new(),
        failures: lines.iter().filter(|l| l.status == "failed").cloned().collect(),
        actions: Vec::new(),
    };
    for l in &lines {
        *report.totals.entry(l.status.clone()).or_default() += 1;
        report.hours_total += l.duration_secs as f64 / 3600.0;
        if l.status == "done" {
            report.hours_migrated += l.duration_secs as f64 / 3600.0;
        }
        report.per_kind.entry(l.kind.clone()).or_default().add(l);
        report.per_origin.entry(l.origin.clone()).or_default().add(l);
        if l.owners.is_empty() {
            let who = if l.kind == "claim" { CLAIM_OWNER } else { "(none)" };
            report.per_owner.entry(who.to_owned()).or_default().add(l);
        }
        for owner in &l.owners {
            report.per_owner.entry(owner.clone()).or_default().add(l);
        }
    }
    report.actions = lines;
    Ok(report)
}

fn line(a: ActionRow, rec: Option<&StoredRecording>) -> Line {
    let d = &a.details;
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    // Import actions hold the item (older versions: only its rows); owners are the rows' users.
    let rows = d.get("rows").or(if d.is_array() { Some(d) } else { None });
    let owners: Vec<String> = rows
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.pointer("/owner/user/username").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let duration_secs = rec
        .map(|r| (r.end_time - r.start_time).num_seconds().max(0) as u64)
        .or_else(|| d.get("duration_secs").and_then(Value::as_u64))
        .unwrap_or(0);
    let thumbnail_url = rec.and_then(|r| {
        r.snapshot
            .get("formats")?
            .as_array()?
            .iter()
            .find_map(|f| f.get("previews")?.as_array()?.first()?.get("url")?.as_str().map(str::to_owned))
    });
    Line {
        name: rec.map(|r| r.name.clone()).or_else(|| text("name")).unwrap_or_default(),
        origin: rec.and_then(|r| r.origin.clone()).or_else(|| text("origin")).unwrap_or_else(|| "unknown".into()),
        start: rec
            .map(|r| r.start_time)
            .or_else(|| d.get("start_at").and_then(|s| serde_json::from_value(s.clone()).ok())),
        duration_secs,
        status: a.status.to_string(),
        owners,
        output: a.output_path.clone().or_else(|| (a.kind == "import").then(|| a.target.clone())),
        error: a.last_error.clone().filter(|_| a.status != migrate_ledger::ActionStatus::Done),
        attempts: a.attempts,
        finished_at: a.finished_at,
        thumbnail_url,
        key: a.key,
        kind: a.kind,
        record_id: a.record_id,
    }
}

fn csv(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "key",
        "kind",
        "record_id",
        "name",
        "origin",
        "start",
        "duration_secs",
        "status",
        "owners",
        "output",
        "error",
        "attempts",
        "finished_at",
    ])?;
    for l in &report.actions {
        w.write_record([
            l.key.clone(),
            l.kind.clone(),
            l.record_id.clone().unwrap_or_default(),
            l.name.clone(),
            l.origin.clone(),
            l.start.map(|t| t.to_rfc3339()).unwrap_or_default(),
            l.duration_secs.to_string(),
            l.status.clone(),
            l.owners.join(" "),
            l.output.clone().unwrap_or_default(),
            l.error.clone().unwrap_or_default(),
            l.attempts.to_string(),
            l.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Each recording's first preview image as a `data:` URI, fetched 8 at a time; failures just leave it out.
async fn thumbnails(lines: &[Line]) -> HashMap<String, String> {
    let Ok(http) =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).connect_timeout(Duration::from_secs(5)).build()
    else {
        return HashMap::new();
    };
    let mut urls: Vec<&str> = lines.iter().filter_map(|l| l.thumbnail_url.as_deref()).collect();
    urls.sort_unstable();
    urls.dedup();
    futures_util::stream::iter(urls)
        .map(|url| {
            let http = http.clone();
            async move {
                let response = http.get(url).send().await.ok()?.error_for_status().ok()?;
                let mime = response.headers().get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?.to_ascii_lowercase();
                let mime = mime.split(';').next()?.trim().to_owned();
                if !matches!(mime.as_str(), "image/png" | "image/jpeg" | "image/gif" | "image/webp") {
                    return None;
                }
                let body = response.bytes().await.ok()?;
                (body.len() <= MAX_THUMBNAIL_BYTES)
                    .then(|| (url.to_owned(), format!("data:{mime};base64,{}", base64(&body))))
            }
        })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// HTML text and attribute escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn hours(h: f64) -> String {
    format!("{h:.1} h")
}

fn minutes(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.6em}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;\
vertical-align:top}th{background:#f0f0f0}td.n{text-align:right}.done{color:#176b2c}.failed{color:#b00020}\
.running{color:#8a5a00}img{width:120px;height:auto;display:block}.err{font-family:monospace;font-size:.9em;\
white-space:pre-wrap}.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;padding:.6em 1em;\
border-radius:6px}.card b{display:block;font-size:1.4em}";

fn count_table(out: &mut String, title: &str, first: &str, rows: &BTreeMap<String, Count>) {
    out.push_str(&format!(
        "<h2>{}</h2><table><tr><th>{}</th><th>recordings</th><th>done</th><th>failed</th><th>hours done</th></tr>",
        esc(title),
        esc(first)
    ));
    for (name, c) in rows {
        out.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(name),
            c.total,
            c.done,
            c.failed,
            hours(c.hours_done)
        ));
    }
    out.push_str("</table>");
}

/// One self-contained page: inline CSS, images as `data:` URIs, no script, every remote value escaped.
pub fn html(report: &Report, thumbs: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(4096 + report.actions.len() * 600);
    out.push_str("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>bbb-migrate report</title>");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">");
    out.push_str(&format!("<style>{STYLE}</style></head><body><h1>BigBlueButton recordings migration</h1>"));
    out.push_str(&format!(
        "<p>Generated {} from the ledger {}.</p>",
        esc(&report.generated_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        esc(&report.ledger)
    ));
    let total = |s: &str| report.totals.get(s).copied().unwrap_or(0);
    out.push_str("<div class=cards>");
    for (label, value) in [
        ("recordings", report.recordings.to_string()),
        ("done", total("done").to_string()),
        ("failed", total("failed").to_string()),
        ("running", total("running").to_string()),
        ("pending", total("pending").to_string()),
        ("hours migrated", format!("{:.1} / {:.1}", report.hours_migrated, report.hours_total)),
    ] {
        out.push_str(&format!("<div class=card><b>{}</b>{}</div>", esc(&value), esc(label)));
    }
    out.push_str("</div>");
    count_table(&mut out, "Per mode", "mode", &report.per_kind);
    count_table(&mut out, "Per origin", "origin", &report.per_origin);
    count_table(&mut out, "Per owner", "owner", &report.per_owner);
    out.push_str(&format!("<h2>Failures ({})</h2>", report.failures.len()));
    if report.failures.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        out.push_str("<table><tr><th>recording</th><th>mode</th><th>attempts</th><th>reason</th></tr>");
        for f in &report.failures {
            out.push_str(&format!(
                "<tr><td>{}<br><small>{}</small></td><td>{}</td><td class=n>{}</td><td class=err>{}</td></tr>",
                esc(&f.name),
                esc(f.record_id.as_deref().unwrap_or("")),
                esc(&f.kind),
                f.attempts,
                esc(f.error.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Recordings</h2><table><tr><th></th><th>name</th><th>origin</th><th>date</th><th>length</th>");
    out.push_str("<th>mode</th><th>status</th><th>owners</th><th>result</th></tr>");
    for l in &report.actions {
        let thumb = l
            .thumbnail_url
            .as_ref()
            .and_then(|u| thumbs.get(u))
            .map(|data| format!("<img alt=\"\" src=\"{}\">", esc(data)))
            .unwrap_or_default();
        let result = match (&l.error, &l.output) {
            (Some(e), _) => format!("<span class=err>{}</span>", esc(e)),
            (None, Some(o)) => esc(o),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "<tr><td>{thumb}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td>\
             <td class=\"{}\">{}</td><td>{}</td><td>{result}</td></tr>",
            esc(&l.name),
            esc(l.record_id.as_deref().unwrap_or("")),
            esc(&l.origin),
            esc(&l.start.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()),
            minutes(l.duration_secs),
            esc(&l.kind),
            esc(&l.status),
            esc(&l.status),
            esc(&l.owners.join(", ")),
        ));
    }
    out.push_str("</table></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_remote() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (raw, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn a_hostile_name_stays_text() {
        let line = Line {
            key: "import:x".into(),
            kind: "import".into(),
            record_id: Some("x\"><img src=x onerror=alert(1)>".into()),
            name: "<script>alert(1)</script>".into(),
            origin: "Moodle".into(),
            start: None,
            duration_secs: 90,
            status: "failed".into(),
            owners: vec!["<b>bob</b>".into()],
            output: None,
            error: Some("</td><script>".into()),
            attempts: 3,
            finished_at: None,
            thumbnail_url: None,
        };
        let mut report = Report {
            generated_at: Utc::now(),
            ledger: "sqlite://l".into(),
            totals: BTreeMap::new(),
            recordings: 1,
            hours_migrated: 0.0,
            hours_total: 0.0,
            per_kind: BTreeMap::new(),
            per_origin: BTreeMap::new(),
            per_owner: BTreeMap::new(),
            failures: vec![line.clone()],
            actions: vec![line],
        };
        report.per_owner.insert("<b>bob</b>".into(), Count::default());
        let page = html(&report, &HashMap::new());
        assert!(!page.contains("<script") && !page.contains("<b>bob") && !page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
