//! `moose prod` from a built artifact of the quickstart, against an external ClickHouse
//! (chDB's HTTP server, outliving the replicas) and a Kafka-compatible broker (tansu):
//! two replicas started from the unpacked production image migrate once and lose nothing
//! acknowledged when one is killed; a drifted database and an unreviewed destructive
//! change are refused, and the reviewed plan of that change applies; SIGTERM drains and commits; the migration lock admits one holder
//! at a time; a lease holder cut off from ClickHouse knows it lost the lease before
//! another takes it; the ClickHouse window state store reopens at its latest snapshot;
//! windowed aggregations (`tests/guests/windowed-rs`) move to the other replica when the
//! holder of their lease is killed and still match a recomputation; cold start to ready
//! is measured from precompiled and raw components.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use moose_host::config::ClickHouseSection;
use moose_host::infra_map::state;
use moose_host::olap::{EmbeddedClickHouse, EmbeddedOptions, OlapClient, OlapConfig};
use moose_host::prod::{Lease, LockOptions, MigrationLock, LEASE_TABLE};
use moose_host::stream::kafka::{KafkaConfig, KafkaStreams};
use moose_host::stream::Streams;
use moose_host::windows::state::{check_store_contract, Progress, Update};
use moose_host::windows::{clickhouse::CLEANUP_EVERY, ClickHouseStateStore, StateStore};
use moose_tests::prod::{save_plan, Artifact, Image, Infrastructure, Replica, ReplicaStack};
use moose_tests::windows::{
    self as windows, assert_matches_recomputation, count, ingest_caught_up, post, wait_caught_up,
    AGGREGATIONS, CHUNK, ORDERS,
};
use moose_tests::{copy_of_app, moose_bin};
use serde_json::{json, Value};

/// Records per ingest request.
const BATCH: usize = 50;

fn order(id: &str, i: usize) -> String {
    json!({
        "id": id, "customer": format!("c{}", i % 7), "amount": 1.0 + (i % 100) as f64,
        "ts": "2024-05-01T10:00:00Z",
    })
    .to_string()
}

