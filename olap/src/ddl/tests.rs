use super::create::sharding_columns;
use super::*;
use crate::compat::ServerVersion;
use moose_model::types::{
    AggregationDef, AppDef, ComputedColumn, ComputedKind, DataType, DecimalSpec, EnumMember, Field,
    Model, Projection, Replacing, ScalarType, TableDef, TableEngine, TableIndex, TableOptions,
    TypeWrapper, VersionedCollapsing, ViewDef,
};

fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Field {
    Field::new(name, DataType::new(wrappers, leaf))
}

fn model(name: &str, fields: Vec<Field>) -> Model {
    Model::new(name, fields)
}

fn app(models: Vec<Model>) -> App {
    App {
        name: "test".into(),
        components: vec![],
        def: AppDef {
            models,
            ..AppDef::default()
        },
    }
}

fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
    DataType { wrappers, leaf }
}

fn table(name: &str, model: &str, order_by: &[&str], engine: TableEngine) -> TableDef {
    TableDef {
        name: name.into(),
        model: model.into(),
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        engine,
        source_stream: None,
        options: Default::default(),
    }
}

#[test]
fn quotes_identifiers_and_strings() {
    assert_eq!(quote_ident("Order"), "`Order`");
    assert_eq!(quote_ident("a`b\\c"), "`a\\`b\\\\c`");
    assert_eq!(quote_string("it's\n\\"), "'it\\'s\\n\\\\'");
    assert_eq!(qualified("local", "T"), "`local`.`T`");
    assert_eq!(
        create_database(&"lo`cal".into()),
        "CREATE DATABASE IF NOT EXISTS `lo\\`cal`"
    );
}

#[test]
fn maps_every_type_in_the_model_type_list() {
    use ScalarType as S;
    use TypeWrapper as W;
    let address = model(
        "Address",
        vec![
            field("street", vec![], S::String),
            field("zip", vec![W::Nullable], S::String),
            field("geo", vec![], S::Nested("Point".into())),
        ],
    );
    let point = model(
        "Point",
        vec![
            field("lat", vec![], S::Float64),
            field("lon", vec![], S::Float64),
        ],
    );
    let app = app(vec![address, point]);
    let cases: Vec<(DataType, &str)> = vec![
        (ty(vec![], S::String), "String"),
        (ty(vec![], S::Int8), "Int8"),
        (ty(vec![], S::Int16), "Int16"),
        (ty(vec![], S::Int32), "Int32"),
        (ty(vec![], S::Int64), "Int64"),
        (ty(vec![], S::Uint8), "UInt8"),
        (ty(vec![], S::Uint16), "UInt16"),
        (ty(vec![], S::Uint32), "UInt32"),
        (ty(vec![], S::Uint64), "UInt64"),
        (ty(vec![], S::Float32), "Float32"),
        (ty(vec![], S::Float64), "Float64"),
        (ty(vec![], S::Boolean), "Bool"),
        (
            ty(
                vec![],
                S::Decimal(DecimalSpec {
                    precision: 18,
                    scale: 4,
                }),
            ),
            "Decimal(18, 4)",
        ),
        (ty(vec![], S::Date), "Date"),
        (ty(vec![], S::DateTime), "DateTime"),
        (ty(vec![], S::DateTime64(3)), "DateTime64(3)"),
        (ty(vec![], S::Uuid), "UUID"),
        (
            ty(
                vec![],
                S::Enum(vec![
                    EnumMember {
                        name: "small".into(),
                        value: 1,
                    },
                    EnumMember {
                        name: "it's".into(),
                        value: 2,
                    },
                ]),
            ),
            "Enum8('small' = 1, 'it\\'s' = 2)",
        ),
        (
            ty(
                vec![],
                S::Enum(vec![EnumMember {
                    name: "x".into(),
                    value: 300,
                }]),
            ),
            "Enum16('x' = 300)",
        ),
        (ty(vec![W::Array], S::Int32), "Array(Int32)"),
        (
            ty(vec![W::Array, W::Nullable], S::String),
            "Array(Nullable(String))",
        ),
        (ty(vec![W::Map], S::Float64), "Map(String, Float64)"),
        (
            ty(vec![W::Map, W::Array], S::Uint8),
            "Map(String, Array(UInt8))",
        ),
        (ty(vec![W::Nullable], S::Int32), "Nullable(Int32)"),
        (ty(vec![], S::LowCardinalityString), "LowCardinality(String)"),
        (
            ty(vec![W::Nullable], S::LowCardinalityString),
            "LowCardinality(Nullable(String))",
        ),
        (ty(vec![], S::Json), "JSON"),
        (
            ty(vec![], S::Nested("Point".into())),
            "Tuple(`lat` Float64, `lon` Float64)",
        ),
        (
            ty(vec![], S::Nested("Address".into())),
            "Tuple(`street` String, `zip` Nullable(String), `geo` Tuple(`lat` Float64, `lon` Float64))",
        ),
        (
            ty(vec![W::Array], S::Nested("Point".into())),
            "Array(Tuple(`lat` Float64, `lon` Float64))",
        ),
        (
            ty(vec![W::Map, W::Array], S::Nested("Point".into())),
            "Map(String, Array(Tuple(`lat` Float64, `lon` Float64)))",
        ),
    ];
    for (data_type, expected) in cases {
        assert_eq!(column_type(&app, &data_type).unwrap(), expected);
    }
}

