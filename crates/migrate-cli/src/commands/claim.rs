//! Claim mode's files: each recording as a video in the recorder directory, under a `.part` name (Pod's scan
//! only takes video extensions) until it is complete, verified and handed to Pod's user, then renamed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use migrate_config::Config;
use migrate_ledger::{ActionOutput, Lease, Ledger, NewAction};
use migrate_plan::claim::{ClaimItem, ClaimMethod, ClaimPlan, ClaimState};
use sha2::Digest;

use super::migrate::{ClaimTarget, Done, Outcome, bytes, run_each, skipped};

/// Who the files are given to, resolved once before the run.
#[derive(Debug, Clone, Default)]
pub(super) struct Handover {
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
}

pub async fn run<'a>(
    config: &'a Config,
    ledger: &'a Ledger,
    plan: &'a ClaimPlan,
    target: &'a ClaimTarget,
    jobs: usize,
) -> anyhow::Result<Vec<Outcome>> {
    check_directory(&target.dir)?;
    let needed = plan.totals().bytes_to_write;
    if let Some(free) = target.free_bytes {
        anyhow::ensure!(
            free >= needed,
            "{} has {} free but the plan needs about {}: free some space or select fewer recordings (--from/--to)",
            target.dir.display(),
            bytes(free),
            bytes(needed)
        );
    }
    let handover = Arc::new(handover(config)?);
    let holder = migrate_ledger::default_owner();
    super::migrate::register_each(ledger, &plan.items, claim_action)
        .await
        .context("cannot record the plan in the ledger")?;
    let by_id = |item: &'a ClaimItem| (item.record_id.as_str(), item.name.as_str());
    let mut outcomes = run_each(&plan.items, jobs, "claim files", by_id, |item| {
        let (holder, handover) = (holder.clone(), handover.clone());
        async move { claim_one(config, ledger, item, &target.dir, &handover, &holder, super::migrate::LEASE).await }
    })
    .await;
    outcomes.extend(plan.skipped.iter().map(|s| skipped(&s.record_id, &s.name, &s.reason)));
    Ok(outcomes)
}

