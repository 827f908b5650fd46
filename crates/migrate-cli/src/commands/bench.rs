//! `bench`: throughput figures measured on the demo server, reported as rates (not timed tests).

use std::process::ExitCode;
use std::time::Instant;

use bbb_api::{BbbClient, ClientOptions, RecordingsQuery, StateFilter};
use migrate_demo::{DemoServer, ServerOptions};

use crate::cli::BenchCommand;

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Inventory { recordings, page_size, ledger, runs } => {
            inventory(recordings, page_size, ledger, runs).await
        }
    }
}

async fn inventory(
    recordings: usize,
    page_size: u32,
    ledger_url: Option<String>,
    runs: u32,
) -> anyhow::Result<ExitCode> {
    let server = DemoServer::start(ServerOptions { recordings, ..Default::default() }).await?;
    let mut options = ClientOptions::new(bbb_api::api_base_url(&server.api_url())?, server.secret());
    options.page_size = page_size;
    let client = BbbClient::new(options)?;
    let query = RecordingsQuery { state: StateFilter::Any, ..Default::default() };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("inventory benchmark: {recordings} recordings, page size {page_size}, {cores} core(s)");
    for run in 1..=runs {
        let tmp = tempfile::tempdir()?;
        let url =
            ledger_url.clone().unwrap_or_else(|| format!("sqlite://{}", tmp.path().join("ledger.sqlite").display()));
        let ledger = super::inventory::open_ledger(&url).await?;
        let started = Instant::now();
        let listing = client.list_recordings(&query, |_| {}).await?;
        let listed = started.elapsed();
        let stats =
            super::inventory::remember(&ledger, client.options().api_base.as_str(), &listing.recordings).await?;
        let total = started.elapsed();
        anyhow::ensure!(listing.recordings.len() == recordings, "listed {} of {recordings}", listing.recordings.len());
        anyhow::ensure!(stats.new as usize == recordings, "stored {} new of {recordings}", stats.new);
        let rate = recordings as f64 / total.as_secs_f64();
        println!(
            "run {run}: {:.0} recordings/s ({:.0}/s per core) — listing {} pages {:.2} s, ledger {:.2} s, total {:.2} s",
            rate,
            rate / cores as f64,
            listing.pages,
            listed.as_secs_f64(),
            (total - listed).as_secs_f64(),
            total.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