#[test]
fn refuses_missing_and_cyclic_nested_models() {
    use TypeWrapper as W;
    let looping = model(
        "Loop",
        vec![field(
            "next",
            vec![W::Array],
            ScalarType::Nested("Loop".into()),
        )],
    );
    let app = app(vec![looping]);
    let missing = column_type(&app, &ty(vec![], ScalarType::Nested("Ghost".into())));
    assert_eq!(
        missing.unwrap_err().to_string(),
        "nested model `Ghost` is not declared"
    );
    let cycle = column_type(&app, &ty(vec![], ScalarType::Nested("Loop".into())));
    assert!(cycle.unwrap_err().to_string().contains("nested more than"));
}

#[test]
fn creates_a_table_with_defaults_comments_engine_and_key() {
    let mut id = field("id", vec![], ScalarType::String);
    id.key = true;
    let mut amount = field("amount", vec![], ScalarType::Float64);
    amount.default = Some("0".into());
    amount.doc = Some("in 'EUR'".into());
    let version = field("v", vec![], ScalarType::Uint64);
    let mut app = app(vec![model("Order", vec![id, amount, version])]);
    let orders = table(
        "Order",
        "Order",
        &[],
        TableEngine::ReplacingMergeTree(Replacing {
            version: Some("v".into()),
            is_deleted: None,
        }),
    );
    app.def.tables.push(orders.clone());
    let sql = |app: &App, table: &TableDef| {
        create_table(app, "local", table, DdlKind::Table).map(|mut s| s.remove(0).sql)
    };
    assert_eq!(
        sql(&app, &orders).unwrap(),
        "CREATE TABLE IF NOT EXISTS `local`.`Order`\n(\n    `id` String,\n    `amount` Float64 DEFAULT 0 COMMENT 'in \\'EUR\\'',\n    `v` UInt64\n)\nENGINE = ReplacingMergeTree(`v`)\nORDER BY (`id`)"
    );
    let summing = table(
        "S",
        "Order",
        &["id", "v"],
        TableEngine::SummingMergeTree(vec!["amount".into()]),
    );
    let summing_sql = sql(&app, &summing).unwrap();
    assert!(
        summing_sql.ends_with("ENGINE = SummingMergeTree((`amount`))\nORDER BY (`id`, `v`)"),
        "{summing_sql}"
    );
    let keyless = table("K", "Order", &[], TableEngine::MergeTree);
    app.def.models[0].fields[0].key = false;
    assert!(sql(&app, &keyless)
        .unwrap_err()
        .to_string()
        .contains("no order-by columns"));
}

