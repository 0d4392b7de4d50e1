//! Stream → table sync against the real embedded log and a table writer that refuses some
//! rows and is unavailable at first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use moose_pipeline::sync::{group, InsertError, SyncOptions, TableSync, TableWriter};
use moose_records::DeadLetter;
use moose_streams::embedded::{EmbeddedOptions, EmbeddedStreams};
use moose_streams::{Record, StreamSpec, Streams};
use moose_telemetry::metrics::Metrics;
use tokio_util::sync::CancellationToken;

/// Refuses any insert holding a row with `"bad"`; unavailable for the first calls.
struct PickyWriter {
    outages: AtomicUsize,
    rows: Mutex<Vec<String>>,
}

#[async_trait]
impl TableWriter for PickyWriter {
    async fn insert_json(
        &self,
        _table: &str,
        rows: &[u8],
        count: usize,
    ) -> Result<(), InsertError> {
        if self
            .outages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(InsertError::Unavailable("connection refused".into()));
        }
        let text = String::from_utf8_lossy(rows);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        assert_eq!(lines.len(), count);
        if lines.iter().any(|l| l.contains("\"bad\"")) {
            return Err(InsertError::Rejected("Code: 27. Cannot parse input".into()));
        }
        self.rows.lock().expect("lock").extend(lines);
        Ok(())
    }
}

