use super::*;
use crate::app::App;
use crate::types::{
    AggregateColumn, AggregationDef, ApiParam, AppDef, ComputedColumn, ComputedKind, DecimalSpec,
    EnumMember, Field, FunctionDef, IngestDef, Projection, Replacing, StreamDef, TableEngine,
    TableIndex, TableOptions, VersionedCollapsing, ViewDef,
};

fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType, key: bool) -> Field {
    Field {
        key,
        ..Field::new(name, DataType::new(wrappers, leaf))
    }
}

fn model(name: &str, fields: Vec<Field>) -> Model {
    Model::new(name, fields)
}

fn table(name: &str, model: &str, source: Option<&str>) -> TableDef {
    TableDef {
        name: name.into(),
        model: model.into(),
        order_by: vec![],
        engine: TableEngine::MergeTree,
        source_stream: source.map(Into::into),
        options: TableOptions::default(),
    }
}

/// A small valid app: Order ingested, enriched, stored and aggregated.
fn shop() -> App {
    let order = model(
        "Order",
        vec![
            field("id", vec![], ScalarType::String, true),
            field("amount", vec![], ScalarType::Float64, false),
            field(
                "tags",
                vec![TypeWrapper::Array, TypeWrapper::Nullable],
                ScalarType::String,
                false,
            ),
        ],
    );
    let stream = |name: &str, model: &str| StreamDef {
        name: name.into(),
        model: model.into(),
        partitions: 0,
        retention_hours: None,
    };
    App {
        name: "shop".into(),
        components: vec![],
        def: AppDef {
            models: vec![order.clone(), model("Enriched", order.fields.clone())],
            streams: vec![stream("Order", "Order"), stream("Enriched", "Enriched")],
            tables: vec![
                table("Order", "Order", Some("Order")),
                table("Enriched", "Enriched", Some("Enriched")),
            ],
            ingests: vec![IngestDef {
                name: "Order".into(),
                model: "Order".into(),
                stream: "Order".into(),
                dead_letter: Some("Order_dead_letter".into()),
            }],
            functions: vec![FunctionDef {
                name: "enrich".into(),
                source: "Order".into(),
                destination: Some("Enriched".into()),
                dead_letter: Some("enrich_dead_letter".into()),
            }],
            aggregations: vec![AggregationDef {
                name: "Totals".into(),
                select: "SELECT id, sum(amount) AS amount FROM Enriched GROUP BY id".into(),
                sources: vec!["Enriched".into()],
                target: table("Totals", "Order", None),
            }],
            windowed_aggregations: vec![],
            views: vec![ViewDef {
                name: "Big".into(),
                select: "SELECT * FROM Order WHERE amount > 100".into(),
                sources: vec!["Order".into()],
            }],
            apis: vec![ApiDef {
                name: "totals".into(),
                version: None,
                params: vec![ApiParam {
                    name: "limit".into(),
                    data_type: DataType {
                        wrappers: vec![],
                        leaf: ScalarType::Uint32,
                    },
                    required: false,
                    default: Some("10".into()),
                    min: Some(1.0),
                    max: Some(100.0),
                    doc: None,
                }],
                response: "Order".into(),
                doc: None,
            }],
        },
    }
}

