//! The embedded streaming backend against real files in temporary directories.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moose_streams::embedded::{EmbeddedOptions, EmbeddedStreams};
use moose_streams::{Record, StoredRecord, StreamError, StreamSpec, Streams};

fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        retention_interval: None,
        ..EmbeddedOptions::default()
    }
}

fn open(dir: &Path) -> EmbeddedStreams {
    EmbeddedStreams::open(dir, options()).expect("open the embedded log")
}

fn spec(name: &str, partitions: u32) -> StreamSpec {
    StreamSpec {
        name: name.to_string(),
        partitions,
        retention: Duration::from_secs(3600),
    }
}

fn rec(key: Option<&str>, value: impl Into<String>) -> Record {
    Record {
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.into().into_bytes(),
        timestamp_ms: 1_700_000_000_000,
    }
}

fn text(r: &StoredRecord) -> String {
    String::from_utf8(r.value.clone()).expect("utf-8 value")
}

/// Everything stored in `stream`, partition by partition.
async fn read_all(s: &dyn Streams, stream: &str, partitions: u32) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    for p in 0..partitions {
        out.extend(s.read(stream, p, 0, usize::MAX).await.expect("read"));
    }
    out
}

/// Polls until `n` records arrived (or 10 s passed).
async fn poll_n(
    c: &mut dyn moose_streams::StreamConsumer,
    n: usize,
    max: usize,
) -> Vec<StoredRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        let want = max.min(n - out.len());
        out.extend(
            c.poll(want, Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
    out
}

#[tokio::test]
async fn produce_poll_commit_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.ensure_stream(&spec("orders", 3)).await.unwrap();
    let records: Vec<Record> = (0..10)
        .map(|i| rec(Some(&format!("k{i}")), format!("v{i}")))
        .collect();
    s.produce("orders", records).await.unwrap();

    let mut c = s.consumer("orders", "g").await.unwrap();
    let got = poll_n(c.as_mut(), 10, 100).await;
    let mut values: Vec<String> = got.iter().map(text).collect();
    values.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(values, expected);
    for r in &got {
        assert!(r.partition < 3);
        assert_eq!(r.timestamp_ms, 1_700_000_000_000);
        assert_eq!(r.key.as_deref().map(|k| k[0]), Some(b'k'));
    }
    c.commit().await.unwrap();
    let lag = s.lag("orders", "g").await.unwrap();
    assert_eq!(lag.len(), 3);
    assert!(lag.iter().all(|l| l.committed == l.end));
    assert_eq!(lag.iter().map(|l| l.end).sum::<u64>(), 10);

    // Nothing more for this group, in this consumer or a new one.
    assert!(c
        .poll(10, Duration::from_millis(50))
        .await
        .unwrap()
        .is_empty());
    drop(c);
    let mut c2 = s.consumer("orders", "g").await.unwrap();
    assert!(c2
        .poll(10, Duration::from_millis(50))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn same_key_keeps_order_in_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.ensure_stream(&spec("events", 4)).await.unwrap();
    let keys = ["alpha", "beta", "gamma", "delta", "epsilon"];
    for round in 0..20 {
        let batch = keys
            .iter()
            .map(|k| rec(Some(k), format!("{k}:{round}")))
            .collect();
        s.produce("events", batch).await.unwrap();
    }
    let all = read_all(&s, "events", 4).await;
    assert_eq!(all.len(), 100);
    let mut by_key: BTreeMap<String, Vec<&StoredRecord>> = BTreeMap::new();
    for r in &all {
        let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
        by_key.entry(key).or_default().push(r);
    }
    let mut partitions_used = HashSet::new();
    for (key, records) in by_key {
        assert_eq!(records.len(), 20);
        let partition = records[0].partition;
        partitions_used.insert(partition);
        for (round, r) in records.iter().enumerate() {
            assert_eq!(r.partition, partition, "key {key} changed partition");
            assert_eq!(text(r), format!("{key}:{round}"));
            if round > 0 {
                assert!(r.offset > records[round - 1].offset);
            }
        }
    }
    assert!(
        partitions_used.len() > 1,
        "five keys all hashed to one partition"
    );

    // Records without a key spread round-robin.
    s.ensure_stream(&spec("nokey", 4)).await.unwrap();
    s.produce("nokey", (0..8).map(|i| rec(None, format!("{i}"))).collect())
        .await
        .unwrap();
    let lag = s.lag("nokey", "g").await.unwrap();
    assert!(lag.iter().all(|l| l.end == 2), "{lag:?}");
}

#[tokio::test]
async fn restart_keeps_records_and_committed_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.ensure_stream(&spec("log", 1)).await.unwrap();
        s.ensure_stream(&spec("wide", 3)).await.unwrap();
        s.produce("log", (0..20).map(|i| rec(None, format!("r{i}"))).collect())
            .await
            .unwrap();
        s.produce("wide", (0..9).map(|i| rec(None, format!("w{i}"))).collect())
            .await
            .unwrap();
        let mut c = s.consumer("log", "g").await.unwrap();
        let first = poll_n(c.as_mut(), 10, 10).await;
        assert_eq!(first.iter().map(text).collect::<Vec<_>>()[9], "r9");
        c.commit().await.unwrap();
        // Polled, not committed: must come again after the restart.
        let uncommitted = poll_n(c.as_mut(), 5, 5).await;
        assert_eq!(uncommitted[0].offset, 10);
    }
    let s = open(dir.path());
    assert_eq!(s.streams(), vec![spec("log", 1), spec("wide", 3)]);
    assert_eq!(read_all(&s, "log", 1).await.len(), 20);
    assert_eq!(read_all(&s, "wide", 3).await.len(), 9);
    let lag = s.lag("log", "g").await.unwrap();
    assert_eq!((lag[0].committed, lag[0].end), (10, 20));
    let mut c = s.consumer("log", "g").await.unwrap();
    let rest = poll_n(c.as_mut(), 10, 100).await;
    let offsets: Vec<u64> = rest.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (10..20).collect::<Vec<_>>());
    assert_eq!(text(&rest[0]), "r10");
    // New offsets continue densely after the restart.
    s.produce("log", vec![rec(None, "r20")]).await.unwrap();
    assert_eq!(s.read("log", 0, 20, 10).await.unwrap()[0].offset, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_lose_nothing_and_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()));
    s.ensure_stream(&spec("load", 4)).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000 {
                let key = (i % 3 == 0).then(|| format!("key{}", i % 17));
                s.produce("load", vec![rec(key.as_deref(), format!("{t}:{i}"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = read_all(s.as_ref(), "load", 4).await;
    assert_eq!(all.len(), 8000);
    let values: HashSet<String> = all.iter().map(text).collect();
    assert_eq!(values.len(), 8000, "duplicates");
    for t in 0..8 {
        for i in 0..1000 {
            assert!(values.contains(&format!("{t}:{i}")), "lost {t}:{i}");
        }
    }
    for p in 0..4 {
        let offsets: Vec<u64> = all
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>());
    }
    let stats = s.stats();
    assert_eq!((stats.records, stats.produce_requests), (8000, 8000));
    assert!(
        stats.commits < stats.produce_requests,
        "no group commit: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_waits_and_wakes_on_produce() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()));
    s.ensure_stream(&spec("wake", 2)).await.unwrap();
    let mut c = s.consumer("wake", "g").await.unwrap();

    let start = Instant::now();
    assert!(c
        .poll(10, Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    assert!(start.elapsed() >= Duration::from_millis(290));

    let producer = {
        let s = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.produce("wake", vec![rec(None, "hello")]).await.unwrap();
        })
    };
    let start = Instant::now();
    let got = c.poll(10, Duration::from_secs(30)).await.unwrap();
    let waited = start.elapsed();
    producer.await.unwrap();
    assert_eq!(got.iter().map(text).collect::<Vec<_>>(), vec!["hello"]);
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test]
async fn retention_deletes_old_records_but_not_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        let mut short = spec("short", 2);
        // New records must be younger than this when retention runs below.
        short.retention = Duration::from_millis(1000);
        s.ensure_stream(&short).await.unwrap();
        s.produce(
            "short",
            (0..6).map(|i| rec(None, format!("old{i}"))).collect(),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        s.produce(
            "short",
            (0..4).map(|i| rec(None, format!("new{i}"))).collect(),
        )
        .await
        .unwrap();
        assert_eq!(s.enforce_retention().await.unwrap(), 6);
        assert_eq!(s.enforce_retention().await.unwrap(), 0);
        let left: Vec<String> = read_all(&s, "short", 2).await.iter().map(text).collect();
        assert_eq!(left.len(), 4);
        assert!(left.iter().all(|v| v.starts_with("new")), "{left:?}");
        // Ends stay; a new group starts at the first kept record.
        let lag = s.lag("short", "g").await.unwrap();
        assert_eq!(lag.iter().map(|l| l.end).collect::<Vec<_>>(), vec![5, 5]);
        assert_eq!(
            lag.iter().map(|l| l.committed).collect::<Vec<_>>(),
            vec![3, 3]
        );
        let mut c = s.consumer("short", "g").await.unwrap();
        let got = poll_n(c.as_mut(), 4, 100).await;
        assert!(got.iter().all(|r| text(r).starts_with("new")));
        assert_eq!(s.read("short", 0, 0, 10).await.unwrap()[0].offset, 3);
    }
    // Retention and what it left survive a restart.
    let s = open(dir.path());
    let left = read_all(&s, "short", 2).await;
    assert_eq!(left.len(), 4);
    s.produce("short", vec![rec(None, "after")]).await.unwrap();
    assert_eq!(s.lag("short", "x").await.unwrap()[0].end, 6);
}

#[tokio::test]
async fn background_retention_runs_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStreams::open(
        dir.path(),
        EmbeddedOptions {
            retention_interval: Some(Duration::from_millis(100)),
            ..EmbeddedOptions::default()
        },
    )
    .unwrap();
    let mut short = spec("short", 1);
    short.retention = Duration::from_millis(200);
    s.ensure_stream(&short).await.unwrap();
    s.produce("short", vec![rec(None, "old")]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.read("short", 0, 0, 10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "retention never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.stats().retention_deleted, 1);
}

#[tokio::test]
async fn lag_counts_per_partition_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.ensure_stream(&spec("lagged", 2)).await.unwrap();
    s.produce(
        "lagged",
        (0..10).map(|i| rec(None, format!("{i}"))).collect(),
    )
    .await
    .unwrap();
    let lag = s.lag("lagged", "a").await.unwrap();
    assert_eq!(
        lag.iter()
            .map(|l| (l.partition, l.committed, l.end))
            .collect::<Vec<_>>(),
        vec![(0, 0, 5), (1, 0, 5)]
    );
    let mut a = s.consumer("lagged", "a").await.unwrap();
    let got = poll_n(a.as_mut(), 4, 4).await;
    assert_eq!(got.len(), 4);
    // Fair: both partitions served.
    assert_eq!(got.iter().filter(|r| r.partition == 0).count(), 2);
    a.commit().await.unwrap();
    let lag = s.lag("lagged", "a").await.unwrap();
    assert_eq!(
        lag.iter().map(|l| (l.committed, l.end)).collect::<Vec<_>>(),
        vec![(2, 5), (2, 5)]
    );
    // Another group is independent.
    let mut b = s.consumer("lagged", "b").await.unwrap();
    assert_eq!(poll_n(b.as_mut(), 10, 100).await.len(), 10);
    b.commit().await.unwrap();
    assert!(s
        .lag("lagged", "b")
        .await
        .unwrap()
        .iter()
        .all(|l| l.committed == 5));
    assert_eq!(s.lag("lagged", "a").await.unwrap()[0].committed, 2);
    assert_eq!(poll_n(a.as_mut(), 6, 100).await.len(), 6);
}

#[tokio::test]
async fn a_checkpoint_commits_only_what_was_polled_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.ensure_stream(&spec("staged", 2)).await.unwrap();
    s.produce(
        "staged",
        (0..10).map(|i| rec(None, format!("{i}"))).collect(),
    )
    .await
    .unwrap();
    let committed =
        |lag: Vec<moose_streams::PartitionLag>| lag.iter().map(|l| l.committed).collect::<Vec<_>>();
    let mut a = s.consumer("staged", "a").await.unwrap();
    assert_eq!(poll_n(a.as_mut(), 4, 4).await.len(), 4);
    let first = a.checkpoint();
    assert_eq!(poll_n(a.as_mut(), 4, 4).await.len(), 4);
    let second = a.checkpoint();

    // Records polled after the checkpoint stay uncommitted.
    a.commit_to(&first).await.unwrap();
    assert_eq!(committed(s.lag("staged", "a").await.unwrap()), [2, 2]);
    a.commit_to(&second).await.unwrap();
    assert_eq!(committed(s.lag("staged", "a").await.unwrap()), [4, 4]);
    // An older checkpoint never moves the group back.
    a.commit_to(&first).await.unwrap();
    assert_eq!(committed(s.lag("staged", "a").await.unwrap()), [4, 4]);
    drop(a);
    let mut again = s.consumer("staged", "a").await.unwrap();
    let rest = poll_n(again.as_mut(), 2, 100).await;
    assert_eq!(rest.iter().map(|r| r.offset).collect::<Vec<_>>(), [4, 4]);
}

/// A request's records are stored together; consumers still read and commit them one
/// record at a time, across requests and restarts.
#[tokio::test]
async fn polls_smaller_than_a_request_resume_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let values = |records: &[StoredRecord]| -> Vec<(u64, String)> {
        records.iter().map(|r| (r.offset, text(r))).collect()
    };
    let expected = |offsets: std::ops::Range<u64>| -> Vec<(u64, String)> {
        offsets.map(|i| (i, format!("r{i}"))).collect()
    };
    {
        let s = open(dir.path());
        s.ensure_stream(&spec("pieces", 1)).await.unwrap();
        for request in 0..3u64 {
            let records = (request * 7..request * 7 + 7)
                .map(|i| rec(Some("k"), format!("r{i}")))
                .collect();
            s.produce("pieces", records).await.unwrap();
        }
        let mut c = s.consumer("pieces", "g").await.unwrap();
        let mut first = Vec::new();
        for _ in 0..4 {
            first.extend(c.poll(3, Duration::from_millis(200)).await.unwrap());
        }
        assert_eq!(values(&first), expected(0..12));
        c.commit().await.unwrap();
        assert_eq!(
            values(&s.read("pieces", 0, 6, 3).await.unwrap()),
            expected(6..9)
        );
    }
    let s = open(dir.path());
    assert_eq!(s.lag("pieces", "g").await.unwrap()[0].end, 21);
    let mut c = s.consumer("pieces", "g").await.unwrap();
    let rest = poll_n(c.as_mut(), 9, 2).await;
    assert_eq!(values(&rest), expected(12..21));
    s.produce("pieces", vec![rec(None, "r21")]).await.unwrap();
    assert_eq!(values(&poll_n(c.as_mut(), 1, 5).await), expected(21..22));
}

#[tokio::test]
async fn a_poll_stops_at_its_byte_budget_and_the_next_one_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStreams::open(
        dir.path(),
        EmbeddedOptions {
            max_poll_bytes: 300 << 10,
            ..options()
        },
    )
    .expect("open the embedded log");
    s.ensure_stream(&spec("big", 2)).await.unwrap();
    let value = |i: usize| format!("{i:06}{}", "x".repeat((100 << 10) - 6));
    for request in 0..4 {
        let records = (request * 5..request * 5 + 5)
            .map(|i| rec(None, value(i)))
            .collect();
        s.produce("big", records).await.unwrap();
    }
    // 100 KiB records, a 300 KiB budget: three a poll, the third reaching it.
    let mut c = s.consumer("big", "g").await.unwrap();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    while got.len() < 20 {
        let batch = c.poll(1000, Duration::from_millis(200)).await.unwrap();
        assert!(!batch.is_empty(), "a poll with records left returns some");
        sizes.push(batch.len());
        got.extend(batch);
    }
    assert_eq!(sizes, [3, 3, 3, 3, 3, 3, 2], "records per poll");
    let mut values: Vec<String> = got.iter().map(text).collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 20, "every record once");

    // A record above the budget still comes; no poll takes a record after the budget
    // is reached.
    s.produce(
        "big",
        vec![
            rec(None, "x".repeat(1 << 20)),
            rec(None, "small"),
            rec(None, "y".repeat(1 << 20)),
        ],
    )
    .await
    .unwrap();
    let mut after = Vec::new();
    while after.len() < 3 {
        let batch = c.poll(1000, Duration::from_millis(200)).await.unwrap();
        let before_last: usize = batch.iter().rev().skip(1).map(|r| r.value.len()).sum();
        assert!(
            before_last < 300 << 10,
            "{before_last} bytes before the last record"
        );
        after.extend(batch);
    }
    assert_eq!(after.iter().filter(|r| r.value.len() == 1 << 20).count(), 2);
}

