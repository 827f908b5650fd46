//! Generates a believable old server's worth of recordings: the mix of front-ends (Moodle, Pod, Greenlight,
//! unknown), states, formats, URL forms and awkward names that a real decommissioned server holds.

use std::collections::BTreeMap;

use bbb_api::{Breakout, FormatKind, PlaybackFormat, PreviewImage, Recording, RecordingState};
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sha1::{Digest, Sha1};

use crate::recording::DemoRecording;

/// Host names the generated front-ends use in their metadata and callback URLs.
pub const MOODLE_HOST: &str = "moodle.demo.univ.fr";
pub const POD_HOST: &str = "pod.demo.univ.fr";
pub const GREENLIGHT_HOST: &str = "greenlight.demo.univ.fr";

/// What to generate.
#[derive(Debug, Clone)]
pub struct CatalogueOptions {
    pub count: usize,
    pub seed: u64,
    /// The demo server's web root (`http://127.0.0.1:PORT/`): playback URLs point there.
    pub web_root: String,
    /// The newest recording starts shortly before this instant; older ones go back about two years.
    pub newest: DateTime<Utc>,
}

impl CatalogueOptions {
    pub fn new(count: usize, web_root: impl Into<String>) -> Self {
        Self {
            count,
            seed: 2024,
            web_root: web_root.into(),
            newest: Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).single().expect("valid date"),
        }
    }
}

/// The front-end a generated recording comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontend {
    Moodle,
    Pod,
    Greenlight,
    Unknown,
}

const COURSES: &[&str] = &[
    "Économie générale",
    "Mathématiques pour l'ingénieur",
    "Droit des contrats & responsabilité",
    "Biologie cellulaire",
    "Histoire de l'art moderne",
    "Physique quantique <niveau 2>",
    "Anglais B2 — oral",
    "Méthodologie du mémoire",
    "Chimie organique",
    "Réseaux et télécoms",
];
const SESSIONS: &[&str] =
    &["Cours magistral", "TD", "Séance de révision", "Soutenance", "Réunion pédagogique", "Permanence", "Amphi"];

/// Generates `options.count` recordings, deterministic from `options.seed`.
pub fn generate(options: &CatalogueOptions) -> Vec<DemoRecording> {
    let web_root = options.web_root.trim_end_matches('/');
    (0..options.count).map(|index| generate_one(options, web_root, index)).collect()
}