/// Sends one batch of orders with ids `{prefix}{from..from+BATCH}`; their ids when the
/// host acknowledged them (HTTP 200), else the error.
fn send_batch(api: &str, prefix: &str, from: usize) -> Result<Vec<String>, String> {
    let ids: Vec<String> = (from..from + BATCH)
        .map(|i| format!("{prefix}{i}"))
        .collect();
    let body: Vec<String> = ids.iter().zip(from..).map(|(id, i)| order(id, i)).collect();
    match ureq::post(&format!("{api}/ingest/Order"))
        .config()
        .http_status_as_error(false)
        .build()
        .content_type("application/x-ndjson")
        .send(body.join("\n"))
    {
        Ok(response) if response.status() == 200 => Ok(ids),
        Ok(mut response) => Err(format!(
            "HTTP {}: {}",
            response.status(),
            response.body_mut().read_to_string().unwrap_or_default()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The distinct ids of `table` and how many rows it has.
fn stored(infra: &Infrastructure, table: &str) -> (BTreeSet<String>, u64) {
    let rows = infra.query(&format!("SELECT id FROM `{table}`"));
    let total = rows.len() as u64;
    let ids = rows
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    (ids, total)
}

/// Waits until `table` holds every id of `expected`.
fn wait_for_ids(
    infra: &Infrastructure,
    table: &str,
    expected: &BTreeSet<String>,
    replicas: &[&Replica],
) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (ids, _) = stored(infra, table);
        let missing = expected.difference(&ids).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{table}: {missing} of {} acknowledged records missing; warnings: {:#?}",
            expected.len(),
            replicas.iter().map(|r| r.warnings()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The `/ps` row of function or table `name`.
fn ps_row(replica: &Replica, name: &str) -> Value {
    replica.ps()["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no `{name}` in /ps"))
}

#[test]
fn two_replicas_migrate_once_and_lose_nothing_acknowledged_when_one_is_killed() {
    let infra = Infrastructure::start();
    let image = Image::quickstart(&infra);
    let env = infra.env();
    let mut a = Replica::spawn_image("replica-a", &image, &env);
    let mut b = Replica::spawn_image("replica-b", &image, &env);
    a.wait_ready();
    b.wait_ready();

    // The migration ran exactly once: one applied state, one replica applied it and the
    // other found it applied, both under the lock.
    let states = infra.query("SELECT version FROM _moose_state");
    assert_eq!(states, vec![json!({"version": 1})]);
    let releases = infra.query(&format!(
        "SELECT replica, note FROM {LEASE_TABLE} WHERE lease = 'migration' AND event = 'release' ORDER BY at"
    ));
    let mut notes: Vec<(String, String)> = releases
        .iter()
        .map(|r| {
            let replica = r["replica"].as_str().expect("replica");
            let name = replica
                .rsplit_once('-')
                .map_or(replica, |(host, _pid)| host);
            (
                name.to_string(),
                r["note"].as_str().expect("note").to_string(),
            )
        })
        .collect();
    notes.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].1, "already applied (v1)");
    assert_eq!(notes[1].1, "applied the plan as v1");
    assert_ne!(notes[0].0, notes[1].0, "two different replicas: {notes:?}");
    for replica in [&a, &b] {
        let (_, note) = notes
            .iter()
            .find(|(name, _)| *name == replica.name)
            .expect("a release per replica");
        let logged = format!("migration plan: {note}");
        assert!(
            replica.messages().iter().any(|m| m.starts_with(&logged)),
            "{} logged no {logged:?}",
            replica.name
        );
    }

    // Both take ingest at once. Once both replicas' functions are processing, A is killed
    // mid-stream; B keeps taking ingest for another 40 requests.
    let (acked_tx, acked_rx) = mpsc::channel::<(char, Vec<String>)>();
    let stop = Arc::new(AtomicBool::new(false));
    let feeders: Vec<_> = [('a', a.api.clone()), ('b', b.api.clone())]
        .into_iter()
        .map(|(which, api)| {
            let (tx, stop) = (acked_tx.clone(), stop.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match send_batch(&api, &format!("{which}-"), n * BATCH) {
                        Ok(ids) => tx.send((which, ids)).expect("collector"),
                        // The request in flight when A died may or may not have been stored.
                        Err(e) => {
                            eprintln!("feeder {which} stops at request {n}: {e}");
                            return (n * BATCH..(n + 1) * BATCH)
                                .map(|i| format!("{which}-{i}"))
                                .collect::<Vec<_>>();
                        }
                    }
                }
                vec![]
            })
        })
        .collect();
    drop(acked_tx);
    let processing = |replica: &Replica| ps_row(replica, "enrich_order")["in"] != 0;
    let mut acked = BTreeSet::new();
    let mut killed_at = None;
    let mut b_after_kill = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while b_after_kill < 40 {
        let (which, ids) = acked_rx.recv().expect("B's feeder runs");
        acked.extend(ids);
        if killed_at.is_some() {
            b_after_kill += usize::from(which == 'b');
        } else if acked.len() >= 40 * BATCH && processing(&a) && processing(&b) {
            a.kill();
            killed_at = Some(acked.len());
        }
        assert!(
            Instant::now() < deadline,
            "the replicas never both processed"
        );
    }
    stop.store(true, Ordering::SeqCst);
    acked.extend(acked_rx.iter().flat_map(|(_, ids)| ids));
    let mut unknown = BTreeSet::new();
    for feeder in feeders {
        unknown.extend(feeder.join().expect("feeder"));
    }
    // Records A may have read: those acknowledged before the kill and one request per
    // feeder.
    let readable_by_a = (killed_at.expect("A was killed") + 2 * BATCH) as u64;

    for table in ["Order", "OrderEnriched"] {
        wait_for_ids(&infra, table, &acked, &[&b]);
        let (ids, rows) = stored(&infra, table);
        let unexpected: Vec<&String> = ids
            .difference(&acked)
            .filter(|id| !unknown.contains(*id))
            .collect();
        assert!(unexpected.is_empty(), "{table}: never sent {unexpected:?}");
        let duplicates = rows - ids.len() as u64;
        eprintln!(
            "{table}: {} acknowledged, {} stored ({} unacknowledged from the killed request), {duplicates} duplicates",
            acked.len(),
            ids.len(),
            ids.len() - acked.len()
        );
        // At-least-once: only what A had read and not committed when it died runs again.
        assert!(
            duplicates <= readable_by_a,
            "{table}: {duplicates} duplicates"
        );
    }
    let enrich = ps_row(&b, "enrich_order");
    assert!(enrich["in"].as_u64().expect("in") > 0, "{enrich}");
    assert!(b.terminate().success(), "B stops cleanly");
}

#[test]
fn refuses_to_start_without_external_infrastructure_or_when_the_database_drifted() {
    let infra = Infrastructure::start();
    let artifact = Artifact::quickstart(&infra);
    let env = infra.env();

    let missing = std::process::Command::new(moose_bin())
        .arg("prod")
        .arg(artifact.root())
        .envs(
            env.iter()
                .filter(|(k, _)| k != "MOOSE_CLICKHOUSE_URL")
                .cloned(),
        )
        .env("MOOSE_LOG_FORMAT", "text")
        .output()
        .expect("moose prod runs");
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains("set MOOSE_CLICKHOUSE_URL") && error.contains("never starts the embedded"),
        "{error}"
    );

    let mut first = Replica::spawn("first", artifact.root(), &env);
    first.wait_ready();
    assert!(first.terminate().success());

    // Someone drops a column by hand and records the result as a new state: the
    // database is neither where the plan starts nor where it leads.
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let client = OlapClient::new(OlapConfig::embedded(
            &ClickHouseSection::default(),
            infra.clickhouse.url(),
        ))
        .expect("client");
        let applied = state::read(&client).await.expect("state").expect("applied");
        let mut map = applied.map.clone();
        let order = map.tables.get_mut("Order").expect("table Order");
        order.columns.retain(|c| c.name != "customer");
        client
            .execute("ALTER TABLE `Order` DROP COLUMN `customer`")
            .await
            .expect("drop column");
        let target = client.target().await.expect("target");
        state::record(&client, &target, Some(&applied), &map, "by hand")
            .await
            .expect("record");
    });

    let mut second = Replica::spawn("second", artifact.root(), &env);
    let status = second.wait_exit();
    assert!(!status.success());
    let errors: Vec<String> = second
        .logs()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    let error = errors.join("\n");
    assert!(
        error.contains("the database drifted from the reviewed plan")
            && error.contains("its applied state is v2")
            && error.contains("table Order: add column `customer`"),
        "{error}"
    );
    assert_eq!(
        infra.count("SELECT count() AS n FROM _moose_state"),
        2,
        "nothing applied"
    );
    let refused = infra.query(&format!(
        "SELECT note FROM {LEASE_TABLE} WHERE lease = 'migration' AND event = 'release' AND startsWith(note, 'refused')"
    ));
    assert_eq!(refused.len(), 1, "the refusal is recorded: {refused:?}");
}

