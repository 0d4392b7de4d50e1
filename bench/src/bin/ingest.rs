//! Ingest benchmark of `moose dev` on the quickstart: records/s through `POST /ingest`
//! (validated and durable before the answer), and end-to-end latency from ingest until a
//! record is queryable in ClickHouse. Each is reported next to a baseline run in the same
//! script: an HTTP sink that only reads the bodies, and a direct ClickHouse insert. With
//! `--kafka`, a second `moose dev` with `streaming.backend = "kafka"` against a local tansu
//! broker (scripts/setup-kafka.sh) is measured in the same rounds, next to the embedded
//! backend.
//!
//! Run: `cargo run --release -p moose-bench --bin ingest [-- --records N --clients C --kafka]`

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use moose_tests::tansu::Tansu;
use moose_tests::DevHost;

const BODY: usize = 1_000;

fn main() -> anyhow::Result<()> {
    let (records, clients, kafka) = parse_args()?;
    moose_bench::release_moose()?;
    let host = DevHost::start("examples/quickstart");
    let kafka = kafka.then(|| {
        let tansu = Tansu::start();
        let host = DevHost::start_with("examples/quickstart", &tansu.streaming_config());
        (tansu, host)
    });
    let sink = moose_bench::start_sink()?;

    let bodies: Vec<String> = (0..records)
        .collect::<Vec<_>>()
        .chunks(BODY)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| order(*i))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    println!("{records} records in NDJSON bodies of {BODY}, {clients} concurrent clients");
    println!(
        "{:>22} {:>14} {:>14} {:>8}",
        "", "moose rec/s", "sink rec/s", "ratio"
    );
    for round in 0..3 {
        let moose = throughput(
            &format!("{}/ingest/Order", host.api),
            &bodies,
            clients,
            round,
        )?;
        let floor = throughput(&format!("{sink}/sink"), &bodies, clients, round)?;
        println!(
            "{:>22} {moose:>14.0} {floor:>14.0} {:>8.2}",
            format!("round {}", round + 1),
            moose / floor
        );
        if let Some((_, kafka)) = &kafka {
            let rate = throughput(
                &format!("{}/ingest/Order", kafka.api),
                &bodies,
                clients,
                round,
            )?;
            println!(
                "{:>22} {rate:>14.0} {floor:>14.0} {:>8.2}   (kafka/embedded {:.2})",
                format!("round {} kafka", round + 1),
                rate / floor,
                rate / moose
            );
        }
    }
    if let Some((_tansu, kafka)) = kafka {
        kafka.stop();
    }

    let samples = 30;
    let mut moose = Vec::new();
    let mut direct = Vec::new();
    for i in 0..samples {
        let id = format!("latency-{i}");
        let started = Instant::now();
        ureq::post(&format!("{}/ingest/Order", host.api))
            .send(order_with_id(&id, i))
            .context("ingest")?;
        moose_bench::wait_visible(&host, "Order", &id, Duration::from_secs(30))?;
        moose.push(started.elapsed());

        let id = format!("direct-{i}");
        let started = Instant::now();
        ureq::post(&host.clickhouse)
            .query("database", "local")
            .query("date_time_input_format", "best_effort")
            .send(format!(
                "INSERT INTO `Order` FORMAT JSONEachRow {}",
                order_with_id(&id, i)
            ))
            .context("direct insert")?;
        moose_bench::wait_visible(&host, "Order", &id, Duration::from_secs(30))?;
        direct.push(started.elapsed());
    }
    moose.sort();
    direct.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    println!();
    println!("ingest -> queryable in the raw table, {samples} single records, sequential");
    println!("{:>22} {:>10} {:>10} {:>10}", "", "p50", "p95", "max");
    println!(
        "{:>22} {:>10.1?} {:>10.1?} {:>10.1?}",
        "moose dev",
        pct(&moose, 50),
        pct(&moose, 95),
        moose[samples - 1]
    );
    println!(
        "{:>22} {:>10.1?} {:>10.1?} {:>10.1?}",
        "direct ClickHouse insert",
        pct(&direct, 50),
        pct(&direct, 95),
        direct[samples - 1]
    );
    println!(
        "{:>22} {:>10.2} {:>10.2}",
        "ratio",
        ratio(pct(&moose, 50), pct(&direct, 50)),
        ratio(pct(&moose, 95), pct(&direct, 95))
    );
    host.stop();
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn parse_args() -> anyhow::Result<(usize, usize, bool)> {
    let mut records = 200_000;
    let mut clients = 8;
    let mut kafka = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("--records and --clients take a value");
        match arg.as_str() {
            "--records" => records = value()?.parse()?,
            "--clients" => clients = value()?.parse()?,
            "--kafka" => kafka = true,
            other => bail!("unknown flag {other}; use --records N --clients C [--kafka]"),
        }
    }
    Ok((records, clients, kafka))
}

fn order(i: usize) -> String {
    order_with_id(&format!("o{i}"), i)
}

fn order_with_id(id: &str, i: usize) -> String {
    serde_json::json!({
        "id": id,
        "customer": format!("c{}", i % 97),
        "amount": (i % 5000) as f64 * 0.37 + 1.0,
        "ts": format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
    })
    .to_string()
}

/// Records/s posting every body once with `clients` threads. Ids differ per round.
fn throughput(url: &str, bodies: &[String], clients: usize, round: usize) -> anyhow::Result<f64> {
    let records: usize = bodies.iter().map(|b| b.lines().count()).sum();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for body in bodies.iter().skip(c).step_by(clients) {
                        let body = body.replace("\"id\":\"o", &format!("\"id\":\"r{round}-o"));
                        let status = ureq::post(url).send(body)?.status();
                        if status != 200 {
                            bail!("{url} answered {status}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| anyhow::anyhow!("client panicked"))?)
    })?;
    Ok(records as f64 / started.elapsed().as_secs_f64())
}