#[test]
fn creates_dead_letter_tables() {
    let statement = dead_letter_table("local", "Order_dead_letter");
    assert_eq!(statement.kind, DdlKind::DeadLetterTable);
    assert_eq!(
        statement.sql,
        "CREATE TABLE IF NOT EXISTS `local`.`Order_dead_letter`\n(\n    `record` String,\n    `error` String,\n    `error_kind` LowCardinality(String),\n    `source` String,\n    `failed_at` DateTime64(3)\n)\nENGINE = MergeTree\nORDER BY (`failed_at`)"
    );
}

#[test]
fn falls_back_to_older_dead_letter_types_on_old_servers() {
    let target = Target {
        database: "local".into(),
        cluster: None,
        server: ServerVersion::parse("18.16.1"),
    };
    let statement = dead_letter_table(&target, "dlq");
    assert!(
        statement.sql.contains("`error_kind` String,\n")
            && statement.sql.contains("`failed_at` DateTime\n"),
        "{}",
        statement.sql
    );
    let types: Vec<&str> = statement.columns.iter().map(|c| c.ty.as_str()).collect();
    assert_eq!(types, ["String", "String", "String", "String", "DateTime"]);
}

fn cluster_app() -> App {
    let mut id = field("id", vec![], ScalarType::String);
    id.key = true;
    let mut app = app(vec![
        model(
            "Order",
            vec![
                id,
                field("amount", vec![], ScalarType::Float64),
                field("v", vec![], ScalarType::Uint64),
            ],
        ),
        model(
            "Daily",
            vec![
                field("day", vec![], ScalarType::Date),
                field("total", vec![], ScalarType::Float64),
            ],
        ),
    ]);
    app.def.tables.push(table(
        "Order",
        "Order",
        &[],
        TableEngine::ReplacingMergeTree(Replacing {
            version: Some("v".into()),
            is_deleted: None,
        }),
    ));
    app.def
        .tables
        .push(table("Log", "Order", &["amount"], TableEngine::MergeTree));
    app.def.aggregations.push(AggregationDef {
        name: "Daily".into(),
        select: "SELECT today() AS day, sum(amount) AS total FROM Order GROUP BY day".into(),
        sources: vec!["Order".into()],
        target: table(
            "Daily",
            "Daily",
            &["day"],
            TableEngine::SummingMergeTree(vec!["total".into()]),
        ),
    });
    app.def.views.push(ViewDef {
        name: "Big".into(),
        select: "SELECT * FROM Order WHERE amount > 100".into(),
        sources: vec!["Order".into()],
    });
    app.def.ingests.push(moose_model::types::IngestDef {
        name: "Order".into(),
        model: "Order".into(),
        stream: "Order".into(),
        dead_letter: Some("Order_dead_letter".into()),
    });
    app
}

