//! The windowed-orders scenario, run under a real `moose dev` against any language's
//! guest: [`check_windowed_orders`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::DevHost;

/// Where the scenario's helpers run: the ingest and management URLs of a host and SQL on
/// the app's database (a `moose dev` host, or replicas of `moose prod`).
pub trait Stack {
    /// `http://HOST:PORT` of ingest.
    fn api(&self) -> &str;
    /// `http://HOST:PORT` of the management API.
    fn management(&self) -> &str;
    /// The rows of `sql` on the app's database.
    fn query(&self, sql: &str) -> Vec<Value>;
}

impl Stack for DevHost {
    fn api(&self) -> &str {
        &self.api
    }
    fn management(&self) -> &str {
        &self.management
    }
    fn query(&self, sql: &str) -> Vec<Value> {
        DevHost::query(self, sql)
    }
}

/// 2024-05-01T12:00:00Z in milliseconds (a multiple of two minutes).
pub const BASE_MS: i64 = 1_714_564_800_000;
/// Orders of the main run, 250 ms of event time apart (about 21 minutes).
pub const ORDERS: usize = 5000;
pub const SPACING_MS: i64 = 250;
/// Orders per ingest request; the scenario waits for the aggregations to catch up after
/// each, so that a batch never holds one partition far ahead of another.
pub const CHUNK: usize = 250;
pub const LATENESS_MS: i64 = 30_000;
const CUSTOMERS: [&str; 5] = ["acme", "beta", "gamma", "Zürich AG", "東京商事"];
/// The aggregations: name, window size and hop in milliseconds.
pub const AGGREGATIONS: [(&str, i64, i64); 2] = [
    ("customer_totals_1m", 60_000, 60_000),
    ("customer_totals_2m", 120_000, 60_000),
];
const DEAD_LETTER: &str = "customer_totals_dead_letter";
/// Text of the guest's rejection message that the scenario edits to reload the guest.
const REJECTION: &str = "negative amount";
const WAIT: Duration = Duration::from_secs(300);

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Main order `i`: amounts are multiples of 0.25 (exact sums in any order); every 37th
/// is negative and must be rejected by the guest.
pub fn order(i: usize) -> Value {
    let amount = if i % 37 == 5 {
        -2.5
    } else {
        0.25 * (1 + i % 17) as f64
    };
    json!({
        "id": format!("o{i}"),
        "customer": CUSTOMERS[i % CUSTOMERS.len()],
        "amount": amount,
        "ts": iso(BASE_MS + i as i64 * SPACING_MS),
    })
}

/// Event time of the last main order.
pub fn last_order_ms() -> i64 {
    BASE_MS + (ORDERS as i64 - 1) * SPACING_MS
}

/// Posts `records` to `POST /ingest/Order` in one request; all must be accepted.
pub fn post(host: &impl Stack, records: &[Value]) {
    let body: Vec<String> = records.iter().map(Value::to_string).collect();
    let answer: Value = ureq::post(format!("{}/ingest/Order", host.api()))
        .content_type("application/x-ndjson")
        .send(body.join("\n"))
        .unwrap_or_else(|e| panic!("ingest: {e}"))
        .body_mut()
        .read_json()
        .expect("ingest answers JSON");
    assert_eq!(answer["accepted"].as_u64(), Some(records.len() as u64));
}

fn get_json(url: &str) -> Option<Value> {
    ureq::get(url).call().ok()?.body_mut().read_json().ok()
}

