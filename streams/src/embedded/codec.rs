//! Keys and values as they are stored in the keyspaces of the log.
//!
//! Records: one keyspace per partition, named by [`partition_keyspace`]. Each entry holds
//! the records one `produce` request appended to the partition (a run), keyed by the
//! offset of its first record (u64 BE), so a partition's entries are one offset-ordered
//! key range that only ever grows at its end, and the record at offset `o` lies in the
//! entry with the largest key not above `o`. Value of a run:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version (2) |
//! | 1..9 | append time, ms since the Unix epoch (i64 BE), set by the writer; retention uses it |
//! | 9..13 | number of records (u32 BE) |
//! | 13.. | the records, each: `timestamp_ms` (i64 BE), key length (u32 BE; `u32::MAX` means no key), value length (u32 BE), key bytes, value bytes |
//!
//! Logs written before runs hold one record per entry (format version 1): the append
//! time as above, then the record's `timestamp_ms` (i64 BE), key length (u32 BE), key
//! bytes and value bytes. Both are read; only runs are written.
//!
//! `meta`: `s/<name>` → stream spec (JSON), `e/<id><partition>` → end offset (u64 BE),
//! `l/<id><partition>` → first kept offset (u64 BE), `g/<id><group>` → committed offsets of
//! a group (one u64 BE per partition).
//!
//! Logs written before the per-partition layout kept every record in one keyspace,
//! [`LEGACY_RECORDS`], keyed `stream id (u32 BE) ‖ partition (u32 BE) ‖ offset (u64 BE)`;
//! opening such a log moves its records into the per-partition keyspaces.

use serde::{Deserialize, Serialize};

use crate::{PollBudget, Record, StoredRecord, StreamError};

/// Version byte of an entry holding one record (written by earlier versions).
const RECORD_FORMAT: u8 = 1;
/// Version byte of an entry holding a run of records.
const RUN_FORMAT: u8 = 2;
/// Bytes of a one-record entry before its key.
const RECORD_HEADER: usize = 21;
/// Bytes of a run before its first record.
const RUN_HEADER: usize = 13;
/// Bytes of a record within a run before its key.
const FRAME_HEADER: usize = 16;
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

/// Records bound for one partition, encoded as one entry; the writer gives it its append
/// time when it stores it.
pub(crate) struct Run {
    bytes: Vec<u8>,
    records: u32,
}

impl Run {
    pub(crate) fn new() -> Self {
        let mut bytes = Vec::with_capacity(4096);
        bytes.push(RUN_FORMAT);
        bytes.extend_from_slice(&[0; RUN_HEADER - 1]);
        Self { bytes, records: 0 }
    }

    /// Appends `record`.
    pub(crate) fn push(&mut self, record: Record) -> Result<(), StreamError> {
        let key_len = match &record.key {
            None => NO_KEY,
            Some(k) => u32::try_from(k.len())
                .ok()
                .filter(|&l| l != NO_KEY)
                .ok_or_else(|| StreamError::Backend("record key longer than 4 GiB".into()))?,
        };
        let value_len = u32::try_from(record.value.len())
            .map_err(|_| StreamError::Backend("record value longer than 4 GiB".into()))?;
        self.records = self
            .records
            .checked_add(1)
            .ok_or_else(|| StreamError::Backend("more than 4 G records in one request".into()))?;
        let key = record.key.as_deref().unwrap_or_default();
        self.bytes
            .reserve(FRAME_HEADER + key.len() + record.value.len());
        self.bytes
            .extend_from_slice(&record.timestamp_ms.to_be_bytes());
        self.bytes.extend_from_slice(&key_len.to_be_bytes());
        self.bytes.extend_from_slice(&value_len.to_be_bytes());
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(&record.value);
        Ok(())
    }

    /// Records in the run.
    pub(crate) fn len(&self) -> u64 {
        u64::from(self.records)
    }

    /// Encoded bytes.
    pub(crate) fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The entry to store, appended at `append_ms`.
    pub(crate) fn into_entry(mut self, append_ms: i64) -> Vec<u8> {
        self.bytes[1..9].copy_from_slice(&append_ms.to_be_bytes());
        self.bytes[9..RUN_HEADER].copy_from_slice(&self.records.to_be_bytes());
        self.bytes
    }
}

fn corrupt(what: &str) -> StreamError {
    StreamError::Backend(format!("corrupt record in the embedded log: {what}"))
}

