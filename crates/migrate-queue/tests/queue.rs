//! Worker, publisher and admin against the real RabbitMQ on localhost, one set of queues per test.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Proxy, QueueGuard, Seen, test_config, unique_queue, wait_for};
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use migrate_queue::{
    Admin, CancellationToken, DecodeError, Job, JobError, JobKind, Publisher, QueueConfig, QueueError, Worker,
    WorkerStats,
};
use serde_json::json;

fn jobs(prefix: &str, n: usize) -> Vec<Job> {
    (0..n)
        .map(|i| Job::new(format!("{prefix}-{i}"), JobKind::Claim, Some(format!("rec-{i}")), json!({ "i": i })))
        .collect()
}

fn keys(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.key.clone()).collect()
}

/// Runs a worker in the background; returns its stop token and the join handle.
fn spawn_worker<H: migrate_queue::JobHandler>(
    config: QueueConfig,
    handler: H,
) -> (CancellationToken, tokio::task::JoinHandle<Result<WorkerStats, QueueError>>) {
    let stop = CancellationToken::new();
    let s = stop.clone();
    let handle = tokio::spawn(async move { Worker::new(config).run(handler, s).await });
    (stop, handle)
}

async fn stop_worker(
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<WorkerStats, QueueError>>,
) -> WorkerStats {
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("worker stops").unwrap().expect("worker ok")
}

/// Publishes raw bodies (what a foreign or broken producer might send) straight to `queue`.
async fn publish_raw(queue: &str, bodies: &[&[u8]]) {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let conn = Connection::connect(&common::amqp_url(), props).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    for body in bodies {
        ch.basic_publish(
            "",
            queue,
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap();
    }
    conn.close(200, "done").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_all_confirms_every_job_and_counts_see_them() {
    let config = test_config(&unique_queue("publish"));
    let _guard = QueueGuard(config.clone());
    let publisher = Publisher::connect(&config).await.unwrap();
    let batch = jobs("p", 1000);
    let start = Instant::now();
    assert_eq!(publisher.publish_all(&batch).await.unwrap(), 1000);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "1000 confirmed publishes took {took:?}");
    let admin = Admin::connect(&config).await.unwrap();
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead, counts.consumers), (1000, 0, 0, 0));
    assert_eq!(admin.purge().await.unwrap(), 1000);
    assert_eq!(admin.counts().await.unwrap().main, 0);

    // A queue deleted behind the publisher's back: the broker returns the message, which is an error.
    admin.delete_all().await.unwrap();
    let err = publisher.publish(&batch[0]).await.unwrap_err();
    assert!(matches!(err, QueueError::Unroutable { .. }), "{err}");
    publisher.close().await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_handles_every_job_and_acks() {
    let config = test_config(&unique_queue("basic"));
    let _guard = QueueGuard(config.clone());
    let batch = jobs("b", 20);
    let publisher = Publisher::connect(&config).await.unwrap();
    publisher.publish_all(&batch).await.unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let s = s.clone();
        async move {
            assert_eq!(job.attempt, 1);
            assert_eq!(job.kind, JobKind::Claim);
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    wait_for("20 jobs handled", Duration::from_secs(10), || async { seen.distinct() == 20 }).await;
    let stats = stop_worker(stop, handle).await;
    assert_eq!(stats.succeeded, 20);
    assert_eq!(seen.total(), 20);
    seen.assert_at_least_once(&keys(&batch));
    let admin = Admin::connect(&config).await.unwrap();
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead, counts.consumers), (0, 0, 0, 0));
}

/// (c) The connection is cut under the worker twice, once with the "broker" refusing connections for a while:
/// it reconnects, re-declares, and finishes every job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reconnects_after_dropped_connection() {
    let queue = unique_queue("reconnect");
    let config = test_config(&queue);
    let _guard = QueueGuard(config.clone());
    let proxy = Proxy::start("127.0.0.1:5672").await;
    let mut via_proxy = config.clone();
    via_proxy.amqp_url = proxy.url();

    let batch = jobs("r", 40);
    Publisher::connect(&config).await.unwrap().publish_all(&batch).await.unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    let (stop, handle) = spawn_worker(via_proxy, move |job: Job| {
        let s = s.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(15)).await;
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    wait_for("10 jobs handled", Duration::from_secs(10), || async { seen.distinct() >= 10 }).await;
    proxy.cut();
    wait_for("20 jobs handled", Duration::from_secs(10), || async { seen.distinct() >= 20 }).await;
    proxy.set_up(false);
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during_outage = seen.distinct();
    proxy.set_up(true);
    wait_for("all 40 jobs handled", Duration::from_secs(15), || async { seen.distinct() == 40 }).await;
    let stats = stop_worker(stop, handle).await;
    assert!(stats.disconnects >= 2, "{stats:?}");
    assert!(during_outage < 40, "the outage happened before the end");
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 3);
    seen.assert_at_least_once(&keys(&batch));
    let counts = Admin::connect(&config).await.unwrap().counts().await.unwrap();
    assert_eq!((counts.main, counts.retry, counts.dead), (0, 0, 0));
}

