//! The component runtime against real compiled components: the quickstart app and a test
//! guest that traps, loops forever and exhausts its memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use moose_model::types::{ScalarType, TableEngine};
use moose_runtime::types::{ApiError, Batch, ProcessOutput, QueryError};
use moose_runtime::{
    CallError, GuestComponent, LoadSource, NoQueryService, QueryParam, QueryService, Runtime,
    RuntimeConfig,
};
use moose_tests::{json_batch, misbehave, output_records, quickstart};
use serde_json::{json, Value};

fn config() -> RuntimeConfig {
    RuntimeConfig {
        memory_limit: 64 << 20,
        call_timeout: Duration::from_millis(500),
        ..RuntimeConfig::default()
    }
}

fn runtime_with(query: Arc<dyn QueryService>) -> (Runtime, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(config(), cache.path().to_path_buf(), query).expect("runtime");
    (runtime, cache)
}

fn load(runtime: &Runtime, built: &moose_host::builder::BuiltComponent) -> GuestComponent {
    runtime
        .load(&built.name, &built.wasm)
        .unwrap_or_else(|e| panic!("loading {}: {e}", built.wasm.display()))
}

fn process(component: &GuestComponent, function: &str, input: &[Value]) -> ProcessOutput {
    component
        .process(function, &json_batch(input))
        .expect("the call succeeds")
        .expect("the guest accepts the batch")
}

fn items(ns: impl IntoIterator<Item = i64>) -> Vec<Value> {
    ns.into_iter()
        .map(|n| json!({"n": n, "label": format!("item {n}")}))
        .collect()
}

#[test]
fn describe_matches_the_quickstart_app() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let app = load(&runtime, &quickstart()).describe().expect("describe");

    let order = app
        .models
        .iter()
        .find(|m| m.name == "Order")
        .expect("Order model");
    let fields: Vec<(String, String, bool)> = order
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.data_type.type_name(), f.key))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("id".into(), "String".into(), true),
            ("customer".into(), "String".into(), false),
            ("amount".into(), "Float64".into(), false),
            ("ts".into(), "DateTime".into(), false),
        ]
    );
    let enriched = app
        .models
        .iter()
        .find(|m| m.name == "OrderEnriched")
        .expect("OrderEnriched model");
    let ty = |name: &str| {
        enriched
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.data_type.type_name())
            .unwrap_or_else(|| panic!("OrderEnriched.{name}"))
    };
    assert_eq!(ty("amount_cents"), "Int64");
    assert_eq!(ty("tier"), "Enum8('small' = 1, 'medium' = 2, 'large' = 3)");
    assert_eq!(ty("day"), "Date");

    let ingest = app
        .ingests
        .iter()
        .find(|i| i.name == "Order")
        .expect("ingest");
    assert_eq!(
        (ingest.model.as_str(), ingest.stream.as_str()),
        ("Order", "Order")
    );
    assert!(
        ingest.dead_letter.is_some(),
        "ingest has a dead-letter stream"
    );
    for stream in ["Order", "OrderEnriched"] {
        assert!(
            app.streams.iter().any(|s| s.name == stream),
            "stream {stream}"
        );
        let table = app.tables.iter().find(|t| t.name == stream).expect("table");
        assert_eq!(table.source_stream.as_deref(), Some(stream));
    }
    let function = app
        .functions
        .iter()
        .find(|f| f.name == "enrich_order")
        .expect("enrich_order");
    assert_eq!(function.source, "Order");
    assert_eq!(function.destination.as_deref(), Some("OrderEnriched"));

    let aggregation = app
        .aggregations
        .iter()
        .find(|a| a.name == "DailyRevenue")
        .expect("DailyRevenue");
    assert_eq!(aggregation.target.model, "DailyRevenue");
    assert!(matches!(
        aggregation.target.engine,
        TableEngine::SummingMergeTree(_)
    ));
    assert_eq!(aggregation.target.order_by, vec!["day", "customer"]);
    assert!(aggregation.select.contains("FROM OrderEnriched"));

    let api = app
        .apis
        .iter()
        .find(|a| a.name == "revenue")
        .expect("revenue API");
    assert_eq!(api.response, "DailyRevenue");
    let params: Vec<(&str, bool, Option<&str>)> = api
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.required, p.default.as_deref()))
        .collect();
    assert_eq!(
        params,
        vec![
            ("customer", false, None),
            ("from", false, None),
            ("to", false, None),
            ("limit", false, Some("100")),
        ]
    );
    let limit = &api.params[3];
    assert_eq!(limit.data_type.leaf, ScalarType::Uint32);
    assert_eq!((limit.min, limit.max), (Some(1.0), Some(10000.0)));
    let customer = &api.params[0];
    assert_eq!(
        customer.data_type.type_name(),
        "String",
        "optional, not nullable"
    );
}

