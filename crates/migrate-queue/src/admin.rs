//! Operator helpers over AMQP only (no management plugin needed): queue depths for `status`, moving dead letters
//! back for `retry --failed`, and purging/deleting for tests.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};

use crate::error::{QueueError, amqp};
use crate::message::{DecodeError, Job};
use crate::publisher::{job_properties, send_confirmed};
use crate::topology::Topology;
use crate::{QueueConfig, conn};

/// Messages waiting in each part of the topology. Jobs being handled (delivered, not yet acked) are not counted
/// by the broker's passive declare, so `main` is what is still waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Ready in the main queue.
    pub main: u32,
    /// Waiting out a backoff delay, all retry queues together.
    pub retry: u32,
    /// Dead-lettered.
    pub dead: u32,
    /// Consumers (workers) attached to the main queue.
    pub consumers: u32,
}

impl QueueCounts {
    /// Jobs not yet finished nor dead: `main + retry`.
    pub fn pending(&self) -> u32 {
        self.main + self.retry
    }
}

/// One dead-lettered message, as read by [`Admin::dead_letters`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The job, or why its body could not be read.
    pub job: Result<Job, DecodeError>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The handler's (or decoder's) last error, from the `x-last-error` header.
    pub last_error: Option<String>,
    /// Attempts made, from the `x-attempts` header.
    pub attempts: Option<i64>,
    /// `permanent`, `attempts exhausted` or `malformed`, from the `x-failure` header.
    pub failure: Option<String>,
}

/// A connection for operator commands.
pub struct Admin {
    connection: Connection,
    topology: Topology,
}

impl Admin {
    /// Connects without declaring anything (so `status` on a fresh broker does not create queues).
    pub async fn connect(config: &QueueConfig) -> Result<Admin, QueueError> {
        let topology = Topology::new(&config.queue, &config.retry);
        let connection = conn::connect(config, "admin").await?;
        Ok(Admin { connection, topology })
    }

    /// The queue names in use.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Declares the topology (idempotent).
    pub async fn declare(&self) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        self.topology.declare(&channel).await?;
        let _ = channel.close(200, "done").await;
        Ok(())
    }

    /// Queue depths by passive declare; a queue that does not exist counts 0.
    pub async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let (main, consumers) = self.depth(&self.topology.main).await?;
        let mut retry = 0;
        for q in &self.topology.retry {
            retry += self.depth(&q.name).await?.0;
        }
        let (dead, _) = self.depth(&self.topology.dead).await?;
        Ok(QueueCounts { main, retry, dead, consumers })
    }

    /// Moves every dead letter that decodes back to the main queue with `attempt` reset to 1, and returns how many
    /// moved. Each is published with a confirm before its dead copy is acked, so a crash duplicates at worst.
    /// Bodies that cannot be decoded stay in the dead-letter queue.
    pub async fn requeue_dead(&self) -> Result<usize, QueueError> {
        let channel = self.channel().await?;
        self.topology.declare(&channel).await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(amqp("confirm.select"))?;
        let (waiting, _) = self.depth(&self.topology.dead).await?;
        let mut moved = 0;
        let mut kept = Vec::new();
        for _ in 0..waiting {
            let Some(message) = channel
                .basic_get(&self.topology.dead, BasicGetOptions { no_ack: false })
                .await
                .map_err(amqp(format!("get from {}", self.topology.dead)))?
            else {
                break;
            };
            match Job::decode(&message.delivery.data) {
                Ok(job) => {
                    let job = Job { attempt: 1, ..job };
                    let props = job_properties(&job, FieldTable::default());
                    send_confirmed(&channel, &self.topology.main, &job.key, &job.encode(), props).await?;
                    message.delivery.acker.ack(BasicAckOptions::default()).await.map_err(amqp("ack dead letter"))?;
                    moved += 1;
                }
                Err(_) => kept.push(message),
            }
        }
        for message in kept {
            let nack = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
            message.delivery.acker.nack(nack).await.map_err(amqp("nack dead letter"))?;
        }
        let _ = channel.close(200, "done").await;
        Ok(moved)
    }

    /// Reads up to `limit` dead letters without removing them (they are requeued in order when done).
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let channel = self.channel().await?;
        let mut out = Vec::new();
        while out.len() < limit {
            let got = match channel.basic_get(&self.topology.dead, BasicGetOptions { no_ack: false }).await {
                Ok(got) => got,
                Err(e) if is_not_found(&e) => break,
                Err(e) => return Err(amqp("get dead letter")(e)),
            };
            let Some(message) = got else { break };
            let headers = message.delivery.properties.headers().clone().unwrap_or_default();
            let text = |name: &str| match headers.inner().get(name) {
                Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
                _ => None,
            };
            let attempts = match headers.inner().get("x-attempts") {
                Some(AMQPValue::LongLongInt(n)) => Some(*n),
                _ => None,
            };
            out.push(DeadLetter {
                job: Job::decode(&message.delivery.data),
                body: message.delivery.data.clone(),
                last_error: text("x-last-error"),
                attempts,
                failure: text("x-failure"),
            });
        }
        // Closing the channel returns every unacked message to the queue.
        let _ = channel.close(200, "done").await;
        Ok(out)
    }

    /// Empties every queue of the topology (tests, or abandoning a run); returns how many messages were dropped.
    pub async fn purge(&self) -> Result<u32, QueueError> {
        let mut dropped = 0;
        for name in self.topology.all_queues() {
            let channel = self.channel().await?;
            match channel.queue_purge(name, QueuePurgeOptions::default()).await {
                Ok(n) => dropped += n,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(amqp(format!("purge {name}"))(e)),
            }
            let _ = channel.close(200, "done").await;
        }
        Ok(dropped)
    }

    /// Deletes every queue of the topology (test clean-up).
    pub async fn delete_all(&self) -> Result<(), QueueError> {
        for name in self.topology.all_queues() {
            let channel = self.channel().await?;
            channel.queue_delete(name, QueueDeleteOptions::default()).await.map_err(amqp(format!("delete {name}")))?;
            let _ = channel.close(200, "done").await;
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), QueueError> {
        self.connection.close(200, "admin done").await.map_err(amqp("close connection"))
    }

    async fn channel(&self) -> Result<Channel, QueueError> {
        self.connection.create_channel().await.map_err(amqp("open channel"))
    }

    /// (ready messages, consumers) of `queue`, 0 when it does not exist. A failed passive declare closes its
    /// channel, hence one channel per call.
    async fn depth(&self, queue: &str) -> Result<(u32, u32), QueueError> {
        let channel = self.channel().await?;
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        match channel.queue_declare(queue, passive, FieldTable::default()).await {
            Ok(q) => {
                let _ = channel.close(200, "done").await;
                Ok((q.message_count(), q.consumer_count()))
            }
            Err(e) if is_not_found(&e) => Ok((0, 0)),
            Err(e) => Err(amqp(format!("passive declare {queue}"))(e)),
        }
    }
}

fn is_not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p) if p.kind() == &AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
}
