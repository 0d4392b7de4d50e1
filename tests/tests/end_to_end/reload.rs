//! Hot reload in `moose dev` on the quickstarts: an edit of the streaming function while
//! orders stream in is rebuilt and swapped in between batches without losing a record (in
//! TypeScript, Rust and Python), an edit that does not build leaves the old version
//! serving, and an edit that adds a column and an ingest pipeline migrates the tables and
//! serves the new route, catalog and OpenAPI document without a restart. A TypeScript or
//! Python edit rebuilds only the app's source: the development runtime that evaluates it
//! is reused, is refused without an app source, and is compiled once for every app that
//! shares it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use moose_tests::{built_guest, DevHost};
use serde_json::{json, Value};

/// Bodies posted before the function is edited.
const BEFORE_EDIT: usize = 5;
/// Bodies held back until the reload is done, so they surely meet the new version.
const AFTER_RELOAD: usize = 5;
/// Most records a function runner reads in one batch: at most one batch runs twice.
const MAX_BATCH: usize = 1_000;
/// Longest a rebuild (type check, bundle, componentize) plus precompile may take.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// A quickstart whose `enrich_order` is edited while orders stream in.
struct Quickstart {
    app: &'static str,
    /// The component's name, as reload lines print it.
    component: &'static str,
    /// The file holding `enrich_order`.
    source: &'static str,
    /// The tier condition of `enrich_order`, and the edit: orders from 100 to below 500
    /// become "small" instead of "medium".
    tier_before: &'static str,
    tier_after: &'static str,
    orders: usize,
    /// Orders per posted body.
    body: usize,
}

const TYPESCRIPT: Quickstart = Quickstart {
    app: "examples/quickstart-ts",
    component: "quickstart-ts",
    source: "app.ts",
    tier_before: r#"order.amount < 100 ? "small""#,
    tier_after: r#"order.amount < 500 ? "small""#,
    orders: 50_000,
    body: 1_000,
};

const RUST: Quickstart = Quickstart {
    app: "examples/quickstart",
    component: "quickstart",
    source: "src/lib.rs",
    tier_before: "let tier = if order.amount < 100.0 {",
    tier_after: "let tier = if order.amount < 500.0 {",
    orders: 50_000,
    body: 1_000,
};

/// Fewer orders: the Python component runs the same steps, only slower per record.
const PYTHON: Quickstart = Quickstart {
    app: "examples/quickstart-python",
    component: "quickstart-python",
    source: "app.py",
    tier_before: "if order.amount < 100:",
    tier_after: "if order.amount < 500:",
    orders: 10_000,
    body: 500,
};

fn amount(i: usize) -> f64 {
    ((i * 7919) % 100_000) as f64 / 100.0 + 0.01
}

/// Whether the two versions give order `i` different tiers.
fn tells_versions_apart(i: usize) -> bool {
    (100.0..500.0).contains(&amount(i))
}

fn order(i: usize) -> String {
    json!({
        "id": format!("o{i}"),
        "customer": format!("c{}", i % 37),
        "amount": amount(i),
        "ts": format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
    })
    .to_string()
}

fn post(api: &str, range: std::ops::Range<usize>) {
    let body: Vec<String> = range.clone().map(order).collect();
    let mut response = ureq::post(&format!("{api}/ingest/Order"))
        .content_type("application/x-ndjson")
        .send(body.join("\n"))
        .unwrap_or_else(|e| panic!("posting orders {range:?}: {e}"));
    let answer: Value = response.body_mut().read_json().expect("JSON answer");
    assert_eq!(answer["accepted"], range.len(), "{answer}");
}

