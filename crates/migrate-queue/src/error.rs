//! One error type for the queue clients. Messages never carry the AMQP password: URLs are masked and driver
//! messages are scrubbed before they are stored.

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The AMQP URL cannot be parsed (the reason never repeats the URL).
    #[error("invalid AMQP URL {url}: {reason}")]
    InvalidUrl {
        /// The URL with its password masked.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Connecting (TCP, TLS, authentication, vhost) failed.
    #[error("cannot connect to RabbitMQ at {url}: {message}")]
    Connect {
        /// The URL with its password masked.
        url: String,
        /// The driver's message, scrubbed of the password.
        message: String,
        /// Set when retrying cannot help (wrong credentials, unknown vhost, refused access).
        fatal: bool,
    },
    /// A broker operation failed after connecting.
    #[error("RabbitMQ: {context}: {source}")]
    Amqp {
        /// What was being done, e.g. `declare bbb-migrate`.
        context: String,
        /// The driver error.
        #[source]
        source: lapin::Error,
    },
    /// The broker refused to take responsibility for a message (publisher confirm nack).
    #[error("RabbitMQ nacked the message for job {key}")]
    Nacked {
        /// The job's idempotency key.
        key: String,
    },
    /// The broker confirmed but could not route the message: the queue does not exist.
    #[error("RabbitMQ returned the message for job {key}: no queue {queue}")]
    Unroutable {
        /// The job's idempotency key.
        key: String,
        /// The routing key used.
        queue: String,
    },
    /// The broker closed the consumer, or its stream ended, without an error.
    #[error("the consumer on {queue} was cancelled by the broker")]
    ConsumerCancelled {
        /// The queue consumed.
        queue: String,
    },
}

impl QueueError {
    /// True when retrying the same operation with the same settings cannot succeed: the worker gives up instead
    /// of reconnecting forever.
    pub fn is_fatal(&self) -> bool {
        match self {
            QueueError::InvalidUrl { .. } => true,
            QueueError::Connect { fatal, .. } => *fatal,
            QueueError::Amqp { source, .. } => is_fatal_lapin(source),
            _ => false,
        }
    }
}

/// Access refused, precondition failed (a queue declared with other arguments), vhost not allowed.
pub(crate) fn is_fatal_lapin(e: &lapin::Error) -> bool {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(p) => matches!(
            p.kind(),
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)
                | AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
                | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED)
                | AMQPErrorKind::Hard(AMQPHardError::INVALIDPATH)
        ),
        lapin::ErrorKind::NoConfiguredExecutor | lapin::ErrorKind::NoConfiguredReactor => true,
        _ => false,
    }
}

/// `map_err` helper: a broker error with what was being done.
pub(crate) fn amqp(context: impl Into<String>) -> impl FnOnce(lapin::Error) -> QueueError {
    let context = context.into();
    move |source| QueueError::Amqp { context, source }
}
