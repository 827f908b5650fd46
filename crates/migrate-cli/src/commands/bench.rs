//! `bench`: throughput figures measured on the demo server, reported as rates (not timed tests).

use std::process::ExitCode;
use std::time::Instant;

use bbb_api::{BbbClient, ClientOptions, RecordingsQuery, StateFilter};
use migrate_db::sqlx;
use migrate_demo::{DemoServer, ServerOptions};

use crate::cli::BenchCommand;

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Inventory { recordings, page_size, ledger, runs } => {
            inventory(recordings, page_size, ledger, runs).await
        }
        BenchCommand::Owners { recordings, users, activities, server, runs } => {
            owners(recordings, users, activities, &server, runs).await
        }
        BenchCommand::Import { recordings, jobs, server } => import(recordings, jobs, &server).await,
        BenchCommand::Queue { jobs, amqp_url } => queue(jobs, &amqp_url).await,
        BenchCommand::Render(args) => super::render_bench::run(args).await,
        BenchCommand::Soak(args) => super::soak::run(args).await,
    }
}

/// Moodle's table definitions, as the tests use them.
const MOODLE_SCHEMA_POSTGRES: &str = include_str!("../../../../tests/fixtures/moodle/schema.postgres.sql");
const MOODLE_SCHEMA_MYSQL: &str = include_str!("../../../../tests/fixtures/moodle/schema.mysql.sql");

