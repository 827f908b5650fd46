//! HTTP client for the old server: signed calls, retries, and `getRecordings` paging that adapts to what the
//! server supports.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::checksum::ChecksumAlgorithm;
use crate::model::{Recording, StateFilter};
use crate::response::{self, ApiFailure, ApiFailureError, ParseError, RecordingsPage, ServerVersion};

/// How to reach and authenticate to the old server.
#[derive(Clone)]
pub struct ClientOptions {
    /// API base, as returned by [`crate::api_base_url`] (ends with `/bigbluebutton/api/`).
    pub api_base: Url,
    pub secret: SecretString,
    pub checksum: ChecksumAlgorithm,
    /// `limit` of each `getRecordings` page (1–100, BBB's maximum).
    pub page_size: u32,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Further attempts after a timeout, a connection error, a 5xx or a cut-off answer.
    pub retries: u32,
    /// First wait between attempts; doubles each time.
    pub retry_delay: Duration,
}

impl ClientOptions {
    pub fn new(api_base: Url, secret: impl Into<String>) -> Self {
        Self {
            api_base,
            secret: SecretString::from(secret.into()),
            checksum: ChecksumAlgorithm::Sha1,
            page_size: 100,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// Which recordings to ask for. Empty lists mean "no filter".
#[derive(Debug, Clone, Default)]
pub struct RecordingsQuery {
    pub state: StateFilter,
    pub meeting_ids: Vec<String>,
    /// Full ids or prefixes (BBB matches recordID by prefix).
    pub record_ids: Vec<String>,
    /// `meta_<key>=<value>` filters.
    pub meta: BTreeMap<String, String>,
}

impl RecordingsQuery {
    fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if !self.meeting_ids.is_empty() {
            params.push(("meetingID".into(), self.meeting_ids.join(",")));
        }
        if !self.record_ids.is_empty() {
            params.push(("recordID".into(), self.record_ids.join(",")));
        }
        if let Some(state) = self.state.query_value() {
            params.push(("state".into(), state));
        }
        for (key, value) in &self.meta {
            params.push((format!("meta_{key}"), value.clone()));
        }
        params
    }

    fn is_unfiltered(&self) -> bool {
        self.meeting_ids.is_empty() && self.record_ids.is_empty()
    }
}

/// Why a call to the old server did not give an answer. Messages name the page and never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "{call} (page {page}): no answer within {timeout_secs} s after {attempts} attempt(s); raise source.timeout_secs or check the server"
    )]
    Timeout { call: &'static str, page: u32, timeout_secs: u64, attempts: u32 },
    #[error("{call} (page {page}): cannot reach the server after {attempts} attempt(s): {reason}")]
    Unreachable { call: &'static str, page: u32, attempts: u32, reason: String },
    #[error("{call} (page {page}): the server closed the connection mid-answer after {attempts} attempt(s): {reason}")]
    CutOff { call: &'static str, page: u32, attempts: u32, reason: String },
    #[error("{call} (page {page}): HTTP {status} after {attempts} attempt(s){}", body_excerpt(.body))]
    Status { call: &'static str, page: u32, status: u16, attempts: u32, body: String },
    #[error("{call} (page {page}, offset {offset}): malformed answer after {attempts} attempt(s): {source}")]
    Malformed { call: &'static str, page: u32, offset: u32, attempts: u32, source: ParseError },
    #[error("{call}: {failure}")]
    Failed { call: &'static str, failure: ApiFailure },
    #[error("cannot build the HTTP client: {0}")]
    Setup(String),
}

impl ClientError {
    /// The server's `messageKey` when it answered FAILED.
    pub fn message_key(&self) -> Option<&str> {
        match self {
            Self::Failed { failure, .. } => Some(&failure.message_key),
            _ => None,
        }
    }
}

fn body_excerpt(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let excerpt: String = body.chars().take(200).collect();
    format!(": {excerpt}")
}

/// A complete listing and how it was obtained.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Every recording once, in the order the server gave them.
    pub recordings: Vec<Recording>,
    pub pages: u32,
    /// The server honoured `offset`/`limit` (BBB ≥ 2.6, recent Scalelite).
    pub paginated: bool,
    /// The server refused an unfiltered listing, so it was enumerated by recordID prefixes.
    pub by_prefix: bool,
    pub warnings: Vec<String>,
}

/// Where a listing is, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct ListingProgress {
    pub pages: u32,
    pub recordings: usize,
    pub total_hint: Option<u64>,
}

/// Signed calls to one old server.
#[derive(Clone)]
pub struct BbbClient {
    http: reqwest::Client,
    options: ClientOptions,
}

impl BbbClient {
    pub fn new(options: ClientOptions) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("bbb-migrate/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Self { http, options })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The URL of a signed API call: the checksum covers exactly the query string that is sent.
    pub fn signed_url(&self, call: &str, params: &[(String, String)]) -> Url {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let checksum = self.options.checksum.sign(call, &query, self.options.secret.expose_secret());
        let mut url = self.options.api_base.join(call).expect("an API call name is a valid relative URL");
        let full =
            if query.is_empty() { format!("checksum={checksum}") } else { format!("{query}&checksum={checksum}") };
        url.set_query(Some(&full));
        url
    }

    /// The API root answer, which needs no checksum: proves the URL points at a BBB API.
    pub async fn version(&self) -> Result<ServerVersion, ClientError> {
        let body = self.get_with_retries("version", self.options.api_base.clone(), 1).await?;
        response::parse_version(&body).map_err(|source| self.classify("version", 1, 0, source, 1))
    }

    /// Checks that the secret and algorithm are accepted, with the cheapest signed call there is.
    pub async fn check_credentials(&self) -> Result<(), ClientError> {
        let params = vec![("recordID".to_owned(), "bbb-migrate-credentials-check".to_owned())];
        let url = self.signed_url("getRecordings", &params);
        let body = self.get_with_retries("getRecordings", url, 1).await?;
        match response::parse_get_recordings(&body) {
            Ok(_) => Ok(()),
            Err(source) => Err(self.classify("getRecordings", 1, 0, source, 1)),
        }
    }

    /// One `getRecordings` call; `page` only numbers it in errors.
    pub async fn get_recordings_page(
        &self,
        query: &RecordingsQuery,
        offset: Option<u32>,
        limit: Option<u32>,
        page: u32,
    ) -> Result<RecordingsPage, ClientError> {
        let mut params = query.params();
        if let Some(offset) = offset {
            params.push(("offset".into(), offset.to_string()));
        }
        if let Some(limit) = limit {
            params.push(("limit".into(), limit.to_string()));
        }
        let url = self.signed_url("getRecordings", &params);
        let attempts = self.options.retries + 1;
        let mut last_error = None;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(self.backoff(attempt - 1)).await;
            }
            let body = self.get_with_retries("getRecordings", url.clone(), page).await?;
            match response::parse_get_recordings(&body) {
                Ok(parsed) => return Ok(parsed),
                Err(ParseError::Xml(reason)) => {
                    tracing::warn!(page, attempt, "getRecordings answer is not well-formed XML: {reason}");
                    last_error = Some(ParseError::Xml(reason));
                }
                Err(other) => return Err(self.classify("getRecordings", page, offset.unwrap_or(0), other, attempt)),
            }
        }
        let source = last_error.expect("at least one attempt was made");
        Err(self.classify("getRecordings", page, offset.unwrap_or(0), source, attempts))
    }

    /// Every recording matching `query`, each once. Uses `offset`/`limit` pages where the server honours them
    /// and notices when it does not (an older BBB answers everything at once, or the same page again); a
    /// Scalelite that refuses unfiltered listings is enumerated by recordID prefixes.
    pub async fn list_recordings(
        &self,
        query: &RecordingsQuery,
        mut progress: impl FnMut(ListingProgress),
    ) -> Result<Listing, ClientError> {
        let mut listing = Listing::default();
        let mut seen = HashSet::new();
        match self.list_pages(query, &mut listing, &mut seen, &mut progress).await {
            Err(ClientError::Failed { failure, .. })
                if query.is_unfiltered()
                    && matches!(failure.message_key.as_str(), "missingParameters" | "missingParamMeetingID") =>
            {
                tracing::info!("the server refuses unfiltered listings; enumerating by recordID prefixes 0–f");
                listing.by_prefix = true;
                for prefix in "0123456789abcdef".chars() {
                    let mut sub = query.clone();
                    sub.record_ids = vec![prefix.to_string()];
                    self.list_pages(&sub, &mut listing, &mut seen, &mut progress).await?;
                }
            }
            other => other?,
        }
        Ok(listing)
    }

    async fn list_pages(
        &self,
        query: &RecordingsQuery,
        listing: &mut Listing,
        seen: &mut HashSet<String>,
        progress: &mut impl FnMut(ListingProgress),
    ) -> Result<(), ClientError> {
        let limit = self.options.page_size.clamp(1, 100);
        let mut offset = 0u32;
        loop {
            listing.pages += 1;
            let page = self.get_recordings_page(query, Some(offset), Some(limit), listing.pages).await?;
            let received = page.recordings.len();
            listing.warnings.extend(page.warnings.into_iter().map(|w| format!("page {}: {w}", listing.pages)));
            let mut new = 0usize;
            for rec in page.recordings {
                if seen.insert(rec.record_id.clone()) {
                    listing.recordings.push(rec);
                    new += 1;
                }
            }
            progress(ListingProgress {
                pages: listing.pages,
                recordings: listing.recordings.len(),
                total_hint: page.total_elements,
            });
            let ignored_paging = received > limit as usize || (offset > 0 && new == 0 && received > 0);
            if ignored_paging {
                // The first page already held everything: an older server that answers all at once.
                listing.paginated = false;
                return Ok(());
            }
            if received < limit as usize {
                listing.paginated |= offset > 0;
                return Ok(());
            }
            listing.paginated = true;
            offset += received as u32;
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        self.options.retry_delay.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
    }

    fn classify(&self, call: &'static str, page: u32, offset: u32, source: ParseError, attempts: u32) -> ClientError {
        match source {
            ParseError::Failed(ApiFailureError(failure)) => ClientError::Failed { call, failure },
            source => ClientError::Malformed { call, page, offset, attempts, source },
        }
    }

    /// GET with retries on timeouts, connection errors and 5xx; returns the body of a 2xx answer.
    async fn get_with_retries(&self, call: &'static str, url: Url, page: u32) -> Result<String, ClientError> {
        let attempts = self.options.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.get_once(url.clone()).await;
            let retryable = match &outcome {
                Ok((status, _)) => status.is_server_error(),
                // A body cut off mid-way surfaces as a decode error of `text()`: as transient as a timeout.
                Err(e) => e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode(),
            };
            if !retryable || attempt >= attempts {
                return match outcome {
                    Ok((status, body)) if status.is_success() => Ok(body),
                    Ok((status, body)) => {
                        Err(ClientError::Status { call, page, status: status.as_u16(), attempts: attempt, body })
                    }
                    Err(e) if e.is_timeout() => Err(ClientError::Timeout {
                        call,
                        page,
                        timeout_secs: self.options.timeout.as_secs(),
                        attempts: attempt,
                    }),
                    Err(e) if e.is_body() || e.is_decode() => {
                        Err(ClientError::CutOff { call, page, attempts: attempt, reason: error_chain(&e) })
                    }
                    Err(e) => Err(ClientError::Unreachable { call, page, attempts: attempt, reason: error_chain(&e) }),
                };
            }
            let wait = self.backoff(attempt);
            match &outcome {
                Ok((status, _)) => tracing::warn!(call, page, attempt, %status, ?wait, "server error, retrying"),
                Err(e) => tracing::warn!(call, page, attempt, ?wait, "request failed, retrying: {}", error_chain(e)),
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_once(&self, url: Url) -> Result<(reqwest::StatusCode, String), reqwest::Error> {
        let response = self.http.get(url).send().await.map_err(reqwest::Error::without_url)?;
        let status = response.status();
        let body = response.text().await.map_err(reqwest::Error::without_url)?;
        Ok((status, body))
    }
}

/// The error and its causes on one line, without the URL (which carries the checksum).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
