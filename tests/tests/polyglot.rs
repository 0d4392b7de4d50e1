//! Apps written in TypeScript and Python, run by a real `moose dev`: the quickstart in all
//! three languages stores the same bytes and answers the same API responses for the same
//! input.

use std::time::{Duration, Instant};

use moose_tests::DevHost;
use serde_json::json;

/// Order `i` fails validation at ingest (its amount is not a number).
fn rejected(i: usize) -> bool {
    i.is_multiple_of(23)
}

/// Order `i` is valid, and the function keeps it (positive amount, a customer).
fn enriched(i: usize) -> bool {
    !rejected(i) && i % 7 != 2 && i % 5 != 4
}

/// Order `i`: valid ones, ones the function drops, ones ingest rejects, unicode names and
/// amounts whose cents need rounding.
fn order(i: usize) -> serde_json::Value {
    let customer = ["acme", "beta", "Zürich AG", "東京商事", "  "][i % 5];
    let amount = match i % 7 {
        0 => 0.125,
        1 => 2.675,
        2 => -5.0,
        3 => 999.995,
        4 => 1000.0,
        5 => 12_345.678,
        _ => (i as f64) * 1.01,
    };
    let ts = format!("2024-05-{:02}T{:02}:30:00+02:00", 1 + i % 9, i % 24);
    if rejected(i) {
        return json!({"id": format!("o{i}"), "customer": customer, "amount": "lots", "ts": ts});
    }
    json!({"id": format!("o{i}"), "customer": customer, "amount": amount, "ts": ts})
}

const ORDERS: usize = 700;

/// What a language's quickstart stored and answered.
#[derive(Debug, PartialEq)]
struct Observed {
    raw: String,
    enriched: String,
    revenue: String,
    dead_letters: String,
    api: Vec<(String, u16, String)>,
}

const API_CALLS: &[&str] = &[
    "",
    "?customer=acme",
    "?customer=%E6%9D%B1%E4%BA%AC%E5%95%86%E4%BA%8B&from=2024-05-02&to=2024-05-05",
    "?limit=3",
    "?customer=acme%27%20OR%201%3D1%20--",
    "?from=2024-05-03&limit=10000",
    "?limit=0",
    "?from=yesterday",
];

fn observe(app: &str) -> Observed {
    let host = DevHost::start(app);
    let records: Vec<serde_json::Value> = (0..ORDERS).map(order).collect();
    for chunk in records.chunks(100) {
        let response = ureq::post(&format!("{}/ingest/Order", host.api))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(chunk)
            .expect("ingest answers");
        assert!(
            matches!(response.status().as_u16(), 200 | 400),
            "{app}: ingest answered {}",
            response.status()
        );
    }
    let valid = (0..ORDERS).filter(|&i| !rejected(i)).count();
    let enriched = (0..ORDERS).filter(|&i| enriched(i)).count();
    let count = |table: &str| -> usize {
        host.query(&format!("SELECT count() AS n FROM `{table}`"))[0]["n"]
            .as_u64()
            .unwrap_or(0) as usize
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count("Order") < valid || count("OrderEnriched") < enriched {
        assert!(
            Instant::now() < deadline,
            "{app}: {} raw and {} enriched rows after 2 minutes, expected {valid} and {enriched}",
            count("Order"),
            count("OrderEnriched")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let text = |sql: &str| host.query_text(sql, "JSONEachRow");
    let api = API_CALLS
        .iter()
        .map(|query| {
            let mut response = ureq::get(&format!("{}/api/revenue{query}", host.api))
                .config()
                .http_status_as_error(false)
                .build()
                .call()
                .expect("the API answers");
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_string().expect("body");
            (query.to_string(), status, body)
        })
        .collect();
    let observed = Observed {
        raw: text("SELECT * FROM `Order` ORDER BY id"),
        enriched: text("SELECT * FROM OrderEnriched ORDER BY id"),
        revenue: text(
            "SELECT day, customer, sum(revenue) AS revenue, sum(orders) AS orders \
             FROM DailyRevenue GROUP BY day, customer ORDER BY day, customer",
        ),
        dead_letters: text(
            "SELECT record, error, error_kind, source FROM Order_dead_letter ORDER BY record",
        ),
        api,
    };
    assert!(host.stop(), "{app}: moose dev exits cleanly");
    observed
}

#[test]
fn the_quickstart_is_the_same_in_every_language() {
    let rust = observe("examples/quickstart");
    assert_eq!(
        rust.enriched.lines().count(),
        (0..ORDERS).filter(|&i| enriched(i)).count()
    );
    assert!(rust.dead_letters.lines().count() > 0);
    assert_eq!(rust.api[0].1, 200);
    assert_eq!(
        rust.api[4],
        (API_CALLS[4].to_string(), 200, "[]".to_string())
    );
    assert_eq!(rust.api[6].1, 400);
    for app in ["examples/quickstart-ts", "examples/quickstart-python"] {
        let other = observe(app);
        assert_eq!(other.raw, rust.raw, "{app}: raw orders differ");
        assert_eq!(
            other.enriched, rust.enriched,
            "{app}: enriched orders differ"
        );
        assert_eq!(other.revenue, rust.revenue, "{app}: daily revenue differs");
        assert_eq!(
            other.dead_letters, rust.dead_letters,
            "{app}: dead letters differ"
        );
        for (theirs, ours) in other.api.iter().zip(&rust.api) {
            assert_eq!(theirs, ours, "{app}: GET /api/revenue{} differs", ours.0);
        }
    }
}
