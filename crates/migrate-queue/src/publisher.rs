//! Publishing jobs: persistent messages on a confirm-mode channel, so that `Ok` means the broker has taken
//! responsibility for every job (written to disk for durable queues), and a batch is pipelined rather than
//! confirmed one message at a time.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};

use crate::error::{QueueError, amqp};
use crate::message::Job;
use crate::topology::{Topology, long_string, short};
use crate::{QueueConfig, conn};

/// How many confirms may be outstanding in `publish_all`: enough to keep the socket busy, bounded so thousands
/// of jobs do not sit in memory twice.
const CONFIRM_WINDOW: usize = 256;

/// Longest error text stored in a header; the ledger keeps the full story.
const MAX_ERROR_HEADER: usize = 4000;

/// Publishes jobs to the main queue. Does not reconnect: a failed publish is an error for the caller, who can
/// publish the plan again (the ledger makes duplicates harmless).
pub struct Publisher {
    connection: Connection,
    channel: Channel,
    topology: Topology,
}

impl Publisher {
    /// Connects, declares the topology and puts the channel in confirm mode.
    pub async fn connect(config: &QueueConfig) -> Result<Publisher, QueueError> {
        let topology = Topology::new(&config.queue, &config.retry);
        let connection = conn::connect(config, "publisher").await?;
        let channel = connection.create_channel().await.map_err(amqp("open channel"))?;
        topology.declare(&channel).await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(amqp("confirm.select"))?;
        Ok(Publisher { connection, channel, topology })
    }

    /// The queue names in use.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Publishes one job and waits for the broker's confirm.
    pub async fn publish(&self, job: &Job) -> Result<(), QueueError> {
        self.publish_all(std::slice::from_ref(job)).await.map(|_| ())
    }

    /// Publishes every job, keeping up to a window of confirms in flight, and returns how many were confirmed
    /// (all of them when `Ok`). The first nack, unroutable return or channel error stops the batch; jobs before
    /// it may have been queued, which is safe as publishing again is idempotent in effect.
    pub async fn publish_all(&self, jobs: &[Job]) -> Result<usize, QueueError> {
        let mut pending: VecDeque<(&str, PublisherConfirm)> = VecDeque::with_capacity(CONFIRM_WINDOW);
        let mut confirmed = 0;
        for job in jobs {
            if pending.len() >= CONFIRM_WINDOW {
                let (key, confirm) = pending.pop_front().expect("window is not empty");
                check_confirm(confirm.await, key, &self.topology.main)?;
                confirmed += 1;
            }
            let confirm =
                send(&self.channel, &self.topology.main, &job.encode(), job_properties(job, FieldTable::default()))
                    .await?;
            pending.push_back((job.key.as_str(), confirm));
        }
        for (key, confirm) in pending {
            check_confirm(confirm.await, key, &self.topology.main)?;
            confirmed += 1;
        }
        Ok(confirmed)
    }

    /// Closes the channel and connection politely.
    pub async fn close(self) -> Result<(), QueueError> {
        let _ = self.channel.close(200, "publisher done").await;
        self.connection.close(200, "publisher done").await.map_err(amqp("close connection"))
    }
}

/// Sends one persistent, mandatory message to `queue` through the default exchange.
pub(crate) async fn send(
    channel: &Channel,
    queue: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<PublisherConfirm, QueueError> {
    let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
    channel.basic_publish("", queue, options, body, properties).await.map_err(amqp(format!("publish to {queue}")))
}

/// Sends and waits for the confirm.
pub(crate) async fn send_confirmed(
    channel: &Channel,
    queue: &str,
    key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), QueueError> {
    let confirm = send(channel, queue, body, properties).await?;
    check_confirm(confirm.await, key, queue)
}

/// A nack, a returned (unroutable) message or a lost channel is an error.
pub(crate) fn check_confirm(
    confirmation: lapin::Result<Confirmation>,
    key: &str,
    queue: &str,
) -> Result<(), QueueError> {
    match confirmation.map_err(amqp(format!("confirm of {key}")))? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) | Confirmation::Nack(Some(_)) => {
            Err(QueueError::Unroutable { key: key.to_owned(), queue: queue.to_owned() })
        }
        Confirmation::Nack(None) => Err(QueueError::Nacked { key: key.to_owned() }),
        // Only when the channel is not in confirm mode, which every channel of ours is.
        Confirmation::NotRequested => Ok(()),
    }
}

/// Properties of a job message: persistent (delivery mode 2), JSON, the key as message id for tracing in the
/// management UI.
pub(crate) fn job_properties(job: &Job, headers: FieldTable) -> BasicProperties {
    base_properties(headers).with_message_id(short(&job.key)).with_type(short(job.kind.as_str()))
}

/// Persistent JSON message properties with `headers`.
pub(crate) fn base_properties(headers: FieldTable) -> BasicProperties {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(short("application/json"))
        .with_app_id(short("bbb-migrate"))
        .with_timestamp(now)
        .with_headers(headers)
}

/// Headers recording why a job left the main queue.
pub(crate) fn failure_headers(error: &str, attempts: u32, reason: &str) -> FieldTable {
    let mut headers = FieldTable::default();
    headers.insert("x-last-error".into(), long_string(truncate(error, MAX_ERROR_HEADER)));
    headers.insert("x-attempts".into(), AMQPValue::LongLongInt(i64::from(attempts)));
    headers.insert("x-failure".into(), long_string(reason));
    headers
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("ééé", 3), "é");
    }

    #[test]
    fn messages_are_persistent() {
        let job = Job::new("k", crate::JobKind::Import, None, serde_json::Value::Null);
        let p = job_properties(&job, failure_headers("boom", 2, "retry"));
        assert_eq!(p.delivery_mode(), &Some(2));
        assert_eq!(p.message_id().as_ref().map(|s| s.as_str()), Some("k"));
        let headers = p.headers().as_ref().unwrap();
        assert_eq!(headers.inner().get("x-attempts"), Some(&AMQPValue::LongLongInt(2)));
    }
}
