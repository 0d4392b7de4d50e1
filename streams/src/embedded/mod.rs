//! The embedded streaming backend: a durable, partitioned, offset-addressed log on local
//! disk, the default of `moose dev`.
//!
//! # Store: fjall
//!
//! The log is kept in one [fjall](https://docs.rs/fjall) 3 database (an LSM tree with a
//! write-ahead journal). fjall 3.1 and redb 4.6 (a copy-on-write B-tree) were measured on
//! this workload before choosing, with a scratch program on the 2-core VM the project
//! builds on (ext4 on a virtual disk): one thread appending records (12-byte key, 250-byte
//! constant value) in batches, each batch committed durably (fjall: write batch with
//! `PersistMode::SyncData`, i.e. `fdatasync` of the journal; redb: write transaction with
//! `Durability::Immediate`), then a sequential read of everything and a delete of the
//! oldest half (retention). A file appended to with `fdatasync` per batch ran alongside as
//! the floor. Records/s written, lowest and highest of three runs (fsync latency on this
//! disk varies by more than 10× from run to run):
//!
//! | batch | file + fdatasync | fjall | redb |
//! |---|---|---|---|
//! | 1 | 284 – 5,413 | 1,218 – 9,078 | 654 – 5,655 |
//! | 100 | 46,128 – 522,411 | 55,282 – 378,860 | 26,681 – 194,254 |
//! | 1,000 | 320,548 – 2,601,615 | 245,835 – 787,565 | 216,464 – 503,883 |
//! | 10,000 | 1,370,458 – 4,663,468 | 585,149 – 858,893 | 415,638 – 626,568 |
//!
//! In every run fjall wrote faster than redb at every batch size, by 1.1× to 3.8×.
//! Sequential reads: fjall 2.2 – 4.8 M records/s, redb 5.7 – 8.6 M records/s. Deleting
//! 150,000 records: fjall (one tombstone each) 115 – 138 ms, redb (`retain_in` on the key
//! range) 32 – 34 ms. Re-opening after a SIGKILL with 400,000 records (100 MB) written, one
//! run: fjall 483 ms (journal replay), redb 5 ms.
//!
//! fjall is chosen because it is faster where this backend is on the critical path: the
//! HTTP ingest acknowledges only after `produce`, so durable appends bound ingest
//! throughput. A fjall commit is one sequential append to a preallocated journal file (no
//! file-size change for `fdatasync` to write out), where redb writes the changed B-tree
//! pages and allocator state on every commit. redb reads and deletes ranges faster, but
//! both read far faster than the WebAssembly functions consume, and retention runs in the
//! background. fjall's journal replay on restart is acceptable for a development server.
//!
//! # On-disk layout
//!
//! `<dir>/log/` is the fjall database (its own lock file keeps a second process out),
//! encoded as described in the `codec` module: one keyspace per partition holding its
//! records, and `meta` (stream specs, per-partition end and first-kept offsets,
//! consumer-group offsets). A partition's entry holds the records one `produce` request
//! appended to it (a run, keyed by its first offset, big-endian), so the store pays its
//! per-entry costs (memtable insert, index, range step) once per request and partition
//! rather than once per record; a read from an offset inside a run decodes the run from
//! its start and skips the records before it. A run is at most one request's records,
//! which ingest and the function output limits bound.
//!
//! A keyspace per partition is what makes the LSM tree cheap for an append-only log: each
//! memtable flush writes a table whose keys all lie past the previous table's, so
//! compaction moves tables down without rewriting them. With all partitions in one
//! keyspace, every flush overlapped every earlier one and compaction rewrote each record
//! again and again. Measured with a scratch program on the 2-core VM: 8 producers append
//! 3 M records (250 bytes, batches of 1,000) to a stream of 4 partitions while one consumer
//! copies it to a second stream and another reads that one, all committing as they go.
//! One keyspace for all: 14.8 µs of process CPU per record, drained at 136 k records/s;
//! a keyspace per partition: 7.3 µs, 170 k records/s (16 partitions: 15.4 → 6.6 µs,
//! 128 k → 194 k records/s). Filters are off for record keyspaces: they are read by range only.
//!
//! # Durability
//!
//! All writes of records and group offsets go through one writer thread doing group
//! commit: it takes every pending `produce` and `commit` request (up to
//! [`EmbeddedOptions::max_commit_bytes`]), assigns offsets, writes them and the new
//! partition ends as one atomic fjall write batch, `fdatasync`s the journal once and then
//! answers all of them. A `produce` therefore returns only when its records survive a
//! process crash and an OS crash, and concurrent producers share fsyncs (`cargo run
//! --release -p moose-bench --bin stream_log`, 200-byte records, same VM: 64 producers
//! sending one record each get ~170,000 records/s at ~32 records per fsync, 24× a file
//! `fdatasync`ed per batch; 64 producers sending 100 each ~1.76 M records/s). Records become
//! visible to readers only after that sync, so a consumer never sees a record that a crash
//! could take back. Offsets per partition start at 0 and are dense.
//!
//! Records with a key go to partition `xxh3_64(key) % partitions` (xxh3 with seed 0:
//! stable across runs and machines); records without a key go round-robin, one record at a
//! time.
//!
//! # Retention
//!
//! Every record carries its append time (the writer's clock, never going backwards), and
//! retention works on it rather than on the producer's `timestamp_ms`, so replayed old
//! events are not deleted on arrival. A background thread (every
//! [`EmbeddedOptions::retention_interval`]) or [`EmbeddedStreams::enforce_retention`]
//! deletes, per partition, the prefix of records appended longer than the stream's
//! retention ago: the partition's first kept offset moves forward first, then the records
//! get tombstones that fjall's compaction removes from disk later. Retention deletes are not
//! fsynced on their own; after a crash they may be redone. A partition emptied by retention
//! keeps its end offset.
//!
//! # Consumers
//!
//! A consumer starts at its group's committed offsets (0 for a new group), or at the
//! partition's first kept offset when retention has deleted past them. `poll` reads fairly
//! across partitions (every partition with records gets a share of `max`, the first
//! partition rotating between polls), in offset order within a partition, and waits for
//! new records on a per-stream notification from the writer. `commit` stores the position
//! after everything polled so far, through the same group commit as `produce`. Consumers
//! of one group are not coordinated: run one consumer per group at a time. `lag` reports
//! as `committed` the offset the group will read next, so never one below the partition's
//! first kept offset.
//!
//! # Streams
//!
//! `ensure_stream` stores the spec durably before returning. For an existing stream it
//! keeps the partitions and stores a changed retention. A spec with 0 partitions is
//! refused with [`StreamError::Backend`]. Streams are never deleted.

