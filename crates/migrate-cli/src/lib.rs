//! The `bbb-migrate` command: parses arguments, sets up logs, and runs one command by wiring the library
//! crates together. No migration logic lives here.

mod argv;
mod cli;
mod commands;
mod logging;
mod paths;
mod progress;
mod source;

use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;

/// Exit status when the configuration or the arguments are wrong (the user must fix something first).
pub const EXIT_USAGE: u8 = 2;

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(refusal) = argv::refuse_secrets(&args) {
        eprintln!("error: {refusal}");
        return ExitCode::from(EXIT_USAGE);
    }
    let cli = Cli::parse_from(args);
    let _log_guard = match logging::init(cli.verbose, cli.quiet, cli.log_file.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(target: logging::EXIT_TARGET, "{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
