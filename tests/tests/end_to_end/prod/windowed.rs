//! Windowed aggregations across replicas and their state store in ClickHouse.

use super::*;

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
