//! `POST /dlq/replay`: sends the records kept in a dead-letter table back into a stream,
//! after the cause of their failure was fixed (`moose dlq replay`).
//!
//! Each dead letter goes back where it came from, by its `source`: `ingest:<route>` to the
//! endpoint's stream, `function:<name>` and `window:<name>` to the stream the function or
//! windowed aggregation reads (a function's output that did not fit, `error_kind` `output`,
//! to the function's destination), `table:<name>` to the stream the table is filled from;
//! or all of them to the stream `to` names. A record is checked against the stream's model
//! first and left in the table, counted as invalid, when it does not fit.
//!
//! Delivery is at-least-once: replayed records are appended to the stream like new ones,
//! so every reader of that stream (its table, each function on it) gets them again, and
//! the dead letters stay in their table: replaying the same selection twice sends the
//! records twice. Only dead letters stored before the replay's second began are read, so
//! records that fail again during the replay are not read again by it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

use super::MgmtState;
use crate::infra::Infra;
use moose_model::app::App;
use moose_olap::ddl::quote_ident;
use moose_pipeline::functions::Destination;
use moose_records::compact;
use moose_streams::Record;

/// Dead letters read per query.
const PAGE: usize = 5_000;
/// Problems of invalid records the answer lists.
const MAX_PROBLEMS: usize = 10;

/// Where the dead letters of an app can go back to.
pub struct ReplayRoutes {
    dead_letters: BTreeSet<String>,
    /// A dead letter's `source` to the stream it is replayed into.
    sources: BTreeMap<String, String>,
    /// A function's `source` to its destination, for its outputs that did not fit.
    outputs: BTreeMap<String, String>,
    /// The app's declared streams (never a dead-letter stream).
    streams: BTreeMap<String, Destination>,
}

impl ReplayRoutes {
    /// The routes of `app`, which runs as `infra`.
    pub fn new(app: &App, infra: &Infra) -> Self {
        let def = &app.def;
        let ingests = def
            .ingests
            .iter()
            .map(|i| (format!("ingest:{}", app.ingest_route(i)), &i.stream));
        let functions = def
            .functions
            .iter()
            .map(|f| (format!("function:{}", f.name), &f.source));
        let windows = def
            .windowed_aggregations
            .iter()
            .map(|w| (format!("window:{}", w.name), &w.source));
        let tables = infra
            .syncs
            .iter()
            .map(|s| (format!("table:{}", s.table), &s.stream));
        let sources = ingests
            .chain(functions)
            .chain(windows)
            .chain(tables)
            .map(|(source, stream)| (source, stream.clone()))
            .collect();
        let outputs = def
            .functions
            .iter()
            .filter_map(|f| Some((format!("function:{}", f.name), f.destination.clone()?)))
            .collect();
        let streams = def
            .streams
            .iter()
            .filter_map(|s| Some((s.name.clone(), Destination::of(app, &s.name).ok()?)))
            .collect();
        Self {
            dead_letters: infra.dead_letters.iter().cloned().collect(),
            sources,
            outputs,
            streams,
        }
    }
}

/// What `POST /dlq/replay` is asked to do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The dead-letter table to read.
    pub dead_letter: String,
    /// A ClickHouse condition on its columns (`record`, `error`, `error_kind`, `source`,
    /// `failed_at`) selecting the dead letters to replay; all when absent.
    #[serde(default, rename = "where")]
    pub condition: Option<String>,
    /// Replay every selected record into this stream instead of where it came from.
    #[serde(default)]
    pub to: Option<String>,
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("`{name}` is not a dead-letter table of the app; they are: {known}")]
    UnknownDeadLetter { name: String, known: String },
    #[error("`{name}` is not a stream of the app (dead-letter streams are not replayed into); streams: {known}")]
    UnknownStream { name: String, known: String },
    #[error("reading the dead letters failed: {0}")]
    Read(String),
    #[error(
        "writing to stream `{stream}` failed after {replayed} records were replayed: {message}"
    )]
    Write {
        stream: String,
        replayed: usize,
        message: String,
    },
}

impl ReplayError {
    /// Whether the request was at fault (else the store or the streams were).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            ReplayError::UnknownDeadLetter { .. } | ReplayError::UnknownStream { .. }
        )
    }
}