mod codec;
mod consumer;
mod legacy;
mod retention;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    PartitionLag, PollBudget, Record, StoredRecord, StreamConsumer, StreamError, StreamSpec,
    Streams, DEFAULT_MAX_POLL_BYTES,
};
use codec::StoredSpec;
use writer::Op;

/// How the embedded log is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// How often the background thread applies retention; `None` runs none (call
    /// [`EmbeddedStreams::enforce_retention`] instead). Default: 60 s.
    pub retention_interval: Option<Duration>,
    /// Most record bytes one group commit takes before it syncs; requests past it wait for
    /// the next commit (one request is never split). Default: 16 MiB.
    pub max_commit_bytes: usize,
    /// Size of fjall's block cache in bytes. Default: 64 MiB.
    pub cache_bytes: u64,
    /// Journal bytes kept before fjall flushes the oldest memtables to disk tables; a
    /// restart after a crash replays at most about this much. Default: 64 MiB (fjall's
    /// smallest).
    pub max_journal_bytes: u64,
    /// Most record bytes one consumer poll takes (plus the record that crosses it).
    /// Default: [`DEFAULT_MAX_POLL_BYTES`] (16 MiB).
    pub max_poll_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            retention_interval: Some(Duration::from_secs(60)),
            max_commit_bytes: 16 << 20,
            cache_bytes: 64 << 20,
            max_journal_bytes: 64 << 20,
            max_poll_bytes: DEFAULT_MAX_POLL_BYTES,
        }
    }
}

/// Counters of the writer since the log was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// Durable commits (each one `fdatasync`).
    pub commits: u64,
    /// Records appended.
    pub records: u64,
    /// `produce` calls answered.
    pub produce_requests: u64,
    /// Consumer-group commits answered.
    pub offset_commits: u64,
    /// Records deleted by retention.
    pub retention_deleted: u64,
}

/// The embedded streaming backend. Dropping it stops its threads; the directory is released
/// once it and every consumer it handed out are dropped.
pub struct EmbeddedStreams {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<()>>,
    retention: Option<(std::sync::mpsc::Sender<()>, JoinHandle<()>)>,
}

