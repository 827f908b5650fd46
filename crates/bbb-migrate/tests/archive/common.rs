//! What every archive test shares: the demo old server with stand-in media, the `bbb-migrate` command with
//! its `BBB_MIGRATE_*` environment, and running it to get its success and output.

use std::path::Path;

use assert_cmd::Command;
use migrate_demo::{DemoRecording, DemoServer, ServerOptions};

/// The demo server with `recordings` recordings, their stand-in media of `size` bytes each under
/// `work/media` (no ffmpeg needed).
pub async fn demo_server(work: &Path, recordings: usize, size: usize) -> DemoServer {
    let media = work.join("media");
    let options = ServerOptions {
        recordings,
        media_dir: Some(media.clone()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed".into(),
        ..ServerOptions::default()
    };
    let server = DemoServer::start(options).await.unwrap();
    migrate_demo::media::stand_in_media(&media, server.recordings(), |_| size).unwrap();
    server
}

/// The recordings `archive --state published` copies: published, with at least one format.
pub fn published(server: &DemoServer) -> Vec<&DemoRecording> {
    server.recordings().iter().filter(|d| d.recording.published && !d.recording.formats.is_empty()).collect()
}

/// `bbb-migrate` run in `dir`, reading the API at `api_url` (the demo server's, or a front's) with `secret`,
/// its ledger `dir/ledger.sqlite`, no configuration file.
pub fn std_command(dir: &Path, api_url: &str, secret: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("bbb-migrate"));
    cmd.current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env("BBB_MIGRATE_SOURCE__URL", api_url)
        .env("BBB_MIGRATE_SOURCE__SECRET", secret)
        .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/ledger.sqlite", dir.display()));
    cmd
}

/// [`std_command`] against the demo server itself.
pub fn bbb_migrate(dir: &Path, server: &DemoServer) -> Command {
    Command::from_std(std_command(dir, &server.api_url(), server.secret()))
}

/// Runs `cmd` with `args`: whether it succeeded, and its stdout then stderr.
pub fn output(cmd: &mut Command, args: &[&str]) -> (bool, String) {
    let out = cmd.args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
