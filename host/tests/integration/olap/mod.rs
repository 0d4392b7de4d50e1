//! The OLAP store against the real embedded engine (chDB serving the ClickHouse HTTP
//! interface): DDL, inserts of every type, error classification, materialized views, the
//! guests' query service, the HTTP interface itself, and an outside peer (the official
//! ClickHouse JS client).
//!
//! Prerequisites come from `scripts/setup.sh` (the chDB virtual environment and the JS
//! client); when one is missing the tests fail with a message naming it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use moose_host::config::ClickHouseSection;
use moose_model::app::App;
use moose_model::types::{
    AggregationDef, AppDef, DataType, DecimalSpec, EnumMember, Field, GeoShape, Model, ScalarType,
    TableDef, TableEngine, TypeWrapper, ViewDef,
};
use moose_olap::embedded::{default_python, write_server};
use moose_olap::{
    ddl, EmbeddedClickHouse, EmbeddedOptions, OlapClient, OlapConfig, OlapError, OlapQueryService,
    OlapStore, QueryLimits,
};
use moose_runtime::types::QueryError;
use moose_runtime::{QueryParam, QueryService};
use serde_json::{json, Value};

mod clients;
mod engine;
mod http;
mod options;
mod queries;
mod tables;
mod views;

// ------------------------------------------------------------------ harness

/// A directory for this test binary's engines under `target/tmp`; directories of test
/// processes that no longer run are removed.
fn scratch_dir(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("olap");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let stale = entry
                .file_name()
                .to_str()
                .and_then(|n| n.split('-').next_back())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| {
                    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                });
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn start_engine(dir: &Path, options: EmbeddedOptions) -> EmbeddedClickHouse {
    EmbeddedClickHouse::start_with(dir, options).unwrap_or_else(|error| {
        panic!("the embedded engine did not start (prerequisites: scripts/setup.sh): {error}")
    })
}

/// The engine shared by this test binary; it stops when the test process exits (its
/// standard input closes).
fn shared() -> &'static EmbeddedClickHouse {
    static ENGINE: OnceLock<EmbeddedClickHouse> = OnceLock::new();
    ENGINE.get_or_init(|| start_engine(&scratch_dir("shared"), EmbeddedOptions::default()))
}

fn config(url: &str, database: &str) -> OlapConfig {
    OlapConfig {
        url: url.to_string(),
        database: database.to_string(),
        user: "default".into(),
        password: String::new(),
        lz4: false,
        request_timeout: Duration::from_secs(60),
        cluster: None,
    }
}

/// A client of `database` on the shared engine, with the database created.
async fn client(database: &str) -> OlapClient {
    let client = OlapClient::new(config(shared().url(), database)).expect("client");
    client.ensure_database().await.expect("create database");
    client
}

fn scalar(leaf: ScalarType) -> DataType {
    DataType {
        wrappers: vec![],
        leaf,
    }
}

fn wrapped(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
    DataType { wrappers, leaf }
}

fn field(name: &str, data_type: DataType) -> Field {
    Field::new(name, data_type)
}

fn key(name: &str, data_type: DataType) -> Field {
    Field {
        key: true,
        ..field(name, data_type)
    }
}

fn model(name: &str, fields: Vec<Field>) -> Model {
    Model::new(name, fields)
}

fn table(name: &str, model: &str, engine: TableEngine) -> TableDef {
    TableDef {
        name: name.into(),
        model: model.into(),
        order_by: vec![],
        engine,
        source_stream: None,
        options: Default::default(),
    }
}

fn app(def: AppDef) -> App {
    App {
        name: "olap-test".into(),
        components: vec![],
        def,
    }
}

fn empty_def() -> AppDef {
    AppDef::default()
}