/// State shared by the backend, its threads and its consumers.
pub(crate) struct Inner {
    path: PathBuf,
    db: fjall::Database,
    meta: fjall::Keyspace,
    catalog: RwLock<HashMap<String, Arc<StreamState>>>,
    /// Serializes `ensure_stream`; holds the next stream id.
    next_stream_id: Mutex<u32>,
    ops: mpsc::UnboundedSender<Op>,
    stats: Stats,
    /// [`EmbeddedOptions::max_poll_bytes`].
    max_poll_bytes: usize,
}

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    records: AtomicU64,
    produce_requests: AtomicU64,
    offset_commits: AtomicU64,
    retention_deleted: AtomicU64,
}

/// One stream as the backend tracks it in memory.
pub(crate) struct StreamState {
    id: u32,
    name: String,
    partitions: u32,
    retention_ms: AtomicU64,
    /// The keyspace of each partition's records.
    logs: Vec<fjall::Keyspace>,
    /// Next offset to be written, per partition; only the writer thread stores it, after
    /// the records below it are durable.
    ends: Vec<AtomicU64>,
    /// First offset not deleted by retention, per partition; only retention stores it.
    lows: Vec<AtomicU64>,
    round_robin: AtomicU64,
    /// Bumped by the writer after every commit that appended to this stream.
    changed: watch::Sender<u64>,
}

impl StreamState {
    fn end(&self, partition: u32) -> u64 {
        self.ends
            .get(partition as usize)
            .map_or(0, |e| e.load(Ordering::Acquire))
    }

    fn low(&self, partition: u32) -> u64 {
        self.lows
            .get(partition as usize)
            .map_or(0, |l| l.load(Ordering::Acquire))
    }

    /// The keyspace holding `partition`'s records.
    fn log(&self, partition: u32) -> Result<&fjall::Keyspace, StreamError> {
        self.logs
            .get(partition as usize)
            .ok_or_else(|| StreamError::UnknownPartition {
                stream: self.name.clone(),
                partition,
            })
    }

    fn spec(&self) -> StreamSpec {
        StreamSpec {
            name: self.name.clone(),
            partitions: self.partitions,
            retention: Duration::from_millis(self.retention_ms.load(Ordering::Relaxed)),
        }
    }
}

/// The offset of the first record of the entry holding `offset` in a partition's
/// keyspace: the largest key not above it (`offset` itself when none is).
fn entry_start(log: &fjall::Keyspace, offset: u64) -> Result<u64, StreamError> {
    match log.range(..=codec::offset_key(offset)).next_back() {
        Some(entry) => {
            let key = entry.key().map_err(store_error)?;
            codec::key_offset(&key).ok_or_else(corrupt_key)
        }
        None => Ok(offset),
    }
}

fn corrupt_key() -> StreamError {
    StreamError::Backend("corrupt record key in the embedded log".into())
}

/// A fjall error as a stream error.
pub(crate) fn store_error(e: fjall::Error) -> StreamError {
    match e {
        fjall::Error::Locked => StreamError::Unavailable(
            "the embedded log directory is in use by another process".into(),
        ),
        fjall::Error::Poisoned => StreamError::Unavailable(
            "the embedded log failed to write to disk earlier and takes no more writes".into(),
        ),
        e => StreamError::Backend(format!("embedded log: {e}")),
    }
}

fn retention_ms(retention: Duration) -> u64 {
    u64::try_from(retention.as_millis()).unwrap_or(u64::MAX)
}