#[test]
fn enrich_order_transforms_filters_and_rejects() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &quickstart());
    let input = json_batch(&[
        json!({"id": "o1", "customer": "acme", "amount": 12.345, "ts": "2024-05-01T23:59:59Z"}),
        json!({"id": "o2", "customer": "acme", "amount": -5.0, "ts": "2024-05-01T10:00:00Z"}),
        json!({"id": "o3", "customer": "  ", "amount": 20.0, "ts": "2024-05-01T10:00:00Z"}),
        json!({"id": "o4", "customer": "globex", "amount": 2500.0, "ts": "2024-05-02T00:00:00Z"}),
        json!({"id": "o5", "customer": "globex", "amount": "lots"}),
    ]);
    let output = component
        .process("enrich_order", &input)
        .expect("call")
        .expect("batch accepted");

    assert_eq!(
        output_records(&output),
        vec![
            json!({"id": "o1", "customer": "acme", "amount": 12.345, "amount_cents": 1235,
                   "tier": "small", "day": "2024-05-01", "ts": "2024-05-01T23:59:59Z"}),
            json!({"id": "o4", "customer": "globex", "amount": 2500.0, "amount_cents": 250000,
                   "tier": "large", "day": "2024-05-02", "ts": "2024-05-02T00:00:00Z"}),
        ]
    );
    assert_eq!(
        output.sources,
        vec![0, 3],
        "outputs point at their input records"
    );
    assert_eq!(output.errors.len(), 1, "{:?}", output.errors);
    assert_eq!(output.errors[0].index, 4);
    assert!(
        output.errors[0].message.contains("amount"),
        "the error names the field: {}",
        output.errors[0].message
    );
}

#[test]
fn per_record_errors_and_fan_out_keep_the_rest_of_the_batch() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &misbehave());

    let output = process(&component, "fail_odd", &items(0..6));
    assert_eq!(output_records(&output), items([0, 2, 4]));
    assert_eq!(output.sources, vec![0, 2, 4]);
    let failed: Vec<(u32, &str)> = output
        .errors
        .iter()
        .map(|e| (e.index, e.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        vec![(1, "odd n: 1"), (3, "odd n: 3"), (5, "odd n: 5")]
    );

    let output = process(&component, "fan_out", &items([0, 2, 3, 7]));
    assert_eq!(
        output.sources,
        vec![1, 1, 2, 2, 2, 3],
        "n copies for n <= 3, else one"
    );
    assert_eq!(output_records(&output).len(), 6);

    let empty = process(&component, "passthrough", &[]);
    assert_eq!((empty.output.count, empty.errors.len()), (0, 0));

    let unknown = component
        .process("no_such_function", &json_batch(&items([1])))
        .expect("call");
    assert!(
        unknown.is_err(),
        "unknown function is a guest error: {unknown:?}"
    );
}

/// A failure of any kind fails only its own call; the next call gets a fresh instance.
fn assert_recovers(component: &GuestComponent) {
    let output = process(component, "passthrough", &items([10, 11]));
    assert_eq!(output_records(&output), items([10, 11]));
}

