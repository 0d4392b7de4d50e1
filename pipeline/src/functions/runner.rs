//! One streaming function's consume-process-produce loop.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::{GuestCallError, WiringError};
use moose_model::app::App;
use moose_records::{DeadLetter, ErrorKind, ModelValidator};
use moose_retry::{Backoff, Retry};
use moose_runtime::types::{Batch, Encoding, ProcessOutput};
use moose_runtime::ComponentHandle;
use moose_runtime::GuestComponent;
use moose_streams::{
    consumer_until_stopped, Checkpoint, Record, StoredRecord, StreamConsumer, StreamError, Streams,
};
use moose_telemetry::events::{BatchDone, Event, Stage};
use moose_telemetry::metrics::Metrics;

/// Tuning of a runner.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Most records handed to the component in one call.
    pub batch_size: usize,
    /// Longest a poll waits for the first record.
    pub poll_wait: Duration,
    /// Pause before retrying after the streaming backend failed.
    pub retry_backoff: Duration,
    /// Most calls run at once on separate instances: a poll takes up to `batch_size`
    /// records per call, and the batch is split into parts of at least [`MIN_PART`].
    pub parallel_calls: usize,
}

/// Fewest records of a batch handed to one of several parallel calls: below it, the
/// per-call cost of an interpreter component outweighs the parallelism.
pub const MIN_PART: usize = 250;

/// Most parallel calls by default, however many cores there are: each holds an instance
/// (an interpreter component's is tens of MiB).
const MAX_PARALLEL_CALLS: usize = 4;

impl RunnerOptions {
    /// Most records one poll takes: a call's worth for each parallel call.
    fn poll_size(&self) -> usize {
        self.batch_size.max(1) * self.parallel_calls.max(1)
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            poll_wait: Duration::from_millis(200),
            retry_backoff: Duration::from_millis(500),
            parallel_calls: std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(MAX_PARALLEL_CALLS)),
        }
    }
}

/// Where a function's outputs go.
pub struct Destination {
    pub stream: String,
    pub validator: ModelValidator,
    pub key_fields: Vec<String>,
}

impl Destination {
    /// Where records for declared stream `stream` of `app` go: its name, its model's
    /// validator and key fields.
    pub fn of(app: &App, stream: &str) -> Result<Self, WiringError> {
        let model = app
            .def
            .streams
            .iter()
            .find(|s| s.name == stream)
            .map(|s| s.model.clone())
            .ok_or_else(|| WiringError::UnknownStream(stream.to_string()))?;
        let validator = ModelValidator::new(app, &model)
            .ok_or_else(|| WiringError::UnknownModel(model.clone()))?;
        Ok(Self {
            stream: stream.to_string(),
            validator,
            key_fields: app.key_fields(&model),
        })
    }
}

/// Runs one streaming function until cancelled.
pub struct FunctionRunner {
    pub name: String,
    pub source: String,
    pub destination: Option<Destination>,
    pub dead_letter: Option<String>,
    /// Read once per batch: a reload swaps it between batches.
    pub component: ComponentHandle,
    pub streams: Arc<dyn Streams>,
    pub metrics: Arc<Metrics>,
    pub options: RunnerOptions,
}

/// The consumer group of a function.
pub fn group(function: &str) -> String {
    Stage::Function.group(function)
}

/// What one batch produced.
#[derive(Default)]
struct Produced {
    outputs: Vec<Record>,
    dead_letters: Vec<Record>,
}

impl Produced {
    /// Adds what a later part of the batch produced.
    fn append(&mut self, mut part: Produced) {
        self.outputs.append(&mut part.outputs);
        self.dead_letters.append(&mut part.dead_letters);
    }
}

/// A batch that ran, waiting to be made durable.
struct Processed {
    produced: Produced,
    /// The consumer's position after the batch.
    checkpoint: Checkpoint,
    /// Records read.
    read: usize,
    started: Instant,
}

impl FunctionRunner {
    /// Consumes until `stop` is cancelled; the batch in flight is finished and committed
    /// first.
    ///
    /// Batches overlap: while one batch's outputs are written and its offsets committed,
    /// the next batch runs. Outputs are written in batch order, and a batch's offsets are
    /// committed only once its outputs are durable.
    pub async fn run(self, stop: CancellationToken) {
        Arc::new(self).consume(stop).await;
    }

