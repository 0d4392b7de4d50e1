//! `moose dev` end to end on the quickstart: HTTP ingest → embedded stream → the WASM
//! function → ClickHouse tables, dead letters and the aggregation; and a SIGKILL mid-ingest
//! that loses nothing acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moose_tests::{quickstart, DevHost};
use serde_json::{json, Value};

const ORDERS: usize = 100_000;
const BODY: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Valid and enriched.
    Good,
    /// Valid, but the function drops it (amount <= 0 or blank customer).
    Dropped,
    /// Fails validation at ingest.
    Bad,
}

fn kind(i: usize) -> Kind {
    match i % 50 {
        7 | 19 | 33 | 41 => Kind::Bad,
        3 | 11 => Kind::Dropped,
        _ => Kind::Good,
    }
}

fn amount(i: usize) -> f64 {
    ((i * 7919) % 100_000) as f64 / 100.0 + 0.01
}

fn ts(i: usize) -> String {
    format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}Z",
        1 + i % 28,
        i % 24,
        i % 60,
        (i / 60) % 60
    )
}

/// One NDJSON line for order `i`.
fn order(i: usize) -> String {
    let id = format!("o{i}");
    let customer = format!("c{}", i % 37);
    match (kind(i), i % 50) {
        (Kind::Bad, 7) => {
            json!({"id": id, "customer": customer, "amount": "lots", "ts": ts(i)}).to_string()
        }
        (Kind::Bad, 19) => json!({"id": id, "amount": amount(i), "ts": ts(i)}).to_string(),
        (Kind::Bad, 33) => {
            json!({"id": id, "customer": customer, "amount": amount(i), "ts": "soon"}).to_string()
        }
        (Kind::Bad, _) => format!("{{\"id\": \"{id}\", \"customer\": "),
        (Kind::Dropped, 3) => {
            json!({"id": id, "customer": customer, "amount": -amount(i), "ts": ts(i)}).to_string()
        }
        (Kind::Dropped, _) => {
            json!({"id": id, "customer": "  ", "amount": amount(i), "ts": ts(i)}).to_string()
        }
        (Kind::Good, _) => {
            json!({"id": id, "customer": customer, "amount": amount(i), "ts": ts(i)}).to_string()
        }
    }
}

/// Posts orders `range` in NDJSON bodies; returns how many each body had accepted.
fn post(
    api: &str,
    range: std::ops::Range<usize>,
) -> Vec<(std::ops::Range<usize>, Result<usize, String>)> {
    post_counting(api, range, &AtomicUsize::new(0))
}