/// (d) A poison job fails retryably every time: it is retried with backoff, then dead-lettered with its last
/// error after 3 attempts, while the other jobs go through. `requeue_dead` moves it back with attempt 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_job_is_dead_lettered_after_max_attempts() {
    let config = test_config(&unique_queue("poison"));
    let _guard = QueueGuard(config.clone());
    let mut batch = jobs("ok", 9);
    batch.insert(4, Job::new("poison", JobKind::Import, Some("damaged".into()), json!({})));
    batch.push(Job::new("permanent", JobKind::Archive, None, json!({})));
    Publisher::connect(&config).await.unwrap().publish_all(&batch).await.unwrap();

    let seen = Seen::default();
    let poison_attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s, p) = (seen.clone(), poison_attempts.clone());
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let (s, p) = (s.clone(), p.clone());
        async move {
            match job.key.as_str() {
                "poison" => {
                    p.lock().unwrap().push((job.attempt, Instant::now()));
                    Err(JobError::retryable(format!("damaged recording: frame 12 unreadable (try {})", job.attempt)))
                }
                "permanent" => Err(JobError::permanent("no such recording on the server")),
                _ => {
                    s.record(&job.key, job.redelivered);
                    Ok(())
                }
            }
        }
    });
    let admin = Admin::connect(&config).await.unwrap();
    wait_for("both failures dead-lettered", Duration::from_secs(10), || async {
        admin.counts().await.unwrap().dead == 2
    })
    .await;
    let stats = stop_worker(stop, handle).await;
    assert_eq!(seen.distinct(), 9, "the other jobs are unaffected");
    let attempts = poison_attempts.lock().unwrap().clone();
    assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(attempts[1].1 - attempts[0].1 >= Duration::from_millis(45), "backoff before attempt 2");
    assert!(attempts[2].1 - attempts[1].1 >= Duration::from_millis(95), "longer backoff before attempt 3");
    assert_eq!((stats.succeeded, stats.retried, stats.dead_lettered), (9, 2, 2));

    let mut dead = admin.dead_letters(10).await.unwrap();
    dead.sort_by_key(|d| d.job.as_ref().unwrap().key.clone());
    assert_eq!(dead.len(), 2);
    let permanent = &dead[0];
    assert_eq!(permanent.job.as_ref().unwrap().key, "permanent");
    assert_eq!(permanent.failure.as_deref(), Some("permanent"));
    assert_eq!(permanent.attempts, Some(1));
    assert_eq!(permanent.last_error.as_deref(), Some("no such recording on the server"));
    let poison = &dead[1];
    assert_eq!(poison.job.as_ref().unwrap().attempt, 3);
    assert_eq!(poison.attempts, Some(3));
    assert_eq!(poison.failure.as_deref(), Some("attempts exhausted"));
    assert_eq!(poison.last_error.as_deref(), Some("damaged recording: frame 12 unreadable (try 3)"));
    // Peeking left them in place.
    assert_eq!(admin.counts().await.unwrap().dead, 2);

    // retry --failed
    assert_eq!(admin.requeue_dead().await.unwrap(), 2);
    let counts = admin.counts().await.unwrap();
    assert_eq!((counts.main, counts.dead), (2, 0));
    let seen_again = Seen::default();
    let s = seen_again.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let s = s.clone();
        async move {
            assert_eq!(job.attempt, 1, "attempts restart after requeue_dead");
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    wait_for("requeued jobs handled", Duration::from_secs(10), || async { seen_again.distinct() == 2 }).await;
    stop_worker(stop, handle).await;
}

