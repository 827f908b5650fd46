//! `bench soak`: N recordings on the demo old server with a seeded mix of injected faults, `migrate` run as a
//! child process (this very binary) twice in import mode into a throw-away PostgreSQL Pod and twice in claim
//! mode (copies of the video playbacks only) into a scratch recorder directory. Every recording must be
//! accounted for (done, failed with its cause, or skipped with its reason) in the report and in the ledger, the
//! second run must fix every transient failure, Pod must hold exactly the planned rows once and the directory
//! exactly one verified file per recording; memory and open descriptors of the child are measured.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use bbb_api::RecordingState;
use migrate_db::{sqlx, with_db};
use migrate_demo::{DemoServer, Fault, ServerOptions};
use serde::Serialize;
use sha2::Digest;

use crate::cli::SoakArgs;

/// The client's timeout in the soak (`source.timeout_secs`): a stall lasts longer.
const TIMEOUT_SECS: u64 = 2;
const STALL: Duration = Duration::from_secs(TIMEOUT_SECS * 5 / 2);
/// `source.page_size`: more pages, so that API faults hit a small soak too.
const PAGE_SIZE: usize = 25;
/// Distinct stand-in videos (real, tiny MP4 files that pass every check) shared out among the recordings.
const VARIANTS: u64 = 16;

const POD_SCHEMA_POSTGRES: &str = include_str!("../../../../tests/fixtures/pod/schema.postgres.sql");

pub async fn run(args: SoakArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.recordings >= 20, "--recordings ≥ 20");
    anyhow::ensure!((0.0..=0.5).contains(&args.fault_rate), "--fault-rate between 0 and 0.5");
    let tmp;
    let work = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.canonicalize()?
        }
        None => {
            tmp = tempfile::Builder::new().prefix("soak").tempdir()?;
            tmp.path().to_owned()
        }
    };
    let mut scales = Vec::new();
    if args.compare_with >= 20 && args.compare_with < args.recordings {
        scales.push(args.compare_with);
    }
    scales.push(args.recordings);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "soak: {} recordings{}, {:.1} % faults, seed {}, --jobs {}, {cores} core(s), in {}",
        args.recordings,
        if scales.len() > 1 { format!(" (and {} to compare)", scales[0]) } else { String::new() },
        args.fault_rate * 100.0,
        args.seed,
        args.jobs,
        work.display()
    );
    let videos = stand_in_videos(&work.join("videos")).await?;
    let mut results = Vec::new();
    for &n in &scales {
        let started = Instant::now();
        let scale = soak_once(n, &args, &work, &videos).await?;
        println!("{n} recordings soaked in {:.0} s", started.elapsed().as_secs_f64());
        results.push(scale);
    }
    let mut violations: Vec<String> = results.iter().flat_map(|s| s.violations.clone()).collect();
    if let [small, large] = &results[..] {
        violations.extend(compare_scales(small, large));
    }
    for scale in &results {
        print_scale(scale);
    }
    if let [small, large] = &results[..] {
        println!("\nmemory and descriptors, {} vs {} recordings:", small.recordings, large.recordings);
        for ((name, a), (_, b)) in runs(small).into_iter().zip(runs(large)) {
            let per = (b.usage.peak_rss_kb as f64 - a.usage.peak_rss_kb as f64) * 1024.0
                / (large.recordings - small.recordings) as f64;
            println!(
                "  {name:<14} peak RSS {:>9} vs {:>9} ({:+.1} kB per extra recording), max fds {} vs {}, threads {} vs {}",
                mb(a.usage.peak_rss_kb),
                mb(b.usage.peak_rss_kb),
                per / 1024.0,
                a.usage.max_fds,
                b.usage.max_fds,
                a.usage.max_threads,
                b.usage.max_threads
            );
        }
    }
    let summary = Summary { scales: results, violations: violations.clone() };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if violations.is_empty() {
        println!("\nevery invariant holds");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{} invariant(s) broken:", violations.len());
        for v in &violations {
            println!("  ✗ {v}");
        }
        Ok(ExitCode::from(1))
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    scales: Vec<Scale>,
    violations: Vec<String>,
}

