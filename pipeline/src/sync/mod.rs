//! Stream → table sync: batches of a stream's records are inserted into a table, and the
//! offsets are committed only after the insert succeeded.
//!
//! While the OLAP store is unavailable the same batch is retried with exponential
//! backoff. Rows the store refuses are found by splitting the batch in halves until each
//! refused row stands alone; those go to the dead-letter stream, the rest are inserted.
//! When the rows were stored but a materialized view reading the table failed on them,
//! the batch counts as stored (inserting it again would store it twice) and the view's
//! failure is counted for its aggregation (`/ps`, metrics) and logged.

mod clickhouse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use moose_records::{DeadLetter, ErrorKind};
use moose_retry::{self as retry, Backoff, Retry};
use moose_streams::{consumer_until_stopped, Record, StoredRecord, Streams};
use moose_telemetry::events::{BatchDone, Event, RecordsFailed, Stage, ViewFailed};
use moose_telemetry::metrics::Metrics;

/// Why an insert failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InsertError {
    /// The store cannot be reached or is overloaded; retrying may succeed.
    #[error("the OLAP store is unavailable: {0}")]
    Unavailable(String),
    /// The store refused the rows.
    #[error("the OLAP store refused the rows: {0}")]
    Rejected(String),
    /// The rows were stored, but materialized view `view` failed on them: they are
    /// missing from what it writes. Inserting them again would store them twice.
    #[error("the rows were stored, but materialized view `{view}` failed on them: {message}")]
    ViewFailed { view: String, message: String },
}

/// Inserts rows into a table (the seam between sync and the OLAP store).
#[async_trait]
pub trait TableWriter: Send + Sync {
    /// Inserts `count` rows given as newline-delimited JSON objects.
    async fn insert_json(&self, table: &str, rows: &[u8], count: usize) -> Result<(), InsertError>;
}

/// Tuning of a sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Most rows in one insert.
    pub batch_size: usize,
    /// Longest a poll waits for the first record; bounds the latency of a quiet stream.
    pub flush_interval: Duration,
    /// Shortest time between the starts of two inserts while the stream keeps up (the
    /// last batch was not full): under load, rows gather into fewer, larger inserts, so
    /// the store writes and merges fewer parts. A quiet stream's first row is inserted at
    /// once, and a backlog (full batches) is inserted without pause.
    pub min_insert_interval: Duration,
    /// Record bytes that make a batch full as well as `batch_size` rows do: the streams'
    /// poll budget (`[streaming] read_buffer_mb`), which ends a poll of large records
    /// before `batch_size`.
    pub full_batch_bytes: usize,
    /// First and longest pause between retries while the store is unavailable.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            batch_size: 50_000,
            flush_interval: Duration::from_millis(100),
            min_insert_interval: Duration::from_millis(
                moose_olap::settings::DEFAULT_INSERT_INTERVAL_MS,
            ),
            full_batch_bytes: moose_streams::DEFAULT_MAX_POLL_BYTES,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Copies one stream into one table until cancelled.
pub struct TableSync {
    pub stream: String,
    pub table: String,
    /// Where refused rows go; none for a dead-letter table itself.
    pub dead_letter: Option<String>,
    pub streams: Arc<dyn Streams>,
    pub writer: Arc<dyn TableWriter>,
    pub metrics: Arc<Metrics>,
    pub options: SyncOptions,
}

/// The consumer group of a table.
pub fn group(table: &str) -> String {
    Stage::Table.group(table)
}

