//! Turns the `[source]` configuration into an API client, and lists recordings with a progress bar.

use std::time::Duration;

use anyhow::Context;
use bbb_api::client::Listing;
use bbb_api::{BbbClient, ClientOptions, RecordingsQuery};
use migrate_config::Config;

use crate::progress;

/// A client for the configured old server; fails with every `[source]` problem listed.
pub fn client(config: &Config) -> anyhow::Result<BbbClient> {
    let problems: Vec<String> = config
        .check()
        .into_iter()
        .filter(|p| p.key.starts_with("source.") && p.severity == migrate_config::Severity::Error)
        .map(|p| format!("  {}: {} — {}", p.key, p.message, p.fix))
        .collect();
    if !problems.is_empty() {
        anyhow::bail!(
            "the old server is not configured:\n{}\n(see `bbb-migrate config init` for a template)",
            problems.join("\n")
        );
    }
    let api_base = config.source_api_url().map_err(|p| anyhow::anyhow!("{}: {}", p.key, p.message))?;
    let source = &config.source;
    let mut options = ClientOptions::new(api_base, source.secret.expose());
    options.checksum = source.checksum;
    options.page_size = source.page_size;
    options.timeout = Duration::from_secs(source.timeout_secs);
    options.connect_timeout = Duration::from_secs(source.connect_timeout_secs);
    options.retries = source.retries;
    BbbClient::new(options).context("cannot set up the HTTP client")
}

/// Every recording matching `query`, with a progress bar while pages arrive.
pub async fn list(client: &BbbClient, query: &RecordingsQuery) -> anyhow::Result<Listing> {
    let bar = progress::listing_bar();
    let listing = client
        .list_recordings(query, |p| {
            if let Some(total) = p.total_hint {
                bar.set_length(total);
            }
            bar.set_position(p.recordings as u64);
        })
        .await;
    bar.finish_and_clear();
    let listing = listing.with_context(|| format!("cannot list the recordings of {}", client.options().api_base))?;
    for warning in &listing.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        recordings = listing.recordings.len(),
        pages = listing.pages,
        paginated = listing.paginated,
        by_prefix = listing.by_prefix,
        "listing complete"
    );
    Ok(listing)
}