    async fn consume(self: Arc<Self>, stop: CancellationToken) {
        let group = group(&self.name);
        let Some(mut consumer) = consumer_until_stopped(
            self.streams.as_ref(),
            &self.source,
            &group,
            self.options.retry_backoff,
            &stop,
        )
        .await
        else {
            return;
        };
        // The processed batch whose outputs are written while the next one runs.
        let mut previous: Option<Processed> = None;
        while !stop.is_cancelled() {
            // With a batch to finish, only records already there are taken: a quiet
            // stream's last batch is committed at once.
            let wait = if previous.is_some() {
                Duration::ZERO
            } else {
                self.options.poll_wait
            };
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = consumer.poll(self.options.poll_size(), wait) => batch,
            };
            let batch = match batch {
                Ok(batch) if !batch.is_empty() => Arc::new(batch),
                idle_or_failed => {
                    // Nothing to overlap with: the batch waiting is finished now.
                    if let Some(done) = previous.take() {
                        if !self.complete(done, None, consumer.as_mut(), &stop).await {
                            return;
                        }
                    }
                    if let Err(e) = idle_or_failed {
                        tracing::warn!(function = %self.name, "poll failed: {e}");
                        if self.pause(&stop).await {
                            break;
                        }
                    }
                    continue;
                }
            };
            let started = Instant::now();
            let read = batch.len();
            let (produced, written) = tokio::join!(self.process(batch), async {
                match &previous {
                    Some(done) => Some(self.write(&done.produced).await),
                    None => None,
                }
            });
            if let Some(done) = previous.take() {
                if !self.complete(done, written, consumer.as_mut(), &stop).await {
                    return;
                }
            }
            previous = Some(Processed {
                produced,
                checkpoint: consumer.checkpoint(),
                read,
                started,
            });
        }
        if let Some(done) = previous {
            self.complete(done, None, consumer.as_mut(), &stop).await;
        }
    }

    /// Sleeps for the backoff; true when stopped meanwhile.
    async fn pause(&self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(self.options.retry_backoff) => false,
        }
    }

    /// Makes a processed batch durable: its outputs and dead letters written (`written`
    /// is the outcome of a first write already made), then, only once they are, its
    /// offsets committed; both retried until they succeed. False when stopped first (the
    /// batch runs again on restart).
    async fn complete(
        &self,
        done: Processed,
        written: Option<Result<(), StreamError>>,
        consumer: &mut dyn StreamConsumer,
        stop: &CancellationToken,
    ) -> bool {
        let mut retry = Retry::new(Backoff::fixed(self.options.retry_backoff), stop);
        let mut written = match written {
            Some(outcome) => outcome,
            None => self.write(&done.produced).await,
        };
        loop {
            let outcome = match written {
                Ok(()) => consumer.commit_to(&done.checkpoint).await,
                Err(e) => Err(e),
            };
            let Err(e) = outcome else { break };
            let log = |pause| tracing::warn!(function = %self.name, "writing batch results failed, retrying in {pause:?}: {e}");
            if !retry.failed(log).await {
                tracing::warn!(function = %self.name, "stopping with an uncommitted batch (it runs again on restart)");
                return false;
            }
            written = self.write(&done.produced).await;
        }
        BatchDone {
            stage: Stage::Function,
            name: &self.name,
            read: done.read as u64,
            written: done.produced.outputs.len() as u64,
            failed: done.produced.dead_letters.len() as u64,
            first_error: first_error(&done.produced.dead_letters).as_deref(),
            seconds: done.started.elapsed().as_secs_f64(),
        }
        .record(&self.metrics);
        true
    }

    async fn write(&self, produced: &Produced) -> Result<(), StreamError> {
        if let (Some(destination), false) = (&self.destination, produced.outputs.is_empty()) {
            self.streams
                .produce(&destination.stream, produced.outputs.clone())
                .await?;
        }
        match (&self.dead_letter, produced.dead_letters.is_empty()) {
            (Some(dead_letter), false) => {
                self.streams
                    .produce(dead_letter, produced.dead_letters.clone())
                    .await
            }
            (None, false) => {
                let first = first_error(&produced.dead_letters).unwrap_or_default();
                tracing::warn!(
                    function = %self.name,
                    "{} record(s) failed and were dropped: the function is declared without a \
                     dead-letter stream; the first error: {first}",
                    produced.dead_letters.len()
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Runs the batch, all of it on the component version current when it starts, split
    /// into parts called at once; outputs keep the batch's order. A part whose call
    /// failed runs again one record at a time.
    async fn process(self: &Arc<Self>, batch: Arc<Vec<StoredRecord>>) -> Produced {
        let component = self.component.load_full();
        let calls: Vec<_> = parts(batch.len(), &self.options)
            .map(|range| (range.clone(), self.start(&component, &batch, range)))
            .collect();
        let mut produced = Produced::default();
        for (range, call) in calls {
            let error = match call.await {
                Ok(part) => {
                    produced.append(part);
                    continue;
                }
                Err(error) => error,
            };
            let records = &batch[range.clone()];
            if let [record] = records {
                produced
                    .dead_letters
                    .push(self.dead_letter(record, error.to_string()));
                continue;
            }
            tracing::warn!(function = %self.name, "batch of {} failed ({error}); retrying record by record", records.len());
            for (offset, record) in range.clone().zip(records) {
                let single = self.start(&component, &batch, offset..offset + 1);
                match single.await {
                    Ok(part) => produced.append(part),
                    Err(error) => produced
                        .dead_letters
                        .push(self.dead_letter(record, error.to_string())),
                }
            }
        }
        produced
    }

    /// Starts calling the component on `batch[range]` at once, on a blocking thread where
    /// its outputs are checked too; the returned future yields what the call produced.
    fn start(
        self: &Arc<Self>,
        component: &Arc<GuestComponent>,
        batch: &Arc<Vec<StoredRecord>>,
        range: Range<usize>,
    ) -> impl Future<Output = Result<Produced, GuestCallError>> {
        let (runner, component, batch) = (self.clone(), component.clone(), batch.clone());
        let call = tokio::task::spawn_blocking(move || {
            let records = &batch[range];
            let input = json_batch(records.iter());
            let output = GuestCallError::flatten(component.process(&runner.name, &input))?;
            let mut produced = Produced::default();
            runner.collect(records, output, &mut produced);
            Ok(produced)
        });
        async move { call.await? }
    }

    fn collect(&self, batch: &[StoredRecord], output: ProcessOutput, produced: &mut Produced) {
        for error in &output.errors {
            if let Some(record) = batch.get(error.index as usize) {
                produced
                    .dead_letters
                    .push(self.dead_letter(record, error.message.clone()));
            }
        }
        let Some(destination) = &self.destination else {
            return;
        };
        let lines = output.output.data.split(|b| *b == b'\n');
        for (line, source) in lines
            .zip(&output.sources)
            .take(output.output.count as usize)
        {
            let origin = batch.get(*source as usize);
            match destination
                .validator
                .check_line(line, &destination.key_fields)
            {
                Ok(key) => produced.outputs.push(Record {
                    key,
                    value: line.to_vec(),
                    timestamp_ms: origin.map_or(0, |r| r.timestamp_ms),
                }),
                Err(error) => produced.dead_letters.push(Record {
                    key: None,
                    value: DeadLetter::new(
                        String::from_utf8_lossy(line),
                        format!("output {error}"),
                        ErrorKind::Output,
                        format!("function:{}", self.name),
                    )
                    .to_json(),
                    timestamp_ms: chrono::Utc::now().timestamp_millis(),
                }),
            }
        }
    }

    fn dead_letter(&self, record: &StoredRecord, error: String) -> Record {
        Record {
            key: None,
            value: DeadLetter::new(
                String::from_utf8_lossy(&record.value),
                error,
                ErrorKind::Function,
                format!("function:{}", self.name),
            )
            .to_json(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// `len` records as consecutive ranges of at most `batch_size` records, as few as
/// `parallel_calls` and [`MIN_PART`] allow.
fn parts(len: usize, options: &RunnerOptions) -> impl Iterator<Item = Range<usize>> {
    let count = (len / MIN_PART)
        .clamp(1, options.parallel_calls.max(1))
        .max(len.div_ceil(options.batch_size.max(1)));
    let size = len.div_ceil(count).max(1);
    (0..len)
        .step_by(size)
        .map(move |start| start..(start + size).min(len))
}

/// The error of the first of `dead_letters`.
fn first_error(dead_letters: &[Record]) -> Option<String> {
    DeadLetter::error_of(&dead_letters.first()?.value)
}

/// The NDJSON batch of `records`' values, for a guest call.
pub(crate) fn json_batch<'a>(
    records: impl ExactSizeIterator<Item = &'a StoredRecord> + Clone,
) -> Batch {
    let count = records.len() as u32;
    let mut data = Vec::with_capacity(records.clone().map(|r| r.value.len() + 1).sum());
    for (i, record) in records.enumerate() {
        if i > 0 {
            data.push(b'\n');
        }
        data.extend_from_slice(&record.value);
    }
    Batch {
        encoding: Encoding::Json,
        count,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::{parts, RunnerOptions, MIN_PART};

    fn split(len: usize, batch_size: usize, parallel_calls: usize) -> Vec<(usize, usize)> {
        let options = RunnerOptions {
            batch_size,
            parallel_calls,
            ..RunnerOptions::default()
        };
        assert!(len <= options.poll_size(), "a poll takes at most {len}");
        parts(len, &options).map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn a_batch_splits_into_calls_of_at_most_batch_size_and_at_least_the_minimum() {
        assert_eq!(split(2000, 1000, 2), [(0, 1000), (1000, 2000)]);
        assert_eq!(split(1001, 1000, 2), [(0, 501), (501, 1001)]);
        assert_eq!(
            split(1000, 1000, 8),
            [(0, 250), (250, 500), (500, 750), (750, 1000)]
        );
        assert_eq!(split(2 * MIN_PART - 1, 1000, 2), [(0, 2 * MIN_PART - 1)]);
        assert_eq!(split(14, 7, 2), [(0, 7), (7, 14)]);
        assert_eq!(split(5, 7, 2), [(0, 5)]);
        assert_eq!(split(1000, 1000, 1), [(0, 1000)]);
        assert_eq!(split(1000, 1000, 0), [(0, 1000)]);
        assert_eq!(split(0, 1000, 2), []);
    }
}
