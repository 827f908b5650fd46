//! Queue names and their declaration: derived from one queue name and the retry policy, declared by every client
//! at connect time (declaring is idempotent), so no broker-side setup is needed.

use std::time::Duration;

use lapin::Channel;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::config::RetryPolicy;
use crate::error::{QueueError, amqp};

/// One delay queue: messages wait `delay` there, then the broker dead-letters them back to the main queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryQueue {
    /// `<name>.retry.<milliseconds>`: the delay is in the name, so changing the policy declares new queues
    /// instead of clashing with the old queues' arguments.
    pub name: String,
    /// The queue's `x-message-ttl`.
    pub delay: Duration,
}

/// All queue names for one main queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Where jobs are published and consumed.
    pub main: String,
    /// `<name>.dead`: jobs that failed permanently, ran out of attempts or could not be read.
    pub dead: String,
    /// The delay queues, shortest first, one per distinct delay of the policy.
    pub retry: Vec<RetryQueue>,
    policy: RetryPolicy,
}

impl Topology {
    /// The names for queue `name` under `policy`.
    pub fn new(name: &str, policy: &RetryPolicy) -> Self {
        let mut retry: Vec<RetryQueue> = Vec::new();
        for attempt in 1..policy.max_attempts.max(1) {
            let delay = policy.delay_after(attempt);
            if !retry.iter().any(|q| q.delay == delay) {
                retry.push(RetryQueue { name: format!("{name}.retry.{}", delay.as_millis()), delay });
            }
        }
        Topology { main: name.to_owned(), dead: format!("{name}.dead"), retry, policy: policy.clone() }
    }

    /// The delay queue a job goes to after failing attempt `attempt`, or `None` when it has no attempt left.
    pub fn retry_queue_after(&self, attempt: u32) -> Option<&RetryQueue> {
        if attempt >= self.policy.max_attempts {
            return None;
        }
        let delay = self.policy.delay_after(attempt);
        self.retry.iter().find(|q| q.delay == delay)
    }

    /// The policy the topology was built from.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Every queue name: main, retries, dead.
    pub fn all_queues(&self) -> Vec<&str> {
        let mut all = vec![self.main.as_str()];
        all.extend(self.retry.iter().map(|q| q.name.as_str()));
        all.push(self.dead.as_str());
        all
    }

    /// Declares every queue, durable. Safe to call from every client at every (re)connect.
    ///
    /// The main queue dead-letters to `<name>.dead`, so even a message rejected by some other client is kept.
    /// A queue that already exists with other arguments makes this fail with the broker's
    /// `PRECONDITION_FAILED`, which is reported rather than worked around.
    pub async fn declare(&self, channel: &Channel) -> Result<(), QueueError> {
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        let mut main_args = FieldTable::default();
        main_args.insert("x-dead-letter-exchange".into(), long_string(""));
        main_args.insert("x-dead-letter-routing-key".into(), long_string(&self.dead));
        channel.queue_declare(&self.main, durable, main_args).await.map_err(amqp(format!("declare {}", self.main)))?;
        channel
            .queue_declare(&self.dead, durable, FieldTable::default())
            .await
            .map_err(amqp(format!("declare {}", self.dead)))?;
        for q in &self.retry {
            let mut args = FieldTable::default();
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(q.delay.as_millis() as i64));
            args.insert("x-dead-letter-exchange".into(), long_string(""));
            args.insert("x-dead-letter-routing-key".into(), long_string(&self.main));
            channel.queue_declare(&q.name, durable, args).await.map_err(amqp(format!("declare {}", q.name)))?;
        }
        Ok(())
    }
}

pub(crate) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

pub(crate) fn short(s: &str) -> ShortString {
    ShortString::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_retry_routing() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
        };
        let t = Topology::new("bbb-migrate", &policy);
        assert_eq!(t.main, "bbb-migrate");
        assert_eq!(t.dead, "bbb-migrate.dead");
        let names: Vec<&str> = t.retry.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["bbb-migrate.retry.50", "bbb-migrate.retry.100"]);
        assert_eq!(t.retry_queue_after(1).unwrap().name, "bbb-migrate.retry.50");
        assert_eq!(t.retry_queue_after(2).unwrap().name, "bbb-migrate.retry.100");
        assert_eq!(t.retry_queue_after(4).unwrap().name, "bbb-migrate.retry.100");
        assert_eq!(t.retry_queue_after(5), None);
        assert_eq!(t.all_queues().len(), 4);
    }

    #[test]
    fn one_attempt_has_no_retry_queue() {
        let policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
        let t = Topology::new("q", &policy);
        assert!(t.retry.is_empty());
        assert_eq!(t.retry_queue_after(1), None);
    }
}
