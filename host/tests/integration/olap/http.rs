//! The HTTP interface as ClickHouse serves it: framing, keep-alive, concurrency, credentials.

use super::*;

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
