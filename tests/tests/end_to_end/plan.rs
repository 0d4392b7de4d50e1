//! `moose plan` and migrations against a real engine: the quickstart is applied by
//! `moose dev`, then edited; the plan shows each change marked safe or destructive,
//! `--json` and `--save` give it to machines, and `apply_plan` runs a saved plan once and
//! refuses it after the database moved on. Two versions of a model run side by side and a
//! third plans as creates only; a new sort key rebuilds a table on the engine with every
//! row kept.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use moose_host::config::ClickHouseSection;
use moose_host::infra_map::{apply_plan, MigrationPlan, PlanError};
use moose_olap::OlapStore;
use moose_tests::{built_guest, moose_bin, quickstart, repo_root, DevHost};
use serde_json::Value;

const QUICKSTART: &str = "examples/quickstart";
const VERSIONED: &str = "tests/guests/versioned-rs";

/// `moose <command> .` in `dir`, a copy of the app at `app` (relative to the repository
/// root).
fn moose(command: &str, app: &str, dir: &Path, extra: &[&str]) -> Output {
    Command::new(moose_bin())
        .args([command, "."])
        .args(extra)
        .current_dir(dir)
        // The copy builds into the original's target directory, as `DevHost` does.
        .env("CARGO_TARGET_DIR", repo_root().join(app).join("target"))
        .output()
        .unwrap_or_else(|e| panic!("moose {command} does not run: {e}"))
}