fn i64_at(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The append time of a stored entry.
pub(crate) fn append_ms(encoded: &[u8]) -> Result<i64, StreamError> {
    match encoded.first() {
        Some(&(RECORD_FORMAT | RUN_FORMAT)) => {
            i64_at(encoded, 1).ok_or_else(|| corrupt("truncated header"))
        }
        _ => Err(corrupt("unknown format version")),
    }
}

/// How many records a stored entry holds.
pub(crate) fn entry_records(encoded: &[u8]) -> Result<u64, StreamError> {
    match encoded.first() {
        Some(&RECORD_FORMAT) => Ok(1),
        Some(&RUN_FORMAT) => u32_at(encoded, 9)
            .map(u64::from)
            .ok_or_else(|| corrupt("truncated header")),
        _ => Err(corrupt("unknown format version")),
    }
}

/// Appends to `out` the records of the entry stored at offset `first` whose offsets lie in
/// `from..to`, as many as `budget` admits.
pub(crate) fn decode_entry(
    partition: u32,
    first: u64,
    encoded: &[u8],
    (from, to): (u64, u64),
    budget: &mut PollBudget,
    out: &mut Vec<StoredRecord>,
) -> Result<(), StreamError> {
    if encoded.first() == Some(&RECORD_FORMAT) {
        if (from..to).contains(&first) && !budget.spent() {
            let record = decode_record(partition, first, encoded)?;
            budget.take(&record);
            out.push(record);
        }
        return Ok(());
    }
    let mut at = RUN_HEADER;
    for offset in (first..).take(usize::try_from(entry_records(encoded)?).unwrap_or(usize::MAX)) {
        if offset >= to || budget.spent() {
            break;
        }
        let timestamp_ms = i64_at(encoded, at).ok_or_else(|| corrupt("truncated record header"))?;
        let key_len = u32_at(encoded, at + 8).ok_or_else(|| corrupt("truncated record header"))?;
        let value_len =
            u32_at(encoded, at + 12).ok_or_else(|| corrupt("truncated record header"))?;
        let key_start = at + FRAME_HEADER;
        let value_start = if key_len == NO_KEY {
            key_start
        } else {
            key_start
                .checked_add(key_len as usize)
                .ok_or_else(|| corrupt("key length"))?
        };
        let value_end = value_start
            .checked_add(value_len as usize)
            .ok_or_else(|| corrupt("value length"))?;
        if offset >= from {
            let key = if key_len == NO_KEY {
                None
            } else {
                let key = encoded
                    .get(key_start..value_start)
                    .ok_or_else(|| corrupt("truncated key"))?;
                Some(key.to_vec())
            };
            let value = encoded
                .get(value_start..value_end)
                .ok_or_else(|| corrupt("truncated value"))?;
            let record = StoredRecord {
                partition,
                offset,
                key,
                value: value.to_vec(),
                timestamp_ms,
            };
            budget.take(&record);
            out.push(record);
        }
        at = value_end;
    }
    Ok(())
}

/// Decodes a one-record entry.
fn decode_record(partition: u32, offset: u64, encoded: &[u8]) -> Result<StoredRecord, StreamError> {
    let timestamp_ms = i64_at(encoded, 9).ok_or_else(|| corrupt("truncated header"))?;
    let key_len = u32_at(encoded, 17).ok_or_else(|| corrupt("truncated header"))?;
    let (key, rest) = if key_len == NO_KEY {
        (None, encoded.get(RECORD_HEADER..))
    } else {
        let end = usize::try_from(key_len)
            .ok()
            .and_then(|l| RECORD_HEADER.checked_add(l))
            .ok_or_else(|| corrupt("key length"))?;
        (
            Some(
                encoded
                    .get(RECORD_HEADER..end)
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

/// A one-record entry as earlier versions wrote it, for tests of reading old logs.
#[cfg(test)]
pub(crate) fn encode_record(record: Record, append_ms: i64) -> Vec<u8> {
    let key_len = record
        .key
        .as_ref()
        .map_or(NO_KEY, |k| u32::try_from(k.len()).unwrap());
    let key = record.key.as_deref().unwrap_or_default();
    [
        &[RECORD_FORMAT][..],
        &append_ms.to_be_bytes(),
        &record.timestamp_ms.to_be_bytes(),
        &key_len.to_be_bytes(),
        key,
        &record.value,
    ]
    .concat()
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

    fn record(key: Option<&[u8]>, value: &str, timestamp_ms: i64) -> Record {
        Record {
            key: key.map(<[u8]>::to_vec),
            value: value.as_bytes().to_vec(),
            timestamp_ms,
        }
    }

    fn decode(first: u64, entry: &[u8], from: u64, to: u64) -> Vec<StoredRecord> {
        let mut out = Vec::new();
        decode_entry(
            3,
            first,
            entry,
            (from, to),
            &mut PollBudget::unlimited(),
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_run_reads_back_whole_or_in_part() {
        let mut run = Run::new();
        run.push(record(None, "a", -5)).unwrap();
        run.push(record(Some(b""), "", 6)).unwrap();
        run.push(record(Some(b"k1"), "ccc", 7)).unwrap();
        assert_eq!(run.len(), 3);
        let entry = run.into_entry(42);
        assert_eq!(append_ms(&entry).unwrap(), 42);
        assert_eq!(entry_records(&entry).unwrap(), 3);

        let all = decode(10, &entry, 0, 100);
        let got: Vec<_> = all
            .iter()
            .map(|r| {
                (
                    r.partition,
                    r.offset,
                    r.key.as_deref(),
                    r.value.as_slice(),
                    r.timestamp_ms,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (3, 10, None, &b"a"[..], -5),
                (3, 11, Some(&b""[..]), &b""[..], 6),
                (3, 12, Some(&b"k1"[..]), &b"ccc"[..], 7),
            ]
        );
        let offsets =
            |records: Vec<StoredRecord>| records.iter().map(|r| r.offset).collect::<Vec<_>>();
        assert_eq!(offsets(decode(10, &entry, 11, 12)), [11]);
        assert_eq!(offsets(decode(10, &entry, 12, 100)), [12]);
        assert!(decode(10, &entry, 13, 100).is_empty());
        assert!(decode(10, &entry, 0, 10).is_empty());

        let mut out = Vec::new();
        let truncated = &entry[..entry.len() - 1];
        assert!(decode_entry(
            0,
            0,
            truncated,
            (0, 100),
            &mut PollBudget::unlimited(),
            &mut out
        )
        .is_err());
        assert!(decode_entry(
            0,
            0,
            &[2, 0, 0],
            (0, 100),
            &mut PollBudget::unlimited(),
            &mut out
        )
        .is_err());
        assert!(decode_entry(0, 0, &[], (0, 100), &mut PollBudget::unlimited(), &mut out).is_err());
        assert!(append_ms(&[9; 20]).is_err());
    }

    #[test]
    fn a_budget_stops_a_run_after_the_record_that_reaches_it() {
        let mut run = Run::new();
        for value in ["aaaa", "bbbb", "cccc", "dddd"] {
            run.push(record(Some(b"k"), value, 1)).unwrap();
        }
        let entry = run.into_entry(0);
        let read = |bytes: usize| {
            let mut budget = PollBudget::new(bytes);
            let mut out = Vec::new();
            decode_entry(0, 0, &entry, (0, 100), &mut budget, &mut out).unwrap();
            (out.len(), budget.spent())
        };
        // Five bytes a record (key and value): 10 takes two and is spent; 11 takes a third.
        assert_eq!(read(10), (2, true));
        assert_eq!(read(11), (3, true));
        assert_eq!(read(1), (1, true));
        assert_eq!(read(100), (4, false));
        let one = encode_record(record(None, "hello", 1), 0);
        let mut spent = PollBudget::new(1);
        spent.take(&decode(0, &one, 0, 1)[0]);
        let mut out = Vec::new();
        decode_entry(0, 0, &one, (0, 1), &mut spent, &mut out).unwrap();
        assert!(out.is_empty(), "a spent budget takes no record");
    }

    #[test]
    fn a_one_record_entry_of_an_earlier_log_reads_back() {
        for key in [None, Some(&b""[..]), Some(&b"k1"[..])] {
            let entry = encode_record(record(key, "hello", -5), 42);
            assert_eq!(append_ms(&entry).unwrap(), 42);
            assert_eq!(entry_records(&entry).unwrap(), 1);
            let d = decode(9, &entry, 0, 10);
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].key.as_deref(), key);
            assert_eq!(d[0].value, b"hello");
            assert_eq!(d[0].timestamp_ms, -5);
            assert_eq!((d[0].partition, d[0].offset), (3, 9));
            assert!(decode(9, &entry, 10, 20).is_empty());
        }
        let mut out = Vec::new();
        assert!(decode_entry(
            0,
            0,
            &[1, 2, 3],
            (0, 1),
            &mut PollBudget::unlimited(),
            &mut out
        )
        .is_err());
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
