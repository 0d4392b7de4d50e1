//! Streaming buffers: durable, partitioned, offset-addressed logs of records, one per
//! stream of the app, read by consumer groups.
//!
//! [`Streams`] is the seam between the host and a backend: the embedded log on local disk
//! (the default) or Kafka/Redpanda. Producers get control back only once records are
//! durable; consumers read batches and commit their position after their own outputs are
//! durable, which makes every reader at-least-once.

pub mod embedded;
pub mod kafka;

use std::time::Duration;

use async_trait::async_trait;

/// Why a stream operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream `{0}` does not exist")]
    UnknownStream(String),
    #[error("stream `{stream}` has no partition {partition}")]
    UnknownPartition { stream: String, partition: u32 },
    /// The backend cannot take writes or serve reads right now; retrying may succeed.
    #[error("the streaming backend is unavailable: {0}")]
    Unavailable(String),
    #[error("streaming backend error: {0}")]
    Backend(String),
}

/// What a stream is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub partitions: u32,
    /// Records older than this may be deleted.
    pub retention: Duration,
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Records with the same key go to the same partition (in order); no key spreads
    /// records over partitions.
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// A record read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
}

impl StoredRecord {
    /// Its key and value bytes: what it counts against a poll's budget.
    pub fn bytes(&self) -> usize {
        self.value.len() + self.key.as_ref().map_or(0, Vec::len)
    }
}

/// Default of the most record bytes one poll takes (`[streaming] read_buffer_mb`).
pub const DEFAULT_MAX_POLL_BYTES: usize = 16 << 20;

/// What one poll may still take: records are taken while the bytes taken so far (keys and
/// values) are below the limit, so a poll holds at most the limit plus one record, and
/// always gets a record when one is there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollBudget {
    left: usize,
}

impl PollBudget {
    /// A budget of `bytes` (at least one, so that a poll always takes a record).
    pub(crate) fn new(bytes: usize) -> Self {
        Self { left: bytes.max(1) }
    }

    /// No budget: reads bounded by their record count alone.
    pub(crate) fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// Whether no further record may be taken.
    pub(crate) fn spent(&self) -> bool {
        self.left == 0
    }

    /// Counts a record taken.
    pub(crate) fn take(&mut self, record: &StoredRecord) {
        self.left = self.left.saturating_sub(record.bytes().max(1));
    }
}

/// Committed position and end of one partition, for lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: u32,
    /// Next offset the group will read.
    pub committed: u64,
    /// Next offset that will be written.
    pub end: u64,
}

/// A streaming backend.
#[async_trait]
pub trait Streams: Send + Sync + 'static {
    /// Creates the stream if it does not exist (idempotent; an existing stream keeps its
    /// partitions).
    async fn ensure_stream(&self, spec: &StreamSpec) -> Result<(), StreamError>;

    /// Appends `records` to `stream`; returns once all of them are durable.
    async fn produce(&self, stream: &str, records: Vec<Record>) -> Result<(), StreamError>;

    /// A consumer of `stream` in consumer group `group`, starting at the group's committed
    /// positions (the beginning for a new group).
    async fn consumer(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<Box<dyn StreamConsumer>, StreamError>;

    /// Committed position and end of every partition of `stream` for `group`.
    async fn lag(&self, stream: &str, group: &str) -> Result<Vec<PartitionLag>, StreamError>;

    /// Up to `max` records of one partition from `offset` on, without a consumer group
    /// (replay, inspection).
    async fn read(
        &self,
        stream: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StreamError>;
}

/// Where a consumer stands: the next offset of each partition it has read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint(pub Vec<(u32, u64)>);

/// Reads one stream for one consumer group.
#[async_trait]
pub trait StreamConsumer: Send {
    /// Up to `max` records, waiting at most `wait` for the first one (an empty batch when
    /// none arrived). A poll stops taking records once their bytes reach the backend's
    /// `max_poll_bytes`, so it holds at most that plus one record.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredRecord>, StreamError>;

    /// The position after every record returned by `poll` so far, to commit later with
    /// [`commit_to`](Self::commit_to) while polling goes on.
    fn checkpoint(&self) -> Checkpoint;

    /// Durably commits `checkpoint`, taken earlier from this consumer (checkpoints are
    /// committed in the order they were taken). Partitions the consumer no longer reads,
    /// or whose position was committed since, are left alone.
    async fn commit_to(&mut self, checkpoint: &Checkpoint) -> Result<(), StreamError>;

    /// Durably commits the position after every record returned by `poll` so far.
    async fn commit(&mut self) -> Result<(), StreamError> {
        let checkpoint = self.checkpoint();
        self.commit_to(&checkpoint).await
    }
}

/// A consumer of `stream` for `group`, retried every `backoff` while the backend cannot
/// give one; `None` when `stop` is cancelled first.
pub async fn consumer_until_stopped(
    streams: &dyn Streams,
    stream: &str,
    group: &str,
    backoff: Duration,
    stop: &tokio_util::sync::CancellationToken,
) -> Option<Box<dyn StreamConsumer>> {
    moose_retry::until_stopped(
        moose_retry::Backoff::fixed(backoff),
        stop,
        || streams.consumer(stream, group),
        |e, pause| {
            tracing::error!(
                group,
                "cannot read stream `{stream}` (retrying in {pause:?}): {e}"
            )
        },
    )
    .await
}
