//! ClickHouse clients against the engine: the JS and Python clients, the Rust crate with LZ4, sessions, binary bodies, the native protocol refused.

use super::*;

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
