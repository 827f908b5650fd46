//! File names in the recorder directory, as Pod admins know them from the old script (slug of the first 40
//! characters of the name + the date), made unique and kept within Pod's 200-character path columns.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Longest full path Pod stores (`recorder_recordingfiletreatment.file`, `recorder_recording.source_file`).
pub const POD_PATH_MAX: usize = 200;

/// Django's `slugify`: accents folded to ASCII, anything but letters, digits, `_`, `-` and spaces dropped,
/// lower case, runs of spaces and dashes turned into one dash, dashes and underscores trimmed at both ends.
pub fn slugify(text: &str) -> String {
    let folded: String = text.nfkd().filter(char::is_ascii).collect::<String>().to_lowercase();
    let kept: String =
        folded.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || c.is_whitespace()).collect();
    let mut slug = String::with_capacity(kept.len());
    let mut pending_dash = false;
    for c in kept.chars() {
        if c == '-' || c.is_whitespace() {
            pending_dash = true;
        } else {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c);
        }
    }
    slug.trim_matches(|c| c == '-' || c == '_').to_owned()
}

/// Where Pod's scan says a file of the recorder directory is: `os.path.join(DEFAULT_RECORDER_PATH, directory,
/// name)`, the exact text Pod stores and compares.
pub fn pod_join(recorder_path: &str, directory: &str, file_name: &str) -> String {
    let mut path = recorder_path.to_owned();
    for part in [directory, file_name] {
        if part.starts_with('/') {
            path = part.to_owned();
        } else {
            if !path.is_empty() && !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(part);
        }
    }
    path
}

/// The claim file name of a recording: `<slug of name[..40] + date>-<8 hex of the recordID>.<ext>`. The hash
/// makes two meetings with the same name on the same day distinct and keeps the name the same on every run;
/// the slug is shortened so that the full path fits in `max_path` characters. `None` when even a bare hash
/// does not fit (the recorder path itself is too long).
pub fn claim_file_name(
    name: &str,
    start: DateTime<Utc>,
    record_id: &str,
    extension: &str,
    dir_path_len: usize,
    max_path: usize,
) -> Option<String> {
    let head: String = name.chars().take(40).collect();
    let mut slug = slugify(&format!("{head} {}", start.format("%Y-%m-%d")));
    if slug.is_empty() {
        slug = "recording".to_owned();
    }
    let digest = Sha256::digest(record_id.as_bytes());
    let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    // dir + '/' + slug + '-' + tag + '.' + ext
    let fixed = dir_path_len + 1 + 1 + tag.len() + 1 + extension.len();
    let room = max_path.checked_sub(fixed)?;
    if room == 0 {
        return Some(format!("{tag}.{extension}"));
    }
    if slug.len() > room {
        slug.truncate(room);
        slug = slug.trim_end_matches(['-', '_']).to_owned();
    }
    Some(if slug.is_empty() { format!("{tag}.{extension}") } else { format!("{slug}-{tag}.{extension}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn slugify_matches_django() {
        assert_eq!(slugify("Cours de droit 2024-03-12"), "cours-de-droit-2024-03-12");
        assert_eq!(slugify("  Réunion d'équipe : bilan  "), "reunion-dequipe-bilan");
        assert_eq!(slugify("Œuvre — « Ça »"), "uvre-ca");
        assert_eq!(slugify("__x--y__"), "x-y");
        assert_eq!(slugify("日本語"), "");
        assert_eq!(slugify("a_b"), "a_b");
    }

    #[test]
    fn pod_join_is_os_path_join() {
        assert_eq!(pod_join("/data/ftp-pod/ftp/", "bbb", "a.mp4"), "/data/ftp-pod/ftp/bbb/a.mp4");
        assert_eq!(pod_join("/data/ftp-pod/ftp", "bbb", "a.mp4"), "/data/ftp-pod/ftp/bbb/a.mp4");
        assert_eq!(pod_join("/data", "/abs", "a.mp4"), "/abs/a.mp4");
    }

    #[test]
    fn claim_names_are_stable_unique_and_short_enough() {
        let day = Utc.with_ymd_and_hms(2024, 3, 12, 10, 0, 0).unwrap();
        let a = claim_file_name("Cours de droit", day, "aaaa-1", "mp4", 20, POD_PATH_MAX).unwrap();
        let b = claim_file_name("Cours de droit", day, "bbbb-2", "mp4", 20, POD_PATH_MAX).unwrap();
        assert!(a.starts_with("cours-de-droit-2024-03-12-") && a.ends_with(".mp4"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, claim_file_name("Cours de droit", day, "aaaa-1", "mp4", 20, POD_PATH_MAX).unwrap());
        let long = "x".repeat(300);
        let name = claim_file_name(&long, day, "id", "m4v", 150, POD_PATH_MAX).unwrap();
        assert!(150 + 1 + name.len() <= POD_PATH_MAX, "{name}");
        assert!(claim_file_name("x", day, "id", "mp4", 199, POD_PATH_MAX).is_none());
        assert_eq!(
            claim_file_name("!!!", day, "id", "mp4", 1, POD_PATH_MAX).unwrap().len(),
            "2024-03-12-12345678.mp4".len()
        );
    }

    proptest::proptest! {
        #[test]
        fn slugs_are_safe_file_names(name in "\\PC{0,80}", dir in 1usize..150) {
            let slug = slugify(&name);
            proptest::prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
            proptest::prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'));
            proptest::prop_assert_eq!(slugify(&slug), slug.clone());
            let day = Utc.with_ymd_and_hms(2024, 3, 12, 10, 0, 0).unwrap();
            let file = claim_file_name(&name, day, &name, "mp4", dir, POD_PATH_MAX).unwrap();
            proptest::prop_assert!(dir + 1 + file.len() <= POD_PATH_MAX);
            proptest::prop_assert!(!file.contains('/') && !file.starts_with('.'));
        }
    }
}
