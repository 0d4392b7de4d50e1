//! The ingest HTTP routes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use moose_records::{compact, parse_body, DeadLetter, ErrorKind, ModelValidator};
use moose_streams::{Record, Streams};
use moose_telemetry::events::{BatchDone, Event, Stage};
use moose_telemetry::metrics::Metrics;

/// Most problems an answer lists; the rest are counted.
pub const MAX_PROBLEMS: usize = 100;
/// A request's records go to the streams in pieces of at most this many bytes...
const PIECE_BYTES: usize = 4 << 20;
/// ...and this many records, so a request holds little more than its body.
const PIECE_RECORDS: usize = 20_000;

/// One ingest endpoint and what it needs to check and route records.
pub struct IngestEndpoint {
    pub name: String,
    pub stream: String,
    pub dead_letter: Option<String>,
    pub validator: ModelValidator,
    /// Fields whose values make a record's stream key.
    pub key_fields: Vec<String>,
}

/// The ingest endpoints keyed by route: `name`, or `name/version` for a versioned model.
pub type IngestEndpoints = BTreeMap<String, IngestEndpoint>;

/// Shared state of the ingest routes.
pub struct IngestState {
    /// Read once per request; replaced as a whole when a reload changes the endpoints.
    pub endpoints: ArcSwap<IngestEndpoints>,
    pub streams: Arc<dyn Streams>,
    pub metrics: Arc<Metrics>,
}

/// How much ingest may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Most bytes of request bodies held at once across requests; a request waits for
    /// room before its body is read.
    pub max_inflight_bytes: usize,
}

impl IngestLimits {
    /// The limits `[http]` sets.
    pub fn of(http: &crate::config::HttpSection) -> Self {
        Self {
            max_body_bytes: http.max_body_bytes,
            max_inflight_bytes: http.max_inflight_body_mb.saturating_mul(1 << 20),
        }
    }
}

/// `POST /ingest/{endpoint}` and `POST /ingest/{endpoint}/{version}`, bounded by `limits`
/// (413 beyond the body size, with a JSON error like every other answer).
pub fn router(state: Arc<IngestState>, limits: IngestLimits) -> Router {
    let max_body_bytes = limits.max_body_bytes;
    let total = permits(limits.max_inflight_bytes);
    let room = Arc::new(Semaphore::new(total));
    Router::new()
        .route("/ingest/{endpoint}", post(unversioned))
        .route("/ingest/{endpoint}/{version}", post(versioned))
        .layer(axum::middleware::from_fn(move |request, next| {
            wait_for_room(room.clone(), total, max_body_bytes, request, next)
        }))
        // Refuses a declared oversize body before reading it, and caps streamed ones.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_body_bytes,
        ))
        .layer(axum::middleware::map_response(
            move |response: Response| async move {
                if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the body is larger than {max_body_bytes} bytes ([http] max_body_bytes); \
                             send the records in smaller bodies"
                        ),
                        json!({ "max_body_bytes": max_body_bytes }),
                    )
                } else {
                    response
                }
            },
        ))
        .with_state(state)
}

/// Semaphore permits are KiB of body.
fn permits(bytes: usize) -> usize {
    bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS)
}

/// Holds back a request until the bodies being handled leave room for its body (its
/// declared length, else the largest allowed), and keeps that room until it is answered.
async fn wait_for_room(
    room: Arc<Semaphore>,
    total: usize,
    max_body_bytes: usize,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(max_body_bytes)
        .min(max_body_bytes);
    let wanted = permits(declared).min(total);
    let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
    // The semaphore is never closed.
    let Ok(_held) = room.acquire_many_owned(wanted).await else {
        return next.run(request).await;
    };
    next.run(request).await
}

#[derive(Serialize)]
struct RecordProblem {
    index: usize,
    field: String,
    problem: String,
}

fn error(status: StatusCode, message: String, extra: Value) -> Response {
    let mut body = json!({ "error": message });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (status, Json(body)).into_response()
}

async fn unversioned(
    State(state): State<Arc<IngestState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    ingest(&state, name, &body).await
}

async fn versioned(
    State(state): State<Arc<IngestState>>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    ingest(&state, format!("{name}/{version}"), &body).await
}

/// The records of a request not yet written: valid ones for the stream, invalid ones as
/// dead letters.
#[derive(Default)]
struct Piece {
    good: Vec<Record>,
    bad: Vec<Record>,
    bytes: usize,
    /// Index of the piece's first record in the request.
    first: usize,
}

/// What a request did so far.
#[derive(Default)]
struct Tally {
    accepted: usize,
    rejected: usize,
    problems: Vec<RecordProblem>,
    problems_total: usize,
}

