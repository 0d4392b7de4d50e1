//! Consumer-group members and group-less partition reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer as RdConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use super::{stream_error, KafkaConfig, LogContext};
use crate::{Checkpoint, PollBudget, StoredRecord, StreamConsumer, StreamError};

/// Next offset to commit per partition, for the records polled since the last commit.
type Positions = Arc<Mutex<HashMap<i32, i64>>>;

fn lock(positions: &Positions) -> MutexGuard<'_, HashMap<i32, i64>> {
    positions.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops the uncommitted positions of partitions the group takes away or hands out anew.
struct GroupContext {
    positions: Positions,
    group: String,
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        LogContext.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (Rebalance::Revoke(list) | Rebalance::Assign(list)) = rebalance else {
            if let Rebalance::Error(e) = rebalance {
                tracing::warn!(target: "kafka", group = %self.group, "rebalance failed: {e}");
            }
            return;
        };
        let mut positions = lock(&self.positions);
        for element in list.elements() {
            if positions.remove(&element.partition()).is_some() {
                tracing::info!(
                    target: "kafka",
                    group = %self.group,
                    "partition {} of `{}` moved before its records were committed; they are delivered again",
                    element.partition(),
                    element.topic()
                );
            }
        }
    }
}

/// A member of one consumer group reading one topic.
pub(super) struct KafkaConsumer {
    consumer: Arc<RdConsumer<GroupContext>>,
    topic: String,
    group: String,
    positions: Positions,
    /// Longest a commit is waited for ([`KafkaConfig::request_timeout`]).
    commit_timeout: Duration,
    /// [`KafkaConfig::max_poll_bytes`].
    max_poll_bytes: usize,
    /// A commit that outlived `commit_timeout`: librdkafka may wait for the group
    /// coordinator without end. Until it returns, no other commit starts, so a stuck
    /// coordinator holds one blocking thread, not one per batch.
    stalled_commit: Option<JoinHandle<KafkaResult<()>>>,
}

impl KafkaConsumer {
    /// Joins `group` and subscribes to `topic`.
    pub(super) fn subscribe(
        config: &KafkaConfig,
        topic: &str,
        group: &str,
    ) -> Result<Self, StreamError> {
        let positions = Positions::default();
        let consumer: RdConsumer<GroupContext> = config
            .group_consumer(group)
            .create_with_context(GroupContext {
                positions: positions.clone(),
                group: group.to_string(),
            })
            .map_err(|e| super::client_error(&format!("consumer of group `{group}`"), e))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| stream_error(&format!("subscribing group `{group}` to `{topic}`"), &e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: topic.to_string(),
            group: group.to_string(),
            positions,
            commit_timeout: config.request_timeout,
            max_poll_bytes: config.max_poll_bytes,
            stalled_commit: None,
        })
    }
}

