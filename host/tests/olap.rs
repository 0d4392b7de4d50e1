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
use moose_host::olap::embedded::{default_python, SERVER_SCRIPT};
use moose_host::olap::{
    ddl, EmbeddedClickHouse, EmbeddedOptions, OlapClient, OlapConfig, OlapError, OlapQueryService,
    OlapStore, QueryLimits,
};
use moose_model::app::App;
use moose_model::types::{
    AggregationDef, AppDef, DataType, DecimalSpec, EnumMember, Field, Model, ScalarType, TableDef,
    TableEngine, TypeWrapper, ViewDef,
};
use moose_runtime::types::QueryError;
use moose_runtime::{QueryParam, QueryService};
use serde_json::{json, Value};

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
        TableEngine::ReplacingMergeTree(None),
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

// ------------------------------------------------------------------ engine

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_opens_the_embedded_engine_keeps_data_and_stops_gracefully() {
    let state = scratch_dir("store");
    let section = ClickHouseSection {
        database: "persist".into(),
        ..ClickHouseSection::default()
    };
    let started = Instant::now();
    let store = OlapStore::open(&section, &state)
        .await
        .unwrap_or_else(|error| {
            panic!("the embedded engine did not start (prerequisites: scripts/setup.sh): {error}")
        });
    eprintln!("engine start: {:?}", started.elapsed());
    let log = state.join("clickhouse/server.log");
    let client = store.client().clone();
    assert!(client.version().await.expect("version").starts_with("26.9"));
    client.ensure_database().await.expect("database");
    client
        .execute("CREATE TABLE IF NOT EXISTS kept (id UInt32) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1}\n{\"id\":2}\n", 2)
        .await
        .expect("insert");
    store.shutdown().await.expect("graceful stop");
    let text = std::fs::read_to_string(&log).expect("engine log");
    assert!(text.contains("standard input closed; stopping"), "{text}");
    assert!(text.trim_end().ends_with("INFO stopped"), "{text}");

    // The stopped engine is unavailable, not a rejection.
    let error = client
        .insert_json("kept", "{\"id\":3}", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, OlapError::Unavailable { code: None, .. }),
        "{error:?}"
    );

    let store = OlapStore::open(&section, &state).await.expect("restart");
    assert_eq!(count(store.client(), "kept").await, 2);
    store.shutdown().await.expect("stop");
}

/// The pid of the embedded engine serving the data of `state_dir`.
fn engine_pid(state_dir: &Path) -> u32 {
    let data = state_dir.join("clickhouse/data");
    let output = Command::new("pgrep")
        .args(["-f", &format!("chdb_server.py --data {}", data.display())])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no engine serves {}", data.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_is_reported_down_and_started_again_with_its_data() {
    let state = scratch_dir("supervised");
    let section = ClickHouseSection {
        database: "supervised".into(),
        ..ClickHouseSection::default()
    };
    let store = OlapStore::open(&section, &state).await.expect("store");
    let client = store.client().clone();
    client.ensure_database().await.expect("database");
    client
        .execute("CREATE TABLE kept (id UInt32) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1}\n", 1)
        .await
        .expect("insert");
    let health = store.health();
    assert!(health.is_up() && health.problem().is_none());

    let first = engine_pid(&state);
    let killed = Instant::now();
    Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .expect("kill");
    let mut saw_down = false;
    while health.restarts() == 0 {
        saw_down |= !health.is_up();
        assert!(killed.elapsed() < Duration::from_secs(30), "not restarted");
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("restarted {:?} after the kill", killed.elapsed());
    assert!(
        saw_down,
        "the store was reported down while the engine was restarted"
    );
    assert!(health.is_up() && health.problem().is_none());
    let second = engine_pid(&state);
    assert_ne!(first, second);
    // The zombie is reaped: no process with the old pid remains.
    assert!(!Path::new(&format!("/proc/{first}")).exists());
    // Same URL, same data.
    assert_eq!(count(&client, "kept").await, 1);
    store.shutdown().await.expect("stop");
}

#[test]
fn missing_python_or_chdb_fails_naming_setup() {
    let dir = scratch_dir("missing");
    let options = EmbeddedOptions {
        python: Some(dir.join("no-such-python")),
        ..EmbeddedOptions::default()
    };
    let error = EmbeddedClickHouse::start_with(&dir, options).unwrap_err();
    assert!(error.to_string().contains("scripts/setup.sh"), "{error}");

    // A Python without chdb: the system one with site-packages disabled.
    let fake = dir.join("python-without-chdb");
    std::fs::write(&fake, "#!/bin/sh\nexec python3 -S \"$@\"\n").expect("write");
    Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let options = EmbeddedOptions {
        python: Some(fake),
        ..EmbeddedOptions::default()
    };
    let error = EmbeddedClickHouse::start_with(&dir, options).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("chdb-core is not installed"), "{message}");
    assert!(message.contains("scripts/setup.sh"), "{message}");
}

#[test]
fn a_second_engine_on_the_same_state_dir_is_refused() {
    let dir = scratch_dir("twice");
    let mut first = start_engine(&dir, EmbeddedOptions::default());
    let error = EmbeddedClickHouse::start_with(&dir, EmbeddedOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("already serves"), "{message}");
    assert!(message.contains(first.url()), "{message}");
    assert!(first.is_running());
    first.stop().expect("stop");
    // Without a port file (a crashed host's leftovers are gone), chDB's own lock on the
    // data directory refuses the second engine, and the error shows the engine's log.
    let mut first = start_engine(&dir, EmbeddedOptions::default());
    std::fs::remove_file(dir.join("clickhouse/server.port")).expect("remove port file");
    let error = EmbeddedClickHouse::start_with(&dir, EmbeddedOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("could not open"), "{message}");
    assert!(message.contains("Cannot lock file"), "{message}");
    assert!(first.is_running());
    first.stop().expect("stop");
}

