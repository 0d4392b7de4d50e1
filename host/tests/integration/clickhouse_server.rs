//! The OLAP store against a real ClickHouse server: Debian's `clickhouse-server` package
//! (18.16), which `scripts/setup-clickhouse-server.sh` installs. Each test starts its own
//! server on a free port in a scratch directory (about 0.3 s) and stops it when done.
//!
//! Covered: version detection, DDL and inserts of every type the server stores, read back
//! through the guests' query service, a materialized view, query parameters, and the
//! compatibility error for types the server lacks.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moose_model::app::App;
use moose_model::types::{
    AggregationDef, AppDef, DataType, DecimalSpec, EnumMember, Field, GeoShape, IngestDef, Model,
    ScalarType, TableDef, TableEngine, TypeWrapper, ViewDef,
};
use moose_olap::{ddl, OlapClient, OlapConfig, OlapError, OlapQueryService, QueryLimits};
use moose_pipeline::sync::TableWriter;
use moose_runtime::types::QueryError;
use moose_runtime::QueryParam;
use serde_json::{json, Value};

// ------------------------------------------------------------------ harness

/// `clickhouse-server` on `PATH` or where Debian installs it.
fn server_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("clickhouse-server"))
            .find(|path| path.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/clickhouse-server")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "clickhouse-server is not installed: run scripts/setup-clickhouse-server.sh \
                 (these tests need a real ClickHouse server)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// A ClickHouse server in a scratch directory, killed and removed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Server {
    fn start(name: &str) -> Self {
        let binary = server_binary();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("clickhouse-server")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create server dir");
        let port = free_port();
        let d = dir.display();
        let config = format!(
            "<yandex>\n\
             <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>\n\
             <http_port>{port}</http_port>\n\
             <listen_host>127.0.0.1</listen_host>\n\
             <path>{d}/data/</path>\n\
             <tmp_path>{d}/tmp/</tmp_path>\n\
             <user_files_path>{d}/user_files/</user_files_path>\n\
             <format_schema_path>{d}/format_schemas/</format_schema_path>\n\
             <users_config>users.xml</users_config>\n\
             <default_profile>default</default_profile>\n\
             <default_database>default</default_database>\n\
             <mark_cache_size>67108864</mark_cache_size>\n\
             <timezone>UTC</timezone>\n\
             </yandex>\n"
        );
        let users = "<yandex>\n\
             <profiles><default></default></profiles>\n\
             <users><default><password></password><networks><ip>127.0.0.1</ip></networks>\
             <profile>default</profile><quota>default</quota></default></users>\n\
             <quotas><default></default></quotas>\n\
             </yandex>\n";
        std::fs::write(dir.join("config.xml"), config).expect("write config");
        std::fs::write(dir.join("users.xml"), users).expect("write users");
        let child = Command::new(&binary)
            .arg(format!(
                "--config-file={}",
                dir.join("config.xml").display()
            ))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut server = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                panic!("clickhouse-server exited with {status}:\n{log}");
            }
            if std::net::TcpStream::connect(self.url.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "clickhouse-server did not listen on {} within 20 s",
            self.url
        );
    }

    fn config(&self, database: &str) -> OlapConfig {
        OlapConfig {
            url: self.url.clone(),
            database: database.into(),
            user: "default".into(),
            password: String::new(),
            lz4: true,
            request_timeout: Duration::from_secs(30),
            cluster: None,
        }
    }

    fn client(&self, database: &str) -> OlapClient {
        OlapClient::new(self.config(database)).expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
    DataType { wrappers, leaf }
}

fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Field {
    Field::new(name, ty(wrappers, leaf))
}

fn key(name: &str, leaf: ScalarType) -> Field {
    Field {
        key: true,
        ..field(name, vec![], leaf)
    }
}

fn table(name: &str, model: &str, order_by: &[&str], engine: TableEngine) -> TableDef {
    TableDef {
        name: name.into(),
        model: model.into(),
        order_by: order_by.iter().map(|c| c.to_string()).collect(),
        engine,
        source_stream: None,
        options: Default::default(),
    }
}

fn app(def: AppDef) -> App {
    App {
        name: "clickhouse-server-test".into(),
        components: vec![],
        def,
    }
}

fn service(client: &OlapClient) -> OlapQueryService {
    OlapQueryService::new(
        client.clone(),
        tokio::runtime::Handle::current(),
        QueryLimits::default(),
    )
}