/// Everything measured on one catalogue size.
#[derive(Debug, Serialize)]
pub(crate) struct Scale {
    recordings: usize,
    /// Recordings with a playback (the others, still processing, are skipped with their reason).
    with_playback: usize,
    api_faults: BTreeMap<String, usize>,
    /// Per cause: how many recordings got it, failed on the first run, still failed on the second.
    file_faults: BTreeMap<String, CauseFigures>,
    import: Runs,
    claim: Runs,
    pod: PodCheck,
    files: FileCheck,
    violations: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct CauseFigures {
    injected: usize,
    failed_first: usize,
    failed_second: usize,
    example: String,
}

/// A mode's two runs (`ran` false: not soaked, `--only` the other).
#[derive(Debug, Default, Serialize)]
struct Runs {
    ran: bool,
    first: RunFigures,
    second: RunFigures,
}

/// One `migrate` child process.
#[derive(Debug, Default, Serialize)]
struct RunFigures {
    exit_code: Option<i32>,
    seconds: f64,
    outcomes: usize,
    done: usize,
    already_done: usize,
    failed: usize,
    skipped: usize,
    busy: usize,
    /// Ledger action counts of the mode after the run, by status.
    ledger: BTreeMap<String, u64>,
    failed_ids: BTreeSet<String>,
    /// Failure details by record id.
    #[serde(skip)]
    details: HashMap<String, String>,
    usage: Usage,
}

/// What the child process used, sampled every 20 ms from /proc.
#[derive(Debug, Default, Clone, Serialize)]
struct Usage {
    /// Peak resident set size of bbb-migrate itself, kB: its VmHWM (a high-water mark, so a sample 20 ms before
    /// the end has seen everything but the last 20 ms).
    peak_rss_kb: u64,
    /// `/usr/bin/time`'s maximum RSS, when it is installed: the largest of bbb-migrate and the ffmpeg and ffprobe
    /// processes it ran (the kernel folds waited-for children in).
    peak_rss_with_children_kb: Option<u64>,
    max_fds: usize,
    max_threads: usize,
    /// RSS at a quarter, half, three quarters of the run and at its last sample, kB.
    rss_quartiles_kb: [u64; 4],
    samples: usize,
}

#[derive(Debug, Default, Serialize)]
struct PodCheck {
    rows: usize,
    expected_rows: usize,
    duplicate_pairs: usize,
    missing_pairs: usize,
    unexpected_pairs: usize,
    recordings_without_row: usize,
    users_created: usize,
    users_with_several_profiles: usize,
}

#[derive(Debug, Default, Serialize)]
struct FileCheck {
    files: usize,
    expected: usize,
    verified: usize,
    mismatched: usize,
    missing: usize,
    leftovers: usize,
    recordings_with_several_files: usize,
}

/// A tiny real video (H.264 + AAC in MP4 with its index first, as BBB's `video-0.m4v`) that passes ffprobe and
/// a full read; `VARIANTS` of them, made once with ffmpeg and kept in `dir`.
async fn stand_in_videos(dir: &Path) -> anyhow::Result<Vec<(PathBuf, u64, String)>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for k in 0..VARIANTS {
        let path = dir.join(format!("variant-{k}.mp4"));
        if !path.is_file() {
            let part = dir.join(format!(".variant-{k}.mp4.part"));
            let status = tokio::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size=160x90:rate=10,hue=h={}", k * 20))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("sine=frequency={}:sample_rate=16000", 300 + 40 * k))
                .args(["-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "24k", "-ac", "1"])
                .args(["-movflags", "+faststart", "-f", "mp4"])
                .arg(&part)
                .status()
                .await
                .context("cannot run ffmpeg (the soak makes its stand-in videos with it)")?;
            anyhow::ensure!(status.success(), "ffmpeg could not make the stand-in video {}", path.display());
            std::fs::rename(&part, &path)?;
        }
        let size = std::fs::metadata(&path)?.len();
        let sha = sha256_of(&path)?;
        out.push((path, size, sha));
    }
    Ok(out)
}

/// What was injected into one recording's video playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    Http5xx,
    Stall,
    CutOff,
    Short,
    Missing,
}

impl Cause {
    const ALL: [Cause; 5] = [Cause::Http5xx, Cause::Stall, Cause::CutOff, Cause::Short, Cause::Missing];

    fn label(self) -> &'static str {
        match self {
            Cause::Http5xx => "HTTP 5xx (once)",
            Cause::Stall => "stall past the read timeout (once)",
            Cause::CutOff => "connection cut mid-body (once)",
            Cause::Short => "short body, consistent length (once)",
            Cause::Missing => "video file 404 (permanent)",
        }
    }
}

