//! Opening a connection: the URL parsed by us (the driver's parse errors repeat the URL, password included),
//! heartbeat and timeout applied, tokio as executor and reactor, a readable connection name.

use std::str::FromStr;

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};

use crate::error::{QueueError, is_fatal_lapin};
use crate::{QueueConfig, mask_url, scrub, url_secrets};

/// Parses `config.amqp_url` and applies the heartbeat and connect timeout unless the URL sets them itself.
pub(crate) fn amqp_uri(config: &QueueConfig) -> Result<AMQPUri, QueueError> {
    let raw = config.amqp_url.trim();
    let invalid = |reason: String| QueueError::InvalidUrl { url: mask_url(raw), reason };
    if raw.is_empty() {
        return Err(invalid("empty".into()));
    }
    let mut uri = AMQPUri::from_str(raw).map_err(|e| {
        let secrets = url_secrets(raw);
        // The parser's message may quote the whole URL: keep only what does not.
        let e = scrub(&e.replace(raw, "<url>"), &secrets);
        invalid(e)
    })?;
    if uri.query.heartbeat.is_none() {
        uri.query.heartbeat = Some(config.heartbeat_secs);
    }
    if uri.query.connection_timeout.is_none() {
        uri.query.connection_timeout = Some(config.connect_timeout.as_millis().max(1) as u64);
    }
    Ok(uri)
}

/// Connects with the config's settings; `role` ("publisher", "worker", "admin") is added to the connection name.
pub(crate) async fn connect(config: &QueueConfig, role: &str) -> Result<Connection, QueueError> {
    let uri = amqp_uri(config)?;
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
        .with_connection_name(format!("{} {role}", config.connection_name).into());
    let deadline = config.connect_timeout + std::time::Duration::from_secs(5);
    let connected = tokio::time::timeout(deadline, Connection::connect_uri(uri, properties)).await;
    let url = mask_url(&config.amqp_url);
    match connected {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(QueueError::Connect {
            url,
            message: scrub(&e.to_string(), &url_secrets(&config.amqp_url)),
            fatal: is_fatal_lapin(&e),
        }),
        Err(_) => Err(QueueError::Connect { url, message: format!("timed out after {deadline:?}"), fatal: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_and_timeout_are_applied() {
        let c = QueueConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f");
        let uri = amqp_uri(&c).unwrap();
        assert_eq!(uri.query.heartbeat, Some(30));
        assert_eq!(uri.query.connection_timeout, Some(10_000));
        assert_eq!(uri.vhost, "/");
        let c = QueueConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=5");
        assert_eq!(amqp_uri(&c).unwrap().query.heartbeat, Some(5));
    }

    #[test]
    fn parse_errors_do_not_leak_the_password() {
        for url in ["http://u:hunter22@h/", "amqp://u:hunter22@h:notaport/", "amqp://u:hunter22@h/?heartbeat=x"] {
            let e = amqp_uri(&QueueConfig::new(url)).unwrap_err();
            let s = e.to_string();
            assert!(e.is_fatal());
            assert!(!s.contains("hunter22"), "{s}");
        }
    }
}
