//! Leases in ClickHouse: one holder at a time, expiry with the holder, a holder cut off from ClickHouse stops before another takes over.

use super::*;

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