fn generate_one(options: &CatalogueOptions, web_root: &str, index: usize) -> DemoRecording {
    let seed = options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index as u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let frontend = match rng.random_range(0..100) {
        0..40 => Frontend::Moodle,
        40..65 => Frontend::Pod,
        65..85 => Frontend::Greenlight,
        _ => Frontend::Unknown,
    };
    // Spread over two years, newest first by index (the server still answers in recordID order).
    let age_minutes = (index as i64) * 97 + rng.random_range(0..60);
    let start = options.newest - Duration::minutes(age_minutes) - Duration::milliseconds(rng.random_range(0..60_000));
    let duration_ms: u64 = match rng.random_range(0..10) {
        0 => rng.random_range(60_000..300_000),
        1..=7 => rng.random_range(1_200_000..5_400_000),
        _ => rng.random_range(5_400_000..10_800_000),
    };
    let end = start + Duration::milliseconds(duration_ms as i64 + rng.random_range(0..4_000));
    let course = COURSES[rng.random_range(0..COURSES.len())];
    let session = SESSIONS[rng.random_range(0..SESSIONS.len())];
    let course_id = rng.random_range(2..900);
    let (meeting_id, name, metadata) = frontend_identity(frontend, &mut rng, index, course, course_id, session);
    let internal = hex::encode(Sha1::digest(meeting_id.as_bytes()));
    let record_id = format!("{internal}-{}", start.timestamp_millis());
    let state = match rng.random_range(0..100) {
        0..90 => RecordingState::Published,
        90..97 => RecordingState::Unpublished,
        97..99 => RecordingState::Processing,
        _ => RecordingState::Deleted,
    };
    let published = state == RecordingState::Published;
    let slides = rng.random_range(1..=12);
    let has_webcam = rng.random_bool(0.6);
    let has_deskshare = rng.random_bool(0.3);
    let has_video_format = state != RecordingState::Processing && rng.random_bool(0.3);
    let length_minutes = ((duration_ms + 30_000) / 60_000) as u32;
    let raw_size = duration_ms * rng.random_range(800..2_400);
    let presentation_size = duration_ms * rng.random_range(40..400);
    // Recordings made before a 2.3 upgrade keep the old 2.0 playback URL form on the same server.
    let presentation_url = if index % 5 == 4 {
        format!("{web_root}/playback/presentation/2.0/playback.html?meetingId={record_id}")
    } else {
        format!("{web_root}/playback/presentation/2.3/{record_id}")
    };
    let presentation_id = crate::recording::presentation_id(&record_id, start.timestamp_millis());
    let previews = (1..=slides.min(3))
        .map(|n| PreviewImage {
            url: format!("{web_root}/presentation/{record_id}/presentation/{presentation_id}/thumbnails/thumb-{n}.png"),
            alt: Some(format!("Diapositive {n}")),
            width: Some(176),
            height: Some(136),
        })
        .collect();
    let mut formats = Vec::new();
    if state != RecordingState::Processing {
        formats.push(PlaybackFormat {
            kind: FormatKind::Presentation,
            url: presentation_url,
            length_minutes: Some(length_minutes),
            processing_time_ms: Some(rng.random_range(5_000..600_000)),
            size: Some(presentation_size),
            previews,
        });
    }
    if has_video_format {
        formats.push(PlaybackFormat {
            kind: FormatKind::Video,
            url: format!("{web_root}/playback/video/{record_id}/"),
            length_minutes: Some(length_minutes),
            processing_time_ms: Some(rng.random_range(60_000..3_600_000)),
            size: Some(duration_ms * rng.random_range(150..600)),
            previews: Vec::new(),
        });
    }
    let breakout = if frontend == Frontend::Moodle && index % 23 == 7 {
        Breakout {
            is_breakout: true,
            parent_meeting_id: Some(hex::encode(Sha1::digest(format!("parent-{index}").as_bytes()))),
            sequence: Some(rng.random_range(1..6)),
            rooms: Vec::new(),
        }
    } else {
        Breakout::default()
    };
    let recording = Recording {
        record_id,
        meeting_id,
        internal_meeting_id: Some(internal),
        name,
        state,
        published,
        start_time: start,
        end_time: end,
        participants: Some(rng.random_range(1..180)),
        raw_size: Some(raw_size),
        size: Some(presentation_size),
        metadata,
        formats,
        breakout,
    };
    DemoRecording { recording, seed, duration_ms, slides, has_webcam, has_deskshare, has_video_format }
}

