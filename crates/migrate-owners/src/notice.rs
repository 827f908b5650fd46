//! The information message written into the description (`intro`) of Moodle activities whose recordings moved
//! (the old script's `SCRIPT_INFORM`), done so that it can be run again and taken back.
//!
//! The message sits between two HTML comments appended to `intro`: adding it again changes nothing, a new
//! template replaces it, `remove` takes exactly it out and leaves the rest of the description byte for byte.
//! Writes are compare-and-set on the description read just before, so a teacher editing it at the same time is
//! never overwritten; the course's cache revision is bumped as Moodle does, so course pages show the change.

use std::collections::BTreeMap;

use bbb_api::Recording;
use migrate_db::{BATCH, Db, with_db};

use crate::SourceError;
use crate::moodle::{MoodleSite, find_activity};

pub const START_MARKER: &str = "<!-- bbb-migrate:notice -->";
pub const END_MARKER: &str = "<!-- /bbb-migrate:notice -->";

/// `intro` with `message` as its notice (`None`: without any notice); `None` when that is what it already is.
pub fn with_notice(intro: Option<&str>, message: Option<&str>) -> Option<String> {
    let current = intro.unwrap_or_default();
    let without = strip(current);
    let wanted = match message {
        Some(message) => format!("{without}{START_MARKER}{message}{END_MARKER}"),
        None => without.to_owned(),
    };
    (wanted != current).then_some(wanted)
}

/// `intro` without the notice (and only it).
fn strip(intro: &str) -> &str {
    match intro.find(START_MARKER) {
        Some(start) if intro[start..].contains(END_MARKER) && intro[start..].trim_end().ends_with(END_MARKER) => {
            &intro[..start]
        }
        _ => intro,
    }
}

/// Fills the template's `{link}`, `{activity}` and `{recordings}`; the activity name (a teacher's text) is
/// HTML-escaped for an element or an attribute, single- or double-quoted.
pub fn render(template: &str, link: &str, activity: &str, recordings: usize) -> String {
    render_with_archive(template, link, "", activity, recordings)
}

/// [`render`], with `{archive}` filled with `archive` (HTML made by [`archive_links`], inserted as is).
pub fn render_with_archive(template: &str, link: &str, archive: &str, activity: &str, recordings: usize) -> String {
    template
        .replace("{link}", link)
        .replace("{activity}", &escape(activity))
        .replace("{recordings}", &recordings.to_string())
        .replace("{archive}", archive)
}

/// HTML-escaped for an element or an attribute, single- or double-quoted.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The archived playback of `rec` under the archive's public address `base_url`: the presentation player
/// (`/playback/presentation/2.3/<id>`), else the video page (`/playback/video/<id>/`), as `archive` lays them out.
pub fn archived_playback_url(base_url: &str, rec: &Recording) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    if rec.format(&bbb_api::FormatKind::Presentation).is_some() {
        Some(format!("{base}/playback/presentation/2.3/{}", rec.record_id))
    } else if rec.format(&bbb_api::FormatKind::Video).is_some() {
        Some(format!("{base}/playback/video/{}/", rec.record_id))
    } else {
        None
    }
}

