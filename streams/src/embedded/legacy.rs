//! Moves the records of a log written with the earlier layout (every partition in one
//! keyspace) into the per-partition keyspaces, once, when the log is opened.
//!
//! Records are copied in durable chunks under their own offsets, and the old keyspace is
//! deleted only after the last chunk is synced; a crash part-way copies the same records
//! again on the next open, which writes identical keys and values.

use std::collections::HashMap;

use super::{codec, store_error, StoredSpec};
use crate::StreamError;

/// Records copied per durable write batch.
const CHUNK: usize = 10_000;

/// Moves every record of the legacy keyspace, if there is one, into `streams`' partition
/// keyspaces. Records of streams or partitions no spec names are dropped with a warning.
pub(super) fn migrate(
    db: &fjall::Database,
    streams: &[(String, StoredSpec, Vec<fjall::Keyspace>)],
) -> Result<(), StreamError> {
    if !db.keyspace_exists(codec::LEGACY_RECORDS) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let legacy = db
        .keyspace(codec::LEGACY_RECORDS, fjall::KeyspaceCreateOptions::default)
        .map_err(store_error)?;
    let logs: HashMap<u32, &[fjall::Keyspace]> = streams
        .iter()
        .map(|(_, spec, logs)| (spec.id, logs.as_slice()))
        .collect();
    let (mut moved, mut orphans) = (0u64, 0u64);
    let mut batch = durable_batch(db);
    for kv in legacy.iter() {
        let (k, v) = kv.into_inner().map_err(store_error)?;
        let target = codec::legacy_key_parts(&k).and_then(|(stream, partition, offset)| {
            let log = logs.get(&stream)?.get(partition as usize)?;
            Some((log, offset))
        });
        let Some((log, offset)) = target else {
            orphans += 1;
            continue;
        };
        batch.insert(log, &codec::offset_key(offset)[..], v);
        moved += 1;
        if batch.len() == CHUNK {
            std::mem::replace(&mut batch, durable_batch(db))
                .commit()
                .map_err(store_error)?;
        }
    }
    if !batch.is_empty() {
        batch.commit().map_err(store_error)?;
    }
    db.delete_keyspace(legacy).map_err(store_error)?;
    if orphans > 0 {
        tracing::warn!("embedded log: dropped {orphans} records of streams it has no spec for");
    }
    tracing::info!(
        "embedded log: moved {moved} records to one keyspace per partition in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

fn durable_batch(db: &fjall::Database) -> fjall::OwnedWriteBatch {
    db.batch().durability(Some(fjall::PersistMode::SyncData))
}

#[cfg(test)]
mod tests {
    use super::super::{EmbeddedOptions, EmbeddedStreams};
    use super::*;
    use crate::Record;

    fn legacy_key(stream: u32, partition: u32, offset: u64) -> Vec<u8> {
        [
            &stream.to_be_bytes()[..],
            &partition.to_be_bytes(),
            &offset.to_be_bytes(),
        ]
        .concat()
    }

    /// Writes a log the way the single-keyspace layout did: stream `orders` (id 0, two
    /// partitions, three records in partition 1) and records of a stream with no spec.
    fn write_legacy_log(dir: &std::path::Path) {
        let db = fjall::Database::builder(dir.join("log")).open().unwrap();
        let records = db
            .keyspace(codec::LEGACY_RECORDS, fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let meta = db
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let spec = StoredSpec {
            id: 0,
            partitions: 2,
            retention_ms: 3_600_000,
        };
        meta.insert(
            codec::spec_key("orders"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        meta.insert(codec::end_key(0, 1), 3u64.to_be_bytes())
            .unwrap();
        for offset in 0..3u64 {
            let value = codec::encode_record(
                Record {
                    key: None,
                    value: format!("order {offset}").into_bytes(),
                    timestamp_ms: 7,
                },
                i64::MAX,
            );
            records.insert(legacy_key(0, 1, offset), &value).unwrap();
            records.insert(legacy_key(9, 0, offset), value).unwrap();
        }
        db.persist(fjall::PersistMode::SyncAll).unwrap();
    }

    #[test]
    fn a_legacy_log_is_moved_to_one_keyspace_per_partition() {
        let dir = tempfile::tempdir().unwrap();
        write_legacy_log(dir.path());
        let options = EmbeddedOptions {
            retention_interval: None,
            ..EmbeddedOptions::default()
        };
        for _ in 0..2 {
            let log = EmbeddedStreams::open(dir.path(), options.clone()).unwrap();
            let inner = &log.inner;
            assert!(!inner.db.keyspace_exists(codec::LEGACY_RECORDS));
            let orders = inner.stream("orders").unwrap();
            assert_eq!((orders.end(0), orders.end(1)), (0, 3));
            let read = inner
                .read_range(&orders, 1, (0, 3), &mut crate::PollBudget::unlimited())
                .unwrap();
            let values: Vec<String> = read
                .iter()
                .map(|r| String::from_utf8(r.value.clone()).unwrap())
                .collect();
            assert_eq!(values, ["order 0", "order 1", "order 2"]);
            assert_eq!(read[2].offset, 2);
            assert_eq!(read[2].timestamp_ms, 7);
        }
    }
}
