//! Consumer-group lag: committed offsets against high watermarks.

use std::sync::{Arc, PoisonError};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{stream_error, topics, KafkaStreams, LogContext};
use crate::{PartitionLag, StreamError};

/// Committed position and high watermark of every partition of `topic` for `group`.
pub(super) async fn lag(
    streams: &KafkaStreams,
    topic: &str,
    group: &str,
) -> Result<Vec<PartitionLag>, StreamError> {
    let partitions = topics::partitions(streams, topic).await?;
    let reader = offset_reader(streams, group)?;
    let timeout = streams.config.request_timeout;
    let topic = topic.to_string();
    let group = group.to_string();
    tokio::task::spawn_blocking(move || {
        let what = || format!("lag of group `{group}` on `{topic}`");
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(&topic, i32::try_from(partition).unwrap_or(i32::MAX));
        }
        let committed = reader
            .committed_offsets(list, timeout)
            .map_err(|e| stream_error(&what(), &e))?;
        (0..partitions)
            .map(|partition| {
                let p = i32::try_from(partition).unwrap_or(i32::MAX);
                let (low, high) = reader
                    .fetch_watermarks(&topic, p, timeout)
                    .map_err(|e| stream_error(&what(), &e))?;
                let next = match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o.max(low),
                    _ => low,
                };
                Ok(PartitionLag {
                    partition,
                    committed: u64::try_from(next).unwrap_or_default(),
                    end: u64::try_from(high).unwrap_or_default(),
                })
            })
            .collect()
    })
    .await
    .map_err(|e| StreamError::Backend(format!("lag lookup stopped: {e}")))?
}

/// The cached client that reads `group`'s committed offsets without joining the group.
fn offset_reader(
    streams: &KafkaStreams,
    group: &str,
) -> Result<Arc<BaseConsumer<LogContext>>, StreamError> {
    let mut readers = streams
        .offset_readers
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(reader) = readers.get(group) {
        return Ok(reader.clone());
    }
    let reader: BaseConsumer<LogContext> = streams
        .config
        .group_consumer(group)
        .create_with_context(LogContext)
        .map_err(|e| super::client_error(&format!("offset reader of group `{group}`"), e))?;
    let reader = Arc::new(reader);
    readers.insert(group.to_string(), reader.clone());
    Ok(reader)
}