/// What `{archive}` becomes for an activity: a link to the archived playback of each of its recordings that
/// `is_archived`, oldest first, named by the recording's name and day, separated by `<br>`; empty when none is.
pub fn archive_links(base_url: &str, recordings: &[&Recording], is_archived: &dyn Fn(&str) -> bool) -> String {
    let mut archived: Vec<&&Recording> = recordings.iter().filter(|r| is_archived(&r.record_id)).collect();
    archived.sort_by_key(|r| (r.start_time, r.record_id.clone()));
    archived
        .iter()
        .filter_map(|r| {
            let url = archived_playback_url(base_url, r)?;
            Some(format!(
                "<a href=\"{}\">{} ({})</a>",
                escape(&url),
                escape(r.display_name()),
                r.start_time.format("%Y-%m-%d")
            ))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// What happens to one activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Add,
    Update,
    Remove,
    Unchanged,
}

/// One activity whose description gets (or loses) the notice.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeTarget {
    pub site: String,
    pub activity: i64,
    pub course: i64,
    pub name: String,
    pub recordings: usize,
    pub change: Change,
    #[serde(skip)]
    intro: Option<String>,
    #[serde(skip)]
    new_intro: Option<String>,
}

/// The message for an activity, from its name and how many of its recordings moved.
pub type MessageFor = dyn Fn(&str, usize) -> String;

/// The message for an activity, from its name and its recordings (for `{archive}`).
pub type MessageForRecordings<'a> = dyn Fn(&str, &[&Recording]) -> String + 'a;

/// The activities of `recordings` on `site`, with what `message_for` (or removal, when `None`) would change.
pub async fn plan(
    site: &MoodleSite,
    recordings: &[Recording],
    message_for: Option<&MessageFor>,
) -> Result<Vec<NoticeTarget>, SourceError> {
    let by_count = message_for.map(|f| move |name: &str, recs: &[&Recording]| f(name, recs.len()));
    plan_with(site, recordings, by_count.as_ref().map(|f| f as &MessageForRecordings<'_>)).await
}

/// [`plan`] with a message made from each activity's recordings.
pub async fn plan_with(
    site: &MoodleSite,
    recordings: &[Recording],
    message_for: Option<&MessageForRecordings<'_>>,
) -> Result<Vec<NoticeTarget>, SourceError> {
    let db = site.db.as_ref().map_err(|e| SourceError(format!("database unreachable ({e})")))?;
    let mine: Vec<&Recording> = recordings.iter().filter(|r| site.claims(r)).collect();
    let loaded = site.load(db, &mine).await?;
    let mut by_activity: BTreeMap<i64, Vec<&Recording>> = BTreeMap::new();
    for rec in &mine {
        if let Some(Ok((activity, _))) = find_activity(rec, &loaded) {
            by_activity.entry(activity.id).or_default().push(rec);
        }
    }
    let intros = read_intros(db, &site.table_prefix, &by_activity.keys().copied().collect::<Vec<_>>()).await?;
    Ok(by_activity
        .into_iter()
        .filter_map(|(id, recs)| {
            let count = recs.len();
            let activity = loaded.activities.get(&id)?;
            let intro = intros.get(&id).cloned().flatten();
            let message = message_for.map(|f| f(&activity.name, &recs));
            let new_intro = with_notice(intro.as_deref(), message.as_deref());
            let had = intro.as_deref().is_some_and(|i| strip(i).len() != i.len());
            let change = match (&new_intro, &message, had) {
                (None, _, _) => Change::Unchanged,
                (Some(_), Some(_), false) => Change::Add,
                (Some(_), Some(_), true) => Change::Update,
                (Some(_), None, _) => Change::Remove,
            };
            Some(NoticeTarget {
                site: site.server_name.clone(),
                activity: id,
                course: activity.course,
                name: activity.name.clone(),
                recordings: count,
                change,
                intro,
                new_intro,
            })
        })
        .collect())
}

async fn read_intros(db: &Db, prefix: &str, ids: &[i64]) -> Result<BTreeMap<i64, Option<String>>, SourceError> {
    let e = db.engine();
    let table = e.table(prefix, "bigbluebuttonbn")?;
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(BATCH) {
        let sql = format!("SELECT id, intro FROM {table} WHERE id IN ({})", e.params(1, chunk.len()));
        let rows: Vec<(i64, Option<String>)> = with_db!(db, pool => {
            let mut q = migrate_db::sqlx::query_as(&sql);
            for id in chunk { q = q.bind(*id); }
            q.fetch_all(pool).await
        })
        .map_err(|err| SourceError(format!("reading {table}: {err}")))?;
        out.extend(rows);
    }
    Ok(out)
}

/// How applying went for one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// The description changed since it was read: left alone (run again to retry).
    ChangedMeanwhile,
}

/// Writes the planned changes, one activity per statement. A database that refuses writes fails at the first
/// activity with a message that says so; nothing is half-written (each UPDATE is atomic).
pub async fn apply(
    site: &MoodleSite,
    targets: &[NoticeTarget],
    now_epoch: i64,
) -> Result<Vec<(i64, Applied)>, SourceError> {
    let db = site.db.as_ref().map_err(|e| SourceError(format!("database unreachable ({e})")))?;
    let e = db.engine();
    let table = e.table(&site.table_prefix, "bigbluebuttonbn")?;
    let courses = e.table(&site.table_prefix, "course")?;
    let mut results = Vec::new();
    for target in targets.iter().filter(|t| t.change != Change::Unchanged) {
        let Some(new_intro) = &target.new_intro else { continue };
        let old = target.intro.clone().unwrap_or_default();
        let sql = format!(
            "UPDATE {table} SET intro = {}, timemodified = {} WHERE id = {} AND COALESCE(intro, '') = {}",
            e.param(1),
            e.param(2),
            e.param(3),
            e.param(4)
        );
        let done = with_db!(db, pool => {
            migrate_db::sqlx::query(&sql).bind(new_intro.as_str()).bind(now_epoch).bind(target.activity).bind(old.as_str()).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(|err| write_error(&table, err))?;
        if done == 0 {
            results.push((target.activity, Applied::ChangedMeanwhile));
            continue;
        }
        // Moodle's increment_revision_number(): course pages cache activity descriptions.
        let bump =
            format!("UPDATE {courses} SET cacherev = GREATEST(cacherev + 1, {}) WHERE id = {}", e.param(1), e.param(2));
        with_db!(db, pool => migrate_db::sqlx::query(&bump).bind(now_epoch).bind(target.course).execute(pool).await.map(|_| ()))
            .map_err(|err| write_error(&courses, err))?;
        results.push((target.activity, Applied::Written));
    }
    Ok(results)
}

fn write_error(table: &str, error: migrate_db::sqlx::Error) -> SourceError {
    let text = error.to_string();
    let refused = ["read-only", "read only", "permission denied", "command denied", "readonly"]
        .iter()
        .any(|k| text.to_ascii_lowercase().contains(k));
    if refused {
        SourceError(format!(
            "the Moodle database refuses writes to {table} ({text}): the notice needs UPDATE on the \
             bigbluebuttonbn and course tables; nothing was changed for this activity"
        ))
    } else {
        SourceError(format!("writing {table}: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_is_added_once_updated_and_removed_exactly() {
        let intro = "<p>Cours du mardi</p>";
        let added = with_notice(Some(intro), Some("<p>A</p>")).unwrap();
        assert_eq!(added, format!("{intro}{START_MARKER}<p>A</p>{END_MARKER}"));
        assert_eq!(with_notice(Some(&added), Some("<p>A</p>")), None, "idempotent");
        let updated = with_notice(Some(&added), Some("<p>B</p>")).unwrap();
        assert_eq!(updated, format!("{intro}{START_MARKER}<p>B</p>{END_MARKER}"));
        assert_eq!(with_notice(Some(&updated), None).unwrap(), intro, "removal gives the original back");
        assert_eq!(with_notice(Some(intro), None), None, "nothing to remove");
        assert_eq!(with_notice(None, Some("x")).unwrap(), format!("{START_MARKER}x{END_MARKER}"));
    }

    #[test]
    fn a_marker_typed_by_a_teacher_in_the_middle_is_not_taken_for_ours() {
        let intro = format!("<p>{START_MARKER} quoted</p><p>then more text</p>");
        assert_eq!(strip(&intro), intro);
    }

    #[test]
    fn archive_links_name_only_archived_recordings_oldest_first() {
        use chrono::TimeZone;
        let rec = |id: &str, name: &str, ms: i64, kind: bbb_api::FormatKind| Recording {
            record_id: id.to_owned(),
            meeting_id: "m".into(),
            internal_meeting_id: None,
            name: name.to_owned(),
            state: bbb_api::RecordingState::Published,
            published: true,
            start_time: chrono::Utc.timestamp_millis_opt(ms).unwrap(),
            end_time: chrono::Utc.timestamp_millis_opt(ms + 60_000).unwrap(),
            participants: None,
            raw_size: None,
            size: None,
            metadata: Default::default(),
            formats: vec![bbb_api::PlaybackFormat {
                kind,
                url: format!("https://old/playback/x/{id}"),
                length_minutes: None,
                processing_time_ms: None,
                size: None,
                previews: vec![],
            }],
            breakout: Default::default(),
        };
        let a = rec("a-1", "Cours <1>", 1_710_000_000_000, bbb_api::FormatKind::Presentation);
        let b = rec("b-2", "TD", 1_700_000_000_000, bbb_api::FormatKind::Video);
        let c = rec("c-3", "Not archived", 1_690_000_000_000, bbb_api::FormatKind::Presentation);
        let archived = |id: &str| id != "c-3";
        let html = archive_links("https://archive.univ.fr/", &[&a, &b, &c], &archived);
        assert_eq!(
            html,
            "<a href=\"https://archive.univ.fr/playback/video/b-2/\">TD (2023-11-14)</a><br>\
             <a href=\"https://archive.univ.fr/playback/presentation/2.3/a-1\">Cours &lt;1&gt; (2024-03-09)</a>"
        );
        assert_eq!(archive_links("https://archive.univ.fr", &[&c], &archived), "");
        assert_eq!(render_with_archive("<p>{activity}: {archive}</p>", "", &html, "A", 2), format!("<p>A: {html}</p>"));
    }

    #[test]
    fn templates_fill_and_escape() {
        assert_eq!(
            render("<a href=\"{link}\">{activity}</a>: {recordings}", "https://pod.univ.fr/", "TD <1> & co", 3),
            "<a href=\"https://pod.univ.fr/\">TD &lt;1&gt; &amp; co</a>: 3"
        );
        assert_eq!(
            render("<b title='{activity}'>{activity}</b>", "", "x' onmouseover='alert(1)\"><img>", 1),
            "<b title='x&#39; onmouseover=&#39;alert(1)&quot;&gt;&lt;img&gt;'>x&#39; onmouseover=&#39;alert(1)&quot;&gt;&lt;img&gt;</b>"
        );
    }
}
