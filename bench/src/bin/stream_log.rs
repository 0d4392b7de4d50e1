//! Embedded stream log benchmark: durable produce and consume throughput of
//! `EmbeddedStreams`, side by side with a baseline run in the same process.
//!
//! Produce: 1, 8 and 64 concurrent producers, each sending batches of 1 or 100 records
//! (200-byte values, keyed) for a fixed time and counting acknowledged records. The
//! baseline is the floor any durable log pays without sharing syncs: the same producers
//! appending each batch to one file and `fdatasync`ing it before the next, under a mutex.
//! Each configuration runs the log and the baseline back to back, so both see the same disk.
//!
//! Consume: one consumer polling 1,000 records at a time and committing after each poll,
//! against reading the baseline file back record by record.
//!
//! Run: `cargo run --release -p moose-bench --bin stream_log [-- --seconds S --records N]`

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use moose_streams::embedded::{EmbeddedOptions, EmbeddedStreams};
use moose_streams::{Record, StreamSpec, Streams};

const VALUE_BYTES: usize = 200;
const PARTITIONS: u32 = 4;
const STREAM: &str = "bench";

fn main() -> anyhow::Result<()> {
    let (seconds, records) = parse_args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(Duration::from_secs_f64(seconds), records))
}

async fn run(duration: Duration, consume_records: usize) -> anyhow::Result<()> {
    println!(
        "stream_log: {VALUE_BYTES}-byte keyed records, {PARTITIONS} partitions, {:.1} s per produce run, every acknowledgement fsync-durable",
        duration.as_secs_f64()
    );
    println!("baseline: the same producers appending each batch to one file + fdatasync");
    println!();
    println!(
        "{:>9} {:>6} {:>14} {:>11} {:>16} {:>13}",
        "producers", "batch", "log rec/s", "rec/fsync", "baseline rec/s", "log/baseline"
    );
    for producers in [1usize, 8, 64] {
        for batch in [1usize, 100] {
            let dir = tempfile::tempdir()?;
            let (log_rate, per_sync) = produce_log(dir.path(), producers, batch, duration).await?;
            let base_rate = produce_baseline(dir.path(), producers, batch, duration).await?;
            println!(
                "{producers:>9} {batch:>6} {log_rate:>14.0} {per_sync:>11.1} {base_rate:>16.0} {:>12.2}x",
                log_rate / base_rate
            );
        }
    }
    println!();
    let dir = tempfile::tempdir()?;
    let (log_rate, disk) = consume_log(dir.path(), consume_records).await?;
    let base_rate = consume_baseline(dir.path(), consume_records)?;
    println!(
        "consume {consume_records} records (poll 1000 + commit): log {log_rate:.0} rec/s, baseline file read {base_rate:.0} rec/s, log/baseline {:.2}x",
        log_rate / base_rate
    );
    println!(
        "log on disk after {consume_records} records: {:.1} MiB",
        disk as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn record(n: u64) -> Record {
    let mut value = format!("{{\"n\":{n},\"payload\":\"").into_bytes();
    value.resize(VALUE_BYTES - 2, b'x');
    value.extend_from_slice(b"\"}");
    Record {
        key: Some(format!("customer-{}", n % 1000).into_bytes()),
        value,
        timestamp_ms: 1_700_000_000_000 + n as i64,
    }
}

fn open(dir: &Path) -> anyhow::Result<Arc<EmbeddedStreams>> {
    let options = EmbeddedOptions {
        retention_interval: None,
        ..EmbeddedOptions::default()
    };
    Ok(Arc::new(EmbeddedStreams::open(dir.join("log"), options)?))
}

fn spec() -> StreamSpec {
    StreamSpec {
        name: STREAM.into(),
        partitions: PARTITIONS,
        retention: Duration::from_secs(3600),
    }
}

/// Records/s acknowledged and records per durable commit.
async fn produce_log(
    dir: &Path,
    producers: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<(f64, f64)> {
    let streams = open(dir)?;
    streams.ensure_stream(&spec()).await?;
    let before = streams.stats();
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let streams = streams.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = (p as u64) << 32;
            while Instant::now() < deadline {
                let records = (0..batch)
                    .map(|_| {
                        n += 1;
                        record(n)
                    })
                    .collect();
                streams.produce(STREAM, records).await?;
                acked.fetch_add(batch as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = streams.stats();
    let acked = acked.load(Ordering::Relaxed);
    let commits = (after.commits - before.commits).max(1);
    Ok((acked as f64 / elapsed, acked as f64 / commits as f64))
}

/// One record as the baseline file stores it: length, key, value.
fn encode_baseline(r: &Record, out: &mut Vec<u8>) {
    let key = r.key.as_deref().unwrap_or_default();
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(r.value.len() as u32).to_le_bytes());
    out.extend_from_slice(&r.timestamp_ms.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&r.value);
}

/// Records/s of producers appending to one file with `fdatasync` per batch.
async fn produce_baseline(
    dir: &Path,
    producers: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let file = Arc::new(Mutex::new(std::fs::File::create(dir.join("baseline"))?));
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let file = file.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = (p as u64) << 32;
            while Instant::now() < deadline {
                let mut bytes = Vec::with_capacity(batch * (VALUE_BYTES + 32));
                for _ in 0..batch {
                    n += 1;
                    encode_baseline(&record(n), &mut bytes);
                }
                let file = file.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
                    f.write_all(&bytes)?;
                    f.sync_data()
                })
                .await??;
                acked.fetch_add(batch as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(acked.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Records/s of one consumer reading `n` records in polls of 1,000 with a commit after
/// each; also the log's size on disk.
async fn consume_log(dir: &Path, n: usize) -> anyhow::Result<(f64, u64)> {
    let streams = open(dir)?;
    streams.ensure_stream(&spec()).await?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("baseline"))?);
    let mut bytes = Vec::new();
    for chunk in (0..n as u64).collect::<Vec<_>>().chunks(1000) {
        let records: Vec<Record> = chunk.iter().map(|&i| record(i)).collect();
        bytes.clear();
        for r in &records {
            encode_baseline(r, &mut bytes);
        }
        file.write_all(&bytes)?;
        streams.produce(STREAM, records).await?;
    }
    file.into_inner()?.sync_all()?;

    let mut consumer = streams.consumer(STREAM, "bench").await?;
    let started = Instant::now();
    let mut read = 0usize;
    let mut checksum = 0u64;
    while read < n {
        let batch = consumer.poll(1000, Duration::from_secs(5)).await?;
        if batch.is_empty() {
            bail!("the log returned {read} of {n} records");
        }
        read += batch.len();
        checksum = batch
            .iter()
            .fold(checksum, |c, r| c.wrapping_add(r.value.len() as u64));
        consumer.commit().await?;
    }
    let rate = read as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    drop(consumer);
    Ok((rate, dir_size(&dir.join("log"))?))
}

/// Records/s of reading the baseline file back, 1,000 records at a time.
fn consume_baseline(dir: &Path, n: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut reader = BufReader::new(std::fs::File::open(dir.join("baseline"))?);
    let mut read = 0usize;
    let mut checksum = 0u64;
    while read < n {
        let mut batch = Vec::with_capacity(1000);
        for _ in 0..1000.min(n - read) {
            let mut header = [0u8; 16];
            reader.read_exact(&mut header)?;
            let key_len = u32::from_le_bytes(header[..4].try_into()?) as usize;
            let value_len = u32::from_le_bytes(header[4..8].try_into()?) as usize;
            let mut key = vec![0u8; key_len];
            reader.read_exact(&mut key)?;
            let mut value = vec![0u8; value_len];
            reader.read_exact(&mut value)?;
            batch.push((key, value));
        }
        read += batch.len();
        checksum = batch
            .iter()
            .fold(checksum, |c, (_, v)| c.wrapping_add(v.len() as u64));
    }
    std::hint::black_box(checksum);
    Ok(read as f64 / started.elapsed().as_secs_f64())
}

fn dir_size(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| path.display().to_string())? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn parse_args() -> anyhow::Result<(f64, usize)> {
    let mut seconds = 2.0;
    let mut records = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().context("flags take a value")?;
        match arg.as_str() {
            "--seconds" => seconds = value.parse()?,
            "--records" => records = value.parse()?,
            other => bail!("unknown flag {other}; use --seconds S --records N"),
        }
    }
    Ok((seconds, records))
}
