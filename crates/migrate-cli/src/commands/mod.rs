//! One module per command.

mod archive;
mod bench;
mod claim;
mod cleanup;
mod config;
mod demo;
mod doctor;
mod inventory;
mod migrate;
mod notice;
mod owners;
mod pod_plugin;
mod queue;
mod relink;
mod render;
mod render_bench;
mod report;
mod soak;
mod status;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command, SelectionArgs};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config(cmd) => config::run(cli.config.as_deref(), cmd).await,
        Command::Inventory(args) => inventory::run(cli.config.as_deref(), args).await,
        Command::Notice(args) => notice::run(cli.config.as_deref(), args).await,
        Command::Plan(args) => migrate::plan(cli.config.as_deref(), args).await,
        Command::Migrate(args) => migrate::migrate(cli.config.as_deref(), args).await,
        Command::Cleanup(args) => cleanup::cleanup(cli.config.as_deref(), args).await,
        Command::Restore(args) => cleanup::restore(cli.config.as_deref(), args).await,
        Command::Archive(args) => archive::run(cli.config.as_deref(), args).await,
        Command::Relink(args) => relink::run(cli.config.as_deref(), args).await,
        Command::Doctor => doctor::run(cli.config.as_deref()).await,
        Command::Render(args) => render::run(cli.config.as_deref(), args).await,
        Command::PodPlugin(cmd) => pod_plugin::run(cli.config.as_deref(), cmd),
        Command::Owners(args) => owners::run(cli.config.as_deref(), args).await,
        Command::Worker(args) => queue::worker(cli.config.as_deref(), args).await,
        Command::Status(args) => status::run(cli.config.as_deref(), args).await,
        Command::Retry(args) => queue::retry(cli.config.as_deref(), args).await,
        Command::Report(args) => report::run(cli.config.as_deref(), args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
    }
}

/// Where a listing goes: the `--output` file (buffered), else standard output.
pub fn output_writer(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn std::io::Write>> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// The selection flags as the inventory crate's `Selection` and the server-side query.
pub fn selection(args: &SelectionArgs) -> anyhow::Result<(migrate_inventory::Selection, bbb_api::RecordingsQuery)> {
    let day = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(migrate_inventory::selection::parse_day)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let states = args.state.as_deref().map(bbb_api::StateFilter::parse).unwrap_or_default();
    let selection = migrate_inventory::Selection {
        from: args.from,
        to: args.to,
        since: day("--since", &args.since)?,
        until: day("--until", &args.until)?,
        meetings: args.meetings.clone(),
        origins: args.origins.clone(),
        states: states.clone(),
    };
    selection.validate().context("invalid selection")?;
    let query = bbb_api::RecordingsQuery { state: states, meeting_ids: args.meetings.clone(), ..Default::default() };
    Ok((selection, query))
}
