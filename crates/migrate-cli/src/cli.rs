//! Command-line interface: every subcommand, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Rescue the recordings of an old BigBlueButton/Scalelite server before it is switched off.
///
/// Start with `bbb-migrate demo` to see the whole pipeline on a built-in demo server, then
/// `bbb-migrate config init > bbb-migrate.toml`, fill in [source], and `bbb-migrate config check`.
#[derive(Debug, Parser)]
#[command(name = "bbb-migrate", version, about, long_about, max_term_width = 110)]
pub struct Cli {
    /// Configuration file [default: ./bbb-migrate.toml, else $BBB_MIGRATE_CONFIG]
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More detail on stderr (-v: progress of each step, -vv: debug)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also write every log event as a JSON line to this file (at debug level), for grep and audits
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write, check or show the configuration
    #[command(subcommand)]
    Config(ConfigCommand),

    /// List every recording of the old server, newest first, numbered from 1
    ///
    /// Recordings are numbered after the filters, so `--origin Moodle --from 1 --to 2` are the two most recent
    /// Moodle recordings. What is listed is also stored in the ledger, for the later steps.
    Inventory(InventoryArgs),

    /// Who owns each recording: the owners found in Pod, Moodle or the metadata, with the evidence
    ///
    /// Sources are asked in the order of `owners.order`; the first that finds owners wins. A recording no
    /// source can tell goes to `pod.fallback_owner`, and the reason is shown (no source matched, activity
    /// deleted, every moderator deleted, database unreachable…). Front-end databases are opened read-only.
    Owners(OwnersArgs),

    /// Add the information message ([notice]) to the Moodle activities of the selected recordings
    ///
    /// The message goes between markers at the end of the activity's description: running this again changes
    /// nothing, a changed template replaces it, `--remove` takes it out and leaves the description as it was.
    /// Needs a Moodle database user allowed to UPDATE the bigbluebuttonbn and course tables.
    Notice(NoticeArgs),

    /// Turn a presentation recording into a video (or one frame), natively, far faster than real time
    ///
    /// SOURCE is a recordID (fetched from the configured old server), a playback URL (2.0 or 2.3 form) or a
    /// directory of published files already on disk. The output's extension picks the format: .mp4 (H.264 +
    /// AAC), .webm (VP9 + Opus) or .mkv. The file appears under its name only once verified.
    Render(RenderArgs),

    /// Show exactly what `migrate` would do: every row or file, per owner, with totals. Writes nothing
    ///
    /// --mode import: the Pod external recordings (and Pod users) that would be created, and those already
    /// there. --mode claim: every video file that would be copied or rendered into the recorder directory,
    /// with sizes and the free disk it needs. Pod is only read; not even the ledger is written.
    Plan(PlanArgs),

    /// Migrate the selected recordings into Pod: option 2 (--mode import) or option 1 (--mode claim)
    ///
    /// import: for each recording and each of its owners, a Pod external recording of type BigBlueButton
    /// pointing at the old playback; owners unknown to Pod get an account. claim: each recording as a video
    /// file in the directory of the Pod recorder `pod.recorder_id`, claimable in Pod once its scan runs (the
    /// server's video playback is copied, presentations are rendered natively). Rerunning is safe: nothing is
    /// created twice and nothing finished is redone. --dry-run is `plan`.
    Migrate(MigrateArgs),

    /// Delete the Pod external recordings that point at the old server, after saving every row to a file
    ///
    /// Rows are selected by the exact prefix of the old server's web address (source.url), shown with their
    /// owners, written to --backup, then deleted in one transaction. `restore` puts them back.
    Cleanup(CleanupArgs),

    /// Put back what `cleanup --backup FILE` deleted, or what `relink --backup FILE` changed
    Restore(RestoreArgs),

    /// Check the whole setup before a long run: old server and secret, ledger, Pod (and its grants, tried in
    /// rolled-back transactions), Moodle, the recorder directory and free disk, ffmpeg and its encoders,
    /// RabbitMQ. One line per check, then the verdict; nothing is written
    Doctor,