#[tokio::test]
async fn read_from_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.ensure_stream(&spec("replay", 1)).await.unwrap();
    s.produce(
        "replay",
        (0..10).map(|i| rec(Some("k"), format!("{i}"))).collect(),
    )
    .await
    .unwrap();
    let got = s.read("replay", 0, 3, 4).await.unwrap();
    assert_eq!(
        got.iter().map(|r| (r.offset, text(r))).collect::<Vec<_>>(),
        vec![
            (3, "3".to_string()),
            (4, "4".to_string()),
            (5, "5".to_string()),
            (6, "6".to_string())
        ]
    );
    assert_eq!(s.read("replay", 0, 8, 100).await.unwrap().len(), 2);
    assert!(s.read("replay", 0, 10, 100).await.unwrap().is_empty());
    assert!(s.read("replay", 0, 0, 0).await.unwrap().is_empty());
    assert!(matches!(
        s.read("replay", 1, 0, 10).await,
        Err(StreamError::UnknownPartition { partition: 1, .. })
    ));
}

#[tokio::test]
async fn unknown_stream_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let unknown =
        |r: Result<(), StreamError>| matches!(r, Err(StreamError::UnknownStream(n)) if n == "nope");
    assert!(unknown(s.produce("nope", vec![rec(None, "x")]).await));
    assert!(unknown(s.produce("nope", vec![]).await));
    assert!(unknown(s.consumer("nope", "g").await.map(|_| ())));
    assert!(unknown(s.lag("nope", "g").await.map(|_| ())));
    assert!(unknown(s.read("nope", 0, 0, 1).await.map(|_| ())));
}