async fn owners(
    recordings: usize,
    users: usize,
    activities: usize,
    server: &str,
    runs: u32,
) -> anyhow::Result<ExitCode> {
    use migrate_db::{Db, Engine, OpenOptions, with_db};
    use migrate_owners::moodle::MoodleSite;

    anyhow::ensure!(
        users >= 2 && activities >= 1 && recordings >= 1,
        "--users ≥ 2, --activities ≥ 1, --recordings ≥ 1"
    );
    let scratch = ScratchDb::create(server, "owners").await?;
    let (engine, url) = (scratch.engine(), scratch.url.clone());
    let result = async {
        let db = Db::open(&url, OpenOptions { max_connections: 2, ..OpenOptions::default() }).await?;
        let started = Instant::now();
        let schema = if engine == Engine::Postgres { MOODLE_SCHEMA_POSTGRES } else { MOODLE_SCHEMA_MYSQL };
        with_db!(&db, pool => sqlx::raw_sql(schema).execute(pool).await.map(|_| ()))?;
        // One course per five activities, one editing teacher per course, the other users enrolled as students.
        let courses = activities.div_ceil(5);
        let mut script = String::from("INSERT INTO mdl_role (id, shortname, description, sortorder) VALUES (3, 'editingteacher', '', 3), (5, 'student', '', 5);\n");
        let rows = |header: &str, values: Vec<String>| -> String {
            values.chunks(2_000).map(|chunk| format!("{header} VALUES {};\n", chunk.join(","))).collect()
        };
        script += &rows(
            "INSERT INTO mdl_user (id, username, firstname, lastname, email)",
            (1..=users).map(|u| format!("({u}, 'user{u}', 'Prénom{u}', 'Nom{u}', 'user{u}@univ.fr')")).collect(),
        );
        script += &rows("INSERT INTO mdl_context (id, contextlevel, instanceid)", (1..=courses).map(|c| format!("({c}, 50, {c})")).collect());
        script += &rows(
            "INSERT INTO mdl_role_assignments (roleid, contextid, userid)",
            (1..=users).map(|u| format!("({}, {}, {u})", if u <= courses { 3 } else { 5 }, (u - 1) % courses + 1)).collect(),
        );
        let seed = |a: usize| format!("{a:040x}");
        script += &rows(
            "INSERT INTO mdl_bigbluebuttonbn (id, course, name, meetingid, participants)",
            (1..=activities)
                .map(|a| {
                    let participants = match a % 3 {
                        0 => "NULL".to_owned(),
                        1 => r#"'[{"selectiontype":"role","selectionid":"editingteacher","role":"moderator"}]'"#.to_owned(),
                        _ => format!(r#"'[{{"selectiontype":"user","selectionid":"{}","role":"moderator"}}]'"#, a % users + 1),
                    };
                    format!("({a}, {}, 'Activité {a}', '{}', {participants})", (a - 1) / 5 + 1, seed(a))
                })
                .collect(),
        );
        let recs: Vec<bbb_api::Recording> = (0..recordings)
            .map(|i| {
                let a = i % activities + 1;
                let meeting_id = format!("{}-{}-{a}[0]", seed(a), (a - 1) / 5 + 1);
                let mut rec = bench_recording(&format!("{:040x}-{}", i, 1_700_000_000_000u64 + i as u64), &meeting_id);
                rec.metadata.insert("bbb-origin-server-name".into(), "moodle.bench".into());
                rec
            })
            .collect();
        script += &rows(
            "INSERT INTO mdl_bigbluebuttonbn_recordings (courseid, bigbluebuttonbnid, recordingid)",
            recs.iter().step_by(2).map(|r| {
                let a: usize = r.meeting_id.split('-').nth(2).and_then(|s| s.split('[').next()).and_then(|s| s.parse().ok()).unwrap_or(1);
                format!("({}, {a}, '{}')", (a - 1) / 5 + 1, r.record_id)
            }).collect(),
        );
        with_db!(&db, pool => sqlx::raw_sql(&script).execute(pool).await.map(|_| ()))?;
        println!(
            "owners benchmark: {recordings} recordings, Moodle with {users} users, {activities} activities, {courses} courses on {engine} \
             (database made in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        let site = MoodleSite {
            server_name: "moodle.bench".into(),
            db: Ok(db.clone()),
            table_prefix: "mdl_".into(),
            other_sites: vec!["moodle.bench".into()],
            ignore_servers: vec![],
            include_session_starters: false,
        };
        let resolver = migrate_owners::Resolver::new(vec![Box::new(site)]);
        for run in 1..=runs {
            let started = Instant::now();
            let resolutions = resolver.resolve(&recs).await;
            let elapsed = started.elapsed().as_secs_f64();
            let resolved = resolutions.iter().filter(|r| r.is_resolved()).count();
            anyhow::ensure!(resolved == recordings, "only {resolved} of {recordings} resolved");
            println!("run {run}: {elapsed:.2} s — {:.0} recordings/s, all {resolved} resolved", recordings as f64 / elapsed);
        }
        db.close().await;
        anyhow::Ok(())
    }
    .await;
    scratch.drop().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn bench_recording(record_id: &str, meeting_id: &str) -> bbb_api::Recording {
    let start = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap_or_default();
    bbb_api::Recording {
        record_id: record_id.to_owned(),
        meeting_id: meeting_id.to_owned(),
        internal_meeting_id: None,
        name: "bench".to_owned(),
        state: bbb_api::RecordingState::Published,
        published: true,
        start_time: start,
        end_time: start + chrono::Duration::hours(1),
        participants: None,
        raw_size: None,
        size: None,
        metadata: [("bbb-origin".to_owned(), "Moodle".to_owned())].into_iter().collect(),
        formats: Vec::new(),
        breakout: bbb_api::Breakout::default(),
    }
}

async fn inventory(
    recordings: usize,
    page_size: u32,
    ledger_url: Option<String>,
    runs: u32,
) -> anyhow::Result<ExitCode> {
    let server = DemoServer::start(ServerOptions { recordings, ..Default::default() }).await?;
    let mut options = ClientOptions::new(bbb_api::api_base_url(&server.api_url())?, server.secret());
    options.page_size = page_size;
    let client = BbbClient::new(options)?;
    let query = RecordingsQuery { state: StateFilter::Any, ..Default::default() };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("inventory benchmark: {recordings} recordings, page size {page_size}, {cores} core(s)");
    for run in 1..=runs {
        let tmp = tempfile::tempdir()?;
        let url =
            ledger_url.clone().unwrap_or_else(|| format!("sqlite://{}", tmp.path().join("ledger.sqlite").display()));
        let ledger = super::inventory::open_ledger(&url).await?;
        let started = Instant::now();
        let listing = client.list_recordings(&query, |_| {}).await?;
        let listed = started.elapsed();
        let stats =
            super::inventory::remember(&ledger, client.options().api_base.as_str(), &listing.recordings).await?;
        let total = started.elapsed();
        anyhow::ensure!(listing.recordings.len() == recordings, "listed {} of {recordings}", listing.recordings.len());
        anyhow::ensure!(stats.new as usize == recordings, "stored {} new of {recordings}", stats.new);
        let rate = recordings as f64 / total.as_secs_f64();
        println!(
            "run {run}: {:.0} recordings/s ({:.0}/s per core) — listing {} pages {:.2} s, ledger {:.2} s, total {:.2} s",
            rate,
            rate / cores as f64,
            listing.pages,
            listed.as_secs_f64(),
            (total - listed).as_secs_f64(),
            total.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

const POD_SCHEMA_POSTGRES: &str = include_str!("../../../../tests/fixtures/pod/schema.postgres.sql");
const POD_SCHEMA_MYSQL: &str = include_str!("../../../../tests/fixtures/pod/schema.mysql.sql");

/// Import mode's write path on a real server: the executor of `migrate --mode import` (ledger leases, one
/// transaction per recording) over `recordings` planned items of two owners each.
async fn import(recordings: usize, jobs: usize, server: &str) -> anyhow::Result<ExitCode> {
    use migrate_db::{Db, Engine, OpenOptions, with_db};
    use migrate_plan::import::{ImportItem, ImportRow, NewUser, PlannedOwner, PodUser};

    let scratch = ScratchDb::create(server, "import").await?;
    let (engine, url) = (scratch.engine(), scratch.url.clone());
    let result = async {
        let schema = match engine {
            // psql's `\restrict` lines are not SQL.
            Engine::Postgres => {
                POD_SCHEMA_POSTGRES.lines().filter(|l| !l.starts_with('\\')).collect::<Vec<_>>().join("\n")
            }
            _ => POD_SCHEMA_MYSQL.to_owned(),
        };
        // On a connection of its own: pg_dump's script empties the session's search_path.
        let loader = Db::open(&url, OpenOptions { max_connections: 1, ..OpenOptions::default() }).await?;
        with_db!(&loader, pool => sqlx::raw_sql(&schema).execute(pool).await.map(|_| ()))?;
        loader.close().await;
        let db = Db::open(&url, OpenOptions { max_connections: 16, ..OpenOptions::default() }).await?;
        let users = recordings.div_ceil(10);
        let t = if engine == Engine::Postgres { "true" } else { "1" };
        let mut script = String::from("INSERT INTO django_site (id, domain, name) VALUES (1, 'pod.univ.fr', 'Pod');\n");
        for chunk in (1..=users).collect::<Vec<_>>().chunks(2_000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|u| {
                    format!(
                        "({u}, '!', {t}, 'teacher{u}', 'F', 'L', 'teacher{u}@univ.fr', {t}, {t}, '2024-01-01 08:00:00')"
                    )
                })
                .collect();
            script += &format!(
                "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
                 is_active, date_joined) VALUES {};\n",
                values.join(",")
            );
        }
        if engine == Engine::Postgres {
            // Rows inserted with explicit ids leave the identity behind; Pod's own rows never do.
            script += "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT MAX(id) FROM auth_user));\n";
        }
        with_db!(&db, pool => sqlx::raw_sql(&script).execute(pool).await.map(|_| ()))?;
        let pod = migrate_pod::Pod::new(db, 1).await?;
        let items: Vec<ImportItem> = (0..recordings)
            .map(|i| {
                let teacher = i % users + 1;
                let url = format!(
                    "https://old.univ.fr/playback/presentation/2.3/{i:040x}-{}",
                    1_700_000_000_000u64 + i as u64
                );
                let row = |owner| ImportRow { owner, evidence: "bench".into(), fallback: false, existing_id: None };
                ImportItem {
                    position: i + 1,
                    record_id: format!("{i:040x}-{}", 1_700_000_000_000u64 + i as u64),
                    name: format!("Cours {i}"),
                    start_at: chrono::Utc::now(),
                    duration_secs: 3600,
                    origin: "Moodle".into(),
                    source_url: url.clone(),
                    url_variants: vec![url],
                    rows: vec![
                        row(PlannedOwner::Existing {
                            user: PodUser {
                                id: teacher as i64,
                                username: format!("teacher{teacher}"),
                                email: String::new(),
                                first_name: String::new(),
                                last_name: String::new(),
                            },
                        }),
                        row(PlannedOwner::New {
                            user: NewUser {
                                username: format!("student{}", i / 5),
                                email: format!("student{}@univ.fr", i / 5),
                                first_name: "Prénom".into(),
                                last_name: "Nom".into(),
                            },
                        }),
                    ],
                    notes: vec![],
                }
            })
            .collect();
        let plan = migrate_plan::import::ImportPlan { items, skipped: vec![] };
        let ledger_dir = tempfile::tempdir()?;
        let ledger =
            migrate_ledger::Ledger::open(&format!("sqlite://{}/ledger.sqlite", ledger_dir.path().display())).await?;
        let profile = migrate_pod::users::NewUserProfile {
            auth_type: "CAS".into(),
            affiliation: "member".into(),
            establishment: "Etab_1".into(),
        };
        for pass in ["first run", "second run (all done)"] {
            let started = Instant::now();
            let outcomes =
                super::migrate::run_import(&pod, &ledger, &plan, profile.clone(), "bench-secret", jobs).await;
            let seconds = started.elapsed().as_secs_f64();
            let failed: Vec<_> = outcomes.iter().filter(|o| o.status == "failed").collect();
            anyhow::ensure!(failed.is_empty(), "{} failed, first: {}", failed.len(), failed[0].detail);
            let rows = if pass == "first run" { 2 * recordings + recordings.div_ceil(5) * 4 } else { 0 };
            println!(
                "import {pass}: {recordings} recordings in {seconds:.2} s = {:.0} recordings/s, {:.0} Pod rows/s \
                 ({rows} rows: 2 external recordings per recording + 4 rows per created user), {jobs} jobs, {}",
                recordings as f64 / seconds,
                rows as f64 / seconds,
                engine
            );
        }
        pod.close().await;
        ledger.close().await;
        anyhow::Ok(())
    }
    .await;
    scratch.drop().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Local mode against the queue path on the same import jobs, each run as the user would (subprocesses of this
/// binary), each into its own copy of the demo Pod and its own ledger.
async fn queue(jobs: usize, amqp_url: &str) -> anyhow::Result<ExitCode> {
    use std::process::{Command, Stdio};
    anyhow::ensure!(jobs >= 1, "--jobs ≥ 1");
    let server = DemoServer::start(ServerOptions { recordings: jobs, ..Default::default() }).await?;
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let queue = format!("bbb-migrate-bench.{}", std::process::id());
    let command = |name: &str, pod: &str| {
        let mut cmd = Command::new(&exe);
        cmd.current_dir(dir.path())
            .env_remove("BBB_MIGRATE_CONFIG")
            .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
            .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
            .env("BBB_MIGRATE_POD__DATABASE", pod)
            .env("BBB_MIGRATE_POD__SECRET_KEY", "bench-secret-key")
            .env("BBB_MIGRATE_POD__FALLBACK_OWNER", "admin")
            .env("BBB_MIGRATE_OWNERS__ORDER", "[\"pod\", \"metadata\"]")
            .env("BBB_MIGRATE_OWNERS__METADATA_USERNAME_KEYS", "[\"bbb-context-label\"]")
            .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}/{name}-ledger.sqlite", dir.path().display()))
            .env("BBB_MIGRATE_QUEUE__AMQP_URL", amqp_url)
            .env("BBB_MIGRATE_QUEUE__QUEUE", &queue)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let done = |name: &str| {
        let url = format!("sqlite://{}/{name}-ledger.sqlite", dir.path().display());
        async move {
            let ledger = migrate_ledger::Ledger::open(&url).await?;
            let counts = ledger.action_counts().await?;
            ledger.close().await;
            let n = |s| counts.get(&("import".to_owned(), s)).copied().unwrap_or(0);
            Ok::<_, anyhow::Error>((n(migrate_ledger::ActionStatus::Done), counts.values().sum::<u64>()))
        }
    };
    let local_pod = migrate_demo::pod_db::create(&dir.path().join("local-pod.sqlite"), server.recordings()).await?;
    let queue_pod = migrate_demo::pod_db::create(&dir.path().join("queue-pod.sqlite"), server.recordings()).await?;

    let started = Instant::now();
    let status = command("local", &local_pod)
        .args(["migrate", "--mode", "import", "--jobs", "1", "--report", "local.json"])
        .status()?;
    let local = started.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "the local run failed");
    let (local_done, total) = done("local").await?;

    let started = Instant::now();
    let status = command("queue", &queue_pod).args(["migrate", "--mode", "import", "--queue"]).status()?;
    anyhow::ensure!(
        status.success(),
        "migrate --queue failed (is RabbitMQ at {} up?)",
        migrate_queue::mask_url(amqp_url)
    );
    let published = started.elapsed().as_secs_f64();
    let mut worker = command("queue", &queue_pod).arg("worker").spawn()?;
    let queue_done = loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (n, _) = done("queue").await?;
        if n >= local_done {
            break n;
        }
        anyhow::ensure!(worker.try_wait()?.is_none(), "the worker stopped early");
        anyhow::ensure!(started.elapsed().as_secs() < 600, "the worker did not finish in 10 minutes");
    };
    let queued = started.elapsed().as_secs_f64();
    let _ = Command::new("kill").arg("-TERM").arg(worker.id().to_string()).status();
    let _ = worker.wait();
    let mut config = migrate_queue::QueueConfig::new(amqp_url).with_queue(&queue);
    config.retry.max_attempts = 5;
    if let Ok(admin) = migrate_queue::Admin::connect(&config).await {
        let _ = admin.delete_all().await;
        let _ = admin.close().await;
    }
    let n = local_done.max(1) as f64;
    println!("{total} import jobs ({local_done} done locally, {queue_done} through the queue), SQLite Pod and ledger:");
    println!("  local  `migrate --jobs 1`:             {local:.2} s, {:.0} jobs/s (planning included)", n / local);
    println!(
        "  queue  `migrate --queue` + 1 worker:   {queued:.2} s, {:.0} jobs/s (planning and publishing {published:.2} s)",
        n / queued
    );
    println!("  queue overhead: {:.1} ms per job", (queued - local) * 1000.0 / n);
    Ok(ExitCode::SUCCESS)
}

/// A database made for one benchmark on a PostgreSQL or MySQL/MariaDB server, dropped afterwards.
pub(super) struct ScratchDb {
    admin: migrate_db::Db,
    name: String,
    pub(super) url: String,
}

impl ScratchDb {
    pub(super) async fn create(server: &str, what: &str) -> anyhow::Result<ScratchDb> {
        use migrate_db::{Db, Engine, OpenOptions, with_db};
        let name = format!("bbb_migrate_bench_{what}_{}", std::process::id());
        let admin = Db::open(server, OpenOptions::default()).await?;
        anyhow::ensure!(admin.engine() != Engine::Sqlite, "give a PostgreSQL or MySQL/MariaDB --server");
        let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
        let url = format!("{base}/{name}");
        with_db!(&admin, pool => sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(pool).await.map(|_| ()))?;
        Ok(ScratchDb { admin, name, url })
    }

    fn engine(&self) -> migrate_db::Engine {
        self.admin.engine()
    }

    pub(super) async fn drop(self) -> anyhow::Result<()> {
        let name = &self.name;
        let drop = if self.engine() == migrate_db::Engine::Postgres {
            format!("DROP DATABASE {name} WITH (FORCE)")
        } else {
            format!("DROP DATABASE {name}")
        };
        migrate_db::with_db!(&self.admin, pool => sqlx::raw_sql(&drop).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}
