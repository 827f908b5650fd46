//! `demo`: the whole pipeline that exists today, against the built-in demo old server.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use bbb_api::{BbbClient, ClientOptions, RecordingsQuery, StateFilter};
use migrate_demo::{DemoServer, ServerOptions};
use migrate_inventory::{Selection, Summary, output};

use crate::cli::{DemoArgs, MigrateArgs, Mode, SelectionArgs};

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    let output = args.output.canonicalize().unwrap_or(args.output.clone());
    let options = ServerOptions {
        recordings: args.recordings,
        media_dir: Some(output.join("media-cache")),
        ..ServerOptions::default()
    };
    let server = start_server(options, args.port).await?;
    println!("1. demo old server: {} ({} generated recordings)", server.api_url(), server.recordings().len());

    let api_base = bbb_api::api_base_url(&server.api_url())?;
    let client = BbbClient::new(ClientOptions::new(api_base, server.secret()))?;
    let ledger_path = output.join("ledger.sqlite");
    let ledger = super::inventory::open_ledger(&format!("sqlite://{}", ledger_path.display())).await?;
    let run = ledger.start_run("demo").await?;

    let query = RecordingsQuery { state: StateFilter::Any, ..Default::default() };
    let inventory = super::inventory::collect(
        &client,
        &query,
        &Selection { states: StateFilter::Any, ..Default::default() },
        Some(&ledger),
    )
    .await?;
    let seen = inventory.seen.unwrap_or_default();
    println!(
        "2. inventory: {} recordings listed (all states), stored in the ledger: {} new, {} changed, {} unchanged",
        inventory.listed, seen.new, seen.updated, seen.unchanged
    );
    let json_path = output.join("inventory.json");
    let csv_path = output.join("inventory.csv");
    output::write_json(&mut std::fs::File::create(&json_path)?, &inventory.entries)?;
    output::write_csv(&mut std::fs::File::create(&csv_path)?, &inventory.entries)?;
    let newest: Vec<_> = inventory.entries.iter().take(10).cloned().collect();
    println!("\n{}", output::table(&newest, 160));
    let summary = Summary::of(inventory.entries.iter().map(|e| &e.recording));
    println!("{}\n", summary.to_text());

    // The demo's Pod is made once: a rerun finds what the first run wrote and, like any rerun, adds nothing.
    let pod_path = output.join("pod.sqlite");
    let pod_url = if pod_path.exists() {
        format!("sqlite://{}", pod_path.display())
    } else {
        migrate_demo::pod_db::create(&pod_path, server.recordings())
            .await
            .context("cannot create the demo Pod database")?
    };
    let pod_db = migrate_db::Db::open(&pod_url, migrate_db::OpenOptions { read_only: true, ..Default::default() })
        .await
        .map_err(|e| e.to_string());
    let resolver = migrate_owners::Resolver::new(vec![Box::new(migrate_owners::pod::PodMeetings { db: pod_db })]);
    let resolutions = super::owners::resolve(&resolver, &inventory.entries).await;
    let owners_path = output.join("owners.json");
    serde_json::to_writer_pretty(std::fs::File::create(&owners_path)?, &resolutions)?;
    let with_owners = resolutions.iter().filter(|r| r.is_resolved()).count();
    println!(
        "3. owners: {with_owners} recording(s) matched to their Pod meeting's owners in {} (Pod 4.1's tables); \
         the {} others go to the fallback owner `admin` (the demo has no Moodle or Greenlight database)\n",
        pod_path.display(),
        resolutions.len() - with_owners
    );

    let config = demo_config(&server, &ledger_path, &pod_url, &output);
    let every_state = SelectionArgs { state: Some("any".into()), ..Default::default() };
    let import_report = output.join("report-import.json");
    let import = MigrateArgs {
        selection: every_state.clone(),
        mode: Mode::Import,
        dry_run: false,
        jobs: None,
        report: Some(import_report.clone()),
        queue: false,
    };
    let (report, _) = super::migrate::execute(&config, &import).await.context("import mode on the demo Pod")?;
    println!("4. option 2, {}", report.summary_line());
    println!(
        "   each owner now has the recordings in Pod's \"external recordings\" (import_video_externalrecording)\n"
    );

    // Claim mode for the shortest of the ten newest published presentations: rendered in seconds.
    let sample = inventory
        .entries
        .iter()
        .take(10)
        .filter(|e| e.recording.published && e.recording.format(&bbb_api::FormatKind::Presentation).is_some())
        .min_by_key(|e| e.recording.duration());
    let mut sample_dir = None;
    let recorder_dir = output.join("ftp-pod").join(migrate_demo::pod_db::RECORDER_DIRECTORY);
    let claim_report = output.join("report-claim.json");
    if let Some(entry) = sample {
        let dir = output.join("published").join(&entry.recording.record_id);
        let files = download_presentation(&server, &entry.recording.record_id, &dir).await?;
        println!("5. published files of one recording ({files} files) copied to {}", dir.display());
        std::fs::create_dir_all(&recorder_dir)?;
        let claim = MigrateArgs {
            selection: SelectionArgs { from: Some(entry.position), to: Some(entry.position), ..every_state },
            mode: Mode::Claim,
            dry_run: false,
            jobs: None,
            report: Some(claim_report.clone()),
            queue: false,
        };
        let (report, _) = super::migrate::execute(&config, &claim).await.context("claim mode on the demo")?;
        let detail = report.outcomes.first().map(|o| o.detail.clone()).unwrap_or_default();
        println!("6. option 1, {} — {detail}", report.summary_line());
        sample_dir = Some(dir);
    }

    let summary_json = serde_json::json!({
        "recordings": inventory.listed,
        "hours": summary.total_hours(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    ledger.finish_run(run, "done", &summary_json).await?;
    println!("\nResults in {}:", output.display());
    println!("  {}  the ledger (what was seen and done; reruns resume from it)", ledger_path.display());
    println!("  {}  the inventory as JSON", json_path.display());
    println!("  {}  the inventory as CSV (opens in a spreadsheet)", csv_path.display());
    println!(
        "  {}  the demo Pod (SQLite, all of Pod 4.1's tables), with the external recordings and users",
        pod_path.display()
    );
    println!("  {}  who owns each recording, with the evidence or the reason", owners_path.display());
    println!("  {}  what import mode did, recording by recording", import_report.display());
    if let Some(dir) = sample_dir {
        println!("  {}  slides, shapes.svg, metadata.xml, media of one recording", dir.display());
        println!(
            "  {}  that recording as a video to claim in Pod (slides, annotations, cursor, webcam, sound)",
            recorder_dir.display()
        );
        println!("  {}  what claim mode did", claim_report.display());
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    if args.serve {
        println!("\nThe demo server keeps running. In another terminal:");
        println!("  export BBB_MIGRATE_SOURCE__URL={}", server.api_url());
        println!("  export BBB_MIGRATE_SOURCE__SECRET={}   # the demo server's public test secret", server.secret());
        println!("  bbb-migrate inventory --from 1 --to 10");
        println!("Ctrl-C stops it.");
        tokio::signal::ctrl_c().await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration a site would write for the demo: its old server, its Pod, its recorder.
fn demo_config(server: &DemoServer, ledger: &Path, pod_url: &str, output: &Path) -> migrate_config::Config {
    let mut config = migrate_config::Config::default();
    config.source.url = server.api_url();
    config.source.secret = migrate_config::Secret::new(server.secret());
    config.ledger.database = format!("sqlite://{}", ledger.display());
    config.pod.database = Some(pod_url.to_owned());
    config.pod.secret_key = migrate_config::Secret::new("demo-pod-secret-key");
    config.pod.fallback_owner = Some("admin".into());
    config.pod.recorder_id = Some(migrate_demo::pod_db::RECORDER_ID as u32);
    config.pod.recorder_path = Some(output.join("ftp-pod").display().to_string());
    config.owners.order = vec!["pod".into()];
    config
}

/// The demo server on `port`, else on [`PREFERRED_PORT`] when free (so that a rerun sees the same URLs and
/// the ledger reports the recordings unchanged), else on any free port.
async fn start_server(options: ServerOptions, port: Option<u16>) -> anyhow::Result<DemoServer> {
    let on = |port: u16| DemoServer::start_on(options.clone(), std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let started = match port {
        Some(port) => on(port).await,
        None => match on(PREFERRED_PORT).await {
            Ok(server) => Ok(server),
            Err(_) => on(0).await,
        },
    };
    started.context("cannot start the demo server")
}

/// Where the demo server listens unless told otherwise or the port is taken.
const PREFERRED_PORT: u16 = 38_080;

/// Copies every published file of one recording, as the archive mode will for all of them.
async fn download_presentation(server: &DemoServer, record_id: &str, dir: &Path) -> anyhow::Result<usize> {
    let demo = server
        .recordings()
        .iter()
        .find(|r| r.recording.record_id == record_id)
        .context("the demo recording disappeared")?;
    let http = reqwest::Client::new();
    let base = url::Url::parse(&server.web_root())?.join(&format!("presentation/{record_id}/"))?;
    let mut count = 0;
    for rel in migrate_demo::published::presentation_files(demo) {
        anyhow::ensure!(super::render::fetch(&http, &base, &rel, dir).await?, "the demo server has no {rel}");
        count += 1;
    }
    Ok(count)
}