#[tokio::test]
async fn ensure_stream_is_idempotent_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.ensure_stream(&spec("a", 2)).await.unwrap();
        s.ensure_stream(&spec("a", 2)).await.unwrap();
        // An existing stream keeps its partitions; a new retention applies.
        let mut changed = spec("a", 8);
        changed.retention = Duration::from_secs(60);
        s.ensure_stream(&changed).await.unwrap();
        assert!(s.ensure_stream(&spec("zero", 0)).await.is_err());
        s.ensure_stream(&spec("b", 1)).await.unwrap();
    }
    let s = open(dir.path());
    let mut a = spec("a", 2);
    a.retention = Duration::from_secs(60);
    assert_eq!(s.streams(), vec![a, spec("b", 1)]);
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _s = open(dir.path());
    assert!(matches!(
        EmbeddedStreams::open(dir.path(), options()),
        Err(StreamError::Unavailable(_))
    ));
}

const CRASH_DIR: &str = "MOOSE_STREAM_CRASH_TEST_DIR";

/// The name the test harness knows [`crash_child`] by (`stream::crash_child`).
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::crash_child"),
        None => "crash_child".into(),
    }
}

/// The child of `sigkill_loses_no_acknowledged_record`: produces until killed, printing
/// each acknowledged batch. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR) else {
        return;
    };
    let s = Arc::new(open(Path::new(&dir)));
    s.ensure_stream(&spec("crash", 3)).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0.. {
                let batch = (0..10)
                    .map(|i| rec(Some(&format!("{t}-{i}")), format!("{t}:{b}:{i}")))
                    .collect();
                s.produce("crash", batch).await.unwrap();
                println!("ack {t}:{b}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test_name(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = std::io::BufReader::new(stdout).lines();
        while acked.len() < 300 && Instant::now() < deadline {
            let Some(line) = lines.next() else {
                break; // the child stopped by itself: fails the count below
            };
            if let Some(batch) = line.unwrap().strip_prefix("ack ") {
                acked.push(batch.to_string());
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        acked
    })
    .await
    .unwrap();
    assert!(
        acked.len() >= 300,
        "only {} batches acknowledged",
        acked.len()
    );

    let s = open(dir.path());
    let all = read_all(&s, "crash", 3).await;
    let values: HashSet<String> = all.iter().map(text).collect();
    assert_eq!(values.len(), all.len(), "duplicates");
    for batch in &acked {
        for i in 0..10 {
            assert!(
                values.contains(&format!("{batch}:{i}")),
                "acknowledged {batch}:{i} lost"
            );
        }
    }
    for p in 0..3 {
        let offsets: Vec<u64> = all
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>());
    }
    // Every batch is all or nothing.
    assert_eq!(all.len() % 10, 0);
    eprintln!(
        "{} batches acknowledged before SIGKILL, {} batches stored after re-open",
        acked.len(),
        all.len() / 10
    );
}