#[test]
fn a_trap_fails_one_batch_and_the_host_keeps_serving() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &misbehave());
    assert_recovers(&component);
    match component.process("trap", &json_batch(&items([1]))) {
        Err(CallError::Trap { call, message, .. }) => {
            assert_eq!(call, "process");
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_recovers(&component);
}

#[test]
fn an_infinite_loop_hits_the_deadline_and_the_host_keeps_serving() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &misbehave());
    let started = std::time::Instant::now();
    match component.process("spin", &json_batch(&items([1]))) {
        Err(CallError::Timeout { timeout, .. }) => assert_eq!(timeout, config().call_timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() >= config().call_timeout,
        "interrupted no earlier than the deadline"
    );
    assert_recovers(&component);
}

#[test]
fn a_memory_bomb_hits_the_limit_and_the_host_keeps_serving() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &misbehave());
    match component.process("hog", &json_batch(&items([1]))) {
        Err(CallError::MemoryLimit { source, .. }) => {
            assert_eq!(source.limit, config().memory_limit);
            assert!(source.requested > source.limit);
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert_recovers(&component);
}

#[test]
fn one_component_serves_many_threads() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &misbehave());
    std::thread::scope(|scope| {
        for t in 0..4i64 {
            let component = &component;
            scope.spawn(move || {
                for round in 0..50i64 {
                    let ns: Vec<i64> = (0..20).map(|i| t * 100_000 + round * 100 + i).collect();
                    let output = process(component, "passthrough", &items(ns.clone()));
                    assert_eq!(output_records(&output), items(ns));
                }
            });
        }
    });
}

#[test]
fn precompiled_components_are_cached_and_bad_artifacts_replaced() {
    let cache = tempfile::tempdir().expect("temp dir");
    let built = misbehave();
    let new_runtime = || {
        Runtime::new(
            config(),
            cache.path().to_path_buf(),
            Arc::new(NoQueryService),
        )
        .expect("runtime")
    };

    let first = load(&new_runtime(), &built);
    assert_eq!(first.info().source, LoadSource::Compiled);
    let second = load(&new_runtime(), &built);
    assert_eq!(second.info().source, LoadSource::Cached);
    assert_eq!(first.info().digest, second.info().digest);
    assert_recovers(&second);

    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let name = artifacts[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&first.info().digest),
        "keyed by content: {name}"
    );

    // A damaged artifact is replaced (by rename, as mapped files must be).
    let damaged = cache.path().join("damaged");
    std::fs::write(&damaged, b"not a precompiled component").expect("write");
    std::fs::rename(&damaged, &artifacts[0]).expect("rename");
    let third = load(&new_runtime(), &built);
    assert_eq!(third.info().source, LoadSource::Compiled);
    assert_recovers(&third);
    assert_eq!(
        load(&new_runtime(), &built).info().source,
        LoadSource::Cached
    );
}

/// A query as the host received it: SQL and bound `(name, value)` parameters.
type AskedQuery = (String, Vec<(String, String)>);

/// Answers guest queries with canned rows and records what it was asked.
#[derive(Default)]
struct RecordingQueries {
    asked: Mutex<Vec<AskedQuery>>,
}

impl QueryService for RecordingQueries {
    fn query(&self, sql: &str, params: &[QueryParam]) -> Result<Batch, QueryError> {
        self.asked.lock().expect("lock").push((
            sql.to_string(),
            params
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
        ));
        Ok(json_batch(&[
            json!({"day": "2024-05-01", "customer": "acme", "revenue": 12.5, "orders": 2}),
        ]))
    }
}

