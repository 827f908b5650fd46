//! The API client against the demo server over real HTTP on loopback: paging, checksums, errors, retries.

use std::collections::HashSet;
use std::time::Duration;

use bbb_api::client::Listing;
use bbb_api::{BbbClient, ChecksumAlgorithm, ClientError, ClientOptions, RecordingState, RecordingsQuery, StateFilter};
use migrate_demo::{DemoServer, Fault, Paging, ServerOptions};

async fn server(recordings: usize, paging: Paging) -> DemoServer {
    DemoServer::start(ServerOptions { recordings, paging, ..Default::default() }).await.expect("demo server starts")
}

fn options(server: &DemoServer) -> ClientOptions {
    let mut options = ClientOptions::new(bbb_api::api_base_url(&server.api_url()).unwrap(), server.secret());
    options.retry_delay = Duration::from_millis(10);
    options.timeout = Duration::from_secs(5);
    options
}

async fn list_all(client: &BbbClient) -> Result<Listing, ClientError> {
    client.list_recordings(&RecordingsQuery { state: StateFilter::Any, ..Default::default() }, |_| {}).await
}

fn assert_complete(listing: &Listing, server: &DemoServer) {
    let ids: HashSet<&str> = listing.recordings.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids.len(), listing.recordings.len(), "no duplicates");
    let expected: HashSet<&str> = server.recordings().iter().map(|r| r.recording.record_id.as_str()).collect();
    assert_eq!(ids, expected, "every recording of the server, once");
}

#[tokio::test]
async fn pages_through_250_recordings_100_at_a_time() {
    let server = server(250, Paging::Supported).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let listing = list_all(&client).await.unwrap();
    assert_complete(&listing, &server);
    assert!(listing.paginated);
    assert_eq!(listing.pages, 3);
    let offsets: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|q| q.split('&').find(|p| p.starts_with("offset=")).map(str::to_owned))
        .collect();
    assert_eq!(offsets, ["offset=0", "offset=100", "offset=200"]);
    // Every recording comes back with the fields the generator gave it.
    for demo in server.recordings() {
        let got = listing.recordings.iter().find(|r| r.record_id == demo.recording.record_id).unwrap();
        assert_eq!(got, &demo.recording);
    }
}