    /// Point the Pod external recordings bbb-migrate created at the archive instead of the old server
    ///
    /// Only rows the ledger says this tool created, only for recordings `archive` has copied, only while they
    /// still point at the old server (source.url). Every change is written to --backup first; one transaction;
    /// `restore FILE` undoes it.
    Relink(RelinkArgs),

    /// Copy every published file of the selected recordings into DIR, verified, in a BBB server's layout
    ///
    /// DIR then holds `presentation/<recordID>/…` and `playback/video/<recordID>/…` exactly as the old server
    /// published them, plus a manifest per recording (sizes and SHA-256, under `manifests/`), so that BBB's own
    /// player keeps playing them — chat, slides, captions, polls — from any static web server. Reruns fetch only
    /// what is missing or damaged; an interrupted file is resumed. `--verify` re-reads the archive;
    /// `--serve-config --base-url URL` prints the nginx configuration that serves it.
    Archive(ArchiveArgs),

    /// Let Pod's own "import a BBB recording" use bbb-migrate instead of bbb-recorder (Chrome + Xvfb)
    #[command(subcommand)]
    PodPlugin(PodPluginCommand),

    /// Consume the jobs of `migrate --queue` (RabbitMQ, [queue]): render/copy or import, verify, record, ack
    ///
    /// Run one on each encoding host, all sharing the PostgreSQL ledger. Each job is done under the ledger lease
    /// of its recording (renewed while it runs; a dead worker's job is taken over once its lease expires), with the
    /// same code as local mode; a job already done is acked without work. Failures are retried with backoff up to
    /// queue.max_attempts, then dead-lettered (`retry --failed`). SIGTERM/SIGINT finish the running job first.
    Worker(WorkerArgs),

    /// Where the migration stands, from the ledger (any host): done, running (on which host), failed (why),
    /// pending, and an ETA from the recent completion rate
    Status(StatusArgs),

    /// Put failed recordings back to work: reset them in the ledger and, with a queue, queue their jobs again
    /// (dead letters included)
    Retry(RetryArgs),

    /// The migration for managers, from the ledger: totals, per origin and owner, hours, failures, thumbnails
    ///
    /// HTML is one self-contained file (styles inline, preview images embedded); CSV has one line per recording;
    /// JSON has everything.
    Report(ReportArgs),

    /// Run the whole pipeline on a built-in demo old server with generated recordings
    Demo(DemoArgs),