/// A model with a field of every type in the model type list.
fn all_types_app() -> App {
    use ScalarType as S;
    use TypeWrapper as W;
    let point = model(
        "Point",
        vec![
            field("lat", scalar(S::Float64)),
            field("lon", scalar(S::Float64)),
        ],
    );
    let address = model(
        "Address",
        vec![
            field("street", scalar(S::String)),
            field("zip", wrapped(vec![W::Nullable], S::String)),
            field("geo", scalar(S::Nested("Point".into()))),
        ],
    );
    let mut with_default = field("def", scalar(S::String));
    with_default.default = Some("'dflt'".into());
    with_default.doc = Some("filled when absent; it's documented".into());
    let everything = model(
        "Everything",
        vec![
            key("id", scalar(S::Uint64)),
            field("s", scalar(S::String)),
            field("lc", scalar(S::LowCardinalityString)),
            field("lcn", wrapped(vec![W::Nullable], S::LowCardinalityString)),
            field("i8", scalar(S::Int8)),
            field("i16", scalar(S::Int16)),
            field("i32", scalar(S::Int32)),
            field("i64", scalar(S::Int64)),
            field("u8", scalar(S::Uint8)),
            field("u16", scalar(S::Uint16)),
            field("u32", scalar(S::Uint32)),
            field("u64", scalar(S::Uint64)),
            field("f32", scalar(S::Float32)),
            field("f64", scalar(S::Float64)),
            field("b", scalar(S::Boolean)),
            field(
                "d",
                scalar(S::Decimal(DecimalSpec {
                    precision: 18,
                    scale: 4,
                })),
            ),
            field("dt", scalar(S::Date)),
            field("ts", scalar(S::DateTime)),
            field("ts3", scalar(S::DateTime64(3))),
            field("u", scalar(S::Uuid)),
            field(
                "e",
                scalar(S::Enum(vec![
                    EnumMember {
                        name: "small".into(),
                        value: 1,
                    },
                    EnumMember {
                        name: "it's".into(),
                        value: 2,
                    },
                ])),
            ),
            field(
                "e16",
                scalar(S::Enum(vec![EnumMember {
                    name: "wide".into(),
                    value: 300,
                }])),
            ),
            field("arr", wrapped(vec![W::Array, W::Nullable], S::String)),
            field("m", wrapped(vec![W::Map, W::Array], S::Uint8)),
            field("addr", scalar(S::Nested("Address".into()))),
            field("addrs", wrapped(vec![W::Array], S::Nested("Point".into()))),
            field("n", wrapped(vec![W::Nullable], S::Int32)),
            field("j", scalar(S::Json)),
            with_default,
            field("i128", scalar(S::Int128)),
            field("u256", scalar(S::Uint256)),
            field("code", scalar(S::FixedString(3))),
            field("v4", scalar(S::Ipv4)),
            field("v6", wrapped(vec![W::Nullable], S::Ipv6)),
            field("at", scalar(S::Geo(GeoShape::Point))),
            field("route", scalar(S::Geo(GeoShape::LineString))),
            field("area", scalar(S::Geo(GeoShape::Polygon))),
            field("areas", scalar(S::Geo(GeoShape::MultiPolygon))),
        ],
    );
    let mut def = empty_def();
    def.models = vec![point, address, everything];
    def.tables = vec![table("Everything", "Everything", TableEngine::MergeTree)];
    app(def)
}

