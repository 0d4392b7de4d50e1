//! Durable state of windowed aggregations: per (aggregation, window, source partition)
//! the guest's state bytes, per aggregation its progress (watermark, latest event time,
//! next source offset of every partition) and the rows of closed windows not yet known to
//! be in the target table.
//!
//! [`StateStore::commit`] writes one batch's changes (states, closed windows, rows to
//! emit, progress) as one atomic, synced write, so a restart finds either all of a batch's
//! effects or none of them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the window state store is in use by another process")]
    Locked,
    #[error("window state store: {0}")]
    Store(String),
    #[error("corrupt window state of aggregation `{aggregation}`: {message}")]
    Corrupt {
        aggregation: String,
        message: String,
    },
}

impl From<fjall::Error> for StateError {
    fn from(e: fjall::Error) -> Self {
        match e {
            fjall::Error::Locked => StateError::Locked,
            e => StateError::Store(e.to_string()),
        }
    }
}

/// One window of event time, `[start_ms, end_ms)`, ordered by start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowKey {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// How far an aggregation got.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Latest event time accumulated; `None` before the first record.
    pub max_event_ms: Option<i64>,
    /// Windows ending at or before it are closed; `None` before the first record.
    pub watermark: Option<i64>,
    /// Next source offset to aggregate, per partition.
    pub offsets: BTreeMap<u32, u64>,
    /// Latest event time accumulated, per partition: the watermark follows the least of
    /// them (see [`super::assign::watermark_event_time`]).
    #[serde(default)]
    pub partition_event_ms: BTreeMap<u32, i64>,
}

/// Rows of a closed window (NDJSON, `count` lines) to write to the target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    pub rows: Vec<u8>,
    pub count: u32,
}

/// Everything stored for one aggregation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// What the state was built under (definition and state version); `None` when nothing
    /// is stored.
    pub fingerprint: Option<String>,
    pub progress: Progress,
    /// Open windows: state bytes per source partition.
    pub windows: BTreeMap<WindowKey, BTreeMap<u32, Vec<u8>>>,
    /// Closed windows whose rows may not be in the target table yet.
    pub pending: BTreeMap<WindowKey, Emission>,
}

impl Snapshot {
    /// Applies `update` recorded under `fingerprint`, as [`StateStore::commit`] does.
    pub fn apply(&mut self, fingerprint: &str, update: &Update) {
        for (window, partition, state) in &update.states {
            self.windows
                .entry(*window)
                .or_default()
                .insert(*partition, state.clone());
        }
        for (window, partitions) in &update.closed {
            if let Some(states) = self.windows.get_mut(window) {
                for partition in partitions {
                    states.remove(partition);
                }
                if states.is_empty() {
                    self.windows.remove(window);
                }
            }
        }
        for (window, emission) in &update.emissions {
            self.pending.insert(*window, emission.clone());
        }
        self.fingerprint = Some(fingerprint.to_string());
        self.progress = update.progress.clone();
    }

    /// Forgets the pending rows of `windows`, as [`StateStore::emitted`] does.
    pub fn emitted(&mut self, windows: &[WindowKey]) {
        for window in windows {
            self.pending.remove(window);
        }
    }

    /// Drops the open windows' state under `fingerprint`, as [`StateStore::reset`] does.
    pub fn reset(&mut self, fingerprint: &str) {
        self.windows.clear();
        self.fingerprint = Some(fingerprint.to_string());
    }
}

/// The changes of one batch.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub progress: Progress,
    /// New state bytes of (window, partition).
    pub states: Vec<(WindowKey, u32, Vec<u8>)>,
    /// Windows closed by this batch, with the partitions that held state for them.
    pub closed: Vec<(WindowKey, Vec<u32>)>,
    /// Rows of the closed windows, to write to the target table.
    pub emissions: Vec<(WindowKey, Emission)>,
}

/// Where windowed aggregations keep their state.
pub trait StateStore: Send + Sync {
    /// Everything stored for `aggregation`.
    fn load(&self, aggregation: &str) -> Result<Snapshot, StateError>;

    /// Applies `update` and records `fingerprint`, atomically and durably.
    fn commit(
        &self,
        aggregation: &str,
        fingerprint: &str,
        update: &Update,
    ) -> Result<(), StateError>;

    /// Forgets the pending rows of `windows` once they are in the target table.
    fn emitted(&self, aggregation: &str, windows: &[WindowKey]) -> Result<(), StateError>;

    /// Drops the open windows' state and records `fingerprint`; the progress and pending
    /// rows stay.
    fn reset(&self, aggregation: &str, fingerprint: &str) -> Result<(), StateError>;
}

/// The embedded state store: a fjall database of its own (keyspace `windows`).
pub struct FjallStateStore {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
}

/// A stored key's suffix and its value.
type Entry = (Vec<u8>, Vec<u8>);

const META: u8 = b'm';
const STATE: u8 = b's';
const PENDING: u8 = b'p';

