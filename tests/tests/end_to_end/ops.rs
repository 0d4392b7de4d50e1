//! `moose ps`, `moose peek` and `moose logs` against a running `moose dev` on the quickstart.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use moose_tests::{moose_bin, DevHost};
use serde_json::{json, Value};

/// Runs `moose ARGS --url URL` in the app's directory.
fn moose(host: &DevHost, args: &[&str]) -> Output {
    host.moose(args)
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "moose failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn ps_peek_and_logs_read_a_running_host() {
    let host = DevHost::start("examples/quickstart");
    let orders: Vec<String> = (0..5)
        .map(|i| {
            json!({"id": format!("o{i}"), "customer": "c1", "amount": 10.5 + i as f64, "ts": "2024-05-01T10:00:00Z"})
                .to_string()
        })
        .collect();
    let accepted: Value = ureq::post(&format!("{}/ingest/Order", host.api))
        .content_type("application/x-ndjson")
        .send(orders.join("\n"))
        .expect("ingest")
        .body_mut()
        .read_json()
        .expect("JSON");
    assert_eq!(accepted["accepted"], 5);

    // The function has read and committed everything once its row shows no lag.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ps = loop {
        let ps = stdout(&moose(&host, &["ps"]));
        let row = ps.lines().find(|l| l.contains("enrich_order")).map(|l| {
            l.split(['│', '┆'])
                .map(|cell| cell.trim().to_string())
                .collect::<Vec<_>>()
        });
        // Cells: "", KIND, NAME, SOURCE, GROUP, LAG, IN, OUT, FAILED, REC/S, LAST ERROR, "".
        if let Some(row) = row.filter(|r| r.len() == 12 && r[5] == "0" && r[6] == "5") {
            assert_eq!(
                &row[1..5],
                ["function", "enrich_order", "Order", "function:enrich_order"]
            );
            assert_eq!((row[7].as_str(), row[8].as_str()), ("5", "0"));
            break ps;
        }
        assert!(
            Instant::now() < deadline,
            "enrich_order never caught up:\n{ps}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(ps.contains("table:OrderEnriched"), "{ps}");
    assert!(ps.contains("REC/S"), "{ps}");

    let peeked = stdout(&moose(&host, &["peek", "Order", "--limit", "3"]));
    let records: Vec<Value> = peeked
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 3, "{peeked}");
    let ids: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "{peeked}");

    let enriched = stdout(&moose(&host, &["peek", "OrderEnriched"]));
    assert_eq!(enriched.lines().count(), 5, "{enriched}");
    assert!(enriched.contains("\"amount_cents\":1050"), "{enriched}");

    // The last rows by the table's sort key (`id`), in its order.
    let rows = stdout(&moose(&host, &["peek", "Order", "--table", "--limit", "2"]));
    let ids: Vec<String> = rows
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"o3\"", "\"o4\""], "{rows}");

    let logs = stdout(&moose(&host, &["logs", "--tail", "5"]));
    let lines = logs.lines().count();
    assert!((1..=5).contains(&lines), "{logs}");
    assert!(logs.contains("INFO") || logs.contains("WARN"), "{logs}");

    let unknown = moose(&host, &["peek", "Nope"]);
    assert!(!unknown.status.success());
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        error.contains("`Nope`") && error.contains("streams: Order, OrderEnriched"),
        "{error}"
    );
    let bad_limit = moose(&host, &["peek", "Order", "--limit", "0"]);
    assert!(String::from_utf8_lossy(&bad_limit.stderr).contains("400"));
    // While records flow, the function and the table sync show their throughput.
    let mut sent = 5;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let order = json!({"id": format!("o{sent}"), "customer": "c2", "amount": 1.0, "ts": "2024-05-01T10:00:00Z"});
        ureq::post(&format!("{}/ingest/Order", host.api))
            .send(order.to_string())
            .expect("ingest");
        sent += 1;
        let ps = stdout(&moose(&host, &["ps"]));
        let rate = |name: &str| {
            ps.lines()
                .find(|l| l.contains(name))
                .and_then(|l| l.split(['│', '┆']).nth(9))
                .and_then(|cell| cell.trim().parse::<f64>().ok())
        };
        let (function, table) = (rate("function:enrich_order"), rate("table:OrderEnriched"));
        if function.is_some_and(|r| r > 0.0) && table.is_some_and(|r| r > 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no throughput shown:\n{ps}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(host.stop());

    let gone = Command::new(moose_bin())
        .args(["ps", "--url", "http://127.0.0.1:9"])
        .output()
        .expect("moose runs");
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr)
        .contains("no moose host answers at http://127.0.0.1:9: start it with `moose dev`"));
}
