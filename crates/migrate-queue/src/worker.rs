//! The consumer: takes jobs from the main queue, runs the caller's handler, and acks only once the handler's
//! outcome is safely recorded (acked, or republished to a retry or the dead-letter queue with a confirm).
//! Survives broker restarts and dropped connections by reconnecting with backoff; stops gracefully on request.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_lite::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::error::{QueueError, amqp};
use crate::message::Job;
use crate::publisher::{base_properties, failure_headers, job_properties, send_confirmed};
use crate::topology::Topology;
use crate::{QueueConfig, conn};

/// Why a handler failed, which decides where the job goes next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (network, a busy server, a full disk): retried with backoff until the policy's
    /// attempts are used up, then dead-lettered.
    #[error("{0}")]
    Retryable(String),
    /// Will fail the same way every time (a damaged recording): dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// A retryable failure with `reason`.
    pub fn retryable(reason: impl std::fmt::Display) -> Self {
        JobError::Retryable(reason.to_string())
    }

    /// A permanent failure with `reason`.
    pub fn permanent(reason: impl std::fmt::Display) -> Self {
        JobError::Permanent(reason.to_string())
    }

    /// True for [`JobError::Retryable`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, JobError::Retryable(_))
    }
}

/// The caller's work for one job. Return `Ok` only once the effect is durable (output verified, ledger
/// updated): the message is acked right after, and a crash before that means redelivery.
///
/// Implemented for any `Fn(Job) -> impl Future<Output = Result<(), JobError>>`, so an async closure works.
pub trait JobHandler: Send + Sync + 'static {
    /// Handles one job. A panic counts as a retryable failure.
    fn handle(&self, job: Job) -> impl Future<Output = Result<(), JobError>> + Send;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send,
{
    fn handle(&self, job: Job) -> impl Future<Output = Result<(), JobError>> + Send {
        self(job)
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Jobs whose handler returned `Ok`, acked.
    pub succeeded: u64,
    /// Jobs sent to a retry queue after a retryable failure.
    pub retried: u64,
    /// Jobs dead-lettered: permanent failure or attempts exhausted.
    pub dead_lettered: u64,
    /// Bodies that could not be decoded, dead-lettered.
    pub malformed: u64,
    /// Jobs nacked with requeue because the stop deadline passed while they ran.
    pub requeued_on_stop: u64,
    /// Outcomes that could not be acked because the channel was gone: the broker redelivers those jobs.
    pub acks_lost: u64,
    /// Connections lost after being established (each followed by a reconnect unless stopping).
    pub disconnects: u64,
}

/// Consumes the main queue with a handler until stopped. One `Worker` per process is typical; several can share
/// a process (each opens its own connection).
pub struct Worker {
    config: QueueConfig,
    topology: Topology,
}

enum SessionEnd {
    Stopped,
    Lost { error: QueueError, connected: bool },
}

impl Worker {
    /// A worker for `config`; nothing is opened until [`Worker::run`].
    pub fn new(config: QueueConfig) -> Worker {
        let topology = Topology::new(&config.queue, &config.retry);
        Worker { config, topology }
    }

    /// The queue names in use.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Runs until `stop` is cancelled: connects, declares the topology, consumes with the configured prefetch
    /// and reconnects with backoff whenever the connection or channel is lost. After `stop`, no new job is taken;
    /// running handlers get `shutdown_grace` to finish, then their jobs are nacked with requeue.
    ///
    /// When the connection drops while handlers run, they are left to finish before reconnecting (their work is
    /// not wasted; their acks are lost, so the broker redelivers those jobs with `redelivered` set and the
    /// ledger check makes the redelivery cheap).
    ///
    /// Returns an error only for problems reconnecting cannot fix (bad URL, refused credentials, unknown vhost,
    /// a queue declared elsewhere with other arguments).
    pub async fn run<H: JobHandler>(&self, handler: H, stop: CancellationToken) -> Result<WorkerStats, QueueError> {
        let handler = Arc::new(handler);
        let stats = Arc::new(Mutex::new(WorkerStats::default()));
        let mut delay = self.config.reconnect_min;
        while !stop.is_cancelled() {
            match self.session(&handler, &stop, &stats).await {
                SessionEnd::Stopped => break,
                SessionEnd::Lost { error, connected } => {
                    if error.is_fatal() {
                        return Err(error);
                    }
                    if connected {
                        delay = self.config.reconnect_min;
                        stats.lock().expect("stats lock").disconnects += 1;
                    }
                    warn!(queue = %self.topology.main, error = %error, "RabbitMQ connection lost; reconnecting in {delay:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.cancelled() => break,
                    }
                    delay = (delay * 2).min(self.config.reconnect_max.max(self.config.reconnect_min));
                }
            }
        }
        let stats = stats.lock().expect("stats lock").clone();
        info!(queue = %self.topology.main, ?stats, "worker stopped");
        Ok(stats)
    }

    async fn session<H: JobHandler>(
        &self,
        handler: &Arc<H>,
        stop: &CancellationToken,
        stats: &Arc<Mutex<WorkerStats>>,
    ) -> SessionEnd {
        let lost = |error| SessionEnd::Lost { error, connected: false };
        let connection = match conn::connect(&self.config, "worker").await {
            Ok(c) => c,
            Err(e) => return lost(e),
        };
        let opened = async {
            let consume = connection.create_channel().await.map_err(amqp("open channel"))?;
            self.topology.declare(&consume).await?;
            consume
                .basic_qos(self.config.prefetch.max(1), BasicQosOptions::default())
                .await
                .map_err(amqp("basic.qos"))?;
            let publish = connection.create_channel().await.map_err(amqp("open channel"))?;
            publish.confirm_select(ConfirmSelectOptions::default()).await.map_err(amqp("confirm.select"))?;
            let consumer = consume
                .basic_consume(&self.topology.main, "", BasicConsumeOptions::default(), FieldTable::default())
                .await
                .map_err(amqp(format!("consume {}", self.topology.main)))?;
            Ok::<_, QueueError>((consume, publish, consumer))
        }
        .await;
        let (consume, publish, mut consumer) = match opened {
            Ok(v) => v,
            Err(e) => {
                let _ = connection.close(200, "setup failed").await;
                return lost(e);
            }
        };
        info!(queue = %self.topology.main, prefetch = self.config.prefetch, "consuming");

        let ctx = Arc::new(TaskContext {
            topology: self.topology.clone(),
            publish,
            stats: stats.clone(),
            abort: CancellationToken::new(),
        });
        let mut tasks: JoinSet<Result<(), QueueError>> = JoinSet::new();
        let ended = loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break None,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = flatten(done) {
                        break Some(e);
                    }
                }
                next = consumer.next() => match next {
                    None => break Some(QueueError::ConsumerCancelled { queue: self.topology.main.clone() }),
                    Some(Err(e)) => break Some(QueueError::Amqp { context: "consume".into(), source: e }),
                    Some(Ok(delivery)) => {
                        let (handler, ctx) = (handler.clone(), ctx.clone());
                        tasks.spawn(async move { ctx.process(delivery, handler.as_ref()).await });
                    }
                },
            }
        };
        if ended.is_none() {
            // Stop taking new deliveries; prefetched ones not started go back to the queue when the channel closes.
            let _ = consume.basic_cancel(consumer.tag().as_str(), BasicCancelOptions::default()).await;
        }
        self.drain(&mut tasks, stop, &ctx.abort).await;
        let _ = consume.close(200, "worker stopping").await;
        let _ = connection.close(200, "worker stopping").await;
        match ended {
            None => SessionEnd::Stopped,
            Some(error) => SessionEnd::Lost { error, connected: true },
        }
    }

    /// Waits for running handlers; once a stop has been requested for `shutdown_grace`, aborts them (their
    /// messages are nacked with requeue, or redelivered anyway if the channel is gone).
    async fn drain(
        &self,
        tasks: &mut JoinSet<Result<(), QueueError>>,
        stop: &CancellationToken,
        abort: &CancellationToken,
    ) {
        let grace = self.config.shutdown_grace;
        let mut deadline = stop.is_cancelled().then(|| Instant::now() + grace);
        if !tasks.is_empty() {
            debug!(running = tasks.len(), "waiting for running jobs");
        }
        while !tasks.is_empty() {
            tokio::select! {
                done = tasks.join_next() => {
                    if let Some(Err(e)) = done.map(flatten) {
                        debug!(error = %e, "job outcome not recorded while stopping");
                    }
                }
                _ = stop.cancelled(), if deadline.is_none() => deadline = Some(Instant::now() + grace),
                _ = sleep_until(deadline), if deadline.is_some() && !abort.is_cancelled() => {
                    warn!(running = tasks.len(), "stop deadline passed; requeueing running jobs");
                    abort.cancel();
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn flatten(done: Result<Result<(), QueueError>, tokio::task::JoinError>) -> Result<(), QueueError> {
    match done {
        Ok(r) => r,
        // Handler panics are caught inside the task; a join error means the task was cancelled, which only
        // happens when the runtime shuts down.
        Err(e) => {
            warn!(error = %e, "job task ended abnormally");
            Ok(())
        }
    }
}

struct TaskContext {
    topology: Topology,
    publish: Channel,
    stats: Arc<Mutex<WorkerStats>>,
    abort: CancellationToken,
}

impl TaskContext {
    fn count(&self, f: impl FnOnce(&mut WorkerStats)) {
        f(&mut self.stats.lock().expect("stats lock"));
    }

    /// Decodes, handles and settles one delivery. An `Err` means the channel is unusable: the session ends and the
    /// broker redelivers what was not acked.
    async fn process<H: JobHandler>(&self, delivery: Delivery, handler: &H) -> Result<(), QueueError> {
        let job = match Job::decode(&delivery.data) {
            Ok(mut job) => {
                job.redelivered = delivery.redelivered;
                job
            }
            Err(e) => {
                warn!(error = %e, "undecodable message; dead-lettering it");
                let headers = failure_headers(&e.to_string(), 0, "malformed");
                let props = base_properties(headers).with_content_type(
                    delivery.properties.content_type().clone().unwrap_or_else(|| "application/octet-stream".into()),
                );
                send_confirmed(&self.publish, &self.topology.dead, "<malformed>", &delivery.data, props).await?;
                self.ack(&delivery).await?;
                self.count(|s| s.malformed += 1);
                return Ok(());
            }
        };
        let span = info_span!("job", key = %job.key, kind = job.kind.as_str(), attempt = job.attempt);
        async {
            let run = AssertUnwindSafe(handler.handle(job.clone())).catch_unwind();
            let outcome = tokio::select! {
                r = run => r,
                _ = self.abort.cancelled() => {
                    warn!("stop deadline passed; requeueing the job");
                    let nack = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
                    delivery.acker.nack(nack).await.map_err(amqp("nack"))?;
                    self.count(|s| s.requeued_on_stop += 1);
                    return Ok(());
                }
            };
            let result = outcome.unwrap_or_else(|panic| Err(JobError::Retryable(panic_message(panic.as_ref()))));
            match result {
                Ok(()) => {
                    self.ack(&delivery).await?;
                    self.count(|s| s.succeeded += 1);
                    debug!("job done");
                }
                Err(e) => self.failed(&delivery, job, e).await?,
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn failed(&self, delivery: &Delivery, job: Job, error: JobError) -> Result<(), QueueError> {
        let message = error.to_string();
        let retry = if error.is_retryable() { self.topology.retry_queue_after(job.attempt) } else { None };
        match retry {
            Some(queue) => {
                let next = Job { attempt: job.attempt + 1, ..job };
                warn!(error = %message, delay = ?queue.delay, "job failed; retrying");
                let props = job_properties(&next, failure_headers(&message, job.attempt, "retry"));
                send_confirmed(&self.publish, &queue.name, &next.key, &next.encode(), props).await?;
                self.ack(delivery).await?;
                self.count(|s| s.retried += 1);
            }
            None => {
                let reason = if error.is_retryable() { "attempts exhausted" } else { "permanent" };
                warn!(error = %message, reason, "job failed; dead-lettering it");
                let props: BasicProperties = job_properties(&job, failure_headers(&message, job.attempt, reason));
                send_confirmed(&self.publish, &self.topology.dead, &job.key, &job.encode(), props).await?;
                self.ack(delivery).await?;
                self.count(|s| s.dead_lettered += 1);
            }
        }
        Ok(())
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        match delivery.acker.ack(BasicAckOptions::default()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.count(|s| s.acks_lost += 1);
                Err(QueueError::Amqp { context: "ack".into(), source: e })
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned());
    format!("handler panicked: {text}")
}
