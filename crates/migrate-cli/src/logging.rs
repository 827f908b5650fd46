//! Logs: human lines on stderr (level from -v/-q), and optionally every event as JSON lines in a file.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

/// Target of the command's final error, logged to the file only (the console gets a plain `error:` line).
pub const EXIT_TARGET: &str = "bbb_migrate::exit";

/// Keeps the file writer flushing until the end of `main`.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// `BBB_MIGRATE_LOG` (same syntax as `RUST_LOG`) overrides the console level chosen by -v/-q.
pub fn init(verbose: u8, quiet: bool, file: Option<&Path>) -> anyhow::Result<LogGuard> {
    let console_level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let console_filter = EnvFilter::builder()
        .with_default_directive(console_level.into())
        .with_env_var("BBB_MIGRATE_LOG")
        .from_env_lossy()
        // Dependencies' own debug output is noise for an admin.
        .add_directive("hyper=warn".parse().expect("static directive"))
        .add_directive("sqlx=warn".parse().expect("static directive"))
        .add_directive("reqwest=warn".parse().expect("static directive"))
        // The final error is printed plainly by `main`; the log file still gets it.
        .add_directive(format!("{EXIT_TARGET}=off").parse().expect("static directive"));
    let console = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .with_filter(console_filter);
    let (file_layer, guard) = match file {
        Some(path) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            let (writer, guard) = tracing_appender::non_blocking(f);
            let layer = fmt::layer()
                .json()
                .with_writer(writer)
                .with_filter(EnvFilter::new("debug,hyper=info,sqlx=info,reqwest=info,h2=info,rustls=info"));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(console).with(file_layer).try_init().context("cannot set up logging")?;
    Ok(LogGuard(guard))
}