async fn soak_once(n: usize, args: &SoakArgs, work: &Path, videos: &[(PathBuf, u64, String)]) -> anyhow::Result<Scale> {
    let dir = work.join(n.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let media = dir.join("media");
    let recorder_path = dir.join("ftp");
    let target = recorder_path.join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    std::fs::create_dir_all(&target)?;

    // The old server: every recording with a playback also has a video playback (so nothing is rendered), whose
    // file is one of the stand-ins, announced with its real size.
    let variant = |seed: u64| &videos[(splitmix(seed) % VARIANTS) as usize];
    let options = ServerOptions {
        recordings: n,
        seed: args.seed,
        media_dir: Some(media.clone()),
        ffmpeg: "/nonexistent/ffmpeg-not-needed-for-copies".into(),
        ..Default::default()
    };
    let server = DemoServer::start_adjusted(options, SocketAddr::from(([127, 0, 0, 1], 0)), |web_root, recordings| {
        for demo in recordings.iter_mut().filter(|d| d.recording.state != RecordingState::Processing) {
            let size = variant(demo.seed).1;
            demo.set_video_playback(web_root, size);
        }
    })
    .await?;
    std::fs::create_dir_all(&media)?;
    let mut source_sha: HashMap<String, String> = HashMap::new();
    for demo in server.recordings().iter().filter(|d| d.has_video_format) {
        let Some(spec) = migrate_demo::published::video_playback_file(demo) else { continue };
        let (path, _, sha) = variant(demo.seed);
        let cached = media.join(spec.file_name());
        if !cached.exists() && std::fs::hard_link(path, &cached).is_err() {
            std::fs::copy(path, &cached)?;
        }
        source_sha.insert(demo.recording.record_id.clone(), sha.clone());
    }
    let with_playback = source_sha.len();

    // The faults: exactly `rate` of the recordings with a playback, every cause at least once when there is
    // room, the rest drawn; `rate` of the API requests of each first run, never two in a row.
    let mut rng = Rng(args.seed ^ (n as u64).rotate_left(32));
    let eligible: Vec<String> = {
        let mut ids: Vec<String> = source_sha.keys().cloned().collect();
        ids.sort();
        ids
    };
    let faulty = ((with_playback as f64 * args.fault_rate).round() as usize).min(with_playback);
    let chosen = rng.sample(eligible.len(), faulty);
    let mut injected: BTreeMap<String, Cause> = BTreeMap::new();
    for (k, index) in chosen.into_iter().enumerate() {
        let cause = if k < Cause::ALL.len() { Cause::ALL[k] } else { Cause::ALL[rng.below(Cause::ALL.len())] };
        injected.insert(eligible[index].clone(), cause);
    }
    let inject_files = |server: &DemoServer| {
        for (id, cause) in &injected {
            match cause {
                Cause::Http5xx => server.inject_file_faults(id, [Fault::Status([500, 502, 503][id.len() % 3])]),
                Cause::Stall => server.inject_file_faults(id, [Fault::Delay(STALL)]),
                Cause::CutOff => server.inject_file_faults(id, [Fault::CutOff]),
                Cause::Short => server.inject_file_faults(id, [Fault::Truncate]),
                Cause::Missing => server.break_recording(id),
            }
        }
    };
    let mut api_faults: BTreeMap<String, usize> = BTreeMap::new();

    // Pod on PostgreSQL, the ledger in SQLite.
    let scratch = super::bench::ScratchDb::create(&args.server, &format!("soak{n}")).await?;
    let result = async {
        load_pod(&scratch.url, &server).await?;
        let ledger_url = format!("sqlite://{}/ledger.sqlite", dir.display());
        let env: Vec<(&str, String)> = vec![
            ("BBB_MIGRATE_SOURCE__URL", server.api_url()),
            ("BBB_MIGRATE_SOURCE__SECRET", server.secret().to_owned()),
            ("BBB_MIGRATE_SOURCE__TIMEOUT_SECS", TIMEOUT_SECS.to_string()),
            ("BBB_MIGRATE_SOURCE__PAGE_SIZE", PAGE_SIZE.to_string()),
            ("BBB_MIGRATE_POD__DATABASE", scratch.url.clone()),
            ("BBB_MIGRATE_POD__SECRET_KEY", "soak-secret-key".into()),
            ("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin".into()),
            ("BBB_MIGRATE_POD__RECORDER_ID", migrate_demo::pod_db::RECORDER_ID.to_string()),
            ("BBB_MIGRATE_POD__RECORDER_PATH", recorder_path.display().to_string()),
            ("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\", \"metadata\"]".into()),
            ("BBB_MIGRATE_OWNERS__METADATA_USERNAME_KEYS", "[\"bbb-context-label\"]".into()),
            ("BBB_MIGRATE_LEDGER__DATABASE", ledger_url.clone()),
        ];
        let migrate = |mode: &'static str, run: &'static str| {
            let (dir, env, jobs, ledger_url) = (dir.clone(), env.clone(), args.jobs, ledger_url.clone());
            async move {
                let name = format!("{mode}-{run}");
                let args = [
                    "migrate".to_owned(),
                    "--mode".into(),
                    mode.into(),
                    "--state".into(),
                    "any".into(),
                    "--jobs".into(),
                    jobs.to_string(),
                    "--report".into(),
                    dir.join(format!("{name}.json")).display().to_string(),
                ];
                let (code, seconds, usage) = run_child(&dir, &name, &args, &env).await?;
                let mut figures = read_report(&dir.join(format!("{name}.json"))).with_context(|| {
                    let stderr = std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap_or_default();
                    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().to_owned();
                    format!(
                        "{name}: exit code {code:?} and no report ({}/{name}.stderr ends with: {last})",
                        dir.display()
                    )
                })?;
                let ledger = migrate_ledger::Ledger::open(&ledger_url).await?;
                for ((kind, status), count) in ledger.action_counts().await? {
                    if kind == mode {
                        figures.ledger.insert(status.to_string(), count);
                    }
                }
                ledger.close().await;
                figures.exit_code = code;
                figures.seconds = seconds;
                figures.usage = usage;
                println!(
                    "  {name:<13} {:>6.1} s  {} done, {} already done, {} failed, {} skipped — peak RSS {}, max {} fds",
                    seconds,
                    figures.done,
                    figures.already_done,
                    figures.failed,
                    figures.skipped,
                    mb(figures.usage.peak_rss_kb),
                    figures.usage.max_fds
                );
                anyhow::Ok(figures)
            }
        };
        println!("{n} recordings ({with_playback} with a playback), {} with a faulty video file:", injected.len());
        let (mut import, mut claim) = (Runs::default(), Runs::default());
        let mut unused_faults = 0;
        if args.only != Some(crate::cli::Mode::Claim) {
            server.inject(api_fault_queue(n, args.fault_rate, &mut rng, &mut api_faults));
            let first = migrate("import", "first").await?;
            server.clear_faults();
            let second = migrate("import", "second").await?;
            import = Runs { ran: true, first, second };
        }
        if args.only != Some(crate::cli::Mode::Import) {
            server.inject(api_fault_queue(n, args.fault_rate, &mut rng, &mut api_faults));
            inject_files(&server);
            let first = migrate("claim", "first").await?;
            unused_faults = server.pending_faults();
            server.clear_faults();
            let second = migrate("claim", "second").await?;
            claim = Runs { ran: true, first, second };
        }
        let ledger = migrate_ledger::Ledger::open(&ledger_url).await?;
        let pod = if import.ran { check_pod(&scratch.url, &ledger).await? } else { PodCheck::default() };
        let files = if claim.ran { check_files(&target, &ledger, &source_sha).await? } else { FileCheck::default() };
        ledger.close().await;
        let mut file_faults: BTreeMap<String, CauseFigures> = BTreeMap::new();
        for (id, cause) in &injected {
            let entry = file_faults.entry(cause.label().to_owned()).or_default();
            entry.injected += 1;
            if let Some(detail) = claim.first.details.get(id) {
                entry.failed_first += 1;
                if entry.example.is_empty() {
                    entry.example = detail.clone();
                }
            }
            entry.failed_second += claim.second.failed_ids.contains(id) as usize;
        }
        let mut scale = Scale {
            recordings: n,
            with_playback,
            api_faults: api_faults.clone(),
            file_faults,
            import,
            claim,
            pod,
            files,
            violations: Vec::new(),
        };
        scale.violations = check(&scale, &injected, unused_faults, args.jobs);
        anyhow::Ok(scale)
    }
    .await;
    scratch.drop().await?;
    drop(server);
    if result.is_ok() {
        // The copies and the media take room; the reports and logs are small and kept with --work-dir.
        let _ = std::fs::remove_dir_all(&media);
        let _ = std::fs::remove_dir_all(&target);
    }
    result
}

/// One entry per API request of a first run: `Pass`, or (`rate` of them, never two in a row, so that the client's
/// retries always get through) a fault drawn from every kind; counted by kind into `counts`.
fn api_fault_queue(n: usize, rate: f64, rng: &mut Rng, counts: &mut BTreeMap<String, usize>) -> Vec<Fault> {
    // The listing makes at least n / PAGE_SIZE + 1 requests: every entry is used by the first run.
    let slots = n / PAGE_SIZE;
    let count = ((slots as f64 * rate).round() as usize).max(1).min(slots / 2);
    let at: BTreeSet<usize> = rng.sample(slots / 2, count).into_iter().map(|i| 2 * i).collect();
    let kinds = [
        ("HTTP 5xx", Fault::Status(503)),
        ("timeout", Fault::Delay(STALL)),
        ("truncated XML", Fault::Truncate),
        ("connection cut mid-body", Fault::CutOff),
        ("not XML", Fault::Garbage),
    ];
    (0..slots)
        .map(|slot| {
            if !at.contains(&slot) {
                return Fault::Pass;
            }
            let (label, fault) = kinds[rng.below(kinds.len())].clone();
            *counts.entry(label.to_owned()).or_default() += 1;
            fault
        })
        .collect()
}

/// The invariants of one scale.
fn check(s: &Scale, injected: &BTreeMap<String, Cause>, unused_faults: usize, jobs: usize) -> Vec<String> {
    let n = s.recordings;
    let mut v = Vec::new();
    let permanent: BTreeSet<String> =
        injected.iter().filter(|(_, c)| **c == Cause::Missing).map(|(id, _)| id.clone()).collect();
    for (mode, m) in [("import", &s.import), ("claim", &s.claim)].into_iter().filter(|(_, m)| m.ran) {
        for (run, r) in [("first", &m.first), ("second", &m.second)] {
            let name = format!("{n}: {mode} {run} run");
            let accounted = r.done + r.already_done + r.failed + r.skipped;
            if accounted != n || r.outcomes != n {
                v.push(format!(
                    "{name}: {} done + {} already done + {} failed + {} skipped = {accounted} (report: {} outcomes), \
                     not {n}",
                    r.done, r.already_done, r.failed, r.skipped, r.outcomes
                ));
            }
            if r.busy > 0 {
                v.push(format!("{name}: {} recordings reported busy", r.busy));
            }
            let items = (n - r.skipped) as u64;
            let ledger = |s: &str| r.ledger.get(s).copied().unwrap_or(0);
            if ledger("done") + ledger("failed") != items || ledger("pending") + ledger("running") > 0 {
                v.push(format!("{name}: the ledger has {:?} for {items} planned recordings", r.ledger));
            }
            if ledger("failed") != r.failed as u64 {
                v.push(format!("{name}: the ledger has {} failed, the report {}", ledger("failed"), r.failed));
            }
            if r.skipped != n - s.with_playback {
                v.push(format!("{name}: {} skipped, expected {} (no playback)", r.skipped, n - s.with_playback));
            }
            let expected_code = if r.failed == 0 { 0 } else { 2 };
            if r.exit_code != Some(expected_code) {
                v.push(format!("{name}: exit code {:?} with {} failures", r.exit_code, r.failed));
            }
        }
    }
    if s.import.ran {
        // Import: nothing per recording touches the old server, the API faults are absorbed by the client's retries.
        if s.import.first.failed > 0 {
            v.push(format!(
                "{n}: import first run: {} failed: {:?}",
                s.import.first.failed,
                first_details(&s.import.first)
            ));
        }
        if s.import.second.done > 0 || s.import.second.failed > 0 {
            v.push(format!(
                "{n}: import second run did work: {} done, {} failed",
                s.import.second.done, s.import.second.failed
            ));
        }
        let p = &s.pod;
        if p.duplicate_pairs > 0 || p.missing_pairs > 0 || p.unexpected_pairs > 0 || p.rows != p.expected_rows {
            v.push(format!(
                "{n}: Pod has {} external recordings for {} planned: {} duplicated (recording, owner), {} missing, {} \
                 unexpected",
                p.rows, p.expected_rows, p.duplicate_pairs, p.missing_pairs, p.unexpected_pairs
            ));
        }
        if p.recordings_without_row > 0 || p.users_with_several_profiles > 0 {
            v.push(format!(
                "{n}: Pod: {} imported recordings without a row, {} users with several owner profiles",
                p.recordings_without_row, p.users_with_several_profiles
            ));
        }
    }
    if s.claim.ran {
        // Claim: only recordings given a fault may fail, and the second run leaves exactly the permanent ones.
        let spurious: Vec<&String> = s.claim.first.failed_ids.iter().filter(|id| !injected.contains_key(*id)).collect();
        if !spurious.is_empty() {
            v.push(format!(
                "{n}: claim first run: {} failures without an injected fault, e.g. {}: {}",
                spurious.len(),
                spurious[0],
                s.claim.first.details.get(spurious[0]).cloned().unwrap_or_default()
            ));
        }
        if s.claim.second.failed_ids != permanent {
            v.push(format!(
                "{n}: claim second run failed {} recordings, the permanent faults are {} ({} transient left)",
                s.claim.second.failed_ids.len(),
                permanent.len(),
                s.claim.second.failed_ids.difference(&permanent).count()
            ));
        }
        for id in &s.claim.second.failed_ids {
            let detail = s.claim.second.details.get(id).cloned().unwrap_or_default();
            if permanent.contains(id) && !detail.contains("404") {
                v.push(format!("{n}: a missing video is reported without its cause: {detail}"));
                break;
            }
        }
        if s.claim.second.done + s.claim.first.done != s.with_playback - permanent.len() {
            v.push(format!(
                "{n}: claim: {} + {} done over two runs, expected {}",
                s.claim.first.done,
                s.claim.second.done,
                s.with_playback - permanent.len()
            ));
        }
        if unused_faults > 0 {
            v.push(format!("{n}: {unused_faults} injected file faults were never hit by the claim run"));
        }
        let f = &s.files;
        if f.files != f.expected || f.verified != f.expected || f.mismatched + f.missing + f.leftovers > 0 {
            v.push(format!(
                "{n}: recorder directory: {} files for {} done, {} verified, {} differ from the server's, {} missing, \
                 {} leftovers",
                f.files, f.expected, f.verified, f.mismatched, f.missing, f.leftovers
            ));
        }
        if f.recordings_with_several_files > 0 {
            v.push(format!("{n}: {} recordings have several files", f.recordings_with_several_files));
        }
    }
    // Standard streams, the runtime, the ledger and Pod pools (16), a connection, a file and two pipes per job.
    let fd_bound = 64 + 8 * jobs;
    for (name, r) in runs(s) {
        if r.usage.max_fds > fd_bound {
            v.push(format!("{n}: {name}: {} file descriptors open at once", r.usage.max_fds));
        }
    }
    v
}

/// Memory and descriptors must not grow with the number of recordings beyond what holding the catalogue costs.
fn compare_scales(small: &Scale, large: &Scale) -> Vec<String> {
    let mut v = Vec::new();
    for (name, a, b) in [("import", &small.import, &large.import), ("claim", &small.claim, &large.claim)]
        .into_iter()
        .filter(|(_, a, _)| a.ran)
        .map(|(name, a, b)| (name, &a.first.usage, &b.first.usage))
    {
        // Allowed: the listing, plan and report held in memory, about 10 kB per recording, on top of the small run.
        let allowed = a.peak_rss_kb + 10 * (large.recordings - small.recordings) as u64;
        if b.peak_rss_kb > allowed {
            v.push(format!(
                "{name}: peak RSS {} at {} recordings vs {} at {}: more than 10 kB per extra recording",
                mb(b.peak_rss_kb),
                large.recordings,
                mb(a.peak_rss_kb),
                small.recordings
            ));
        }
        if b.max_fds > a.max_fds + 16 {
            v.push(format!(
                "{name}: {} file descriptors at {} recordings vs {} at {}: they grow with the count",
                b.max_fds, large.recordings, a.max_fds, small.recordings
            ));
        }
    }
    v
}

/// The runs that were made, named.
fn runs(s: &Scale) -> Vec<(&'static str, &RunFigures)> {
    let mut out = Vec::new();
    if s.import.ran {
        out.extend([("import first", &s.import.first), ("import second", &s.import.second)]);
    }
    if s.claim.ran {
        out.extend([("claim first", &s.claim.first), ("claim second", &s.claim.second)]);
    }
    out
}

fn first_details(r: &RunFigures) -> Vec<String> {
    r.details.values().take(3).cloned().collect()
}

fn print_scale(s: &Scale) {
    println!(
        "\n── {} recordings ({} with a playback, {} skipped: still processing) ──",
        s.recordings,
        s.with_playback,
        s.recordings - s.with_playback
    );
    let api: Vec<String> = s.api_faults.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "API faults (getRecordings pages, each first run): {} — every run still listed all {} recordings: {}",
        if api.is_empty() { "none".into() } else { api.join(", ") },
        s.recordings,
        if runs(s).iter().all(|(_, r)| r.outcomes == s.recordings) { "yes" } else { "NO" }
    );
    println!(
        "{:<38} {:>8} {:>13} {:>14}  reported cause (first run)",
        "video file fault", "injected", "failed run 1", "failed run 2"
    );
    for (cause, c) in &s.file_faults {
        let example: String = c.example.chars().take(90).collect();
        println!("{cause:<38} {:>8} {:>13} {:>14}  {example}", c.injected, c.failed_first, c.failed_second);
    }
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>10} {:>8}",
        "run", "done", "already", "failed", "skipped", "seconds", "rec/s", "peak RSS", "RSS end", "max fds"
    );
    for (name, r) in runs(s) {
        println!(
            "{name:<14} {:>8} {:>8} {:>8} {:>8} {:>8.1} {:>9.0} {:>11} {:>10} {:>8}",
            r.done,
            r.already_done,
            r.failed,
            r.skipped,
            r.seconds,
            s.recordings as f64 / r.seconds.max(1e-9),
            mb(r.usage.peak_rss_kb),
            mb(r.usage.rss_quartiles_kb[3]),
            r.usage.max_fds
        );
    }
    let p = &s.pod;
    println!(
        "Pod: {} external recordings (planned {}), duplicated (recording, owner) pairs {}, missing {}, unexpected {}; \
         {} users created, {} with several profiles",
        p.rows,
        p.expected_rows,
        p.duplicate_pairs,
        p.missing_pairs,
        p.unexpected_pairs,
        p.users_created,
        p.users_with_several_profiles
    );
    let f = &s.files;
    println!(
        "files: {} in the recorder directory for {} done, {} verified byte for byte against the server, {} differ, \
         {} missing, {} leftovers, {} recordings with several files",
        f.files, f.expected, f.verified, f.mismatched, f.missing, f.leftovers, f.recordings_with_several_files
    );
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Pod 4.1's tables, the site, an administrator, the six demo people and the demo's Pod meetings (a third with
/// an additional owner, so that some recordings get two rows), and the recorder of claim mode.
async fn load_pod(url: &str, server: &DemoServer) -> anyhow::Result<()> {
    use migrate_db::{Db, OpenOptions};
    // On a connection of its own: pg_dump's script empties the session's search_path.
    let loader = Db::open(url, OpenOptions { max_connections: 1, ..OpenOptions::default() }).await?;
    let schema = POD_SCHEMA_POSTGRES.lines().filter(|l| !l.starts_with('\\')).collect::<Vec<_>>().join("\n");
    with_db!(&loader, pool => sqlx::raw_sql(&schema).execute(pool).await.map(|_| ()))?;
    loader.close().await;
    let mut sql = String::from(
        "INSERT INTO django_site (id, domain, name) VALUES (1, 'pod.soak.univ.fr', 'Pod');\n\
         INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
         is_active, date_joined) VALUES (1, '!', true, 'admin', 'Admin', 'Pod', 'admin@univ.fr', true, true, \
         '2024-01-01 08:00:00');\n",
    );
    let people: Vec<&str> = (0..6).map(migrate_demo::pod_db::owner_of_meeting).collect();
    for (i, who) in people.iter().enumerate() {
        sql += &format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
             is_active, date_joined) VALUES ({}, '!', false, '{who}', 'F', 'L', '{who}@univ.fr', true, true, \
             '2024-01-01 08:00:00');\n",
            i + 2
        );
    }
    let mut meetings = BTreeSet::new();
    for demo in server.recordings() {
        let Some(number) = migrate_demo::pod_db::pod_meeting_number(demo) else { continue };
        if !meetings.insert(number) {
            continue;
        }
        let owner = number as usize % 6 + 2;
        sql += &format!(
            "INSERT INTO meeting (id, name, meeting_id, attendee_password, moderator_password, start_at, expected_duration, \
             frequency, monthly_type, is_restricted, is_running, max_participants, welcome_text, webcam_only_for_moderators, \
             record, auto_start_recording, allow_start_stop_recording, lock_settings_disable_cam, lock_settings_disable_mic, \
             lock_settings_disable_private_chat, lock_settings_disable_public_chat, lock_settings_disable_note, \
             lock_settings_locked_layout, is_personal, created_at, updated_at, is_webinar, enable_chat, owner_id, site_id) \
             VALUES ({number}, 'm', '{}', 'a', 'm', '2024-02-01 10:00:00', interval '2 hours', 1, 'date_day', false, false, \
             150, 'Bienvenue', false, true, false, true, false, false, false, false, false, false, false, \
             '2024-01-15 10:00:00', '2024-03-01 10:00:00', false, false, {owner}, 1);\n",
            demo.recording.meeting_id.replace('\'', "''")
        );
        if number % 3 == 0 {
            sql += &format!(
                "INSERT INTO meeting_additional_owners (meeting_id, user_id) VALUES ({number}, {});\n",
                (number as usize + 1) % 6 + 2
            );
        }
    }
    sql += &format!(
        "INSERT INTO video_type (id, title, slug) VALUES (1, 'Other', 'other');\n\
         INSERT INTO recorder_recorder (id, name, description, address_ip, salt, credentials_login, \
         credentials_password, recording_type, publication_auto, is_draft, is_restricted, cursus, main_lang, \
         transcript, allow_downloading, is_360, disable_comment, directory, type_id, user_id) VALUES ({}, \
         'Ancien serveur BBB', 'soak', '127.0.0.2', 'salt', '', '', 'video', false, true, false, '0', 'fr', '', false, \
         false, false, '{}', 1, NULL);\n\
         INSERT INTO recorder_recorder_sites (recorder_id, site_id) VALUES ({}, 1);\n\
         SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT MAX(id) FROM auth_user));\n",
        migrate_demo::pod_db::RECORDER_ID,
        migrate_demo::pod_db::RECORDER_DIRECTORY,
        migrate_demo::pod_db::RECORDER_ID,
    );
    let db = Db::open(url, OpenOptions { max_connections: 1, ..OpenOptions::default() }).await?;
    with_db!(&db, pool => sqlx::raw_sql(&sql).execute(pool).await.map(|_| ()))?;
    db.close().await;
    Ok(())
}