#[test]
fn engine_exits_when_its_parent_dies() {
    let dir = scratch_dir("orphan");
    let python = default_python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    let script = dir.join("chdb_server.py");
    std::fs::write(&script, SERVER_SCRIPT).expect("write script");
    let port_file = dir.join("port");
    // A shell starts the server in the background, prints its pid and waits on stdin;
    // killing the shell orphans the server.
    let command = format!(
        "'{}' '{}' --data '{}' --port 0 --port-file '{}' --log '{}' </dev/null >/dev/null 2>&1 & echo $!; read _",
        python.display(),
        script.display(),
        dir.join("data").display(),
        port_file.display(),
        dir.join("log").display(),
    );
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut line = String::new();
    BufReader::new(shell.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("pid");
    let pid: u32 = line.trim().parse().expect("server pid");
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|status| !status.contains("State:\tZ"))
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "the server did not start");
        assert!(alive(pid), "the server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    shell.kill().expect("kill the parent");
    let _ = shell.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the server outlived its parent by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("log")).expect("log");
    assert!(log.contains("exited; stopping"), "{log}");
}

// ------------------------------------------------------------------ DDL and inserts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_applies_twice_and_creates_every_type() {
    let client = client("t_ddl").await;
    let mut app = all_types_app();
    let revenue = revenue_app();
    app.def.models.extend(revenue.def.models.clone());
    app.def.tables.extend(revenue.def.tables.clone());
    app.def.aggregations = revenue.def.aggregations.clone();
    app.def.views = revenue.def.views.clone();
    let mut plan = ddl::plan(&app, client.database()).expect("plan");
    plan.push(ddl::dead_letter_table(
        client.database(),
        "Order_dead_letter",
    ));
    ddl::apply(&client, &plan).await.expect("first apply");
    ddl::apply(&client, &plan)
        .await
        .expect("second apply is a no-op");

    let tables = client
        .fetch_bytes(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name",
            "JSONEachRow",
            &[],
        )
        .await
        .expect("tables");
    let tables: Vec<Value> = String::from_utf8_lossy(&tables)
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(
        tables,
        vec![
            json!({"name": "CustomerDays", "engine": "View"}),
            json!({"name": "DailyRevenue", "engine": "SummingMergeTree"}),
            json!({"name": "DailyRevenue_mv", "engine": "MaterializedView"}),
            json!({"name": "Everything", "engine": "MergeTree"}),
            json!({"name": "OrderEnriched", "engine": "ReplacingMergeTree"}),
            json!({"name": "Order_dead_letter", "engine": "MergeTree"}),
            json!({"name": "TopCustomers", "engine": "View"}),
        ]
    );
    let columns = client
        .fetch_bytes(
            "SELECT name, type, default_expression, comment FROM system.columns \
             WHERE database = currentDatabase() AND table = 'Everything'",
            "JSONEachRow",
            &[],
        )
        .await
        .expect("columns");
    let columns: BTreeMap<String, Value> = String::from_utf8_lossy(&columns)
        .lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).expect("row");
            (row["name"].as_str().expect("name").to_string(), row)
        })
        .collect();
    let expected = [
        ("s", "String"),
        ("lc", "LowCardinality(String)"),
        ("lcn", "LowCardinality(Nullable(String))"),
        ("i64", "Int64"),
        ("u64", "UInt64"),
        ("b", "Bool"),
        ("d", "Decimal(18, 4)"),
        ("ts3", "DateTime64(3)"),
        ("u", "UUID"),
        ("e", "Enum8('small' = 1, 'it\\'s' = 2)"),
        ("e16", "Enum16('wide' = 300)"),
        ("arr", "Array(Nullable(String))"),
        ("m", "Map(String, Array(UInt8))"),
        (
            "addr",
            "Tuple(street String, zip Nullable(String), geo Tuple(lat Float64, lon Float64))",
        ),
        ("addrs", "Array(Tuple(lat Float64, lon Float64))"),
        ("n", "Nullable(Int32)"),
        ("j", "JSON"),
        ("def", "String"),
    ];
    for (name, ty) in expected {
        assert_eq!(columns[name]["type"], json!(ty), "column {name}");
    }
    assert_eq!(columns["def"]["default_expression"], json!("'dflt'"));
    assert_eq!(
        columns["def"]["comment"],
        json!("filled when absent; it's documented")
    );
    assert_eq!(columns.len(), 29);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_every_type_round_trip() {
    let client = client("t_types").await;
    let app = all_types_app();
    ddl::apply(&client, &ddl::plan(&app, client.database()).expect("plan"))
        .await
        .expect("ddl");
    let first = json!({
        "id": 1, "s": "tab\there \"quoted\" \\ é", "lc": "x", "lcn": null,
        "i8": -128, "i16": -32768, "i32": -2147483648i64, "i64": i64::MIN,
        "u8": 255, "u16": 65535, "u32": 4294967295u64, "u64": u64::MAX,
        "f32": 1.5, "f64": -2.25e300, "b": true, "d": "12.50",
        "dt": "2024-05-01", "ts": "2024-05-01T12:00:00Z", "ts3": "2024-05-01T12:00:00.123Z",
        "u": "550e8400-e29b-41d4-a716-446655440000", "e": "it's", "e16": "wide",
        "arr": ["a", null], "m": {"k": [1, 2]},
        "addr": {"street": "Main", "zip": null, "geo": {"lat": 1.5, "lon": -2.0}},
        "addrs": [{"lat": 0.5, "lon": 0.25}], "n": null,
        "j": {"a": {"b": [1, 2]}, "c": "s"}, "def": "given"
    });
    // Offsets are converted to UTC, a number is accepted for a decimal, `def` is omitted.
    let second = json!({
        "id": 2, "s": "", "lc": "", "lcn": "v",
        "i8": 127, "i16": 32767, "i32": 2147483647, "i64": i64::MAX,
        "u8": 0, "u16": 0, "u32": 0, "u64": 0,
        "f32": -0.25, "f64": 0.0, "b": false, "d": 0.5,
        "dt": "1970-01-01", "ts": "2024-05-01T14:00:00+02:00", "ts3": "2024-05-01T23:59:59.999+00:00",
        "u": "00000000-0000-0000-0000-000000000000", "e": "small", "e16": "wide",
        "arr": [], "m": {}, "addr": {"street": "", "zip": "75001", "geo": {"lat": 0.0, "lon": 0.0}},
        "addrs": [], "n": 7, "j": {}
    });
    let ndjson = format!("{first}\n{second}\n");
    client
        .insert_json("Everything", ndjson, 2)
        .await
        .expect("insert every type");

    let service = service(&client, QueryLimits::default());
    let rows = guest_query(&service, "SELECT * FROM Everything ORDER BY id", &[])
        .await
        .expect("select");
    let mut expected_first = first.clone();
    expected_first["d"] = json!(12.5);
    let mut expected_second = second.clone();
    expected_second["ts"] = json!("2024-05-01T12:00:00Z");
    expected_second["ts3"] = json!("2024-05-01T23:59:59.999Z");
    expected_second["def"] = json!("dflt");
    assert_rows(rows, vec![expected_first, expected_second]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_inserts_carry_clickhouse_messages_and_write_nothing() {
    let client = client("t_reject").await;
    let mut def = empty_def();
    def.models = vec![model(
        "Event",
        vec![
            key("id", scalar(ScalarType::Uint32)),
            field("at", scalar(ScalarType::DateTime)),
            field("u", scalar(ScalarType::Uuid)),
        ],
    )];
    def.tables = vec![table("Event", "Event", TableEngine::MergeTree)];
    ddl::apply(&client, &ddl::plan(&app(def), "t_reject").expect("plan"))
        .await
        .expect("ddl");
    let good = r#"{"id":1,"at":"2024-05-01T12:00:00Z","u":"550e8400-e29b-41d4-a716-446655440000"}"#;
    let cases = [
        (
            r#"{"id":"x","at":"2024-05-01T12:00:00Z","u":"550e8400-e29b-41d4-a716-446655440000"}"#,
            "Cannot parse input",
        ),
        (
            r#"{"id":2,"at":"yesterday","u":"550e8400-e29b-41d4-a716-446655440000"}"#,
            "Cannot read DateTime",
        ),
        (
            r#"{"id":3,"at":"2024-05-01T12:00:00Z","u":"not-a-uuid"}"#,
            "UUID",
        ),
        ("not json", "Cannot parse input"),
    ];
    for (bad, expected) in cases {
        let error = client
            .insert_json("Event", format!("{good}\n{bad}\n"), 2)
            .await
            .unwrap_err();
        match &error {
            OlapError::Rejected { code, message } => {
                assert!(*code > 0, "{error:?}");
                assert!(
                    message.starts_with(&format!("Code: {code}. DB::Exception:")),
                    "{message}"
                );
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("expected Rejected for {bad}, got {other:?}"),
        }
        assert!(!error.is_retryable());
    }
    assert_eq!(
        count(&client, "Event").await,
        0,
        "a rejected insert writes nothing"
    );

    let missing = client.insert_json("Missing", good, 1).await.unwrap_err();
    assert!(
        matches!(&missing, OlapError::Unavailable { code: Some(60), message } if message.contains("does not exist")),
        "{missing:?}"
    );
    client
        .insert_json("Event", good, 1)
        .await
        .expect("a good row");
    assert_eq!(count(&client, "Event").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client =
        OlapClient::new(config(&format!("http://127.0.0.1:{port}"), "nowhere")).expect("client");
    for error in [
        client.insert_json("t", "{\"a\":1}", 1).await.unwrap_err(),
        client.version().await.unwrap_err(),
        client.ensure_database().await.unwrap_err(),
    ] {
        assert!(
            matches!(error, OlapError::Unavailable { code: None, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(&port.to_string()), "{error}");
    }
    let service = service(&client, QueryLimits::default());
    let error = guest_query(&service, "SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(error, QueryError::Unavailable(_)), "{error:?}");
    assert!(matches!(
        OlapClient::new(config("https://x", "db")),
        Err(OlapError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_materialized_view_aggregates_and_views_read_it() {
    let client = client("t_mv").await;
    let app = revenue_app();
    ddl::apply(&client, &ddl::plan(&app, client.database()).expect("plan"))
        .await
        .expect("ddl");
    let rows = [
        ("1", "acme", 10.0, "2024-05-01"),
        ("2", "acme", 5.5, "2024-05-01"),
        ("3", "beta", 1.0, "2024-05-01"),
        ("4", "acme", 2.0, "2024-05-02"),
    ];
    // Two inserts, so the SummingMergeTree holds unmerged parts the query must sum.
    for batch in rows.chunks(2) {
        let ndjson: String = batch
            .iter()
            .map(|(id, customer, amount, day)| {
                format!(
                    "{}\n",
                    json!({"id": id, "customer": customer, "amount": amount, "day": day, "ts": format!("{day}T10:00:00Z")})
                )
            })
            .collect();
        client
            .insert_json("OrderEnriched", ndjson, batch.len())
            .await
            .expect("insert");
    }
    let service = service(&client, QueryLimits::default());
    let daily = guest_query(
        &service,
        "SELECT day, customer, sum(revenue) AS revenue, sum(orders) AS orders FROM DailyRevenue \
         WHERE customer = {customer:String} GROUP BY day, customer ORDER BY day",
        &[("customer", "acme")],
    )
    .await
    .expect("daily revenue");
    assert_rows(
        daily,
        vec![
            json!({"day": "2024-05-01", "customer": "acme", "revenue": 15.5, "orders": 2}),
            json!({"day": "2024-05-02", "customer": "acme", "revenue": 2.0, "orders": 1}),
        ],
    );
    let top = guest_query(
        &service,
        "SELECT * FROM TopCustomers ORDER BY revenue DESC",
        &[],
    )
    .await
    .expect("view");
    assert_rows(
        top,
        vec![
            json!({"customer": "acme", "revenue": 17.5}),
            json!({"customer": "beta", "revenue": 1.0}),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_fit_the_dead_letter_table() {
    let client = client("t_dlq").await;
    ddl::apply(
        &client,
        &[ddl::dead_letter_table("t_dlq", "enrich_dead_letter")],
    )
    .await
    .expect("ddl");
    let letter = json!({
        "record": "{\"id\":\"1\",\"amount\":\"x\"}",
        "error": "amount: invalid type",
        "error_kind": "validation",
        "source": "function:enrich_order",
        "failed_at": "2024-05-01T12:00:00.250Z"
    });
    client
        .insert_json("enrich_dead_letter", letter.to_string(), 1)
        .await
        .expect("insert");
    let service = service(&client, QueryLimits::default());
    let rows = guest_query(&service, "SELECT * FROM enrich_dead_letter", &[])
        .await
        .expect("select");
    assert_eq!(rows, vec![letter]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_throughput_of_100k_small_rows() {
    let client = client("t_bulk").await;
    client
        .execute(
            "CREATE TABLE IF NOT EXISTS bulk (id UInt64, name String, amount Float64, ts DateTime) \
             ENGINE = MergeTree ORDER BY id",
        )
        .await
        .expect("table");
    let rows = 100_000;
    let mut ndjson = String::with_capacity(rows * 80);
    for i in 0..rows {
        ndjson.push_str(&format!(
            "{{\"id\":{i},\"name\":\"customer-{}\",\"amount\":{}.25,\"ts\":\"2024-05-01T12:{:02}:{:02}Z\"}}\n",
            i % 1000,
            i % 977,
            (i / 60) % 60,
            i % 60
        ));
    }
    let bytes = ndjson.len();
    let started = Instant::now();
    client
        .insert_json("bulk", ndjson, rows)
        .await
        .expect("bulk insert");
    let elapsed = started.elapsed();
    eprintln!(
        "inserted {rows} rows ({:.1} MiB NDJSON) in {elapsed:?}: {:.0} rows/s",
        bytes as f64 / (1 << 20) as f64,
        rows as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(count(&client, "bulk").await, rows as u64);
}

// ------------------------------------------------------------------ guest queries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_queries_cannot_write_and_errors_are_typed() {
    let client = client("t_guard").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS kept (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1,\"name\":\"a\"}", 1)
        .await
        .expect("row");
    let service = service(&client, QueryLimits::default());
    let writes = [
        "INSERT INTO kept VALUES (2, 'b')",
        "INSERT INTO kept SELECT * FROM kept",
        "CREATE TABLE other (a UInt8) ENGINE = Memory",
        "DROP TABLE kept",
        "TRUNCATE TABLE kept",
        "ALTER TABLE kept DELETE WHERE 1",
        "SET max_execution_time = 0",
        "SELECT * FROM kept SETTINGS max_result_bytes = 0",
        "SELECT 1 INTO OUTFILE '/tmp/moose-olap-test-outfile'",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
        "SYSTEM DROP DNS CACHE",
        "KILL QUERY WHERE 1",
    ];
    for sql in writes {
        let error = guest_query(&service, sql, &[]).await.unwrap_err();
        assert!(
            matches!(error, QueryError::Denied(ref m) if m.contains("Code: ")),
            "{sql}: {error:?}"
        );
    }
    assert!(!Path::new("/tmp/moose-olap-test-outfile").exists());
    let error = guest_query(&service, "SELECT 1; DROP TABLE kept", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, QueryError::Invalid(ref m) if m.contains("Multi-statements")),
        "{error:?}"
    );
    assert_eq!(
        count(&client, "kept").await,
        1,
        "nothing was written or dropped"
    );

    let invalid = [
        ("SELEC 1", vec![]),
        ("SELECT * FROM missing_table", vec![]),
        ("SELECT missing_column FROM kept", vec![]),
        ("SELECT {n:UInt8}", vec![("n", "not a number")]),
        ("SELECT {n:UInt8}", vec![]),
    ];
    for (sql, pairs) in invalid {
        let error = guest_query(&service, sql, &pairs).await.unwrap_err();
        assert!(
            matches!(error, QueryError::Invalid(ref m) if m.starts_with("Code: ")),
            "{sql}: {error:?}"
        );
    }
    let error = guest_query(&service, "SELECT throwIf(1, 'boom')", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, QueryError::Failed(ref m) if m.contains("boom")),
        "{error:?}"
    );
    let error = guest_query(&service, "SELECT 1 FORMAT CSV", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::Invalid(_)), "{error:?}");

    let strict = OlapQueryService::new(
        client.clone(),
        tokio::runtime::Handle::current(),
        QueryLimits {
            max_execution_time: Duration::from_secs(1),
            max_result_bytes: 1000,
        },
    );
    let started = Instant::now();
    let error = guest_query(
        &strict,
        "SELECT sum(cityHash64(number)) FROM numbers(100000000000)",
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(error, QueryError::Timeout), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let error = guest_query(&strict, "SELECT number FROM numbers(100000)", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::TooLarge(1000)), "{error:?}");
    let small = guest_query(&strict, "SELECT number FROM numbers(3)", &[])
        .await
        .expect("a small result");
    assert_eq!(
        small,
        vec![
            json!({"number": 0}),
            json!({"number": 1}),
            json!({"number": 2})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_bound_never_spliced() {
    let client = client("t_params").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS people (id UInt32, name String, nick Nullable(String)) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json(
            "people",
            "{\"id\":1,\"name\":\"alice\",\"nick\":null}\n{\"id\":2,\"name\":\"tab\\there\\\\back\\nline\",\"nick\":\"b\"}\n",
            2,
        )
        .await
        .expect("rows");
    let service = service(&client, QueryLimits::default());
    let sql = "SELECT id FROM people WHERE name = {name:String} ORDER BY id";
    for attack in [
        "x' OR 1=1 --",
        "alice' OR '1'='1",
        "'; DROP TABLE people; --",
        "alice\\' OR 1=1 --",
        "{name:String}",
    ] {
        let rows = guest_query(&service, sql, &[("name", attack)])
            .await
            .expect(attack);
        assert!(rows.is_empty(), "{attack}: {rows:?}");
    }
    let rows = guest_query(&service, sql, &[("name", "alice")])
        .await
        .expect("alice");
    assert_eq!(rows, vec![json!({"id": 1})]);
    // Escaped text form: `\t`, `\\` and `\n` arrive escaped and match the real characters.
    let rows = guest_query(&service, sql, &[("name", "tab\\there\\\\back\\nline")])
        .await
        .expect("escaped");
    assert_eq!(rows, vec![json!({"id": 2})]);
    let rows = guest_query(
        &service,
        "SELECT {nick:Nullable(String)} IS NULL AS missing, {id:UInt32} + 1 AS next",
        &[("nick", "\\N"), ("id", "41")],
    )
    .await
    .expect("null and number");
    assert_eq!(rows, vec![json!({"missing": 1, "next": 42})]);
    // Identifiers are bound too: the server quotes them, so a name cannot carry SQL.
    let by_name = "SELECT {column:Identifier} AS v FROM {table:Identifier} ORDER BY id";
    let rows = guest_query(
        &service,
        by_name,
        &[("column", "name"), ("table", "people")],
    )
    .await
    .expect("identifiers");
    assert_eq!(rows.len(), 2);
    for attack in [
        "people; DROP TABLE people",
        "people WHERE 1=0 --",
        "people`",
    ] {
        let error = guest_query(&service, by_name, &[("column", "id"), ("table", attack)])
            .await
            .expect_err(attack);
        assert!(
            matches!(error, QueryError::Invalid(_)),
            "{attack}: {error:?}"
        );
    }
    assert_eq!(count(&client, "people").await, 2);
}

// ------------------------------------------------------------------ the HTTP interface

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_interface_behaves_like_clickhouse() {
    client("t_http").await;
    let ping = http("GET", "/ping", &[], b"");
    assert_eq!((ping.status, ping.text().as_str()), (200, "Ok.\n"));
    let root = http("GET", "/", &[], b"");
    assert_eq!((root.status, root.text().as_str()), (200, "Ok.\n"));
    let unknown = http("GET", "/nope", &[], b"");
    assert_eq!(unknown.status, 404);

    // Errors: ClickHouse's text, code header and status.
    for (sql, status, code) in [
        ("SELEC 1", 400, "62"),
        ("SELECT * FROM t_http.missing", 404, "60"),
        ("SELECT throwIf(1)", 500, "395"),
        ("SELECT 1; SELECT 2", 400, "62"),
        (
            "SELECT 1 INTO OUTFILE '/tmp/moose-olap-http-outfile'",
            500,
            "358",
        ),
    ] {
        let response = http("POST", "/", &[], sql.as_bytes());
        assert_eq!(response.status, status, "{sql}: {}", response.text());
        assert_eq!(
            response.header("X-ClickHouse-Exception-Code"),
            Some(code),
            "{sql}"
        );
        assert!(
            response
                .text()
                .starts_with(&format!("Code: {code}. DB::Exception: ")),
            "{}",
            response.text()
        );
        assert!(
            response.text().trim_end().ends_with("(version 26.9.2.1)"),
            "{}",
            response.text()
        );
    }

    // DDL with the query in the body, then an insert with the query in the URL and gzip
    // data in a chunked body, with a query id and a per-query setting.
    let create = http(
        "POST",
        "/?database=t_http",
        &[],
        b"CREATE TABLE IF NOT EXISTS t (id UInt32, at DateTime, name String) ENGINE = MergeTree ORDER BY id",
    );
    assert_eq!(create.status, 200, "{}", create.text());
    let data = b"{\"id\":1,\"at\":\"2024-05-01T12:00:00Z\",\"name\":\"a\"}\n{\"id\":2,\"at\":\"2024-05-01T13:00:00+01:00\",\"name\":\"b\"}\n";
    let target = encode_query(&[
        ("query", "INSERT INTO t FORMAT JSONEachRow"),
        ("database", "t_http"),
        ("query_id", "my-insert"),
        ("date_time_input_format", "best_effort"),
    ]);
    let insert = http(
        "POST",
        &target,
        &[
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
        &gzip(data),
    );
    assert_eq!(insert.status, 200, "{}", insert.text());
    assert_eq!(insert.header("X-ClickHouse-Query-Id"), Some("my-insert"));
    let summary: Value =
        serde_json::from_str(insert.header("X-ClickHouse-Summary").expect("summary"))
            .expect("json");
    assert_eq!(summary["written_rows"], json!("2"));

    // `INSERT ... VALUES` with the values in the body.
    let values = http(
        "POST",
        &encode_query(&[("query", "INSERT INTO t_http.t VALUES")]),
        &[],
        b"(3, '2024-05-01 14:00:00', 'c')",
    );
    assert_eq!(values.status, 200, "{}", values.text());

    // A select with a bound parameter, gzip response, basic auth.
    let select = http(
        "GET",
        &encode_query(&[
            ("query", "SELECT id, at, name FROM t WHERE id >= {min:UInt32} ORDER BY id FORMAT JSONEachRow"),
            ("database", "t_http"),
            ("param_min", "2"),
            ("date_time_output_format", "iso"),
            ("enable_http_compression", "1"),
        ]),
        &[
            ("Accept-Encoding", "gzip"),
            ("Authorization", &format!("Basic {}", base64(b"default:"))),
        ],
        b"",
    );
    assert_eq!(select.status, 200);
    assert_eq!(select.header("Content-Encoding"), Some("gzip"));
    assert_eq!(select.header("X-ClickHouse-Format"), Some("JSONEachRow"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&select.body[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    assert_eq!(
        text,
        "{\"id\":2,\"at\":\"2024-05-01T12:00:00Z\",\"name\":\"b\"}\n{\"id\":3,\"at\":\"2024-05-01T14:00:00Z\",\"name\":\"c\"}\n"
    );

    // Parameters in a multipart body (how the Rust client sends them), credentials in
    // X-ClickHouse headers, the default format from X-ClickHouse-Format.
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {a:UInt8} + {b:UInt8} AS s\r\n--XyZ\r\nContent-Disposition: form-data; name=\"param_a\"\r\n\r\n40\r\n--XyZ\r\nContent-Disposition: form-data; name=\"param_b\"\r\n\r\n2\r\n--XyZ--\r\n";
    let form = http(
        "POST",
        "/",
        &[
            ("Content-Type", "multipart/form-data; boundary=XyZ"),
            ("X-ClickHouse-User", "default"),
            ("X-ClickHouse-Key", ""),
            ("X-ClickHouse-Format", "JSONEachRow"),
        ],
        multipart.as_bytes(),
    );
    assert_eq!((form.status, form.text().as_str()), (200, "{\"s\":42}\n"));

    // Settings apply to their query only.
    let setting = "SELECT getSetting('max_threads')";
    let with = http("POST", "/?max_threads=3", &[], setting.as_bytes());
    assert_eq!(with.text(), "3\n");
    let without = http("POST", "/", &[], setting.as_bytes());
    assert_ne!(without.text(), "3\n");

    // GET is read-only; readonly=1 refuses writes and SET; a deflate request body.
    let get_insert = http(
        "GET",
        &encode_query(&[("query", "INSERT INTO t_http.t VALUES (9, now(), 'x')")]),
        &[],
        b"",
    );
    assert_eq!(
        get_insert.header("X-ClickHouse-Exception-Code"),
        Some("164")
    );
    let set = http("POST", "/?readonly=1", &[], b"SET max_threads = 1");
    assert_eq!(set.header("X-ClickHouse-Exception-Code"), Some("164"));
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    deflate
        .write_all(b"SELECT count() FROM t_http.t")
        .expect("deflate");
    let counted = http(
        "POST",
        "/",
        &[("Content-Encoding", "deflate")],
        &deflate.finish().expect("deflate"),
    );
    assert_eq!(counted.text(), "3\n");

    // What the engine does not support fails loudly.
    let brotli = http("POST", "/", &[("Content-Encoding", "br")], b"SELECT 1");
    assert_eq!(brotli.header("X-ClickHouse-Exception-Code"), Some("89"));
}

/// Reads one response of a keep-alive connection (bodies framed by Content-Length).
fn read_response(reader: &mut BufReader<TcpStream>) -> HttpResponse {
    let (status, headers) = read_head(reader);
    let length: usize = headers["content-length"].parse().expect("length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    HttpResponse {
        status,
        headers,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_insert_leaves_the_connection_usable() {
    let client = client("t_keepalive").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS t (id UInt32) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    let stream = TcpStream::connect(("127.0.0.1", shared().port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    // 4 MiB in 64 KiB chunks; the first row is already bad.
    let target = encode_query(&[
        ("query", "INSERT INTO t FORMAT JSONEachRow"),
        ("database", "t_keepalive"),
    ]);
    write!(
        writer,
        "POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .expect("head");
    let mut chunk = b"{\"id\":\"bad\"}\n".to_vec();
    chunk.resize(64 << 10, b' ');
    for _ in 0..64 {
        write!(writer, "{:x}\r\n", chunk.len()).expect("size");
        writer.write_all(&chunk).expect("chunk");
        writer.write_all(b"\r\n").expect("crlf");
    }
    writer.write_all(b"0\r\n\r\n").expect("end");
    let failed = read_response(&mut reader);
    assert_eq!(
        failed.header("X-ClickHouse-Exception-Code"),
        Some("27"),
        "{}",
        failed.text()
    );
    // The same connection serves the next request.
    write!(
        writer,
        "POST /?database=t_keepalive HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nSELECT count() FROM t\n"
    )
    .expect("second request");
    let next = read_response(&mut reader);
    assert_eq!((next.status, next.text().as_str()), (200, "0\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_and_queries() {
    let client = client("t_concurrent").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS t (task UInt32, n UInt32) ENGINE = MergeTree ORDER BY (task, n)")
        .await
        .expect("table");
    let service = service(&client, QueryLimits::default());
    let mut tasks = Vec::new();
    for task in 0..8u32 {
        let client = client.clone();
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10u32 {
                let ndjson: String = (0..100u32)
                    .map(|n| format!("{{\"task\":{task},\"n\":{}}}\n", round * 100 + n))
                    .collect();
                client.insert_json("t", ndjson, 100).await.expect("insert");
                let rows = guest_query(
                    &service,
                    "SELECT count() AS c FROM t WHERE task = {task:UInt32}",
                    &[("task", &task.to_string())],
                )
                .await
                .expect("query");
                assert_eq!(rows, vec![json!({"c": (round + 1) * 100})]);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(count(&client, "t").await, 8000);
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct Typed {
    id: u32,
    name: String,
    at: i64,
}

/// The crate's typed API with its defaults (schema validation with
/// RowBinaryWithNamesAndTypes, server-side parameters), without compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_typed_api_works_with_validation() {
    client("t_typed").await;
    let typed = clickhouse::Client::default()
        .with_url(shared().url())
        .with_database("t_typed")
        .with_compression(clickhouse::Compression::None);
    typed
        .query("CREATE TABLE IF NOT EXISTS t (id UInt32, name String, at Int64) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .expect("create");
    let mut insert = typed
        .insert::<Typed>("t")
        .await
        .expect("insert (DESCRIBE TABLE)");
    for id in 0..3 {
        insert
            .write(&Typed {
                id,
                name: format!("n{id}"),
                at: -i64::from(id),
            })
            .await
            .expect("write");
    }
    insert.end().await.expect("end");
    let rows = typed
        .query("SELECT ?fields FROM t WHERE id >= {min:UInt32} ORDER BY id")
        .param("min", 1u32)
        .fetch_all::<Typed>()
        .await
        .expect("fetch");
    assert_eq!(
        rows,
        vec![
            Typed {
                id: 1,
                name: "n1".into(),
                at: -1
            },
            Typed {
                id: 2,
                name: "n2".into(),
                at: -2
            },
        ]
    );
}

#[test]
fn credentials_are_checked_when_configured() {
    let dir = scratch_dir("auth");
    let engine = start_engine(
        &dir,
        EmbeddedOptions {
            credentials: Some(("moose".into(), "s3cret".into())),
            ..EmbeddedOptions::default()
        },
    );
    let port = engine.port();
    let query = b"SELECT currentUser()";
    let none = http_to(port, "POST", "/", &[], query);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("X-ClickHouse-Exception-Code"), Some("194"));
    assert!(none.header("WWW-Authenticate").is_some());
    let wrong = http_to(
        port,
        "POST",
        "/",
        &[("Authorization", &format!("Basic {}", base64(b"moose:nope")))],
        query,
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.header("X-ClickHouse-Exception-Code"), Some("516"));
    for headers in [
        vec![(
            "Authorization".to_string(),
            format!("Basic {}", base64(b"moose:s3cret")),
        )],
        vec![
            ("X-ClickHouse-User".to_string(), "moose".to_string()),
            ("X-ClickHouse-Key".to_string(), "s3cret".to_string()),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let ok = http_to(port, "POST", "/", &headers, query);
        assert_eq!(ok.status, 200, "{}", ok.text());
    }
    let by_params = http_to(port, "POST", "/?user=moose&password=s3cret", &[], query);
    assert_eq!(by_params.status, 200);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut good = config(engine.url(), "auth");
        good.user = "moose".into();
        good.password = "s3cret".into();
        let client = OlapClient::new(good.clone()).expect("client");
        client.ensure_database().await.expect("authenticated");
        let bad = OlapClient::new(OlapConfig {
            password: "nope".into(),
            ..good
        })
        .expect("client");
        let error = bad.version().await.unwrap_err();
        assert!(
            matches!(
                error,
                OlapError::Unavailable {
                    code: Some(516),
                    ..
                }
            ),
            "{error:?}"
        );
    });
}

// ------------------------------------------------------------------ an outside peer

#[test]
fn outside_peer_clickhouse_js() {
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/clickhouse-js");
    assert!(
        peer.join("node_modules/@clickhouse/client").is_dir(),
        "{} has no node_modules/@clickhouse/client: run scripts/setup.sh",
        peer.display()
    );
    let output = Command::new("node")
        .arg("peer.mjs")
        .arg(shared().url())
        .arg("t_peer")
        .current_dir(&peer)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node (install Node.js >= 20; see scripts/setup.sh): {e}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "peer failed:\n{stdout}\n{stderr}");
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON report from the peer:\n{stdout}\n{stderr}"));
    assert_eq!(
        report,
        json!({
            "ping": true,
            "insert_written_rows": "3",
            "rows": [{"id": 2, "name": "it's", "tags": []}],
            "bad_query": {"is_clickhouse_error": true, "code": "62", "type": "SYNTAX_ERROR"},
            "session": [{"threads": 3, "total": 3}]
        })
    );
}

// ------------------------------------------------------------------ clients and views

/// The `clickhouse` crate's default LZ4: inserts as ClickHouse blocks (`decompress=1`,
/// CityHash128 checksums), queries answered with `Content-Encoding: lz4`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_with_lz4_inserts_and_reads() {
    client("t_lz4").await;
    let lz4 = OlapClient::new(OlapConfig {
        lz4: true,
        ..config(shared().url(), "t_lz4")
    })
    .expect("client");
    lz4.execute(
        "CREATE TABLE IF NOT EXISTS t (id UInt32, name String) ENGINE = MergeTree ORDER BY id",
    )
    .await
    .expect("create");
    let rows: String = (0..3000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"name {i} {}\"}}\n",
                "é".repeat(i % 50)
            )
        })
        .collect();
    lz4.insert_json("t", rows, 3000).await.expect("LZ4 insert");
    let body = lz4
        .fetch_bytes(
            "SELECT count() AS n, sum(length(name)) AS chars FROM t",
            "JSONEachRow",
            &[("output_format_json_quote_64bit_integers", "0")],
        )
        .await
        .expect("LZ4 answer");
    let row: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(row["n"], 3000);
    let expected: usize = (0..3000)
        .map(|i| format!("name {i} {}", "é".repeat(i % 50)).len())
        .sum();
    assert_eq!(row["chars"], expected);
}

/// A corrupted ClickHouse block is refused by its checksum, and nothing is written.
#[test]
fn a_compressed_block_with_a_wrong_checksum_is_refused() {
    let database = "t_checksum";
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(client(database));
    let create =
        "CREATE TABLE IF NOT EXISTS t_checksum.t (id UInt32) ENGINE = MergeTree ORDER BY id";
    assert_eq!(http("POST", "/", &[], create.as_bytes()).status, 200);
    // Method 0x02 (stored, uncompressed): 9 header bytes and the data, with a zero checksum.
    let data = b"{\"id\":1}\n";
    let mut block = vec![0u8; 16];
    block.push(0x02);
    block.extend_from_slice(&((9 + data.len()) as u32).to_le_bytes());
    block.extend_from_slice(&(data.len() as u32).to_le_bytes());
    block.extend_from_slice(data);
    let query = encode_query(&[
        ("query", "INSERT INTO t_checksum.t FORMAT JSONEachRow"),
        ("decompress", "1"),
    ]);
    let response = http("POST", &query, &[], &block);
    assert_eq!(response.status, 500, "{}", response.text());
    assert_eq!(response.header("X-ClickHouse-Exception-Code"), Some("40"));
    assert!(
        response.text().contains("Checksum doesn't match"),
        "{}",
        response.text()
    );
    let count = http("POST", "/", &[], b"SELECT count() FROM t_checksum.t");
    assert_eq!(count.text(), "0\n");
}

/// Sessions keep `SET` settings and temporary tables between requests; a request's own
/// URL settings last for that request only; a session used by two requests at once, or
/// checked before it exists, is refused as ClickHouse refuses it.
#[test]
fn http_sessions_keep_settings_and_temporary_tables() {
    let url = |session: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("session_id", session)];
        pairs.extend_from_slice(extra);
        encode_query(&pairs)
    };
    let run = |session: &str, extra: &[(&str, &str)], sql: &str| {
        let response = http("POST", &url(session, extra), &[], sql.as_bytes());
        assert_eq!(response.status, 200, "{sql}: {}", response.text());
        response.text()
    };
    let session = format!("s-{}", std::process::id());
    run(&session, &[], "SET max_threads = 3");
    run(&session, &[], "CREATE TEMPORARY TABLE tmp (x UInt8)");
    run(&session, &[], "INSERT INTO tmp VALUES (1), (2)");
    assert_eq!(run(&session, &[], "SELECT sum(x) FROM tmp"), "3\n");
    assert_eq!(
        run(
            &session,
            &[("max_threads", "5")],
            "SELECT getSetting('max_threads')"
        ),
        "5\n"
    );
    assert_eq!(
        run(&session, &[], "SELECT getSetting('max_threads')"),
        "3\n"
    );
    // Another session sees neither.
    let other = format!("{session}-other");
    let response = http("POST", &url(&other, &[]), &[], b"SELECT sum(x) FROM tmp");
    assert_eq!(response.status, 404, "{}", response.text());
    let missing = http(
        "POST",
        &url("never-created", &[("session_check", "1")]),
        &[],
        b"SELECT 1",
    );
    assert_eq!(missing.header("X-ClickHouse-Exception-Code"), Some("372"));
    // A second request while the first still runs finds the session locked.
    let busy = std::thread::spawn({
        let session = session.clone();
        move || http("POST", &url(&session, &[]), &[], b"SELECT sleep(3)")
    });
    std::thread::sleep(Duration::from_secs(1));
    let locked = http("POST", &url(&session, &[]), &[], b"SELECT 1");
    assert_eq!(locked.header("X-ClickHouse-Exception-Code"), Some("373"));
    assert_eq!(busy.join().expect("busy").status, 200);
}

/// A query in the body followed by binary data (`INSERT ... FORMAT RowBinary`), as
/// clickhouse-connect sends it: the data is not decoded as text.
#[test]
fn binary_data_after_a_query_in_the_body_is_kept_as_bytes() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(client("t_binary"));
    let create = "CREATE TABLE IF NOT EXISTS t_binary.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id";
    assert_eq!(http("POST", "/", &[], create.as_bytes()).status, 200);
    let mut body = b"INSERT INTO t_binary.t FORMAT RowBinary\n".to_vec();
    for (id, name) in [(4_000_000_000u32, "é€"), (10, "\u{ff}")] {
        body.extend_from_slice(&id.to_le_bytes());
        body.push(name.len() as u8);
        body.extend_from_slice(name.as_bytes());
    }
    body.extend_from_slice(&0x0A0Au32.to_le_bytes()); // an id whose bytes are newlines
    body.push(0);
    let response = http("POST", "/", &[], &body);
    assert_eq!(response.status, 200, "{}", response.text());
    let rows = http(
        "POST",
        "/",
        &[],
        b"SELECT id, name FROM t_binary.t ORDER BY id FORMAT TSV",
    );
    assert_eq!(rows.text(), "10\t\u{ff}\n2570\t\n4000000000\té€\n");
}

/// When a materialized view fails on inserted rows, ClickHouse stores them in the table
/// and reports the view's error; the embedded engine does the same, and the table writer
/// reports it as a view failure (the rows must not be inserted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_materialized_view_is_reported_and_its_rows_stay_stored() {
    use moose_host::sync::{InsertError, TableWriter};
    let client = client("t_mv_fail").await;
    for sql in [
        "CREATE TABLE src (id String, v String) ENGINE = MergeTree ORDER BY id",
        "CREATE TABLE dst (id String, n UInt64) ENGINE = MergeTree ORDER BY id",
        "CREATE MATERIALIZED VIEW totals_mv TO dst AS SELECT id, v AS n FROM src",
    ] {
        client.execute(sql).await.expect(sql);
    }
    let good = b"{\"id\":\"a\",\"v\":\"5\"}\n";
    TableWriter::insert_json(&client, "src", good, 1)
        .await
        .expect("a row the view takes");
    let bad = b"{\"id\":\"b\",\"v\":\"x\"}\n{\"id\":\"c\",\"v\":\"7\"}\n";
    match TableWriter::insert_json(&client, "src", bad, 2).await {
        Err(InsertError::ViewFailed { view, message }) => {
            assert_eq!(view, "totals_mv");
            assert!(
                message.contains("Cannot parse string 'x' as UInt64"),
                "{message}"
            );
        }
        other => panic!("expected a view failure, got {other:?}"),
    }
    assert_eq!(
        count(&client, "src").await,
        3,
        "the rows are in the table once"
    );
    assert_eq!(
        count(&client, "dst").await,
        1,
        "the failed block is not in the view"
    );
}

/// A client of ClickHouse's native TCP protocol on the HTTP port gets an error at once
/// (not a hang).
#[test]
fn a_native_protocol_client_is_refused_at_once() {
    let port = shared().port().to_string();
    let output = Command::new("timeout")
        .args([
            "20",
            "clickhouse-client",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "-q",
            "SELECT 1",
        ])
        .output()
        .expect("clickhouse-client (scripts/setup-clickhouse-server.sh installs it)");
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert_ne!(
        output.status.code(),
        Some(124),
        "clickhouse-client hung: {said}"
    );
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("serves the ClickHouse HTTP interface"),
        "{said}"
    );
}

/// An outside peer of the embedded engine: PyPI clickhouse-connect (queries, inserts,
/// DataFrames, sessions, with and without compression) and `compress=1` answers checked
/// block by block.
#[test]
fn outside_peer_clickhouse_connect() {
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/clickhouse-connect/peer.py");
    let python = moose_host::config::tools_dir().join("tools-venv/bin/python");
    let output = Command::new(&python)
        .arg(&peer)
        .arg(shared().url())
        .arg("t_connect")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run scripts/setup.sh): {e}",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "peer failed:\n{stdout}\n{stderr}");
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON report from the peer:\n{stdout}\n{stderr}"));
    let seen = json!({
        "rows": [
            [7, "df", "2024-05-03 00:00:00", 0.25],
            [8, "frame", "2024-05-04 00:00:00", 0.5],
            [4_000_000_000u64, "é€\u{ff}", "2024-05-02 00:00:00", -2.0],
        ],
        "total": 0.25,
        "session_setting": 3,
        "session_table": 3,
        "bad_query": true,
    });
    assert_eq!(
        report,
        json!({
            "compressed": seen,
            "plain": seen,
            "compress_1": {"blocks": true, "rows": 300_000, "last": "299999"},
        })
    );
}

/// `moose dev`'s migration: the first start reports what it created; later, a dead-letter
/// table the app no longer has is kept with its rows, and said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_migrations_report_creations_and_keep_dead_letter_tables() {
    use moose_host::infra_map::migrate_dev;
    use moose_model::types::{FunctionDef, StreamDef};
    let client = client("t_dev_migrate").await;
    let mut with_dead_letters = revenue_app();
    with_dead_letters.def.streams = vec![StreamDef {
        name: "OrderEnriched".into(),
        model: "OrderEnriched".into(),
        partitions: 0,
        retention_hours: None,
    }];
    with_dead_letters.def.functions = vec![FunctionDef {
        name: "audit".into(),
        source: "OrderEnriched".into(),
        destination: None,
        dead_letter: Some("audit_dead_letter".into()),
    }];
    let mut said = Vec::new();
    let first = migrate_dev(&client, &with_dead_letters, &mut |line| {
        said.push(line.to_string())
    })
    .await
    .expect("first start");
    let created: Vec<String> = first
        .changes
        .iter()
        .map(|c| c.change.name.clone())
        .collect();
    for name in [
        "OrderEnriched",
        "DailyRevenue",
        "audit_dead_letter",
        "TopCustomers",
    ] {
        assert!(
            created.contains(&name.to_string()),
            "{name} not in {created:?}"
        );
    }
    client
        .insert_json(
            "audit_dead_letter",
            "{\"record\":\"{}\",\"error\":\"e\",\"error_kind\":\"function\",\"source\":\"function:audit\",\"failed_at\":\"2024-05-01 00:00:00.000\"}\n",
            1,
        )
        .await
        .expect("a dead letter");
    let again = migrate_dev(&client, &with_dead_letters, &mut |line| {
        said.push(line.to_string())
    })
    .await
    .expect("second start");
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    let mut without = with_dead_letters.clone();
    without.def.functions[0].dead_letter = None;
    migrate_dev(&client, &without, &mut |line| said.push(line.to_string()))
        .await
        .expect("the dead letter goes");
    assert!(
        said.iter()
            .any(|l| l.contains("kept dead-letter table `audit_dead_letter` and its rows")),
        "{said:?}"
    );
    assert_eq!(count(&client, "audit_dead_letter").await, 1);
}
