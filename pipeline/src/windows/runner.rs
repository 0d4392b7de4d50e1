//! One windowed aggregation's loop: consume a batch of the source stream, assign records
//! to windows, fold them into the per-partition state with `window-accumulate`, advance
//! the watermark, close the windows it passed (`window-merge`, `window-emit`), and store
//! everything (see the module docs of [`crate::windows`] for the order of the writes).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::assign::{idle_watermark, is_closed, watermark_event_time, Holds, Tiling};
use super::engine::{bounds, time_text, Context, Live, Step};
use super::state::{Emission, Progress, StateError, StateStore, WindowKey};
use crate::lease::{Lease, LockOptions};
use moose_model::types::{ScalarType, WindowedAggregationDef};
use moose_olap::{OlapClient, OlapError};
use moose_records::ModelValidator;
use moose_retry::{self as retry, Backoff};
use moose_runtime::ComponentHandle;
use moose_streams::{consumer_until_stopped, StoredRecord, Streams};
use moose_telemetry::events::{BatchDone, Event, Stage};
use moose_telemetry::metrics::{Metrics, WindowEvent};

/// Tuning of a window runner.
#[derive(Debug, Clone)]
pub struct WindowOptions {
    /// Most records read in one batch.
    pub batch_size: usize,
    /// Longest a poll waits for the first record.
    pub poll_wait: Duration,
    /// Pause before retrying a failed write.
    pub retry_backoff: Duration,
    /// Without records for this long, the watermark advances by the idle time.
    pub idle_flush: Option<Duration>,
    /// A partition without records for this long, with nothing left to read, no longer
    /// holds the watermark back.
    pub partition_idle: Duration,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            poll_wait: Duration::from_millis(200),
            retry_backoff: Duration::from_millis(500),
            idle_flush: None,
            partition_idle: Duration::from_secs(5),
        }
    }
}

/// The consumer group of a windowed aggregation.
pub fn group(aggregation: &str) -> String {
    Stage::Window.group(aggregation)
}

/// What the stored state was built under: the source, the time field, the window and
/// the state version. Stored state is reused only while it is unchanged.
pub fn fingerprint(def: &WindowedAggregationDef) -> String {
    serde_json::json!({
        "source": def.source,
        "time_field": def.time_field,
        "window": def.window,
        "state_version": def.state_version,
    })
    .to_string()
}

/// The insert-deduplication token of a window's rows: the same window always writes
/// under the same token, so writing its rows again after a crash adds nothing.
pub fn dedup_token(aggregation: &str, window: &WindowKey) -> String {
    format!(
        "moose-window:{aggregation}:{}:{}",
        window.start_ms, window.end_ms
    )
}

/// Runs one windowed aggregation until cancelled.
pub struct WindowRunner {
    pub def: WindowedAggregationDef,
    /// Type of the event-time field.
    pub time_type: ScalarType,
    /// Checks emitted rows against the target table's model.
    pub target: ModelValidator,
    /// Read once per batch: a reload swaps it between batches.
    pub component: ComponentHandle,
    pub streams: Arc<dyn Streams>,
    pub olap: Arc<OlapClient>,
    pub store: Arc<dyn StateStore>,
    pub metrics: Arc<Metrics>,
    pub options: WindowOptions,
    /// With a lease, the runner runs only while this replica holds it.
    pub lease: Option<WindowLease>,
}

/// The lease that makes one replica of several the only runner of an aggregation.
#[derive(Clone)]
pub struct WindowLease {
    pub client: Arc<OlapClient>,
    /// This replica's name in the lease table.
    pub replica: String,
    pub options: LockOptions,
}

/// The lease name of windowed aggregation `aggregation`.
pub fn lease_name(aggregation: &str) -> String {
    group(aggregation)
}

/// What the runner knows of its source's partitions for the watermark ([`Holds`]): when
/// each last delivered a record (the runner's start for those that did not yet), and
/// each one's unread offsets, read at most once a second.
struct SourcePartitions {
    quiet_after: Duration,
    started: Instant,
    last_record: HashMap<u32, Instant>,
    unread: Option<(Instant, BTreeMap<u32, Range<u64>>)>,
}

impl SourcePartitions {
    fn new(quiet_after: Duration) -> Self {
        Self {
            quiet_after,
            started: Instant::now(),
            last_record: HashMap::new(),
            unread: None,
        }
    }

