//! One streaming function's consume-process-produce loop.

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
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            poll_wait: Duration::from_millis(200),
            retry_backoff: Duration::from_millis(500),
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
                batch = consumer.poll(self.options.batch_size, wait) => batch,
            };
            let batch = match batch {
                Ok(batch) if !batch.is_empty() => batch,
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
            let (produced, written) = tokio::join!(self.process(&batch), async {
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
                read: batch.len(),
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

    /// Runs the batch, all of it on the component version current when it starts; on a
    /// failed call, runs its records one at a time.
    async fn process(&self, batch: &[StoredRecord]) -> Produced {
        let component = self.component.load_full();
        let mut produced = Produced::default();
        match self.call(&component, batch).await {
            Ok(output) => self.collect(batch, output, &mut produced),
            Err(error) if batch.len() == 1 => {
                produced
                    .dead_letters
                    .push(self.dead_letter(&batch[0], error.to_string()));
            }
            Err(error) => {
                tracing::warn!(function = %self.name, "batch of {} failed ({error}); retrying record by record", batch.len());
                for record in batch {
                    let single = std::slice::from_ref(record);
                    match self.call(&component, single).await {
                        Ok(output) => self.collect(single, output, &mut produced),
                        Err(error) => produced
                            .dead_letters
                            .push(self.dead_letter(record, error.to_string())),
                    }
                }
            }
        }
        produced
    }

    async fn call(
        &self,
        component: &Arc<GuestComponent>,
        batch: &[StoredRecord],
    ) -> Result<ProcessOutput, GuestCallError> {
        let input = json_batch(batch.iter());
        let component = component.clone();
        let function = self.name.clone();
        let outcome =
            tokio::task::spawn_blocking(move || component.process(&function, &input)).await?;
        GuestCallError::flatten(outcome)
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