fn problems(app: &App) -> Vec<String> {
    match validate(app) {
        Ok(()) => vec![],
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn assert_problem(app: &App, expected: &str) {
    let found = problems(app);
    assert!(
        found.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {found:#?}"
    );
}

#[test]
fn accepts_a_complete_app() {
    assert_eq!(problems(&shop()), Vec::<String>::new());
}

#[test]
fn reports_unresolved_references() {
    let mut app = shop();
    app.def.streams[1].model = "Missing".into();
    app.def.functions[0].destination = Some("Nowhere".into());
    app.def.views[0].sources = vec!["Ghost".into()];
    app.def.apis[0].response = "Phantom".into();
    assert_problem(&app, "stream `Enriched`: model `Missing` is not declared");
    assert_problem(&app, "function `enrich`: stream `Nowhere` is not declared");
    assert_problem(
        &app,
        "view `Big`: source `Ghost` is not a declared table or view",
    );
    assert_problem(&app, "API `totals`: model `Phantom` is not declared");
    assert!(
        problems(&app).len() >= 4,
        "all problems are reported at once"
    );
}

#[test]
fn versions_of_a_model_get_their_own_ingest_routes() {
    let mut app = shop();
    let mut v11 = app.def.models[0].clone();
    v11.version = Some("1.1".into());
    app.def.models.push(v11);
    app.def.streams.push(StreamDef {
        name: "Order_1_1".into(),
        model: "Order@1.1".into(),
        partitions: 0,
        retention_hours: None,
    });
    app.def.ingests.push(IngestDef {
        name: "Order".into(),
        model: "Order@1.1".into(),
        stream: "Order_1_1".into(),
        dead_letter: None,
    });
    assert_eq!(problems(&app), Vec::<String>::new());
    assert_eq!(app.ingest_route(&app.def.ingests[1]), "Order/1.1");

    app.def.ingests[1].model = "Order".into();
    app.def.ingests[1].stream = "Order".into();
    assert_problem(&app, "ingest endpoint `Order`: is declared twice");
}

#[test]
fn reports_duplicates_across_tables_and_views() {
    let mut app = shop();
    app.def.views[0].name = "Order".into();
    assert_problem(
        &app,
        "view `Order`: a table or view of this name is declared twice",
    );
}

#[test]
fn rejects_types_clickhouse_cannot_store() {
    let mut app = shop();
    app.def.models[0].fields.push(field(
        "maybe_list",
        vec![TypeWrapper::Nullable, TypeWrapper::Array],
        ScalarType::String,
        false,
    ));
    app.def.models[0].fields.push(field(
        "price",
        vec![],
        ScalarType::Decimal(DecimalSpec {
            precision: 4,
            scale: 6,
        }),
        false,
    ));
    app.def.models[0].fields.push(field(
        "level",
        vec![],
        ScalarType::Enum(vec![
            EnumMember {
                name: "a".into(),
                value: 1,
            },
            EnumMember {
                name: "a".into(),
                value: 1,
            },
        ]),
        false,
    ));
    assert_problem(
        &app,
        "field `maybe_list`: ClickHouse cannot store a nullable array",
    );
    assert_problem(&app, "field `price`: Decimal(4, 6) needs");
    assert_problem(&app, "enum member `a` is declared twice");
    assert_problem(&app, "enum value 1 is used twice");
}

#[test]
fn requires_sortable_keys_and_order_by() {
    let mut app = shop();
    app.def.models[0].fields[0].data_type.wrappers = vec![TypeWrapper::Nullable];
    app.def.tables[1].order_by = vec!["missing".into()];
    assert_problem(
        &app,
        "model `Order`, field `id`: a key field must be a plain, non-null scalar",
    );
    assert_problem(
        &app,
        "table `Enriched`: order-by column `missing` is not a field of `Enriched`",
    );

    let mut app = shop();
    for f in &mut app.def.models[1].fields {
        f.key = false;
    }
    assert_problem(
        &app,
        "table `Enriched`: has no order-by and model `Enriched` has no key fields",
    );
    // An existing table of someone else's may be unsorted.
    let enriched = app
        .def
        .tables
        .iter_mut()
        .find(|t| t.name == "Enriched")
        .expect("table");
    enriched.options.externally_managed = true;
    assert!(
        !problems(&app).iter().any(|p| p.contains("has no order-by")),
        "{:?}",
        problems(&app)
    );
}

#[test]
fn checks_that_streams_carry_the_right_model() {
    let mut app = shop();
    app.def.ingests[0].stream = "Enriched".into();
    assert_problem(
        &app,
        "accepts model `Order` but stream `Enriched` carries `Enriched`",
    );
    let mut app = shop();
    app.def.tables[0].source_stream = Some("Enriched".into());
    assert_problem(
        &app,
        "holds model `Order` but its source stream `Enriched` carries `Enriched`",
    );
}

#[test]
fn checks_windowed_aggregations() {
    use crate::types::{WindowSpec, WindowedAggregationDef};
    let mut app = shop();
    app.def.models[0]
        .fields
        .push(field("ts", vec![], ScalarType::DateTime, false));
    let windowed = |name: &str, time_field: &str, size: u32, hop: u32| WindowedAggregationDef {
        name: name.into(),
        source: "Order".into(),
        time_field: time_field.into(),
        window: WindowSpec {
            size_seconds: size,
            hop_seconds: hop,
            allowed_lateness_seconds: 0,
        },
        target: table(&format!("{name}_target"), "Order", None),
        state_version: 1,
        dead_letter: Some(format!("{name}_dead_letter")),
    };
    app.def.windowed_aggregations = vec![windowed("per_minute", "ts", 60, 60)];
    assert_eq!(problems(&app), Vec::<String>::new());

    app.def.windowed_aggregations = vec![
        windowed("no_time", "missing", 60, 60),
        windowed("not_time", "amount", 60, 60),
        windowed("empty", "ts", 0, 0),
        windowed("long_hop", "ts", 60, 120),
        windowed("uneven", "ts", 60, 25),
        WindowedAggregationDef {
            source: "Nowhere".into(),
            ..windowed("lost", "ts", 60, 60)
        },
        windowed("per_minute", "ts", 60, 60),
        windowed("per_minute", "ts", 60, 60),
    ];
    assert_problem(
        &app,
        "windowed aggregation `no_time`: time field `missing` is not a field of `Order`",
    );
    assert_problem(&app, "windowed aggregation `not_time`: time field `amount` is Float64; it must be a non-null Date, DateTime or DateTime64");
    assert_problem(
        &app,
        "windowed aggregation `empty`: the window size must be at least 1 second",
    );
    assert_problem(&app, "windowed aggregation `long_hop`: the hop (120 s) must be between 1 s and the window size (60 s)");
    assert_problem(
        &app,
        "windowed aggregation `uneven`: the hop (25 s) must divide the window size (60 s)",
    );
    assert_problem(
        &app,
        "windowed aggregation `lost`: source stream `Nowhere` is not declared",
    );
    assert_problem(&app, "windowed aggregation `per_minute`: is declared twice");
    assert_problem(&app, "windowed aggregation `per_minute`, target table `per_minute_target`: a table or view of this name is declared twice");
}

#[test]
fn dead_letter_streams_belong_to_the_host() {
    let mut app = shop();
    app.def.functions[0].dead_letter = Some("Order".into());
    assert_problem(
        &app,
        "dead-letter stream `Order`: is also declared as a stream",
    );
}

#[test]
fn finds_nesting_cycles_and_missing_nested_models() {
    let mut app = shop();
    app.def.models.push(model(
        "A",
        vec![field("b", vec![], ScalarType::Nested("B".into()), false)],
    ));
    app.def.models.push(model(
        "B",
        vec![field(
            "a",
            vec![TypeWrapper::Array],
            ScalarType::Nested("A".into()),
            false,
        )],
    ));
    app.def.models.push(model(
        "C",
        vec![field("x", vec![], ScalarType::Nested("Nope".into()), false)],
    ));
    assert_problem(&app, "model `A`: nests itself: A -> B -> A");
    assert_problem(
        &app,
        "model `C`, field `x`: nested model `Nope` is not declared",
    );
}

#[test]
fn checks_api_parameters() {
    let mut app = shop();
    let param = &mut app.def.apis[0].params[0];
    param.data_type.leaf = ScalarType::String;
    param.required = true;
    assert_problem(
        &app,
        "parameter `limit`: min and max apply only to numeric parameters",
    );
    assert_problem(
        &app,
        "parameter `limit`: is required and also has a default",
    );

    let mut app = shop();
    app.def.apis[0].params[0].min = Some(50.0);
    app.def.apis[0].params[0].max = Some(5.0);
    app.def.apis[0].name = "bad name".into();
    assert_problem(&app, "min 50 is greater than max 5");
    assert_problem(&app, "`bad name` is not a valid route name");

    let mut app = shop();
    let param = &mut app.def.apis[0].params[0];
    param.data_type.leaf = ScalarType::Geo(crate::types::GeoShape::Point);
    (param.min, param.max) = (None, None);
    assert_problem(
        &app,
        "parameter `limit`: a query parameter cannot be a Point; pass its coordinates as numbers",
    );
}

/// `Order` with a `uniq` state of `id`.
fn with_state(app: &mut App, model: usize) {
    app.def.models[model].fields.push(Field {
        aggregate: Some(AggregateColumn {
            function: "uniq".into(),
            kind: AggregateKind::State(vec![DataType::new(vec![], ScalarType::String)]),
        }),
        ..field("buyers", vec![], ScalarType::Uint64, false)
    });
}

#[test]
fn aggregate_states_live_only_in_tables_views_write() {
    let mut app = shop();
    app.def.models.push(model(
        "Daily",
        vec![field("day", vec![], ScalarType::Date, true)],
    ));
    with_state(&mut app, 2);
    app.def.aggregations[0].target.model = "Daily".into();
    app.def.aggregations[0].target.order_by = vec!["day".into()];
    assert_eq!(problems(&app), Vec::<String>::new());
    app.def.aggregations[0].target.order_by = vec!["day".into(), "buyers".into()];
    assert_problem(
        &app,
        "order-by column `buyers` is AggregateFunction(uniq, String); an aggregate column \
         cannot be part of the sort key",
    );

    let mut app = shop();
    with_state(&mut app, 0);
    let state =
        "model `Order` field `buyers` is AggregateFunction(uniq, String), an aggregate state";
    for subject in ["stream `Order`", "ingest endpoint `Order`", "API `totals`"] {
        assert_problem(&app, &format!("{subject}: {state}"));
    }
}

#[test]
fn aggregate_functions_are_names_with_plain_parameters() {
    for (function, valid) in [
        ("uniq", true),
        ("quantiles(0.5, 0.9)", true),
        ("sumMap", true),
        ("", false),
        ("uniq(", false),
        ("uniq) DROP", false),
        ("quantiles(0.5); DROP TABLE x", false),
        ("f('a)", false),
    ] {
        assert_eq!(is_aggregate_function(function), valid, "{function:?}");
    }
    let mut app = shop();
    app.def.models[1].fields.push(Field {
        aggregate: Some(AggregateColumn {
            function: "max;".into(),
            kind: AggregateKind::Simple,
        }),
        ..field("top", vec![], ScalarType::Float64, true)
    });
    assert_problem(&app, "`max;` is not an aggregate function name");
    assert_problem(&app, "a key field cannot hold an aggregate");
}

/// The shop with one more table of `Event` (key `id`, `ts`, `sign` Int8, `version` UInt32,
/// `deleted` UInt8, `amount` Float64) declared with `engine` and `options`.
fn with_event_table(engine: TableEngine, options: TableOptions) -> App {
    let mut app = shop();
    let mut ts = field("ts", vec![], ScalarType::DateTime, false);
    ts.codec = Some("Delta, ZSTD(1)".into());
    app.def.models.push(model(
        "Event",
        vec![
            field("id", vec![], ScalarType::String, true),
            ts,
            field("sign", vec![], ScalarType::Int8, false),
            field("version", vec![], ScalarType::Uint32, false),
            field("deleted", vec![], ScalarType::Uint8, false),
            field("amount", vec![], ScalarType::Float64, false),
        ],
    ));
    app.def.tables.push(TableDef {
        order_by: vec!["id".into(), "ts".into()],
        engine,
        options,
        ..table("Event", "Event", None)
    });
    app
}

#[test]
fn accepts_every_engine_and_table_option() {
    let options = TableOptions {
        partition_by: Some("toYYYYMM(ts)".into()),
        primary_key: vec!["id".into()],
        sample_by: Some("id".into()),
        ttl: Some("ts + INTERVAL 90 DAY".into()),
        settings: vec![("index_granularity".into(), "4096".into())],
        indexes: vec![TableIndex {
            name: "amount_range".into(),
            expression: "amount".into(),
            kind: "minmax".into(),
            granularity: 4,
        }],
        projections: vec![Projection {
            name: "by_amount".into(),
            select: "SELECT * ORDER BY amount".into(),
        }],
        computed: vec![ComputedColumn {
            name: "day".into(),
            data_type: DataType::new(vec![], ScalarType::Date),
            kind: ComputedKind::Materialized,
            expression: "toDate(ts)".into(),
            doc: None,
        }],
        externally_managed: false,
    };
    let engines = [
        TableEngine::ReplacingMergeTree(Replacing {
            version: Some("version".into()),
            is_deleted: Some("deleted".into()),
        }),
        TableEngine::CollapsingMergeTree("sign".into()),
        TableEngine::VersionedCollapsingMergeTree(VersionedCollapsing {
            sign: "sign".into(),
            version: "version".into(),
        }),
    ];
    for engine in engines {
        assert_eq!(
            problems(&with_event_table(engine, options.clone())),
            Vec::<String>::new()
        );
    }
}

#[test]
fn reports_engine_columns_and_options_that_cannot_work() {
    let options = TableOptions {
        partition_by: Some(" ".into()),
        primary_key: vec!["ts".into()],
        sample_by: Some("amount".into()),
        settings: vec![
            ("index_granularity".into(), "1".into()),
            ("index_granularity".into(), "2".into()),
        ],
        indexes: vec![
            TableIndex {
                name: "i".into(),
                expression: "amount".into(),
                kind: "".into(),
                granularity: 1,
            },
            TableIndex {
                name: "i".into(),
                expression: "id".into(),
                kind: "set(10)".into(),
                granularity: 1,
            },
        ],
        projections: vec![Projection {
            name: "p".into(),
            select: "amount FROM Event".into(),
        }],
        ..TableOptions::default()
    };
    let mut app = with_event_table(TableEngine::CollapsingMergeTree("amount".into()), options);
    app.def.models.last_mut().unwrap().fields[0].ttl = Some("now()".into());
    let table = "table `Event`";
    let expected = [
        "sign column `amount` is Float64; it must be Int8",
        "partition_by is empty; leave it out instead",
        "primary key (ts) must be a prefix of the sort key (id, ts)",
        "sample_by column `amount` must be part of the primary key (ts)",
        "setting `index_granularity` is set twice",
        "index `i` has no type (minmax, set(N), bloom_filter, ngrambf_v1(...), ...)",
        "index `i` is declared twice",
        "projection `p`: its query must start with SELECT (and have no FROM)",
        "field `id` is part of the sort key and cannot have a TTL",
    ];
    let found = problems(&app);
    for message in expected {
        let line = format!("{table}: {message}");
        assert!(found.contains(&line), "missing {line:?} in {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");

    let replacing = with_event_table(
        TableEngine::ReplacingMergeTree(Replacing {
            version: None,
            is_deleted: Some("sign".into()),
        }),
        TableOptions::default(),
    );
    assert_eq!(
        problems(&replacing),
        [
            "table `Event`: is_deleted column `sign` is Int8; it must be UInt8",
            "table `Event`: an is_deleted column needs a version column"
        ]
    );
}

#[test]
fn computed_columns_are_named_apart_from_the_model_and_have_expressions() {
    let column = |name: &str, expression: &str, leaf: ScalarType| ComputedColumn {
        name: name.into(),
        data_type: DataType::new(vec![], leaf),
        kind: ComputedKind::Materialized,
        expression: expression.into(),
        doc: None,
    };
    let options = TableOptions {
        computed: vec![
            column("day", "toDate(ts)", ScalarType::Date),
            column("amount", "1", ScalarType::Float64),
            column("day", "toDate(ts)", ScalarType::Date),
            column("blank", " ", ScalarType::Date),
            column("nested", "ts", ScalarType::Nested("Order".into())),
        ],
        ..TableOptions::default()
    };
    assert_eq!(
        problems(&with_event_table(TableEngine::MergeTree, options)),
        [
            "table `Event`: computed column `amount`: `Event` already has a field of this name",
            "table `Event`: computed column `day` is declared twice",
            "table `Event`: computed column `blank` has no expression",
            "table `Event`: computed column `nested` is a nested record; computed columns hold \
             plain types",
        ]
    );
}
