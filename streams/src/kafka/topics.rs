//! Topics: creating one per stream and looking up partition counts.

use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::Producer;

use super::{stream_error, KafkaStreams};
use crate::{StreamError, StreamSpec};

/// Creates the topic of `spec` unless it exists, then waits until the cluster's metadata
/// shows it.
pub(super) async fn ensure(streams: &KafkaStreams, spec: &StreamSpec) -> Result<(), StreamError> {
    if spec.partitions == 0 {
        return Err(StreamError::Backend(format!(
            "stream `{}` must have at least one partition",
            spec.name
        )));
    }
    if lookup(streams, &spec.name).await?.is_some() {
        return Ok(());
    }
    let partitions = i32::try_from(spec.partitions).map_err(|_| {
        StreamError::Backend(format!(
            "stream `{}`: {} partitions are too many for Kafka",
            spec.name, spec.partitions
        ))
    })?;
    let retention_ms = spec.retention.as_millis().to_string();
    let topic = NewTopic::new(
        &spec.name,
        partitions,
        TopicReplication::Fixed(streams.config.replication_factor),
    )
    .set("retention.ms", &retention_ms);
    let options = AdminOptions::new().operation_timeout(Some(streams.config.request_timeout));
    let results = streams
        .admin
        .create_topics([&topic], &options)
        .await
        .map_err(|e| stream_error(&format!("creating topic `{}`", spec.name), &e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                let e = rdkafka::error::KafkaError::AdminOp(code);
                return Err(stream_error(&format!("creating topic `{name}`"), &e));
            }
        }
    }
    // Creation is asynchronous on some clusters: wait until every broker we ask knows it.
    let deadline = Instant::now() + streams.config.request_timeout;
    loop {
        if lookup(streams, &spec.name).await?.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StreamError::Unavailable(format!(
                "topic `{}` was created but does not show in the cluster's metadata after {:?}",
                spec.name, streams.config.request_timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The partition count of `stream`'s topic; [`StreamError::UnknownStream`] when it does
/// not exist.
pub(super) async fn partitions(streams: &KafkaStreams, stream: &str) -> Result<u32, StreamError> {
    lookup(streams, stream)
        .await?
        .ok_or_else(|| StreamError::UnknownStream(stream.to_string()))
}

/// The partition count of `topic` if it exists, from the cache or the cluster.
async fn lookup(streams: &KafkaStreams, topic: &str) -> Result<Option<u32>, StreamError> {
    if let Some(&n) = cached(streams).get(topic) {
        return Ok(Some(n));
    }
    let producer = streams.producer.clone();
    let timeout = streams.config.request_timeout;
    let name = topic.to_string();
    let metadata =
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(Some(&name), timeout))
            .await
            .map_err(|e| StreamError::Backend(format!("metadata lookup stopped: {e}")))?
            .map_err(|e| stream_error(&format!("reading the metadata of topic `{topic}`"), &e))?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match found.error() {
        None if !found.partitions().is_empty() => {
            let n = u32::try_from(found.partitions().len()).unwrap_or(u32::MAX);
            cached(streams).insert(topic.to_string(), n);
            Ok(Some(n))
        }
        None => Ok(None),
        Some(code) => match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => Ok(None),
            code => Err(stream_error(
                &format!("reading the metadata of topic `{topic}`"),
                &rdkafka::error::KafkaError::MetadataFetch(code),
            )),
        },
    }
}

fn cached(streams: &KafkaStreams) -> MutexGuard<'_, HashMap<String, u32>> {
    streams
        .topics
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}