#[test]
fn creates_replicated_and_distributed_tables_on_a_cluster() {
    let app = cluster_app();
    let target = Target {
        database: "db".into(),
        cluster: Some("main".into()),
        server: None,
    };
    let plan = plan(&app, &target).unwrap();
    let order: Vec<(DdlKind, &str)> = plan.iter().map(|s| (s.kind, s.name.as_str())).collect();
    assert_eq!(
        order,
        vec![
            (DdlKind::Database, "db"),
            (DdlKind::Table, "Order_local"),
            (DdlKind::DistributedTable, "Order"),
            (DdlKind::Table, "Log_local"),
            (DdlKind::DistributedTable, "Log"),
            (DdlKind::AggregationTarget, "Daily_local"),
            (DdlKind::DistributedTable, "Daily"),
            (DdlKind::MaterializedView, "Daily_mv"),
            (DdlKind::View, "Big"),
        ]
    );
    let sql: Vec<&str> = plan.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        sql,
        [
            "CREATE DATABASE IF NOT EXISTS `db` ON CLUSTER `main`",
            "CREATE TABLE IF NOT EXISTS `db`.`Order_local` ON CLUSTER `main`\n(\n    `id` String,\n    `amount` Float64,\n    `v` UInt64\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', `v`)\nORDER BY (`id`)",
            "CREATE TABLE IF NOT EXISTS `db`.`Order` ON CLUSTER `main`\nAS `db`.`Order_local`\nENGINE = Distributed('main', 'db', 'Order_local', cityHash64(`id`))",
            "CREATE TABLE IF NOT EXISTS `db`.`Log_local` ON CLUSTER `main`\n(\n    `id` String,\n    `amount` Float64,\n    `v` UInt64\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\nORDER BY (`amount`)",
            "CREATE TABLE IF NOT EXISTS `db`.`Log` ON CLUSTER `main`\nAS `db`.`Log_local`\nENGINE = Distributed('main', 'db', 'Log_local', rand())",
            "CREATE TABLE IF NOT EXISTS `db`.`Daily_local` ON CLUSTER `main`\n(\n    `day` Date,\n    `total` Float64\n)\nENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', (`total`))\nORDER BY (`day`)",
            "CREATE TABLE IF NOT EXISTS `db`.`Daily` ON CLUSTER `main`\nAS `db`.`Daily_local`\nENGINE = Distributed('main', 'db', 'Daily_local', cityHash64(`day`))",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`Daily_mv` ON CLUSTER `main` TO `db`.`Daily`\nAS SELECT today() AS day, sum(amount) AS total FROM Order GROUP BY day",
            "CREATE VIEW IF NOT EXISTS `db`.`Big` ON CLUSTER `main`\nAS SELECT * FROM Order WHERE amount > 100",
        ]
    );
    // Only the tables that hold rows carry columns for the compatibility check.
    let checked: Vec<&str> = plan
        .iter()
        .filter(|s| !s.columns.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(checked, ["Order_local", "Log_local", "Daily_local"]);
    assert_eq!(plan[1].columns[0].owner, "Order");

    let dead_letters: Vec<String> = dead_letter_tables(&app, &target)
        .into_iter()
        .map(|s| s.sql)
        .collect();
    assert_eq!(
        dead_letters,
        [
            "CREATE TABLE IF NOT EXISTS `db`.`Order_dead_letter_local` ON CLUSTER `main`\n(\n    `record` String,\n    `error` String,\n    `error_kind` LowCardinality(String),\n    `source` String,\n    `failed_at` DateTime64(3)\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\nORDER BY (`failed_at`)",
            "CREATE TABLE IF NOT EXISTS `db`.`Order_dead_letter` ON CLUSTER `main`\nAS `db`.`Order_dead_letter_local`\nENGINE = Distributed('main', 'db', 'Order_dead_letter_local', rand())",
        ]
    );
}

