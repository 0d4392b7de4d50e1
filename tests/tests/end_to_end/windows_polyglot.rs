//! Windowed aggregations in every guest language. The windowed test guests
//! (`tests/guests/windowed-{rs,ts,py}`, one app in three languages) are compiled for real
//! and
//! - driven directly through the host runtime's `window-init`, `window-accumulate`,
//!   `window-merge` and `window-emit` calls the way the host drives them (records grouped
//!   by window, one state per partition, partition states merged, then emitted): every
//!   emitted row must match a recomputation of the orders;
//! - run by a real `moose dev` through the windowed-orders scenario
//!   ([`moose_tests::windows::check_windowed_orders`]; the Rust guest's run is in
//!   `tests/tests/end_to_end/windows.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};
use moose_model::types::{TableDef, TableEngine, WindowSpec, WindowedAggregationDef};
use moose_runtime::types::{GuestError, WindowBounds};
use moose_runtime::GuestComponent;
use moose_tests::windows::check_windowed_orders;
use moose_tests::{json_batch, loaded_guest, repo_root};
use serde_json::{json, Value};

/// The app's windowed aggregations: name, size and hop in milliseconds.
const AGGREGATIONS: [(&str, i64, i64); 2] = [
    ("customer_totals_1m", 60_000, 60_000),
    ("customer_totals_2m", 120_000, 60_000),
];

/// Allowed lateness of both aggregations, in seconds.
const LATENESS_SECONDS: u32 = 30;

/// 2024-05-01T12:00:00Z in milliseconds.
const BASE_MS: i64 = 1_714_564_800_000;

const ORDERS: usize = 300;

/// Records a guest must reject: a negative amount (rejected by `accumulate`) or no
/// amount at all (not an `Order`).
fn invalid(i: usize) -> bool {
    i.is_multiple_of(29) || i % 31 == 7
}

/// Order `i`: four customers (unicode names included), event times 1.237 s apart over
/// about six minutes, amounts that are binary fractions so every sum is exact whatever
/// the order of additions.
fn order(i: usize) -> Value {
    let customer = ["acme", "beta", "Zürich AG", "東京商事"][i % 4];
    let ts = DateTime::from_timestamp_millis(event_ms(i))
        .expect("a valid time")
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let id = format!("o{i}");
    if i.is_multiple_of(29) {
        json!({"id": id, "customer": customer, "amount": -1.5, "ts": ts})
    } else if i % 31 == 7 {
        json!({"id": id, "customer": customer, "ts": ts})
    } else {
        json!({"id": id, "customer": customer, "amount": 0.5 + (i % 13) as f64 * 0.25, "ts": ts})
    }
}

/// Event time of order `i`, in milliseconds.
fn event_ms(i: usize) -> i64 {
    BASE_MS + (i as i64) * 1_237
}

/// Starts of the windows `[s, s + size)` containing `t`: `s` a multiple of `hop`.
fn window_starts(t: i64, size: i64, hop: i64) -> Vec<i64> {
    let mut starts = Vec::new();
    let mut start = t.div_euclid(hop) * hop;
    while start > t - size {
        starts.push(start);
        start -= hop;
    }
    starts
}