/// Meeting id, meeting name and metadata exactly in the shape each front-end sends them to BBB.
fn frontend_identity(
    frontend: Frontend,
    rng: &mut StdRng,
    index: usize,
    course: &str,
    course_id: u32,
    session: &str,
) -> (String, String, BTreeMap<String, String>) {
    let mut meta = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        meta.insert(k.to_owned(), v);
    };
    match frontend {
        Frontend::Moodle => {
            // `<activity seed>-<course id>-<activity id>[<group id>]` (Moodle 4 always appends the group).
            let seed_hex = hex::encode(Sha1::digest(format!("moodle-activity-{index}").as_bytes()));
            let activity = rng.random_range(1..5_000);
            let group = if rng.random_bool(0.2) { rng.random_range(1..40) } else { 0 };
            let meeting_id = if rng.random_bool(0.5) {
                format!("{seed_hex}-{course_id}-{activity}[{group}]")
            } else {
                format!("{seed_hex}-{course_id}-{activity}")
            };
            let name = format!("{session} — {course}");
            put("bbb-origin", "Moodle".into());
            put("bbb-origin-server-name", MOODLE_HOST.into());
            put("bbb-origin-server-common-name", String::new());
            put("bbb-origin-tag", "moodle-mod_bigbluebuttonbn (2022112800)".into());
            put("bbb-origin-version", "4.1.2 (Build: 20230313)".into());
            put("bbb-context", course.into());
            put("bbb-context-name", course.into());
            put("bbb-context-id", course_id.to_string());
            put("bbb-context-label", format!("C{course_id}"));
            put("bbb-recording-name", name.chars().take(64).collect());
            put("bbb-recording-description", String::new());
            put("bbb-recording-tags", String::new());
            (meeting_id, name, meta)
        }
        Frontend::Pod => {
            let meeting = rng.random_range(1..3_000);
            let name = format!("{course} – {session}");
            let meeting_id = format!("{meeting:04}-{}", slug(&name));
            put("endcallbackurl", format!("https://{POD_HOST}/meeting/end/{meeting_id}/"));
            put("bbb-recording-ready-url", format!("https://{POD_HOST}/meeting/recording_ready/{meeting_id}/"));
            (meeting_id, name, meta)
        }
        Frontend::Greenlight => {
            let bbb_id = hex::encode(Sha1::digest(format!("greenlight-room-{}", index % 200).as_bytes()));
            let name =
                format!("Salle de {}", ["Claire Martin", "Jean Dupont", "Zoé Lefèvre", "Hugo Bernard"][index % 4]);
            put("bbb-origin", "Greenlight".into());
            put("bbb-origin-server-name", GREENLIGHT_HOST.into());
            put("bbb-origin-version", "v2".into());
            put("gl-listed", "false".into());
            put("meetingname", name.clone());
            (bbb_id, name, meta)
        }
        Frontend::Unknown => {
            let name = format!(
                "{} {}",
                ["English 101", "Réunion d'équipe", "Test & essai", "Conseil de labo"][index % 4],
                index
            );
            put("meetingname", name.clone());
            if rng.random_bool(0.5) {
                put("description", "Session créée avec l'API directement".into());
            }
            (name.replace(' ', "-").to_lowercase(), name, meta)
        }
    }
}

/// Django's `slugify` for the ASCII-foldable names we generate: accents dropped, lower case, dashes.
pub fn slug(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let mut out = String::new();
    for word in folded.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_follow_bbbs_rule() {
        let recs = generate(&CatalogueOptions::new(40, "http://127.0.0.1:1/"));
        for demo in &recs {
            let rec = &demo.recording;
            let (hash, ms) = rec.record_id.split_once('-').unwrap();
            assert_eq!(hash, hex::encode(Sha1::digest(rec.meeting_id.as_bytes())), "{}", rec.meeting_id);
            assert_eq!(ms.parse::<i64>().unwrap(), rec.start_time.timestamp_millis());
            assert!(rec.end_time > rec.start_time);
        }
    }

    #[test]
    fn generation_is_deterministic_and_mixed() {
        let options = CatalogueOptions::new(200, "http://127.0.0.1:1/");
        let (a, b) = (generate(&options), generate(&options));
        assert_eq!(
            a.iter().map(|r| &r.recording).collect::<Vec<_>>(),
            b.iter().map(|r| &r.recording).collect::<Vec<_>>()
        );
        let origins: std::collections::BTreeSet<_> = a.iter().filter_map(|r| r.recording.origin()).collect();
        assert!(origins.contains("Moodle") && origins.contains("Greenlight"), "{origins:?}");
        assert!(a.iter().any(|r| r.recording.meeting_id.starts_with("0") && r.recording.origin().is_none()));
        assert!(a.iter().any(|r| r.has_video_format));
        assert!(a.iter().any(|r| r.recording.state == RecordingState::Unpublished));
        assert!(a.iter().any(|r| r.recording.formats.iter().any(|f| f.url.contains("/2.0/playback.html"))));
    }

    #[test]
    fn slugs_look_like_djangos() {
        assert_eq!(slug("Économie générale – Cours magistral"), "economie-generale-cours-magistral");
        assert_eq!(slug("Droit des contrats & responsabilité"), "droit-des-contrats-responsabilite");
    }
}