    /// Notes that `delivered` partitions delivered records now, and returns the holds on
    /// the watermark given `progress` (before those records). The unread offsets are read
    /// again only while they matter: some partition is quiet, or some was never read.
    async fn holds(
        &mut self,
        runner: &WindowRunner,
        progress: &Progress,
        delivered: &BTreeSet<u32>,
    ) -> Holds {
        let now = Instant::now();
        for partition in delivered {
            self.last_record.insert(*partition, now);
        }
        let quiet: BTreeSet<u32> = progress
            .partition_event_ms
            .keys()
            .filter(|p| {
                self.last_record.get(p).unwrap_or(&self.started).elapsed() >= self.quiet_after
            })
            .copied()
            .collect();
        let refresh = match &self.unread {
            None => true,
            Some((read, unread)) => {
                read.elapsed() >= Duration::from_secs(1)
                    && (!quiet.is_empty()
                        || unread
                            .keys()
                            .any(|p| !progress.offsets.contains_key(p) && !delivered.contains(p)))
            }
        };
        if refresh {
            let name = &runner.def.name;
            match runner.streams.lag(&runner.def.source, &group(name)).await {
                Ok(lag) => {
                    let unread = lag
                        .iter()
                        .map(|p| (p.partition, p.committed..p.end))
                        .collect();
                    self.unread = Some((Instant::now(), unread));
                }
                Err(e) => {
                    tracing::debug!(aggregation = %name, "reading the offsets of `{}` failed: {e}", runner.def.source);
                }
            }
        }
        Holds {
            quiet,
            unread: self.unread.as_ref().map(|(_, unread)| unread.clone()),
        }
    }
}