/// Waits until every function, table sync and windowed aggregation has read all of its
/// source (`GET /ps`, lag 0).
pub fn wait_caught_up(host: &impl Stack) {
    let deadline = Instant::now() + WAIT;
    loop {
        let processes = get_json(&format!("{}/ps", host.management()))
            .and_then(|ps| ps["processes"].as_array().cloned())
            .unwrap_or_default();
        let windows = processes.iter().filter(|p| p["kind"] == "window").count();
        let caught_up =
            windows == AGGREGATIONS.len() && processes.iter().all(|p| p["lag"].as_u64() == Some(0));
        if caught_up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not caught up within {WAIT:?}: {processes:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ingests the scenario's orders `range` (see [`check_windowed_orders`]) in requests of
/// 250, waiting after each until everything has read them.
pub fn ingest_caught_up(host: &impl Stack, range: std::ops::Range<usize>) {
    for start in range.clone().step_by(CHUNK) {
        let records: Vec<Value> = (start..(start + CHUNK).min(range.end)).map(order).collect();
        post(host, &records);
        wait_caught_up(host);
    }
}

/// Posts one order an hour after `last_ms` and waits until every aggregation has written
/// the windows of the orders up to `last_ms`: the watermark follows the slowest partition,
/// so they close once the other partitions, caught up, have been idle for
/// `window_partition_idle_seconds`. Returns the watermark the windows closed at.
pub fn flush(host: &impl Stack, last_ms: i64) -> i64 {
    let flush_ms = last_ms + 3_600_000;
    post(
        host,
        &[json!({"id": "flush", "customer": "acme", "amount": 1.0, "ts": iso(flush_ms)})],
    );
    wait_caught_up(host);
    let deadline = Instant::now() + WAIT;
    for (name, size, hop) in AGGREGATIONS {
        let last_end = last_ms.div_euclid(hop) * hop + size;
        loop {
            let written = host
                .query(&format!(
                    "SELECT toString(toUnixTimestamp64Milli(max(window_end))) AS end FROM {name}"
                ))
                .first()
                .and_then(|row| row["end"].as_str()?.parse::<i64>().ok())
                .unwrap_or(0);
            if written >= last_end {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: the window ending at {} was not written within {WAIT:?}",
                iso(last_end)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    flush_ms - LATENESS_MS
}

/// The `n` column of the first row of `sql`'s result (0 without rows).
pub fn count(host: &impl Stack, sql: &str) -> u64 {
    host.query(sql)
        .first()
        .and_then(|row| row["n"].as_u64())
        .unwrap_or(0)
}

/// The source the file of `app_dir` whose text contains [`REJECTION`].
fn rejection_source(app_dir: &Path) -> std::path::PathBuf {
    ["src/lib.rs", "app.ts", "app.py"]
        .iter()
        .map(|file| app_dir.join(file))
        .find(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(REJECTION)))
        .unwrap_or_else(|| panic!("no source of {} mentions {REJECTION:?}", app_dir.display()))
}

/// Value of `moose_window_events_total{aggregation, event}` in the host's metrics.
fn window_events(host: &impl Stack, aggregation: &str, event: &str) -> u64 {
    let text = ureq::get(format!("{}/metrics", host.management()))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("metrics text");
    let labels = format!("aggregation=\"{aggregation}\",event=\"{event}\"");
    text.lines()
        .filter(|line| line.starts_with("moose_window_events_total{") && line.contains(&labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Ids of the dead letters `aggregation` wrote with `error_kind`.
pub fn dead_ids(host: &impl Stack, aggregation: &str, kind: &str) -> BTreeSet<String> {
    host.query(&format!(
        "SELECT DISTINCT JSONExtractString(record, 'id') AS id FROM {DEAD_LETTER} \
         WHERE source = 'window:{aggregation}' AND error_kind = '{kind}'"
    ))
    .iter()
    .map(|row| row["id"].as_str().expect("id").to_string())
    .collect()
}

/// Runs the windowed-orders scenario on the app in `app_dir` (absolute, or relative to
/// the repository root) under `moose dev`, and asserts that each windowed aggregation's
/// table equals, row for row, a recomputation by SQL over the raw `Order` table.
///
/// The app must declare (as `tests/guests/windowed-rs` does):
/// - the ingest pipeline `Order` (endpoint, stream and table) of model `Order`
///   `{id: String key, customer: String, amount: Float64, ts: DateTime64(3)}`;
/// - model `CustomerWindow` `{customer: String key, window_start: DateTime64(3) key,
///   window_end: DateTime64(3), orders: UInt64, amount_sum, amount_min, amount_max:
///   Float64}`;
/// - windowed aggregations `customer_totals_1m` (tumbling 60 s) and `customer_totals_2m`
///   (hopping, 120 s every 60 s), both over stream `Order` by `ts` with an allowed
///   lateness of 30 s, writing to tables of their own name (model `CustomerWindow`), and
///   both sending late and rejected records to dead-letter stream
///   `customer_totals_dead_letter`;
/// - each emits one row per customer seen in the window (orders, sum, min and max of the
///   amount; `window_start`/`window_end` the window's bounds), and `accumulate` rejects
///   an order with a negative amount with a message containing `negative amount`, written
///   in the app's `src/lib.rs`, `app.ts` or `app.py`.
///
/// The scenario ingests 5,000 orders over about 21 minutes of event time (five
/// customers, every 37th amount negative), killing the host with SIGKILL in the middle
/// and restarting it, and hot-reloading the guest (it edits the rejection message to
/// `negative amount (v2)`, keeping the state version) while windows are open. Then late
/// orders (event time in the first minute, far behind the watermark) must be
/// dead-lettered as `late` and counted in `/metrics`, orders within the allowed lateness
/// must be included, and one last order an hour later closes every window. Each closed
/// window must appear exactly once, equal to the recomputation without the dead-lettered
/// ids.
pub fn check_windowed_orders(app_dir: &Path) {
    let app = app_dir.to_str().expect("a UTF-8 path");
    let mut host = DevHost::start(app);

    // The first half, then a kill in the middle of a batch.
    ingest_caught_up(&host, 0..2000);
    assert!(
        count(&host, "SELECT count() AS n FROM customer_totals_1m") > 0,
        "closed windows were emitted before the kill"
    );
    post(&host, &(2000..2000 + CHUNK).map(order).collect::<Vec<_>>());
    host.restart();
    wait_caught_up(&host);
    ingest_caught_up(&host, 2000 + CHUNK..3500);

    // A hot reload that keeps the state version, with windows open.
    let source = rejection_source(&host.dir.path().join(""));
    let text = std::fs::read_to_string(&source).expect("source");
    std::fs::write(
        &source,
        text.replacen(REJECTION, &format!("{REJECTION} (v2)"), 1),
    )
    .expect("edit the guest");
    host.wait_for_line(", swap ", WAIT);
    ingest_caught_up(&host, 3500..ORDERS);
    let rejected_after_reload: Vec<String> = host
        .query(&format!(
            "SELECT error FROM {DEAD_LETTER} WHERE source = 'window:customer_totals_1m' \
             AND error_kind = 'function' AND JSONExtractString(record, 'id') = 'o{}'",
            (3500..ORDERS)
                .find(|i| i % 37 == 5)
                .expect("a negative order")
        ))
        .iter()
        .map(|row| row["error"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        rejected_after_reload
            .iter()
            .all(|e| e.contains("negative amount (v2)"))
            && !rejected_after_reload.is_empty(),
        "records after the reload run on the new version: {rejected_after_reload:?}"
    );

    // Late orders (all their windows closed) and orders within the allowed lateness.
    let last_ms = last_order_ms();
    let late: Vec<Value> = (0..6)
        .map(|k| {
            json!({"id": format!("late{k}"), "customer": CUSTOMERS[k % 5], "amount": 1.0,
                   "ts": iso(BASE_MS + 30_000 + k as i64 * 1000)})
        })
        .collect();
    let within: Vec<Value> = (0..6)
        .map(|k| {
            json!({"id": format!("within{k}"), "customer": CUSTOMERS[k % 5], "amount": 8.0,
                   "ts": iso(last_ms - 10_000 - k as i64 * 3000)})
        })
        .collect();
    post(&host, &[late.clone(), within.clone()].concat());
    wait_caught_up(&host);
    for (name, _, _) in AGGREGATIONS {
        assert_eq!(
            window_events(&host, name, "late"),
            late.len() as u64,
            "{name}: late records counted"
        );
    }
    let watermark = flush(&host, last_ms);

    let late_ids: BTreeSet<String> = late
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let within_ids: BTreeSet<String> = within
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let negative: BTreeSet<String> = (0..ORDERS)
        .filter(|i| i % 37 == 5)
        .map(|i| format!("o{i}"))
        .collect();
    for (name, size, hop) in AGGREGATIONS {
        assert_eq!(
            dead_ids(&host, name, "late"),
            late_ids,
            "{name}: the late records"
        );
        assert_eq!(
            dead_ids(&host, name, "function"),
            negative,
            "{name}: the rejected records"
        );
        let excluded: BTreeSet<String> = dead_ids(&host, name, "late")
            .union(&dead_ids(&host, name, "function"))
            .cloned()
            .collect();
        assert!(
            within_ids.is_disjoint(&excluded),
            "{name}: records within the lateness are kept"
        );
        assert_matches_recomputation(&host, name, size, hop, watermark);
    }
    assert!(host.stop(), "the host stops cleanly");
}

/// Compares table `name` with the windows recomputed by SQL over `Order` (each id once:
/// the table sync is at-least-once, so a restart may store an order twice), without the
/// ids the aggregation dead-lettered, for every window closed at `watermark`.
pub fn assert_matches_recomputation(
    host: &impl Stack,
    name: &str,
    size: i64,
    hop: i64,
    watermark: i64,
) {
    let emitted = host.query(&format!(
        "SELECT customer, toUnixTimestamp64Milli(window_start) AS start, \
         toUnixTimestamp64Milli(window_end) AS end, orders, amount_sum, amount_min, amount_max \
         FROM {name} ORDER BY start, customer"
    ));
    let expected = host.query(&format!(
        "SELECT customer, start, start + {size} AS end, count() AS orders, \
         sum(amount) AS amount_sum, min(amount) AS amount_min, max(amount) AS amount_max \
         FROM (SELECT customer, amount, \
                 arrayJoin(arrayMap(k -> intDiv(toUnixTimestamp64Milli(ts), {hop}) * {hop} - k * {hop}, \
                                    range(toUInt64({size} / {hop})))) AS start \
               FROM (SELECT * FROM `Order` LIMIT 1 BY id) \
               WHERE id NOT IN (SELECT JSONExtractString(record, 'id') FROM {DEAD_LETTER} \
                                WHERE source = 'window:{name}')) \
         WHERE start + {size} <= {watermark} \
         GROUP BY customer, start ORDER BY start, customer"
    ));
    let key = |row: &Value| {
        (
            row["start"].as_i64().expect("start"),
            row["customer"].to_string(),
        )
    };
    let by_key = |rows: &[Value]| -> BTreeMap<(i64, String), Value> {
        rows.iter().map(|r| (key(r), r.clone())).collect()
    };
    assert_eq!(
        by_key(&emitted).len(),
        emitted.len(),
        "{name}: each (window, customer) row is emitted exactly once"
    );
    assert!(expected.len() > 100, "{name}: the run spans many windows");
    let (emitted, expected) = (by_key(&emitted), by_key(&expected));
    let differing: Vec<_> = emitted
        .keys()
        .chain(expected.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|key| emitted.get(*key) != expected.get(*key))
        .map(|key| (key, emitted.get(key), expected.get(key)))
        .collect();
    assert!(
        differing.is_empty(),
        "{name}: {} of {} windows differ (key, emitted, recomputed): {differing:#?}",
        differing.len(),
        expected.len()
    );
}