/// [`post`], counting in `answered` the bodies answered so far.
fn post_counting(
    api: &str,
    range: std::ops::Range<usize>,
    answered: &AtomicUsize,
) -> Vec<(std::ops::Range<usize>, Result<usize, String>)> {
    let url = format!("{api}/ingest/Order");
    let mut results = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let end = (start + BODY).min(range.end);
        let body: Vec<String> = (start..end).map(order).collect();
        let response = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .content_type("application/x-ndjson")
            .send(body.join("\n"));
        let outcome = match response {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match status {
                    200 | 400 => parsed["accepted"].as_u64().map(|n| n as usize).ok_or(text),
                    _ => Err(format!("{status}: {text}")),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        results.push((start..end, outcome));
        answered.fetch_add(1, Ordering::SeqCst);
        start = end;
    }
    results
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => {
                panic!("{what}: still {state} after {timeout:?}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn count(host: &DevHost, sql: &str) -> u64 {
    host.query(sql)[0]["n"].as_u64().expect("count")
}

#[test]
fn quickstart_end_to_end() {
    quickstart();
    let host = DevHost::start("examples/quickstart");

    let health: Value = ureq::get(&format!("{}/ready", host.management))
        .call()
        .expect("ready")
        .body_mut()
        .read_json()
        .expect("JSON");
    assert_eq!(health["status"], "ready");

    // Four clients post concurrently.
    let chunk = ORDERS / 4;
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let api = host.api.as_str();
                scope.spawn(move || post(api, t * chunk..(t + 1) * chunk))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("poster"))
            .collect()
    });
    for (range, outcome) in &results {
        let valid = range.clone().filter(|i| kind(*i) != Kind::Bad).count();
        assert_eq!(
            outcome.as_ref().ok(),
            Some(&valid),
            "body {range:?}: {outcome:?}"
        );
    }

    let valid: Vec<usize> = (0..ORDERS).filter(|i| kind(*i) != Kind::Bad).collect();
    let good: Vec<usize> = (0..ORDERS).filter(|i| kind(*i) == Kind::Good).collect();
    let bad = ORDERS - valid.len();
    wait_for("orders stored", Duration::from_secs(180), || {
        let n = count(&host, "SELECT count(DISTINCT id) AS n FROM `Order`");
        if n == valid.len() as u64 {
            Ok(())
        } else {
            Err(format!("{n} of {}", valid.len()))
        }
    });
    wait_for("enriched orders stored", Duration::from_secs(180), || {
        let n = count(&host, "SELECT count(DISTINCT id) AS n FROM OrderEnriched");
        if n == good.len() as u64 {
            Ok(())
        } else {
            Err(format!("{n} of {}", good.len()))
        }
    });
    wait_for("dead letters stored", Duration::from_secs(180), || {
        let n = count(&host, "SELECT count() AS n FROM Order_dead_letter");
        if n == bad as u64 {
            Ok(())
        } else {
            Err(format!("{n} of {bad}"))
        }
    });
    let dead = host.query(
        "SELECT error, error_kind, source FROM Order_dead_letter WHERE record LIKE '%\"lots\"%' LIMIT 1",
    );
    assert!(
        dead[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("field `amount`")),
        "{dead:?}"
    );
    assert_eq!(dead[0]["error_kind"], "validation");
    assert_eq!(dead[0]["source"], "ingest:Order");
    let duplicates = count(
        &host,
        "SELECT count() - count(DISTINCT id) AS n FROM OrderEnriched",
    );
    assert_eq!(duplicates, 0, "a clean run writes each enriched order once");

    // The aggregation matches a recomputation.
    let mut expected: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
    for i in &good {
        let entry = expected
            .entry((ts(*i)[..10].to_string(), format!("c{}", i % 37)))
            .or_insert((0.0, 0));
        entry.0 += amount(*i);
        entry.1 += 1;
    }
    host.assert_daily_revenue(&expected);

    // The revenue API answers from the aggregation, through the guest's bound query.
    let revenue = |query: &str| send_get(&format!("{}/api/revenue?{query}", host.api));
    let (status, body) = revenue("customer=c1&limit=10000");
    assert_eq!(status, 200, "{body}");
    let rows = body.as_array().expect("rows");
    let c1: Vec<_> = expected.iter().filter(|((_, c), _)| c == "c1").collect();
    assert_eq!(rows.len(), c1.len());
    for (row, ((day, _), (revenue, orders))) in rows.iter().zip(&c1) {
        assert_eq!(row["day"].as_str(), Some(day.as_str()));
        assert_eq!(row["orders"].as_u64(), Some(*orders));
        assert!(
            (row["revenue"].as_f64().expect("revenue") - revenue).abs() <= 1e-6 * revenue.max(1.0)
        );
    }
    let (status, body) = revenue("from=2024-05-03&to=2024-05-03&limit=5");
    assert_eq!(status, 200, "{body}");
    let rows = body.as_array().expect("rows");
    assert_eq!(rows.len(), 5, "limit applies");
    assert!(rows.iter().all(|r| r["day"] == "2024-05-03"), "{body}");
    let (status, body) = revenue("customer=c1%27%20OR%201%3D1%20--");
    assert_eq!(
        (status, body),
        (200, json!([])),
        "an injection attempt is just a customer name"
    );
    let (status, body) = revenue("limit=0");
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("parameter `limit`")),
        "{body}"
    );
    let (status, body) = revenue("from=yesterday");
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("parameter `from`")),
        "{body}"
    );
    assert_eq!(send_get(&format!("{}/api/nope", host.api)).0, 404);

    let metrics = host.metrics();
    assert!(
        metrics.contains("moose_records_total{kind=\"ingest\",name=\"Order\",outcome=\"in\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("moose_consumer_lag_records"), "{metrics}");
    let catalog: Value = ureq::get(&format!("{}/catalog", host.management))
        .call()
        .expect("catalog")
        .body_mut()
        .read_json()
        .expect("JSON");
    let edges = catalog["lineage"].as_array().expect("lineage");
    assert!(edges.contains(&json!({"from": "stream:Order", "to": "function:enrich_order"})));

    let (status, openapi) = send_get(&format!("{}/openapi.json", host.management));
    assert_eq!(status, 200);
    assert!(
        openapi["paths"]["/api/revenue"]["get"].is_object(),
        "{openapi}"
    );
    assert!(
        openapi["paths"]["/ingest/Order"]["post"].is_object(),
        "{openapi}"
    );
    assert!(host.dir.path().join(".moose/openapi.json").is_file());

    assert!(host.stop(), "moose dev exits cleanly on SIGTERM");
}

#[test]
fn a_killed_host_loses_nothing_it_acknowledged() {
    quickstart();
    let mut host = DevHost::start("examples/quickstart");
    let api = host.api.clone();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let poster = std::thread::spawn(move || post_counting(&api, 0..60_000, &counter));
    // Killed once five of the 60 bodies were answered, however fast ingest is.
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "no five bodies answered in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    host.kill();
    let results = poster.join().expect("poster");
    let acknowledged: BTreeSet<String> = results
        .iter()
        .filter(|(_, outcome)| outcome.is_ok())
        .flat_map(|(range, _)| range.clone().filter(|i| kind(*i) != Kind::Bad))
        .map(|i| format!("o{i}"))
        .collect();
    let refused = results
        .iter()
        .filter(|(_, outcome)| outcome.is_err())
        .count();
    assert!(
        !acknowledged.is_empty(),
        "some bodies were acknowledged before the kill"
    );
    assert!(refused > 0, "the kill happened mid-ingest");

    host.restart();
    wait_for(
        "acknowledged orders stored after restart",
        Duration::from_secs(180),
        || {
            let stored: BTreeSet<String> = host
                .query("SELECT DISTINCT id FROM `Order`")
                .into_iter()
                .filter_map(|row| row["id"].as_str().map(str::to_string))
                .collect();
            let missing = acknowledged.difference(&stored).count();
            if missing == 0 {
                Ok(())
            } else {
                Err(format!("{missing} of {} missing", acknowledged.len()))
            }
        },
    );
    assert!(host.stop());
}

#[test]
fn a_killed_clickhouse_engine_is_restarted_and_loses_nothing() {
    quickstart();
    let host = DevHost::start("examples/quickstart");
    let api = host.api.clone();
    let poster = std::thread::spawn(move || post(&api, 0..40_000));
    let engine = || {
        let output = std::process::Command::new("pgrep")
            .args([
                "-f",
                &format!(
                    "chdb_server.py --data {}",
                    host.dir.path().join(".moose/clickhouse/data").display()
                ),
            ])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1500));
        let pid = engine();
        assert!(!pid.is_empty(), "the engine runs");
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .expect("kill");
        wait_for("the engine restarted", Duration::from_secs(60), || {
            let now = engine();
            if !now.is_empty() && now != pid {
                Ok(())
            } else {
                Err("not restarted".into())
            }
        });
    }
    let results = poster.join().expect("poster");
    assert!(
        results.iter().all(|(_, outcome)| outcome.is_ok()),
        "ingest keeps answering while ClickHouse is down"
    );
    let valid = (0..40_000).filter(|i| kind(*i) != Kind::Bad).count() as u64;
    let enriched = (0..40_000).filter(|i| kind(*i) == Kind::Good).count() as u64;
    // The engine may still be starting: a failed query counts as nothing stored yet.
    let stored = |sql: &str| {
        ureq::post(&host.clickhouse)
            .query("database", "local")
            .send(sql)
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_for("every order stored", Duration::from_secs(180), || {
        let (n, m) = (
            stored("SELECT uniqExact(id) FROM `Order`"),
            stored("SELECT uniqExact(id) FROM OrderEnriched"),
        );
        if n == valid && m == enriched {
            Ok(())
        } else {
            Err(format!("{n} of {valid} orders, {m} of {enriched} enriched"))
        }
    });
    let metrics = host.metrics();
    assert!(metrics.contains("moose_olap_restarts_total 2"), "{metrics}");
    assert!(metrics.contains("moose_olap_up 1"), "{metrics}");
    let (status, ready) = send_get(&format!("{}/ready", host.management));
    assert_eq!((status, &ready["status"]), (200, &json!("ready")));
    let logs = host.management_json("/logs").to_string();
    assert!(
        logs.contains("the embedded ClickHouse engine exited (signal: 9"),
        "{logs}"
    );
    assert!(host.stop());
}

