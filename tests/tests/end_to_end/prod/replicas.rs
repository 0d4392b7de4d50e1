//! Replicas of one app: two migrate once and lose nothing when one is killed, SIGTERM drains and commits, cold start from precompiled and raw components.

use super::*;

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
    // mid-stream; B keeps taking ingest for another 40 requests. The feeders count what
    // was acknowledged themselves: the collector below may trail them by many requests.
    let (acked_tx, acked_rx) = mpsc::channel::<(char, bool, Vec<String>)>();
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let feeders: Vec<_> = [('a', a.api.clone()), ('b', b.api.clone())]
        .into_iter()
        .map(|(which, api)| {
            let (tx, stop) = (acked_tx.clone(), stop.clone());
            let (killed, acknowledged) = (killed.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match send_batch(&api, &format!("{which}-"), n * BATCH) {
                        Ok(ids) => {
                            acknowledged.fetch_add(ids.len(), Ordering::SeqCst);
                            let after_kill = killed.load(Ordering::SeqCst);
                            tx.send((which, after_kill, ids)).expect("collector");
                        }
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
    let mut next_look = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while b_after_kill < 40 {
        let (which, after_kill, ids) = acked_rx.recv().expect("B's feeder runs");
        acked.extend(ids);
        if killed_at.is_some() {
            b_after_kill += usize::from(which == 'b' && after_kill);
        } else if acked.len() >= 40 * BATCH && Instant::now() >= next_look {
            if processing(&a) && processing(&b) {
                a.kill();
                killed.store(true, Ordering::SeqCst);
                // Everything acknowledged before A died, and possibly some of B's after.
                let at = acknowledged.load(Ordering::SeqCst);
                eprintln!(
                    "A killed with {at} records acknowledged ({} collected)",
                    acked.len()
                );
                killed_at = Some(at);
            }
            next_look = Instant::now() + Duration::from_millis(200);
        }
        assert!(
            Instant::now() < deadline,
            "the replicas never both processed"
        );
    }
    stop.store(true, Ordering::SeqCst);
    acked.extend(acked_rx.iter().flat_map(|(_, _, ids)| ids));
    let mut unknown = BTreeSet::new();
    for feeder in feeders {
        unknown.extend(feeder.join().expect("feeder"));
    }
    // Records A may have read: those acknowledged before the kill and the one request in
    // flight per feeder.
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
