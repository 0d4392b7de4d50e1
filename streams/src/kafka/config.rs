//! How the Kafka clients are configured.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::Deserialize;

/// Environment variable that overrides `streaming.bootstrap_servers`.
pub const BROKERS_ENV: &str = "MOOSE_KAFKA_BROKERS";

/// Compression of produced batches. Snappy is left out on purpose: some Kafka-compatible
/// brokers fail to serve snappy batches back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaCompression {
    None,
    #[default]
    Lz4,
    Zstd,
}

impl KafkaCompression {
    /// librdkafka's name for it (`compression.type`).
    pub fn codec(self) -> &'static str {
        match self {
            KafkaCompression::None => "none",
            KafkaCompression::Lz4 => "lz4",
            KafkaCompression::Zstd => "zstd",
        }
    }
}

/// Everything [`super::KafkaStreams`] needs to reach and use a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// Replication factor of the topics the host creates.
    pub replication_factor: i32,
    pub compression: KafkaCompression,
    /// librdkafka properties set on every client, after (so over) the host's own.
    pub properties: BTreeMap<String, String>,
    /// Longest a metadata, admin or offset request may take.
    pub request_timeout: Duration,
    /// Most record bytes one consumer poll takes (plus the record that crosses it), and
    /// most a consumer fetches ahead of its polls (`queued.max.messages.kbytes`).
    pub max_poll_bytes: usize,
}

impl KafkaConfig {
    /// A configuration for `bootstrap_servers` with the defaults: replication factor 1,
    /// lz4, no extra properties, 10 s requests, polls of 16 MiB.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            replication_factor: 1,
            compression: KafkaCompression::default(),
            properties: BTreeMap::new(),
            request_timeout: Duration::from_secs(10),
            max_poll_bytes: crate::DEFAULT_MAX_POLL_BYTES,
        }
    }

    /// Settings shared by every client.
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", "moose")
            // Topics are created by the host, with the stream's partitions.
            .set("allow.auto.create.topics", "false");
        config
    }

    fn finish(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// The idempotent producer: every record acknowledged by all in-sync replicas, keyed
    /// records partitioned like the Java client (murmur2).
    pub(super) fn producer(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", self.compression.codec())
            .set("partitioner", "murmur2_random")
            // A broker that is down fails `produce` after this, rather than librdkafka's
            // 5 minutes; the records are then reported as not stored.
            .set("message.timeout.ms", "15000");
        self.finish(config)
    }

    /// A consumer in `group` that commits only when told to, from the earliest offset for
    /// a new group, with the eager rebalance protocol (every rebalance revokes everything
    /// and assigns from committed offsets), fetching at most `max_poll_bytes` ahead
    /// (librdkafka's default is 64 MiB per consumer).
    pub(super) fn group_consumer(&self, group: &str) -> ClientConfig {
        let mut config = self.base();
        // librdkafka wants a fetch of at least `message.max.bytes` (1,000,000), at most
        // `receive.message.max.bytes` (100 MB).
        let fetch = self.max_poll_bytes.clamp(1_000_000, 50 << 20);
        config
            .set("group.id", group)
            .set(
                "queued.max.messages.kbytes",
                (self.max_poll_bytes / 1024).clamp(1, 2_097_151).to_string(),
            )
            .set("fetch.max.bytes", fetch.to_string())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range,roundrobin");
        self.finish(config)
    }

    /// A consumer that only reads assigned partitions and never joins or commits for a
    /// group.
    pub(super) fn reader(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("group.id", "moose-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest");
        self.finish(config)
    }

    /// The admin client.
    pub(super) fn admin(&self) -> ClientConfig {
        self.finish(self.base())
    }
}
