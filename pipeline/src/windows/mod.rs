//! Windowed aggregations: a component aggregates a stream over tumbling or hopping
//! event-time windows with its own state (`window-init`, `window-accumulate`,
//! `window-merge`, `window-emit` in `wit/moose.wit`), and the host keeps that state
//! durably and writes each closed window's rows to a table.
//!
//! - [`assign`]: which windows a record belongs to, the watermark.
//! - [`state`]: the durable state store ([`StateStore`]) and its embedded backend.
//! - [`clickhouse`]: the state store of `moose prod`, in ClickHouse.
//! - [`runner`]: one aggregation's consume, accumulate, close, emit loop.
//!
//! # Semantics
//!
//! Windows are aligned to the Unix epoch. Each source partition's event time is the
//! latest event time accumulated from it; the watermark is the **least** of them minus
//! the allowed lateness, so a partition read behind the others (a backlog after a restart
//! or a takeover, uneven fetches) never makes the others' windows close over its records.
//! A partition that delivered nothing for `[streaming] window_partition_idle_seconds`
//! (default 5) and whose stored next offset reached its end (nothing left to read in it)
//! stops holding the watermark back until it delivers again; when every partition is idle
//! the latest event time counts. A partition with unread records that never delivered one
//! holds the watermark where it is until it does (a first start on a stream with history).
//! The watermark never goes back, and it moves once per batch, after the batch is
//! accumulated, or on an empty poll when idleness lets it advance. A record is assigned
//! to its windows that are still open at the start of its batch: a record some of whose
//! windows (of a hopping aggregation) are already closed is accumulated into the open
//! ones only; a record whose windows are all closed is *late*: it goes to the dead-letter
//! stream (`error_kind` `late`, the message naming its window and the watermark). State is kept
//! per (window, source partition); when the watermark reaches a window's end the host
//! merges its partitions' states (in partition order), calls `window-emit`, checks the
//! rows against the target model (a row that does not match is dead-lettered) and writes
//! them to the target table. A failed `window-accumulate` call (trap, time-out, memory,
//! guest error) is retried record by record, so only the failing records are
//! dead-lettered; a failed `window-merge` or `window-emit` is logged and the window is
//! dropped without rows.
//!
//! With `[streaming] window_idle_flush_seconds = N`, a source without new records for N
//! seconds advances the watermark by the idle time (latest event time + idle time −
//! lateness), so the last windows of a quiet stream close. Off by default: on a replay of
//! old events a pause would otherwise close windows whose records are still to come.
//!
//! # Durability: exactly-once state, idempotent emission
//!
//! Each batch is stored in this order:
//!
//! 1. dead letters are written to the dead-letter stream (durable);
//! 2. **one atomic, synced write** of the state store holds the new states of the touched
//!    (window, partition) pairs, the removal of the closed windows' states, the closed
//!    windows' rows as *pending emissions*, and the progress: watermark, latest event
//!    time and the next source offset of every partition;
//! 3. the pending rows are inserted into the target table, one insert per window with the
//!    deduplication token `moose-window:<aggregation>:<start>:<end>` (the target table is
//!    created with `non_replicated_deduplication_window`, replicated tables deduplicate
//!    anyway), then forgotten;
//! 4. the consumer group `window:<name>` commits its offsets.
//!
//! The stored offsets, not the group's, decide what is new: a record below its
//! partition's stored offset is already part of the state and is skipped. A crash before
//! step 2 runs the batch again from the same stored state; after step 2 the batch is never
//! accumulated again. So every record is accumulated exactly once, and late records are
//! judged against the same watermark. Between emit and forget (a crash after step 2 and
//! before the pending rows are forgotten) the rows are inserted again on restart, under
//! the same token, and ClickHouse keeps one copy: each closed window appears in the target
//! table exactly once. Dead letters are at-least-once (a crash between steps 1 and 2
//! writes them again).
//!
//! # Reload
//!
//! The runner reads its component through the reload handle once per batch, so a reload
//! swaps the guest between batches and keeps the runner, its open windows and its state.
//! A reload that changes the aggregation's source, time field, window or `state-version`
//! restarts the runner, which finds a stored fingerprint that no longer matches: it prints
//! a warning and drops the open windows' state (their records are not aggregated again),
//! keeping its position in the stream and the pending rows of windows closed before.
//!
//! # Backends
//!
//! `moose dev` keeps the state in an embedded fjall database of its own,
//! `.moose/windows/`, keyspace `windows`.
//!
//! `moose prod` keeps it in ClickHouse ([`clickhouse`]: table `_moose_window_state`, one
//! snapshot row per write, a single-row insert being atomic), shared by the replicas, and
//! runs each aggregation on **one replica at a time**: the holder of the aggregation's
//! lease `window:<name>` in the lease table of [`crate::lease`]. The holder's runner
//! is the only member of consumer group `window:<name>`, so it reads every partition of
//! the source; the other replicas wait for the lease. When the holder dies its lease
//! expires and another replica takes it, loads the latest snapshot and goes on from the
//! stored offsets (its consumer starts at the group's committed offsets, which never pass
//! the stored ones; records below them are skipped), so the guarantees above hold across
//! replicas: every record accumulated exactly once, every closed window written once. A
//! holder that loses its lease (renewals failing for two thirds of it, or another claim
//! first) stops at the next batch boundary and stores nothing more, before the lease can
//! pass on. Takeover takes up to one lease length (`[streaming] lease_seconds`, default
//! 60) plus the time the broker needs to drop the dead member from the group (its
//! session timeout).