/// The quickstart edited with destructive changes: `Order.ts` renamed to `placed_at` and
/// `OrderEnriched.amount_cents` narrowed to Int32.
fn destructively_edited_quickstart() -> tempfile::TempDir {
    let dir = copy_of_app("examples/quickstart");
    let source = dir.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&source).expect("source");
    let edited = [
        (
            "pub amount: f64,\n    pub ts: DateTime,\n}",
            "pub amount: f64,\n    pub placed_at: DateTime,\n}",
        ),
        ("order.ts", "order.placed_at"),
        ("pub amount_cents: i64,", "pub amount_cents: i32,"),
        (".round() as i64", ".round() as i32"),
    ]
    .iter()
    .fold(text, |text, (from, to)| {
        assert!(text.contains(from), "{from:?} is not in the quickstart");
        text.replace(from, to)
    });
    std::fs::write(&source, edited).expect("source");
    dir
}

/// Production applies destructive changes only through a plan reviewed against the live
/// database: an artifact of the edited quickstart whose plan was made before v1 was applied
/// is refused, naming each destructive change, and changes nothing; once its plan is made
/// again against the database (`moose plan --save`), the same artifact applies it.
#[test]
fn an_unreviewed_destructive_change_is_refused_and_the_reviewed_plan_applies() {
    let infra = Infrastructure::start();
    let env = infra.env();
    let app = destructively_edited_quickstart();
    let app = app.path().to_str().expect("UTF-8 path");
    // Planned against the database while it was still empty: not reviewed against v1.
    let edited = Artifact::of(&infra, app);
    let v1 = Artifact::quickstart(&infra);
    let mut first = Replica::spawn("v1", v1.root(), &env);
    first.wait_ready();
    assert!(first.terminate().success());
    let columns = |table: &str| {
        infra
            .query(&format!(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() \
                 AND table = '{table}' ORDER BY position"
            ))
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["name"].as_str().expect("name"),
                    c["type"].as_str().expect("type")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let order_v1 = columns("Order");
    assert!(order_v1.contains("ts DateTime"), "{order_v1}");

    let mut unreviewed = Replica::spawn("unreviewed", edited.root(), &env);
    assert!(
        !unreviewed.wait_exit().success(),
        "the unreviewed plan is refused"
    );
    let error = unreviewed
        .logs()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.contains("the database drifted from the reviewed plan"),
        "{error}"
    );
    for change in [
        "~ table Order: add column `placed_at` DateTime",
        "~ table Order: drop column `ts` DateTime (possible rename to `placed_at`) [DESTRUCTIVE]",
        "~ table OrderEnriched: change type of `amount_cents` Int64 -> Int32 [DESTRUCTIVE]",
    ] {
        assert!(error.contains(change), "{change:?} is not in:\n{error}");
    }
    assert_eq!(columns("Order"), order_v1, "nothing was applied");

    save_plan(&infra, app, &edited.root().join("plan.json"));
    let mut reviewed = Replica::spawn("reviewed", edited.root(), &env);
    reviewed.wait_ready();
    assert!(
        reviewed
            .messages()
            .iter()
            .any(|m| m.contains("applied the plan as v2")),
        "{:?}",
        reviewed.messages()
    );
    assert_eq!(
        columns("Order"),
        "id String, customer String, amount Float64, placed_at DateTime"
    );
    assert!(
        columns("OrderEnriched").contains("amount_cents Int32"),
        "{}",
        columns("OrderEnriched")
    );
    assert!(reviewed.terminate().success());
}