/// What the meta key holds.
#[derive(Serialize, Deserialize)]
struct Meta {
    fingerprint: String,
    progress: Progress,
}

fn prefix(aggregation: &str, tag: u8) -> Vec<u8> {
    let mut key = Vec::with_capacity(aggregation.len() + 2 + 20);
    key.extend_from_slice(aggregation.as_bytes());
    key.push(0);
    key.push(tag);
    key
}

/// A signed time as big-endian bytes that sort like the numbers.
fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from(bytes: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = bytes.try_into().ok()?;
    Some((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

fn window_key(aggregation: &str, tag: u8, window: &WindowKey) -> Vec<u8> {
    let mut key = prefix(aggregation, tag);
    key.extend_from_slice(&time_bytes(window.start_ms));
    key.extend_from_slice(&time_bytes(window.end_ms));
    key
}

fn state_key(aggregation: &str, window: &WindowKey, partition: u32) -> Vec<u8> {
    let mut key = window_key(aggregation, STATE, window);
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

/// The window (and partition, for state keys) after a key's prefix.
fn parse_suffix(suffix: &[u8]) -> Option<(WindowKey, Option<u32>)> {
    let window = WindowKey {
        start_ms: time_from(suffix.get(0..8)?)?,
        end_ms: time_from(suffix.get(8..16)?)?,
    };
    let partition = match suffix.get(16..) {
        Some([]) | None => None,
        Some(rest) => Some(u32::from_be_bytes(rest.try_into().ok()?)),
    };
    Some((window, partition))
}

fn encode_emission(emission: &Emission) -> Vec<u8> {
    let mut value = Vec::with_capacity(4 + emission.rows.len());
    value.extend_from_slice(&emission.count.to_be_bytes());
    value.extend_from_slice(&emission.rows);
    value
}

fn decode_emission(value: &[u8]) -> Option<Emission> {
    let count = u32::from_be_bytes(value.get(0..4)?.try_into().ok()?);
    Some(Emission {
        rows: value.get(4..)?.to_vec(),
        count,
    })
}

impl FjallStateStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::Store(format!("cannot create {}: {e}", dir.display())))?;
        let db = fjall::Database::builder(dir).open()?;
        let keyspace = db.keyspace("windows", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self { db, keyspace })
    }

    /// The entries under `aggregation`'s `tag`: key suffix after the prefix, value.
    fn scan(&self, aggregation: &str, tag: u8) -> Result<Vec<Entry>, StateError> {
        let prefix = prefix(aggregation, tag);
        let mut entries = Vec::new();
        for kv in self.keyspace.prefix(&prefix) {
            let (k, v) = kv.into_inner()?;
            entries.push((k[prefix.len()..].to_vec(), v.to_vec()));
        }
        Ok(entries)
    }

    fn synced_batch(&self) -> fjall::OwnedWriteBatch {
        self.db
            .batch()
            .durability(Some(fjall::PersistMode::SyncData))
    }

    fn meta_value(fingerprint: &str, progress: &Progress) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(&Meta {
            fingerprint: fingerprint.to_string(),
            progress: progress.clone(),
        })
        .map_err(|e| StateError::Store(e.to_string()))
    }
}

impl StateStore for FjallStateStore {
    fn load(&self, aggregation: &str) -> Result<Snapshot, StateError> {
        let corrupt = |message: &str| StateError::Corrupt {
            aggregation: aggregation.to_string(),
            message: message.to_string(),
        };
        let mut snapshot = Snapshot::default();
        if let Some(meta) = self.keyspace.get(prefix(aggregation, META))? {
            let meta: Meta = serde_json::from_slice(&meta).map_err(|e| corrupt(&e.to_string()))?;
            snapshot.fingerprint = Some(meta.fingerprint);
            snapshot.progress = meta.progress;
        }
        for (suffix, value) in self.scan(aggregation, STATE)? {
            let Some((window, Some(partition))) = parse_suffix(&suffix) else {
                return Err(corrupt("a state key is malformed"));
            };
            snapshot
                .windows
                .entry(window)
                .or_default()
                .insert(partition, value);
        }
        for (suffix, value) in self.scan(aggregation, PENDING)? {
            let (Some((window, None)), Some(emission)) =
                (parse_suffix(&suffix), decode_emission(&value))
            else {
                return Err(corrupt("a pending emission is malformed"));
            };
            snapshot.pending.insert(window, emission);
        }
        Ok(snapshot)
    }

