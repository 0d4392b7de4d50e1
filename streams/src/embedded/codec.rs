//! Keys and values as they are stored in the keyspaces of the log.
//!
//! Records: one keyspace per partition, named by [`partition_keyspace`], key = offset
//! (u64 BE), so a partition's records are one offset-ordered key range that only ever grows
//! at its end. Value:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version (1) |
//! | 1..9 | append time, ms since the Unix epoch (i64 BE), set by the writer; retention uses it |
//! | 9..17 | the record's `timestamp_ms` (i64 BE) |
//! | 17..21 | key length (u32 BE); `u32::MAX` means no key |
//! | 21.. | key bytes, then value bytes |
//!
//! `meta`: `s/<name>` → stream spec (JSON), `e/<id><partition>` → end offset (u64 BE),
//! `l/<id><partition>` → first kept offset (u64 BE), `g/<id><group>` → committed offsets of
//! a group (one u64 BE per partition).
//!
//! Logs written before the per-partition layout kept every record in one keyspace,
//! [`LEGACY_RECORDS`], keyed `stream id (u32 BE) ‖ partition (u32 BE) ‖ offset (u64 BE)`;
//! opening such a log moves its records into the per-partition keyspaces.

use serde::{Deserialize, Serialize};

use crate::{Record, StoredRecord, StreamError};

/// Version byte of the record encoding.
const RECORD_FORMAT: u8 = 1;
/// Bytes before the key.
const HEADER: usize = 21;
/// Key length meaning "no key".
const NO_KEY: u32 = u32::MAX;

/// Name of the keyspace holding one partition's records.
pub(crate) fn partition_keyspace(stream: u32, partition: u32) -> String {
    format!("records.{stream}.{partition}")
}

/// Key of the record at `offset` within its partition's keyspace.
pub(crate) fn offset_key(offset: u64) -> [u8; 8] {
    offset.to_be_bytes()
}

/// The offset a record key stands for.
pub(crate) fn key_offset(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Name of the single records keyspace of the earlier layout.
pub(crate) const LEGACY_RECORDS: &str = "records";

/// Stream id, partition and offset of a record key of the earlier layout.
pub(crate) fn legacy_key_parts(key: &[u8]) -> Option<(u32, u32, u64)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let (s, rest) = key.split_at(4);
    let (p, off) = rest.split_at(4);
    Some((
        u32::from_be_bytes(s.try_into().ok()?),
        u32::from_be_bytes(p.try_into().ok()?),
        u64::from_be_bytes(off.try_into().ok()?),
    ))
}

/// A record encoded for storage, with its append time still to be set by the writer.
pub(crate) fn encode_record(record: Record) -> Result<Vec<u8>, StreamError> {
    let key_len = match &record.key {
        None => NO_KEY,
        Some(k) => u32::try_from(k.len())
            .ok()
            .filter(|&l| l != NO_KEY)
            .ok_or_else(|| StreamError::Backend("record key longer than 4 GiB".into()))?,
    };
    let key = record.key.as_deref().unwrap_or_default();
    let mut v = Vec::with_capacity(HEADER + key.len() + record.value.len());
    v.push(RECORD_FORMAT);
    v.extend_from_slice(&0i64.to_be_bytes());
    v.extend_from_slice(&record.timestamp_ms.to_be_bytes());
    v.extend_from_slice(&key_len.to_be_bytes());
    v.extend_from_slice(key);
    v.extend_from_slice(&record.value);
    Ok(v)
}

/// Sets the append time of an encoded record.
pub(crate) fn set_append_ms(encoded: &mut [u8], append_ms: i64) {
    if let Some(slot) = encoded.get_mut(1..9) {
        slot.copy_from_slice(&append_ms.to_be_bytes());
    }
}

fn corrupt(what: &str) -> StreamError {
    StreamError::Backend(format!("corrupt record in the embedded log: {what}"))
}

