//! `moose query`, `moose seed` and `moose truncate` on the dev store of a running
//! `moose dev` (the quickstart), as a user runs them from the app's directory.

use std::process::{Command, Output};

use moose_tests::{clickhouse_text, moose_bin, DevHost};
use serde_json::json;

fn moose(host: &DevHost, args: &[&str]) -> Output {
    Command::new(moose_bin())
        .args(args)
        .current_dir(host.dir.path())
        .output()
        .expect("moose runs")
}

fn succeed(host: &DevHost, args: &[&str]) -> String {
    let output = moose(host, args);
    assert!(
        output.status.success(),
        "moose {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fail(host: &DevHost, args: &[&str]) -> String {
    let output = moose(host, args);
    assert!(!output.status.success(), "moose {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn count(host: &DevHost, table: &str) -> u64 {
    host.query(&format!("SELECT count() AS n FROM `{table}`"))[0]["n"]
        .as_u64()
        .expect("a count")
}

#[test]
fn query_seed_and_truncate_work_on_the_dev_store() {
    let host = DevHost::start("examples/quickstart");
    let orders: Vec<_> = (0..5)
        .map(|i| json!({"id": format!("o{i}"), "customer": "c1", "amount": 10.0, "ts": "2024-05-01T10:00:00Z"}))
        .collect();
    let (status, answer) = host.post_records("/ingest/Order", &orders);
    assert_eq!(status, 200, "{answer}");
    host.wait_for_count("SELECT count() AS n FROM OrderEnriched", 5);

    // Query: a table for people, JSON lines for machines, any format by name.
    assert_eq!(
        succeed(
            &host,
            &["query", "SELECT count() AS n FROM `Order`", "--json"]
        ),
        "{\"n\":5}\n"
    );
    let table = succeed(
        &host,
        &["query", "SELECT id FROM `Order` ORDER BY id LIMIT 2"],
    );
    assert!(
        table.contains("┌─id─┐") && table.contains("│ o1 │"),
        "{table}"
    );
    assert_eq!(
        succeed(
            &host,
            &[
                "query",
                "SELECT id FROM `Order` ORDER BY id LIMIT 1",
                "--format",
                "CSV"
            ]
        ),
        "\"o0\"\n"
    );
    // Read-only: a write is refused and changes nothing.
    let refused = fail(&host, &["query", "TRUNCATE TABLE `Order`"]);
    assert!(refused.contains("readonly"), "{refused}");
    assert_eq!(count(&host, "Order"), 5);

    // Seed from another database (here on the same engine): the app's raw tables by
    // default, at most --limit rows each; the aggregation fills through its view.
    let source = |sql: &str| clickhouse_text(&host.clickhouse, "default", sql, "TabSeparated");
    source("CREATE DATABASE IF NOT EXISTS seed_source");
    for table in ["Order", "OrderEnriched"] {
        source(&format!(
            "CREATE TABLE seed_source.`{table}` AS local.`{table}`"
        ));
    }
    source(
        "INSERT INTO seed_source.`Order` SELECT concat('s', toString(number)), 'c2', 1.5, \
         toDateTime('2024-05-02 00:00:00') FROM numbers(50)",
    );
    source(
        "INSERT INTO seed_source.OrderEnriched (id, customer, amount, amount_cents, tier, day, ts) \
         SELECT concat('s', toString(number)), 'c2', 1.5, 150, 'small', toDate('2024-05-02'), \
         toDateTime('2024-05-02 00:00:00') FROM numbers(50)",
    );
    let seeded = moose(
        &host,
        &[
            "seed",
            "--from",
            &host.clickhouse,
            "--database",
            "seed_source",
            "--limit",
            "20",
            "--uncompressed",
        ],
    );
    let said = String::from_utf8_lossy(&seeded.stderr);
    assert!(seeded.status.success(), "{said}");
    assert!(said.contains("Seeded table `Order`"), "{said}");
    assert_eq!(count(&host, "Order"), 25);
    assert_eq!(count(&host, "OrderEnriched"), 25);
    let revenue = host.query("SELECT sum(orders) AS n FROM DailyRevenue WHERE customer = 'c2'");
    assert_eq!(revenue[0]["n"], 20, "the aggregation saw the seeded rows");
    let missing = fail(
        &host,
        &[
            "seed",
            "--from",
            &host.clickhouse,
            "--table",
            "Nope",
            "--uncompressed",
        ],
    );
    assert!(
        missing.contains("`Nope` is not a table of the app"),
        "{missing}"
    );

    // Truncate one table, then every table.
    succeed(&host, &["truncate", "Order"]);
    assert_eq!(count(&host, "Order"), 0);
    assert_eq!(count(&host, "OrderEnriched"), 25);
    succeed(&host, &["truncate", "--all"]);
    for table in ["OrderEnriched", "DailyRevenue", "Order_dead_letter"] {
        assert_eq!(count(&host, table), 0, "{table}");
    }
    assert!(host.stop(), "moose dev exits cleanly");
}

/// The writing commands refuse an app whose store is an external server.
#[test]
fn truncate_and_seed_refuse_an_external_store() {
    let dir = moose_tests::copy_of_app("examples/quickstart");
    let config = dir.path().join("moose.config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[clickhouse]\nurl = \"http://127.0.0.1:1\"\n");
    std::fs::write(&config, text).expect("config");
    for args in [
        &["truncate", "--all"][..],
        &["seed", "--from", "http://127.0.0.1:1"][..],
    ] {
        let output = Command::new(moose_bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("moose runs");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            said.contains("only writes to the dev store") && said.contains("http://127.0.0.1:1"),
            "{said}"
        );
    }
}
