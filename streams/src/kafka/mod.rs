//! The Kafka streaming backend: one topic per stream on a Kafka-compatible cluster
//! (Apache Kafka, Redpanda, tansu...), through librdkafka (built from source and linked
//! statically by the `rdkafka` crate).
//!
//! # Topics
//!
//! `ensure_stream` creates the stream's topic with its partitions, the configured
//! replication factor and `retention.ms` from the stream's retention. An existing topic is
//! left as it is (its partitions and configuration are the cluster's business), so the
//! host also works where topics are provisioned by other means and the admin API is not
//! available. Clients never create topics implicitly: producing to or reading a stream
//! whose topic does not exist is [`StreamError::UnknownStream`].
//!
//! # Producing
//!
//! One idempotent producer (`enable.idempotence`, `acks=all`) is shared by every writer.
//! Keyed records are partitioned by murmur2 of the key (as the Java client does), so one
//! key stays in one partition, in order. `produce` returns once the cluster acknowledged
//! every record; a record that could not be delivered within `message.timeout.ms` (15 s
//! unless set in `[streaming.librdkafka]`) fails the call with
//! [`StreamError::Unavailable`]. Unlike the embedded log, a failed `produce` may have
//! stored some of its records: a caller that retries writes those twice (at-least-once).
//!
//! # Consuming
//!
//! A consumer is a member of the Kafka consumer group named like the embedded backend's
//! groups (`function:<name>`, `table:<name>`), with automatic commits off: `commit` stores,
//! synchronously, the position after the records `poll` returned, for the partitions the
//! member still owns. Groups use the eager protocol, so a rebalance revokes every
//! partition and assigns them from their committed offsets: positions not yet committed
//! are dropped on revocation and those records are delivered again (to whichever member
//! gets the partition). A commit refused because the group rebalanced in between fails
//! with [`StreamError::Unavailable`] and drops the positions too; the next `commit` has
//! nothing left to store. Nothing is skipped; duplicates are bounded by what members had
//! polled but not committed when the group changed. A member fetches at most
//! [`KafkaConfig::max_poll_bytes`] ahead of its polls (librdkafka's
//! `queued.max.messages.kbytes` and `fetch.max.bytes`), and a poll takes at most that
//! much plus one record.
//!
//! # Lag and reads
//!
//! `lag` compares the group's committed offsets with the partitions' high watermarks (a
//! partition the group never committed counts from its low watermark). `read` assigns one
//! partition to a group-less consumer and reads up to the high watermark at the time of
//! the call.

mod config;
mod consumer;
mod lag;
mod producer;
mod topics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;

pub use config::{KafkaCompression, KafkaConfig, BROKERS_ENV};

use super::{PartitionLag, Record, StoredRecord, StreamConsumer, StreamError, StreamSpec, Streams};

/// The Kafka streaming backend.
pub struct KafkaStreams {
    config: KafkaConfig,
    producer: FutureProducer<LogContext>,
    admin: AdminClient<LogContext>,
    /// Partition counts of the topics seen to exist.
    topics: Mutex<HashMap<String, u32>>,
    /// One group-member-less consumer per group, to look up committed offsets for `lag`.
    offset_readers: Mutex<HashMap<String, Arc<BaseConsumer<LogContext>>>>,
}

impl KafkaStreams {
    /// Creates the clients of `config`. Connections are made lazily: an unreachable
    /// cluster shows up as [`StreamError::Unavailable`] from the first operation.
    pub fn connect(config: KafkaConfig) -> Result<Self, StreamError> {
        let producer = config
            .producer()
            .create_with_context(LogContext)
            .map_err(|e| client_error("producer", e))?;
        let admin = config
            .admin()
            .create_with_context(LogContext)
            .map_err(|e| client_error("admin client", e))?;
        Ok(Self {
            config,
            producer,
            admin,
            topics: Mutex::default(),
            offset_readers: Mutex::default(),
        })
    }
}

#[async_trait]
impl Streams for KafkaStreams {
    async fn ensure_stream(&self, spec: &StreamSpec) -> Result<(), StreamError> {
        topics::ensure(self, spec).await
    }

    async fn produce(&self, stream: &str, records: Vec<Record>) -> Result<(), StreamError> {
        topics::partitions(self, stream).await?;
        producer::produce(&self.producer, stream, records).await
    }

    async fn consumer(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<Box<dyn StreamConsumer>, StreamError> {
        topics::partitions(self, stream).await?;
        Ok(Box::new(consumer::KafkaConsumer::subscribe(
            &self.config,
            stream,
            group,
        )?))
    }

    async fn lag(&self, stream: &str, group: &str) -> Result<Vec<PartitionLag>, StreamError> {
        lag::lag(self, stream, group).await
    }

    async fn read(
        &self,
        stream: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StreamError> {
        let partitions = topics::partitions(self, stream).await?;
        if partition >= partitions {
            return Err(StreamError::UnknownPartition {
                stream: stream.to_string(),
                partition,
            });
        }
        consumer::read(self.config.clone(), stream, partition, offset, max).await
    }
}

/// Sends librdkafka's log and error events to `tracing`.
#[derive(Clone, Copy, Default)]
pub(crate) struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "kafka", "{fac}: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "kafka", "{fac}: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "kafka", "{fac}: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "kafka", "{fac}: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "kafka", "{error}: {reason}");
    }
}

impl rdkafka::consumer::ConsumerContext for LogContext {}

/// A client that could not be created: the configuration is wrong.
fn client_error(what: &str, e: KafkaError) -> StreamError {
    StreamError::Backend(format!("cannot create the Kafka {what}: {e}"))
}

/// A Kafka error as a stream error: [`StreamError::Unavailable`] for what retrying may fix
/// (brokers down or unreachable, timeouts, leadership or coordinator moving).
fn stream_error(what: &str, e: &KafkaError) -> StreamError {
    let message = format!("{what}: {e}");
    match e.rdkafka_error_code() {
        Some(code) if transient(code) => StreamError::Unavailable(message),
        _ => StreamError::Backend(message),
    }
}

fn transient(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::MessageTimedOut
            | C::OperationTimedOut
            | C::RequestTimedOut
            | C::QueueFull
            | C::LeaderNotAvailable
            | C::NotLeaderForPartition
            | C::NetworkException
            | C::CoordinatorNotAvailable
            | C::NotCoordinator
            | C::CoordinatorLoadInProgress
            | C::WaitingForCoordinator
            | C::NotEnoughReplicas
            | C::NotEnoughReplicasAfterAppend
            | C::RebalanceInProgress
            | C::IllegalGeneration
            | C::UnknownMemberId
            | C::BrokerDestroy
            | C::PreviousInProgress
            | C::TimedOutQueue
            | C::KafkaStorageError
    )
}