fn i64_at(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// The append time of a stored record.
pub(crate) fn append_ms(encoded: &[u8]) -> Result<i64, StreamError> {
    if encoded.first() != Some(&RECORD_FORMAT) {
        return Err(corrupt("unknown format version"));
    }
    i64_at(encoded, 1).ok_or_else(|| corrupt("truncated header"))
}

/// Decodes a stored record.
pub(crate) fn decode_record(
    partition: u32,
    offset: u64,
    encoded: &[u8],
) -> Result<StoredRecord, StreamError> {
    if encoded.first() != Some(&RECORD_FORMAT) {
        return Err(corrupt("unknown format version"));
    }
    let timestamp_ms = i64_at(encoded, 9).ok_or_else(|| corrupt("truncated header"))?;
    let key_len = encoded
        .get(17..HEADER)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| corrupt("truncated header"))?;
    let (key, rest) = if key_len == NO_KEY {
        (None, encoded.get(HEADER..))
    } else {
        let end = usize::try_from(key_len)
            .ok()
            .and_then(|l| HEADER.checked_add(l))
            .ok_or_else(|| corrupt("key length"))?;
        (
            Some(
                encoded
                    .get(HEADER..end)
                    .ok_or_else(|| corrupt("truncated key"))?,
            ),
            encoded.get(end..),
        )
    };
    let value = rest.ok_or_else(|| corrupt("truncated value"))?;
    Ok(StoredRecord {
        partition,
        offset,
        key: key.map(<[u8]>::to_vec),
        value: value.to_vec(),
        timestamp_ms,
    })
}

/// Stored form of a stream's spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSpec {
    pub id: u32,
    pub partitions: u32,
    pub retention_ms: u64,
}

/// Meta key of a stream's spec.
pub(crate) fn spec_key(name: &str) -> Vec<u8> {
    [b"s/".as_slice(), name.as_bytes()].concat()
}

/// Prefix of all spec keys.
pub(crate) const SPEC_PREFIX: &[u8] = b"s/";

fn partition_meta_key(tag: u8, stream: u32, partition: u32) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = tag;
    k[1] = b'/';
    k[2..6].copy_from_slice(&stream.to_be_bytes());
    k[6..].copy_from_slice(&partition.to_be_bytes());
    k
}

/// Meta key of a partition's end offset.
pub(crate) fn end_key(stream: u32, partition: u32) -> [u8; 10] {
    partition_meta_key(b'e', stream, partition)
}

/// Meta key of a partition's first kept offset.
pub(crate) fn low_key(stream: u32, partition: u32) -> [u8; 10] {
    partition_meta_key(b'l', stream, partition)
}

/// Meta key of a group's committed offsets.
pub(crate) fn group_key(stream: u32, group: &str) -> Vec<u8> {
    [b"g/".as_slice(), &stream.to_be_bytes(), group.as_bytes()].concat()
}

/// A stored u64.
pub(crate) fn decode_u64(bytes: &[u8]) -> Result<u64, StreamError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StreamError::Backend("corrupt offset in the embedded log".into()))
}

/// Committed offsets of a group, one per partition.
pub(crate) fn encode_offsets(offsets: &[u64]) -> Vec<u8> {
    offsets.iter().flat_map(|o| o.to_be_bytes()).collect()
}

/// Decodes committed offsets; partitions missing from the stored value start at 0.
pub(crate) fn decode_offsets(bytes: &[u8], partitions: u32) -> Result<Vec<u64>, StreamError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(StreamError::Backend(
            "corrupt committed offsets in the embedded log".into(),
        ));
    }
    let mut offsets: Vec<u64> = bytes
        .chunks_exact(8)
        .map(decode_u64)
        .collect::<Result<_, _>>()?;
    offsets.resize(partitions as usize, 0);
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        for key in [None, Some(b"".to_vec()), Some(b"k1".to_vec())] {
            let r = Record {
                key: key.clone(),
                value: b"hello".to_vec(),
                timestamp_ms: -5,
            };
            let mut enc = encode_record(r).unwrap();
            set_append_ms(&mut enc, 42);
            assert_eq!(append_ms(&enc).unwrap(), 42);
            let d = decode_record(3, 9, &enc).unwrap();
            assert_eq!(d.key, key);
            assert_eq!(d.value, b"hello");
            assert_eq!(d.timestamp_ms, -5);
            assert_eq!((d.partition, d.offset), (3, 9));
        }
        assert!(decode_record(0, 0, &[1, 2, 3]).is_err());
        assert!(decode_record(0, 0, &[]).is_err());
    }

    #[test]
    fn keys_order_by_offset() {
        assert!(offset_key(255) < offset_key(256));
        assert_eq!(key_offset(&offset_key(7)), Some(7));
        assert_eq!(key_offset(b"short"), None);
        let mut legacy = [0u8; 16];
        legacy[3] = 1;
        legacy[7] = 2;
        legacy[15] = 7;
        assert_eq!(legacy_key_parts(&legacy), Some((1, 2, 7)));
        assert_eq!(legacy_key_parts(&offset_key(7)), None);
    }
}