#[test]
fn the_revenue_api_queries_through_the_host_with_bound_values() {
    let queries = Arc::new(RecordingQueries::default());
    let (runtime, _cache) = runtime_with(queries.clone());
    let component = load(&runtime, &quickstart());
    let hostile = "acme' OR 1=1 --";
    let params = json!({"customer": hostile, "from": null, "to": null, "limit": 5});
    let response = component
        .handle_api("revenue", params.to_string().as_bytes())
        .expect("call")
        .expect("API answers");
    assert_eq!(response.status, 200);
    let body: Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_eq!(
        body,
        json!([{"day": "2024-05-01", "customer": "acme", "revenue": 12.5, "orders": 2}])
    );

    let asked = queries.asked.lock().expect("lock");
    assert_eq!(asked.len(), 1);
    let (sql, bound) = &asked[0];
    assert!(
        !sql.contains(hostile),
        "values are never spliced into SQL: {sql}"
    );
    assert!(sql.contains("{customer:Nullable(String)}"), "{sql}");
    assert!(
        bound
            .iter()
            .any(|(name, value)| name == "customer" && value == hostile),
        "{bound:?}"
    );
    assert!(
        bound
            .iter()
            .any(|(name, value)| name == "limit" && value == "5"),
        "{bound:?}"
    );
}

#[test]
fn api_errors_are_typed() {
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let component = load(&runtime, &quickstart());
    let params = json!({"customer": null, "from": null, "to": null, "limit": 5}).to_string();
    match component
        .handle_api("revenue", params.as_bytes())
        .expect("call")
    {
        Err(ApiError::Query(QueryError::Unavailable(_))) => {}
        other => panic!("expected an unavailable store, got {other:?}"),
    }
    match component.handle_api("nope", b"{}").expect("call") {
        Err(ApiError::UnknownApi(name)) => assert_eq!(name, "nope"),
        other => panic!("expected an unknown API, got {other:?}"),
    }
    let misbehave = load(&runtime, &misbehave());
    let response = misbehave
        .handle_api(
            "echo",
            json!({"text": "hi", "times": 3}).to_string().as_bytes(),
        )
        .expect("call")
        .expect("echo answers");
    let body: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(body, json!([{"text": "hi", "times": 3}]));
    match misbehave
        .handle_api("echo", b"{\"times\": 2}")
        .expect("call")
    {
        Err(ApiError::BadRequest(message)) => assert!(message.contains("text"), "{message}"),
        other => panic!("expected a bad request naming `text`, got {other:?}"),
    }
}

