//! Memory of stream readers with a backlog: Kafka consumers (librdkafka, against its
//! in-process mock cluster) fetch ahead of their polls; `[streaming] read_buffer_mb`
//! bounds that. Each configuration runs in a child process of its own, side by side with
//! librdkafka's defaults (64 MiB ahead per consumer) as the baseline: 4 streams of 4
//! partitions with 100 MiB of 1 KiB records each, one consumer per stream that polls once
//! and then lets the fetcher run; the growth of the resident set is what they hold.
//!
//! Run: `cargo run --release -p moose-bench --bin read_buffer`

use std::time::Duration;

use anyhow::{bail, Context};
use moose_streams::kafka::{KafkaConfig, KafkaStreams};
use moose_streams::{Record, StreamSpec, Streams};
use rdkafka::mocking::MockCluster;

const STREAMS: usize = 4;
const PARTITIONS: u32 = 4;
const MIB_PER_STREAM: usize = 100;

fn main() -> anyhow::Result<()> {
    if let Some(("--child", mb)) = moose_bench::flags(&["--child"])?
        .first()
        .map(|(f, v)| (*f, v.as_str()))
    {
        let mb: usize = mb.parse().context("--child MB")?;
        let grown = tokio::runtime::Runtime::new()?.block_on(backlog(mb))?;
        println!("{grown}");
        return Ok(());
    }
    println!("{STREAMS} Kafka consumers, each with a backlog of {MIB_PER_STREAM} MiB: resident growth after one poll");
    println!("{:>28} {:>10} {:>8}", "read ahead", "MiB", "ratio");
    let baseline = child(0)?;
    println!(
        "{:>28} {baseline:>10.0} {:>8.2}",
        "librdkafka default (64 MiB)", 1.0
    );
    for mb in [16, 4] {
        let grown = child(mb)?;
        println!(
            "{:>28} {grown:>10.0} {:>8.2}",
            format!("read_buffer_mb = {mb}"),
            grown / baseline
        );
    }
    Ok(())
}

/// Runs one configuration in a child process; its resident growth in MiB.
fn child(mb: usize) -> anyhow::Result<f64> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--child", &mb.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("child {mb}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn resident_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Fills the streams, starts one consumer each with a read buffer of `mb` MiB (0:
/// librdkafka's defaults), and measures what they hold.
async fn backlog(mb: usize) -> anyhow::Result<f64> {
    let cluster = MockCluster::<rdkafka::producer::DefaultProducerContext>::new(1)?;
    let mut config = KafkaConfig::new(cluster.bootstrap_servers());
    if mb == 0 {
        config.properties.extend(
            [
                ("queued.max.messages.kbytes", "65536"),
                ("fetch.max.bytes", "52428800"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    } else {
        config.max_poll_bytes = mb << 20;
    }
    let streams = KafkaStreams::connect(config)?;
    let value = vec![b'x'; 1024];
    for s in 0..STREAMS {
        let name = format!("s{s}");
        cluster.create_topic(&name, PARTITIONS as i32, 1)?;
        streams
            .ensure_stream(&StreamSpec {
                name: name.clone(),
                partitions: PARTITIONS,
                retention: Duration::from_secs(3600),
            })
            .await?;
        for batch in 0..MIB_PER_STREAM {
            let records = (0..1024)
                .map(|i| Record {
                    key: Some(format!("{batch}-{i}").into_bytes()),
                    value: value.clone(),
                    timestamp_ms: 0,
                })
                .collect();
            streams.produce(&name, records).await?;
        }
    }
    let before = resident_mib()?;
    let mut consumers = Vec::new();
    for s in 0..STREAMS {
        let mut consumer = streams
            .consumer(&format!("s{s}"), &format!("bench-{s}"))
            .await?;
        if consumer.poll(1, Duration::from_secs(30)).await?.is_empty() {
            bail!("stream s{s}: nothing arrived");
        }
        consumers.push(consumer);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(resident_mib()? - before)
}
