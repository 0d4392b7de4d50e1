//! Time-based retention: deletes the prefix of each partition appended longer than the
//! stream's retention ago.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::{codec, corrupt_key, entry_start, store_error, Inner, StreamState};
use crate::StreamError;

/// Records deleted per write batch (whole entries: a batch may go past it by one entry).
const CHUNK: u64 = 10_000;

/// Applies retention every `interval` until `stop` is dropped.
pub(crate) fn run(inner: &Inner, stop: &Receiver<()>, interval: Duration) {
    loop {
        match stop.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = enforce(inner) {
                    tracing::warn!("embedded log: retention failed: {e}");
                }
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Applies retention to every stream once; returns how many records were deleted.
pub(crate) fn enforce(inner: &Inner) -> Result<u64, StreamError> {
    let streams: Vec<Arc<StreamState>> = inner.catalog().values().cloned().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut deleted = 0;
    for stream in streams {
        let retention = stream.retention_ms.load(Ordering::Relaxed);
        let cutoff = now.saturating_sub(i64::try_from(retention).unwrap_or(i64::MAX));
        for p in 0..stream.partitions {
            deleted += enforce_partition(inner, &stream, p, cutoff)?;
        }
    }
    inner
        .stats
        .retention_deleted
        .fetch_add(deleted, Ordering::Relaxed);
    Ok(deleted)
}

/// Deletes the records of one partition appended before `cutoff_ms`, whole entries at a
/// time (the records of an entry were appended together).
fn enforce_partition(
    inner: &Inner,
    stream: &StreamState,
    partition: u32,
    cutoff_ms: i64,
) -> Result<u64, StreamError> {
    let Some(low_slot) = stream.lows.get(partition as usize) else {
        return Ok(0);
    };
    let log = stream.log(partition)?;
    let mut deleted = 0;
    loop {
        let low = low_slot.load(Ordering::Acquire);
        let end = stream.end(partition);
        if low >= end {
            return Ok(deleted);
        }
        // Append times grow with offsets, so the expired entries are a prefix.
        let mut new_low = low;
        let mut expired = Vec::new();
        let mut reached_young = false;
        let range = codec::offset_key(entry_start(log, low)?)..codec::offset_key(end);
        for kv in log.range(range) {
            let (k, v) = kv.into_inner().map_err(store_error)?;
            let first = codec::key_offset(&k).ok_or_else(corrupt_key)?;
            if codec::append_ms(&v)? >= cutoff_ms {
                reached_young = true;
                break;
            }
            new_low = new_low.max(first.saturating_add(codec::entry_records(&v)?).min(end));
            expired.push(k);
            if new_low - low >= CHUNK {
                break;
            }
        }
        if new_low > low {
            // Readers skip to the new first offset before the records disappear.
            low_slot.store(new_low, Ordering::Release);
            let mut batch = inner.db.batch();
            for key in expired {
                batch.remove(log, key);
            }
            batch.insert(
                &inner.meta,
                &codec::low_key(stream.id, partition)[..],
                &new_low.to_be_bytes()[..],
            );
            batch.commit().map_err(store_error)?;
            deleted += new_low - low;
        }
        if reached_young || new_low == low {
            return Ok(deleted);
        }
    }
}
