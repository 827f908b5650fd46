//! Settings for every queue client, with defaults fit for hour-long render jobs and overridable for tests.

use std::fmt;
use std::time::Duration;

use crate::mask_url;

/// The default queue name (config `[queue] queue`).
pub const DEFAULT_QUEUE: &str = "bbb-migrate";

/// How often a failed job is tried and how long it waits between tries.
///
/// The delay before attempt `n + 1` is `base_delay * 2^(n-1)`, capped at `max_delay`. Each distinct delay is one
/// retry queue, so a policy with a cap has a small fixed set of queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total deliveries a job gets (first try included) before it is dead-lettered. At least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub base_delay: Duration,
    /// Longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 5, base_delay: Duration::from_secs(30), max_delay: Duration::from_secs(30 * 60) }
    }
}

impl RetryPolicy {
    /// The wait after attempt `attempt` failed (attempt counts from 1), in whole milliseconds (at least 1 ms, as
    /// the broker's TTL is in milliseconds).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let delay = self.base_delay.saturating_mul(1u32 << exp).min(self.max_delay.max(self.base_delay));
        Duration::from_millis((delay.as_millis() as u64).max(1))
    }
}

/// Connection and behaviour settings shared by [`crate::Publisher`], [`crate::Worker`] and [`crate::Admin`].
///
/// `Debug` masks the password in `amqp_url`, so a config can be logged.
#[derive(Clone)]
pub struct QueueConfig {
    /// `amqp://user:password@host:5672/vhost` (or `amqps://`). A secret: it is never logged unmasked.
    pub amqp_url: String,
    /// Main queue name; the retry and dead-letter queues are named after it.
    pub queue: String,
    /// Retry and dead-letter policy.
    pub retry: RetryPolicy,
    /// Unacked messages a worker holds at once, which is also how many handlers it runs concurrently (1: one
    /// render at a time per worker, and no job waits in a busy worker's buffer).
    pub prefetch: u16,
    /// AMQP heartbeat in seconds (0 disables); detects a dead broker or a half-open connection.
    pub heartbeat_secs: u16,
    /// Timeout of one TCP/AMQP connection attempt.
    pub connect_timeout: Duration,
    /// First wait before reconnecting after a dropped connection; doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// After a stop is requested, how long running handlers may go on before their messages are nacked with
    /// requeue (and their futures dropped).
    pub shutdown_grace: Duration,
    /// Shown in the broker's connection list, so an operator can tell hosts apart.
    pub connection_name: String,
}

impl QueueConfig {
    /// Defaults for `amqp_url`: queue [`DEFAULT_QUEUE`], 5 attempts, 30 s heartbeat, prefetch 1.
    pub fn new(amqp_url: impl Into<String>) -> Self {
        QueueConfig {
            amqp_url: amqp_url.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            retry: RetryPolicy::default(),
            prefetch: 1,
            heartbeat_secs: 30,
            connect_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(60),
            connection_name: default_connection_name(),
        }
    }

    /// The same config with another queue name.
    #[must_use]
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
}

impl fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueConfig")
            .field("amqp_url", &mask_url(&self.amqp_url))
            .field("queue", &self.queue)
            .field("retry", &self.retry)
            .field("prefetch", &self.prefetch)
            .field("heartbeat_secs", &self.heartbeat_secs)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("connection_name", &self.connection_name)
            .finish()
    }
}

fn default_connection_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("bbb-migrate@{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p =
            RetryPolicy { max_attempts: 6, base_delay: Duration::from_secs(30), max_delay: Duration::from_secs(100) };
        let d: Vec<u64> = (1..=5).map(|a| p.delay_after(a).as_secs()).collect();
        assert_eq!(d, [30, 60, 100, 100, 100]);
        assert_eq!(p.delay_after(u32::MAX).as_secs(), 100);
        let tiny = RetryPolicy { max_attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
        assert_eq!(tiny.delay_after(1), Duration::from_millis(1));
    }

    #[test]
    fn debug_masks_the_password() {
        let c = QueueConfig::new("amqp://bob:s3cr3t-pw@mq.example:5672/%2f");
        let s = format!("{c:?}");
        assert!(!s.contains("s3cr3t-pw"), "{s}");
        assert!(s.contains("bob:****@mq.example"), "{s}");
    }
}
