//! `moose dev` on the quickstart with `streaming.backend = "kafka"` against an outside
//! Kafka-compatible broker (tansu, memory storage, installed by scripts/setup-kafka.sh):
//! the host creates the topics, ingest produces to them, the function and the table syncs
//! consume them in consumer groups, and the tables end up as with the embedded backend.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use moose_tests::tansu::Tansu;
use moose_tests::{quickstart, DevHost};
use serde_json::{json, Value};

const ORDERS: usize = 3_000;
const BODY: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Good,
    /// Valid, but the function drops it.
    Dropped,
    /// Fails validation at ingest.
    Bad,
}

fn kind(i: usize) -> Kind {
    match i % 20 {
        4 | 13 => Kind::Bad,
        7 => Kind::Dropped,
        _ => Kind::Good,
    }
}

fn amount(i: usize) -> f64 {
    ((i * 7919) % 50_000) as f64 / 100.0 + 0.01
}

fn day(i: usize) -> String {
    format!("2024-06-{:02}", 1 + i % 9)
}

fn order(i: usize) -> String {
    let (id, customer, ts) = (
        format!("k{i}"),
        format!("c{}", i % 11),
        format!("{}T10:00:00Z", day(i)),
    );
    match (kind(i), i % 20) {
        (Kind::Bad, 4) => json!({"id": id, "customer": customer, "amount": "lots", "ts": ts}),
        (Kind::Bad, _) => json!({"id": id, "amount": amount(i), "ts": ts}),
        (Kind::Dropped, _) => json!({"id": id, "customer": customer, "amount": -1.0, "ts": ts}),
        (Kind::Good, _) => json!({"id": id, "customer": customer, "amount": amount(i), "ts": ts}),
    }
    .to_string()
}

fn count(host: &DevHost, sql: &str) -> u64 {
    host.query(sql)[0]["n"].as_u64().expect("count")
}

fn wait_for_count(host: &DevHost, what: &str, sql: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let n = count(host, sql);
        if n == want as u64 {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {n} of {want}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn quickstart_on_kafka() {
    quickstart();
    let tansu = Tansu::start();
    let host = DevHost::start_with("examples/quickstart", &tansu.streaming_config());

    assert!(
        !host.dir.path().join(".moose/streams").exists(),
        "the embedded log is not used"
    );

    let url = format!("{}/ingest/Order", host.api);
    let mut start = 0;
    while start < ORDERS {
        let end = (start + BODY).min(ORDERS);
        let body: Vec<String> = (start..end).map(order).collect();
        let mut response = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .content_type("application/x-ndjson")
            .send(body.join("\n"))
            .expect("ingest answers");
        let answer: Value = response.body_mut().read_json().expect("JSON");
        let valid = (start..end).filter(|i| kind(*i) != Kind::Bad).count();
        assert_eq!(answer["accepted"].as_u64(), Some(valid as u64), "{answer}");
        start = end;
    }

    let valid = (0..ORDERS).filter(|i| kind(*i) != Kind::Bad).count();
    let good: Vec<usize> = (0..ORDERS).filter(|i| kind(*i) == Kind::Good).collect();
    wait_for_count(
        &host,
        "orders stored",
        "SELECT count(DISTINCT id) AS n FROM `Order`",
        valid,
    );
    wait_for_count(
        &host,
        "enriched orders stored",
        "SELECT count(DISTINCT id) AS n FROM OrderEnriched",
        good.len(),
    );
    wait_for_count(
        &host,
        "dead letters stored",
        "SELECT count() AS n FROM Order_dead_letter",
        ORDERS - valid,
    );
    let dead = host.query(
        "SELECT error_kind, source FROM Order_dead_letter WHERE record LIKE '%\"lots\"%' LIMIT 1",
    );
    assert_eq!(dead[0]["error_kind"], "validation");
    assert_eq!(dead[0]["source"], "ingest:Order");

    let mut expected: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
    for i in &good {
        let entry = expected
            .entry((day(*i), format!("c{}", i % 11)))
            .or_insert((0.0, 0));
        entry.0 += amount(*i);
        entry.1 += 1;
    }
    host.assert_daily_revenue(&expected);

    // Lag of every consumer group reaches zero on /metrics.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = host.metrics();
        let lags: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("moose_consumer_lag"))
            .collect();
        let idle = !lags.is_empty() && lags.iter().all(|l| l.ends_with(" 0"));
        if idle {
            break;
        }
        assert!(Instant::now() < deadline, "lag stays: {lags:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(host.stop(), "the host stops cleanly");
}
