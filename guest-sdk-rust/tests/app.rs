//! `App` declarations, `describe`, `process` and `handle_api` on a sample app.

use moose_guest::defs::{
    AggregationDef, ApiParam, DataType, FunctionDef, IngestDef, ScalarType, StreamDef, TableDef,
    TableEngine, TypeWrapper, ViewDef,
};
use moose_guest::process::{Batch, GuestError, RecordError};
use moose_guest::query::native;
use moose_guest::{
    ApiError, ApiParams, App, Date, DateTime, DeadLetterQueue, Model, NoParams, PipelineConfig,
    Query, QueryError, StreamConfig, TableConfig,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Order {
    #[moose(key)]
    id: String,
    customer: String,
    amount: f64,
    ts: DateTime,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Item {
    sku: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Line {
    #[moose(key)]
    order_id: String,
    sku: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Total {
    #[moose(key)]
    day: Date,
    revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Big {
    id: String,
}

/// One line per item; orders without items are dropped.
fn explode(order: Order) -> Vec<Line> {
    order
        .items
        .into_iter()
        .map(|item| Line {
            order_id: order.id.clone(),
            sku: item.sku,
            qty: item.qty,
        })
        .collect()
}

fn only_big(order: Order) -> Result<Option<Big>, String> {
    if order.amount < 0.0 {
        return Err(format!("negative amount {}", order.amount));
    }
    Ok((order.amount >= 100.0).then_some(Big { id: order.id }))
}

fn audit(order: Order) -> Result<(), String> {
    if order.customer.is_empty() {
        Err("no customer".to_owned())
    } else {
        Ok(())
    }
}

#[derive(Debug, Deserialize, ApiParams)]
struct TotalsParams {
    /// First day.
    from: Option<Date>,
    #[moose(default = "10", min = 1, max = 100)]
    limit: u32,
    #[serde(rename = "minRevenue")]
    #[moose(min = 0)]
    min_revenue: Option<f64>,
    customer: String,
    #[moose(default = false)]
    verbose: bool,
}

fn totals(params: TotalsParams) -> Result<Vec<Total>, ApiError> {
    if params.customer == "nobody" {
        return Err(ApiError::not_found("no such customer"));
    }
    if params.verbose {
        moose_guest::log::info(format!("totals for {}", params.customer));
    }
    let rows = Query::new(
        "SELECT day, revenue FROM Totals WHERE customer = {customer:String} \
         AND ({from:Nullable(Date)} IS NULL OR day >= {from:Nullable(Date)}) LIMIT {limit:UInt32}",
    )
    .bind("customer", &params.customer)
    .bind("from", params.from)
    .bind("limit", params.limit)
    .fetch::<Total>()?;
    let min = params.min_revenue.unwrap_or(f64::MIN);
    Ok(rows.into_iter().filter(|r| r.revenue >= min).collect())
}

/// Version 2 of `Big`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Big", version = "2.0")]
struct BigV2 {
    id: String,
    score: f64,
}

fn ping_v2(_: NoParams) -> Result<Vec<BigV2>, ApiError> {
    Ok(vec![BigV2 {
        id: "pong".to_owned(),
        score: 2.0,
    }])
}

fn ping(_: NoParams) -> Result<Vec<Big>, ApiError> {
    Ok(vec![Big {
        id: "pong".to_owned(),
    }])
}

fn sample_app() -> App {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    let lines = app.stream_pipeline::<Line>(
        "Line",
        PipelineConfig::default().with_table(
            TableConfig::new(TableEngine::ReplacingMergeTree(None)).order_by(["order_id", "sku"]),
        ),
    );
    let big = app.ingest_pipeline::<Big>(
        "Big",
        PipelineConfig::default()
            .without_table()
            .without_dead_letter()
            .without_ingest()
            .with_stream(StreamConfig {
                partitions: 4,
                retention_hours: Some(24),
            }),
    );
    let failures = DeadLetterQueue::named("failures");
    app.transform("explode", &orders.stream, &lines.stream, explode);
    app.transform("only_big", &orders.stream, &big.stream, only_big)
        .dead_letter(&failures);
    app.consumer("audit", &orders.stream, audit)
        .without_dead_letter();
    app.aggregation::<Total>(
        "Totals",
        "SELECT toDate(ts) AS day, sum(amount) AS revenue FROM Order GROUP BY day",
        &["Order"],
        TableConfig::new(TableEngine::SummingMergeTree(vec![])).order_by(["day"]),
    );
    app.view(
        "BigOrders",
        "SELECT * FROM Order WHERE amount >= 100",
        &["Order"],
    );
    app.api("totals", totals)
        .version("1.0")
        .doc("Revenue per day.");
    app.api("ping", ping);
    app.api("ping", ping_v2).version("2.0");
    app
}

#[test]
fn describe_lists_everything() {
    let def = sample_app().describe();
    let models: Vec<String> = def.models.iter().map(|m| m.reference()).collect();
    assert_eq!(models, ["Order", "Item", "Line", "Big", "Total", "Big@2.0"]);
    assert_eq!(
        def.streams,
        vec![
            StreamDef {
                name: "Order".into(),
                model: "Order".into(),
                partitions: 0,
                retention_hours: None
            },
            StreamDef {
                name: "Line".into(),
                model: "Line".into(),
                partitions: 0,
                retention_hours: None
            },
            StreamDef {
                name: "Big".into(),
                model: "Big".into(),
                partitions: 4,
                retention_hours: Some(24)
            },
        ]
    );
    let totals_table = TableDef {
        name: "Totals".into(),
        model: "Total".into(),
        order_by: vec!["day".into()],
        engine: TableEngine::SummingMergeTree(vec![]),
        source_stream: None,
    };
    assert_eq!(
        def.tables,
        vec![
            TableDef {
                name: "Order".into(),
                model: "Order".into(),
                order_by: vec![],
                engine: TableEngine::MergeTree,
                source_stream: Some("Order".into())
            },
            TableDef {
                name: "Line".into(),
                model: "Line".into(),
                order_by: vec!["order_id".into(), "sku".into()],
                engine: TableEngine::ReplacingMergeTree(None),
                source_stream: Some("Line".into())
            },
        ],
        "an aggregation's target table is declared by the aggregation only"
    );
    assert_eq!(
        def.ingests,
        vec![IngestDef {
            name: "Order".into(),
            model: "Order".into(),
            stream: "Order".into(),
            dead_letter: Some("Order_dead_letter".into())
        }]
    );
    assert_eq!(
        def.functions,
        vec![
            FunctionDef {
                name: "explode".into(),
                source: "Order".into(),
                destination: Some("Line".into()),
                dead_letter: Some("explode_dead_letter".into())
            },
            FunctionDef {
                name: "only_big".into(),
                source: "Order".into(),
                destination: Some("Big".into()),
                dead_letter: Some("failures".into())
            },
            FunctionDef {
                name: "audit".into(),
                source: "Order".into(),
                destination: None,
                dead_letter: None
            },
        ]
    );
    assert_eq!(
        def.aggregations,
        vec![AggregationDef {
            name: "Totals".into(),
            select: "SELECT toDate(ts) AS day, sum(amount) AS revenue FROM Order GROUP BY day"
                .into(),
            sources: vec!["Order".into()],
            target: totals_table,
        }]
    );
    assert_eq!(
        def.views,
        vec![ViewDef {
            name: "BigOrders".into(),
            select: "SELECT * FROM Order WHERE amount >= 100".into(),
            sources: vec!["Order".into()],
        }]
    );
    assert_eq!(def.apis.len(), 3);
    let totals = &def.apis[0];
    assert_eq!(totals.name, "totals");
    assert_eq!(totals.version.as_deref(), Some("1.0"));
    assert_eq!(totals.doc.as_deref(), Some("Revenue per day."));
    assert_eq!(totals.response, "Total");
    let scalar = |leaf| DataType {
        wrappers: vec![],
        leaf,
    };
    assert_eq!(
        totals.params,
        vec![
            ApiParam {
                name: "from".into(),
                data_type: scalar(ScalarType::Date),
                required: false,
                default: None,
                min: None,
                max: None,
                doc: Some("First day.".into())
            },
            ApiParam {
                name: "limit".into(),
                data_type: scalar(ScalarType::UInt32),
                required: false,
                default: Some("10".into()),
                min: Some(1.0),
                max: Some(100.0),
                doc: None
            },
            ApiParam {
                name: "minRevenue".into(),
                data_type: scalar(ScalarType::Float64),
                required: false,
                default: None,
                min: Some(0.0),
                max: None,
                doc: None
            },
            ApiParam {
                name: "customer".into(),
                data_type: scalar(ScalarType::String),
                required: true,
                default: None,
                min: None,
                max: None,
                doc: None
            },
            ApiParam {
                name: "verbose".into(),
                data_type: scalar(ScalarType::Boolean),
                required: false,
                default: Some("false".into()),
                min: None,
                max: None,
                doc: None
            },
        ]
    );
    assert_eq!(def.apis[1].name, "ping");
    assert!(def.apis[1].params.is_empty());
    assert_eq!(def.apis[1].version, None);
    assert_eq!(def.apis[1].response, "Big");
    assert_eq!(
        (def.apis[2].name.as_str(), def.apis[2].version.as_deref()),
        ("ping", Some("2.0"))
    );
    assert_eq!(def.apis[2].response, "Big@2.0");
    // A nested model's wrappers survive into describe.
    let order = &def.models[0];
    assert_eq!(order.fields[4].data_type.wrappers, vec![TypeWrapper::Array]);
}

fn order(id: &str, customer: &str, amount: f64, items: &[(&str, u32)]) -> String {
    serde_json::to_string(&Order {
        id: id.into(),
        customer: customer.into(),
        amount,
        ts: "2024-05-01T12:00:00Z".parse().unwrap(),
        items: items
            .iter()
            .map(|(sku, qty)| Item {
                sku: (*sku).into(),
                qty: *qty,
            })
            .collect(),
    })
    .unwrap()
}

#[test]
fn process_fans_out_and_keeps_sources() {
    let app = sample_app();
    let input = Batch::from_lines([
        order("a", "c1", 10.0, &[("x", 1), ("y", 2)]),
        order("b", "c1", 10.0, &[]),
        order("c", "c2", 10.0, &[("z", 3)]),
    ]);
    let out = app.process("explode", &input).unwrap();
    assert_eq!(out.output.count, 3);
    assert_eq!(out.sources, vec![0, 0, 2]);
    assert!(out.errors.is_empty());
    assert_eq!(
        out.output.lines(),
        vec![
            r#"{"order_id":"a","sku":"x","qty":1}"#,
            r#"{"order_id":"a","sku":"y","qty":2}"#,
            r#"{"order_id":"c","sku":"z","qty":3}"#,
        ]
    );
    assert_eq!(
        std::str::from_utf8(&out.output.data).unwrap(),
        "{\"order_id\":\"a\",\"sku\":\"x\",\"qty\":1}\n{\"order_id\":\"a\",\"sku\":\"y\",\"qty\":2}\n{\"order_id\":\"c\",\"sku\":\"z\",\"qty\":3}"
    );
}

#[test]
fn process_filters_and_reports_errors_and_bad_lines() {
    let app = sample_app();
    let mut lines = vec![
        order("a", "c1", 150.0, &[]),
        order("b", "c1", 5.0, &[]),
        order("c", "c1", -1.0, &[]),
        "{not json".to_owned(),
        r#"{"id":"e"}"#.to_owned(),
        r#"{"id":"g","customer":"c","amount":"lots","ts":"2024-05-01T12:00:00Z","items":[]}"#
            .to_owned(),
        r#"{"id":"h","customer":"c","amount":1,"ts":"2024-05-01T12:00:00Z","items":[{"sku":1}]}"#
            .to_owned(),
        order("f", "c1", 100.0, &[]),
    ];
    let out = app.process("only_big", &Batch::from_lines(&lines)).unwrap();
    assert_eq!(out.output.lines(), vec![r#"{"id":"a"}"#, r#"{"id":"f"}"#]);
    assert_eq!(out.output.count, 2);
    assert_eq!(out.sources, vec![0, 7]);
    assert_eq!(out.errors.len(), 5);
    assert_eq!(
        out.errors[0],
        RecordError {
            index: 2,
            message: "negative amount -1".into()
        }
    );
    assert_eq!(out.errors[1].index, 3);
    assert!(
        out.errors[1]
            .message
            .starts_with("invalid input record: key must be a string"),
        "{}",
        out.errors[1].message
    );
    assert_eq!(out.errors[2].index, 4);
    assert!(
        out.errors[2]
            .message
            .starts_with("invalid input record: missing field `customer`"),
        "{}",
        out.errors[2].message
    );
    // Type errors name the field, nested ones with their path.
    assert_eq!(out.errors[3].index, 5);
    assert!(
        out.errors[3].message.starts_with(
            "invalid input record: field `amount`: invalid type: string \"lots\", expected f64"
        ),
        "{}",
        out.errors[3].message
    );
    assert!(
        out.errors[4]
            .message
            .starts_with("invalid input record: field `items[0].sku`: invalid type: integer `1`"),
        "{}",
        out.errors[4].message
    );

    // A trailing newline is tolerated.
    lines.truncate(1);
    let mut batch = Batch::from_lines(&lines);
    batch.data.push(b'\n');
    let out = app.process("only_big", &batch).unwrap();
    assert_eq!(out.sources, vec![0]);
}

#[test]
fn process_consumer_has_no_output() {
    let app = sample_app();
    let input = Batch::from_lines([order("a", "c1", 1.0, &[]), order("b", "", 1.0, &[])]);
    let out = app.process("audit", &input).unwrap();
    assert_eq!(out.output.count, 0);
    assert!(out.output.data.is_empty());
    assert!(out.sources.is_empty());
    assert_eq!(
        out.errors,
        vec![RecordError {
            index: 1,
            message: "no customer".into()
        }]
    );
}

#[test]
fn process_whole_call_errors() {
    let app = sample_app();
    let empty = Batch::from_lines(Vec::<String>::new());
    assert_eq!(
        app.process("nope", &empty),
        Err(GuestError::UnknownFunction("nope".into()))
    );
    let out = app.process("explode", &empty).unwrap();
    assert_eq!(out.output.count, 0);

    let mut wrong_count = Batch::from_lines([order("a", "c", 1.0, &[]), order("b", "c", 1.0, &[])]);
    wrong_count.count = 3;
    assert_eq!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(
            "batch count is 3 but its data holds 2 lines".into()
        ))
    );
    wrong_count.count = 1;
    assert!(matches!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(_))
    ));
    wrong_count.count = 0;
    assert!(matches!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(_))
    ));
}

#[test]
fn process_serialization_failure_leaves_no_partial_output() {
    use moose_guest::MooseType;

    #[derive(Debug, Serialize, Deserialize, Model)]
    struct In {
        n: i64,
    }
    /// Serializes to an error.
    #[derive(Debug, Deserialize)]
    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("boom"))
        }
    }
    impl MooseType for Failing {
        fn data_type() -> DataType {
            DataType::scalar(ScalarType::String)
        }
    }
    #[derive(Debug, Serialize, Deserialize, Model)]
    struct Out {
        n: i64,
        bad: Option<Failing>,
    }
    fn f(input: In) -> Vec<Out> {
        let second = (input.n == 2).then_some(Failing);
        vec![
            Out {
                n: input.n,
                bad: None,
            },
            Out {
                n: input.n,
                bad: second,
            },
        ]
    }
    let mut app = App::new();
    let a = app.stream::<In>("a", StreamConfig::default());
    let b = app.stream::<Out>("b", StreamConfig::default());
    app.transform("f", &a, &b, f);
    let input = Batch::from_lines([r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    let out = app.process("f", &input).unwrap();
    assert_eq!(out.sources, vec![0, 0, 2, 2]);
    assert_eq!(
        out.output.lines(),
        vec![
            r#"{"n":1,"bad":null}"#,
            r#"{"n":1,"bad":null}"#,
            r#"{"n":3,"bad":null}"#,
            r#"{"n":3,"bad":null}"#,
        ]
    );
    assert_eq!(
        out.errors,
        vec![RecordError {
            index: 1,
            message: "cannot serialize output record: boom".into()
        }]
    );
}

#[test]
fn api_fills_defaults_validates_and_binds() {
    let app = sample_app();
    native::set_mock(|query: &Query| {
        let params: Vec<(String, String)> = query
            .params()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            params,
            vec![
                ("customer".to_owned(), "c\\t1".to_owned()),
                ("from".to_owned(), "\\N".to_owned()),
                ("limit".to_owned(), "10".to_owned()),
            ]
        );
        assert!(query.sql().contains("{customer:String}"));
        Ok(
            b"{\"day\":\"2024-05-01\",\"revenue\":12.5}\n{\"day\":\"2024-05-02\",\"revenue\":3}\n"
                .to_vec(),
        )
    });
    let response = app
        .handle_api("totals/1.0", br#"{"customer":"c\t1"}"#)
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        std::str::from_utf8(&response.body).unwrap(),
        r#"[{"day":"2024-05-01","revenue":12.5},{"day":"2024-05-02","revenue":3.0}]"#
    );
    // Booleans and numbers sent as strings are accepted; minRevenue filters.
    let response = app
        .handle_api(
            "totals/1.0",
            br#"{"customer":"c\t1","verbose":"true","minRevenue":5,"unknown":1}"#,
        )
        .unwrap();
    assert_eq!(response.body, br#"[{"day":"2024-05-01","revenue":12.5}]"#);
    native::clear_mock();
}

#[test]
fn api_errors() {
    let app = sample_app();
    let call = |params: &str| app.handle_api("totals/1.0", params.as_bytes());
    assert_eq!(
        app.handle_api("nope", b"{}"),
        Err(ApiError::UnknownApi("nope".into()))
    );
    // A versioned API is called as `name/version`.
    assert_eq!(
        app.handle_api("totals", b"{}"),
        Err(ApiError::UnknownApi("totals".into()))
    );
    assert_eq!(
        call(r#"{}"#),
        Err(ApiError::BadRequest(
            "invalid parameters: missing field `customer`".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","limit":1000}"#),
        Err(ApiError::BadRequest(
            "parameter `limit` must be at most 100, got 1000".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","minRevenue":-1}"#),
        Err(ApiError::BadRequest(
            "parameter `minRevenue` must be at least 0, got -1".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","limit":"x"}"#),
        Err(ApiError::BadRequest(
            "`limit` must be a number, got \"x\"".into()
        ))
    );
    match call(r#"{"customer":"c","limit":-5.5,"from":"2024-13-01"}"#) {
        Err(ApiError::BadRequest(m)) => assert!(m.contains("at least 1"), "{m}"),
        other => panic!("{other:?}"),
    }
    match call(r#"{"customer":"c","from":"2024-13-01"}"#) {
        Err(ApiError::BadRequest(m)) => {
            assert!(m.starts_with("invalid parameter `from`: "), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(call("[1]"), Err(ApiError::BadRequest(_))));
    assert_eq!(
        call(r#"{"customer":"nobody"}"#),
        Err(ApiError::NotFound("no such customer".into()))
    );
    // Without a host (and without a mock) the query is unavailable.
    assert!(matches!(
        call(r#"{"customer":"c","limit":"5"}"#),
        Err(ApiError::Query(QueryError::Unavailable(_)))
    ));
    native::set_mock(|_| Ok(b"{\"day\":1}".to_vec()));
    match call(r#"{"customer":"c"}"#) {
        Err(ApiError::Query(QueryError::Failed(m))) => {
            assert!(m.starts_with("cannot decode result row 0 as "), "{m}")
        }
        other => panic!("{other:?}"),
    }
    native::clear_mock();
    let pong = app.handle_api("ping", b"").unwrap();
    assert_eq!(pong.body, br#"[{"id":"pong"}]"#);
    let pong = app.handle_api("ping/2.0", b"{}").unwrap();
    assert_eq!(pong.body, br#"[{"id":"pong","score":2.0}]"#);
    assert_eq!(
        app.handle_api("ping/3.0", b"{}"),
        Err(ApiError::UnknownApi("ping/3.0".into()))
    );
}

#[test]
#[should_panic(expected = "two streams are named `Order`")]
fn duplicate_names_panic() {
    let mut app = App::new();
    app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    app.stream::<Order>("Order", StreamConfig::default());
}

/// Version 1.1 of `Big`, with one more field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Big", version = "1.1")]
struct BigV11 {
    id: String,
    note: Option<String>,
}

#[test]
fn versions_of_a_model_get_their_own_pipelines() {
    let mut app = App::new();
    app.ingest_pipeline::<Big>("Big", PipelineConfig::default());
    let v11 = app.ingest_pipeline::<BigV11>("Big", PipelineConfig::default());
    assert_eq!(v11.stream.name(), "Big_1_1");
    assert_eq!(v11.table.as_ref().map(|t| t.name()), Some("Big_1_1"));
    assert_eq!(
        v11.dead_letter,
        Some(DeadLetterQueue::named("Big_1_1_dead_letter"))
    );
    let def = app.describe();
    let ingests: Vec<(&str, &str, &str)> = def
        .ingests
        .iter()
        .map(|i| (i.name.as_str(), i.model.as_str(), i.stream.as_str()))
        .collect();
    assert_eq!(
        ingests,
        vec![("Big", "Big", "Big"), ("Big", "Big@1.1", "Big_1_1")]
    );
    let models: Vec<String> = def.models.iter().map(|m| m.reference()).collect();
    assert_eq!(models, vec!["Big", "Big@1.1"]);
}

#[test]
#[should_panic(expected = "two ingest endpoints are named `Big/1.1`")]
fn one_ingest_route_per_model_version() {
    let mut app = App::new();
    let v11 = app.ingest_pipeline::<BigV11>("Big", PipelineConfig::default());
    app.ingest("Big", &v11.stream, None);
}

#[test]
#[should_panic(expected = "two APIs are named `ping/2.0`")]
fn duplicate_api_versions_panic() {
    let mut app = App::new();
    app.api("ping", ping_v2).version("2.0");
    app.api("ping", ping).version("1.0");
    app.api("ping", ping).version("2.0");
}

#[test]
fn dead_letter_queues_are_not_declared_streams() {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    assert_eq!(
        orders.dead_letter,
        Some(DeadLetterQueue::named("Order_dead_letter"))
    );
    let no_ingest = app.ingest_pipeline::<Big>("Big", PipelineConfig::default().without_ingest());
    assert_eq!(no_ingest.dead_letter, None);
    let def = app.describe();
    assert!(def
        .streams
        .iter()
        .all(|s| !s.name.ends_with("_dead_letter")));
    assert_eq!(
        def.ingests[0].dead_letter.as_deref(),
        Some("Order_dead_letter")
    );
}

#[test]
#[should_panic(expected = "API `bad`: default of `n` must be a number")]
fn invalid_param_default_panics() {
    #[derive(Deserialize, ApiParams)]
    struct P {
        #[moose(default = "ten")]
        n: u32,
    }
    fn h(p: P) -> Result<Vec<Big>, ApiError> {
        Ok(vec![Big {
            id: p.n.to_string(),
        }])
    }
    App::new().api("bad", h);
}
