//! The Kafka sink: one record per event, through an idempotent librdkafka
//! producer.
//!
//! A record carries the event's key, value, headers and time. It goes to
//! the sink's `topic`, or to the topic named by the event's `topic_header`
//! (a header a plugin sets; it is not written).
//!
//! [`Sink::write`] hands records to librdkafka, which batches, compresses
//! and retries them by itself (idempotence keeps retries from duplicating
//! or reordering). [`Sink::flush`] returns only once every record written
//! is acknowledged by the brokers, and fails if any could not be delivered:
//! the engine acknowledges a source's progress only after a flush, so a
//! record that was not delivered is never reported as delivered, and its
//! input is read again. While the brokers are down a flush waits (librdkafka
//! keeps retrying until `message.timeout.ms`, five minutes by default).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};

use super::{Sink, SinkError};
use crate::config::KafkaSinkConfig;
use crate::event::Event;
use crate::kafka::{ClientLog, client_config, log_line, report_error};
use crate::metrics::Metrics;

/// How long a write naps between looks for room in librdkafka's queue.
const QUEUE_NAP: Duration = Duration::from_millis(1);
/// How long a flush naps between looks at what is acknowledged.
const FLUSH_NAP: Duration = Duration::from_micros(500);
/// How often a flush that is waiting says so.
const FLUSH_REPORT: Duration = Duration::from_secs(10);

/// Writes events to Kafka.
pub struct KafkaSink {
    name: String,
    topic: String,
    topic_header: Option<String>,
    producer: BaseProducer<Deliveries>,
}

impl KafkaSink {
    /// Makes the producer; connecting happens in the background.
    ///
    /// # Errors
    ///
    /// [`SinkError::Kafka`] when librdkafka refuses the settings.
    pub fn new(
        name: &str,
        config: &KafkaSinkConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, SinkError> {
        let settings = [
            ("enable.idempotence", "true"),
            ("compression.type", config.compression.as_str()),
        ];
        let context = Deliveries {
            log: ClientLog {
                client: name.into(),
                metrics,
            },
            failure: Mutex::new(None),
        };
        let producer = client_config(&config.brokers, &config.properties, &settings)
            .create_with_context(context)
            .map_err(|e| SinkError::Kafka {
                sink: name.to_string(),
                message: format!("cannot make a kafka producer: {e}"),
            })?;
        tracing::info!(
            sink = name,
            brokers = %config.brokers,
            topic = %config.topic,
            "kafka sink ready"
        );
        Ok(KafkaSink {
            name: name.to_string(),
            topic: config.topic.clone(),
            topic_header: config.topic_header.clone(),
            producer,
        })
    }

    fn error(&self, message: String) -> SinkError {
        SinkError::Kafka {
            sink: self.name.clone(),
            message,
        }
    }

    /// A delivery that failed for good, or the producer's fatal error.
    fn failure(&self) -> Option<String> {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            return Some(format!("the producer failed for good: {code}: {reason}"));
        }
        self.producer
            .context()
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The topic `event` goes to.
    fn topic_of<'e>(&'e self, event: &'e Event) -> Result<&'e str, SinkError> {
        let Some(header) = &self.topic_header else {
            return Ok(&self.topic);
        };
        match event.header(header) {
            None => Ok(&self.topic),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(topic) if !topic.is_empty() => Ok(topic),
                _ => Err(self.error(format!(
                    "the event from {} has header `{header}` = {:?}, which is not a topic name",
                    event.position,
                    String::from_utf8_lossy(bytes)
                ))),
            },
        }
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        for event in events {
            let topic = self.topic_of(event)?;
            let mut record = BaseRecord::to(topic)
                .payload(&event.value)
                .timestamp(event.time);
            // librdkafka allocates a header list even for no headers.
            if !event.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(event.headers.len());
                for (name, value) in &event.headers {
                    if Some(name) != self.topic_header.as_ref() {
                        headers = headers.insert(Header {
                            key: name,
                            value: Some(value),
                        });
                    }
                }
                record = record.headers(headers);
            }
            if let Some(key) = &event.key {
                record = record.key(key);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // librdkafka holds as much as it may; wait for
                        // deliveries to make room.
                        record = back;
                        self.producer.poll(Duration::ZERO);
                        std::thread::sleep(QUEUE_NAP);
                        if let Some(failure) = self.failure() {
                            return Err(self.error(failure));
                        }
                    }
                    Err((error, _)) => {
                        return Err(self.error(format!(
                            "cannot send the event from {} to `{topic}`: {error}",
                            event.position
                        )));
                    }
                }
            }
        }
        // Serve delivery reports of what went out meanwhile.
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let started = Instant::now();
        let mut reported = started;
        loop {
            // `flush` with no time to wait sends what lingers at once and
            // says whether anything is still unacknowledged. Between looks
            // the sink serves the delivery reports that came and naps: the
            // producer's own waiting `poll` and `flush` always run to their
            // timeout (spinning through its last millisecond), which would
            // cost either latency or a core.
            match self.producer.flush(Duration::ZERO) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    self.producer.poll(Duration::ZERO);
                    if let Some(failure) = self.failure() {
                        return Err(self.error(failure));
                    }
                    if reported.elapsed() >= FLUSH_REPORT {
                        reported = Instant::now();
                        tracing::warn!(
                            sink = %self.name,
                            waiting_s = started.elapsed().as_secs(),
                            records = self.producer.in_flight_count(),
                            "kafka has not acknowledged every record yet; waiting"
                        );
                    }
                    std::thread::sleep(FLUSH_NAP);
                }
                Err(error) => return Err(self.error(format!("cannot flush: {error}"))),
            }
        }
        match self.failure() {
            Some(failure) => Err(self.error(failure)),
            None => Ok(()),
        }
    }
}

/// The producer's context: its log, and the first delivery that failed.
struct Deliveries {
    log: ClientLog,
    failure: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(&self.log.client, level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_error(&self.log.client, &self.log.metrics, &error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Err((error, message)) = result else {
            return;
        };
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some(format!(
                "a record for `{}` could not be delivered: {error}",
                message.topic()
            ));
        }
    }
}