/// The streaming backend of [`outputs_that_cannot_be_written_leave_the_batch_uncommitted`]:
/// the embedded log, except that writes to `OrderEnriched` fail.
struct EnrichedRefused {
    log: moose_streams::embedded::EmbeddedStreams,
    refused: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl moose_streams::Streams for EnrichedRefused {
    async fn ensure_stream(
        &self,
        spec: &moose_streams::StreamSpec,
    ) -> Result<(), moose_streams::StreamError> {
        self.log.ensure_stream(spec).await
    }
    async fn produce(
        &self,
        stream: &str,
        records: Vec<moose_streams::Record>,
    ) -> Result<(), moose_streams::StreamError> {
        if stream == "OrderEnriched" {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(moose_streams::StreamError::Unavailable("refused".into()));
        }
        self.log.produce(stream, records).await
    }
    async fn consumer(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<Box<dyn moose_streams::StreamConsumer>, moose_streams::StreamError> {
        self.log.consumer(stream, group).await
    }
    async fn lag(
        &self,
        stream: &str,
        group: &str,
    ) -> Result<Vec<moose_streams::PartitionLag>, moose_streams::StreamError> {
        self.log.lag(stream, group).await
    }
    async fn read(
        &self,
        stream: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> Result<Vec<moose_streams::StoredRecord>, moose_streams::StreamError> {
        self.log.read(stream, partition, offset, max).await
    }
}

/// A runner of the quickstart's `enrich_order` (loaded into `runtime`) from `Order` to
/// `OrderEnriched` on `streams` (both created, one partition each), `total` orders waiting.
async fn enrich_runner(
    runtime: &Runtime,
    streams: Arc<dyn moose_streams::Streams>,
    total: u64,
    options: moose_pipeline::functions::RunnerOptions,
) -> moose_pipeline::functions::FunctionRunner {
    use moose_pipeline::functions::{Destination, FunctionRunner};
    use moose_streams::{Record, StreamSpec};

    let component = load(runtime, &quickstart());
    let app = moose_model::app::App {
        name: "quickstart".into(),
        components: vec![],
        def: component.describe().expect("describe"),
    };
    for name in ["Order", "OrderEnriched"] {
        let spec = StreamSpec {
            name: name.into(),
            partitions: 1,
            retention: Duration::from_secs(3600),
        };
        streams.ensure_stream(&spec).await.expect("stream");
    }
    let orders: Vec<Record> = (0..total)
        .map(|i| Record {
            key: None,
            value: json!({"id": format!("o{i}"), "customer": "acme", "amount": 12.5, "ts": "2024-05-01T10:00:00Z"})
                .to_string()
                .into_bytes(),
            timestamp_ms: 0,
        })
        .collect();
    streams.produce("Order", orders).await.expect("orders");
    FunctionRunner {
        name: "enrich_order".into(),
        source: "Order".into(),
        destination: Some(Destination::of(&app, "OrderEnriched").expect("destination")),
        dead_letter: None,
        component: moose_runtime::handle(component),
        streams,
        metrics: Arc::new(moose_telemetry::metrics::Metrics::new()),
        options,
    }
}

/// Orders of `enrich_order`'s group committed on `Order`.
async fn orders_committed(streams: &dyn moose_streams::Streams) -> u64 {
    let group = moose_pipeline::functions::group("enrich_order");
    let lag = streams.lag("Order", &group).await.expect("lag");
    lag.iter().map(|p| p.committed).sum()
}

/// A function runner whose outputs cannot be written keeps retrying and never commits
/// the batch: stopped meanwhile, it leaves every record to be read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_that_cannot_be_written_leave_the_batch_uncommitted() {
    use moose_pipeline::functions::RunnerOptions;

    let dir = tempfile::tempdir().expect("temp dir");
    let streams = Arc::new(EnrichedRefused {
        log: moose_streams::embedded::EmbeddedStreams::open(dir.path(), Default::default())
            .expect("embedded log"),
        refused: Default::default(),
    });
    let options = RunnerOptions {
        retry_backoff: Duration::from_millis(20),
        ..RunnerOptions::default()
    };
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let runner = enrich_runner(&runtime, streams.clone(), 5, options).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(runner.run(stop.clone()));
    while streams.refused.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    task.await.expect("runner");

    assert_eq!(
        orders_committed(streams.as_ref()).await,
        0,
        "nothing was written on, so nothing is committed"
    );
}

/// Batches overlap (one runs while the one before is written), yet outputs keep their
/// order and a batch's offsets are committed only once its outputs are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_keep_order_and_commit_after_their_outputs() {
    use moose_pipeline::functions::RunnerOptions;

    let dir = tempfile::tempdir().expect("temp dir");
    let streams: Arc<dyn moose_streams::Streams> = Arc::new(
        moose_streams::embedded::EmbeddedStreams::open(dir.path(), Default::default())
            .expect("embedded log"),
    );
    let total = 300u64;
    let options = RunnerOptions {
        batch_size: 7,
        ..RunnerOptions::default()
    };
    let (runtime, _cache) = runtime_with(Arc::new(NoQueryService));
    let runner = enrich_runner(&runtime, streams.clone(), total, options).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(runner.run(stop.clone()));
    let stored = || async {
        let lag = streams.lag("OrderEnriched", "reader").await.expect("lag");
        lag.iter().map(|p| p.end).sum::<u64>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // Committed is read first: outputs only grow after it.
        let committed = orders_committed(streams.as_ref()).await;
        let stored = stored().await;
        assert!(
            committed <= stored,
            "{committed} orders committed but only {stored} outputs stored"
        );
        if committed == total {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{committed} of {total} committed"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.cancel();
    task.await.expect("runner");

    let outputs = streams
        .read("OrderEnriched", 0, 0, usize::MAX)
        .await
        .expect("outputs");
    let ids: Vec<String> = outputs
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.value).expect("json")["id"].to_string())
        .collect();
    let expected: Vec<String> = (0..total).map(|i| format!("\"o{i}\"")).collect();
    assert_eq!(ids, expected, "every output once, in order");
}
