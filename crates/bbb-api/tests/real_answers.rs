//! Parsing of real `getRecordings` answers (see tests/fixtures/SOURCES.md).

use bbb_api::response::{ParseError, parse_get_recordings, parse_version};
use bbb_api::{FormatKind, RecordingState};

fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/get-recordings/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_real_moodle_servers_answer() {
    let page = parse_get_recordings(&fixture("moodle-bbb-php-client.xml")).unwrap();
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    assert!(page.recordings.len() >= 5);
    let first = &page.recordings[0];
    assert_eq!(first.record_id, "f71d810b6e90a4a34ae02b8c7143e8733178578e-1462807897120");
    assert_eq!(first.meeting_id, "9d287cf50490ca856ca5273bd303a7e321df6051-4-119[0]");
    assert_eq!(first.name, "SAT- Writing-Humanities (All participants)");
    assert_eq!(first.state, RecordingState::Published);
    assert!(first.published);
    assert_eq!(first.start_time.to_rfc3339(), "2016-05-09T15:31:37.120+00:00");
    assert_eq!(first.duration().as_secs(), (1462812873004 - 1462807897120) / 1000);
    assert_eq!(first.metadata["bn-origin"], "Moodle");
    assert_eq!(first.metadata["bbb-origin-server-name"], "planetinteractive.us");
    assert_eq!(first.metadata["bbb-origin-server-common-name"], "");
    let kinds: Vec<_> = first.formats.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(kinds, [FormatKind::Podcast, FormatKind::Presentation]);
    let presentation = first.format(&FormatKind::Presentation).unwrap();
    assert_eq!(presentation.length_minutes, Some(532));
    assert_eq!(presentation.size, Some(168019));
    assert_eq!(presentation.processing_time_ms, Some(2973));
    assert_eq!(presentation.previews.len(), 2);
    assert_eq!(presentation.previews[0].alt.as_deref(), Some("Welcome"));
    assert_eq!(presentation.previews[0].width, Some(176));
    assert_eq!(
        first.presentation_url().unwrap(),
        "https://test-install.blindsidenetworks.com/playback/presentation/2.3/f71d810b6e90a4a34ae02b8c7143e8733178578e-1462807897120"
    );
}

#[test]
fn a_real_bbb_20_answer_with_cyrillic_and_double_escaping() {
    let page = parse_get_recordings(&fixture("bbb-2.0-demo-server-excerpt.xml")).unwrap();
    assert_eq!(page.recordings.len(), 2);
    let [cyrillic, episode] = &page.recordings[..] else { unreachable!() };
    assert_eq!(cyrillic.name, "тест");
    assert_eq!(cyrillic.participants, Some(2));
    assert_eq!(cyrillic.internal_meeting_id.as_deref(), Some(cyrillic.record_id.as_str()));
    assert!(!cyrillic.breakout.is_breakout);
    assert_eq!(cyrillic.metadata["meetingid"], "f01411a126dd7ea29c9c3859523bc1baac3c1e2f", "keys are lower-cased");
    assert_eq!(episode.name, "Let's Talk English: Episode 5");
    assert_eq!(episode.metadata["meeting-name"], "Let's Talk English: Episode 5");
    assert_eq!(episode.format(&FormatKind::Presentation).unwrap().length_minutes, Some(53));
}

#[test]
fn a_scalelite_answer_without_sizes_and_with_a_token_url() {
    let page = parse_get_recordings(&fixture("scalelite-protected.xml")).unwrap();
    let rec = &page.recordings[0];
    assert_eq!(rec.name, "Cours d'économie & gestion");
    assert_eq!(rec.raw_size, None);
    assert_eq!(rec.size, None);
    assert!(!rec.breakout.is_breakout);
    assert_eq!(rec.metadata["bbb-recording-description"], "");
    assert_eq!(rec.formats.len(), 2);
    assert!(rec.format(&FormatKind::Presentation).unwrap().url.contains("token="));
    assert!(rec.format(&FormatKind::Video).is_some());
}

#[test]
fn no_recordings_and_failures() {
    let page = parse_get_recordings(&fixture("no-recordings.xml")).unwrap();
    assert!(page.recordings.is_empty());
    let err = parse_get_recordings(&fixture("failed-not-found.xml")).unwrap_err();
    let ParseError::Failed(failure) = err else { panic!("{err:?}") };
    assert_eq!(failure.0.message_key, "notFound");
}

#[test]
fn the_version_answer_of_a_30_server() {
    let version = parse_version(&fixture("api-version-3.0.xml")).unwrap();
    assert_eq!(version.api_version.as_deref(), Some("2.0"));
    assert_eq!(version.bbb_version.as_deref(), Some("3.0.19"));
}
