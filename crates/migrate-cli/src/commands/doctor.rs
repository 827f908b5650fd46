//! `doctor`: everything a long run needs, checked before it starts — one line per check and a verdict. It
//! writes nothing: database grants are tried inside transactions that are rolled back.

use std::path::Path;
use std::process::ExitCode;

use migrate_config::{Problem, Severity};

use super::config::problem;

pub async fn run(explicit: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match migrate_config::load(explicit) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("✗ configuration: {e}");
            return Ok(ExitCode::from(crate::EXIT_USAGE));
        }
    };
    println!("configuration: {}", loaded.source);
    let config = &loaded.config;
    let mut problems = loaded.config.check();
    let source_ok = !problems.iter().any(|p| p.key.starts_with("source.") && p.severity == Severity::Error);
    problems.extend(super::config::online(config, source_ok).await);
    problems.extend(check_pod_grants(config).await);
    problems.extend(check_moodle(config).await);
    problems.extend(check_ffmpeg(config).await);
    problems.extend(check_queue(config).await);
    if let Some(path) = &config.pod.recorder_path {
        if let Some(free) = super::migrate::free_space(Path::new(path)) {
            println!(
                "✓ {} free under {path} (`plan --mode claim` says how much the run needs)",
                super::migrate::bytes(free)
            );
        }
    }
    super::config::verdict(&problems)
}

async fn check_pod_grants(config: &migrate_config::Config) -> Vec<Problem> {
    let Some(url) = config.pod.database.as_deref() else { return Vec::new() };
    let Ok(db) = migrate_db::Db::open(url, Default::default()).await else { return Vec::new() };
    let Ok(pod) = migrate_pod::Pod::new(db, config.pod.site_id.into()).await else { return Vec::new() };
    let mut problems = Vec::new();
    for check in pod.check_grants().await {
        match check.result {
            Ok(()) => println!("✓ Pod grant: {} (for {})", check.what, check.needed_by),
            Err(e) => problems.push(Problem::warning(
                "pod.database",
                format!("{} refused ({}), needed by {}", check.what, e, check.needed_by),
                "GRANT the Pod database account what the README's \"Database grants\" lists",
            )),
        }
    }
    pod.close().await;
    problems
}

async fn check_moodle(config: &migrate_config::Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, moodle) in config.moodle.iter().enumerate() {
        let read_only = migrate_db::OpenOptions { read_only: true, ..Default::default() };
        match migrate_db::Db::open(&moodle.database, read_only).await {
            Ok(db) => {
                println!("✓ Moodle {} reachable ({})", moodle.server_name, migrate_db::mask_url(&moodle.database));
                db.close().await;
            }
            Err(e) => problems.push(problem(
                &format!("moodle[{index}].database"),
                e.to_string(),
                "check the URL, the account and that this host may reach the database",
            )),
        }
    }
    problems
}

/// ffmpeg and ffprobe, with the encoders the renderer and the copies use.
async fn check_ffmpeg(config: &migrate_config::Config) -> Vec<Problem> {
    let encoders =
        tokio::process::Command::new(&config.render.ffmpeg).args(["-hide_banner", "-encoders"]).output().await;
    let mut problems = Vec::new();
    match encoders {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            for encoder in ["libx264", "aac", "libvpx-vp9", "libopus"] {
                if text.lines().any(|l| l.split_whitespace().nth(1) == Some(encoder)) {
                    println!("✓ ffmpeg encoder {encoder}");
                } else {
                    let severity_error = matches!(encoder, "libx264" | "aac");
                    let p = problem(
                        "render.ffmpeg",
                        format!("ffmpeg has no {encoder} encoder"),
                        "install Debian's ffmpeg package (it has every encoder bbb-migrate uses)",
                    );
                    problems.push(if severity_error { p } else { Problem { severity: Severity::Warning, ..p } });
                }
            }
        }
        _ => problems.push(problem(
            "render.ffmpeg",
            format!("cannot run `{}`", config.render.ffmpeg),
            "apt-get install ffmpeg, or set render.ffmpeg to its path",
        )),
    }
    let ffprobe = config.render.ffprobe();
    match tokio::process::Command::new(&ffprobe).arg("-version").output().await {
        Ok(out) if out.status.success() => println!("✓ ffprobe (verifies every output)"),
        _ => problems.push(problem(
            "render.ffmpeg",
            format!("cannot run `{}`", ffprobe.display()),
            "apt-get install ffmpeg, or set render.ffmpeg to an ffmpeg with ffprobe beside it",
        )),
    }
    problems
}

async fn check_queue(config: &migrate_config::Config) -> Vec<Problem> {
    let Some(url) = &config.queue.amqp_url else { return Vec::new() };
    let queue = migrate_queue::QueueConfig::new(url.expose()).with_queue(&config.queue.queue);
    match migrate_queue::Admin::connect(&queue).await {
        Ok(admin) => {
            println!("✓ RabbitMQ {} reachable", migrate_queue::mask_url(url.expose()));
            let _ = admin.close().await;
            Vec::new()
        }
        Err(e) => vec![problem("queue.amqp_url", e.to_string(), "check the URL, the vhost and the credentials")],
    }
}