/// Count, sum, min and max of one customer's amounts in one window.
#[derive(Debug, Clone, PartialEq)]
struct Totals {
    orders: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Totals {
    fn add(&mut self, amount: f64) {
        self.orders += 1;
        self.sum += amount;
        self.min = self.min.min(amount);
        self.max = self.max.max(amount);
    }
}

type Expected = BTreeMap<(i64, String), Totals>;

/// What a correct aggregation emits: totals per (window start, customer) of the valid
/// orders.
fn recompute(size: i64, hop: i64) -> Expected {
    let mut expected: Expected = BTreeMap::new();
    for i in (0..ORDERS).filter(|i| !invalid(*i)) {
        let record = order(i);
        let customer = record["customer"].as_str().expect("customer").to_string();
        let amount = record["amount"].as_f64().expect("amount");
        for start in window_starts(event_ms(i), size, hop) {
            expected
                .entry((start, customer.clone()))
                .or_insert(Totals {
                    orders: 0,
                    sum: 0.0,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                })
                .add(amount);
        }
    }
    expected
}

fn ok<T>(
    language: &str,
    call: &str,
    result: Result<Result<T, GuestError>, impl std::fmt::Debug>,
) -> T {
    match result {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{language} {call}: guest error {error:?}"),
        Err(error) => panic!("{language} {call}: the call failed: {error:?}"),
    }
}

fn instant_ms(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a date-time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp_millis()
}

/// Runs aggregation `name` over the orders as the host would: each window's records split
/// into two partitions (by position), each folded in batches of up to 7 from its own
/// `window-init` state, the two states merged, and the result emitted. Returns what was
/// emitted per (window start, customer) and the indexes of the rejected orders.
fn aggregate(
    language: &str,
    component: &GuestComponent,
    name: &str,
    size: i64,
    hop: i64,
) -> (Expected, Vec<usize>) {
    let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for i in 0..ORDERS {
        for start in window_starts(event_ms(i), size, hop) {
            windows.entry(start).or_default().push(i);
        }
    }
    let mut emitted = Expected::new();
    let mut rejected = Vec::new();
    for (start, records) in windows {
        let window = WindowBounds {
            start_ms: start,
            end_ms: start + size,
        };
        let mut partitions = [Vec::new(), Vec::new()];
        for (position, i) in records.into_iter().enumerate() {
            partitions[position % 2].push(i);
        }
        let states = partitions.map(|partition| {
            let mut state = ok(language, "window-init", component.window_init(name, window));
            for chunk in partition.chunks(7) {
                let batch = json_batch(&chunk.iter().map(|i| order(*i)).collect::<Vec<_>>());
                let out = ok(
                    language,
                    "window-accumulate",
                    component.window_accumulate(name, window, &state, &batch),
                );
                for error in &out.errors {
                    assert!(
                        !error.message.is_empty(),
                        "{language}: an empty error message"
                    );
                    rejected.push(chunk[error.index as usize]);
                }
                state = out.state;
            }
            state
        });
        let merged = ok(
            language,
            "window-merge",
            component.window_merge(name, window, &states[0], &states[1]),
        );
        let batch = ok(
            language,
            "window-emit",
            component.window_emit(name, window, &merged),
        );
        let text = String::from_utf8(batch.data).expect("UTF-8 rows");
        let rows: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a row is one JSON object"))
            .collect();
        assert_eq!(
            rows.len(),
            batch.count as usize,
            "{language}: the batch count"
        );
        for row in rows {
            assert_eq!(instant_ms(&row["window_start"]), window.start_ms, "{row}");
            assert_eq!(instant_ms(&row["window_end"]), window.end_ms, "{row}");
            let customer = row["customer"].as_str().expect("customer").to_string();
            let number = |field: &str| {
                row[field]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{field} of {row}"))
            };
            let totals = Totals {
                orders: row["orders"].as_u64().expect("orders"),
                sum: number("amount_sum"),
                min: number("amount_min"),
                max: number("amount_max"),
            };
            assert!(
                emitted.insert((start, customer), totals).is_none(),
                "{language}: two rows for one customer in window {start}"
            );
        }
    }
    rejected.sort_unstable();
    rejected.dedup();
    (emitted, rejected)
}

/// What every language's guest describes: `customer_totals_1m` and `customer_totals_2m`
/// over stream `Order` by `ts`, into tables of their own name.
fn described() -> Vec<WindowedAggregationDef> {
    AGGREGATIONS
        .iter()
        .map(|(name, size, hop)| WindowedAggregationDef {
            name: name.to_string(),
            source: "Order".into(),
            time_field: "ts".into(),
            window: WindowSpec {
                size_seconds: (size / 1000) as u32,
                hop_seconds: (hop / 1000) as u32,
                allowed_lateness_seconds: LATENESS_SECONDS,
            },
            target: TableDef {
                name: name.to_string(),
                model: "CustomerWindow".into(),
                order_by: vec![],
                engine: TableEngine::MergeTree,
                source_stream: None,
                options: Default::default(),
            },
            state_version: 1,
            dead_letter: Some("customer_totals_dead_letter".into()),
        })
        .collect()
}

/// Drives `language`'s guest directly and checks every call's result.
fn check_guest(language: &str) {
    let component = loaded_guest(&format!("tests/guests/windowed-{language}"));
    let def = component.describe().expect("describe");
    assert_eq!(
        def.windowed_aggregations,
        described(),
        "{language}: the windowed aggregations"
    );

    let invalid: Vec<usize> = (0..ORDERS).filter(|i| invalid(*i)).collect();
    for (name, size, hop) in AGGREGATIONS {
        let (emitted, rejected) = aggregate(language, &component, name, size, hop);
        assert_eq!(rejected, invalid, "{language} {name}: the rejected orders");
        assert_eq!(
            emitted,
            recompute(size, hop),
            "{language} {name}: the emitted rows"
        );

        let window = WindowBounds {
            start_ms: BASE_MS,
            end_ms: BASE_MS + size,
        };
        let empty = ok(language, "window-init", component.window_init(name, window));
        let none = ok(
            language,
            "window-emit",
            component.window_emit(name, window, &empty),
        );
        assert_eq!(
            none.count, 0,
            "{language} {name}: an empty window emits no rows"
        );
    }

    let window = WindowBounds {
        start_ms: BASE_MS,
        end_ms: BASE_MS + 60_000,
    };
    assert_eq!(
        component
            .window_init("nope", window)
            .expect("the call runs"),
        Err(GuestError::UnknownFunction("nope".into())),
        "{language}: an unknown aggregation"
    );
    match component
        .window_merge(AGGREGATIONS[0].0, window, b"not a state", b"{}")
        .expect("the call runs")
    {
        Err(GuestError::Failed(message)) => assert!(!message.is_empty()),
        other => panic!("{language}: merging garbage gave {other:?}"),
    }
}

#[test]
fn rust_windows_match_a_recomputation() {
    check_guest("rs");
}

#[test]
fn typescript_windows_match_a_recomputation() {
    check_guest("ts");
}

#[test]
fn python_windows_match_a_recomputation() {
    check_guest("py");
}

#[test]
fn typescript_windowed_orders_under_moose_dev() {
    check_windowed_orders(&repo_root().join("tests/guests/windowed-ts"));
}

#[test]
fn python_windowed_orders_under_moose_dev() {
    check_windowed_orders(&repo_root().join("tests/guests/windowed-py"));
}