#[test]
fn sigterm_drains_and_commits_so_a_restarted_replica_reprocesses_nothing_committed() {
    let infra = Infrastructure::start();
    let artifact = Artifact::quickstart(&infra);
    let env = infra.env();
    let mut first = Replica::spawn("first", artifact.root(), &env);
    first.wait_ready();
    let mut acked = BTreeSet::new();
    for n in 0..60 {
        acked.extend(send_batch(&first.api, "t-", n * BATCH).expect("acknowledged"));
    }
    // Stop while records flow through the function and the syncs.
    let deadline = Instant::now() + Duration::from_secs(120);
    while ps_row(&first, "enrich_order")["in"] == 0 {
        assert!(Instant::now() < deadline, "the function never read");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(first.terminate().success(), "exit 0 after draining");
    let messages = first.messages();
    assert!(
        messages.iter().any(|m| m.starts_with("stopping"))
            && messages.iter().any(|m| m == "stopped"),
        "{messages:?}"
    );

    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let lag = tokio.block_on(async {
        let streams =
            KafkaStreams::connect(KafkaConfig::new(infra.tansu.address.clone())).expect("kafka");
        streams
            .lag("Order", "function:enrich_order")
            .await
            .expect("lag")
    });
    // Every acknowledged record is in the stream. (tansu's high watermarks may trail the
    // last batch, so they are not used.)
    let end = acked.len() as u64;
    let committed: u64 = lag.iter().map(|p| p.committed).sum();

    let mut second = Replica::spawn("second", artifact.root(), &env);
    second.wait_ready();
    wait_for_ids(&infra, "OrderEnriched", &acked, &[&second]);
    wait_for_ids(&infra, "Order", &acked, &[&second]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let enrich = loop {
        let row = ps_row(&second, "enrich_order");
        if row["lag"] == 0 {
            break row;
        }
        assert!(Instant::now() < deadline, "{row}");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "at SIGTERM the function had committed {committed} of {end}; the restarted replica read {}",
        enrich["in"]
    );
    assert_eq!(
        enrich["in"].as_u64(),
        Some(end - committed),
        "the restarted replica reads exactly what was not committed"
    );
    for table in ["Order", "OrderEnriched"] {
        let (ids, rows) = stored(&infra, table);
        assert_eq!(ids, acked, "{table}");
        assert_eq!(rows, acked.len() as u64, "{table}: no duplicates");
    }
    assert!(second.terminate().success());
}

#[test]
fn the_migration_lock_admits_one_holder_at_a_time_and_expires_with_its_holder() {
    let data = tempfile::tempdir().expect("temp dir");
    let engine =
        EmbeddedClickHouse::start_with(data.path(), EmbeddedOptions::default()).expect("chDB");
    let url = engine.url().to_string();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let options = LockOptions {
        lease: Duration::from_secs(10),
        settle: Duration::from_millis(300),
        poll: Duration::from_millis(100),
    };
    let client = |url: &str| {
        OlapClient::new(OlapConfig::embedded(&ClickHouseSection::default(), url)).expect("client")
    };
    tokio.block_on(async {
        let holders = Arc::new(AtomicUsize::new(0));
        let contenders: Vec<_> = (0..4)
            .map(|i| {
                let (client, options, holders) = (client(&url), options.clone(), holders.clone());
                tokio::spawn(async move {
                    for round in 0..2 {
                        let lock = MigrationLock::acquire(&client, &format!("c{i}"), &options)
                            .await
                            .expect("acquire");
                        assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        holders.fetch_sub(1, Ordering::SeqCst);
                        lock.release(&format!("c{i} round {round}"))
                            .await
                            .expect("release");
                    }
                })
            })
            .collect();
        for contender in contenders {
            contender.await.expect("contender");
        }

        // A holder that dies (its lock dropped unreleased, renewals stop) blocks the
        // others only until its lease runs out.
        let short = LockOptions {
            lease: Duration::from_secs(2),
            ..options.clone()
        };
        let dead = MigrationLock::acquire(&client(&url), "dead", &short)
            .await
            .expect("acquire");
        drop(dead);
        let next = MigrationLock::acquire(&client(&url), "next", &options)
            .await
            .expect("acquire after expiry");
        next.release("after expiry").await.expect("release");
    });
    let rows: Vec<Value> = ureq::post(&url)
        .query("database", "local")
        .query("default_format", "JSONEachRow")
        .send(format!(
            "SELECT replica, event, note FROM {LEASE_TABLE} WHERE lease = 'migration' AND event IN ('release', 'claim') ORDER BY at"
        ))
        .expect("query")
        .body_mut()
        .read_to_string()
        .expect("body")
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    let released: Vec<&str> = rows
        .iter()
        .filter(|r| r["event"] == "release")
        .filter_map(|r| r["note"].as_str())
        .collect();
    assert_eq!(released.len(), 9, "{released:?}");
    assert_eq!(released.last(), Some(&"after expiry"));
    assert!(rows
        .iter()
        .any(|r| r["replica"] == "dead" && r["event"] == "claim"));
    assert!(!rows
        .iter()
        .any(|r| r["replica"] == "dead" && r["event"] == "release"));
}

#[test]
fn cold_start_to_ready_from_precompiled_and_from_raw_components() {
    let infra = Infrastructure::start();
    let precompiled = Artifact::quickstart(&infra);
    let raw = precompiled.without_precompiled();
    let env = infra.env();
    // The first start applies the plan; the measured ones find it applied.
    let mut first = Replica::spawn("first", precompiled.root(), &env);
    first.wait_ready();
    assert!(first.terminate().success());

    let mut times: Vec<(&str, Vec<Duration>)> = vec![("cwasm", vec![]), ("wasm", vec![])];
    for _round in 0..3 {
        for (label, artifact, loaded) in [
            ("cwasm", &precompiled, "precompiled)"),
            ("wasm", &raw, "compiled)"),
        ] {
            let mut replica = Replica::spawn(label, artifact.root(), &env);
            let elapsed = replica.wait_ready();
            let messages = replica.messages();
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with("loaded quickstart")
                        && m.ends_with(&format!(", {loaded}"))),
                "{messages:?}"
            );
            assert!(replica.terminate().success());
            times
                .iter_mut()
                .find(|(l, _)| *l == label)
                .expect("label")
                .1
                .push(elapsed);
        }
    }
    for (label, mut runs) in times {
        runs.sort();
        let ms: Vec<u128> = runs.iter().map(Duration::as_millis).collect();
        eprintln!(
            "cold start to /ready 200 from .{label}: median {} ms of {ms:?} ms",
            ms[ms.len() / 2]
        );
    }
}