fn spec(name: &str) -> StreamSpec {
    StreamSpec {
        name: name.into(),
        partitions: 2,
        retention: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_outages_dead_letters_refused_rows_and_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let streams = items_log(dir.path()).await;
    streams.ensure_stream(&spec("dlq")).await.expect("stream");
    let records: Vec<Record> = (0..500)
        .map(|i| Record {
            key: Some(format!("{i}").into_bytes()),
            value: if i % 97 == 0 {
                format!("{{\"n\":{i},\"v\":\"bad\"}}")
            } else {
                format!("{{\"n\":{i},\"v\":\"ok\"}}")
            }
            .into_bytes(),
            timestamp_ms: 0,
        })
        .collect();
    streams.produce("items", records).await.expect("produce");

    let writer = Arc::new(PickyWriter {
        outages: AtomicUsize::new(3),
        rows: Mutex::new(Vec::new()),
    });
    let stop = CancellationToken::new();
    let sync = TableSync {
        stream: "items".into(),
        table: "items".into(),
        dead_letter: Some("dlq".into()),
        streams: streams.clone(),
        writer: writer.clone(),
        metrics: Arc::new(Metrics::new()),
        options: SyncOptions {
            min_backoff: Duration::from_millis(10),
            ..SyncOptions::default()
        },
    };
    let task = tokio::spawn(sync.run(stop.clone()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let lag = streams.lag("items", &group("items")).await.expect("lag");
        if lag.iter().all(|p| p.committed == p.end) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sync did not commit: {lag:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    task.await.expect("sync task");

    let bad: Vec<usize> = (0..500).filter(|i| i % 97 == 0).collect();
    let stored = writer.rows.lock().expect("lock").clone();
    assert_eq!(stored.len(), 500 - bad.len(), "every good row once");
    assert!(stored.iter().all(|row| row.contains("\"ok\"")));

    let mut dead = Vec::new();
    for partition in 0..2 {
        dead.extend(streams.read("dlq", partition, 0, 1000).await.expect("read"));
    }
    assert_eq!(
        dead.len(),
        bad.len(),
        "each refused row is dead-lettered alone"
    );
    for record in dead {
        let letter: DeadLetter = serde_json::from_slice(&record.value).expect("dead letter");
        assert!(letter.record.contains("\"bad\""));
        assert_eq!(letter.source, "table:items");
        assert!(
            letter.error.contains("Cannot parse input"),
            "{}",
            letter.error
        );
    }
}

/// Stores every insert's row count.
#[derive(Default)]
struct CountingWriter {
    inserts: Mutex<Vec<usize>>,
}

#[async_trait]
impl TableWriter for CountingWriter {
    async fn insert_json(
        &self,
        _table: &str,
        _rows: &[u8],
        count: usize,
    ) -> Result<(), InsertError> {
        self.inserts.lock().expect("lock").push(count);
        Ok(())
    }
}

impl CountingWriter {
    fn inserts(&self) -> Vec<usize> {
        self.inserts.lock().expect("lock").clone()
    }

    /// Waits (at most 30 s) until `rows` rows were inserted.
    async fn wait_for(&self, rows: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.inserts().iter().sum::<usize>() < rows {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{rows} rows not inserted: {:?}",
                self.inserts()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An embedded log in `dir` with stream `items`.
async fn items_log(dir: &std::path::Path) -> Arc<dyn Streams> {
    items_log_with(dir, EmbeddedOptions::default()).await
}

/// [`items_log`] opened with `options`.
async fn items_log_with(dir: &std::path::Path, options: EmbeddedOptions) -> Arc<dyn Streams> {
    let streams: Arc<dyn Streams> = Arc::new(EmbeddedStreams::open(dir, options).expect("open"));
    streams.ensure_stream(&spec("items")).await.expect("stream");
    streams
}

/// A sync over stream `items` into `writer` with `options`; returns its stop token and task.
async fn start_sync(
    streams: &Arc<dyn Streams>,
    writer: &Arc<CountingWriter>,
    options: SyncOptions,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let sync = TableSync {
        stream: "items".into(),
        table: "items".into(),
        dead_letter: None,
        streams: streams.clone(),
        writer: writer.clone(),
        metrics: Arc::new(Metrics::new()),
        options,
    };
    (stop.clone(), tokio::spawn(sync.run(stop)))
}

async fn produce(streams: &Arc<dyn Streams>, from: usize, count: usize) {
    let records = (from..from + count)
        .map(|i| Record {
            key: Some(format!("{i}").into_bytes()),
            value: format!("{{\"n\":{i}}}").into_bytes(),
            timestamp_ms: 0,
        })
        .collect();
    streams.produce("items", records).await.expect("produce");
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_arriving_within_the_insert_interval_gather_into_one_insert() {
    let dir = tempfile::tempdir().expect("temp dir");
    let streams = items_log(dir.path()).await;
    let writer = Arc::new(CountingWriter::default());
    let options = SyncOptions {
        min_insert_interval: Duration::from_secs(3),
        ..SyncOptions::default()
    };
    let (stop, task) = start_sync(&streams, &writer, options).await;

    produce(&streams, 0, 1).await;
    writer.wait_for(1).await;
    // Three records, each written alone, while the interval after the first insert runs.
    for i in 1..4 {
        produce(&streams, i, 1).await;
    }
    writer.wait_for(4).await;
    stop.cancel();
    task.await.expect("sync task");
    assert_eq!(
        writer.inserts(),
        [1, 3],
        "the quiet stream's first row at once, then one insert"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backlog_is_inserted_without_pause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let streams = items_log(dir.path()).await;
    let writer = Arc::new(CountingWriter::default());
    // An interval far longer than the test waits: only full batches may skip it.
    let options = SyncOptions {
        batch_size: 3,
        min_insert_interval: Duration::from_secs(600),
        ..SyncOptions::default()
    };
    produce(&streams, 0, 7).await;
    let (stop, task) = start_sync(&streams, &writer, options).await;
    writer.wait_for(7).await;
    assert_eq!(writer.inserts(), [3, 3, 1]);

    // The last batch was not full: the next rows wait for the interval.
    produce(&streams, 7, 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        writer.inserts(),
        [3, 3, 1],
        "paced until the interval passes"
    );
    stop.cancel();
    task.await.expect("sync task");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backlog_of_records_that_fill_the_poll_budget_is_inserted_without_pause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let budget = 2048;
    let streams = items_log_with(
        dir.path(),
        EmbeddedOptions {
            max_poll_bytes: budget,
            ..EmbeddedOptions::default()
        },
    )
    .await;
    let records = (0..5)
        .map(|i| Record {
            key: Some(format!("{i}").into_bytes()),
            value: format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(1100)).into_bytes(),
            timestamp_ms: 0,
        })
        .collect();
    streams.produce("items", records).await.expect("produce");
    // Two records of about 1.1 KiB spend the budget: such a batch is full, though far below
    // `batch_size` rows.
    let options = SyncOptions {
        min_insert_interval: Duration::from_secs(600),
        full_batch_bytes: budget,
        ..SyncOptions::default()
    };
    let writer = Arc::new(CountingWriter::default());
    let (stop, task) = start_sync(&streams, &writer, options).await;
    writer.wait_for(5).await;
    assert_eq!(writer.inserts(), [2, 2, 1]);
    stop.cancel();
    task.await.expect("sync task");
}
