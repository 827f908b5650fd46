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
    let escaped = activity
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    template.replace("{link}", link).replace("{activity}", &escaped).replace("{recordings}", &recordings.to_string())
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

/// The activities of `recordings` on `site`, with what `message_for` (or removal, when `None`) would change.
pub async fn plan(
    site: &MoodleSite,
    recordings: &[Recording],
    message_for: Option<&MessageFor>,
) -> Result<Vec<NoticeTarget>, SourceError> {
    let db = site.db.as_ref().map_err(|e| SourceError(format!("database unreachable ({e})")))?;
    let mine: Vec<&Recording> = recordings.iter().filter(|r| site.claims(r)).collect();
    let loaded = site.load(db, &mine).await?;
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for rec in &mine {
        if let Some(Ok((activity, _))) = find_activity(rec, &loaded) {
            *counts.entry(activity.id).or_default() += 1;
        }
    }
    let intros = read_intros(db, &site.table_prefix, &counts.keys().copied().collect::<Vec<_>>()).await?;
    Ok(counts
        .into_iter()
        .filter_map(|(id, count)| {
            let activity = loaded.activities.get(&id)?;
            let intro = intros.get(&id).cloned().flatten();
            let message = message_for.map(|f| f(&activity.name, count));
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