/// The live holder (host name, without the process id) of lease `name`, if any.
fn lease_holder(infra: &Infrastructure, name: &str) -> Option<String> {
    infra
        .query(&format!(
            "SELECT any(replica) AS replica FROM {LEASE_TABLE} WHERE lease = '{name}' GROUP BY claim \
             HAVING countIf(event = 'claim') > 0 AND countIf(event IN ('withdraw', 'release')) = 0 \
             AND max(expires_at) > now64(6) ORDER BY min(at) LIMIT 1"
        ))
        .first()
        .and_then(|row| row["replica"].as_str())
        .map(|replica| replica.rsplit_once('-').map_or(replica, |(host, _)| host).to_string())
}

/// Two replicas run the windowed-orders app of `tests/guests/windowed-rs` from its
/// artifact, with 6 s leases: each aggregation runs on the replica holding its lease and
/// reads every partition. Orders go in through both replicas; the holder of
/// `customer_totals_1m` is killed (SIGKILL) right after a batch was acknowledged, the
/// orders go on through the other, which takes the lease over; every closed window's
/// rows then equal a recomputation over the raw orders, each window stored once.
#[test]
fn windowed_aggregations_move_to_the_other_replica_when_their_holder_is_killed() {
    let infra = Infrastructure::start();
    let artifact = Artifact::of(&infra, "tests/guests/windowed-rs");
    let mut env = infra.env();
    env.push(("MOOSE_LEASE_SECONDS".to_string(), "6".to_string()));
    let mut a = Replica::spawn("replica-a", artifact.root(), &env);
    let mut b = Replica::spawn("replica-b", artifact.root(), &env);
    a.wait_ready();
    b.wait_ready();
    let lease = "window:customer_totals_1m";
    let deadline = Instant::now() + Duration::from_secs(120);
    let first_holder = loop {
        if let Some(holder) = lease_holder(&infra, lease) {
            break holder;
        }
        assert!(Instant::now() < deadline, "nobody took lease {lease}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let (mut holder, survivor) = if first_holder == a.name {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(holder.name, first_holder);

    for (k, start) in (0..2000).step_by(CHUNK).enumerate() {
        let via = if k % 2 == 0 { &holder } else { &survivor };
        let stack = ReplicaStack {
            replica: via,
            infra: &infra,
        };
        post(
            &stack,
            &(start..start + CHUNK)
                .map(windows::order)
                .collect::<Vec<_>>(),
        );
        wait_caught_up(&stack);
    }
    let on_survivor = ReplicaStack {
        replica: &survivor,
        infra: &infra,
    };
    assert!(
        count(&on_survivor, "SELECT count() AS n FROM customer_totals_1m") > 0,
        "closed windows were emitted before the kill"
    );
    post(
        &ReplicaStack {
            replica: &holder,
            infra: &infra,
        },
        &(2000..2000 + CHUNK).map(windows::order).collect::<Vec<_>>(),
    );
    holder.kill();

    ingest_caught_up(&on_survivor, 2000 + CHUNK..ORDERS);
    let watermark = windows::flush(&on_survivor, windows::last_order_ms());
    assert_eq!(
        lease_holder(&infra, lease).as_deref(),
        Some(survivor.name.as_str()),
        "the survivor took the lease over"
    );
    for (name, size, hop) in AGGREGATIONS {
        assert_matches_recomputation(&on_survivor, name, size, hop, watermark);
    }
    let mut survivor = survivor;
    assert!(survivor.terminate().success());
}

fn engine_client(url: &str) -> OlapClient {
    OlapClient::new(OlapConfig::embedded(&ClickHouseSection::default(), url)).expect("client")
}

/// The ClickHouse window state store against the real engine: every write is one row,
/// a reopened store reads the latest snapshot, and old snapshots are deleted.
#[test]
fn the_clickhouse_window_state_store_reopens_at_the_latest_snapshot() {
    let data = tempfile::tempdir().expect("temp dir");
    let engine =
        EmbeddedClickHouse::start_with(data.path(), EmbeddedOptions::default()).expect("chDB");
    let client = engine_client(engine.url());
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let open = || {
        tokio
            .block_on(ClickHouseStateStore::open(&client))
            .expect("opens")
    };
    check_store_contract(open);
    let store = open();
    let progress = |watermark: i64, offsets: &[(u32, u64)]| Progress {
        max_event_ms: Some(watermark),
        watermark: Some(watermark),
        offsets: offsets.iter().copied().collect(),
        partition_event_ms: offsets.iter().map(|(p, _)| (*p, watermark)).collect(),
    };
    let rows = |aggregation: &str| {
        moose_tests::clickhouse_rows(
            engine.url(),
            "local",
            &format!(
                "SELECT count() AS n FROM _moose_window_state WHERE aggregation = '{aggregation}'"
            ),
        )[0]["n"]
            .as_u64()
            .expect("count")
    };
    assert_eq!(rows("agg"), 4, "one row per write");

    for i in 0..CLEANUP_EVERY {
        let update = Update {
            progress: progress(i as i64, &[(0, i)]),
            ..Update::default()
        };
        store.commit("many", "v1", &update).expect("commit");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows("many") > 1 {
        assert!(Instant::now() < deadline, "old snapshots are deleted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let last = CLEANUP_EVERY - 1;
    assert_eq!(
        open().load("many").expect("load").progress,
        progress(last as i64, &[(0, last)]),
        "the latest of many snapshots"
    );
}

/// Forwards TCP connections on a fresh local port to `target` until `cut` fires; then
/// it closes every connection and refuses new ones.
async fn cuttable_forwarder(
    target: std::net::SocketAddr,
    cut: tokio::sync::oneshot::Receiver<()>,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        let mut cut = cut;
        loop {
            tokio::select! {
                _ = &mut cut => {
                    connections.abort_all();
                    return;
                }
                accepted = listener.accept() => {
                    if let Ok((mut inbound, _)) = accepted {
                        connections.spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                }
            }
        }
    });
    address
}

/// A lease holder cut off from ClickHouse (its renewals fail) knows it lost the lease
/// before another replica can take it; leases of other names are independent.
#[test]
fn a_lease_holder_whose_renewals_fail_stops_before_another_takes_over() {
    let data = tempfile::tempdir().expect("temp dir");
    let engine =
        EmbeddedClickHouse::start_with(data.path(), EmbeddedOptions::default()).expect("chDB");
    let url = engine.url().to_string();
    let target: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("engine address");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let options = LockOptions {
        lease: Duration::from_secs(3),
        settle: Duration::from_millis(300),
        poll: Duration::from_millis(100),
    };
    tokio.block_on(async {
        let (cut, cut_signal) = tokio::sync::oneshot::channel();
        let proxy = cuttable_forwarder(target, cut_signal).await;
        let held = Lease::acquire(
            &engine_client(&format!("http://{proxy}")),
            "window:t",
            "a",
            &options,
        )
        .await
        .expect("acquire");
        let lost = held.lost();
        let other = Lease::acquire(&engine_client(&url), "window:u", "b", &options)
            .await
            .expect("another lease is free");
        // Held through several renewals.
        tokio::time::sleep(options.lease * 2).await;
        assert!(!lost.is_cancelled(), "renewed while reachable");

        cut.send(()).expect("cut");
        let taker = {
            let (url, options) = (url.clone(), options.clone());
            tokio::spawn(async move {
                let lease = Lease::acquire(&engine_client(&url), "window:t", "c", &options)
                    .await
                    .expect("acquire after expiry");
                (Instant::now(), lease)
            })
        };
        lost.cancelled().await;
        let lost_at = Instant::now();
        let (taken_at, taken) = taker.await.expect("taker");
        assert!(
            lost_at < taken_at,
            "the holder knew it had lost the lease before another took it"
        );
        assert!(!taken.lost().is_cancelled());
        taken.release("done").await.expect("release");
        other.release("done").await.expect("release");
        drop(held);
    });
}