async fn ingest(state: &IngestState, name: String, body: &[u8]) -> Response {
    let started = Instant::now();
    let endpoints = state.endpoints.load_full();
    let Some(endpoint) = endpoints.get(&name) else {
        let known: Vec<&String> = endpoints.keys().collect();
        return error(
            StatusCode::NOT_FOUND,
            format!("no ingest endpoint `{name}`"),
            json!({ "endpoints": known }),
        );
    };
    let records = match parse_body(body) {
        Ok(records) => records,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string(), json!({})),
    };

    let now = chrono::Utc::now().timestamp_millis();
    let mut tally = Tally::default();
    let mut piece = Piece::default();
    for (index, raw) in records.enumerate() {
        match endpoint.validator.check_record(raw, &endpoint.key_fields) {
            Ok(key) => {
                let record = Record {
                    key,
                    value: compact(raw),
                    timestamp_ms: now,
                };
                piece.bytes += record.value.len();
                piece.good.push(record);
            }
            Err(errors) => {
                let message = errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                let dead = DeadLetter::new(
                    String::from_utf8_lossy(raw),
                    message,
                    ErrorKind::Validation,
                    format!("ingest:{name}"),
                )
                .to_json();
                piece.bytes += dead.len();
                piece.bad.push(Record {
                    key: None,
                    value: dead,
                    timestamp_ms: now,
                });
                tally.rejected += 1;
                tally.problems_total += errors.len();
                let room = MAX_PROBLEMS.saturating_sub(tally.problems.len());
                tally
                    .problems
                    .extend(errors.into_iter().take(room).map(|e| RecordProblem {
                        index,
                        field: e.field,
                        problem: e.problem,
                    }));
            }
        }
        if piece.bytes >= PIECE_BYTES || piece.good.len() + piece.bad.len() >= PIECE_RECORDS {
            let next = index + 1;
            if let Err(response) = write(state, endpoint, &mut piece, &mut tally).await {
                return response;
            }
            piece.first = next;
        }
    }
    if let Err(response) = write(state, endpoint, &mut piece, &mut tally).await {
        return response;
    }
    BatchDone {
        stage: Stage::Ingest,
        name: &name,
        read: tally.accepted as u64,
        written: 0,
        failed: tally.rejected as u64,
        first_error: None,
        seconds: started.elapsed().as_secs_f64(),
    }
    .record(&state.metrics);

    let Tally {
        accepted,
        rejected,
        problems,
        problems_total,
    } = tally;
    if rejected == 0 {
        return (StatusCode::OK, Json(json!({ "accepted": accepted }))).into_response();
    }
    let listed = if problems_total > problems.len() {
        format!(
            " (the first {} of {problems_total} problems are listed)",
            problems.len()
        )
    } else {
        String::new()
    };
    error(
        StatusCode::BAD_REQUEST,
        format!(
            "{rejected} record(s) failed validation; the other {accepted} were accepted{listed}"
        ),
        json!({
            "accepted": accepted, "rejected": rejected,
            "problems": problems, "problems_total": problems_total,
        }),
    )
}

/// Writes a piece: its valid records durably to the stream, then its dead letters. On a
/// failure of the stream, the answer (503) says how many records earlier pieces stored
/// and from which record on to send the body again.
async fn write(
    state: &IngestState,
    endpoint: &IngestEndpoint,
    piece: &mut Piece,
    tally: &mut Tally,
) -> Result<(), Response> {
    let good = std::mem::take(&mut piece.good);
    let bad = std::mem::take(&mut piece.bad);
    piece.bytes = 0;
    let count = good.len();
    if !good.is_empty() {
        if let Err(e) = state.streams.produce(&endpoint.stream, good).await {
            tracing::error!(endpoint = %endpoint.name, "writing to stream `{}` failed: {e}", endpoint.stream);
            let (message, extra) = if tally.accepted == 0 && piece.first == 0 {
                (
                    format!("the records could not be stored, none was accepted: {e}"),
                    json!({}),
                )
            } else {
                (
                    format!(
                        "the records from index {} on could not be stored ({e}); the {} \
                         valid records before it were accepted: send the body again from \
                         record {}",
                        piece.first, tally.accepted, piece.first
                    ),
                    json!({ "accepted": tally.accepted, "resend_from": piece.first }),
                )
            };
            return Err(error(StatusCode::SERVICE_UNAVAILABLE, message, extra));
        }
    }
    tally.accepted += count;
    if let (Some(dead_letter), false) = (&endpoint.dead_letter, bad.is_empty()) {
        if let Err(e) = state.streams.produce(dead_letter, bad).await {
            tracing::error!(endpoint = %endpoint.name, "writing to dead-letter stream `{dead_letter}` failed: {e}");
        }
    }
    Ok(())
}