    fn commit(
        &self,
        aggregation: &str,
        fingerprint: &str,
        update: &Update,
    ) -> Result<(), StateError> {
        let mut batch = self.synced_batch();
        for (window, partition, state) in &update.states {
            batch.insert(
                &self.keyspace,
                state_key(aggregation, window, *partition),
                state.clone(),
            );
        }
        for (window, partitions) in &update.closed {
            for partition in partitions {
                batch.remove(&self.keyspace, state_key(aggregation, window, *partition));
            }
        }
        for (window, emission) in &update.emissions {
            batch.insert(
                &self.keyspace,
                window_key(aggregation, PENDING, window),
                encode_emission(emission),
            );
        }
        batch.insert(
            &self.keyspace,
            prefix(aggregation, META),
            Self::meta_value(fingerprint, &update.progress)?,
        );
        Ok(batch.commit()?)
    }

    fn emitted(&self, aggregation: &str, windows: &[WindowKey]) -> Result<(), StateError> {
        // Not synced: after a crash the rows are written again, and the insert is
        // deduplicated (see the module docs of `windows`).
        let mut batch = self.db.batch();
        for window in windows {
            batch.remove(&self.keyspace, window_key(aggregation, PENDING, window));
        }
        Ok(batch.commit()?)
    }

    fn reset(&self, aggregation: &str, fingerprint: &str) -> Result<(), StateError> {
        let progress = self.load(aggregation)?.progress;
        let mut batch = self.synced_batch();
        let prefix_len = prefix(aggregation, STATE).len();
        for (suffix, _) in self.scan(aggregation, STATE)? {
            let mut key = prefix(aggregation, STATE);
            key.truncate(prefix_len);
            key.extend_from_slice(&suffix);
            batch.remove(&self.keyspace, key);
        }
        batch.insert(
            &self.keyspace,
            prefix(aggregation, META),
            Self::meta_value(fingerprint, &progress)?,
        );
        Ok(batch.commit()?)
    }
}

/// Checks the contract every [`StateStore`] backend keeps, panicking on a violation:
/// commits of one aggregation do not touch another's, a store opened again over the same
/// data (`open` is called twice; the first store is dropped before) sees every commit,
/// closed windows' rows stay pending until `emitted`, and `reset` drops windows but keeps
/// offsets. For the backends' tests.
#[doc(hidden)]
pub fn check_store_contract<S: StateStore>(open: impl Fn() -> S) {
    let window = |start: i64| WindowKey {
        start_ms: start,
        end_ms: start + 60_000,
    };
    let progress = |watermark: i64, offsets: &[(u32, u64)]| Progress {
        max_event_ms: Some(watermark),
        watermark: Some(watermark),
        offsets: offsets.iter().copied().collect(),
        partition_event_ms: offsets.iter().map(|(p, _)| (*p, watermark)).collect(),
    };
    let emission = Emission {
        rows: b"{\"n\":2}".to_vec(),
        count: 1,
    };
    let store = open();
    assert_eq!(store.load("agg").expect("load"), Snapshot::default());
    let first = Update {
        progress: progress(0, &[(0, 5), (1, 7)]),
        states: vec![
            (window(-60_000), 0, b"a".to_vec()),
            (window(-60_000), 1, vec![0xff, 0, 0x80]),
            (window(0), 1, b"c".to_vec()),
        ],
        ..Update::default()
    };
    store.commit("agg", "v1", &first).expect("commit");
    store
        .commit("other", "v1", &Update::default())
        .expect("commit");
    let second = Update {
        progress: progress(60_000, &[(0, 9), (1, 7)]),
        states: vec![(window(0), 0, b"d".to_vec())],
        closed: vec![(window(-60_000), vec![0, 1])],
        emissions: vec![(window(-60_000), emission.clone())],
    };
    store.commit("agg", "v1", &second).expect("commit");
    drop(store);

    let store = open();
    let snapshot = store.load("agg").expect("load");
    assert_eq!(snapshot.fingerprint.as_deref(), Some("v1"));
    assert_eq!(snapshot.progress, progress(60_000, &[(0, 9), (1, 7)]));
    assert_eq!(
        snapshot.windows,
        BTreeMap::from([(
            window(0),
            BTreeMap::from([(0, b"d".to_vec()), (1, b"c".to_vec())])
        )])
    );
    assert_eq!(snapshot.pending[&window(-60_000)], emission);

    store.emitted("agg", &[window(-60_000)]).expect("emitted");
    store.reset("agg", "v2").expect("reset");
    let snapshot = store.load("agg").expect("load");
    assert_eq!(snapshot.fingerprint.as_deref(), Some("v2"));
    assert!(snapshot.windows.is_empty() && snapshot.pending.is_empty());
    assert_eq!(snapshot.progress.offsets[&0], 9);
    assert_eq!(
        store.load("other").expect("load").fingerprint.as_deref(),
        Some("v1")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_the_times_they_hold() {
        let times = [i64::MIN, -60_000, -1, 0, 1, 60_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(time_bytes(pair[0]) < time_bytes(pair[1]));
            assert_eq!(time_from(&time_bytes(pair[0])), Some(pair[0]));
        }
    }

    #[test]
    fn the_embedded_store_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        check_store_contract(|| FjallStateStore::open(dir.path()).unwrap());
    }
}
