//! `config init | check | show`.

use std::path::Path;
use std::process::ExitCode;

use migrate_config::{Problem, Severity};

use crate::cli::ConfigCommand;

pub async fn run(explicit: Option<&Path>, cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Init => {
            print!("{}", migrate_config::template());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Show => {
            let loaded = migrate_config::load(explicit)?;
            println!("# effective configuration, from {} (secrets masked)", loaded.source);
            for key in &loaded.env_overrides {
                println!("# {key} set by the environment ({})", migrate_config::env_var_name(key));
            }
            print!("{}", loaded.config.redacted());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check { offline } => check(explicit, offline).await,
    }
}

/// Reports every problem at once: file validation, then (unless offline) the server and the ledger.
async fn check(explicit: Option<&Path>, offline: bool) -> anyhow::Result<ExitCode> {
    let loaded = match migrate_config::load(explicit) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("✗ configuration: {e}");
            return Ok(ExitCode::from(crate::EXIT_USAGE));
        }
    };
    println!("configuration: {}", loaded.source);
    if !loaded.env_overrides.is_empty() {
        println!("  from the environment: {}", loaded.env_overrides.join(", "));
    }
    let mut problems = loaded.config.check();
    let config = &loaded.config;
    let source_ok = !problems.iter().any(|p| p.key.starts_with("source.") && p.severity == Severity::Error);
    if !offline {
        problems.extend(online(config, source_ok).await);
    }
    verdict(&problems)
}

/// The checks that reach the old server, the ledger and Pod.
pub(super) async fn online(config: &migrate_config::Config, source_ok: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    if source_ok {
        problems.extend(check_server(config).await);
    }
    problems.extend(check_ledger(config).await);
    if config.pod.database.is_some() {
        problems.extend(check_pod(config).await);
    }
    problems
}

/// Prints every problem with its fix, and the verdict.
pub(super) fn verdict(problems: &[Problem]) -> anyhow::Result<ExitCode> {
    let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
    let warnings = problems.len() - errors;
    for p in problems {
        let mark = if p.severity == Severity::Error { "✗" } else { "!" };
        println!("{mark} {}: {}\n    fix: {}", p.key, p.message, p.fix);
    }
    if errors == 0 {
        println!("✓ configuration is usable ({warnings} warning(s))");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{errors} error(s), {warnings} warning(s)");
        Ok(ExitCode::from(crate::EXIT_USAGE))
    }
}

async fn check_server(config: &migrate_config::Config) -> Vec<Problem> {
    let client = match crate::source::client(config) {
        Ok(c) => c,
        Err(e) => return vec![problem("source.url", format!("{e:#}"), "fix the [source] section")],
    };
    let api = client.options().api_base.clone();
    match client.version().await {
        Ok(version) => println!(
            "✓ old server reachable at {api} (API {}, BBB {})",
            version.api_version.as_deref().unwrap_or("?"),
            version.bbb_version.as_deref().unwrap_or("unknown, or Scalelite")
        ),
        Err(e) => {
            return vec![problem(
                "source.url",
                format!("{e}"),
                "check the address (it must lead to the BBB API) and that this host may reach it",
            )];
        }
    }
    match client.check_credentials().await {
        Ok(()) => {
            println!("✓ secret and checksum algorithm ({}) accepted", config.source.checksum);
            vec![]
        }
        Err(e) if e.message_key() == Some("checksumError") => vec![problem(
            "source.secret",
            "the server refused the checksum: the secret or checksum algorithm is wrong".into(),
            "copy the secret from `bbb-conf --secret` on the old server (or Scalelite's LOADBALANCER_SECRET) \
             and check source.checksum (sha1, sha256, sha384 or sha512)",
        )],
        Err(e) => vec![problem("source.secret", format!("{e}"), "see the message above")],
    }
}

