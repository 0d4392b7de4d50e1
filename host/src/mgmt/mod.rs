//! The management API: `/health`, `/ready`, `/metrics` (Prometheus), `/catalog`,
//! `/openapi.json`, the operations endpoints `/ps`, `/peek/{name}` and `/logs`, and
//! `POST /dlq/replay`.

mod ops;
pub mod replay;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::infra::Infra;
use moose_model::app::App;
use moose_olap::{OlapClient, OlapHealth};
use moose_pipeline::functions;
use moose_pipeline::sync;
use moose_streams::Streams;
use moose_telemetry::metrics::Metrics;

/// Shared state of the management routes.
pub struct MgmtState {
    pub metrics: Arc<Metrics>,
    pub streams: Arc<dyn Streams>,
    /// The app's database, for `/peek` of tables.
    pub olap: Arc<OlapClient>,
    /// Whether the database is up, for `/ready`, `/health` and the metrics.
    pub olap_health: Arc<OlapHealth>,
    /// What the routes tell about the app; a reload replaces it as a whole.
    pub app: ArcSwap<AppView>,
    /// Set once every part of the host is running.
    pub ready: AtomicBool,
}

/// The management API's view of one version of the app.
pub struct AppView {
    /// `(stream, consumer group)` pairs whose lag is reported.
    pub consumers: Vec<(String, String)>,
    /// SQL aggregations (materialized views) and the tables they read.
    pub aggregations: Vec<(String, Vec<String>)>,
    pub catalog: Value,
    /// The app's OpenAPI document.
    pub openapi: Value,
    /// Where replayed dead letters go.
    pub replay: replay::ReplayRoutes,
}

impl AppView {
    /// The view of `app`, which runs as `infra`.
    pub fn new(app: &App, infra: &Infra) -> Self {
        let consumers = app
            .def
            .functions
            .iter()
            .map(|f| (f.source.clone(), functions::group(&f.name)))
            .chain(
                infra
                    .syncs
                    .iter()
                    .map(|spec| (spec.stream.clone(), sync::group(&spec.table))),
            )
            .chain(
                app.def
                    .windowed_aggregations
                    .iter()
                    .map(|w| (w.source.clone(), moose_pipeline::windows::group(&w.name))),
            )
            .collect();
        let aggregations = app
            .def
            .aggregations
            .iter()
            .map(|a| (a.name.clone(), a.sources.clone()))
            .collect();
        Self {
            consumers,
            aggregations,
            catalog: catalog_json(app, infra),
            openapi: crate::openapi::openapi(app),
            replay: replay::ReplayRoutes::new(app, infra),
        }
    }
}

pub fn router(state: Arc<MgmtState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/catalog", get(catalog))
        .route("/openapi.json", get(openapi))
        .route("/ps", get(ops::ps))
        .route("/peek/{name}", get(ops::peek))
        .route("/logs", get(ops::logs))
        .route("/dlq/replay", axum::routing::post(replay_dead_letters))
        .with_state(state)
}

/// `GET /health`: 200 while the host's own processes run; 503 while its embedded
/// ClickHouse engine is down (and being restarted).
async fn health(State(state): State<Arc<MgmtState>>) -> Response {
    match state.olap_health.problem() {
        None => Json(json!({ "status": "ok" })).into_response(),
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "problems": [problem] })),
        )
            .into_response(),
    }
}

/// `GET /ready`: 200 once every part of the host runs and while its OLAP store is up.
async fn ready(State(state): State<Arc<MgmtState>>) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "starting" })),
        )
            .into_response();
    }
    match state.olap_health.problem() {
        None => Json(json!({ "status": "ready" })).into_response(),
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "problems": [problem] })),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<MgmtState>>) -> Response {
    let view = state.app.load_full();
    for (stream, group) in &view.consumers {
        refresh_lag(&state, stream, group).await;
    }
    state
        .metrics
        .set_olap(state.olap_health.is_up(), state.olap_health.restarts());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The total lag of `group` on `stream`, also stored in the metrics; `None` (logged) when
/// the backend cannot tell.
async fn refresh_lag(state: &MgmtState, stream: &str, group: &str) -> Option<u64> {
    match state.streams.lag(stream, group).await {
        Ok(partitions) => {
            let lag = partitions
                .iter()
                .map(|p| p.end.saturating_sub(p.committed))
                .sum();
            state.metrics.set_lag(stream, group, lag);
            Some(lag)
        }
        Err(e) => {
            tracing::warn!("lag of {group} on {stream}: {e}");
            None
        }
    }
}

async fn replay_dead_letters(
    State(state): State<Arc<MgmtState>>,
    Json(request): Json<replay::ReplayRequest>,
) -> Response {
    match replay::replay(&state, &request).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(error) => {
            let status = if error.is_bad_request() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(json!({ "error": error.to_string() }))).into_response()
        }
    }
}

