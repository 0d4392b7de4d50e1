//! Apps written in TypeScript and Python, run by a real `moose dev`: the quickstart in all
//! three languages stores the same bytes and answers the same API responses (as JSON
//! values) for the same input; and one app mixes TypeScript and Python.

use std::time::{Duration, Instant};

use moose_tests::{built_guest, DevHost};
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
/// amounts whose cents need rounding. Amounts are binary fractions, so sums are exact
/// whatever order the aggregation adds them in.
fn order(i: usize) -> serde_json::Value {
    let customer = ["acme", "beta", "Zürich AG", "東京商事", "  "][i % 5];
    let amount = match i % 7 {
        0 => 0.125,
        1 => 2.625,
        2 => -5.0,
        3 => 999.875,
        4 => 1000.0,
        5 => 12_345.5,
        _ => (i as f64) * 1.25,
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
    // Injection attempts through every parameter: a string stays a bound value, typed
    // parameters refuse what does not parse.
    "?customer=acme%27)%20UNION%20ALL%20SELECT%20name%2C%27x%27%2C0%2C0%20FROM%20system.tables%20--",
    "?from=2024-05-01%27%20OR%201%3D1%20--",
    "?to=2024-05-09)%3B%20DROP%20TABLE%20%60Order%60%3B%20--",
    "?limit=1%20OR%201%3D1",
];

fn observe(app: &str) -> Observed {
    // Built in place first, so the host's private copy reuses the build.
    built_guest(app);
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
    let number = |sql: &str| -> usize {
        host.query(&format!("SELECT {sql} AS n"))[0]["n"]
            .as_u64()
            .unwrap_or(0) as usize
    };
    // Every order stored raw and enriched, and counted by the aggregation.
    let settled = || {
        [
            number("(SELECT count() FROM `Order`)"),
            number("(SELECT count() FROM OrderEnriched)"),
            number("(SELECT sum(orders) FROM DailyRevenue)"),
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let counts = settled();
        if counts == [valid, enriched, enriched] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{app}: raw, enriched, aggregated {counts:?} after 2 minutes, expected {:?}",
            [valid, enriched, enriched]
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let text = |sql: &str| host.query_text(sql, "JSONEachRow");
    let api = API_CALLS
        .iter()
        .map(|query| {
            let (status, body) = host.get(&format!("/api/revenue{query}"));
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

/// A JSON body with every number as a float: `270` and `270.0` are the same response
/// (JavaScript writes integral floats without the `.0` that Rust and Python write).
fn json_value(body: &str) -> serde_json::Value {
    fn floats(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Number(n) => n.as_f64().map_or(Value::Number(n), Value::from),
            Value::Array(items) => items.into_iter().map(floats).collect(),
            Value::Object(entries) => entries.into_iter().map(|(k, v)| (k, floats(v))).collect(),
            other => other,
        }
    }
    floats(serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
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
    assert_eq!(
        rust.api[8],
        (API_CALLS[8].to_string(), 200, "[]".to_string())
    );
    for (query, status, body) in &rust.api[9..] {
        assert_eq!(*status, 400, "{query}: {body}");
    }
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
        for ((query, status, body), (_, rust_status, rust_body)) in other.api.iter().zip(&rust.api)
        {
            assert_eq!(
                status, rust_status,
                "{app}: GET /api/revenue{query}: status differs"
            );
            assert_eq!(
                json_value(body),
                json_value(rust_body),
                "{app}: GET /api/revenue{query}: body differs:\n{body}\n{rust_body}"
            );
        }
    }
}

/// One app, two languages: a TypeScript function writes the stream a Python function
/// reads, both run sandboxed in the one host.
#[test]
fn one_app_mixes_typescript_and_python() {
    built_guest("tests/apps/mixed/orders-ts");
    built_guest("tests/apps/mixed/audit-py");
    let host = DevHost::start("tests/apps/mixed");
    let orders: Vec<serde_json::Value> = (0..300)
        .map(|i| json!({"id": format!("m{i}"), "customer": format!("shop {}", i % 3), "amount": (i as f64) * 7.5 - 7.5}))
        .collect();
    let response = ureq::post(&format!("{}/ingest/Order", host.api))
        .send_json(&orders)
        .expect("ingest accepts the orders");
    assert_eq!(response.status().as_u16(), 200);
    // Orders 0 and 1 (amounts -7.5 and 0): the TypeScript function drops them.
    let expected = orders.len() - 2;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = host.query("SELECT count() AS n FROM OrderAudit")[0]["n"]
            .as_u64()
            .unwrap_or(0) as usize;
        if n >= expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} of {expected} audits after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let rows = host.query("SELECT id, customer, cents, large FROM OrderAudit ORDER BY id");
    assert_eq!(rows.len(), expected, "each order audited once");
    for row in rows {
        let i: usize = row["id"].as_str().expect("id")[1..]
            .parse()
            .expect("number");
        let cents = ((i as f64) * 7.5 - 7.5) * 100.0;
        assert_eq!(row["customer"], json!(format!("SHOP {}", i % 3)), "{row}");
        assert_eq!(row["cents"], json!(cents.round() as i64), "{row}");
        assert_eq!(row["large"], json!(cents >= 100_000.0), "{row}");
    }
    assert!(host.stop());
}