impl WindowRunner {
    /// Consumes until `stop` is cancelled; the batch in flight is finished and stored
    /// first. With a lease, waits until this replica holds it, runs while it is held
    /// (stopping at the next batch boundary once it is lost, without storing that batch)
    /// and waits for it again.
    pub async fn run(self, stop: CancellationToken) {
        let Some(lease) = self.lease.clone() else {
            self.run_held(&stop, &CancellationToken::new()).await;
            return;
        };
        let name = lease_name(&self.def.name);
        loop {
            let held = tokio::select! {
                _ = stop.cancelled() => return,
                held = Lease::acquire(&lease.client, &name, &lease.replica, &lease.options) => held,
            };
            let held = match held {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(aggregation = %self.def.name, "taking lease `{name}` failed (retrying): {e}");
                    if self.pause(&stop).await {
                        return;
                    }
                    continue;
                }
            };
            tracing::info!(aggregation = %self.def.name, replica = %lease.replica, "running windowed aggregation `{}` under lease `{name}`", self.def.name);
            let lost = held.lost();
            let run_stop = stop.child_token();
            let stop_on_loss = {
                let (lost, run_stop) = (lost.clone(), run_stop.clone());
                tokio::spawn(async move {
                    lost.cancelled().await;
                    run_stop.cancel();
                })
            };
            self.run_held(&run_stop, &lost).await;
            stop_on_loss.abort();
            if lost.is_cancelled() {
                tracing::warn!(aggregation = %self.def.name, "stopped windowed aggregation `{}`: lease `{name}` lost", self.def.name);
                drop(held);
                continue;
            }
            if let Err(e) = held.release("stopped").await {
                tracing::warn!(aggregation = %self.def.name, "releasing lease `{name}` failed (it expires by itself): {e}");
            }
            return;
        }
    }

    /// Consumes until `stop` is cancelled; no state is stored once `fence` is cancelled.
    async fn run_held(&self, stop: &CancellationToken, fence: &CancellationToken) {
        let name = self.def.name.clone();
        let fingerprint = fingerprint(&self.def);
        let Some(snapshot) = self
            .retry(stop, "loading the window state", || {
                let name = name.clone();
                on_store(&self.store, move |store| store.load(&name))
            })
            .await
        else {
            return;
        };
        let mut live = Live {
            progress: snapshot.progress,
            windows: snapshot.windows,
        };
        if snapshot
            .fingerprint
            .as_deref()
            .is_some_and(|f| f != fingerprint)
        {
            println!(
                "warning: windowed aggregation `{name}`: its source, time field, window or state version changed; dropping the state of {} open window(s)",
                live.windows.len()
            );
            let reset = self
                .retry(stop, "resetting the window state", || {
                    let (name, fingerprint) = (name.clone(), fingerprint.clone());
                    on_store(&self.store, move |store| store.reset(&name, &fingerprint))
                })
                .await;
            if reset.is_none() {
                return;
            }
            live.windows.clear();
        }
        // Rows of windows closed before a crash may not be in the table yet.
        let pending: Vec<(WindowKey, Emission)> = snapshot.pending.into_iter().collect();
        if !self.emit(&pending, stop).await {
            return;
        }

        let Some(mut consumer) = consumer_until_stopped(
            self.streams.as_ref(),
            &self.def.source,
            &group(&name),
            self.options.retry_backoff,
            stop,
        )
        .await
        else {
            return;
        };
        let context = Arc::new(Context {
            name: name.clone(),
            tiling: Tiling::new(&self.def.window),
            time_field: self.def.time_field.clone(),
            time_type: self.time_type.clone(),
            target: self.target.clone(),
        });
        let mut last_record = Instant::now();
        let mut partitions = SourcePartitions::new(self.options.partition_idle);
        self.metrics.set_open_windows(&name, live.windows.len());
        while !stop.is_cancelled() {
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = consumer.poll(self.options.batch_size, self.options.poll_wait) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(aggregation = %name, "poll failed: {e}");
                    if self.pause(stop).await {
                        break;
                    }
                    continue;
                }
            };
            let started = Instant::now();
            let (step, returned) = if batch.is_empty() {
                let holds = partitions
                    .holds(self, &live.progress, &BTreeSet::new())
                    .await;
                let mut target = watermark_event_time(&live.progress, &holds)
                    .map(|time| context.tiling.watermark(time));
                let quiet = last_record.elapsed();
                if let (Some(_), Some(max)) = (
                    self.options.idle_flush.filter(|flush| quiet >= *flush),
                    live.progress.max_event_ms,
                ) {
                    let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX);
                    target = target.max(Some(idle_watermark(&context.tiling, max, quiet_ms)));
                }
                let Some(watermark) = target else {
                    continue;
                };
                if live.progress.watermark.is_some_and(|wm| wm >= watermark)
                    || !live
                        .windows
                        .keys()
                        .any(|w| is_closed(&bounds(w), watermark))
                {
                    continue;
                }
                live.progress.watermark = Some(watermark);
                self.blocking_step(&context, live, Vec::new(), Holds::default())
                    .await
            } else {
                last_record = Instant::now();
                let delivered: BTreeSet<u32> = batch.iter().map(|r| r.partition).collect();
                let holds = partitions.holds(self, &live.progress, &delivered).await;
                self.blocking_step(&context, live, batch, holds).await
            };
            let Some((mut step, returned)) = step.zip(returned) else {
                tracing::error!(aggregation = %name, "the aggregation step did not complete; stopping");
                return;
            };
            live = returned;
            step.update.progress = live.progress.clone();
            if !self.store_step(&step, &fingerprint, stop, fence).await {
                return;
            }
            let emissions = std::mem::take(&mut step.update.emissions);
            if !self.emit(&emissions, stop).await {
                return;
            }
            // The group's offsets only skip reading again what the stored offsets already
            // cover; a failed commit is retried with the next batch.
            if let Err(e) = consumer.commit().await {
                tracing::warn!(aggregation = %name, "committing the source offsets failed: {e}");
            }
            self.count(&step, started.elapsed().as_secs_f64());
            self.metrics.set_open_windows(&name, live.windows.len());
        }
    }

    /// Runs [`Context::step`] (or only the closing, for an empty batch: an idle tick) off
    /// the async runtime; `None` when the task panicked.
    async fn blocking_step(
        &self,
        context: &Arc<Context>,
        mut live: Live,
        batch: Vec<StoredRecord>,
        holds: Holds,
    ) -> (Option<Step>, Option<Live>) {
        let component = self.component.load_full();
        let context = context.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let step = if batch.is_empty() {
                let mut step = Step::default();
                context.close(&*component, &mut live, &mut step);
                step
            } else {
                context.step(&*component, &mut live, &batch, &holds)
            };
            (step, live)
        })
        .await;
        match outcome {
            Ok((step, live)) => (Some(step), Some(live)),
            Err(_) => (None, None),
        }
    }

    /// Writes the dead letters, then the state, the closed windows' rows and the progress
    /// in one atomic write; false when stopped meanwhile.
    async fn store_step(
        &self,
        step: &Step,
        fingerprint: &str,
        stop: &CancellationToken,
        fence: &CancellationToken,
    ) -> bool {
        if !step.dead_letters.is_empty() {
            match &self.def.dead_letter {
                Some(stream) => {
                    let streams = &self.streams;
                    let written = self
                        .retry(stop, "writing dead letters", || {
                            streams.produce(stream, step.dead_letters.clone())
                        })
                        .await;
                    if written.is_none() {
                        return false;
                    }
                }
                None => tracing::warn!(
                    aggregation = %self.def.name,
                    "{} record(s) failed and the aggregation has no dead-letter stream",
                    step.dead_letters.len()
                ),
            }
        }
        if fence.is_cancelled() {
            return false;
        }
        self.retry(stop, "storing the window state", || {
            let (name, fingerprint) = (self.def.name.clone(), fingerprint.to_string());
            let update = step.update.clone();
            on_store(&self.store, move |store| {
                store.commit(&name, &fingerprint, &update)
            })
        })
        .await
        .is_some()
    }

    /// Writes closed windows' rows to the target table, each window under its
    /// deduplication token, then forgets them; false when stopped meanwhile.
    async fn emit(&self, emissions: &[(WindowKey, Emission)], stop: &CancellationToken) -> bool {
        if emissions.is_empty() {
            return true;
        }
        let table = &self.def.target.name;
        for (window, emission) in emissions {
            let token = dedup_token(&self.def.name, window);
            let (olap, token, name) = (&self.olap, &token, &self.def.name);
            let inserted = self
                .retry(stop, "writing window rows", || async move {
                    match insert_deduplicated(olap, table, emission, token).await {
                        Err(OlapError::Rejected { message, .. }) => {
                            tracing::error!(aggregation = %name, "the target table refused the rows of window [{}, {}): {message}", time_text(window.start_ms), time_text(window.end_ms));
                            Ok(())
                        }
                        other => other,
                    }
                })
                .await;
            if inserted.is_none() {
                return false;
            }
        }
        let windows: Vec<WindowKey> = emissions.iter().map(|(w, _)| *w).collect();
        self.retry(stop, "forgetting emitted windows", || {
            let (name, windows) = (self.def.name.clone(), windows.clone());
            on_store(&self.store, move |store| store.emitted(&name, &windows))
        })
        .await
        .is_some()
    }

    fn count(&self, step: &Step, seconds: f64) {
        let name = &self.def.name;
        let first_error = step
            .dead_letters
            .first()
            .and_then(|d| moose_records::DeadLetter::error_of(&d.value));
        BatchDone {
            stage: Stage::Window,
            name,
            read: step.read,
            written: step.emitted_rows,
            failed: step.dead_letters.len() as u64,
            first_error: first_error.as_deref(),
            seconds,
        }
        .record(&self.metrics);
        self.metrics
            .window_count(name, WindowEvent::Accumulated, step.accumulated);
        self.metrics
            .window_count(name, WindowEvent::Late, step.late);
        self.metrics
            .window_count(name, WindowEvent::Failed, step.failed);
        self.metrics
            .window_count(name, WindowEvent::Emitted, step.emitted_windows);
    }

    /// Runs `attempt` until it succeeds, pausing between failures; `None` when stopped.
    async fn retry<T, E: std::fmt::Display, Fut: std::future::Future<Output = Result<T, E>>>(
        &self,
        stop: &CancellationToken,
        what: &str,
        attempt: impl FnMut() -> Fut,
    ) -> Option<T> {
        let name = &self.def.name;
        let done = retry::until_stopped(
            Backoff::fixed(self.options.retry_backoff),
            stop,
            attempt,
            |e, pause| tracing::warn!(aggregation = %name, "{what} failed, retrying in {pause:?}: {e}"),
        )
        .await;
        if done.is_none() {
            tracing::warn!(aggregation = %name, "stopping before {what} succeeded; the batch runs again on restart");
        }
        done
    }

    /// Sleeps for the backoff; true when stopped meanwhile.
    async fn pause(&self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(self.options.retry_backoff) => false,
        }
    }
}