/// One request with an optional bearer token; a body makes it a POST. Returns the status
/// and the JSON body (null when the body is not JSON).
fn request(url: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let response = match body {
        Some(body) => {
            let mut post = ureq::post(url);
            if let Some(auth) = &auth {
                post = post.header("Authorization", auth);
            }
            post.config().http_status_as_error(false).build().send(body)
        }
        None => {
            let mut get = ureq::get(url);
            if let Some(auth) = &auth {
                get = get.header("Authorization", auth);
            }
            get.config().http_status_as_error(false).build().call()
        }
    };
    let mut response = response.expect("response");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn send_get(url: &str) -> (u16, Value) {
    request(url, None, None)
}

fn send(url: &str, body: &str) -> (u16, Value) {
    request(url, None, Some(body))
}

#[test]
fn ingest_answers_each_kind_of_request() {
    quickstart();
    let host = DevHost::start("examples/quickstart");
    let url = format!("{}/ingest/Order", host.api);
    let one = |id: &str| json!({"id": id, "customer": "acme", "amount": 1.5, "ts": ts(1)});

    let (status, body) = send(&url, &one("single").to_string());
    assert_eq!((status, &body["accepted"]), (200, &json!(1)), "{body}");
    let pretty = serde_json::to_string_pretty(&one("pretty")).expect("json");
    assert_eq!(send(&url, &pretty).0, 200);
    let (status, body) = send(&url, &json!([one("a1"), one("a2")]).to_string());
    assert_eq!((status, &body["accepted"]), (200, &json!(2)), "{body}");

    let (status, body) = send(&url, &json!([one("b1"), {"id": "b2", "customer": "x", "amount": 1.0, "ts": "2024-13-01T00:00:00Z"}]).to_string());
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["problems"][0]["index"], 1);
    assert_eq!(body["problems"][0]["field"], "ts");

    let (status, body) = send(&url, "  ");
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("empty")),
        "{body}"
    );
    let (status, body) = send(&url, "[{\"id\": ");
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON")),
        "{body}"
    );

    // A field named twice, and half a surrogate pair, are named as what they are.
    let (status, body) = send(
        &url,
        r#"{"id": "d1", "id": "d2", "customer": "acme", "amount": 1, "ts": "2024-05-01T10:00:00Z"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["problems"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("field `id` appears twice")),
        "{body}"
    );
    let (status, body) = send(
        &url,
        r#"{"id": "s\ud800", "customer": "acme", "amount": 1, "ts": "2024-05-01T10:00:00Z"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["problems"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("`\\uD800` at line 1 column")
                && p.contains("half of a UTF-16 surrogate pair")),
        "{body}"
    );

    let (status, body) = send(&format!("{}/ingest/Nope", host.api), "{}");
    assert_eq!(status, 404);
    assert_eq!(body["endpoints"], json!(["Order"]));

    // A body over the limit is refused from its declared length, before it is read, with
    // a JSON error naming the limit.
    let answer = {
        use std::io::{Read, Write};
        let addr = host.api.trim_start_matches("http://");
        let mut socket = std::net::TcpStream::connect(addr).expect("connect");
        let declared = (16 << 20) + 1;
        write!(
            socket,
            "POST /ingest/Order HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n["
        )
        .expect("send headers");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while !answer.ends_with(b"}") {
            match socket.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    };
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("max_body_bytes")),
        "{body}"
    );

    wait_for("accepted records stored", Duration::from_secs(60), || {
        let n = count(&host, "SELECT count() AS n FROM `Order`");
        if n == 5 {
            Ok(())
        } else {
            Err(format!("{n} of 5"))
        }
    });
    assert!(host.stop());
}

