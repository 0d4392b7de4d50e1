//! The event-time engine of a windowed aggregation, without I/O: assigns a batch's records
//! to windows, folds them into per-partition state through the guest, advances the
//! watermark and closes the windows it passed, producing the [`Update`] to store and the
//! dead letters to write. [`super::runner`] feeds it batches and stores what it returns.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::assign::{
    event_time_ms, is_closed, watermark_event_time, EventTimeError, Holds, Tiling,
};
use super::state::{Emission, Progress, Update, WindowKey};
use crate::functions::json_batch;
use crate::GuestCallError;
use moose_model::types::ScalarType;
use moose_records::{DeadLetter, ErrorKind, ModelValidator};
use moose_runtime::types::{AccumulateOutput, Batch, WindowBounds};
use moose_runtime::GuestComponent;
use moose_streams::{Record, StoredRecord};

/// The four guest calls of a windowed aggregation: a loaded
/// component, or a stand-in in tests.
pub(super) trait WindowGuest {
    fn init(&self, aggregation: &str, window: WindowBounds) -> Result<Vec<u8>, GuestCallError>;
    fn accumulate(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestCallError>;
    fn merge(
        &self,
        aggregation: &str,
        window: WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Vec<u8>, GuestCallError>;
    fn emit(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
    ) -> Result<Batch, GuestCallError>;
}

impl WindowGuest for GuestComponent {
    fn init(&self, aggregation: &str, window: WindowBounds) -> Result<Vec<u8>, GuestCallError> {
        GuestCallError::flatten(self.window_init(aggregation, window))
    }

    fn accumulate(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestCallError> {
        GuestCallError::flatten(self.window_accumulate(aggregation, window, state, input))
    }

    fn merge(
        &self,
        aggregation: &str,
        window: WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Vec<u8>, GuestCallError> {
        GuestCallError::flatten(self.window_merge(aggregation, window, a, b))
    }

    fn emit(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
    ) -> Result<Batch, GuestCallError> {
        GuestCallError::flatten(self.window_emit(aggregation, window, state))
    }
}

/// The in-memory copy of the stored state.
#[derive(Default)]
pub(super) struct Live {
    pub progress: Progress,
    pub windows: BTreeMap<WindowKey, BTreeMap<u32, Vec<u8>>>,
}

/// What one batch (or idle tick) produced.
#[derive(Default)]
pub(super) struct Step {
    pub update: Update,
    pub dead_letters: Vec<Record>,
    pub read: u64,
    pub accumulated: u64,
    pub late: u64,
    pub failed: u64,
    pub emitted_windows: u64,
    pub emitted_rows: u64,
}

/// One aggregation's definition as the engine needs it.
pub(super) struct Context {
    pub name: String,
    pub tiling: Tiling,
    pub time_field: String,
    pub time_type: ScalarType,
    /// Checks emitted rows against the target table's model.
    pub target: ModelValidator,
}

pub(super) fn bounds(window: &WindowKey) -> WindowBounds {
    WindowBounds {
        start_ms: window.start_ms,
        end_ms: window.end_ms,
    }
}

fn key(window: &WindowBounds) -> WindowKey {
    WindowKey {
        start_ms: window.start_ms,
        end_ms: window.end_ms,
    }
}

pub(super) fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ms} ms"))
}

impl Context {
    fn dead_letter(&self, record: &[u8], error: String, kind: ErrorKind) -> Record {
        Record {
            key: None,
            value: DeadLetter::new(
                String::from_utf8_lossy(record),
                error,
                kind,
                format!("window:{}", self.name),
            )
            .to_json(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Assigns, accumulates and closes: everything of one batch but the writes.
    pub fn step(
        &self,
        component: &impl WindowGuest,
        live: &mut Live,
        batch: &[StoredRecord],
        holds: &Holds,
    ) -> Step {
        let mut step = Step::default();
        let watermark = live.progress.watermark;
        let mut groups: BTreeMap<(WindowKey, u32), Vec<usize>> = BTreeMap::new();
        for (index, record) in batch.iter().enumerate() {
            let next = live.progress.offsets.entry(record.partition).or_insert(0);
            if record.offset < *next {
                // Already part of the stored state (read again after a restart).
                continue;
            }
            *next = record.offset + 1;
            step.read += 1;
            let time = serde_json::from_slice::<Value>(&record.value)
                .map_err(|e| EventTimeError::NotJson(e.to_string()))
                .and_then(|value| event_time_ms(&value, &self.time_field, &self.time_type));
            let time = match time {
                Ok(time) => time,
                Err(error) => {
                    step.failed += 1;
                    step.dead_letters.push(self.dead_letter(
                        &record.value,
                        error.to_string(),
                        ErrorKind::Function,
                    ));
                    continue;
                }
            };
            let windows = self.tiling.windows_of(time);
            let open: Vec<&WindowBounds> = windows
                .iter()
                .filter(|w| !watermark.is_some_and(|wm| is_closed(w, wm)))
                .collect();
            if open.is_empty() {
                let last = windows.last().map(key).unwrap_or(WindowKey {
                    start_ms: time,
                    end_ms: time,
                });
                step.late += 1;
                step.dead_letters.push(self.dead_letter(
                    &record.value,
                    format!(
                        "late record: event time {} is in window [{}, {}), closed at watermark {}",
                        time_text(time),
                        time_text(last.start_ms),
                        time_text(last.end_ms),
                        watermark.map_or_else(|| "-".into(), time_text)
                    ),
                    ErrorKind::Late,
                ));
                continue;
            }
            for window in open {
                groups
                    .entry((key(window), record.partition))
                    .or_default()
                    .push(index);
            }
            live.progress.max_event_ms =
                Some(live.progress.max_event_ms.map_or(time, |max| max.max(time)));
            let partition_ms = live
                .progress
                .partition_event_ms
                .entry(record.partition)
                .or_insert(time);
            *partition_ms = (*partition_ms).max(time);
        }

        let mut rejected: BTreeMap<usize, String> = BTreeMap::new();
        let mut touched: BTreeSet<usize> = BTreeSet::new();
        for ((window, partition), indexes) in groups {
            let stored = live
                .windows
                .get(&window)
                .and_then(|states| states.get(&partition))
                .cloned();
            let state = match stored {
                Some(state) => Ok(state),
                None => component.init(&self.name, bounds(&window)),
            };
            let records: Vec<&StoredRecord> = indexes.iter().map(|i| &batch[*i]).collect();
            let state = match state {
                Ok(state) => {
                    let (state, errors) = self.accumulate(component, &window, state, &records);
                    for (position, error) in errors {
                        rejected.entry(indexes[position]).or_insert(error);
                    }
                    Some(state)
                }
                Err(error) => {
                    for index in &indexes {
                        rejected
                            .entry(*index)
                            .or_insert_with(|| format!("window-init failed: {error}"));
                    }
                    None
                }
            };
            touched.extend(&indexes);
            if let Some(state) = state {
                live.windows
                    .entry(window)
                    .or_default()
                    .insert(partition, state.clone());
                step.update.states.push((window, partition, state));
            }
        }
        for (index, error) in &rejected {
            step.dead_letters.push(self.dead_letter(
                &batch[*index].value,
                error.clone(),
                ErrorKind::Function,
            ));
        }
        step.failed += rejected.len() as u64;
        step.accumulated += (touched.len() - rejected.len()) as u64;

        if let Some(time) = watermark_event_time(&live.progress, holds) {
            let advanced = self.tiling.watermark(time);
            live.progress.watermark = Some(watermark.map_or(advanced, |wm| wm.max(advanced)));
        }
        self.close(component, live, &mut step);
        // A window closed by this batch is only removed: one write never both sets and
        // removes a key.
        let closed: BTreeSet<WindowKey> = step.update.closed.iter().map(|(w, _)| *w).collect();
        step.update
            .states
            .retain(|(window, _, _)| !closed.contains(window));
        step
    }

    /// Folds `records` into `state`; on a failed call, one record at a time so that only
    /// the failing records are rejected. Returns the new state and the rejected records'
    /// positions in `records`.
    fn accumulate(
        &self,
        component: &impl WindowGuest,
        window: &WindowKey,
        state: Vec<u8>,
        records: &[&StoredRecord],
    ) -> (Vec<u8>, Vec<(usize, String)>) {
        let call = |state: &[u8], records: &[&StoredRecord]| {
            let input = json_batch(records.iter().copied());
            component.accumulate(&self.name, bounds(window), state, &input)
        };
        match call(&state, records) {
            Ok(output) => {
                let errors = output
                    .errors
                    .into_iter()
                    .filter(|e| (e.index as usize) < records.len())
                    .map(|e| (e.index as usize, e.message))
                    .collect();
                (output.state, errors)
            }
            Err(error) if records.len() == 1 => (state, vec![(0, error.to_string())]),
            Err(error) => {
                tracing::warn!(aggregation = %self.name, "accumulating {} records failed ({error}); retrying record by record", records.len());
                let mut state = state;
                let mut errors = Vec::new();
                for (position, record) in records.iter().enumerate() {
                    match call(&state, std::slice::from_ref(record)) {
                        Ok(output) => match output.errors.into_iter().next() {
                            Some(e) => errors.push((position, e.message)),
                            None => state = output.state,
                        },
                        Err(error) => errors.push((position, error.to_string())),
                    }
                }
                (state, errors)
            }
        }
    }

    /// Closes every open window the watermark passed: merges its partitions' states,
    /// emits its rows and checks them against the target model.
    pub fn close(&self, component: &impl WindowGuest, live: &mut Live, step: &mut Step) {
        let Some(watermark) = live.progress.watermark else {
            return;
        };
        let closing: Vec<WindowKey> = live
            .windows
            .keys()
            .filter(|w| is_closed(&bounds(w), watermark))
            .copied()
            .collect();
        for window in closing {
            let Some(states) = live.windows.remove(&window) else {
                continue;
            };
            let partitions: Vec<u32> = states.keys().copied().collect();
            step.update.closed.push((window, partitions));
            let merged = states
                .into_values()
                .try_fold(None, |acc: Option<Vec<u8>>, b| match acc {
                    None => Ok(Some(b)),
                    Some(a) => component
                        .merge(&self.name, bounds(&window), &a, &b)
                        .map(Some),
                });
            let rows = merged
                .and_then(|state| {
                    component.emit(&self.name, bounds(&window), &state.unwrap_or_default())
                })
                .map_err(|error| {
                    tracing::error!(aggregation = %self.name, "window [{}, {}) produced no rows: {error}", time_text(window.start_ms), time_text(window.end_ms));
                });
            let Ok(rows) = rows else {
                continue;
            };
            let mut emission = Emission {
                rows: Vec::with_capacity(rows.data.len()),
                count: 0,
            };
            for line in rows.data.split(|b| *b == b'\n').take(rows.count as usize) {
                match self.target.check_line(line, &[]) {
                    Ok(_) => {
                        if emission.count > 0 {
                            emission.rows.push(b'\n');
                        }
                        emission.rows.extend_from_slice(line);
                        emission.count += 1;
                    }
                    Err(error) => {
                        step.dead_letters.push(self.dead_letter(
                            line,
                            format!("emitted row {error}"),
                            ErrorKind::Output,
                        ));
                    }
                }
            }
            step.emitted_windows += 1;
            step.emitted_rows += u64::from(emission.count);
            step.update.emissions.push((window, emission));
        }
    }
}

#[cfg(test)]
mod tests;
