//! The Kafka streaming backend against librdkafka's mock cluster: real Kafka protocol
//! brokers running in this process, which can be taken down and brought back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moose_streams::kafka::{KafkaConfig, KafkaStreams};
use moose_streams::{Record, StoredRecord, StreamConsumer, StreamError, StreamSpec, Streams};
use rdkafka::mocking::MockCluster;

/// Brokers in every mock cluster; all of them go down in the outage tests.
const BROKERS: i32 = 3;

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    MockCluster::new(BROKERS).expect("start the mock cluster")
}

fn streams(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
) -> KafkaStreams {
    KafkaStreams::connect(config(cluster)).expect("create the Kafka clients")
}

/// The clients' configuration for `cluster`: short timeouts, quick reconnects.
fn config(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
) -> KafkaConfig {
    let mut config = KafkaConfig::new(cluster.bootstrap_servers());
    config.replication_factor = 1;
    config.request_timeout = Duration::from_secs(5);
    config.properties = BTreeMap::from(
        [
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            ("message.timeout.ms", "3000"),
            ("reconnect.backoff.max.ms", "500"),
            ("topic.metadata.refresh.interval.ms", "1000"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    config
}

/// Creates the topic on the mock cluster (which has no CreateTopics API), then checks that
/// `ensure_stream` accepts the existing topic.
async fn topic(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    streams: &KafkaStreams,
    name: &str,
    partitions: u32,
) {
    cluster
        .create_topic(name, partitions as i32, 1)
        .expect("create the topic");
    streams
        .ensure_stream(&StreamSpec {
            name: name.to_string(),
            partitions,
            retention: Duration::from_secs(3600),
        })
        .await
        .expect("an existing topic is accepted");
}

fn record(key: &str, value: String) -> Record {
    Record {
        key: Some(key.as_bytes().to_vec()),
        value: value.into_bytes(),
        timestamp_ms: 1_700_000_000_000,
    }
}

/// Records `key-<k>` with values `<k>:<seq>`, seq counting per key from `from`.
fn keyed(keys: usize, per_key: usize, from: usize) -> Vec<Record> {
    (from..from + per_key)
        .flat_map(|seq| (0..keys).map(move |k| record(&format!("key-{k}"), format!("{k}:{seq}"))))
        .collect()
}

fn text(r: &StoredRecord) -> String {
    String::from_utf8(r.value.clone()).expect("utf-8 value")
}

/// Polls (without committing) until up to `max` records arrive; how many did.
async fn poll_some(consumer: &mut dyn StreamConsumer, max: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = consumer
            .poll(max, Duration::from_millis(200))
            .await
            .unwrap_or_default();
        if !got.is_empty() {
            return got.len();
        }
        assert!(Instant::now() < deadline, "nothing arrived");
    }
}

/// Polls (committing after every batch) until `want` distinct values arrived.
async fn consume_all(
    consumer: &mut dyn StreamConsumer,
    want: usize,
    within: Duration,
) -> Vec<StoredRecord> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} records arrived within {within:?}",
            seen.len()
        );
        match consumer.poll(500, Duration::from_millis(200)).await {
            Ok(batch) => {
                for r in batch {
                    seen.insert(text(&r));
                    out.push(r);
                }
            }
            Err(e) => eprintln!("poll: {e}"),
        }
        if let Err(e) = consumer.commit().await {
            eprintln!("commit: {e}");
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_records_round_trip_in_order_per_key() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "orders", 4).await;

    streams
        .produce("orders", keyed(20, 50, 0))
        .await
        .expect("produce");
    let mut consumer = streams.consumer("orders", "g").await.expect("consumer");
    let records = consume_all(consumer.as_mut(), 1000, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 1000, "no duplicates without failures");

    let mut partition_of: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut last: HashMap<Vec<u8>, i64> = HashMap::new();
    for r in &records {
        let key = r.key.clone().expect("key kept");
        let value = text(r);
        let (k, seq) = value.split_once(':').expect("k:seq");
        assert_eq!(key, format!("key-{k}").into_bytes());
        let seq: i64 = seq.parse().expect("seq");
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(r.partition),
            r.partition,
            "one key, one partition"
        );
        let previous = last.insert(key, seq).unwrap_or(-1);
        assert_eq!(seq, previous + 1, "per-key order for {value}");
        assert_eq!(r.timestamp_ms, 1_700_000_000_000);
    }
    let used: HashSet<u32> = partition_of.values().copied().collect();
    assert!(used.len() > 1, "keys spread over partitions: {used:?}");

    // Group-less reads see the same partitions from any offset.
    let mut read = 0;
    for partition in 0..4 {
        let all = streams
            .read("orders", partition, 0, 10_000)
            .await
            .expect("read");
        assert!(all.iter().all(|r| r.partition == partition));
        assert!(all.windows(2).all(|w| w[1].offset == w[0].offset + 1));
        if let Some(first) = all.get(1) {
            let tail = streams
                .read("orders", partition, first.offset, 3)
                .await
                .expect("read from an offset");
            assert_eq!(tail.first().map(|r| r.offset), Some(first.offset));
            assert!(tail.len() <= 3);
        }
        read += all.len();
    }
    assert_eq!(read, 1000);
    assert!(matches!(
        streams.read("orders", 4, 0, 10).await,
        Err(StreamError::UnknownPartition { partition: 4, .. })
    ));
    assert!(matches!(
        streams.produce("missing", keyed(1, 1, 0)).await,
        Err(StreamError::UnknownStream(name)) if name == "missing"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poll_stops_at_its_byte_budget() {
    let cluster = cluster();
    let budget = 300 << 10;
    let streams = KafkaStreams::connect(KafkaConfig {
        max_poll_bytes: budget,
        ..config(&cluster)
    })
    .expect("create the Kafka clients");
    topic(&cluster, &streams, "big", 2).await;
    // 100 KiB records, and two above the budget (the mock brokers take up to 1 MB).
    let mut records: Vec<Record> = (0..20)
        .map(|i| {
            record(
                &format!("k{i}"),
                format!("{i:06}{}", "x".repeat((100 << 10) - 6)),
            )
        })
        .collect();
    records.push(record("big-1", "y".repeat(600 << 10)));
    records.push(record("big-2", "z".repeat(600 << 10)));
    streams.produce("big", records).await.unwrap();

    let mut consumer = streams.consumer("big", "g").await.unwrap();
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 22 {
        assert!(
            Instant::now() < deadline,
            "only {} of 22 arrived",
            seen.len()
        );
        let batch = consumer
            .poll(1000, Duration::from_millis(200))
            .await
            .unwrap_or_default();
        // No record is taken once the ones before it reached the budget.
        let before_last: usize = batch
            .iter()
            .rev()
            .skip(1)
            .map(|r| r.value.len() + r.key.as_ref().map_or(0, Vec::len))
            .sum();
        assert!(
            before_last < budget,
            "{before_last} bytes before the last record"
        );
        seen.extend(batch.iter().map(text));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkpoint_commits_only_what_was_polled_before_it() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "staged", 2).await;
    streams
        .produce("staged", keyed(4, 25, 0))
        .await
        .expect("produce");
    let uncommitted = |lag: Vec<moose_streams::PartitionLag>| {
        lag.iter().map(|p| p.end - p.committed).sum::<u64>()
    };

    let mut consumer = streams.consumer("staged", "g").await.expect("consumer");
    let first = poll_some(consumer.as_mut(), 10).await;
    let checkpoint = consumer.checkpoint();
    let second = poll_some(consumer.as_mut(), 10).await;

    consumer.commit_to(&checkpoint).await.expect("commit");
    let lag = streams.lag("staged", "g").await.expect("lag");
    assert_eq!(
        uncommitted(lag),
        100 - first as u64,
        "only what came before the checkpoint"
    );
    consumer.commit().await.expect("commit");
    let lag = streams.lag("staged", "g").await.expect("lag");
    assert_eq!(uncommitted(lag), 100 - (first + second) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lag_is_end_minus_committed() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "events", 2).await;
    streams
        .produce("events", keyed(4, 25, 0))
        .await
        .expect("produce");

    let total =
        |lag: &[moose_streams::PartitionLag]| lag.iter().map(|p| p.end - p.committed).sum::<u64>();
    let before = streams.lag("events", "g").await.expect("lag");
    assert_eq!(before.len(), 2);
    assert_eq!(before.iter().map(|p| p.end).sum::<u64>(), 100);
    assert_eq!(total(&before), 100, "a new group has read nothing");

    let mut consumer = streams.consumer("events", "g").await.expect("consumer");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut polled = Vec::new();
    while polled.is_empty() {
        assert!(Instant::now() < deadline, "nothing arrived");
        polled = consumer
            .poll(10, Duration::from_millis(200))
            .await
            .unwrap_or_default();
    }
    consumer.commit().await.expect("commit");
    let after = streams.lag("events", "g").await.expect("lag");
    assert_eq!(total(&after), 100 - polled.len() as u64);

    consume_all(
        consumer.as_mut(),
        100 - polled.len(),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(total(&streams.lag("events", "g").await.expect("lag")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_outage_fails_produce_and_loses_nothing_acknowledged() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "orders", 2).await;
    let before = keyed(5, 40, 0);
    streams
        .produce("orders", before.clone())
        .await
        .expect("produce while up");

    for broker in 1..=BROKERS {
        cluster.broker_down(broker).expect("broker down");
    }
    let started = Instant::now();
    let failed = streams.produce("orders", keyed(5, 10, 40)).await;
    assert!(
        matches!(failed, Err(StreamError::Unavailable(_))),
        "produce with every broker down: {failed:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    for broker in 1..=BROKERS {
        cluster.broker_up(broker).expect("broker up");
    }

    let after = keyed(5, 10, 100);
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = streams.produce("orders", after.clone()).await {
        assert!(Instant::now() < deadline, "produce after the outage: {e}");
    }
    let mut stored = HashSet::new();
    for partition in 0..2 {
        for r in streams
            .read("orders", partition, 0, 100_000)
            .await
            .expect("read")
        {
            stored.insert(r.value);
        }
    }
    for r in before.iter().chain(&after) {
        assert!(
            stored.contains(&r.value),
            "acknowledged record {} is missing",
            String::from_utf8_lossy(&r.value)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_catches_up_after_broker_outage() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "clicks", 3).await;
    streams
        .produce("clicks", keyed(10, 30, 0))
        .await
        .expect("produce");
    let mut consumer = streams.consumer("clicks", "g").await.expect("consumer");
    let first = consume_all(consumer.as_mut(), 1, Duration::from_secs(30)).await;

    for broker in 1..=BROKERS {
        cluster.broker_down(broker).expect("broker down");
    }
    let mut during = first;
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(4) {
        // Errors and empty batches are expected; records prefetched before may still come.
        if let Ok(batch) = consumer.poll(100, Duration::from_millis(200)).await {
            during.extend(batch);
        }
        let _ = consumer.commit().await;
    }
    for broker in 1..=BROKERS {
        cluster.broker_up(broker).expect("broker up");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = streams.produce("clicks", keyed(10, 10, 30)).await {
        assert!(Instant::now() < deadline, "produce after the outage: {e}");
    }
    let mut seen: HashSet<String> = during.iter().map(text).collect();
    let rest = consume_all(consumer.as_mut(), 400 - seen.len(), Duration::from_secs(60)).await;
    seen.extend(rest.iter().map(text));
    let want: HashSet<String> = keyed(10, 40, 0)
        .iter()
        .map(|r| String::from_utf8(r.value.clone()).expect("utf-8"))
        .collect();
    assert_eq!(seen, want, "every record is read after the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_the_coordinator_cannot_take_fails_instead_of_waiting_forever() {
    let cluster = cluster();
    let streams = streams(&cluster);
    topic(&cluster, &streams, "views", 2).await;
    streams
        .produce("views", keyed(4, 5, 0))
        .await
        .expect("produce");
    let mut consumer = streams.consumer("views", "g").await.expect("consumer");
    consume_all(consumer.as_mut(), 20, Duration::from_secs(30)).await;
    streams
        .produce("views", keyed(4, 5, 5))
        .await
        .expect("produce");
    // Polled, not yet committed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer
        .poll(100, Duration::from_millis(200))
        .await
        .expect("poll")
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no records after the first commit"
        );
    }

    for broker in 1..=BROKERS {
        cluster.broker_down(broker).expect("broker down");
    }
    // The guard only keeps a hang from stalling the suite: the commit must give up on
    // its own, after the request timeout, with an error naming the group.
    for attempt in 0..2 {
        let committed = tokio::time::timeout(Duration::from_secs(60), consumer.commit())
            .await
            .unwrap_or_else(|_| panic!("commit {attempt} still waits after 60 s"));
        match committed {
            Err(StreamError::Unavailable(message)) => {
                assert!(message.contains("group `g`"), "{message}")
            }
            other => panic!("commit {attempt} with every broker down: {other:?}"),
        }
    }
    for broker in 1..=BROKERS {
        cluster.broker_up(broker).expect("broker up");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Err(e) = consumer.commit().await {
        assert!(Instant::now() < deadline, "commit after the outage: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One member of a group: polls, records what it saw, commits, until stopped. Returns
/// the records it processed and how many of them were in batches whose commit was
/// refused (the group rebalanced), which may come again.
fn member(
    mut consumer: Box<dyn StreamConsumer>,
    seen: Arc<Mutex<Vec<String>>>,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<(usize, usize)> {
    tokio::spawn(async move {
        let (mut processed, mut uncommitted) = (0, 0);
        while !stop.is_cancelled() {
            let Ok(batch) = consumer.poll(BATCH, Duration::from_millis(200)).await else {
                continue;
            };
            processed += batch.len();
            seen.lock().expect("seen").extend(batch.iter().map(text));
            if consumer.commit().await.is_err() {
                uncommitted += batch.len();
            }
        }
        (processed, uncommitted)
    })
}

const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebalance_between_two_members_delivers_everything_at_least_once() {
    let cluster = cluster();
    let streams = Arc::new(streams(&cluster));
    topic(&cluster, &streams, "jobs", 6).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let distinct = |seen: &Arc<Mutex<Vec<String>>>| {
        seen.lock()
            .expect("seen")
            .iter()
            .cloned()
            .collect::<HashSet<_>>()
            .len()
    };
    let wait_for = |n: usize, what: &'static str| {
        let seen = seen.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while distinct(&seen) < n {
                assert!(
                    Instant::now() < deadline,
                    "{what}: {} of {n}",
                    distinct(&seen)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    let stop_a = tokio_util::sync::CancellationToken::new();
    let stop_b = tokio_util::sync::CancellationToken::new();
    let a = member(
        streams
            .consumer("jobs", "workers")
            .await
            .expect("consumer a"),
        seen.clone(),
        stop_a.clone(),
    );
    // Keys: 60; records are produced in rounds so members are busy while the group changes.
    let mut produced = 0;
    for round in 0..10 {
        streams
            .produce("jobs", keyed(60, 10, round * 10))
            .await
            .expect("produce");
        produced += 600;
    }
    wait_for(1500, "member a alone").await;

    let b_seen = Arc::new(Mutex::new(Vec::new()));
    let b = {
        let consumer = streams
            .consumer("jobs", "workers")
            .await
            .expect("consumer b");
        let (seen, b_seen, stop) = (seen.clone(), b_seen.clone(), stop_b.clone());
        tokio::spawn(async move {
            // Both views: the shared one and b's own.
            let shadow = Arc::new(Mutex::new(Vec::new()));
            let handle = member(consumer, shadow.clone(), stop.clone());
            while !stop.is_cancelled() {
                let taken: Vec<String> = std::mem::take(&mut *shadow.lock().expect("seen"));
                b_seen.lock().expect("b").extend(taken.iter().cloned());
                seen.lock().expect("seen").extend(taken);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let processed = handle.await.expect("member b");
            let taken: Vec<String> = std::mem::take(&mut *shadow.lock().expect("seen"));
            b_seen.lock().expect("b").extend(taken.iter().cloned());
            seen.lock().expect("seen").extend(taken);
            processed
        })
    };
    for round in 10..20 {
        streams
            .produce("jobs", keyed(60, 10, round * 10))
            .await
            .expect("produce");
        produced += 600;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for(produced, "both members").await;
    assert!(
        !b_seen.lock().expect("b").is_empty(),
        "the second member got partitions"
    );

    // a leaves: b takes over every partition.
    stop_a.cancel();
    let (processed_a, uncommitted_a) = a.await.expect("member a");
    for round in 20..25 {
        streams
            .produce("jobs", keyed(60, 10, round * 10))
            .await
            .expect("produce");
        produced += 600;
    }
    wait_for(produced, "member b alone").await;
    stop_b.cancel();
    let (processed_b, uncommitted_b) = b.await.expect("member b");

    let all = seen.lock().expect("seen").clone();
    let want: HashSet<String> = keyed(60, 250, 0)
        .iter()
        .map(|r| String::from_utf8(r.value.clone()).expect("utf-8"))
        .collect();
    let got: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(got, want, "every record processed at least once");
    let duplicates = all.len() - got.len();
    eprintln!(
        "processed {} records for {produced} produced (a {processed_a}, b {processed_b}), {duplicates} duplicates",
        all.len()
    );
    // Only records of batches whose commit the group refused can come again.
    let uncommitted = uncommitted_a + uncommitted_b;
    assert!(
        duplicates <= uncommitted,
        "{duplicates} duplicates, but only {uncommitted} records were left uncommitted"
    );
    let lag = streams.lag("jobs", "workers").await.expect("lag");
    assert_eq!(lag.iter().map(|p| p.end - p.committed).sum::<u64>(), 0);
}
