//! Appending records: every record is handed to the idempotent producer, then every
//! delivery report is awaited.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use super::{stream_error, LogContext};
use crate::{Record, StreamError};

/// How long to wait for room when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// Sends `records` to `topic` and returns once the cluster acknowledged all of them.
pub(super) async fn produce(
    producer: &FutureProducer<LogContext>,
    topic: &str,
    records: Vec<Record>,
) -> Result<(), StreamError> {
    let mut deliveries: Vec<DeliveryFuture> = Vec::with_capacity(records.len());
    for record in &records {
        let mut message = FutureRecord::to(topic)
            .payload(&record.value)
            .timestamp(record.timestamp_ms);
        if let Some(key) = &record.key {
            message = message.key(key);
        }
        loop {
            match producer.send_result(message) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The queue drains as the cluster acknowledges; wait for room.
                    message = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((e, _)) => {
                    // Already queued records still go out; wait for them so that none is
                    // written after this call returned.
                    let _ = await_all(deliveries, topic).await;
                    return Err(stream_error(&format!("producing to `{topic}`"), &e));
                }
            }
        }
    }
    await_all(deliveries, topic).await
}

/// Waits for every delivery; the first failure, if any, after all are settled.
async fn await_all(deliveries: Vec<DeliveryFuture>, topic: &str) -> Result<(), StreamError> {
    let mut failure = None;
    let mut failed = 0usize;
    let total = deliveries.len();
    for delivery in deliveries {
        let error = match delivery.await {
            Ok(Ok(_)) => continue,
            Ok(Err((e, _))) => stream_error(&format!("producing to `{topic}`"), &e),
            Err(_) => StreamError::Unavailable(format!(
                "producing to `{topic}`: the producer was closed before the delivery report"
            )),
        };
        failed += 1;
        failure.get_or_insert(error);
    }
    match failure {
        None => Ok(()),
        Some(StreamError::Unavailable(m)) => Err(StreamError::Unavailable(format!(
            "{failed} of {total} records not acknowledged; {m}"
        ))),
        Some(StreamError::Backend(m)) => Err(StreamError::Backend(format!(
            "{failed} of {total} records not acknowledged; {m}"
        ))),
        Some(e) => Err(e),
    }
}
