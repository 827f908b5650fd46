//! The job message: versioned JSON, so that workers of different releases can share a queue and a body they
//! cannot read is dead-lettered instead of being guessed at.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body version this crate writes and the only one it reads.
pub const MESSAGE_VERSION: u64 = 1;

/// What a job asks the worker to do; mirrors the ledger's action kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Copy or render a recording and register it with Pod.
    Claim,
    /// Import a recording as a Pod external recording.
    Import,
    /// Archive a recording's raw files.
    Archive,
}

impl JobKind {
    /// The wire name (`claim`, `import`, `archive`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Claim => "claim",
            JobKind::Import => "import",
            JobKind::Archive => "archive",
        }
    }
}

/// One unit of work on the queue. The `key` is the ledger's idempotency key: the queue delivers at least once,
/// the handler makes the effect happen once by checking the ledger under that key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The ledger idempotency key of the action.
    pub key: String,
    /// What to do.
    pub kind: JobKind,
    /// The recording the action is about, when there is one.
    pub record_id: Option<String>,
    /// 1 for the first delivery, incremented on each retry; attempts past the policy's maximum dead-letter.
    pub attempt: u32,
    /// Kind-specific parameters, opaque to the queue.
    #[serde(default)]
    pub payload: Value,
    /// True when the broker says this delivery may have been seen before (a worker died or lost its connection
    /// before acking): the handler must check the ledger before doing work again. Not part of the body.
    #[serde(skip)]
    pub redelivered: bool,
}

impl Job {
    /// A first-attempt job.
    pub fn new(key: impl Into<String>, kind: JobKind, record_id: Option<String>, payload: Value) -> Self {
        Job { key: key.into(), kind, record_id, attempt: 1, payload, redelivered: false }
    }

    /// The JSON body, with `"v": 1`.
    pub fn encode(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Wire<'a> {
            v: u64,
            key: &'a str,
            kind: JobKind,
            record_id: &'a Option<String>,
            attempt: u32,
            payload: &'a Value,
        }
        let wire = Wire {
            v: MESSAGE_VERSION,
            key: &self.key,
            kind: self.kind,
            record_id: &self.record_id,
            attempt: self.attempt,
            payload: &self.payload,
        };
        serde_json::to_vec(&wire).expect("a job always serializes")
    }

    /// Reads a body; never panics. Unknown versions and malformed bodies are typed errors so that the worker can
    /// dead-letter them with the reason.
    pub fn decode(body: &[u8]) -> Result<Job, DecodeError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(DecodeError::Malformed("the body is not a JSON object".into()));
        };
        match map.get("v") {
            None => return Err(DecodeError::MissingVersion),
            Some(Value::Number(n)) if n.as_u64() == Some(MESSAGE_VERSION) => {}
            Some(other) => return Err(DecodeError::UnsupportedVersion(other.to_string())),
        }
        let job: Job = serde_json::from_value(value).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if job.key.trim().is_empty() {
            return Err(DecodeError::Malformed("empty key".into()));
        }
        if job.attempt == 0 {
            return Err(DecodeError::Malformed("attempt must be at least 1".into()));
        }
        Ok(job)
    }
}

/// Why a body could not be read as a [`Job`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body has no `v` field: not one of our messages.
    #[error("message has no version field \"v\"")]
    MissingVersion,
    /// Written by a newer (or foreign) producer.
    #[error("unsupported message version {0} (this worker reads version {MESSAGE_VERSION})")]
    UnsupportedVersion(String),
    /// Not JSON, or fields missing or of the wrong type.
    #[error("malformed message: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_wire_shape() {
        let job = Job::new("claim:abc-123", JobKind::Claim, Some("abc-123".into()), json!({"target": "pod"}));
        let body = job.encode();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"v": 1, "key": "claim:abc-123", "kind": "claim", "record_id": "abc-123", "attempt": 1,
                   "payload": {"target": "pod"}})
        );
        assert_eq!(Job::decode(&body).unwrap(), job);
    }

    #[test]
    fn null_record_and_missing_payload() {
        let job = Job::decode(br#"{"v":1,"key":"k","kind":"archive","record_id":null,"attempt":3}"#).unwrap();
        assert_eq!(job.record_id, None);
        assert_eq!(job.attempt, 3);
        assert_eq!(job.payload, Value::Null);
        assert!(!job.redelivered);
    }

    #[test]
    fn versions_are_checked() {
        let e = Job::decode(br#"{"v":2,"key":"k","kind":"claim","record_id":null,"attempt":1}"#).unwrap_err();
        assert_eq!(e, DecodeError::UnsupportedVersion("2".into()));
        let e = Job::decode(br#"{"v":"1","key":"k","kind":"claim","record_id":null,"attempt":1}"#).unwrap_err();
        assert!(matches!(e, DecodeError::UnsupportedVersion(_)));
        let e = Job::decode(br#"{"key":"k","kind":"claim","record_id":null,"attempt":1}"#).unwrap_err();
        assert_eq!(e, DecodeError::MissingVersion);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"not json"[..],
            b"[1,2]",
            b"",
            br#"{"v":1,"key":"k","kind":"explode","record_id":null,"attempt":1}"#,
            br#"{"v":1,"kind":"claim","record_id":null,"attempt":1}"#,
            br#"{"v":1,"key":"","kind":"claim","record_id":null,"attempt":1}"#,
            br#"{"v":1,"key":"k","kind":"claim","record_id":null,"attempt":0}"#,
            br#"{"v":1,"key":"k","kind":"claim","record_id":7,"attempt":1}"#,
        ] {
            assert!(matches!(Job::decode(body), Err(DecodeError::Malformed(_))), "{:?}", String::from_utf8_lossy(body));
        }
    }
}
