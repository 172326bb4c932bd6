//! What the Kafka source and sink share: client settings and the context
//! that turns librdkafka's log lines and errors into `tracing` events and
//! metrics.
//!
//! librdkafka reconnects and retries by itself; an error it reports (a
//! broker down, a request timed out) is logged and counted, and the client
//! goes on. What cannot be retried surfaces where it matters: a record that
//! cannot be delivered fails the sink's flush, a consumer error that cannot
//! be recovered from fails the source.

use std::sync::Arc;

use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

use crate::metrics::Metrics;

/// Client settings: `brokers`, the pipeline's `properties`, then weir's
/// own `settings` (which the configuration check keeps the properties from
/// overriding).
pub(crate) fn client_config(
    brokers: &str,
    properties: &[(String, String)],
    settings: &[(&str, &str)],
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    // librdkafka's log lines are routed through `ClientContext::log`.
    config.set_log_level(RDKafkaLogLevel::Info);
    for (name, value) in settings {
        config.set(*name, *value);
    }
    for (name, value) in properties {
        config.set(name, value);
    }
    config
}

/// Whom a client's log lines and errors name, and where they are counted;
/// part of the source's and the sink's client contexts.
pub(crate) struct ClientLog {
    /// The source or sink the client belongs to.
    pub client: Arc<str>,
    pub metrics: Arc<Metrics>,
}

/// Logs a librdkafka log line at the matching level.
pub(crate) fn log_line(client: &str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(client, facility, "kafka: {message}");
        }
        RDKafkaLogLevel::Warning => tracing::warn!(client, facility, "kafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::debug!(client, facility, "kafka: {message}");
        }
        RDKafkaLogLevel::Debug => tracing::trace!(client, facility, "kafka: {message}"),
    }
}

/// Logs and counts an error librdkafka reported; it retries by itself.
pub(crate) fn report_error(client: &str, metrics: &Metrics, error: &KafkaError, reason: &str) {
    metrics.kafka_error(client);
    tracing::warn!(client, %error, "kafka client error, retrying: {reason}");
}