/// Pod's external recordings against the plans the ledger kept: exactly one row per planned (recording, owner).
async fn check_pod(url: &str, ledger: &migrate_ledger::Ledger) -> anyhow::Result<PodCheck> {
    use migrate_db::{Db, OpenOptions};
    let db = Db::open(url, OpenOptions { read_only: true, max_connections: 1, ..OpenOptions::default() }).await?;
    let sql =
        "SELECT e.source_url, u.username FROM import_video_externalrecording e JOIN auth_user u ON u.id = e.owner_id";
    let rows: Vec<(String, String)> = with_db!(&db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    let profiles =
        "SELECT COUNT(*) FROM (SELECT user_id FROM authentication_owner GROUP BY user_id HAVING COUNT(*) > 1) d";
    let several: i64 = with_db!(&db, pool => sqlx::query_scalar(profiles).fetch_one(pool).await)?;
    let created: i64 =
        with_db!(&db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM auth_user WHERE id > 7").fetch_one(pool).await)?;
    db.close().await;
    let mut actual: HashMap<(String, String), usize> = HashMap::new();
    for row in &rows {
        *actual.entry(row.clone()).or_default() += 1;
    }
    let filter = migrate_ledger::ActionFilter { kind: Some("import".into()), ..Default::default() };
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut without_row = 0;
    for action in ledger.actions(&filter).await? {
        if action.status != migrate_ledger::ActionStatus::Done {
            continue;
        }
        let item = super::migrate::import_item(&action.details)?;
        let mut any = false;
        for row in &item.rows {
            any |= actual.contains_key(&(item.source_url.clone(), row.owner.username().to_owned()));
            expected.insert((item.source_url.clone(), row.owner.username().to_owned()));
        }
        without_row += !any as usize;
    }
    Ok(PodCheck {
        rows: rows.len(),
        expected_rows: expected.len(),
        duplicate_pairs: actual.values().filter(|c| **c > 1).count(),
        missing_pairs: expected.iter().filter(|p| !actual.contains_key(*p)).count(),
        unexpected_pairs: actual.keys().filter(|p| !expected.contains(*p)).count(),
        recordings_without_row: without_row,
        users_created: created as usize,
        users_with_several_profiles: several as usize,
    })
}

/// The recorder directory against the claim actions the ledger says are done: one file each, under its planned
/// name, byte-identical to the server's (and to the SHA-256 the ledger recorded), nothing else.
async fn check_files(
    dir: &Path,
    ledger: &migrate_ledger::Ledger,
    source_sha: &HashMap<String, String>,
) -> anyhow::Result<FileCheck> {
    let names: BTreeSet<String> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let filter = migrate_ledger::ActionFilter { kind: Some("claim".into()), ..Default::default() };
    let mut check = FileCheck::default();
    let mut planned = BTreeSet::new();
    let mut per_recording: HashMap<String, usize> = HashMap::new();
    for action in ledger.actions(&filter).await? {
        if action.status != migrate_ledger::ActionStatus::Done {
            continue;
        }
        check.expected += 1;
        let record_id = action.record_id.clone().unwrap_or_default();
        let name = action.details.get("file_name").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        planned.insert(name.clone());
        let path = dir.join(&name);
        if !path.is_file() {
            check.missing += 1;
            continue;
        }
        *per_recording.entry(record_id.clone()).or_default() += 1;
        let sha = sha256_of(&path)?;
        if Some(&sha) == source_sha.get(&record_id) && action.output_sha256.as_deref() == Some(sha.as_str()) {
            check.verified += 1;
        } else {
            check.mismatched += 1;
        }
    }
    check.files = names.len();
    check.leftovers = names.iter().filter(|n| !planned.contains(*n)).count();
    // Files named after one recording but not planned also count against it.
    for name in names.iter().filter(|n| !planned.contains(*n)) {
        if let Some(id) = source_sha.keys().find(|id| name.contains(id.as_str())) {
            *per_recording.entry(id.clone()).or_default() += 1;
        }
    }
    check.recordings_with_several_files = per_recording.values().filter(|c| **c > 1).count();
    Ok(check)
}

fn read_report(path: &Path) -> anyhow::Result<RunFigures> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let outcomes = report["outcomes"].as_array().context("the report has no outcomes")?;
    let mut figures = RunFigures { outcomes: outcomes.len(), ..Default::default() };
    for o in outcomes {
        match o["status"].as_str().unwrap_or_default() {
            "done" => figures.done += 1,
            "already done" => figures.already_done += 1,
            "skipped" => figures.skipped += 1,
            "busy" => figures.busy += 1,
            "failed" => {
                figures.failed += 1;
                let id = o["record_id"].as_str().unwrap_or_default().to_owned();
                figures.details.insert(id.clone(), o["detail"].as_str().unwrap_or_default().to_owned());
                figures.failed_ids.insert(id);
            }
            other => anyhow::bail!("unknown outcome status {other:?}"),
        }
    }
    Ok(figures)
}

/// Runs this binary with `args` in `dir` (stdout and stderr into `<name>.stdout|.stderr`), sampling the
/// process's memory, descriptors and threads until it exits.
async fn run_child(
    dir: &Path,
    name: &str,
    args: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<(Option<i32>, f64, Usage)> {
    let exe = std::env::current_exe()?;
    let time = Path::new("/usr/bin/time");
    let timed = time.is_file();
    let rss_file = dir.join(format!("{name}.maxrss"));
    let mut cmd = if timed {
        let mut cmd = Command::new(time);
        cmd.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(&exe);
        cmd
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env_remove("BBB_MIGRATE_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{name}.stdout")))?)
        .stderr(std::fs::File::create(dir.join(format!("{name}.stderr")))?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start bbb-migrate")?;
    let mut usage = Usage::default();
    let mut rss_series: Vec<u64> = Vec::new();
    let mut pid: Option<u32> = (!timed).then_some(child.id());
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if pid.is_none() {
            pid = first_child(child.id());
        }
        if let Some(pid) = pid
            && let Some(sample) = sample(pid)
        {
            usage.peak_rss_kb = usage.peak_rss_kb.max(sample.hwm_kb);
            usage.max_fds = usage.max_fds.max(sample.fds);
            usage.max_threads = usage.max_threads.max(sample.threads);
            if sample.rss_kb > 0 {
                // (A process that is exiting has no VmRSS any more.)
                rss_series.push(sample.rss_kb);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    usage.samples = rss_series.len();
    if !rss_series.is_empty() {
        let at = |q: usize| rss_series[((rss_series.len() - 1) * q / 4).min(rss_series.len() - 1)];
        usage.rss_quartiles_kb = [at(1), at(2), at(3), at(4)];
    }
    if timed {
        usage.peak_rss_with_children_kb =
            std::fs::read_to_string(&rss_file).ok().and_then(|s| s.lines().rev().find_map(|l| l.trim().parse().ok()));
    }
    if usage.peak_rss_kb == 0 {
        // Too short to be sampled.
        usage.peak_rss_kb = usage.peak_rss_with_children_kb.unwrap_or(0);
    }
    Ok((status.code(), seconds, usage))
}

struct Sample {
    rss_kb: u64,
    hwm_kb: u64,
    threads: usize,
    fds: usize,
}

fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(Sample { rss_kb: field("VmRSS:"), hwm_kb: field("VmHWM:"), threads: field("Threads:") as usize, fds })
}

/// The first child of `pid` (bbb-migrate under `/usr/bin/time`).
fn first_child(pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded generator (splitmix64): the faults are the same for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `k` distinct indices below `n`, in random order (partial Fisher–Yates).
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_and_seeded() {
        let a = Rng(7).sample(100, 20);
        assert_eq!(a, Rng(7).sample(100, 20));
        assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), 20);
        assert!(a.iter().all(|i| *i < 100));
        assert_eq!(Rng(1).sample(3, 10).len(), 3);
    }
}