/// What a replay did.
#[derive(Debug, Default)]
struct Outcome {
    selected: usize,
    replayed: BTreeMap<String, usize>,
    invalid: usize,
    problems: Vec<Value>,
    unroutable: BTreeMap<String, usize>,
}

/// Replays the dead letters `request` selects; returns the counts as JSON.
pub async fn replay(state: &MgmtState, request: &ReplayRequest) -> Result<Value, ReplayError> {
    let view = state.app.load_full();
    let routes = &view.replay;
    let known = |names: &mut dyn Iterator<Item = &String>| {
        names.map(String::as_str).collect::<Vec<_>>().join(", ")
    };
    if !routes.dead_letters.contains(&request.dead_letter) {
        return Err(ReplayError::UnknownDeadLetter {
            name: request.dead_letter.clone(),
            known: known(&mut routes.dead_letters.iter()),
        });
    }
    if let Some(to) = request
        .to
        .as_ref()
        .filter(|to| !routes.streams.contains_key(*to))
    {
        return Err(ReplayError::UnknownStream {
            name: to.clone(),
            known: known(&mut routes.streams.keys()),
        });
    }
    let before = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    let condition = request.condition.as_deref().unwrap_or("1");
    let mut outcome = Outcome::default();
    for page in 0.. {
        let sql = format!(
            "SELECT record, source, error_kind FROM {} WHERE failed_at < '{before}' AND ({condition}) \
             ORDER BY failed_at, source, record LIMIT {PAGE} OFFSET {}",
            quote_ident(&request.dead_letter),
            page * PAGE
        );
        let rows = state
            .olap
            .fetch_bytes(&sql, "JSONEachRow", &[("readonly", "2")])
            .await
            .map_err(|e| ReplayError::Read(e.to_string()))?;
        let mut batches: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
        let mut read = 0;
        for line in rows.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            read += 1;
            let row: Value = serde_json::from_slice(line)
                .map_err(|e| ReplayError::Read(format!("a row is not JSON: {e}")))?;
            let (record, source) = (text(&row["record"]), text(&row["source"]));
            let target = match (&request.to, text(&row["error_kind"])) {
                (Some(to), _) => Some(to),
                (None, "output") => routes.outputs.get(source),
                (None, _) => routes.sources.get(source),
            };
            let Some(destination) = target.and_then(|t| routes.streams.get(t)) else {
                *outcome.unroutable.entry(source.to_string()).or_default() += 1;
                continue;
            };
            let checked = destination
                .validator
                .check_record(record.as_bytes(), &destination.key_fields)
                .map_err(|errors| {
                    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    errors.join("; ")
                });
            match checked {
                Ok(key) => batches
                    .entry(destination.stream.as_str())
                    .or_default()
                    .push(Record {
                        key,
                        value: compact(record.as_bytes()),
                        timestamp_ms: chrono::Utc::now().timestamp_millis(),
                    }),
                Err(problem) => {
                    outcome.invalid += 1;
                    if outcome.problems.len() < MAX_PROBLEMS {
                        outcome.problems.push(json!({
                            "record": record, "stream": destination.stream, "problem": problem,
                        }));
                    }
                }
            }
        }
        outcome.selected += read;
        for (stream, records) in batches {
            let count = records.len();
            state
                .streams
                .produce(stream, records)
                .await
                .map_err(|e| ReplayError::Write {
                    stream: stream.to_string(),
                    replayed: outcome.replayed.values().sum(),
                    message: e.to_string(),
                })?;
            *outcome.replayed.entry(stream.to_string()).or_default() += count;
        }
        if read < PAGE {
            break;
        }
    }
    let replayed: usize = outcome.replayed.values().sum();
    tracing::info!(
        dead_letter = %request.dead_letter,
        "replayed {replayed} of {} dead letters ({} invalid, {} with no stream to go back to)",
        outcome.selected,
        outcome.invalid,
        outcome.unroutable.values().sum::<usize>()
    );
    Ok(json!({
        "dead_letter": request.dead_letter,
        "selected": outcome.selected,
        "replayed": replayed,
        "streams": outcome.replayed,
        "invalid": outcome.invalid,
        "problems": outcome.problems,
        "unroutable": outcome.unroutable,
    }))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}