async fn catalog(State(state): State<Arc<MgmtState>>) -> Json<Value> {
    Json(state.app.load().catalog.clone())
}

async fn openapi(State(state): State<Arc<MgmtState>>) -> Json<Value> {
    Json(state.app.load().openapi.clone())
}

/// The catalog document: every data product with its schema, and the lineage edges.
pub fn catalog_json(app: &App, infra: &Infra) -> Value {
    let def = &app.def;
    let models: Vec<Value> = def
        .models
        .iter()
        .map(|m| {
            let fields: Vec<Value> = m
                .fields
                .iter()
                .map(|f| {
                    json!({
                        "name": f.name, "type": f.type_name(), "key": f.key,
                        "nullable": f.data_type.is_nullable(), "default": f.default, "doc": f.doc,
                    })
                })
                .collect();
            json!({ "name": moose_model::app::model_ref(m), "doc": m.doc, "fields": fields })
        })
        .collect();
    let streams: Vec<Value> = infra
        .streams
        .iter()
        .map(|s| {
            let model = def.streams.iter().find(|d| d.name == s.name).map(|d| d.model.clone());
            json!({
                "name": s.name, "partitions": s.partitions, "retention_seconds": s.retention.as_secs(),
                "model": model, "dead_letter": infra.dead_letters.contains(&s.name),
            })
        })
        .collect();
    let tables: Vec<Value> = def
        .tables
        .iter()
        .chain(def.aggregations.iter().map(|a| &a.target))
        .chain(def.windowed_aggregations.iter().map(|w| &w.target))
        .map(|t| {
            json!({
                "name": t.name, "model": t.model, "engine": t.engine.sql(),
                "order_by": app.order_by(t), "source_stream": t.source_stream,
                "options": t.options,
            })
        })
        .chain(
            infra
                .dead_letters
                .iter()
                .map(|name| json!({ "name": name, "model": "DeadLetter" })),
        )
        .collect();
    let ingest: Vec<Value> = def
        .ingests
        .iter()
        .map(|i| {
            json!({
                "name": i.name, "path": format!("/ingest/{}", app.ingest_route(i)),
                "model": i.model, "stream": i.stream, "dead_letter": i.dead_letter,
            })
        })
        .collect();
    json!({
        "app": app.name,
        "models": models,
        "streams": streams,
        "tables": tables,
        "ingest": ingest,
        "functions": def.functions,
        "aggregations": def.aggregations,
        "windowed_aggregations": def.windowed_aggregations,
        "views": def.views,
        "apis": def.apis,
        "lineage": infra.lineage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_an_ingest_endpoint_are_separate_lineage_nodes() {
        let app = crate::infra::tests::versioned_app();
        let catalog = catalog_json(&app, &crate::infra::infra(&app));
        let ingest_edges: Vec<(&str, &str)> = catalog["lineage"]
            .as_array()
            .expect("lineage")
            .iter()
            .filter_map(|e| Some((e["from"].as_str()?, e["to"].as_str()?)))
            .filter(|(from, _)| from.starts_with("ingest:"))
            .collect();
        assert_eq!(
            ingest_edges,
            [
                ("ingest:Order/1.0", "stream:Order_1_0"),
                ("ingest:Order/1.0", "stream:Order_1_0_dead_letter"),
                ("ingest:Order/1.1", "stream:Order_1_1"),
                ("ingest:Order/1.1", "stream:Order_1_1_dead_letter"),
            ]
        );
        let paths: Vec<&str> = catalog["ingest"]
            .as_array()
            .expect("ingest")
            .iter()
            .filter_map(|i| i["path"].as_str())
            .collect();
        assert_eq!(paths, ["/ingest/Order/1.0", "/ingest/Order/1.1"]);
    }
}