fn stored(message: &BorrowedMessage<'_>) -> StoredRecord {
    StoredRecord {
        partition: u32::try_from(message.partition()).unwrap_or_default(),
        offset: u64::try_from(message.offset()).unwrap_or_default(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
    }
}

#[async_trait]
impl StreamConsumer for KafkaConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredRecord>, StreamError> {
        let mut out = Vec::new();
        let mut budget = PollBudget::new(self.max_poll_bytes);
        let deadline = tokio::time::Instant::now() + wait;
        while out.len() < max && !budget.spent() {
            // After the first record only what is already fetched is taken: the timeout
            // polls the receive once before it looks at its (passed) deadline.
            let until = if out.is_empty() {
                deadline
            } else {
                tokio::time::Instant::now()
            };
            match tokio::time::timeout_at(until, self.consumer.recv()).await {
                Err(_) => break,
                Ok(Ok(message)) => {
                    lock(&self.positions).insert(message.partition(), message.offset() + 1);
                    let record = stored(&message);
                    budget.take(&record);
                    out.push(record);
                }
                Ok(Err(e)) if out.is_empty() => {
                    return Err(stream_error(
                        &format!("group `{}` reading `{}`", self.group, self.topic),
                        &e,
                    ))
                }
                Ok(Err(e)) => {
                    tracing::warn!(target: "kafka", group = %self.group, "reading `{}`: {e}", self.topic);
                    break;
                }
            }
        }
        Ok(out)
    }

    fn checkpoint(&self) -> Checkpoint {
        let positions = lock(&self.positions);
        Checkpoint(
            positions
                .iter()
                .filter_map(|(&p, &o)| Some((u32::try_from(p).ok()?, u64::try_from(o).ok()?)))
                .collect(),
        )
    }

    async fn commit_to(&mut self, checkpoint: &Checkpoint) -> Result<(), StreamError> {
        if let Some(stalled) = &self.stalled_commit {
            if !stalled.is_finished() {
                return Err(StreamError::Unavailable(format!(
                    "group `{}` on `{}`: an earlier commit still waits for the group \
                     coordinator; the offsets are committed once it answers",
                    self.group, self.topic
                )));
            }
            // Its positions are still pending: they are committed now.
            self.stalled_commit = None;
        }
        // Only partitions still held with uncommitted records: a partition the group took
        // away (or committed since) is not this consumer's to commit.
        let pending: Vec<(i32, i64)> = {
            let positions = lock(&self.positions);
            checkpoint
                .0
                .iter()
                .filter_map(|&(p, o)| Some((i32::try_from(p).ok()?, i64::try_from(o).ok()?)))
                .filter(|(p, _)| positions.contains_key(p))
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for &(partition, offset) in &pending {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .map_err(|e| stream_error("building the commit", &e))?;
        }
        let consumer = self.consumer.clone();
        let mut commit =
            tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync));
        let Ok(joined) = tokio::time::timeout(self.commit_timeout, &mut commit).await else {
            self.stalled_commit = Some(commit);
            return Err(StreamError::Unavailable(format!(
                "committing group `{}` on `{}` got no answer within {:?} (request_timeout); \
                 the offsets are committed with a later batch",
                self.group, self.topic, self.commit_timeout
            )));
        };
        let result = joined.map_err(|e| StreamError::Backend(format!("commit stopped: {e}")))?;
        match result {
            Ok(()) => {
                let mut positions = lock(&self.positions);
                for (partition, offset) in pending {
                    if positions.get(&partition) == Some(&offset) {
                        positions.remove(&partition);
                    }
                }
                Ok(())
            }
            Err(e) if rebalanced(&e) => {
                // The partitions are being reassigned from their committed offsets: the
                // records since then are delivered again.
                lock(&self.positions).clear();
                Err(StreamError::Unavailable(format!(
                    "group `{}` rebalanced before its commit on `{}`; the records polled since the last commit are delivered again ({e})",
                    self.group, self.topic
                )))
            }
            Err(e) => Err(stream_error(
                &format!("committing group `{}` on `{}`", self.group, self.topic),
                &e,
            )),
        }
    }
}

/// Whether a commit was refused because this member's generation is over.
fn rebalanced(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::FencedInstanceId
                | RDKafkaErrorCode::StaleMemberEpoch
                | RDKafkaErrorCode::State
        )
    )
}

/// Up to `max` records of one partition from `offset` to the high watermark at the time of
/// the call.
pub(super) async fn read(
    config: KafkaConfig,
    topic: &str,
    partition: u32,
    offset: u64,
    max: usize,
) -> Result<Vec<StoredRecord>, StreamError> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || read_blocking(&config, &topic, partition, offset, max))
        .await
        .map_err(|e| StreamError::Backend(format!("read stopped: {e}")))?
}

fn read_blocking(
    config: &KafkaConfig,
    topic: &str,
    partition: u32,
    offset: u64,
    max: usize,
) -> Result<Vec<StoredRecord>, StreamError> {
    let what = || format!("reading `{topic}` partition {partition}");
    let consumer: BaseConsumer<LogContext> = config
        .reader()
        .create_with_context(LogContext)
        .map_err(|e| super::client_error("reader", e))?;
    let p = i32::try_from(partition).map_err(|_| StreamError::UnknownPartition {
        stream: topic.to_string(),
        partition,
    })?;
    let (low, high) = consumer
        .fetch_watermarks(topic, p, config.request_timeout)
        .map_err(|e| stream_error(&what(), &e))?;
    let from = i64::try_from(offset).unwrap_or(i64::MAX).max(low);
    if max == 0 || from >= high {
        return Ok(Vec::new());
    }
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, p, Offset::Offset(from))
        .map_err(|e| stream_error(&what(), &e))?;
    consumer
        .assign(&list)
        .map_err(|e| stream_error(&what(), &e))?;
    let wanted = usize::try_from(high - from).unwrap_or(usize::MAX).min(max);
    let deadline = Instant::now() + config.request_timeout;
    let mut out = Vec::with_capacity(wanted);
    while out.len() < wanted {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StreamError::Unavailable(format!(
                "{}: only {} of {wanted} records arrived within {:?}",
                what(),
                out.len(),
                config.request_timeout
            )));
        }
        match consumer.poll(left) {
            None => {}
            Some(Ok(message)) if message.offset() >= high => break,
            Some(Ok(message)) => out.push(stored(&message)),
            Some(Err(e)) => return Err(stream_error(&what(), &e)),
        }
    }
    Ok(out)
}