#[test]
fn schemathesis_finds_no_server_errors() {
    quickstart();
    let host = DevHost::start("examples/quickstart");
    let (status, document) = send_get(&format!("{}/openapi.json", host.management));
    assert_eq!(status, 200);
    let spec = host.dir.path().join("served-openapi.json");
    std::fs::write(&spec, document.to_string()).expect("write");
    let tool = std::path::PathBuf::from(std::env::var("HOME").expect("HOME"))
        .join(".local/share/moose/tools-venv/bin/schemathesis");
    assert!(
        tool.is_file(),
        "{} is missing: run scripts/setup.sh",
        tool.display()
    );
    let output = std::process::Command::new(tool)
        .arg("run")
        .arg(&spec)
        .args(["--url", &host.api, "--checks", "not_a_server_error"])
        .args(["--max-examples", "100", "--seed", "1"])
        .current_dir(host.dir.path())
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(report.contains("No issues found"), "{report}");
    assert!(host.stop());
}

#[test]
fn configured_credentials_guard_ingest_apis_and_management() {
    quickstart();
    let key = moose_host::auth::generate_token();
    let admin = moose_host::auth::generate_token();
    let extra = format!(
        "\n[auth]\napi_keys = [\"{}\"]\nadmin_tokens = [\"{}\"]\n",
        moose_host::auth::hash_token_with_rounds(&key, 1000),
        moose_host::auth::hash_token_with_rounds(&admin, 1000)
    );
    let host = DevHost::start_with("examples/quickstart", &extra);
    let ingest = format!("{}/ingest/Order", host.api);
    let order = json!({"id": "a1", "customer": "acme", "amount": 1.5, "ts": ts(1)}).to_string();

    assert_eq!(request(&ingest, None, Some(&order)).0, 401);
    assert_eq!(request(&ingest, Some("wrong"), Some(&order)).0, 401);
    assert_eq!(
        request(&ingest, Some(&admin), Some(&order)).0,
        401,
        "admin tokens are for management"
    );
    assert_eq!(request(&ingest, Some(&key), Some(&order)).0, 200);
    let revenue = format!("{}/api/revenue", host.api);
    assert_eq!(request(&revenue, None, None).0, 401);
    assert_eq!(request(&revenue, Some(&key), None).0, 200);

    assert_eq!(
        request(&format!("{}/health", host.management), None, None).0,
        200
    );
    assert_eq!(
        request(&format!("{}/metrics", host.management), None, None).0,
        401
    );
    assert_eq!(
        request(&format!("{}/metrics", host.management), Some(&key), None).0,
        401
    );
    assert_eq!(
        request(&format!("{}/catalog", host.management), Some(&admin), None).0,
        200
    );
    assert!(host.stop());
}

#[test]
fn records_larger_than_the_read_buffer_flow_one_a_batch() {
    quickstart();
    let host = DevHost::start_with("examples/quickstart", "[streaming]\nread_buffer_mb = 1\n");
    // Orders of about 1.2 MiB: each batch of the function and of the table syncs takes
    // one, the budget spent by it.
    let customer = |i: usize| format!("c{i}-{}", "x".repeat(1200 << 10));
    let orders: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("big-{i}"), "customer": customer(i), "amount": 5.0 + i as f64, "ts": ts(i)}))
        .collect();
    let (status, answer) = host.post_records("/ingest/Order", &orders);
    assert_eq!(status, 200, "{answer}");
    for table in ["Order", "OrderEnriched"] {
        host.wait_for_count(
            &format!("SELECT count() AS n FROM {table} WHERE startsWith(id, 'big-') AND length(customer) > 1200 * 1024"),
            8,
        );
    }
    let enrich = host.management_json("/ps")["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["name"] == "enrich_order")
        .cloned()
        .expect("enrich_order in /ps");
    assert_eq!(enrich["in"], 8, "{enrich}");
}
