//! Archive throughput over loopback, side by side with plain parallel `curl` fetching the same files.
//!
//! ```text
//! cargo run --release -p bbb-archive --example archive_bench -- [RECORDINGS=200] [JOBS=16] [MEDIA_KIB=1024]
//! ```
//!
//! The demo server generates the recordings (media are stand-in bytes of the given size, so no ffmpeg is
//! needed). Two sources are measured: the demo server itself (which renders every slide PNG per request, so it
//! is the bottleneck for both clients), and a plain static server (tower-http `ServeDir`) over a first archive,
//! which shows the tool's own overhead. `curl -Z` gets the final file list up front; the tool discovers it
//! (first-level files, then references) and also probes optional files that turn out absent.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bbb_archive::{ArchiveOptions, Archiver, Format, Manifest, RecordingSource};
use url::Url;

struct Run {
    files: usize,
    bytes: u64,
    requests: usize,
    elapsed: Duration,
}

impl Run {
    fn mb_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
    fn files_s(&self) -> f64 {
        self.files as f64 / self.elapsed.as_secs_f64()
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<34} {:>6} files {:>9.1} MB {:>7.2} s {:>8.1} MB/s {:>8.0} files/s ({} requests)",
            self.files,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.mb_s(),
            self.files_s(),
            self.requests
        )
    }
}

async fn run_tool(sources: &[RecordingSource], dir: &Path, jobs: usize, fsync: bool) -> (Run, Vec<Manifest>) {
    let options = ArchiveOptions { concurrency: jobs, fsync, ..ArchiveOptions::default() };
    let archiver = Arc::new(Archiver::new(reqwest::Client::new(), dir, options));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources {
        let (archiver, source) = (archiver.clone(), source.clone());
        tasks.spawn(async move { archiver.archive(&source).await });
    }
    let mut run = Run { files: 0, bytes: 0, requests: 0, elapsed: Duration::ZERO };
    let mut manifests = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let report = done.expect("archive task").expect("archive");
        run.files += report.downloaded_files;
        run.bytes += report.downloaded_bytes;
        run.requests += report.requests;
        manifests.push(report.manifest);
    }
    run.elapsed = start.elapsed();
    (run, manifests)
}

/// `curl -Z` over the archived file list (from the manifests), `jobs` transfers at once.
fn run_curl(web_root: &Url, manifests: &[Manifest], dir: &Path, jobs: usize, dir_index: bool) -> Option<Run> {
    let mut config = String::new();
    let (mut files, mut bytes) = (0, 0);
    for m in manifests {
        for f in &m.files {
            // The demo server answers the video page only as its directory URL.
            let path = match f.path.strip_suffix("index.html") {
                Some(dir) if dir_index && f.path.starts_with("playback/video/") => dir,
                _ => &f.path,
            };
            let url = web_root.join(path).expect("file URL");
            config.push_str(&format!("url = \"{url}\"\noutput = \"{}\"\n", dir.join(&f.path).display()));
            files += 1;
            bytes += f.size;
        }
    }
    let cfg = dir.join("curl.cfg");
    std::fs::create_dir_all(dir).ok()?;
    std::fs::write(&cfg, config).ok()?;
    let start = Instant::now();
    let status = std::process::Command::new("curl")
        .args([
            "-sS",
            "--no-progress-meter",
            "--fail",
            "-Z",
            "--parallel-max",
            &jobs.to_string(),
            "--create-dirs",
            "-K",
        ])
        .arg(&cfg)
        .status();
    let elapsed = start.elapsed();
    match status {
        Ok(s) if s.success() => Some(Run { files, bytes, requests: files, elapsed }),
        Ok(s) => {
            eprintln!("curl failed ({s}); no comparison");
            None
        }
        Err(e) => {
            eprintln!("curl not available ({e}); no comparison");
            None
        }
    }
}

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (recordings, jobs, media_kib) = (arg(1, 200), arg(2, 16), arg(3, 1024));
    let tmp = tempfile::tempdir().expect("temp dir");
    let media = tmp.path().join("media");
    // The servers get their own runtime and threads, so that they do not share the client's workers (curl,
    // the comparison, is a separate process too).
    let servers = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("server runtime");
    let client = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("client runtime");
    let server = servers.block_on(common::demo(recordings, &media, media_kib * 1024));
    let sources: Vec<RecordingSource> = common::sources(&server).into_iter().map(|(_, s)| s).collect();
    let video = sources.iter().filter(|s| s.formats.iter().any(|f| f.format == Format::Video)).count();
    println!(
        "{} archivable recordings ({video} with the video format) of {recordings} generated; {jobs} parallel \
         transfers; media {media_kib} KiB each; {} cores",
        sources.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let demo_root = Url::parse(&server.web_root()).unwrap();
    println!("\nsource: demo server (renders slides per request)");
    let (tool, manifests) = client.block_on(run_tool(&sources, &tmp.path().join("a1"), jobs, true));
    println!("{}", tool.line("bbb-archive (fsync)"));
    let (tool_nosync, _) = client.block_on(run_tool(&sources, &tmp.path().join("a2"), jobs, false));
    println!("{}", tool_nosync.line("bbb-archive (no fsync)"));
    if let Some(curl) = run_curl(&demo_root, &manifests, &tmp.path().join("c1"), jobs, true) {
        println!("{}", curl.line("curl -Z"));
        ratio(&tool, &tool_nosync, &curl);
    }

    // The same files from a static server over the first archive (same layout as a BBB server).
    let mirror = servers.block_on(common::StaticServer::start(tmp.path().join("a1")));
    let mirror_root = mirror.url("");
    let mirror_sources: Vec<RecordingSource> = manifests
        .iter()
        .map(|m| {
            let formats: Vec<Format> = m.formats.iter().map(|f| f.format).collect();
            RecordingSource::on_server(&mirror_root, &m.record_id, &formats).unwrap()
        })
        .collect();
    println!("\nsource: static server (tower-http ServeDir) over the first archive");
    let (tool, _) = client.block_on(run_tool(&mirror_sources, &tmp.path().join("b1"), jobs, true));
    println!("{}", tool.line("bbb-archive (fsync)"));
    let (tool_nosync, _) = client.block_on(run_tool(&mirror_sources, &tmp.path().join("b2"), jobs, false));
    println!("{}", tool_nosync.line("bbb-archive (no fsync)"));
    let curl_dir = tmp.path().join("c2");
    if let Some(curl) = run_curl(&mirror_root, &manifests, &curl_dir, jobs, false) {
        println!("{}", curl.line("curl -Z"));
        ratio(&tool, &tool_nosync, &curl);
        let same = manifests.iter().all(|m| {
            m.files.iter().all(|f| {
                bbb_archive::fetch::hash_file_blocking(&curl_dir.join(&f.path)).is_ok_and(|(_, sha)| sha == f.sha256)
            })
        });
        println!("curl's copy identical to the manifests: {same}");
    }
    drop((server, mirror));
    servers.shutdown_background();
}

fn ratio(tool: &Run, tool_nosync: &Run, curl: &Run) {
    println!(
        "ratio bbb-archive/curl (MB/s): {:.2} (fsync), {:.2} (no fsync)",
        tool.mb_s() / curl.mb_s(),
        tool_nosync.mb_s() / curl.mb_s()
    );
}