pub mod assign;
pub mod clickhouse;
mod engine;
pub mod runner;
pub mod state;

use std::sync::Arc;

use crate::WiringError;
use moose_model::app::App;
use moose_model::types::{Model, ScalarType, WindowedAggregationDef};
use moose_olap::OlapClient;
use moose_records::ModelValidator;
use moose_runtime::ComponentHandle;
use moose_streams::Streams;
use moose_telemetry::metrics::Metrics;

pub use clickhouse::{ClickHouseStateStore, WINDOW_STATE_TABLE};
pub use runner::{group, lease_name, WindowLease, WindowOptions, WindowRunner};
pub use state::{FjallStateStore, StateError, StateStore};

/// What a window runner is started from; a different plan means a restart.
#[derive(Clone, PartialEq)]
pub struct WindowPlan {
    pub def: WindowedAggregationDef,
    pub component: String,
    pub source_model: Option<Model>,
    pub target_model: Option<Model>,
}

impl WindowPlan {
    /// The plan of windowed aggregation `def` of validated `app`.
    pub fn of(app: &App, def: &WindowedAggregationDef) -> Result<Self, WiringError> {
        let component = app
            .windowed_aggregation_component(&def.name)
            .map(|c| c.name.clone())
            .ok_or_else(|| WiringError::NoComponent(def.name.clone()))?;
        let source_model = app
            .def
            .streams
            .iter()
            .find(|s| s.name == def.source)
            .and_then(|s| app.model(&s.model))
            .cloned();
        Ok(Self {
            def: def.clone(),
            component,
            source_model,
            target_model: app.model(&def.target.model).cloned(),
        })
    }
}

/// What every window runner of a host shares.
#[derive(Clone)]
pub struct WindowEnv {
    pub store: Arc<dyn StateStore>,
    pub olap: Arc<OlapClient>,
    pub options: WindowOptions,
    /// Set under `moose prod`: each aggregation runs only on the replica holding its lease.
    pub lease: Option<WindowLease>,
}

impl WindowEnv {
    /// The runner of `plan` in validated `app`.
    pub fn runner(
        &self,
        app: &App,
        plan: &WindowPlan,
        component: ComponentHandle,
        streams: Arc<dyn Streams>,
        metrics: Arc<Metrics>,
    ) -> Result<WindowRunner, WiringError> {
        let def = &plan.def;
        let time_type = plan
            .source_model
            .as_ref()
            .and_then(|m| m.fields.iter().find(|f| f.name == def.time_field))
            .and_then(|f| f.data_type.scalar().cloned())
            .unwrap_or(ScalarType::DateTime);
        let target = ModelValidator::new(app, &def.target.model)
            .ok_or_else(|| WiringError::UnknownModel(def.target.model.clone()))?;
        Ok(WindowRunner {
            def: def.clone(),
            time_type,
            target,
            component,
            streams,
            olap: self.olap.clone(),
            store: self.store.clone(),
            metrics,
            options: self.options.clone(),
            lease: self.lease.clone(),
        })
    }
}