/// Runs `f` on the state store off the async runtime.
async fn on_store<T: Send + 'static>(
    store: &Arc<dyn StateStore>,
    f: impl FnOnce(&dyn StateStore) -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| StateError::Store(format!("the state store's task failed: {e}")))?
}

/// `INSERT INTO table FORMAT JSONEachRow` with `insert_deduplication_token = token`: the
/// target table keeps the tokens of its recent inserts (see `olap::ddl`), so the same
/// window's rows written twice are stored once.
async fn insert_deduplicated(
    olap: &OlapClient,
    table: &str,
    emission: &Emission,
    token: &str,
) -> Result<(), OlapError> {
    if emission.count == 0 {
        return Ok(());
    }
    let timeout = Some(olap.config().request_timeout);
    let mut insert = olap
        .inner()
        .insert_formatted_with(format!(
            "INSERT INTO {} FORMAT JSONEachRow",
            moose_olap::ddl::quote_ident(table)
        ))
        .with_timeouts(timeout, timeout)
        .with_setting("date_time_input_format", "best_effort")
        .with_setting("insert_deduplicate", "1")
        .with_setting("insert_deduplication_token", token);
    let result = match insert.send(bytes::Bytes::from(emission.rows.clone())).await {
        Ok(()) => insert.end().await,
        Err(error) => Err(error),
    };
    result.map_err(|e| olap.error(e))
}