/// Replaces `from` (which must occur) by `to` in the app's file `file`.
fn edit(host: &DevHost, file: &str, from: &str, to: &str) {
    let path = host.dir.path().join(file);
    let text = std::fs::read_to_string(&path).expect(file);
    assert!(text.contains(from), "{file} does not contain {from}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect(file);
}

/// Waits until OrderEnriched holds `expected` distinct ids.
fn wait_for_ids(host: &DevHost, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let rows = host.query("SELECT count(DISTINCT id) AS n FROM OrderEnriched");
        let n = rows[0]["n"].as_u64().expect("count") as usize;
        if n >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "OrderEnriched has {n} of {expected} orders"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The version that processed each row of an order that tells them apart: `false` for
/// the original, `true` for the edited function.
fn versions(host: &DevHost) -> Vec<(usize, bool)> {
    host.query("SELECT id, tier FROM OrderEnriched WHERE amount >= 100 AND amount < 500")
        .iter()
        .map(|row| {
            let id = row["id"].as_str().expect("id");
            let i = id[1..].parse().expect("numeric id");
            let edited = match row["tier"].as_str() {
                Some("medium") => false,
                Some("small") => true,
                other => panic!("order {id} has tier {other:?}"),
            };
            (i, edited)
        })
        .collect()
}

/// Edits `enrich_order` of `quickstart` while its orders are posted; every order is
/// processed, each by the version that was running when its batch started.
fn swap_while_ingesting(quickstart: &Quickstart) {
    let Quickstart { orders, body, .. } = *quickstart;
    built_guest(quickstart.app);
    let host = DevHost::start(quickstart.app);
    let posted = AtomicUsize::new(0);
    let reloaded = AtomicBool::new(false);
    let bodies = orders / body;
    let api = host.api.clone();
    // The index of the first body whose post started after the reload was printed.
    let first_after_reload = std::thread::scope(|scope| {
        let ingest = scope.spawn(|| {
            let mut first_after_reload = None;
            for b in 0..bodies {
                if b == bodies - AFTER_RELOAD {
                    while !reloaded.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                if first_after_reload.is_none() && reloaded.load(Ordering::Acquire) {
                    first_after_reload = Some(b);
                }
                post(&api, b * body..(b + 1) * body);
                posted.store(b + 1, Ordering::Release);
                // Orders keep arriving while the rebuild runs, so batches are in flight
                // when the new version is swapped in.
                if !reloaded.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(800));
                }
            }
            first_after_reload.expect("bodies were held back until the reload")
        });
        while posted.load(Ordering::Acquire) < BEFORE_EDIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        edit(
            &host,
            quickstart.source,
            quickstart.tier_before,
            quickstart.tier_after,
        );
        let lines = host.wait_for_reload(quickstart.component, RELOAD_TIMEOUT);
        reloaded.store(true, Ordering::Release);
        let steps = lines.last().expect("the reload's steps");
        assert!(steps.contains(", swap "), "{lines:#?}");
        println!("{steps}");
        ingest.join().expect("ingest thread")
    });

    wait_for_ids(&host, orders);
    let ids: BTreeSet<usize> = host
        .query("SELECT DISTINCT id FROM OrderEnriched")
        .iter()
        .map(|row| row["id"].as_str().expect("id")[1..].parse().expect("id"))
        .collect();
    assert_eq!(ids, (0..orders).collect(), "every order, each once");
    let rows = host.query("SELECT count() AS n FROM OrderEnriched")[0]["n"]
        .as_u64()
        .expect("count") as usize;
    let duplicates = rows - orders;
    println!("{duplicates} duplicate rows of {orders} orders");
    assert!(
        duplicates <= MAX_BATCH,
        "{duplicates} duplicates: more than one batch ran twice"
    );

    let versions = versions(&host);
    let edited = versions.iter().filter(|(_, edited)| *edited).count();
    println!(
        "{} orders told the versions apart: {} processed by the original, {edited} by the edited function",
        versions.len(),
        versions.len() - edited
    );
    for (i, edited) in &versions {
        let posted_in = i / body;
        if posted_in < BEFORE_EDIT {
            assert!(!edited, "order {i} was posted before the edit");
        }
        if posted_in >= first_after_reload {
            assert!(edited, "order {i} was posted after the reload");
        }
    }
    let checked = (0..orders)
        .filter(|i| tells_versions_apart(*i) && i / body >= first_after_reload)
        .count();
    assert!(
        checked > 0,
        "no order after the reload told the versions apart"
    );
    assert!(host.stop(), "the host stops cleanly");
}

#[test]
fn an_edited_typescript_function_is_swapped_in_between_batches_without_losing_records() {
    swap_while_ingesting(&TYPESCRIPT);
}

#[test]
fn an_edited_rust_function_is_swapped_in_between_batches_without_losing_records() {
    swap_while_ingesting(&RUST);
}

#[test]
fn an_edited_python_function_is_swapped_in_between_batches_without_losing_records() {
    swap_while_ingesting(&PYTHON);
}

#[test]
fn a_typescript_edit_rebuilds_the_app_source_and_reuses_the_development_runtime() {
    edit_rebuilds_the_app_source_only(&TYPESCRIPT);
}

#[test]
fn a_python_edit_rebuilds_the_app_source_and_reuses_the_development_runtime() {
    edit_rebuilds_the_app_source_only(&PYTHON);
}

/// Edits `app` under `moose dev`: the app source is rebuilt and serves, the development
/// runtime file is left as it was, and that runtime alone refuses to describe an app.
fn edit_rebuilds_the_app_source_only(app: &Quickstart) {
    let host = DevHost::start(app.app);
    let build = host.dir.path().join(".moose/build");
    let runtime_path = build.join(format!("{}.dev-runtime.wasm", app.component));
    let source = build.join(format!("{}.dev-source", app.component));
    let read = |path: &std::path::Path| {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (runtime_before, source_before) = (read(&runtime_path), read(&source));
    edit(&host, app.source, app.tier_before, app.tier_after);
    let lines = host.wait_for_reload(app.component, RELOAD_TIMEOUT);
    println!("{}", lines.last().expect("the reload's steps"));
    assert!(
        runtime_before == read(&runtime_path),
        "the edit rebuilt the development runtime"
    );
    let source_after = String::from_utf8(read(&source)).expect("UTF-8 source");
    assert!(
        source_before != source_after.as_bytes(),
        "the app source was not rebuilt"
    );
    assert!(
        source_after.contains("order.amount < 500"),
        "{source_after}"
    );
    // The edited source serves: an order of 200.00 is now "small".
    let order = json!({"id": "o1", "customer": "c", "amount": 200.0, "ts": "2024-05-01T10:00:00Z"});
    assert_eq!(host.post_records("/ingest/Order", &[order]).0, 200);
    host.wait_for_count(
        "SELECT count() AS n FROM OrderEnriched WHERE tier = 'small'",
        1,
    );

    // The runtime alone is not an app.
    let runtime_only = moose_runtime::Runtime::new(
        moose_runtime::RuntimeConfig::default(),
        host.dir.path().join(".moose/test-cache"),
        std::sync::Arc::new(moose_runtime::NoQueryService),
    )
    .expect("runtime")
    .load("runtime-only", &runtime_path)
    .expect("the runtime loads");
    let error = runtime_only
        .describe()
        .expect_err("no app to describe")
        .to_string();
    assert!(error.contains("loaded without an app source"), "{error}");

    // Two apps on one runtime: the first compiles it into the shared cache, the second
    // maps that artifact, and each describes its own source.
    let shared = tempfile::tempdir().expect("temp dir");
    let load = |app: &str| {
        let config = moose_runtime::RuntimeConfig {
            function_cache: Some(moose_host::config::function_cache_dir()),
            dev_runtime_cache: Some(shared.path().to_path_buf()),
            ..moose_runtime::RuntimeConfig::default()
        };
        let cache = host
            .dir
            .path()
            .join(".moose")
            .join(format!("test-cache-{app}"));
        let runtime = moose_runtime::Runtime::new(
            config,
            cache,
            std::sync::Arc::new(moose_runtime::NoQueryService),
        )
        .expect("runtime");
        let component = runtime
            .load_dev(app, &runtime_path, source_after.as_str().into())
            .expect("the runtime loads with the source");
        let described = component.describe().expect("the app describes itself");
        (component.info().source, described.functions.len())
    };
    let (first, functions) = load("first");
    assert_eq!(first, moose_runtime::LoadSource::Compiled);
    assert!(functions > 0);
    assert_eq!(
        load("second"),
        (moose_runtime::LoadSource::Cached, functions)
    );
    assert!(host.stop(), "the host stops cleanly");
}

#[test]
fn a_build_error_keeps_the_old_version_serving() {
    built_guest(TYPESCRIPT.app);
    let host = DevHost::start(TYPESCRIPT.app);
    let path = host.dir.path().join("app.ts");
    let mut text = std::fs::read_to_string(&path).expect("app.ts");
    text.push_str("\nconst broken: number = \"not a number\";\n");
    std::fs::write(&path, text).expect("writing app.ts");
    let line = host.wait_for_line("reload quickstart-ts failed", RELOAD_TIMEOUT);
    println!("{line}");
    assert!(line.contains("failed to build"), "{line}");

    post(&host.api, 0..TYPESCRIPT.body);
    wait_for_ids(&host, TYPESCRIPT.body);
    let versions = versions(&host);
    assert!(!versions.is_empty());
    assert!(
        versions.iter().all(|(_, edited)| !edited),
        "the original function processed every order"
    );
    let revenue: Value = ureq::get(&format!("{}/api/revenue?limit=1", host.api))
        .call()
        .expect("the API still answers")
        .body_mut()
        .read_json()
        .expect("JSON");
    assert!(revenue.is_array(), "{revenue}");
    assert!(host.stop(), "the host stops cleanly");
}

fn columns(host: &DevHost, table: &str) -> Vec<(String, String)> {
    host.query(&format!(
        "SELECT name, type FROM system.columns WHERE database = 'local' AND table = '{table}' \
         ORDER BY position"
    ))
    .iter()
    .map(|c| {
        let text = |key: &str| c[key].as_str().expect(key).to_string();
        (text("name"), text("type"))
    })
    .collect()
}

/// Whether the served catalog and OpenAPI document and `.moose/openapi.json` have `path`.
fn published(host: &DevHost, path: &str) -> bool {
    let catalog = host.management_json("/catalog");
    let in_catalog = catalog["ingest"]
        .as_array()
        .expect("ingest")
        .iter()
        .any(|i| i["path"] == path);
    let served = host.management_json("/openapi.json");
    let file = std::fs::read(host.dir.path().join(".moose/openapi.json")).expect("openapi.json");
    let written: Value = serde_json::from_slice(&file).expect("JSON");
    in_catalog && served["paths"][path].is_object() && written["paths"][path].is_object()
}

#[test]
fn a_reload_that_changes_infrastructure_migrates_and_serves_the_new_routes() {
    built_guest(RUST.app);
    let host = DevHost::start(RUST.app);
    post(&host.api, 0..200);
    wait_for_ids(&host, 200);
    host.wait_for_count("SELECT count() AS n FROM `Order`", 200);
    let refund = |i: usize, quantity: u64| json!({ "id": format!("r{i}"), "order_id": format!("o{i}"), "quantity": quantity });
    assert_eq!(host.post_records("/ingest/Refund", &[refund(0, 1)]).0, 404);
    assert!(!published(&host, "/ingest/Refund"));

    // A nullable column on Order and a new model with its ingest pipeline.
    edit(
        &host,
        RUST.source,
        "pub amount: f64,\n    pub ts: DateTime,\n}",
        "pub amount: f64,\n    pub ts: DateTime,\n    pub note: Option<String>,\n}\n\n\
         /// A refund of an order.\n\
         #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]\n\
         pub struct Refund {\n    #[moose(key)]\n    pub id: String,\n    pub order_id: String,\n    \
         pub quantity: u32,\n}",
    );
    edit(
        &host,
        RUST.source,
        "    app.api(\"revenue\", revenue);",
        "    app.ingest_pipeline::<Refund>(\"Refund\", PipelineConfig::default());\n    \
         app.api(\"revenue\", revenue);",
    );
    let lines = host.wait_for_reload(RUST.component, RELOAD_TIMEOUT);
    println!("{}", lines.join("\n"));
    for expected in [
        "reload quickstart: applied ~ table Order: add column `note` Nullable(String) [safe]",
        "reload quickstart: applied + table Refund: ",
        "reload quickstart: applied + stream Refund: ",
        "reload quickstart: serving POST /ingest/Refund",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "{expected:?} in {lines:#?}"
        );
    }
    let steps = lines.last().expect("steps");
    for step in ["build ", "load ", "describe ", "plan ", "apply ", "swap "] {
        assert!(steps.contains(step), "{steps}");
    }
    assert!(
        !lines.iter().any(|l| l.contains("destructive")),
        "{lines:#?}"
    );

    // The column exists, the old rows are intact and read it as NULL.
    assert_eq!(
        columns(&host, "Order"),
        [
            ("id", "String"),
            ("customer", "String"),
            ("amount", "Float64"),
            ("ts", "DateTime"),
            ("note", "Nullable(String)"),
        ]
        .map(|(n, t)| (n.to_string(), t.to_string()))
    );
    host.wait_for_count("SELECT count() AS n FROM `Order` WHERE note IS NULL", 200);
    let noted = json!({ "id": "o200", "customer": "c1", "amount": 3.5, "ts": "2024-05-01T00:00:00Z", "note": "gift" });
    assert_eq!(host.post_records("/ingest/Order", &[noted]).0, 200);
    host.wait_for_count("SELECT count() AS n FROM `Order` WHERE note = 'gift'", 1);

    // The new route accepts records that reach their table; catalog and OpenAPI know it.
    let refunds: Vec<Value> = (0..10).map(|i| refund(i, i as u64 + 1)).collect();
    let (status, answer) = host.post_records("/ingest/Refund", &refunds);
    assert_eq!((status, &answer["accepted"]), (200, &json!(10)), "{answer}");
    host.wait_for_count("SELECT sum(quantity) AS n FROM Refund", 55);
    assert!(published(&host, "/ingest/Refund"));

    // A type change is destructive: applied in dev with a warning, the rows converted.
    edit(
        &host,
        RUST.source,
        "pub quantity: u32,",
        "pub quantity: u64,",
    );
    let lines = host.wait_for_reload(RUST.component, RELOAD_TIMEOUT);
    println!("{}", lines.join("\n"));
    assert!(
        lines.iter().any(|l| l
            == "reload quickstart: warning: destructive change applied in dev: \
                ~ table Refund: change type of `quantity` UInt32 -> UInt64 [DESTRUCTIVE]"),
        "{lines:#?}"
    );
    assert_eq!(
        columns(&host, "Refund")[2],
        ("quantity".into(), "UInt64".into())
    );
    host.wait_for_count("SELECT sum(quantity) AS n FROM Refund", 55);
    let big = refund(10, u64::from(u32::MAX) + 1);
    assert_eq!(host.post_records("/ingest/Refund", &[big]).0, 200);
    host.wait_for_count(
        "SELECT count() AS n FROM Refund WHERE quantity > 4294967295",
        1,
    );
    assert!(host.stop(), "the host stops cleanly");
}
