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
use moose_olap::{EmbeddedClickHouse, EmbeddedOptions, OlapClient, OlapConfig};
use moose_pipeline::lease::{Lease, LockOptions, MigrationLock, LEASE_TABLE};
use moose_pipeline::windows::state::{check_store_contract, Progress, Update};
use moose_pipeline::windows::{clickhouse::CLEANUP_EVERY, ClickHouseStateStore, StateStore};
use moose_streams::kafka::{KafkaConfig, KafkaStreams};
use moose_streams::Streams;
use moose_tests::prod::{save_plan, Artifact, Image, Infrastructure, Replica, ReplicaStack};
use moose_tests::windows::{
    self as windows, assert_matches_recomputation, count, ingest_caught_up, post, wait_caught_up,
    AGGREGATIONS, CHUNK, ORDERS,
};
use moose_tests::{copy_of_app, moose_bin};
use serde_json::{json, Value};

mod leases;
mod migrations;
mod replicas;
mod windowed;

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

/// A client of the engine at `url`.
fn engine_client(url: &str) -> OlapClient {
    OlapClient::new(OlapConfig::embedded(&ClickHouseSection::default(), url)).expect("client")
}