impl EmbeddedStreams {
    /// Opens (creating if needed) the log in `dir`, restoring every stream, record and
    /// committed offset stored there, and starts its writer and retention threads.
    ///
    /// Blocks while fjall replays its journal (about half a second per 100 MB not yet
    /// flushed); call it before serving or from a blocking task. Fails with
    /// [`StreamError::Unavailable`] when another process (or another open in this one) has
    /// the directory.
    pub fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, StreamError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)
            .map_err(|e| StreamError::Backend(format!("cannot create {}: {e}", path.display())))?;
        let started = std::time::Instant::now();
        let db = fjall::Database::builder(path.join("log"))
            .cache_size(options.cache_bytes)
            .max_journaling_size(options.max_journal_bytes)
            .open()
            .map_err(store_error)?;
        let opened = started.elapsed();
        let meta = db
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .map_err(store_error)?;
        let (catalog, next_id) = load_catalog(&db, &meta)?;
        tracing::info!(
            "opened the embedded log in {opened:.1?} (journal replay), its catalog in {:.1?}",
            started.elapsed() - opened
        );
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            path,
            db,
            meta,
            catalog: RwLock::new(catalog),
            next_stream_id: Mutex::new(next_id),
            ops,
            stats: Stats::default(),
            max_poll_bytes: options.max_poll_bytes,
        });
        let writer = {
            let inner = inner.clone();
            let max = options.max_commit_bytes;
            std::thread::Builder::new()
                .name("moose-stream-writer".into())
                .spawn(move || writer::run(&inner, ops_rx, max))
                .map_err(|e| StreamError::Backend(format!("cannot start the writer: {e}")))?
        };
        let mut this = Self {
            inner,
            writer: Some(writer),
            retention: None,
        };
        if let Some(interval) = options.retention_interval {
            let (stop, stop_rx) = std::sync::mpsc::channel();
            let inner = this.inner.clone();
            let handle = std::thread::Builder::new()
                .name("moose-stream-retention".into())
                .spawn(move || retention::run(&inner, &stop_rx, interval))
                .map_err(|e| StreamError::Backend(format!("cannot start retention: {e}")))?;
            this.retention = Some((stop, handle));
        }
        Ok(this)
    }

    /// The directory the log lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Every stream, by name.
    pub fn streams(&self) -> Vec<StreamSpec> {
        let mut specs: Vec<StreamSpec> = self.inner.catalog().values().map(|s| s.spec()).collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        specs
    }

    /// Counters of the writer and retention since the log was opened.
    pub fn stats(&self) -> EmbeddedStats {
        let s = &self.inner.stats;
        EmbeddedStats {
            commits: s.commits.load(Ordering::Relaxed),
            records: s.records.load(Ordering::Relaxed),
            produce_requests: s.produce_requests.load(Ordering::Relaxed),
            offset_commits: s.offset_commits.load(Ordering::Relaxed),
            retention_deleted: s.retention_deleted.load(Ordering::Relaxed),
        }
    }

    /// Applies retention to every stream now; returns how many records it deleted.
    pub async fn enforce_retention(&self) -> Result<u64, StreamError> {
        let inner = self.inner.clone();
        blocking(move || retention::enforce(&inner)).await
    }
}

impl Drop for EmbeddedStreams {
    fn drop(&mut self) {
        // Requests already queued are committed first; later ones fail as unavailable.
        let _ = self.inner.ops.send(Op::Shutdown);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        if let Some((stop, handle)) = self.retention.take() {
            drop(stop);
            let _ = handle.join();
        }
    }
}

impl Inner {
    fn catalog(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<StreamState>>> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    fn stream(&self, name: &str) -> Result<Arc<StreamState>, StreamError> {
        self.catalog()
            .get(name)
            .cloned()
            .ok_or_else(|| StreamError::UnknownStream(name.to_string()))
    }

    fn send(&self, op: Op) -> Result<(), StreamError> {
        self.ops
            .send(op)
            .map_err(|_| StreamError::Unavailable("the embedded log is closed".into()))
    }

    /// Committed offsets of `group`, one per partition (0 where none were committed).
    fn committed(&self, stream: &StreamState, group: &str) -> Result<Vec<u64>, StreamError> {
        match self
            .meta
            .get(codec::group_key(stream.id, group))
            .map_err(store_error)?
        {
            Some(bytes) => codec::decode_offsets(&bytes, stream.partitions),
            None => Ok(vec![0; stream.partitions as usize]),
        }
    }

    /// Records `from..to` of one partition that are still stored, in offset order, as many
    /// as `budget` admits.
    fn read_range(
        &self,
        stream: &StreamState,
        partition: u32,
        (from, to): (u64, u64),
        budget: &mut PollBudget,
    ) -> Result<Vec<StoredRecord>, StreamError> {
        let count = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(count.min(4096));
        if from >= to {
            return Ok(out);
        }
        let log = stream.log(partition)?;
        let range = codec::offset_key(entry_start(log, from)?)..codec::offset_key(to);
        for kv in log.range(range) {
            if budget.spent() {
                break;
            }
            let (k, v) = kv.into_inner().map_err(store_error)?;
            let first = codec::key_offset(&k).ok_or_else(corrupt_key)?;
            codec::decode_entry(partition, first, &v, (from, to), budget, &mut out)?;
        }
        Ok(out)
    }

    fn ensure(&self, spec: &StreamSpec) -> Result<(), StreamError> {
        let mut next_id = self
            .next_stream_id
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let retention = retention_ms(spec.retention);
        if let Some(existing) = self.catalog().get(&spec.name).cloned() {
            if existing.retention_ms.load(Ordering::Relaxed) != retention {
                let stored = StoredSpec {
                    id: existing.id,
                    partitions: existing.partitions,
                    retention_ms: retention,
                };
                self.put_spec(&spec.name, &stored)?;
                existing.retention_ms.store(retention, Ordering::Relaxed);
            }
            return Ok(());
        }
        if spec.partitions == 0 {
            return Err(StreamError::Backend(format!(
                "stream `{}` needs at least one partition",
                spec.name
            )));
        }
        let stored = StoredSpec {
            id: *next_id,
            partitions: spec.partitions,
            retention_ms: retention,
        };
        let logs = open_logs(&self.db, &stored)?;
        self.put_spec(&spec.name, &stored)?;
        *next_id = next_id
            .checked_add(1)
            .ok_or_else(|| StreamError::Backend("too many streams".into()))?;
        let state = new_state(&spec.name, &stored, logs, |_| (0, 0));
        self.catalog
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.name.clone(), Arc::new(state));
        Ok(())
    }

