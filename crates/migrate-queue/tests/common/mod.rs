//! Shared test helpers: the broker URL, unique queue names (the management plugin is not enabled on the test
//! broker, so tests are isolated by queue name instead of by vhost), clean-up, a TCP proxy that can cut every
//! connection, and waiting with a deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use migrate_queue::{Admin, QueueConfig, RetryPolicy};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The broker; override with `MIGRATE_QUEUE_TEST_AMQP`.
pub fn amqp_url() -> String {
    std::env::var("MIGRATE_QUEUE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A queue name no other test (or test run) uses.
pub fn unique_queue(test: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("mq-test.{test}.{}.{nanos}.{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Fast settings: 3 attempts, 50 ms then 100 ms backoff, quick reconnects, 2 s stop grace.
pub fn test_config(queue: &str) -> QueueConfig {
    let mut c = QueueConfig::new(amqp_url()).with_queue(queue);
    c.retry =
        RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(50), max_delay: Duration::from_millis(100) };
    c.reconnect_min = Duration::from_millis(50);
    c.reconnect_max = Duration::from_millis(400);
    c.shutdown_grace = Duration::from_secs(2);
    c.connect_timeout = Duration::from_secs(5);
    c
}

/// Deletes the test's queues when dropped, even when the test panicked.
pub struct QueueGuard(pub QueueConfig);

impl Drop for QueueGuard {
    fn drop(&mut self) {
        let config = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) = Admin::connect(&config).await {
                    let _ = admin.delete_all().await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Polls `check` every 20 ms until it returns true; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What handlers saw, by key: one entry per time a handler finished the job, with the redelivered flag.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<HashMap<String, Vec<bool>>>>);

impl Seen {
    pub fn record(&self, key: &str, redelivered: bool) {
        self.0.lock().unwrap().entry(key.to_owned()).or_default().push(redelivered);
    }
    pub fn distinct(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(Vec::len).sum()
    }
    /// Every key in `keys` seen; a key seen twice or more must have been redelivered at least once.
    pub fn assert_at_least_once(&self, keys: &[String]) {
        let seen = self.0.lock().unwrap();
        let missing: Vec<&String> = keys.iter().filter(|k| !seen.contains_key(*k)).collect();
        assert!(missing.is_empty(), "jobs never handled: {missing:?}");
        for (key, times) in seen.iter() {
            if times.len() > 1 {
                assert!(times.iter().any(|r| *r), "{key} handled {} times without a redelivery", times.len());
            }
        }
    }
}

/// A TCP proxy in front of the broker: `cut()` drops every proxied connection (what a broker restart or a
/// management-side close looks like to a client), `set_up(false)` refuses new ones for a while.
pub struct Proxy {
    pub port: u16,
    generation: Arc<Mutex<CancellationToken>>,
    up: Arc<AtomicBool>,
    pub accepted: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Proxy {
    pub async fn start(upstream: &'static str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let generation = Arc::new(Mutex::new(CancellationToken::new()));
        let up = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let (g, u, a, s) = (generation.clone(), up.clone(), accepted.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                    _ = s.cancelled() => return,
                };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let cut = g.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.cancelled() => {}
                    }
                });
            }
        });
        Proxy { port, generation, up, accepted, stop }
    }

    /// The broker URL through this proxy.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Drops every connection currently proxied.
    pub fn cut(&self) {
        let mut g = self.generation.lock().unwrap();
        g.cancel();
        *g = CancellationToken::new();
    }

    /// While down, new connections are accepted and closed at once.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.stop.cancel();
    }
}