    /// Measure throughput on the built-in demo server (figures to compare across versions and hosts)
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Inventory of N generated recordings over loopback HTTP into a fresh ledger
    Inventory {
        /// Recordings on the demo server
        #[arg(long, default_value_t = 10_000)]
        recordings: usize,
        /// getRecordings page size
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        /// Ledger URL [default: a SQLite file in a temporary directory]; with a password, give it in the
        /// environment (a command line is public on the host)
        #[arg(long, value_name = "URL", env = "BBB_MIGRATE_BENCH_LEDGER", hide_env_values = true)]
        ledger: Option<String>,
        /// Repeat the measurement this many times and report each run
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// Owner resolution of N recordings against a generated Moodle database (made, then dropped)
    Owners {
        /// Recordings to resolve
        #[arg(long, default_value_t = 10_000)]
        recordings: usize,
        /// Moodle users
        #[arg(long, default_value_t = 50_000)]
        users: usize,
        /// Moodle BigBlueButton activities
        #[arg(long, default_value_t = 5_000)]
        activities: usize,
        /// Server where the throw-away Moodle database is created (postgres://… or mysql://…, an admin account)
        #[arg(
            long,
            value_name = "URL",
            env = "BBB_MIGRATE_BENCH_SERVER",
            hide_env_values = true,
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        server: String,
        /// Repeat the measurement this many times
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// Import mode into a throw-away Pod database: N recordings × 2 owners (one a Pod user, one created), with
    /// the ledger, then the same plan again (nothing to write)
    Import {
        /// Recordings to import
        #[arg(long, default_value_t = 10_000)]
        recordings: usize,
        /// Recordings written at once (as `migrate --jobs`)
        #[arg(long, default_value_t = 8)]
        jobs: usize,
        /// Server where the throw-away Pod database is created (postgres://… or mysql://…, an admin account)
        #[arg(
            long,
            value_name = "URL",
            env = "BBB_MIGRATE_BENCH_SERVER",
            hide_env_values = true,
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        server: String,
    },
    /// The soak: N recordings on the demo old server with a seeded mix of faults (API 5xx, timeouts, cut-off and
    /// truncated answers, missing video files); `migrate` run twice in import mode (a throw-away PostgreSQL Pod)
    /// and twice in claim mode (copies only, a scratch directory) as child processes. Checks every recording is
    /// accounted for, the second run fixes every transient failure, nothing is duplicated; measures peak RSS and
    /// open descriptors (also at --compare-with recordings). Exits 1 if an invariant is broken
    Soak(SoakArgs),
    /// `render` of a generated recording (slides, annotations, cursor, a 640×480 webcam with sound) next to a
    /// bare ffmpeg composite of the same media: speed as seconds of recording per second, peak memory, A/V sync
    Render(RenderBenchArgs),
    /// N import jobs done locally (`migrate --jobs 1`) and through RabbitMQ (`migrate --queue` + one `worker`),
    /// each into its own copy of the demo Pod: jobs per second both ways and the queue's overhead per job
    Queue {
        /// Jobs (demo recordings)
        #[arg(long, default_value_t = 200)]
        jobs: usize,
        /// RabbitMQ (a unique queue is used, then deleted)
        #[arg(
            long,
            value_name = "URL",
            env = "BBB_MIGRATE_BENCH_AMQP_URL",
            hide_env_values = true,
            default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
        )]
        amqp_url: String,
    },
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Recordings on the demo server
    #[arg(long, default_value_t = 10_000)]
    pub recordings: usize,
    /// Share of the recordings with a playback whose video file misbehaves, and of the API requests
    #[arg(long, default_value_t = 0.05)]
    pub fault_rate: f64,
    /// Seed of the catalogue and of the faults
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// First soak this many recordings too, to compare memory and descriptors (below 20: no comparison)
    #[arg(long, default_value_t = 1_000)]
    pub compare_with: usize,
    /// As `migrate --jobs`
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Soak one mode only [default: import, then claim]
    #[arg(long, value_enum)]
    pub only: Option<Mode>,
    /// PostgreSQL server where the throw-away Pod database is created (an admin account)
    #[arg(
        long,
        value_name = "URL",
        env = "BBB_MIGRATE_BENCH_SERVER",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub server: String,
    /// Where the reports, logs and ledgers are kept [default: a temporary directory, removed]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Also write every figure as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderBenchArgs {
    /// Length of the generated recording
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// No webcam: slides, annotations and cursor over the sound only
    #[arg(long)]
    pub slides_only: bool,
    /// Output size
    #[arg(long, default_value = "1280x720")]
    pub size: String,
    /// As `render --fps` [default: render's]
    #[arg(long)]
    pub fps: Option<u32>,
    /// As `render --x264-preset` [default: render's]
    #[arg(long, value_name = "PRESET")]
    pub x264_preset: Option<String>,
    /// As `render --x264-params` [default: render's]
    #[arg(long, value_name = "OPTIONS")]
    pub x264_params: Option<String>,
    /// The recording's sound: `speech` (a synthesized French lecture, looped: what the AAC encoder meets in
    /// real recordings) or `tone` (the demo's sine with a beep every second; costs the encoder twice as much)
    #[arg(long, value_enum, default_value_t = BenchSound::Speech)]
    pub sound: BenchSound,
    /// Where the recording (kept for the next run) and the outputs go [default: target/bbb-render-bench]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchSound {
    Speech,
    Tone,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented configuration template: `bbb-migrate config init > bbb-migrate.toml`
    Init,
    /// Validate the configuration, reach the old server with the secret, open the ledger; report every problem
    Check {
        /// Only validate the file; do not contact the server or open the ledger
        #[arg(long)]
        offline: bool,
    },
    /// Print the effective configuration (file + environment), secrets masked
    Show,
}