    fn put_spec(&self, name: &str, spec: &StoredSpec) -> Result<(), StreamError> {
        let json = serde_json::to_vec(spec)
            .map_err(|e| StreamError::Backend(format!("cannot encode a stream spec: {e}")))?;
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncData));
        batch.insert(&self.meta, codec::spec_key(name), json);
        batch.commit().map_err(store_error)
    }
}

/// Opens (creating if needed) the keyspace of every partition of a stream.
fn open_logs(db: &fjall::Database, spec: &StoredSpec) -> Result<Vec<fjall::Keyspace>, StreamError> {
    (0..spec.partitions)
        .map(|p| {
            // Records are only read by range, never by key: no filters to build.
            db.keyspace(&codec::partition_keyspace(spec.id, p), || {
                fjall::KeyspaceCreateOptions::default()
                    .filter_policy(fjall::config::FilterPolicy::disabled())
            })
            .map_err(store_error)
        })
        .collect()
}

fn new_state(
    name: &str,
    spec: &StoredSpec,
    logs: Vec<fjall::Keyspace>,
    bounds: impl Fn(u32) -> (u64, u64),
) -> StreamState {
    let (lows, ends) = (0..spec.partitions)
        .map(|p| {
            let (low, end) = bounds(p);
            (AtomicU64::new(low), AtomicU64::new(end))
        })
        .unzip();
    StreamState {
        id: spec.id,
        name: name.to_string(),
        partitions: spec.partitions,
        retention_ms: AtomicU64::new(spec.retention_ms),
        logs,
        ends,
        lows,
        round_robin: AtomicU64::new(0),
        changed: watch::Sender::new(0),
    }
}

type Catalog = HashMap<String, Arc<StreamState>>;

/// Every stored stream spec, by name.
fn stored_specs(meta: &fjall::Keyspace) -> Result<Vec<(String, StoredSpec)>, StreamError> {
    let mut specs = Vec::new();
    for kv in meta.prefix(codec::SPEC_PREFIX) {
        let (k, v) = kv.into_inner().map_err(store_error)?;
        let name = std::str::from_utf8(&k[codec::SPEC_PREFIX.len()..])
            .map_err(|_| StreamError::Backend("corrupt stream name in the embedded log".into()))?
            .to_string();
        let spec: StoredSpec = serde_json::from_slice(&v)
            .map_err(|e| StreamError::Backend(format!("corrupt spec of stream `{name}`: {e}")))?;
        specs.push((name, spec));
    }
    Ok(specs)
}