#[test]
fn replicates_every_engine_with_its_arguments() {
    use TableEngine as E;
    let cases = [
        (E::MergeTree, "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
        (E::ReplacingMergeTree(Replacing::default()), "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
        (E::ReplacingMergeTree(Replacing { version: Some("v".into()), is_deleted: Some("d".into()) }), "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', `v`, `d`)"),
        (E::CollapsingMergeTree("sign".into()), "ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', `sign`)"),
        (E::VersionedCollapsingMergeTree(VersionedCollapsing { sign: "s".into(), version: "v".into() }), "ReplicatedVersionedCollapsingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', `s`, `v`)"),
        (E::SummingMergeTree(vec![]), "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
        (E::SummingMergeTree(vec!["a".into(), "b".into()]), "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', (`a`, `b`))"),
        (E::AggregatingMergeTree, "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
    ];
    for (engine, expected) in cases {
        assert_eq!(replicated_engine(&engine), expected);
    }
}

#[test]
fn shards_rows_that_merge_together() {
    let mut app = cluster_app();
    let keyless_merging = table(
        "T",
        "Daily",
        &["day"],
        TableEngine::ReplacingMergeTree(Replacing::default()),
    );
    assert_eq!(
        sharding_columns(&app, &keyless_merging, &["day".into()]),
        ["day"]
    );
    // A key field outside the sort key cannot shard a merging table.
    let outside = table(
        "U",
        "Order",
        &["amount"],
        TableEngine::SummingMergeTree(vec![]),
    );
    assert_eq!(
        sharding_columns(&app, &outside, &["amount".into()]),
        ["amount"]
    );
    app.def.models[0].fields[0].key = false;
    let plain = table("V", "Order", &["amount"], TableEngine::MergeTree);
    assert!(sharding_columns(&app, &plain, &["amount".into()]).is_empty());
}

#[test]
fn orders_views_after_the_views_they_read() {
    let mut day = field("day", vec![], ScalarType::Date);
    day.key = true;
    let mut app = app(vec![model("Daily", vec![day])]);
    app.def
        .tables
        .push(table("Base", "Daily", &[], TableEngine::MergeTree));
    app.def.views.push(ViewDef {
        name: "Top".into(),
        select: "SELECT * FROM Middle".into(),
        sources: vec!["Middle".into()],
    });
    app.def.views.push(ViewDef {
        name: "Middle".into(),
        select: "SELECT * FROM Base;".into(),
        sources: vec!["Base".into()],
    });
    app.def.aggregations.push(AggregationDef {
        name: "Agg".into(),
        select: "SELECT day FROM Top".into(),
        sources: vec!["Top".into()],
        target: table("Agg", "Daily", &[], TableEngine::MergeTree),
    });
    let plan = plan(&app, "db").unwrap();
    let order: Vec<(DdlKind, &str)> = plan.iter().map(|s| (s.kind, s.name.as_str())).collect();
    assert_eq!(
        order,
        vec![
            (DdlKind::Database, "db"),
            (DdlKind::Table, "Base"),
            (DdlKind::AggregationTarget, "Agg"),
            (DdlKind::View, "Middle"),
            (DdlKind::View, "Top"),
            (DdlKind::MaterializedView, "Agg_mv"),
        ]
    );
    assert_eq!(
        plan[3].sql,
        "CREATE VIEW IF NOT EXISTS `db`.`Middle`\nAS SELECT * FROM Base"
    );
    assert_eq!(
        plan[5].sql,
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`Agg_mv` TO `db`.`Agg`\nAS SELECT day FROM Top"
    );
    app.def.views[1].sources = vec!["Top".into()];
    assert!(super::plan(&app, "db")
        .unwrap_err()
        .to_string()
        .contains("cycle"));
}

#[test]
fn lists_dead_letter_streams_once() {
    use moose_model::types::{FunctionDef, IngestDef};
    let mut app = app(vec![]);
    app.def.ingests.push(IngestDef {
        name: "Order".into(),
        model: "Order".into(),
        stream: "Order".into(),
        dead_letter: Some("dlq".into()),
    });
    app.def.functions.push(FunctionDef {
        name: "f".into(),
        source: "Order".into(),
        destination: None,
        dead_letter: Some("dlq".into()),
    });
    assert_eq!(dead_letter_streams(&app), vec!["dlq".to_string()]);
    assert_eq!(dead_letter_tables(&app, "db").len(), 1);
}

fn options_app() -> (App, TableDef) {
    let mut id = field("id", vec![], ScalarType::String);
    id.key = true;
    let mut ts = field("ts", vec![], ScalarType::DateTime);
    ts.codec = Some("Delta, ZSTD(1)".into());
    let mut note = field("note", vec![], ScalarType::String);
    note.default = Some("''".into());
    note.ttl = Some("ts + INTERVAL 1 DAY".into());
    let mut app = app(vec![model("Event", vec![id, ts, note])]);
    let events = TableDef {
        options: TableOptions {
            partition_by: Some("toYYYYMM(ts)".into()),
            primary_key: vec!["id".into()],
            sample_by: None,
            ttl: Some("ts + INTERVAL 90 DAY".into()),
            settings: vec![("index_granularity".into(), "1024".into())],
            indexes: vec![TableIndex {
                name: "note_bf".into(),
                expression: "lower(note)".into(),
                kind: "bloom_filter(0.01)".into(),
                granularity: 0,
            }],
            projections: vec![Projection {
                name: "by_ts".into(),
                select: "SELECT * ORDER BY ts".into(),
            }],
            computed: vec![
                ComputedColumn {
                    name: "day".into(),
                    data_type: DataType::new(vec![], ScalarType::Date),
                    kind: ComputedKind::Materialized,
                    expression: "toDate(ts)".into(),
                    doc: Some("The day of ts.".into()),
                },
                ComputedColumn {
                    name: "loud".into(),
                    data_type: DataType::new(vec![], ScalarType::String),
                    kind: ComputedKind::Alias,
                    expression: "upper(note)".into(),
                    doc: None,
                },
            ],
            externally_managed: false,
        },
        ..table("Event", "Event", &["id", "ts"], TableEngine::MergeTree)
    };
    app.def.tables.push(events.clone());
    (app, events)
}

#[test]
fn declares_column_and_table_options_in_clickhouse_order() {
    let (app, events) = options_app();
    let sql = create_table(&app, "db", &events, DdlKind::Table).unwrap()[0]
        .sql
        .clone();
    assert_eq!(
        sql,
        "CREATE TABLE IF NOT EXISTS `db`.`Event`\n(\n    `id` String,\n    `ts` DateTime CODEC(Delta, ZSTD(1)),\n    `note` String DEFAULT '' TTL ts + INTERVAL 1 DAY,\n    `day` Date MATERIALIZED toDate(ts) COMMENT 'The day of ts.',\n    `loud` String ALIAS upper(note),\n    INDEX `note_bf` lower(note) TYPE bloom_filter(0.01) GRANULARITY 1,\n    PROJECTION `by_ts` (SELECT * ORDER BY ts)\n)\nENGINE = MergeTree\nORDER BY (`id`, `ts`)\nPARTITION BY toYYYYMM(ts)\nPRIMARY KEY (`id`)\nTTL ts + INTERVAL 90 DAY\nSETTINGS index_granularity = 1024"
    );
    // A windowed target keeps its deduplication window beside the table's settings, and a
    // setting the table names itself wins.
    let windowed = create_table(&app, "db", &events, DdlKind::WindowTarget).unwrap()[0]
        .sql
        .clone();
    assert!(
        windowed.ends_with(
            "SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 1024"
        ),
        "{windowed}"
    );
    let mut own = events.clone();
    own.options.settings = vec![("non_replicated_deduplication_window".into(), "10".into())];
    let own = create_table(&app, "db", &own, DdlKind::WindowTarget).unwrap()[0]
        .sql
        .clone();
    assert!(
        own.ends_with("SETTINGS non_replicated_deduplication_window = 10"),
        "{own}"
    );
}

#[test]
fn alters_table_options_on_the_tables_that_store_rows() {
    let single: Target = "db".into();
    let cluster = Target {
        database: "db".into(),
        cluster: Some("main".into()),
        server: None,
    };
    let index = TableIndex {
        name: "i".into(),
        expression: "amount".into(),
        kind: "minmax".into(),
        granularity: 4,
    };
    assert_eq!(
        add_index(&single, "T", &index),
        [
            "ALTER TABLE `db`.`T` ADD INDEX IF NOT EXISTS `i` amount TYPE minmax GRANULARITY 4",
            "ALTER TABLE `db`.`T` MATERIALIZE INDEX `i`",
        ]
    );
    assert_eq!(
        modify_ttl(&cluster, "T", Some("ts + INTERVAL 1 DAY")),
        ["ALTER TABLE `db`.`T_local` ON CLUSTER `main` MODIFY TTL ts + INTERVAL 1 DAY"]
    );
    assert_eq!(
        modify_ttl(&single, "T", None),
        ["ALTER TABLE `db`.`T` REMOVE TTL"]
    );
    assert_eq!(
        modify_setting(&single, "T", "merge_with_ttl_timeout", Some("3600")),
        ["ALTER TABLE `db`.`T` MODIFY SETTING merge_with_ttl_timeout = 3600"]
    );
    assert_eq!(
        modify_setting(&single, "T", "merge_with_ttl_timeout", None),
        ["ALTER TABLE `db`.`T` RESET SETTING merge_with_ttl_timeout"]
    );
    let projection = Projection {
        name: "p".into(),
        select: "SELECT * ORDER BY b;".into(),
    };
    assert_eq!(
        add_projection(&single, "T", &projection),
        [
            "ALTER TABLE `db`.`T` ADD PROJECTION IF NOT EXISTS `p` (SELECT * ORDER BY b)",
            "ALTER TABLE `db`.`T` MATERIALIZE PROJECTION `p`",
        ]
    );
    assert_eq!(
        drop_projection(&single, "T", "p"),
        ["ALTER TABLE `db`.`T` DROP PROJECTION IF EXISTS `p`"]
    );
    assert_eq!(
        drop_index(&single, "T", "i"),
        ["ALTER TABLE `db`.`T` DROP INDEX IF EXISTS `i`"]
    );
    // Column codecs and TTLs live on the stored rows only; the distributed table follows
    // the column's type and default.
    let clauses = ColumnClauses {
        default: Some("0"),
        codec: Some("ZSTD(3)"),
        ..ColumnClauses::default()
    };
    assert_eq!(
        add_column(&cluster, "T", "c", "UInt32", &clauses, Some("b")),
        [
            "ALTER TABLE `db`.`T_local` ON CLUSTER `main` ADD COLUMN IF NOT EXISTS `c` UInt32 DEFAULT 0 CODEC(ZSTD(3)) AFTER `b`",
            "ALTER TABLE `db`.`T` ON CLUSTER `main` ADD COLUMN IF NOT EXISTS `c` UInt32 DEFAULT 0 AFTER `b`",
        ]
    );
    assert_eq!(
        modify_column_property(&cluster, "T", "c", ColumnProperty::Codec, None),
        ["ALTER TABLE `db`.`T_local` ON CLUSTER `main` MODIFY COLUMN `c` REMOVE CODEC"]
    );
    assert_eq!(
        modify_column_property(&single, "T", "c", ColumnProperty::Comment, Some("it's")),
        ["ALTER TABLE `db`.`T` MODIFY COLUMN `c` COMMENT 'it\\'s'"]
    );
    assert_eq!(
        modify_column_property(&single, "T", "c", ColumnProperty::Materialized, None),
        ["ALTER TABLE `db`.`T` MODIFY COLUMN `c` REMOVE MATERIALIZED"]
    );
    assert_eq!(
        modify_column_property(
            &cluster,
            "T",
            "c",
            ColumnProperty::Materialized,
            Some("a + 1")
        ),
        [
            "ALTER TABLE `db`.`T_local` ON CLUSTER `main` MODIFY COLUMN `c` MATERIALIZED a + 1",
            "ALTER TABLE `db`.`T` ON CLUSTER `main` MODIFY COLUMN `c` MATERIALIZED a + 1",
            "ALTER TABLE `db`.`T_local` ON CLUSTER `main` MATERIALIZE COLUMN `c`",
        ]
    );
    assert_eq!(
        modify_column_property(&single, "T", "c", ColumnProperty::Ttl, Some("now()")),
        ["ALTER TABLE `db`.`T` MODIFY COLUMN `c` TTL now()"]
    );
    assert_eq!(
        modify_column_property(&cluster, "T", "c", ColumnProperty::Default, None),
        [
            "ALTER TABLE `db`.`T_local` ON CLUSTER `main` REMOVE DEFAULT",
            "ALTER TABLE `db`.`T` ON CLUSTER `main` REMOVE DEFAULT",
        ]
        .map(|s| s.replace("REMOVE", "MODIFY COLUMN `c` REMOVE"))
    );
}
