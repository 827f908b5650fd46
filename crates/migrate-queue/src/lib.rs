//! The RabbitMQ job queue for `migrate --queue`, `worker` and `retry --failed` (issue 7).
//!
//! # Topology
//! All names derive from one queue name (config `[queue] queue`, default `bbb-migrate`) and the
//! [`RetryPolicy`]; every client declares them idempotently on connect, all durable:
//!
//! ```text
//!  Publisher ──▶ <name> ──▶ Worker ── Ok ──────────────▶ ack
//!                 ▲  │               ├ Retryable, attempts left ─▶ <name>.retry.<ms> ──(x-message-ttl)──┐
//!                 │  │               └ Permanent / exhausted / malformed ─▶ <name>.dead  (x-last-error)  │
//!                 │  └ rejected by anyone (x-dead-letter-exchange) ─▶ <name>.dead                         │
//!                 └────────────── dead-lettered back by the broker when the delay expires ◀──────────────┘
//! ```
//! One delay queue exists per distinct backoff delay (`base_delay * 2^(attempt-1)`, capped), with the delay in
//! its name so that changing the policy never clashes with queues already declared. Every message in a delay
//! queue has the same TTL, so expiry order is queue order and no message waits behind a longer one.
//! [`Admin::requeue_dead`] moves dead letters back with their attempt count reset.
//!
//! # Delivery guarantees
//! - **At least once, no loss.** Messages are persistent (delivery mode 2) on durable queues and every publish
//!   waits for the broker's confirm (nack or unroutable is an error). A worker acks a job only after the
//!   handler returned `Ok`, or after the job's next place (retry or dead queue) has confirmed its copy. A worker
//!   that dies or loses its connection before acking gets its job redelivered, to it or another worker, with
//!   [`Job::redelivered`] set.
//! - **Exactly once in effect** is the caller's part: the handler checks and updates the ledger under
//!   [`Job::key`], so a duplicate or redelivered job whose action is done is acked without work.
//! - Prefetch 1 by default: a worker holds one job at a time, so a busy worker never sits on waiting jobs.
//! - Heartbeats (30 s) detect dead peers; workers reconnect with exponential backoff, re-declare and resume.
//! - A stop lets running handlers finish within `shutdown_grace`, then nacks their jobs with requeue.
//! - Bodies are versioned JSON ([`MESSAGE_VERSION`]); one that cannot be read is dead-lettered with the reason,
//!   never crashing a worker. A handler panic counts as a retryable failure.
//!
//! The AMQP URL's password is masked in every error and log line ([`mask_url`]).
//!
//! # Limits
//! - Attempts count handler failures only. A job that kills its worker every time (SIGKILL, OOM) is redelivered
//!   without bound on these classic queues; the ledger's lease (host, pid, expiry) is where such a job shows.
//! - The broker does not deduplicate: publishing a plan twice queues every job twice, and the ledger check makes
//!   the second copy an ack without work.
//! - [`Publisher`] does not reconnect; a failed batch is an error and is published again by the caller.
//!
//! # Use
//! ```no_run
//! use migrate_queue::{CancellationToken, Job, JobError, JobHandler, JobKind, Publisher, QueueConfig, Worker};
//!
//! struct Migrate; // holds the ledger, the Pod client…
//!
//! impl JobHandler for Migrate {
//!     async fn handle(&self, job: Job) -> Result<(), JobError> {
//!         // Check the ledger under job.key first: a redelivered job may already be done.
//!         match job.kind {
//!             JobKind::Claim => Ok(()),
//!             _ => Err(JobError::permanent("not supported yet")),
//!         }
//!     }
//! }
//!
//! # async fn example() -> Result<(), migrate_queue::QueueError> {
//! let config = QueueConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f");
//! let plan = vec![Job::new("claim:rec-1", JobKind::Claim, Some("rec-1".into()), serde_json::json!({}))];
//! Publisher::connect(&config).await?.publish_all(&plan).await?;
//!
//! let stop = CancellationToken::new(); // cancel it on SIGTERM
//! let stats = Worker::new(config).run(Migrate, stop).await?;
//! println!("{} jobs done", stats.succeeded);
//! # Ok(()) }
//! ```
//! Handlers run on the caller's tokio runtime: long CPU-bound or blocking work belongs in `spawn_blocking` or a
//! child process, so that heartbeats and acks keep flowing.

mod admin;
mod config;
mod conn;
mod error;
mod message;
mod publisher;
mod topology;
mod worker;

pub use admin::{Admin, DeadLetter, QueueCounts};
pub use config::{DEFAULT_QUEUE, QueueConfig, RetryPolicy};
pub use error::QueueError;
pub use message::{DecodeError, Job, JobKind, MESSAGE_VERSION};
pub use publisher::Publisher;
pub use tokio_util::sync::CancellationToken;
pub use topology::{RetryQueue, Topology};
pub use worker::{JobError, JobHandler, Worker, WorkerStats};

/// `url` with its password replaced by `****`, for logs and errors (same rule as `migrate_db::mask_url`).
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.trim().to_owned(),
        // Unparsable: it may still hold a password after "://user:"; keep only the scheme.
        Err(_) => match url.trim().split_once("://") {
            Some((scheme, rest)) if rest.contains('@') => format!("{scheme}://****"),
            _ => url.trim().to_owned(),
        },
    }
}

/// The password of `url`, raw and percent-decoded, to scrub from driver messages.
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let password = match url::Url::parse(url.trim()) {
        Ok(parsed) => parsed.password().map(str::to_owned),
        Err(_) => url
            .split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@'))
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, p)| p.to_owned()),
    };
    let Some(password) = password else { return Vec::new() };
    let mut secrets = vec![password.clone()];
    secrets.extend(url::form_urlencoded::parse(format!("p={password}").as_bytes()).next().map(|(_, v)| v.into_owned()));
    secrets.retain(|s| s.len() >= 3);
    secrets
}

pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    secrets.iter().fold(message.to_owned(), |m, s| m.replace(s.as_str(), "****"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(mask_url("amqp://guest:guest@127.0.0.1:5672/%2f"), "amqp://guest:****@127.0.0.1:5672/%2f");
        assert_eq!(mask_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(mask_url("amqp://u:p%40ss@h:notaport/"), "amqp://****");
    }

    #[test]
    fn scrubs_raw_and_decoded_passwords() {
        let secrets = url_secrets("amqp://u:p%40ssword@h/");
        let s = scrub("auth failed for p@ssword / p%40ssword", &secrets);
        assert_eq!(s, "auth failed for **** / ****");
        assert!(url_secrets("amqp://h/").is_empty());
    }
}