/// (e) Bodies that are not JSON, of an unknown version or missing fields are dead-lettered with the reason; the
/// worker goes on with the next job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_dead_lettered_without_crashing() {
    let config = test_config(&unique_queue("malformed"));
    let _guard = QueueGuard(config.clone());
    let admin = Admin::connect(&config).await.unwrap();
    admin.declare().await.unwrap();
    publish_raw(
        &config.queue,
        &[b"not json at all", br#"{"v":2,"key":"k","kind":"claim","record_id":null,"attempt":1}"#, br#"{"v":1}"#],
    )
    .await;
    Publisher::connect(&config).await.unwrap().publish_all(&jobs("good", 3)).await.unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let s = s.clone();
        async move {
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    wait_for("good jobs handled", Duration::from_secs(10), || async { seen.distinct() == 3 }).await;
    wait_for("3 dead letters", Duration::from_secs(5), || async { admin.counts().await.unwrap().dead == 3 }).await;
    let stats = stop_worker(stop, handle).await;
    assert_eq!((stats.malformed, stats.succeeded), (3, 3));
    let dead = admin.dead_letters(10).await.unwrap();
    assert_eq!(dead[0].body, b"not json at all");
    assert!(matches!(dead[0].job, Err(DecodeError::Malformed(_))));
    assert!(dead[0].last_error.as_deref().unwrap().starts_with("malformed message"), "{:?}", dead[0].last_error);
    assert_eq!(dead[1].job, Err(DecodeError::UnsupportedVersion("2".into())));
    assert!(dead[1].last_error.as_deref().unwrap().contains("unsupported message version 2"));
    assert_eq!(dead[2].failure.as_deref(), Some("malformed"));
    // Unreadable bodies are not requeued by retry --failed.
    assert_eq!(admin.requeue_dead().await.unwrap(), 0);
    assert_eq!(admin.counts().await.unwrap().dead, 3);
}

/// A handler that panics is a retryable failure, not a dead worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panic_is_retried() {
    let config = test_config(&unique_queue("panic"));
    let _guard = QueueGuard(config.clone());
    Publisher::connect(&config).await.unwrap().publish_all(&jobs("x", 1)).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            if job.attempt == 1 {
                panic!("bug in the handler");
            }
            Ok(())
        }
    });
    wait_for("second attempt done", Duration::from_secs(10), || async { calls.load(Ordering::SeqCst) == 2 }).await;
    let stats = stop_worker(stop, handle).await;
    assert_eq!((stats.retried, stats.succeeded), (1, 1));
}

/// Stop while a job runs: it finishes within the grace period and is acked; a job that outlives the grace period
/// is nacked with requeue and stays in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_finishes_or_requeues_the_running_job() {
    let config = test_config(&unique_queue("stop"));
    let _guard = QueueGuard(config.clone());
    let admin = Admin::connect(&config).await.unwrap();
    let publisher = Publisher::connect(&config).await.unwrap();

    // Finishes within the grace period.
    publisher.publish_all(&jobs("short", 2)).await.unwrap();
    let started = Arc::new(AtomicU32::new(0));
    let st = started.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |_job: Job| {
        let st = st.clone();
        async move {
            st.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    });
    wait_for("a job started", Duration::from_secs(5), || async { started.load(Ordering::SeqCst) == 1 }).await;
    let stats = stop_worker(stop, handle).await;
    assert_eq!(stats.succeeded, 1, "the running job finished, no new one was taken: {stats:?}");
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(admin.counts().await.unwrap().main, 1, "the job not started stays queued");
    admin.purge().await.unwrap();

    // Outlives the grace period.
    let mut short_grace = config.clone();
    short_grace.shutdown_grace = Duration::from_millis(200);
    publisher.publish_all(&jobs("long", 1)).await.unwrap();
    let started = Arc::new(AtomicU32::new(0));
    let st = started.clone();
    let (stop, handle) = spawn_worker(short_grace, move |_job: Job| {
        let st = st.clone();
        async move {
            st.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
    });
    wait_for("the long job started", Duration::from_secs(5), || async { started.load(Ordering::SeqCst) == 1 }).await;
    let t = Instant::now();
    let stats = stop_worker(stop, handle).await;
    assert!(t.elapsed() < Duration::from_secs(2), "stopped after the deadline, took {:?}", t.elapsed());
    assert_eq!((stats.requeued_on_stop, stats.succeeded), (1, 0));
    assert_eq!(admin.counts().await.unwrap().main, 1, "the job is back in the queue");
}