/// The rows of a guest query, as JSON.
async fn rows(service: &OlapQueryService, sql: &str, params: &[QueryParam]) -> Vec<Value> {
    let batch = service
        .run(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    String::from_utf8(batch.data)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON row"))
        .collect()
}

/// The whole schema of `app` on the client's server: tables, views and dead-letter tables.
async fn create_schema(client: &OlapClient, app: &App) -> Result<(), OlapError> {
    let target = client.target().await?;
    let mut plan = ddl::plan(app, &target)?;
    plan.extend(ddl::dead_letter_tables(app, &target));
    ddl::apply(client, &plan).await
}

/// Creating `app`'s schema on `client`'s server fails as an incompatibility naming the
/// server's version: that version and the error's text.
async fn incompatibility(client: &OlapClient, app: &App) -> (String, String) {
    let version = client
        .server_info()
        .await
        .expect("info")
        .version_text
        .clone();
    let error = create_schema(client, app).await.unwrap_err();
    let OlapError::Incompatible(incompatible) = &error else {
        panic!("expected an incompatibility, got {error:?}");
    };
    assert_eq!(incompatible.server, version);
    (version, error.to_string())
}

/// The server has database `name`.
async fn database_exists(server: &Server, name: &str) -> bool {
    let sql = format!("SELECT count() FROM system.databases WHERE name = '{name}'");
    let bytes = server
        .client("default")
        .fetch_bytes(&sql, "TabSeparated", &[])
        .await
        .expect("count databases");
    String::from_utf8_lossy(&bytes).trim() != "0"
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detects_the_server_version_and_its_features() {
    let server = Server::start("version");
    let client = server.client("default");
    let info = client.server_info().await.expect("server info");
    assert_eq!(info.version_text, client.version().await.expect("version"));
    assert_eq!(info.version.to_string(), info.version_text);
    if info.version.major == 18 {
        assert!(!info.query_parameters, "{info:?}");
        assert!(!info.has_setting("date_time_output_format"), "{info:?}");
    }
    let target = client.target().await.expect("target");
    assert_eq!(target.server, Some(info.version));
    assert_eq!(
        (target.database.as_str(), target.cluster),
        ("default", None)
    );
}

/// A model with a column of every type ClickHouse 18.16 stores.
fn every_type_app() -> App {
    use ScalarType as S;
    use TypeWrapper as W;
    let fields = vec![
        key("id", S::String),
        field("i8", vec![], S::Int8),
        field("i16", vec![], S::Int16),
        field("i32", vec![], S::Int32),
        field("i64", vec![], S::Int64),
        field("u8", vec![], S::Uint8),
        field("u16", vec![], S::Uint16),
        field("u32", vec![], S::Uint32),
        field("u64", vec![], S::Uint64),
        field("f32", vec![], S::Float32),
        field("f64", vec![], S::Float64),
        field(
            "price",
            vec![],
            S::Decimal(DecimalSpec {
                precision: 18,
                scale: 4,
            }),
        ),
        field("day", vec![], S::Date),
        field("at", vec![], S::DateTime),
        field("uid", vec![], S::Uuid),
        field(
            "size",
            vec![],
            S::Enum(vec![
                EnumMember {
                    name: "small".into(),
                    value: 1,
                },
                EnumMember {
                    name: "it's big".into(),
                    value: 2,
                },
            ]),
        ),
        field(
            "wide",
            vec![],
            S::Enum(vec![EnumMember {
                name: "far".into(),
                value: 1000,
            }]),
        ),
        field("ints", vec![W::Array], S::Int32),
        field("names", vec![W::Array, W::Nullable], S::String),
        field("maybe", vec![W::Nullable], S::Int32),
        field("code", vec![], S::FixedString(3)),
    ];
    let mut def = AppDef {
        models: vec![Model::new("Everything", fields)],
        ..AppDef::default()
    };
    def.tables.push(table(
        "Everything",
        "Everything",
        &[],
        TableEngine::MergeTree,
    ));
    def.ingests.push(IngestDef {
        name: "Everything".into(),
        model: "Everything".into(),
        stream: "Everything".into(),
        dead_letter: Some("Everything_dead_letter".into()),
    });
    app(def)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_reads_back_every_type_the_server_has() {
    let server = Server::start("types");
    let client = server.client("types");
    let app = every_type_app();
    create_schema(&client, &app).await.expect("schema");
    // Applying the same schema again is a no-op.
    create_schema(&client, &app).await.expect("schema again");

    let rows_in = [
        json!({
            "id": "a", "i8": -128, "i16": -32768, "i32": -2147483648i64,
            "i64": -9007199254740991i64, "u8": 255, "u16": 65535, "u32": 4294967295u64,
            "u64": 9007199254740991u64, "f32": 0.5, "f64": 1.25, "price": 12.3456,
            "day": "2024-05-01", "at": "2024-05-01T12:34:56Z",
            "uid": "61f0c404-5cb3-11e7-907b-a6006ad3dba0", "size": "it's big", "wide": "far",
            "ints": [1, -2, 3], "names": ["x", null], "maybe": null, "code": "NOK"
        }),
        json!({
            "id": "b", "i8": 1, "i16": 2, "i32": 3, "i64": 4, "u8": 5, "u16": 6, "u32": 7,
            "u64": 8, "f32": -1.5, "f64": 1e-3, "price": -0.5, "day": "1999-12-31",
            "at": "2000-01-01T00:00:00.250Z", "uid": "00000000-0000-0000-0000-000000000001",
            "size": "small", "wide": "far", "ints": [], "names": [], "maybe": 42,
            "code": "EUR"
        }),
    ];
    let ndjson: String = rows_in.iter().map(|r| format!("{r}\n")).collect();
    TableWriter::insert_json(&client, "Everything", ndjson.as_bytes(), rows_in.len())
        .await
        .expect("insert through the table writer");

    let read = rows(
        &service(&client),
        "SELECT * FROM Everything ORDER BY id",
        &[],
    )
    .await;
    let mut expected = rows_in.to_vec();
    // Without `date_time_output_format` (ClickHouse < 20.x) date-times come back in the
    // server's text form, in UTC here; sub-second input is truncated by `DateTime`.
    let iso = client
        .server_info()
        .await
        .expect("info")
        .has_setting("date_time_output_format");
    let at = |text: &str, iso_text: &str| json!(if iso { iso_text } else { text });
    expected[0]["at"] = at("2024-05-01 12:34:56", "2024-05-01T12:34:56Z");
    expected[1]["at"] = at("2000-01-01 00:00:00", "2000-01-01T00:00:00Z");
    assert_eq!(read, expected);

    // Dead letters fit the dead-letter table of this server.
    let dead = json!({
        "record": "{\"id\":1}", "error": "id: expected a string", "error_kind": "validation",
        "source": "ingest:Everything", "failed_at": "2024-05-01T12:00:00.123Z"
    });
    TableWriter::insert_json(
        &client,
        "Everything_dead_letter",
        format!("{dead}\n").as_bytes(),
        1,
    )
    .await
    .expect("dead letter");
    let dead_rows = rows(
        &service(&client),
        "SELECT error_kind, source FROM Everything_dead_letter",
        &[],
    )
    .await;
    assert_eq!(
        dead_rows,
        [json!({"error_kind": "validation", "source": "ingest:Everything"})]
    );

    // A record the server refuses is rejected, not retried.
    let bad = TableWriter::insert_json(&client, "Everything", b"{\"id\":\"c\",\"u8\":\"x\"}\n", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, moose_pipeline::sync::InsertError::Rejected(_)),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_with_a_materialized_view() {
    use ScalarType as S;
    let server = Server::start("aggregation");
    let client = server.client("agg");
    let mut def = AppDef {
        models: vec![
            Model::new(
                "Order",
                vec![
                    key("id", S::String),
                    field("day", vec![], S::Date),
                    field("amount", vec![], S::Float64),
                ],
            ),
            Model::new(
                "DailyRevenue",
                vec![
                    field("day", vec![], S::Date),
                    field("total", vec![], S::Float64),
                    field("orders", vec![], S::Uint64),
                ],
            ),
        ],
        ..AppDef::default()
    };
    def.tables
        .push(table("Order", "Order", &[], TableEngine::MergeTree));
    def.aggregations.push(AggregationDef {
        name: "DailyRevenue".into(),
        select: "SELECT day, sum(amount) AS total, count() AS orders FROM `Order` GROUP BY day"
            .into(),
        sources: vec!["Order".into()],
        target: table(
            "DailyRevenue",
            "DailyRevenue",
            &["day"],
            TableEngine::SummingMergeTree(vec!["total".into(), "orders".into()]),
        ),
    });
    def.views.push(ViewDef {
        name: "BigOrders".into(),
        select: "SELECT id, amount FROM `Order` WHERE amount >= 100".into(),
        sources: vec!["Order".into()],
    });
    let app = app(def);
    create_schema(&client, &app).await.expect("schema");

    for batch in [
        "{\"id\":\"a\",\"day\":\"2024-05-01\",\"amount\":10}\n{\"id\":\"b\",\"day\":\"2024-05-01\",\"amount\":150}\n",
        "{\"id\":\"c\",\"day\":\"2024-05-02\",\"amount\":5}\n{\"id\":\"d\",\"day\":\"2024-05-01\",\"amount\":1}\n",
    ] {
        TableWriter::insert_json(&client, "Order", batch.as_bytes(), 2)
            .await
            .expect("insert");
    }
    let service = service(&client);
    let daily = rows(
        &service,
        "SELECT day, sum(total) AS total, sum(orders) AS orders FROM DailyRevenue \
         GROUP BY day ORDER BY day",
        &[],
    )
    .await;
    assert_eq!(
        daily,
        [
            json!({"day": "2024-05-01", "total": 161, "orders": 3}),
            json!({"day": "2024-05-02", "total": 5, "orders": 1}),
        ]
    );
    let big = rows(&service, "SELECT * FROM BigOrders", &[]).await;
    assert_eq!(big, [json!({"id": "b", "amount": 150})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_queries_are_read_only_and_parameters_need_a_server_that_binds_them() {
    let server = Server::start("queries");
    let client = server.client("default");
    let service = service(&client);
    let info = client.server_info().await.expect("info").clone();

    let params = [QueryParam {
        name: "n".into(),
        value: "41".into(),
    }];
    let sql = "SELECT {n:UInt32} + 1 AS answer";
    if info.query_parameters {
        assert_eq!(rows(&service, sql, &params).await, [json!({"answer": 42})]);
    } else {
        let error = service.run(sql, &params).await.unwrap_err();
        let QueryError::Invalid(message) = error else {
            panic!("expected an invalid query, got {error:?}");
        };
        assert_eq!(
            message,
            format!(
                "ClickHouse {} does not support query parameters ({{name:Type}} placeholders); \
                 they need a newer server",
                info.version_text
            )
        );
    }

    // Without parameters queries run, read-only.
    assert_eq!(
        rows(&service, "SELECT 41 + 1 AS answer", &[]).await,
        [json!({"answer": 42})]
    );
    let write = service
        .run("CREATE TABLE default.nope (x UInt8) ENGINE = Memory", &[])
        .await
        .unwrap_err();
    assert!(matches!(write, QueryError::Denied(_)), "{write:?}");
    let invalid = service.run("SELEC 1", &[]).await.unwrap_err();
    assert!(matches!(invalid, QueryError::Invalid(_)), "{invalid:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_an_app_with_types_the_server_lacks_before_creating_anything() {
    use ScalarType as S;
    use TypeWrapper as W;
    let server = Server::start("incompatible");
    let client = server.client("modern");
    let mut def = AppDef {
        models: vec![
            Model::new(
                "Order",
                vec![
                    key("id", S::String),
                    field("ts", vec![], S::DateTime64(3)),
                    field("tags", vec![W::Map], S::String),
                    field("paid", vec![], S::Boolean),
                ],
            ),
            Model::new(
                "Event",
                vec![
                    key("id", S::String),
                    field("payload", vec![], S::Json),
                    field("big", vec![], S::Uint256),
                    field("ip", vec![W::Nullable], S::Ipv6),
                    field("area", vec![], S::Geo(GeoShape::Polygon)),
                    field("route", vec![], S::Geo(GeoShape::LineString)),
                    field("code", vec![], S::FixedString(2)),
                ],
            ),
        ],
        ..AppDef::default()
    };
    def.tables
        .push(table("Order", "Order", &[], TableEngine::MergeTree));
    def.tables
        .push(table("Event", "Event", &[], TableEngine::MergeTree));
    let (version, error) = incompatibility(&client, &app(def)).await;
    if version == "18.16.1" {
        assert_eq!(
            error,
            "ClickHouse 18.16.1 cannot store Event.area Polygon: \
             Point/Ring/Polygon/MultiPolygon needs ClickHouse 22.3 or newer; Event.big UInt256: \
             Int128/Int256/UInt128/UInt256 needs ClickHouse 21.7 or newer; Event.ip \
             Nullable(IPv6): IPv4/IPv6 needs ClickHouse 19.3 or newer; Event.payload JSON: JSON \
             needs ClickHouse 25.3 or newer; Event.route LineString: LineString/MultiLineString \
             needs ClickHouse 24.6 or newer; Order.paid Bool: Bool needs ClickHouse 21.12 or newer; Order.tags \
             Map(String, String): Map needs ClickHouse 21.8 or newer; Order.ts DateTime64(3): \
             DateTime64 needs ClickHouse 20.1 or newer"
        );
    }
    // Nothing was created, not even the database.
    assert!(!database_exists(&server, "modern").await);
}

/// On this server the options it has (partition key, primary key distinct from the sort
/// key, sampling key, settings, the collapsing engines) are created as declared, and the
/// ones it lacks (codecs, TTLs, data-skipping indexes, projections, `is_deleted`) are
/// named, all at once, before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_options_are_created_or_named_when_the_server_lacks_them() {
    use moose_model::types::{
        Projection, Replacing, TableIndex, TableOptions, VersionedCollapsing,
    };
    use ScalarType::{Date, Int8, Uint32, Uint64, Uint8};
    let server = Server::start("storage");
    let client = server.client("storage");
    let event = Model::new(
        "Event",
        vec![
            key("id", Uint64),
            field("day", vec![], Date),
            field("sign", vec![], Int8),
            field("version", vec![], Uint32),
            field("deleted", vec![], Uint8),
        ],
    );
    let supported = TableOptions {
        partition_by: Some("toYYYYMM(day)".into()),
        primary_key: vec!["id".into()],
        sample_by: Some("id".into()),
        settings: vec![("index_granularity".into(), "1024".into())],
        ..TableOptions::default()
    };
    let mut def = AppDef {
        models: vec![event],
        ..AppDef::default()
    };
    def.tables = vec![
        TableDef {
            options: supported,
            ..table("Events", "Event", &["id", "day"], TableEngine::MergeTree)
        },
        table(
            "Collapsed",
            "Event",
            &[],
            TableEngine::CollapsingMergeTree("sign".into()),
        ),
        table(
            "Versioned",
            "Event",
            &[],
            TableEngine::VersionedCollapsingMergeTree(VersionedCollapsing {
                sign: "sign".into(),
                version: "version".into(),
            }),
        ),
    ];
    create_schema(&client, &app(def.clone()))
        .await
        .expect("supported options");
    let bytes = client
        .fetch_bytes(
            "SELECT name, engine_full FROM system.tables WHERE database = 'storage' ORDER BY name",
            "TabSeparated",
            &[],
        )
        .await
        .expect("tables");
    let tables = String::from_utf8_lossy(&bytes).to_string();
    for part in [
        "Collapsed\tCollapsingMergeTree(sign)",
        "PARTITION BY toYYYYMM(day) PRIMARY KEY id ORDER BY (id, day) SAMPLE BY id SETTINGS index_granularity = 1024",
        "Versioned\tVersionedCollapsingMergeTree(sign, version)",
    ] {
        assert!(tables.contains(part), "`{part}` not in:\n{tables}");
    }

    let mut lacking = def;
    lacking.models[0].fields[1].codec = Some("Delta, LZ4".into());
    lacking.tables[0].options.ttl = Some("day + INTERVAL 1 YEAR".into());
    lacking.tables[0].options.indexes = vec![TableIndex {
        name: "v".into(),
        expression: "version".into(),
        kind: "minmax".into(),
        granularity: 1,
    }];
    lacking.tables[0].options.projections = vec![Projection {
        name: "p".into(),
        select: "SELECT * ORDER BY version".into(),
    }];
    lacking.tables[1].engine = TableEngine::ReplacingMergeTree(Replacing {
        version: Some("version".into()),
        is_deleted: Some("deleted".into()),
    });
    lacking.tables[1].name = "Replaced".into();
    let (version, error) = incompatibility(&server.client("lacking"), &app(lacking)).await;
    if version == "18.16.1" {
        assert_eq!(
            error,
            "ClickHouse 18.16.1 cannot store table Events: CODEC needs ClickHouse 19.1 or \
             newer; table Events: TTL \
             needs ClickHouse 19.6 or newer; table Events: a data-skipping index needs \
             ClickHouse 20.1 or newer; table Events: a projection needs ClickHouse 21.6 or \
             newer; table Replaced: CODEC needs ClickHouse 19.1 or newer; table Replaced: \
             ReplacingMergeTree's is_deleted column needs ClickHouse 23.2 or newer; table \
             Versioned: CODEC needs ClickHouse 19.1 or newer"
        );
    }
    assert!(!database_exists(&server, "lacking").await);
}