async fn check_ledger(config: &migrate_config::Config) -> Vec<Problem> {
    match migrate_ledger::Ledger::open(&config.ledger.database).await {
        Ok(ledger) => {
            let count = ledger.recording_count().await.unwrap_or(0);
            println!("✓ ledger {} ({count} recording(s) seen so far)", ledger.display_url());
            vec![]
        }
        Err(e) => vec![problem(
            "ledger.database",
            format!("{e}"),
            "use sqlite://path/to/file (created if missing) or a reachable postgres:// URL",
        )],
    }
}

/// Pod, read-only: the site, the fallback owner, the recorder and its directory (claim mode's needs).
async fn check_pod(config: &migrate_config::Config) -> Vec<Problem> {
    let url = config.pod.database.as_deref().unwrap_or_default();
    let opened = migrate_db::Db::open(url, migrate_db::OpenOptions { read_only: true, ..Default::default() }).await;
    let db = match opened {
        Ok(db) => db,
        Err(e) => return vec![problem("pod.database", e.to_string(), "check the URL, the account and the network")],
    };
    let pod = match migrate_pod::Pod::new(db, config.pod.site_id.into()).await {
        Ok(pod) => pod,
        Err(e) => {
            return vec![problem(
                "pod.database",
                e.to_string(),
                "point pod.database at Pod's database and pod.site_id at its SITE_ID",
            )];
        }
    };
    println!("✓ Pod database {} (site {})", migrate_db::mask_url(url), config.pod.site_id);
    let mut problems = Vec::new();
    match config.pod.fallback_owner.as_deref() {
        Some(who) => match pod.user_by_id_or_username(who).await {
            Ok(Some(user)) => println!("✓ fallback owner {} (id {})", user.username, user.id),
            Ok(None) => problems.push(problem(
                "pod.fallback_owner",
                format!("Pod has no user `{who}`"),
                "give an existing username or id",
            )),
            Err(e) => problems.push(problem("pod.fallback_owner", e.to_string(), "see the message")),
        },
        None => problems.push(Problem::warning(
            "pod.fallback_owner",
            "not set: import mode needs it for the recordings nobody owns",
            "set it to a Pod username or id (the old SCRIPT_ADMIN_ID)",
        )),
    }
    if let Some(id) = config.pod.recorder_id {
        match pod.recorder(id.into()).await {
            Ok(Some(recorder)) => {
                println!("✓ recorder {} `{}` (directory {})", recorder.id, recorder.name, recorder.directory);
                if recorder.manager_id.is_some() {
                    problems.push(Problem::warning(
                        "pod.recorder_id",
                        format!("recorder `{}` has a manager: Pod e-mails the manager instead of offering the files to claim", recorder.name),
                        "remove the recorder's manager in Pod's admin, or use a recorder without one",
                    ));
                }
                if let Some(path) = &config.pod.recorder_path {
                    let dir = std::path::PathBuf::from(migrate_plan::naming::pod_join(path, &recorder.directory, ""));
                    let writable = dir.is_dir()
                        && tempfile::Builder::new()
                            .prefix(".bbb-migrate-check")
                            .suffix(".part")
                            .tempfile_in(&dir)
                            .is_ok();
                    if writable {
                        println!("✓ recorder directory {} is writable", dir.display());
                    } else {
                        problems.push(problem(
                            "pod.recorder_path",
                            format!("{} does not exist or is not writable by this user", dir.display()),
                            "use Pod's DEFAULT_RECORDER_PATH, and create the recorder's directory writable by this user",
                        ));
                    }
                }
            }
            Ok(None) => problems.push(problem(
                "pod.recorder_id",
                format!("Pod has no recorder {id}"),
                "create one in Pod's admin (Recorders)",
            )),
            Err(e) => problems.push(problem("pod.recorder_id", e.to_string(), "see the message")),
        }
    }
    pod.close().await;
    problems
}

pub(super) fn problem(key: &str, message: String, fix: &str) -> Problem {
    Problem { key: key.into(), message, fix: fix.into(), severity: Severity::Error }
}