/// Which recordings to work on; shared by every command that works on recordings.
#[derive(Debug, Clone, Args, Default)]
pub struct SelectionArgs {
    /// First position to take (1 = the newest recording)
    #[arg(long, value_name = "N", help_heading = "Selection")]
    pub from: Option<usize>,
    /// Last position to take, inclusive
    #[arg(long, value_name = "N", help_heading = "Selection")]
    pub to: Option<usize>,
    /// Only recordings started on or after this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE", help_heading = "Selection")]
    pub since: Option<String>,
    /// Only recordings started on or before this day (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "DATE", help_heading = "Selection")]
    pub until: Option<String>,
    /// Only this meeting ID (repeat for several)
    #[arg(long = "meeting", value_name = "ID", help_heading = "Selection")]
    pub meetings: Vec<String>,
    /// Only recordings from this front-end: Moodle, Pod, Greenlight, unknown, or any bbb-origin value (repeatable)
    #[arg(long = "origin", value_name = "NAME", help_heading = "Selection")]
    pub origins: Vec<String>,
    /// Recording states: published,unpublished (BBB's default), any, or a comma-separated list
    #[arg(long, value_name = "STATES", help_heading = "Selection")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people
    Table,
    /// One JSON array
    Json,
    /// One line per recording, with a header
    Csv,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the listing to this file instead of standard output
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Do not store what was seen in the ledger
    #[arg(long)]
    pub no_ledger: bool,
    /// Add each recording's owners (as `owners` finds them) to the listing
    #[arg(long)]
    pub with_owners: bool,
}

#[derive(Debug, Subcommand)]
pub enum PodPluginCommand {
    /// Write an `export.js` that Pod runs as `node export.js <playback URL> <file name>`
    ///
    /// Point Pod's IMPORT_VIDEO_BBB_RECORDER_PLUGIN at DIR and IMPORT_VIDEO_BBB_RECORDER_PATH at the --output
    /// directory: Pod then gets its file from the native renderer, with no browser on the encoding server.
    Install {
        /// Directory to write export.js into (Pod's IMPORT_VIDEO_BBB_RECORDER_PLUGIN)
        dir: PathBuf,
        /// Where the videos must appear (bbb-recorder's copyToPath, Pod's IMPORT_VIDEO_BBB_RECORDER_PATH)
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// recordID, playback URL, or directory of published files
    pub source: String,
    /// Output file (.mp4, .webm, .mkv), or .png with --frame
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: PathBuf,
    /// Render only the picture at this instant (HH:MM:SS, MM:SS or seconds) as a PNG, to check a layout
    #[arg(long, value_name = "TIME")]
    pub frame: Option<String>,
    /// auto, presentation, presentation+webcam or webcam-only [default: render.layout]
    #[arg(long)]
    pub layout: Option<String>,
    /// WIDTHxHEIGHT, both even [default: render.size]
    #[arg(long)]
    pub size: Option<String>,
    /// Output frames per second [default: render.fps, else 15 with video on screen, 5 without]; 10 is about
    /// 1.3× faster with a webcam
    #[arg(long)]
    pub fps: Option<u32>,
    /// x264 preset for MP4/MKV (ultrafast … veryslow): faster presets render faster, files are bigger
    /// [default: render.x264_preset, veryfast]
    #[arg(long, value_name = "PRESET")]
    pub x264_preset: Option<String>,
    /// x264 options over the preset, `key=value:…`; "" for the preset alone [default: render.x264_params,
    /// bframes=0:me=dia:subme=1, a third faster on slides for files 5 % bigger]
    #[arg(long, value_name = "OPTIONS")]
    pub x264_params: Option<String>,
    /// Keep the downloaded published files in this directory (reused by the next run)
    #[arg(long, value_name = "DIR")]
    pub keep_files: Option<PathBuf>,
    /// Render the presentation even when the server has a `video` playback (by default that file is copied
    /// into .mp4/.m4v/.mkv outputs: same content, no rendering)
    #[arg(long)]
    pub force_render: bool,
}

#[derive(Debug, Args)]
pub struct NoticeArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Show the activities and what would change; write nothing
    #[arg(long, visible_alias = "dry")]
    pub dry_run: bool,
    /// Take the message away again
    #[arg(long)]
    pub remove: bool,
}