/// The quickstart's shape: enriched orders rolled up per day and customer.
fn revenue_app() -> App {
    use ScalarType as S;
    let enriched = model(
        "OrderEnriched",
        vec![
            key("id", scalar(S::String)),
            field("customer", scalar(S::String)),
            field("amount", scalar(S::Float64)),
            field("day", scalar(S::Date)),
            field("ts", scalar(S::DateTime)),
        ],
    );
    let daily = model(
        "DailyRevenue",
        vec![
            key("day", scalar(S::Date)),
            key("customer", scalar(S::String)),
            field("revenue", scalar(S::Float64)),
            field("orders", scalar(S::Uint64)),
        ],
    );
    let mut def = empty_def();
    def.models = vec![enriched, daily];
    def.tables = vec![table(
        "OrderEnriched",
        "OrderEnriched",
        TableEngine::ReplacingMergeTree(Default::default()),
    )];
    def.aggregations = vec![AggregationDef {
        name: "DailyRevenue".into(),
        select: "SELECT day, customer, sum(amount) AS revenue, count() AS orders \
                 FROM OrderEnriched GROUP BY day, customer"
            .into(),
        sources: vec!["OrderEnriched".into()],
        target: TableDef {
            order_by: vec!["day".into(), "customer".into()],
            ..table(
                "DailyRevenue",
                "DailyRevenue",
                TableEngine::SummingMergeTree(vec![]),
            )
        },
    }];
    def.views = vec![
        ViewDef {
            name: "TopCustomers".into(),
            select: "SELECT customer, sum(revenue) AS revenue FROM CustomerDays GROUP BY customer"
                .into(),
            sources: vec!["CustomerDays".into()],
        },
        ViewDef {
            name: "CustomerDays".into(),
            select: "SELECT customer, day, sum(revenue) AS revenue FROM DailyRevenue \
                     GROUP BY customer, day"
                .into(),
            sources: vec!["DailyRevenue".into()],
        },
    ];
    app(def)
}

fn service(client: &OlapClient, limits: QueryLimits) -> OlapQueryService {
    OlapQueryService::new(client.clone(), tokio::runtime::Handle::current(), limits)
}

fn params(pairs: &[(&str, &str)]) -> Vec<QueryParam> {
    pairs
        .iter()
        .map(|(name, value)| QueryParam {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// Runs a guest query the way guests do: the blocking trait method on a blocking thread.
async fn guest_query(
    service: &OlapQueryService,
    sql: &str,
    pairs: &[(&str, &str)],
) -> Result<Vec<Value>, QueryError> {
    let service = service.clone();
    let sql = sql.to_string();
    let params = params(pairs);
    let batch = tokio::task::spawn_blocking(move || service.query(&sql, &params))
        .await
        .expect("query thread")?;
    let text = String::from_utf8(batch.data).expect("utf-8 rows");
    let rows: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON row"))
        .collect();
    assert_eq!(rows.len(), batch.count as usize, "batch count");
    assert!(!text.ends_with('\n'), "no trailing newline");
    Ok(rows)
}

/// `value` with integral floats as integers: ClickHouse prints the Float64 `2.0` as `2`.
fn normalized(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(normalized).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalized(v))).collect())
        }
        other => other,
    }
}

/// Asserts that rows are equal, comparing numbers by value.
#[track_caller]
fn assert_rows(actual: Vec<Value>, expected: Vec<Value>) {
    assert_eq!(
        normalized(Value::Array(actual)),
        normalized(Value::Array(expected))
    );
}

async fn count(client: &OlapClient, table: &str) -> u64 {
    let sql = format!("SELECT count() FROM {}", ddl::quote_ident(table));
    let bytes = client
        .fetch_bytes(&sql, "TabSeparated", &[])
        .await
        .expect("count");
    String::from_utf8_lossy(&bytes)
        .trim()
        .parse()
        .expect("a count")
}

/// A minimal HTTP/1.1 exchange (`Connection: close`) with the engine.
struct HttpResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn http(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let port = shared().port();
    http_to(port, method, target, headers, body)
}

fn http_to(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && *v == "chunked");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !chunked {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send head");
    if chunked {
        for piece in body.chunks(7) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .expect("chunk");
            stream.write_all(piece).expect("chunk");
            stream.write_all(b"\r\n").expect("chunk");
        }
        stream.write_all(b"0\r\n\r\n").expect("last chunk");
    } else {
        stream.write_all(body).expect("send body");
    }
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    let mut body = Vec::new();
    reader.read_to_end(&mut body).expect("body");
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// Reads a response's status line and headers (names lowercased).
fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, BTreeMap<String, String>) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header line");
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    (status, headers)
}

fn encode_query(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("/?{}", pairs.join("&"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