/// `moose plan` in `dir` (see [`moose`]), which must succeed; its standard output.
fn moose_plan(app: &str, dir: &Path, extra: &[&str]) -> String {
    let output = moose("plan", app, dir, extra);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "moose plan {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Stops the host and its engine at once, so that the sources can be edited without a
/// reload (`moose dev` reloads edited sources) and `moose plan` starts the engine itself.
fn kill_with_engine(host: &mut DevHost) {
    let engine = host.clickhouse.clone();
    host.kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{engine}/ping")).call().is_ok() {
        assert!(
            Instant::now() < deadline,
            "the embedded engine did not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Replaces `from` (which must occur) by `to` in `file`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("source");
    assert!(text.contains(from), "{from:?} is not in {}", file.display());
    std::fs::write(file, text.replace(from, to)).expect("source");
}

fn line_of<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[test]
fn plan_shows_the_changes_of_an_edited_app_and_apply_plan_refuses_drift() {
    quickstart();
    let mut host = DevHost::start(QUICKSTART);
    let states = host.query("SELECT version, map_hash FROM _moose_state");
    assert_eq!(states.len(), 1, "{states:?}");
    kill_with_engine(&mut host);
    let dir = host.dir.path().to_path_buf();

    // Unchanged app: nothing to do.
    let out = moose_plan(QUICKSTART, &dir, &[]);
    assert!(out.contains("against applied state v1"), "{out}");
    assert!(out.contains("No changes."), "{out}");

    // Rename Order.ts to placed_at, add a nullable note, narrow amount_cents.
    let source = dir.join("src/lib.rs");
    edit(
        &source,
        "pub amount: f64,\n    pub ts: DateTime,\n}",
        "pub amount: f64,\n    pub placed_at: DateTime,\n    pub note: Option<String>,\n}",
    );
    edit(&source, "order.ts", "order.placed_at");
    edit(&source, "pub amount_cents: i64,", "pub amount_cents: i32,");
    edit(&source, ".round() as i64", ".round() as i32");

    let out = moose_plan(QUICKSTART, &dir, &[]);
    println!("{out}");
    let note = line_of(&out, "add column `note`");
    assert_eq!(
        note.trim(),
        "~ table Order: add column `note` Nullable(String) [safe]"
    );
    let placed_at = line_of(&out, "add column `placed_at`");
    assert!(
        placed_at.trim_start().starts_with("~ table Order:"),
        "{out}"
    );
    assert!(placed_at.contains("(possible rename of `ts`)"), "{out}");
    assert!(placed_at.ends_with("[DESTRUCTIVE]"), "{out}");
    let ts = line_of(&out, "drop column `ts`");
    assert!(ts.contains("(possible rename to `placed_at`)"), "{out}");
    assert!(ts.ends_with("[DESTRUCTIVE]"), "{out}");
    assert_eq!(
        line_of(&out, "amount_cents").trim(),
        "~ table OrderEnriched: change type of `amount_cents` Int64 -> Int32 [DESTRUCTIVE]"
    );
    assert!(out.contains("4 changes: 1 safe, 3 destructive."), "{out}");

    let plan_file = dir.join("plan.json");
    let json: Value = serde_json::from_str(&moose_plan(
        QUICKSTART,
        &dir,
        &["--json", "--save", plan_file.to_str().expect("utf-8 path")],
    ))
    .expect("--json prints JSON");
    assert_eq!(json["applied_version"], 1);
    assert_eq!(json["applied_hash"], states[0]["map_hash"]);
    let changes = json["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 4, "{json:#}");
    let note = changes
        .iter()
        .find(|c| c["column"]["name"] == "note")
        .expect("the note change");
    assert_eq!(note["op"], "alter");
    assert_eq!(note["kind"], "table");
    assert_eq!(note["action"], "add_column");
    assert_eq!(note["safety"], "safe");
    assert_eq!(
        note["statements"],
        serde_json::json!([
            "ALTER TABLE `local`.`Order` ADD COLUMN IF NOT EXISTS `note` Nullable(String) AFTER `placed_at`"
        ])
    );
    let plan = MigrationPlan::load(&plan_file).expect("the saved plan loads");
    assert_eq!(plan.changes.len(), 4);
    assert_eq!(
        plan.expected_applied_hash.as_ref(),
        states[0]["map_hash"].as_str().map(str::to_string).as_ref()
    );

    // The saved plan runs once; run again, the database has moved on and it is refused.
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(async {
        let store = OlapStore::open(&ClickHouseSection::default(), &dir.join(".moose"))
            .await
            .expect("the embedded engine starts");
        let client = store.client();
        assert_eq!(apply_plan(client, &plan_file).await.expect("applies"), 2);
        let columns = client
            .fetch_bytes(
                "SELECT name, type FROM system.columns WHERE database = 'local' AND table = 'Order' ORDER BY position",
                "TSV",
                &[],
            )
            .await
            .expect("columns");
        assert_eq!(
            String::from_utf8_lossy(&columns),
            "id\tString\ncustomer\tString\namount\tFloat64\nplaced_at\tDateTime\nnote\tNullable(String)\n"
        );
        let refused = apply_plan(client, &plan_file).await.unwrap_err();
        assert!(matches!(refused, PlanError::Drift { .. }), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("the database drifted since the plan was made"),
            "{refused}"
        );
        store.shutdown().await.expect("the engine stops");
    });

    let out = moose_plan(QUICKSTART, &dir, &[]);
    assert!(out.contains("against applied state v2"), "{out}");
    assert!(out.contains("No changes."), "{out}");

    // An aggregation whose SELECT no longer fits its table is refused by `moose plan` and
    // `moose build`, naming the aggregation, the column and both types.
    edit(&source, "count() AS orders", "uniqState(id) AS orders");
    for command in ["plan", "build"] {
        let output = moose(command, QUICKSTART, &dir, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "moose {command} accepted it:\n{stderr}"
        );
        assert!(
            stderr.contains(
                "aggregation `DailyRevenue`: its SELECT does not fit target table `DailyRevenue`: \
                 column `orders` is AggregateFunction(uniq, String) in the SELECT but UInt64 in the table"
            ),
            "moose {command}:\n{stderr}"
        );
    }
}

#[test]
fn versions_of_a_model_run_side_by_side_and_a_new_version_plans_as_creates() {
    built_guest(VERSIONED);
    let mut host = DevHost::start(VERSIONED);
    let v10: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({ "id": format!("a{i}"), "customer": "acme", "amount": 1.5 }))
        .collect();
    let v11: Vec<Value> = (0..2)
        .map(|i| {
            serde_json::json!({ "id": format!("b{i}"), "customer": "beta", "amount": 2.5, "currency": "EUR" })
        })
        .collect();
    assert_eq!(host.post_records("/ingest/Order/1.0", &v10).0, 200);
    assert_eq!(host.post_records("/ingest/Order/1.1", &v11).0, 200);
    // Each route checks its own version: 1.1 requires the currency.
    let (status, answer) = host.post_records("/ingest/Order/1.1", &v10[..1]);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["problems"][0]["field"], "currency", "{answer}");
    let (status, answer) = host.post_records("/ingest/Order", &v10);
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        answer["endpoints"],
        serde_json::json!(["Order/1.0", "Order/1.1"])
    );

    host.wait_for_count("SELECT count() AS n FROM Order_1_0", 3);
    host.wait_for_count(
        "SELECT count() AS n FROM Order_1_1 WHERE currency = 'EUR'",
        2,
    );
    let columns = host.query(
        "SELECT table, groupArray(name) AS columns FROM \
         (SELECT table, name FROM system.columns WHERE database = 'local' \
          AND table IN ('Order_1_0', 'Order_1_1') ORDER BY table, position) GROUP BY table ORDER BY table",
    );
    assert_eq!(
        columns,
        vec![
            serde_json::json!({ "table": "Order_1_0", "columns": ["id", "customer", "amount"] }),
            serde_json::json!({ "table": "Order_1_1", "columns": ["id", "customer", "amount", "currency"] }),
        ]
    );

    let catalog = host.management_json("/catalog");
    let paths: Vec<&str> = catalog["ingest"]
        .as_array()
        .expect("ingest")
        .iter()
        .map(|i| i["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths, vec!["/ingest/Order/1.0", "/ingest/Order/1.1"]);
    let openapi = host.management_json("/openapi.json");
    for path in paths {
        assert!(
            openapi["paths"][path]["post"].is_object(),
            "{path} in {openapi:#}"
        );
    }

    // Version 1.2, added to the applied app, only creates objects.
    kill_with_engine(&mut host);
    let dir = host.dir.path().to_path_buf();
    let source = dir.join("src/lib.rs");
    edit(
        &source,
        "/// The app.",
        "/// Version 1.2 adds a note.\n\
         #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]\n\
         #[moose(name = \"Order\", version = \"1.2\")]\n\
         pub struct OrderV12 {\n    #[moose(key)]\n    pub id: String,\n    pub customer: String,\n    \
         pub amount: f64,\n    pub currency: String,\n    pub note: Option<String>,\n}\n\n/// The app.",
    );
    edit(
        &source,
        "    app\n}",
        "    app.ingest_pipeline::<OrderV12>(\"Order\", PipelineConfig::default());\n    app\n}",
    );
    let out = moose_plan(VERSIONED, &dir, &[]);
    println!("{out}");
    for expected in [
        "+ stream Order_1_2:",
        "+ stream Order_1_2_dead_letter:",
        "+ table Order_1_2:",
        "+ table Order_1_2_dead_letter:",
        "+ ingest Order/1.2:",
    ] {
        assert!(line_of(&out, expected).ends_with("[safe]"), "{out}");
    }
    let changes: Vec<&str> = out.lines().filter(|l| l.ends_with(']')).collect();
    assert!(
        changes
            .iter()
            .all(|l| l.trim_start().starts_with('+') && l.ends_with("[safe]")),
        "only safe creates: {out}"
    );
    assert!(
        out.contains(&format!(
            "{} changes: {} safe, 0 destructive.",
            changes.len(),
            changes.len()
        )),
        "{out}"
    );
}

#[test]
fn a_new_sort_key_rebuilds_the_table_on_the_engine_keeping_every_row() {
    quickstart();
    let host = DevHost::start(QUICKSTART);
    let orders = |range: std::ops::Range<usize>| -> Vec<Value> {
        range
            .map(|i| {
                serde_json::json!({
                    "id": format!("o{i}"), "customer": format!("c{}", i % 7),
                    "amount": 10.0 + i as f64, "ts": format!("2024-05-{:02}T10:00:00Z", 1 + i % 5),
                })
            })
            .collect()
    };
    assert_eq!(host.post_records("/ingest/Order", &orders(0..1000)).0, 200);
    host.wait_for_count("SELECT count() AS n FROM OrderEnriched", 1000);
    host.wait_for_count("SELECT sum(orders) AS n FROM DailyRevenue", 1000);
    let sorting_key = |table: &str| {
        host.query(&format!(
            "SELECT sorting_key FROM system.tables WHERE database = 'local' AND name = '{table}'"
        ))[0]["sorting_key"]
            .as_str()
            .expect("sorting_key")
            .to_string()
    };
    assert_eq!(sorting_key("OrderEnriched"), "(id)");
    let before = host.query_text("SELECT * FROM OrderEnriched ORDER BY id", "JSONEachRow");

    // While the host runs: OrderEnriched sorted by customer, then id.
    edit(
        &host.dir.path().join("src/lib.rs"),
        "stream_pipeline::<OrderEnriched>(\"OrderEnriched\", PipelineConfig::default())",
        "stream_pipeline::<OrderEnriched>(\n        \"OrderEnriched\",\n        \
         PipelineConfig::default().with_table(TableConfig::default().order_by([\"customer\", \"id\"])),\n    )",
    );
    let lines = host.wait_for_reload("quickstart", Duration::from_secs(600));
    println!("{}", lines.join("\n"));
    let warning = lines
        .iter()
        .find(|l| l.contains("warning: destructive change applied in dev"))
        .expect("a warning for the rebuild");
    assert!(
        warning.contains("~ table OrderEnriched: order by (id) -> (customer, id)"),
        "{warning}"
    );

    assert_eq!(sorting_key("OrderEnriched"), "customer, id");
    let after = host.query_text("SELECT * FROM OrderEnriched ORDER BY id", "JSONEachRow");
    assert_eq!(after, before, "every row survived the rebuild unchanged");
    let leftovers = host.query(
        "SELECT count() AS n FROM system.tables WHERE database = 'local' AND name LIKE '%moose_rebuild%'",
    );
    assert_eq!(leftovers[0]["n"], 0);

    // The aggregation reading the rebuilt table runs again.
    assert_eq!(
        host.post_records("/ingest/Order", &orders(1000..1100)).0,
        200
    );
    host.wait_for_count("SELECT count() AS n FROM OrderEnriched", 1100);
    host.wait_for_count("SELECT sum(orders) AS n FROM DailyRevenue", 1100);
    assert!(host.stop(), "the host stops cleanly");
}