/// The two ways recordings go to Pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Option 2: Pod external recordings pointing at the old playback, for each owner
    Import,
    /// Option 1: video files in a Pod recorder's directory, to be claimed in Pod
    Claim,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Import => "import",
            Mode::Claim => "claim",
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// import (option 2) or claim (option 1)
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the plan to this file instead of standard output
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// import (option 2) or claim (option 1)
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Only show what would be done (same as `plan`)
    #[arg(long, visible_alias = "dry")]
    pub dry_run: bool,
    /// Recordings worked on at once [default: import 8; claim half the cores, since one ffmpeg uses several]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Write the run's report (JSON) here [default: bbb-migrate-report-<mode>-<time>.json]
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Do not work here: publish one job per recording to RabbitMQ ([queue]) for `bbb-migrate worker`s
    #[arg(long, conflicts_with_all = ["jobs", "report"])]
    pub queue: bool,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Only show the rows that would be deleted
    #[arg(long, visible_alias = "dry")]
    pub dry_run: bool,
    /// Write every deleted row to this JSON file first (required to delete)
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    pub backup: Option<PathBuf>,
    /// Select rows by this URL prefix instead of the old server's web address (source.url)
    #[arg(long, value_name = "URL")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The archive directory, or an S3-compatible bucket as s3://BUCKET/PREFIX ([archive] endpoint, keys)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Re-read every archived file of the selection against its manifest and report what is missing or
    /// damaged; fetch nothing
    #[arg(long)]
    pub verify: bool,
    /// Files downloaded at once [default: 8]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Print an nginx server block that serves DIR (with BBB's player) at --base-url, and exit
    #[arg(long, requires = "base_url")]
    pub serve_config: bool,
    /// The public address of the archive, for --serve-config
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Do not work here: publish one job per recording to RabbitMQ ([queue]) for `bbb-migrate worker`s
    #[arg(long, conflicts_with_all = ["verify", "serve_config"])]
    pub queue: bool,
}

#[derive(Debug, Args)]
pub struct RelinkArgs {
    /// The archive's public address (what `archive --serve-config --base-url` serves)
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Only show what would change
    #[arg(long, visible_alias = "dry")]
    pub dry_run: bool,
    /// Write every change to this JSON file first (required to change anything)
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    pub backup: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `cleanup --backup` or `relink --backup`
    pub backup: PathBuf,
}

#[derive(Debug, Args)]
pub struct OwnersArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Only the recordings no source could tell, with the reason (they go to pod.fallback_owner)
    #[arg(long)]
    pub unresolved: bool,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write to this file instead of standard output
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many recordings the demo server holds
    #[arg(long, default_value_t = 60)]
    pub recordings: usize,
    /// Where to write the results (ledger, inventory files, sample published files)
    #[arg(long, short = 'o', default_value = "demo-output", value_name = "DIR")]
    pub output: PathBuf,
    /// Keep the demo server running after the pipeline, to try other commands against it (Ctrl-C stops it)
    #[arg(long)]
    pub serve: bool,
    /// Port of the demo server on 127.0.0.1 [default: 38080 when free, else any free port]
    #[arg(long)]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Exit once no job has come for this many seconds (batch hosts, benchmarks); by default run until stopped
    #[arg(long, value_name = "SECS")]
    pub idle_exit: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// For people
    Table,
    /// One JSON object
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
    /// Failures listed in the table (all of them in JSON)
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub failures: usize,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Retry the recordings that failed (required: the only retry there is)
    #[arg(long)]
    pub failed: bool,
    /// Only this mode's failures [default: import and claim]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page (inline styles, embedded thumbnails)
    Html,
    /// One line per recording
    Csv,
    /// Totals and every recording
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// The file to write
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Only this mode's recordings [default: import and claim]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// HTML: do not fetch the recordings' preview images
    #[arg(long)]
    pub no_thumbnails: bool,
}
