//! `moose query`, `moose seed` and `moose truncate` on the dev store of a running
//! `moose dev` (the quickstart), as a user runs them from the app's directory; and
//! `moose init --from-clickhouse` on an existing database.

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

/// `moose init --from-clickhouse` reads a database with every column type, table option
/// and engine argument into an app in each language; each builds, and `moose plan` against
/// the database changes nothing: the tables are externally managed.
#[test]
fn init_from_clickhouse_writes_apps_that_build_and_plan_no_change() {
    use moose_olap::embedded::{EmbeddedClickHouse, EmbeddedOptions};
    let data = tempfile::tempdir().expect("temp dir");
    let engine = EmbeddedClickHouse::start_with(data.path(), EmbeddedOptions::default())
        .unwrap_or_else(|e| panic!("starting the engine: {e}"));
    let url = engine.url().to_string();
    let sql = |text: &str| clickhouse_text(&url, "default", text, "TabSeparated");
    sql("CREATE DATABASE legacy");
    sql("CREATE TABLE legacy.events (
            id UInt64 COMMENT 'The event.',
            name String,
            kind LowCardinality(String),
            maybe Nullable(String),
            i8 Int8,
            i128 Int128,
            u256 UInt256,
            f Float32,
            ok Bool,
            price Decimal(18, 4),
            d Date,
            at DateTime,
            at3 DateTime64(3),
            uid UUID,
            level Enum8('low' = 1, 'high' = 2),
            tags Array(String),
            attrs Map(String, UInt32),
            home Tuple(street String, zip Nullable(String)),
            code FixedString(3),
            v4 IPv4,
            v6 IPv6,
            pt Point,
            area Polygon,
            lines MultiLineString,
            payload JSON,
            note String DEFAULT 'none' CODEC(ZSTD(3)) TTL at + INTERVAL 50 YEAR,
            day Date MATERIALIZED toDate(at),
            ver UInt64,
            INDEX name_bf name TYPE bloom_filter(0.01) GRANULARITY 2,
            PROJECTION by_name (SELECT * ORDER BY name)
        ) ENGINE = ReplacingMergeTree(ver)
        PARTITION BY toYYYYMM(at) ORDER BY (id, at) TTL at + INTERVAL 100 YEAR
        SETTINGS index_granularity = 4096, deduplicate_merge_projection_mode = 'rebuild'");
    sql("CREATE TABLE legacy.daily (
            day Date,
            users AggregateFunction(uniq, String),
            top SimpleAggregateFunction(max, UInt64)
        ) ENGINE = AggregatingMergeTree ORDER BY day");
    sql("CREATE TABLE legacy.lines (line String) ENGINE = MergeTree ORDER BY tuple()");
    sql("CREATE VIEW legacy.recent AS SELECT id FROM legacy.events");
    sql("INSERT INTO legacy.daily SELECT today(), uniqState('a'), 1");

    let dir = tempfile::tempdir().expect("temp dir");
    // Rust builds reuse the quickstart's compiled dependencies.
    let target = moose_tests::repo_root().join("examples/quickstart/target");
    let run = |args: &[&str]| {
        Command::new(moose_bin())
            .args(args)
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .env("MOOSE_CLICKHOUSE_COMPRESSION", "none")
            .output()
            .expect("moose runs")
    };
    for language in ["rust", "ts", "python"] {
        let app = format!("legacy-{language}");
        let init = run(&[
            "init",
            &app,
            "--language",
            language,
            "--from-clickhouse",
            &url,
            "--database",
            "legacy",
            "--uncompressed",
        ]);
        let said = String::from_utf8_lossy(&init.stderr);
        assert!(init.status.success(), "{language}: {said}");
        assert!(
            said.contains("Read 3 tables of database `legacy`: daily, events, lines."),
            "{said}"
        );
        assert!(
            said.contains("Skipped recent: a View is not a MergeTree-family table."),
            "{said}"
        );

        let plan = run(&["plan", &app, "--clickhouse-url", &url]);
        let out = String::from_utf8_lossy(&plan.stdout);
        assert!(
            plan.status.success(),
            "{language}: {out}\n{}",
            String::from_utf8_lossy(&plan.stderr)
        );
        assert!(out.contains("No changes."), "{language}: {out}");
        // The tables are as they were.
        let columns = clickhouse_text(
            &url,
            "legacy",
            "SELECT count() FROM system.columns WHERE database = 'legacy' AND table = 'events'",
            "TabSeparated",
        );
        assert_eq!(columns.trim(), "28", "{language}");
    }
    let source = std::fs::read_to_string(dir.path().join("legacy-ts/app.ts")).expect("app.ts");
    for expected in [
        "\"users\": t.uint64().aggregateState(\"uniq\", t.string()),",
        "\"top\": t.uint64().simpleAggregate(\"max\"),",
        "\"level\": t.enum({ \"low\": 1, \"high\": 2 }),",
        "\"home\": t.nested(EventsHome),",
        "engine: engines.replacingMergeTree(\"ver\")",
        "ttl: \"at + toIntervalYear(100)\"",
        "settings: { \"index_granularity\": 4096, \"deduplicate_merge_projection_mode\": \"rebuild\" }",
        "computed: { \"day\": computed.materialized(t.date(), \"toDate(at)\") }",
        "\"note\": t.string().default(\"'none'\").codec(\"ZSTD(3)\").ttl(\"at + toIntervalYear(50)\"),",
        "projections: [{ name: \"by_name\", select: \"SELECT * ORDER BY name\" }]",
    ] {
        assert!(
            source.contains(expected),
            "missing {expected:?} in\n{source}"
        );
    }
}
