//! Hot reload in `moose dev` on the TypeScript quickstart: an edit of the streaming
//! function while orders stream in is rebuilt and swapped in between batches without
//! losing a record, and an edit that does not build leaves the old version serving.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use moose_tests::{built_guest, DevHost};
use serde_json::{json, Value};

const APP: &str = "examples/quickstart-ts";
const ORDERS: usize = 50_000;
const BODY: usize = 1_000;
/// Bodies posted before the function is edited.
const BEFORE_EDIT: usize = 5;
/// Bodies held back until the reload is done, so they surely meet the new version.
const AFTER_RELOAD: usize = 10;
/// Longest a rebuild (type check, bundle, componentize) plus precompile may take.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The tier expression of the quickstart's `enrichOrder`, and the edit: orders from 100
/// to below 500 become "small" instead of "medium".
const TIER_BEFORE: &str = r#"order.amount < 100 ? "small""#;
const TIER_AFTER: &str = r#"order.amount < 500 ? "small""#;

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

fn edit(host: &DevHost, from: &str, to: &str) {
    let path = host.dir.path().join("app.ts");
    let text = std::fs::read_to_string(&path).expect("app.ts");
    assert!(text.contains(from), "app.ts no longer contains {from}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("writing app.ts");
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

#[test]
fn an_edited_function_is_swapped_in_between_batches_without_losing_records() {
    built_guest(APP);
    let host = DevHost::start(APP);
    let posted = AtomicUsize::new(0);
    let reloaded = AtomicBool::new(false);
    let bodies = ORDERS / BODY;
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
                post(&api, b * BODY..(b + 1) * BODY);
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
        edit(&host, TIER_BEFORE, TIER_AFTER);
        let line = host.wait_for_line("reload quickstart-ts: build", RELOAD_TIMEOUT);
        reloaded.store(true, Ordering::Release);
        println!("{line}");
        ingest.join().expect("ingest thread")
    });

    wait_for_ids(&host, ORDERS);
    let ids: BTreeSet<usize> = host
        .query("SELECT DISTINCT id FROM OrderEnriched")
        .iter()
        .map(|row| row["id"].as_str().expect("id")[1..].parse().expect("id"))
        .collect();
    assert_eq!(ids, (0..ORDERS).collect(), "every order, each once");
    let rows = host.query("SELECT count() AS n FROM OrderEnriched")[0]["n"]
        .as_u64()
        .expect("count") as usize;
    let duplicates = rows - ORDERS;
    println!("{duplicates} duplicate rows of {ORDERS} orders");
    assert!(
        duplicates <= BODY,
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
        let body = i / BODY;
        if body < BEFORE_EDIT {
            assert!(!edited, "order {i} was posted before the edit");
        }
        if body >= first_after_reload {
            assert!(edited, "order {i} was posted after the reload");
        }
    }
    let checked = (0..ORDERS)
        .filter(|i| tells_versions_apart(*i) && i / BODY >= first_after_reload)
        .count();
    assert!(
        checked > 0,
        "no order after the reload told the versions apart"
    );
    assert!(host.stop(), "the host stops cleanly");
}

#[test]
fn a_build_error_keeps_the_old_version_serving() {
    built_guest(APP);
    let host = DevHost::start(APP);
    let path = host.dir.path().join("app.ts");
    let mut text = std::fs::read_to_string(&path).expect("app.ts");
    text.push_str("\nconst broken: number = \"not a number\";\n");
    std::fs::write(&path, text).expect("writing app.ts");
    let line = host.wait_for_line("reload quickstart-ts failed", RELOAD_TIMEOUT);
    println!("{line}");
    assert!(line.contains("failed to build"), "{line}");

    post(&host.api, 0..BODY);
    wait_for_ids(&host, BODY);
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