/// Reads every stream's spec and partition bounds back from the store, moving records of
/// the earlier single-keyspace layout into their partitions' keyspaces first.
fn load_catalog(
    db: &fjall::Database,
    meta: &fjall::Keyspace,
) -> Result<(Catalog, u32), StreamError> {
    let read_u64 = |key: &[u8]| -> Result<Option<u64>, StreamError> {
        meta.get(key)
            .map_err(store_error)?
            .map(|v| codec::decode_u64(&v))
            .transpose()
    };
    let mut opened = Vec::new();
    let mut next_id = 0u32;
    for (name, spec) in stored_specs(meta)? {
        next_id = next_id.max(spec.id.saturating_add(1));
        let logs = open_logs(db, &spec)?;
        opened.push((name, spec, logs));
    }
    legacy::migrate(db, &opened)?;
    let mut catalog = HashMap::new();
    for (name, spec, logs) in opened {
        let mut bounds = Vec::with_capacity(spec.partitions as usize);
        for (p, log) in (0u32..).zip(&logs) {
            let mut end = read_u64(&codec::end_key(spec.id, p))?.unwrap_or(0);
            // The end is written in the same atomic batch as the records; this only guards
            // against a store that lost the meta write.
            if let Some(last) = log.iter().next_back() {
                let (key, entry) = last.into_inner().map_err(store_error)?;
                if let Some(first) = codec::key_offset(&key) {
                    end = end.max(first.saturating_add(codec::entry_records(&entry)?));
                }
            }
            let low = read_u64(&codec::low_key(spec.id, p))?.unwrap_or(0).min(end);
            bounds.push((low, end));
        }
        let state = new_state(&name, &spec, logs, |p| {
            bounds.get(p as usize).copied().unwrap_or((0, 0))
        });
        catalog.insert(name, Arc::new(state));
    }
    Ok((catalog, next_id))
}

/// Runs blocking store work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StreamError> + Send + 'static,
) -> Result<T, StreamError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StreamError::Backend(format!("embedded log task failed: {e}")))?
}

/// Which partition a record goes to.
fn partition_of(stream: &StreamState, key: Option<&[u8]>) -> u32 {
    let n = u64::from(stream.partitions.max(1));
    let slot = match key {
        Some(k) => xxhash_rust::xxh3::xxh3_64(k) % n,
        None => stream.round_robin.fetch_add(1, Ordering::Relaxed) % n,
    };
    // `slot < partitions`, which is a u32.
    u32::try_from(slot).unwrap_or(0)
}

#[async_trait]
impl Streams for EmbeddedStreams {
    async fn ensure_stream(&self, spec: &StreamSpec) -> Result<(), StreamError> {
        let inner = self.inner.clone();
        let spec = spec.clone();
        blocking(move || inner.ensure(&spec)).await
    }

    async fn produce(&self, stream: &str, records: Vec<Record>) -> Result<(), StreamError> {
        let state = self.inner.stream(stream)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut runs: Vec<Option<codec::Run>> = (0..state.partitions).map(|_| None).collect();
        for record in records {
            let partition = partition_of(&state, record.key.as_deref());
            if let Some(run) = runs.get_mut(partition as usize) {
                run.get_or_insert_with(codec::Run::new).push(record)?;
            }
        }
        let runs = (0u32..)
            .zip(runs)
            .filter_map(|(partition, run)| Some((partition, run?)))
            .collect();
        let (reply, done) = oneshot::channel();
        self.inner.send(Op::Produce {
            stream: state,
            runs,
            reply,
        })?;
        done.await
            .map_err(|_| StreamError::Unavailable("the embedded log is closed".into()))?
    }

    async fn consumer(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<Box<dyn StreamConsumer>, StreamError> {
        let state = self.inner.stream(stream)?;
        let inner = self.inner.clone();
        let group = group.to_string();
        let consumer =
            blocking(move || consumer::EmbeddedConsumer::new(inner, state, group)).await?;
        Ok(Box::new(consumer))
    }

    async fn lag(&self, stream: &str, group: &str) -> Result<Vec<PartitionLag>, StreamError> {
        let state = self.inner.stream(stream)?;
        let inner = self.inner.clone();
        let group = group.to_string();
        blocking(move || {
            let committed = inner.committed(&state, &group)?;
            Ok((0..state.partitions)
                .map(|p| {
                    let end = state.end(p);
                    let committed = committed.get(p as usize).copied().unwrap_or(0);
                    PartitionLag {
                        partition: p,
                        committed: committed.max(state.low(p)).min(end),
                        end,
                    }
                })
                .collect())
        })
        .await
    }

    async fn read(
        &self,
        stream: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<StoredRecord>, StreamError> {
        let state = self.inner.stream(stream)?;
        if partition >= state.partitions {
            return Err(StreamError::UnknownPartition {
                stream: stream.to_string(),
                partition,
            });
        }
        let from = offset.max(state.low(partition));
        let to = state
            .end(partition)
            .min(from.saturating_add(u64::try_from(max).unwrap_or(u64::MAX)));
        if from >= to {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        // A read asks for `max` records: it is bounded by its caller, not by the poll budget.
        blocking(move || {
            inner.read_range(&state, partition, (from, to), &mut PollBudget::unlimited())
        })
        .await
    }
}
