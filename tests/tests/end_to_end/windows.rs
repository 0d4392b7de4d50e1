//! Windowed aggregations in Rust under a real `moose dev`: the `windowed-rs` guest
//! aggregates thousands of orders over tumbling and hopping windows through a SIGKILL and
//! a hot reload, and its tables must equal a recomputation over the raw orders (see
//! `moose_tests::windows::check_windowed_orders`); a backlog read from Kafka one partition
//! after the other makes no record late.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use moose_streams::kafka::{KafkaConfig, KafkaStreams};
use moose_streams::{Record, StreamSpec, Streams};
use moose_tests::tansu::Tansu;
use moose_tests::windows::{
    assert_matches_recomputation, check_windowed_orders, count, dead_ids, flush, ingest_caught_up,
    last_order_ms, order, post, wait_caught_up, AGGREGATIONS, ORDERS,
};
use moose_tests::DevHost;

/// The tests edit their copies of `windowed-rs`, which build into the original's target
/// directory: one at a time, so neither loads the other's build.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn rust_windows_match_a_recomputation() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    check_windowed_orders(Path::new("tests/guests/windowed-rs"));
}

/// All orders of the scenario are in the four partitions of the `Order` topic before the
/// host starts: the aggregations find them as a backlog, which librdkafka hands over a
/// fetched partition at a time, so one batch may run minutes of event time ahead in one
/// partition while the others are unread. The watermark waits for the partitions behind:
/// no order is late and both tables equal the recomputation.
#[test]
fn a_backlog_read_one_partition_at_a_time_makes_no_record_late() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tansu = Tansu::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let streams =
            KafkaStreams::connect(KafkaConfig::new(tansu.address.clone())).expect("kafka");
        streams
            .ensure_stream(&StreamSpec {
                name: "Order".into(),
                partitions: 4,
                retention: Duration::from_secs(7 * 24 * 3600),
            })
            .await
            .expect("topic Order");
        let records: Vec<Record> = (0..ORDERS)
            .map(|i| {
                let order = order(i);
                Record {
                    key: Some(order["id"].as_str().expect("id").as_bytes().to_vec()),
                    value: order.to_string().into_bytes(),
                    timestamp_ms: 0,
                }
            })
            .collect();
        streams.produce("Order", records).await.expect("produce");
    });
    let host = DevHost::start_with("tests/guests/windowed-rs", &tansu.streaming_config());
    wait_caught_up(&host);
    let watermark = flush(&host, last_order_ms());
    for (name, size, hop) in AGGREGATIONS {
        let late = dead_ids(&host, name, "late");
        assert!(
            late.is_empty(),
            "{name}: {} orders of the backlog were late, e.g. {:?}",
            late.len(),
            late.iter().take(10).collect::<Vec<_>>()
        );
        assert_matches_recomputation(&host, name, size, hop, watermark);
    }
    assert!(host.stop(), "the host stops cleanly");
}

/// A reload that raises an aggregation's state version drops that aggregation's kept
/// state with a warning, and the aggregation goes on.
#[test]
fn a_new_state_version_drops_the_kept_state() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let host = DevHost::start("tests/guests/windowed-rs");
    ingest_caught_up(&host, 0..1000);
    let emitted = |host: &DevHost| count(host, "SELECT count() AS n FROM customer_totals_1m");
    let before = emitted(&host);
    assert!(before > 0, "windows closed before the reload");

    let source = host.dir.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&source).expect("source");
    let raised = text.replacen(
        "CustomerTotals,\n    )\n    .dead_letter(&dead_letter);",
        "CustomerTotals,\n    )\n    .state_version(2)\n    .dead_letter(&dead_letter);",
        1,
    );
    assert_ne!(raised, text, "the first aggregation's declaration is found");
    std::fs::write(&source, raised).expect("edit the guest");
    let warning = host.wait_for_line("dropping the state of", Duration::from_secs(300));
    assert!(warning.contains("`customer_totals_1m`"), "{warning}");

    ingest_caught_up(&host, 1000..2000);
    assert!(
        emitted(&host) > before,
        "the aggregation runs on after the reload"
    );
    assert!(host.stop(), "the host stops cleanly");
}

/// With `window_idle_flush_seconds`, the last window of a source that goes quiet closes
/// once the idle time has carried the watermark past its end.
#[test]
fn an_idle_source_closes_its_last_windows() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let host = DevHost::start_with(
        "tests/guests/windowed-rs",
        "\n[streaming]\nwindow_idle_flush_seconds = 1\n",
    );
    // Four orders in the minute [12:00, 12:01), the last 1 s before its end: with 30 s of
    // allowed lateness the window closes after about 31 s without records.
    let orders: Vec<serde_json::Value> = (0..4)
        .map(|k| {
            serde_json::json!({"id": format!("i{k}"), "customer": "acme", "amount": 1.5 + k as f64,
                               "ts": format!("2024-05-01T12:00:{:02}Z", 56 + k)})
        })
        .collect();
    post(&host, &orders);
    wait_caught_up(&host);
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let rows = loop {
        let rows = host.query(
            "SELECT customer, toString(window_start) AS start, orders, amount_sum, amount_min, \
             amount_max FROM customer_totals_1m",
        );
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"customer": "acme", "start": "2024-05-01 12:00:00.000",
                                "orders": 4, "amount_sum": 12, "amount_min": 1.5,
                                "amount_max": 4.5})
        ]
    );
    assert!(host.stop(), "the host stops cleanly");
}

/// The aggregations' target tables keep insert-deduplication tokens, and the catalog shows
/// the tables and the lineage stream → aggregation → table.
#[test]
fn the_catalog_and_the_target_tables_show_the_aggregations() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let host = DevHost::start("tests/guests/windowed-rs");
    let catalog: serde_json::Value = ureq::get(format!("{}/catalog", host.management))
        .call()
        .expect("catalog")
        .body_mut()
        .read_json()
        .expect("catalog JSON");
    let edges = catalog["lineage"].as_array().expect("lineage");
    for name in ["customer_totals_1m", "customer_totals_2m"] {
        let aggregation = format!("aggregation:{name}");
        for (from, to) in [
            ("stream:Order", aggregation.as_str()),
            (aggregation.as_str(), &format!("table:{name}")),
            (aggregation.as_str(), "stream:customer_totals_dead_letter"),
        ] {
            assert!(
                edges.iter().any(|e| e["from"] == from && e["to"] == to),
                "lineage {from} -> {to}: {edges:#?}"
            );
        }
        assert!(
            catalog["tables"]
                .as_array()
                .expect("tables")
                .iter()
                .any(|t| t["name"] == name && t["model"] == "CustomerWindow"),
            "table {name} in the catalog"
        );
        let ddl = host.query_text(&format!("SHOW CREATE TABLE {name}"), "TabSeparatedRaw");
        assert!(
            ddl.contains("non_replicated_deduplication_window = 1000"),
            "{ddl}"
        );
    }
    assert_eq!(
        catalog["windowed_aggregations"]
            .as_array()
            .map(|a| a.iter().map(|w| w["window"].clone()).collect::<Vec<_>>()),
        Some(vec![
            serde_json::json!({"size_seconds": 60, "hop_seconds": 60, "allowed_lateness_seconds": 30}),
            serde_json::json!({"size_seconds": 120, "hop_seconds": 60, "allowed_lateness_seconds": 30}),
        ])
    );
    assert!(host.stop(), "the host stops cleanly");
}
