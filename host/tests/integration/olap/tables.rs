//! DDL and inserts: every type created and round-tripped, rejected inserts, views, dead letters.

use super::*;

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
        ("i128", "Int128"),
        ("u256", "UInt256"),
        ("code", "FixedString(3)"),
        ("v4", "IPv4"),
        ("v6", "Nullable(IPv6)"),
        ("at", "Point"),
        ("route", "LineString"),
        ("area", "Polygon"),
        ("areas", "MultiPolygon"),
    ];
    for (name, ty) in expected {
        assert_eq!(columns[name]["type"], json!(ty), "column {name}");
    }
    assert_eq!(columns["def"]["default_expression"], json!("'dflt'"));
    assert_eq!(
        columns["def"]["comment"],
        json!("filled when absent; it's documented")
    );
    assert_eq!(columns.len(), 38);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_every_type_round_trip() {
    let client = client("t_types").await;
    let app = all_types_app();
    ddl::apply(&client, &ddl::plan(&app, client.database()).expect("plan"))
        .await
        .expect("ddl");
    let mut first = json!({
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
    extend(
        &mut first,
        json!({
            "i128": "-170141183460469231731687303715884105728",
            "u256": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "code": "NOK", "v4": "255.255.255.255", "v6": "2001:db8::1", "at": [1.5, -2.25],
            "route": [[0, 0], [1, 1]], "area": [[[0, 0], [10, 0], [10, 10], [0, 0]], [[2, 2], [3, 3], [2, 3]]],
            "areas": [[[[0, 0], [1, 0], [0, 0]]], [[[5, 5], [6, 5], [5, 5]]]]
        }),
    );
    // Offsets are converted to UTC, a number is accepted for a decimal, `def` is omitted.
    let mut second = json!({
        "id": 2, "s": "", "lc": "", "lcn": "v",
        "i8": 127, "i16": 32767, "i32": 2147483647, "i64": i64::MAX,
        "u8": 0, "u16": 0, "u32": 0, "u64": 0,
        "f32": -0.25, "f64": 0.0, "b": false, "d": 0.5,
        "dt": "1970-01-01", "ts": "2024-05-01T14:00:00+02:00", "ts3": "2024-05-01T23:59:59.999+00:00",
        "u": "00000000-0000-0000-0000-000000000000", "e": "small", "e16": "wide",
        "arr": [], "m": {}, "addr": {"street": "", "zip": "75001", "geo": {"lat": 0.0, "lon": 0.0}},
        "addrs": [], "n": 7, "j": {}
    });
    extend(
        &mut second,
        json!({
            "i128": 5, "u256": 0, "code": "", "v4": "0.0.0.0", "v6": "::ffff:10.0.0.1", "at": [0, 0],
            "route": [], "area": [], "areas": []
        }),
    );
    let ndjson = format!("{first}\n{second}\n");
    client
        .insert_json("Everything", ndjson, 2)
        .await
        .expect("insert every type");

    let service = service(&client, QueryLimits::default());
    // Integers beyond 64 bits are compared as text below: a JSON number that long is no
    // serde_json number.
    let rows = guest_query(
        &service,
        "SELECT * EXCEPT (i128, u256) FROM Everything ORDER BY id",
        &[],
    )
    .await
    .expect("select");
    let mut expected_first = first.clone();
    expected_first["d"] = json!(12.5);
    let mut expected_second = second.clone();
    expected_second["ts"] = json!("2024-05-01T12:00:00Z");
    expected_second["ts3"] = json!("2024-05-01T23:59:59.999Z");
    expected_second["def"] = json!("dflt");
    // FixedString pads with zero bytes.
    expected_second["code"] = json!("\0\0\0");
    for row in [&mut expected_first, &mut expected_second] {
        let row = row.as_object_mut().expect("a row");
        row.remove("i128");
        row.remove("u256");
    }
    assert_rows(rows, vec![expected_first, expected_second]);
    let wide = guest_query(
        &service,
        "SELECT toString(i128) AS i128, toString(u256) AS u256 FROM Everything ORDER BY id",
        &[],
    )
    .await
    .expect("select wide integers");
    assert_eq!(
        wide,
        vec![
            json!({"i128": first["i128"], "u256": first["u256"]}),
            json!({"i128": "5", "u256": "0"})
        ]
    );
    // Guests read them exactly: the rows carry every digit.
    let batch = tokio::task::spawn_blocking({
        let service = service.clone();
        move || service.query("SELECT i128, u256 FROM Everything WHERE id = 1", &[])
    })
    .await
    .expect("query thread")
    .expect("select");
    assert_eq!(
        String::from_utf8(batch.data).expect("utf-8"),
        format!(
            r#"{{"i128":{},"u256":{}}}"#,
            first["i128"].as_str().expect("digits"),
            first["u256"].as_str().expect("digits")
        )
    );
}

/// Adds the fields of `more` to `row` (one `json!` of every field overflows the macro).
fn extend(row: &mut Value, more: Value) {
    if let (Some(row), Value::Object(more)) = (row.as_object_mut(), more) {
        row.extend(more);
    }
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
