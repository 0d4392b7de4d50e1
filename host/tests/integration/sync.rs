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
    let streams: Arc<dyn Streams> =
        Arc::new(EmbeddedStreams::open(dir.path(), EmbeddedOptions::default()).expect("open"));
    streams.ensure_stream(&spec("items")).await.expect("stream");
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