impl TableSync {
    pub async fn run(self, stop: CancellationToken) {
        let group = group(&self.table);
        let Some(mut consumer) = consumer_until_stopped(
            self.streams.as_ref(),
            &self.stream,
            &group,
            self.options.max_backoff,
            &stop,
        )
        .await
        else {
            return;
        };
        // When the next insert may start, unless a backlog is waiting.
        let mut next_insert: Option<Instant> = None;
        while !stop.is_cancelled() {
            if let Some(at) = next_insert.take() {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = consumer.poll(self.options.batch_size, self.options.flush_interval) => batch,
            };
            let batch = match batch {
                Ok(batch) if batch.is_empty() => continue,
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(table = %self.table, "poll failed: {e}");
                    tokio::time::sleep(self.options.min_backoff).await;
                    continue;
                }
            };
            let started = Instant::now();
            let full = batch.len() >= self.options.batch_size
                || batch.iter().map(StoredRecord::bytes).sum::<usize>()
                    >= self.options.full_batch_bytes;
            if !full {
                next_insert = Some(started + self.options.min_insert_interval);
            }
            let Some((stored, refused)) = self.store(&batch, &stop).await else {
                tracing::info!(table = %self.table, "stopping with an uncommitted batch (it is inserted again on restart)");
                return;
            };
            if !refused.is_empty() && !self.dead_letter(refused, &stop).await {
                return;
            }
            let mut retry = Retry::new(self.backoff(), &stop);
            while let Err(e) = consumer.commit().await {
                let log = |pause| tracing::warn!(table = %self.table, "commit failed, retrying in {pause:?}: {e}");
                if !retry.failed(log).await {
                    return;
                }
            }
            BatchDone {
                stage: Stage::Table,
                name: &self.table,
                read: batch.len() as u64,
                written: stored as u64,
                // Refused rows were counted when they were dead-lettered.
                failed: 0,
                first_error: None,
                seconds: started.elapsed().as_secs_f64(),
            }
            .record(&self.metrics);
        }
    }

    /// Inserts the batch, isolating refused rows. `None` when stopped while the store was
    /// unavailable (nothing committed).
    async fn store(
        &self,
        batch: &[StoredRecord],
        stop: &CancellationToken,
    ) -> Option<(usize, Vec<(StoredRecord, String)>)> {
        let mut stored = 0;
        let mut refused = Vec::new();
        let mut pending: Vec<&[StoredRecord]> = vec![batch];
        while let Some(rows) = pending.pop() {
            match self.insert(rows, stop).await? {
                Ok(()) => stored += rows.len(),
                Err(InsertError::ViewFailed { view, message }) => {
                    stored += rows.len();
                    self.view_failed(&view, rows.len(), &message);
                }
                Err(error) if rows.len() == 1 => {
                    let message = match error {
                        InsertError::Rejected(message) => message,
                        other => other.to_string(),
                    };
                    refused.push((rows[0].clone(), message));
                }
                Err(_) => {
                    let (left, right) = rows.split_at(rows.len() / 2);
                    pending.push(right);
                    pending.push(left);
                }
            }
        }
        Some((stored, refused))
    }

    /// Pauses between attempts of a write that failed.
    fn backoff(&self) -> Backoff {
        Backoff::doubling(self.options.min_backoff, self.options.max_backoff)
    }

    /// Counts and logs rows of this table that materialized view `view` failed on.
    fn view_failed(&self, view: &str, rows: usize, message: &str) {
        ViewFailed {
            table: &self.table,
            view,
            aggregation: view
                .strip_suffix(moose_olap::ddl::MATERIALIZED_VIEW_SUFFIX)
                .unwrap_or(view),
            rows,
            message,
        }
        .record(&self.metrics);
    }

    /// One insert, retried while the store is unavailable: stored, or refused (the error
    /// is `Rejected` or `ViewFailed`).
    async fn insert(
        &self,
        rows: &[StoredRecord],
        stop: &CancellationToken,
    ) -> Option<Result<(), InsertError>> {
        let mut data = Vec::with_capacity(rows.iter().map(|r| r.value.len() + 1).sum());
        for row in rows {
            data.extend_from_slice(&row.value);
            data.push(b'\n');
        }
        retry::transient_until_stopped(
            self.backoff(),
            stop,
            || self.writer.insert_json(&self.table, &data, rows.len()),
            |e| matches!(e, InsertError::Unavailable(_)),
            |e, pause| tracing::warn!(table = %self.table, "insert failed, retrying in {pause:?}: {e}"),
        )
        .await
    }

    /// Writes refused rows to the dead-letter stream; false when stopped before they were
    /// written (the batch must then stay uncommitted).
    async fn dead_letter(
        &self,
        refused: Vec<(StoredRecord, String)>,
        stop: &CancellationToken,
    ) -> bool {
        RecordsFailed {
            stage: Stage::Table,
            name: &self.table,
            records: refused.len(),
            first_error: refused.first().map(|(_, message)| message.as_str()),
        }
        .record(&self.metrics);
        let Some(dead_letter) = &self.dead_letter else {
            for (row, message) in &refused {
                tracing::error!(table = %self.table, "row refused and dropped (no dead-letter stream): {message}: {}", String::from_utf8_lossy(&row.value));
            }
            return true;
        };
        let now = chrono::Utc::now().timestamp_millis();
        let records: Vec<Record> = refused
            .into_iter()
            .map(|(row, message)| Record {
                key: None,
                value: DeadLetter::new(
                    String::from_utf8_lossy(&row.value),
                    message,
                    ErrorKind::Storage,
                    format!("table:{}", self.table),
                )
                .to_json(),
                timestamp_ms: now,
            })
            .collect();
        retry::until_stopped(
            self.backoff(),
            stop,
            || self.streams.produce(dead_letter, records.clone()),
            |e, pause| tracing::warn!(table = %self.table, "writing dead letters failed, retrying in {pause:?}: {e}"),
        )
        .await
        .is_some()
    }
}