#[tokio::test]
async fn a_server_without_paging_is_read_in_one_call() {
    let server = server(250, Paging::Ignored).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let listing = list_all(&client).await.unwrap();
    assert_complete(&listing, &server);
    assert!(!listing.paginated);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_server_without_paging_holding_exactly_one_page_is_not_read_twice_over() {
    let server = server(100, Paging::Ignored).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let listing = list_all(&client).await.unwrap();
    assert_complete(&listing, &server);
    assert!(!listing.paginated, "the second answer repeated the first: no paging");
}

#[tokio::test]
async fn a_filtered_scalelite_is_enumerated_by_record_id_prefix() {
    let server = server(120, Paging::ScaleliteFiltered).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let listing = list_all(&client).await.unwrap();
    assert_complete(&listing, &server);
    assert!(listing.by_prefix);
}

#[tokio::test]
async fn every_checksum_algorithm_is_accepted() {
    let server = server(5, Paging::Supported).await;
    for algorithm in ChecksumAlgorithm::ALL {
        let mut options = options(&server);
        options.checksum = algorithm;
        let client = BbbClient::new(options).unwrap();
        let listing = list_all(&client).await.unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(listing.recordings.len(), 5, "{algorithm}");
        let sum = server.requests().last().cloned().unwrap();
        assert!(sum.starts_with("getRecordings?"), "{sum}");
    }
}

#[tokio::test]
async fn an_algorithm_the_server_lacks_is_a_checksum_error() {
    let server = DemoServer::start(ServerOptions {
        recordings: 3,
        algorithms: vec![ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut options = options(&server);
    options.checksum = ChecksumAlgorithm::Sha384;
    let err = list_all(&BbbClient::new(options).unwrap()).await.unwrap_err();
    assert_eq!(err.message_key(), Some("checksumError"));
}

#[tokio::test]
async fn a_wrong_secret_says_what_to_fix_and_never_shows_the_secret() {
    let server = server(3, Paging::Supported).await;
    let mut options = options(&server);
    options.secret = "not-the-right-secret-4f2a".to_owned().into();
    let err = list_all(&BbbClient::new(options).unwrap()).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.message_key(), Some("checksumError"));
    assert!(text.contains("the secret or checksum algorithm is wrong"), "{text}");
    assert!(!text.contains("not-the-right-secret-4f2a"), "{text}");
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let server = server(30, Paging::Supported).await;
    server.inject([Fault::Status(500), Fault::Status(503)]);
    let listing = list_all(&BbbClient::new(options(&server)).unwrap()).await.unwrap();
    assert_complete(&listing, &server);
    assert_eq!(server.requests().len(), 3, "two failures, then the page");
}

#[tokio::test]
async fn persistent_5xx_fails_naming_the_page() {
    let server = server(250, Paging::Supported).await;
    let mut options = options(&server);
    options.retries = 2;
    // Page 1 succeeds, then page 2 fails on every attempt.
    server.inject([Fault::Pass, Fault::Status(502), Fault::Status(502), Fault::Status(502)]);
    let err = list_all(&BbbClient::new(options).unwrap()).await.unwrap_err();
    match &err {
        ClientError::Status { page, status, attempts, .. } => {
            assert_eq!((*page, *status, *attempts), (2, 502, 3), "{err}");
        }
        other => panic!("expected a status error, got {other}"),
    }
    assert!(err.to_string().contains("page 2"), "{err}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_times_out_then_recovers() {
    let server = server(10, Paging::Supported).await;
    let mut options = options(&server);
    options.timeout = Duration::from_millis(300);
    options.retries = 0;
    server.inject([Fault::Delay(Duration::from_secs(2))]);
    let err = list_all(&BbbClient::new(options.clone()).unwrap()).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { page: 1, .. }), "{err}");
    options.retries = 1;
    server.inject([Fault::Delay(Duration::from_secs(2))]);
    let listing = list_all(&BbbClient::new(options).unwrap()).await.unwrap();
    assert_eq!(listing.recordings.len(), 10);
}

#[tokio::test]
async fn truncated_xml_is_an_error_naming_the_page_never_a_short_list() {
    let server = server(150, Paging::Supported).await;
    let mut options = options(&server);
    options.retries = 0;
    server.inject([Fault::Pass, Fault::Truncate]);
    let err = list_all(&BbbClient::new(options.clone()).unwrap()).await.unwrap_err();
    match &err {
        ClientError::Malformed { page, offset, .. } => assert_eq!((*page, *offset), (2, 100), "{err}"),
        other => panic!("expected a malformed-page error, got {other}"),
    }
    // With a retry the cut-off answer is fetched again.
    options.retries = 1;
    server.inject([Fault::Truncate]);
    let listing = list_all(&BbbClient::new(options).unwrap()).await.unwrap();
    assert_complete(&listing, &server);
}

/// A connection closed mid-answer (the whole length announced, half sent) is retried like a timeout, and said
/// as such when it persists.
#[tokio::test]
async fn a_connection_closed_mid_answer_is_retried_then_named() {
    let server = server(150, Paging::Supported).await;
    let mut options = options(&server);
    options.retries = 1;
    server.inject([Fault::CutOff]);
    let listing = list_all(&BbbClient::new(options.clone()).unwrap()).await.unwrap();
    assert_complete(&listing, &server);
    server.inject([Fault::Pass, Fault::CutOff, Fault::CutOff]);
    let err = list_all(&BbbClient::new(options).unwrap()).await.unwrap_err();
    match &err {
        ClientError::CutOff { page, attempts, .. } => assert_eq!((*page, *attempts), (2, 2), "{err}"),
        other => panic!("expected a cut-off error, got {other}"),
    }
    assert!(err.to_string().contains("closed the connection mid-answer"), "{err}");
}

#[tokio::test]
async fn garbage_instead_of_xml_is_an_error() {
    let server = server(10, Paging::Supported).await;
    let mut options = options(&server);
    options.retries = 0;
    server.inject([Fault::Garbage]);
    let err = list_all(&BbbClient::new(options).unwrap()).await.unwrap_err();
    assert!(matches!(err, ClientError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn an_empty_server_answers_no_recordings() {
    let server = server(0, Paging::Supported).await;
    let listing = list_all(&BbbClient::new(options(&server)).unwrap()).await.unwrap();
    assert!(listing.recordings.is_empty());
    assert_eq!(listing.pages, 1);
}

#[tokio::test]
async fn names_and_metadata_with_entities_and_accents_arrive_intact() {
    let server = server(80, Paging::Supported).await;
    let listing = list_all(&BbbClient::new(options(&server)).unwrap()).await.unwrap();
    let awkward: Vec<_> =
        server.recordings().iter().filter(|d| d.recording.name.contains(['&', '<', '\'', 'é'])).collect();
    assert!(awkward.len() > 5, "the generator makes awkward names");
    for demo in awkward {
        let got = listing.recordings.iter().find(|r| r.record_id == demo.recording.record_id).unwrap();
        assert_eq!(got.name, demo.recording.name);
        assert_eq!(got.metadata, demo.recording.metadata);
    }
}

#[tokio::test]
async fn both_playback_url_forms_lead_to_the_23_player() {
    let server = server(40, Paging::Supported).await;
    let listing = list_all(&BbbClient::new(options(&server)).unwrap()).await.unwrap();
    let mut forms = HashSet::new();
    for rec in &listing.recordings {
        let Some(format) = rec.format(&bbb_api::FormatKind::Presentation) else { continue };
        forms.insert(if format.url.contains("/2.0/playback.html") { "2.0" } else { "2.3" });
        let url = rec.presentation_url().unwrap();
        assert_eq!(url, format!("{}playback/presentation/2.3/{}", server.web_root(), rec.record_id));
        let page = reqwest::get(&format.url).await.unwrap();
        assert!(page.status().is_success(), "{} answers", format.url);
    }
    assert_eq!(forms.len(), 2, "the demo serves both forms");
}

#[tokio::test]
async fn states_and_filters_are_honoured() {
    let server = server(200, Paging::Supported).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let default = client.list_recordings(&RecordingsQuery::default(), |_| {}).await.unwrap();
    assert!(
        default.recordings.iter().all(|r| matches!(r.state, RecordingState::Published | RecordingState::Unpublished))
    );
    let any = list_all(&client).await.unwrap();
    assert!(any.recordings.len() > default.recordings.len(), "processing/deleted only with state=any");
    let target = &any.recordings[17];
    let query =
        RecordingsQuery { state: StateFilter::Any, meeting_ids: vec![target.meeting_id.clone()], ..Default::default() };
    let by_meeting = client.list_recordings(&query, |_| {}).await.unwrap();
    assert!(by_meeting.recordings.iter().all(|r| r.meeting_id == target.meeting_id));
    assert!(by_meeting.recordings.iter().any(|r| r.record_id == target.record_id));
    let query =
        RecordingsQuery { state: StateFilter::Any, record_ids: vec![target.record_id.clone()], ..Default::default() };
    let by_id = client.list_recordings(&query, |_| {}).await.unwrap();
    assert_eq!(by_id.recordings.len(), 1);
}

#[tokio::test]
async fn version_and_credentials_checks() {
    let server = server(1, Paging::Supported).await;
    let client = BbbClient::new(options(&server)).unwrap();
    let version = client.version().await.unwrap();
    assert_eq!(version.api_version.as_deref(), Some("2.0"));
    client.check_credentials().await.unwrap();
    let mut wrong = options(&server);
    wrong.secret = "nope".to_owned().into();
    let err = BbbClient::new(wrong).unwrap().check_credentials().await.unwrap_err();
    assert_eq!(err.message_key(), Some("checksumError"));
}