/// Wrong credentials cannot be fixed by reconnecting: the worker returns an error, and no message shows the
/// password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_fatal_and_masked() {
    let mut config = test_config(&unique_queue("auth"));
    config.amqp_url = "amqp://guest:wrong-secret-pw@127.0.0.1:5672/%2f".into();
    let stop = CancellationToken::new();
    let worker = Worker::new(config.clone());
    let run = worker.run(|_job: Job| async { Ok(()) }, stop.clone());
    let err = tokio::time::timeout(Duration::from_secs(10), run).await.expect("gives up").unwrap_err();
    assert!(err.is_fatal(), "{err}");
    let text = format!("{err} / {err:?}");
    assert!(!text.contains("wrong-secret-pw"), "{text}");
    assert!(text.contains("guest:****@127.0.0.1"), "{text}");

    // Nothing listening: not fatal, the worker keeps trying until stopped.
    config.amqp_url = "amqp://guest:other-secret@127.0.0.1:1/%2f".into();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let handle = tokio::spawn(async move { Worker::new(config).run(|_job: Job| async { Ok(()) }, s).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!handle.is_finished());
    stop.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap().unwrap();
    assert_eq!(stats, WorkerStats::default());
}

/// (c, management side) An operator closes the worker's connection on the broker (`rabbitmqctl
/// close_connection`, what the management UI's "force close" does): the worker reconnects and finishes. Also
/// checks that the negotiated heartbeat is the configured 30 s. Skipped when `rabbitmqctl` cannot reach the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_survives_connection_closed_by_the_broker() {
    let queue = unique_queue("forced-close");
    let mut config = test_config(&queue);
    config.connection_name = queue.clone();
    let _guard = QueueGuard(config.clone());
    if rabbitmqctl(&["list_connections", "--formatter", "json", "name"]).await.is_none() {
        eprintln!("skipped: rabbitmqctl cannot reach the broker");
        return;
    }
    let batch = jobs("f", 30);
    Publisher::connect(&config).await.unwrap().publish_all(&batch).await.unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let s = s.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    wait_for("5 jobs handled", Duration::from_secs(10), || async { seen.distinct() >= 5 }).await;
    // Tab-separated: the JSON formatter prints pids in a form close_connection does not take.
    let listed = rabbitmqctl(&["list_connections", "pid", "timeout", "client_properties"]).await.expect("list");
    let ours: Vec<Vec<&str>> =
        listed.lines().filter(|l| l.contains(&format!("{queue} worker"))).map(|l| l.split('\t').collect()).collect();
    assert_eq!(ours.len(), 1, "{listed}");
    assert_eq!(ours[0][1], "30", "negotiated heartbeat");
    let pid = ours[0][0];
    rabbitmqctl(&["close_connection", pid, "closed by the operator (test)"]).await.expect("close_connection");
    wait_for("all 30 jobs handled", Duration::from_secs(20), || async { seen.distinct() == 30 }).await;
    let stats = stop_worker(stop, handle).await;
    assert!(stats.disconnects >= 1, "{stats:?}");
    seen.assert_at_least_once(&keys(&batch));
}

/// The main queue is deleted under a running worker (the broker cancels its consumer; the channel-level
/// failure): the worker re-declares the topology and goes on with new jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_redeclares_after_its_queue_is_deleted() {
    let config = test_config(&unique_queue("deleted"));
    let _guard = QueueGuard(config.clone());
    let seen = Seen::default();
    let s = seen.clone();
    let (stop, handle) = spawn_worker(config.clone(), move |job: Job| {
        let s = s.clone();
        async move {
            s.record(&job.key, job.redelivered);
            Ok(())
        }
    });
    let admin = Admin::connect(&config).await.unwrap();
    wait_for("worker consuming", Duration::from_secs(10), || async { admin.counts().await.unwrap().consumers == 1 })
        .await;
    admin.delete_all().await.unwrap();
    wait_for("worker back", Duration::from_secs(10), || async { admin.counts().await.unwrap().consumers == 1 }).await;
    let batch = jobs("d", 5);
    Publisher::connect(&config).await.unwrap().publish_all(&batch).await.unwrap();
    wait_for("jobs handled", Duration::from_secs(10), || async { seen.distinct() == 5 }).await;
    let stats = stop_worker(stop, handle).await;
    assert!(stats.disconnects >= 1, "{stats:?}");
}

/// Runs `rabbitmqctl` with `args`; `None` when it is missing or fails.
async fn rabbitmqctl(args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new("rabbitmqctl").args(args).arg("--quiet").output().await.ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
