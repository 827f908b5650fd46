//! Queue overhead benchmark (issue 7's goal: under 20 ms per job): publishes 200 no-op jobs with confirms, then
//! consumes them with a no-op handler, and prints jobs per second for each and the per-job overhead.
//!
//! `cargo run --release -p migrate-queue --example queue_bench [-- JOBS [PREFETCH]]`; the broker is
//! `MIGRATE_QUEUE_AMQP` or amqp://guest:guest@127.0.0.1:5672/%2f. Uses its own throw-away queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use migrate_queue::{Admin, CancellationToken, Job, JobKind, Publisher, QueueConfig, Worker, mask_url};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let prefetch: u16 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let url = std::env::var("MIGRATE_QUEUE_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let mut config = QueueConfig::new(url).with_queue(format!("bbb-migrate-bench.{}", std::process::id()));
    config.prefetch = prefetch;
    println!("broker {}, queue {}, {jobs} jobs, prefetch {prefetch}", mask_url(&config.amqp_url), config.queue);

    let batch: Vec<Job> = (0..jobs)
        .map(|i| Job::new(format!("bench-{i}"), JobKind::Claim, Some(format!("rec-{i}")), json!({"copy_only": true})))
        .collect();

    let publisher = Publisher::connect(&config).await?;
    let t = Instant::now();
    let published = publisher.publish_all(&batch).await?;
    let publish = t.elapsed();
    publisher.close().await?;

    let handled = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(std::sync::OnceLock::<Instant>::new());
    let stop = CancellationToken::new();
    let (h, f, s) = (handled.clone(), first.clone(), stop.clone());
    let stop_worker = stop.clone();
    let t = Instant::now();
    let worker = Worker::new(config.clone());
    let run = tokio::spawn(async move {
        worker
            .run(
                move |_job: Job| {
                    let (h, f, s) = (h.clone(), f.clone(), s.clone());
                    async move {
                        f.get_or_init(Instant::now);
                        if h.fetch_add(1, Ordering::SeqCst) + 1 == jobs {
                            s.cancel();
                        }
                        Ok(())
                    }
                },
                stop_worker,
            )
            .await
    });
    let stats = tokio::time::timeout(Duration::from_secs(120), run).await???;
    let consume = t.elapsed();
    let steady = first.get().map(|f| f.elapsed()).unwrap_or(consume);

    let admin = Admin::connect(&config).await?;
    let left = admin.counts().await?;
    admin.delete_all().await?;
    admin.close().await?;

    let rate = |d: Duration| jobs as f64 / d.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / jobs as f64;
    println!("publish: {published} jobs in {publish:.2?} = {:.0} jobs/s ({:.3} ms/job)", rate(publish), ms(publish));
    println!(
        "consume: {} jobs in {consume:.2?} incl. connect = {:.0} jobs/s ({:.3} ms/job); from first job {steady:.2?} = {:.0} jobs/s",
        stats.succeeded,
        rate(consume),
        ms(consume),
        rate(steady)
    );
    println!(
        "queue overhead per job (publish + consume, no-op handler): {:.3} ms (goal < 20 ms); left in queues: {}",
        ms(publish + consume),
        left.pending() + left.dead
    );
    Ok(())
}