/// The recorder directory must exist (Pod's admin creates it with the recorder) and take our files.
pub(super) fn check_directory(dir: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        dir.is_dir(),
        "the recorder directory {} does not exist: check pod.recorder_path and the recorder's directory in Pod",
        dir.display()
    );
    let probe = dir.join(format!(".bbb-migrate-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot write into the recorder directory {}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

pub(super) fn handover(config: &Config) -> anyhow::Result<Handover> {
    let mode = match config.claim.mode_bits() {
        Some(Ok(bits)) => Some(bits),
        Some(Err(e)) => anyhow::bail!("claim.mode: {e}"),
        None => None,
    };
    let uid = config.claim.owner.as_deref().map(|o| getent_id("passwd", o)).transpose().context("claim.owner")?;
    let gid = config.claim.group.as_deref().map(|g| getent_id("group", g)).transpose().context("claim.group")?;
    Ok(Handover { uid, gid, mode })
}

/// A numeric id as is, else the name looked up through NSS (`getent`, so LDAP accounts work too).
fn getent_id(database: &str, name: &str) -> anyhow::Result<u32> {
    if let Ok(id) = name.trim().parse() {
        return Ok(id);
    }
    let out =
        std::process::Command::new("getent").arg(database).arg(name.trim()).output().context("cannot run getent")?;
    let line = String::from_utf8_lossy(&out.stdout);
    line.split(':')
        .nth(2)
        .and_then(|id| id.trim().parse().ok())
        .with_context(|| format!("no such {database} entry `{name}`"))
}

fn apply_handover(path: &Path, handover: &Handover) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if handover.uid.is_some() || handover.gid.is_some() {
        std::os::unix::fs::chown(path, handover.uid, handover.gid).with_context(|| {
            format!("cannot chown {} (claim.owner/claim.group need root or CAP_CHOWN)", path.display())
        })?;
    }
    if let Some(mode) = handover.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(())
}

/// One recording's file under the ledger lease `key` for `ttl`: local mode and `worker` alike.
pub(super) async fn claim_one(
    config: &Config,
    ledger: &Ledger,
    item: &ClaimItem,
    dir: &Path,
    handover: &Handover,
    holder: &str,
    ttl: std::time::Duration,
) -> Done {
    let key = item.key();
    match super::migrate::lease(ledger, &key, holder, ttl).await {
        Ok(Lease::Acquired(_)) => {}
        Ok(Lease::AlreadyDone(_)) => return ("already done", "done in an earlier run".into(), None),
        Ok(Lease::Busy { owner, .. }) => return ("busy", format!("being made by {owner}"), None),
        Err(e) => return ("failed", format!("ledger: {e}"), None),
    }
    let final_path = dir.join(&item.file_name);
    let result = if item.state == ClaimState::KnownToPod {
        Ok(Made {
            note: format!("Pod already recorded {}: not written again", item.pod_path),
            file: None,
            fresh: false,
        })
    } else if final_path.is_file() {
        // An earlier run renamed it into place but stopped before the ledger heard of it.
        verify(config, &final_path).await.map(|seconds| Made {
            note: format!("{} was already there ({seconds:.0} s)", item.file_name),
            file: Some(final_path.clone()),
            fresh: false,
        })
    } else {
        make(config, item, dir, &final_path, handover).await
    };
    match result {
        Ok(made) => {
            let mut output = ActionOutput { details: serde_json::json!({ "note": made.note }), ..Default::default() };
            if let Some(file) = &made.file {
                output.path = Some(item.pod_path.clone());
                output.size = std::fs::metadata(file).ok().map(|m| m.len());
                output.sha256 = sha256_of(file).ok();
            }
            let value = serde_json::to_value(&output).unwrap_or_default();
            if let Err(e) = ledger.complete(&key, holder, &output).await {
                return ("failed", format!("{}, but the ledger failed: {e}", made.note), Some(value));
            }
            (if made.fresh { "done" } else { "already done" }, made.note, Some(value))
        }
        Err(e) => {
            let message = format!("{e:#}");
            let _ = ledger.fail(&key, holder, &message).await;
            ("failed", message, None)
        }
    }
}

pub(super) fn claim_action(item: &ClaimItem) -> NewAction {
    NewAction {
        key: item.key(),
        kind: "claim".into(),
        record_id: Some(item.record_id.clone()),
        target: item.pod_path.clone(),
        details: serde_json::to_value(item).unwrap_or_default(),
    }
}

struct Made {
    note: String,
    file: Option<PathBuf>,
    /// Made by this run (not found already there).
    fresh: bool,
}

/// Copies or renders into `<name>.part`, verifies, hands the file over, then renames it into place.
async fn make(
    config: &Config,
    item: &ClaimItem,
    dir: &Path,
    final_path: &Path,
    handover: &Handover,
) -> anyhow::Result<Made> {
    let part = dir.join(format!("{}.part", item.file_name));
    let started = Instant::now();
    let note = match &item.method {
        ClaimMethod::Copy { playback_url } => {
            let seconds = copy_video(config, playback_url, &item.record_id, &part).await?;
            format!("copied the video playback ({seconds:.0} s) in {:.1} s", started.elapsed().as_secs_f64())
        }
        ClaimMethod::Render { playback_url } => {
            remove_stale_temporaries(dir, &item.file_name);
            let result = render(config, playback_url, &item.name, &part).await;
            if result.is_err() {
                let _ = std::fs::remove_file(&part);
            }
            let report = result?;
            format!(
                "rendered {:.0} s of recording in {:.1} s ({:.1}× real time)",
                report.duration.as_secs_f64(),
                report.elapsed.as_secs_f64(),
                report.speed()
            )
        }
    };
    apply_handover(&part, handover)?;
    std::fs::rename(&part, final_path).with_context(|| format!("cannot rename {} into place", part.display()))?;
    Ok(Made { note, file: Some(final_path.to_path_buf()), fresh: true })
}

/// A render killed mid-way (SIGKILL, power loss) leaves its hidden temporaries (`.<name>.part.<pid>.*`) behind;
/// whoever holds the lease now owns the file, so they go before rendering again.
fn remove_stale_temporaries(dir: &Path, file_name: &str) {
    let prefix = format!(".{file_name}.part.");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            tracing::info!(file = %entry.path().display(), "removing an interrupted render's temporary file");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The `video` playback's file (`video-0.m4v`, `capture.m4v` before BBB 3.0) into `part`, resuming a partial
/// download, then checked: every packet read (a download cut short is refused even when its header names the
/// whole duration) and ffprobe. A damaged download is removed so that the next run starts afresh; so is one
/// that filled the disk (it would only hold the space the other recordings need). Any other interrupted
/// download is kept and resumed by the next run.
async fn copy_video(config: &Config, playback_url: &str, record_id: &str, part: &Path) -> anyhow::Result<f64> {
    let mut base = url::Url::parse(playback_url).context("the video playback URL is not a URL")?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    anyhow::ensure!(base.path().contains(record_id), "the video playback URL does not name the recording");
    let http = super::render::http_client(config)?;
    let mut found = false;
    for file in ["video-0.m4v", "capture.m4v"] {
        match super::render::fetch_to(&http, base.join(file)?, part).await {
            Ok(true) => {
                found = true;
                break;
            }
            Ok(false) => {}
            Err(e) => {
                if is_disk_full(&e) {
                    let _ = std::fs::remove_file(part);
                }
                return Err(e.context(format!("downloading the video playback {file}")));
            }
        }
    }
    anyhow::ensure!(
        found,
        "the server lists a video playback but answers HTTP 404 for both video-0.m4v and capture.m4v"
    );
    let checked = match super::render::check_complete(Path::new(&config.render.ffmpeg), part).await {
        Ok(()) => verify(config, part).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(seconds) => Ok(seconds),
        Err(e) => {
            let _ = std::fs::remove_file(part);
            Err(e.context("the downloaded video playback is damaged"))
        }
    }
}

/// The error comes from a full disk (ENOSPC) or quota (EDQUOT).
fn is_disk_full(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::StorageFull || matches!(io.raw_os_error(), Some(28 | 122)))
}

async fn render(
    config: &Config,
    playback_url: &str,
    name: &str,
    part: &Path,
) -> anyhow::Result<bbb_render::RenderReport> {
    let (web_root, record_id) = super::render::locate(playback_url, config)?;
    let files = tempfile::tempdir()?;
    super::render::download(&super::render::http_client(config)?, &web_root, &record_id, files.path()).await?;
    let inputs = bbb_render::Inputs::from_dir(files.path())?;
    let options = super::render::options(config, None, None)?;
    let bar = crate::progress::render_bar(name, inputs.timeline.duration.as_secs_f64() as u64);
    let report =
        bbb_render::render_to_file(&inputs, part, &options, |p| bar.set_position(p.done.as_secs_f64() as u64)).await;
    bar.finish_and_clear();
    let report = report?;
    for warning in &report.warnings {
        tracing::warn!(record_id, "{warning}");
    }
    Ok(report)
}

async fn verify(config: &Config, path: &Path) -> anyhow::Result<f64> {
    super::render::probe_duration(&config.render.ffprobe(), path).await
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
