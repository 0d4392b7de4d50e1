//! End-to-end throughput of `moose dev` on the quickstart: the highest steady offered load
//! whose records all reach the destination tables (`Order` by its table sync,
//! `OrderEnriched` through `enrich_order` and its sync) with bounded lag, for bodies of
//! 1,000 records and of 1, from 8 and 64 connections; next to the most an HTTP sink that
//! only reads the bodies takes from the same clients. Then ingest → queryable latency in
//! `OrderEnriched` at half the sustained rate.
//!
//! A rate is sustained when the clients offer it (at least 97 % of it is sent) for the
//! whole run and every record sent is in both tables at most `--lag` seconds after the
//! run ends. The search starts at the rate ingest takes with clients sending as fast as
//! they can, and steps down by a fifth until a rate holds; then it tries once halfway up
//! to the rate that failed.
//!
//! With `--kafka`, the same is measured on a second `moose dev` with
//! `streaming.backend = "kafka"` against a local tansu broker (scripts/setup-kafka.sh).
//! The last line is `end-to-end: <N> rec/s sustained` for the first shape (bodies of 1,000
//! from 8 connections unless `--shape` says otherwise) on the embedded backend.
//!
//! With `--rate R`, each shape is offered R records/s once, without the search (to
//! profile the host at a known load, or to compare builds at one rate).
//!
//! Run: `cargo run --release -p moose-bench --bin end_to_end [-- --seconds S --lag S --kafka
//! --rate R --shape BODYxCONNECTIONS ...]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use moose_tests::tansu::Tansu;
use moose_tests::DevHost;

/// The tables every record must reach.
const TABLES: [&str; 2] = ["Order", "OrderEnriched"];
/// Most steps down from the unpaced rate before giving up.
const MAX_STEPS: usize = 8;

struct Options {
    seconds: u64,
    lag: u64,
    kafka: bool,
    /// Offer only this rate (records/s) once per shape instead of searching.
    rate: Option<f64>,
    /// The shapes to run (all of [`SHAPES`] unless `--shape` names some).
    shapes: Vec<Shape>,
}

/// One load shape.
#[derive(Clone, Copy)]
struct Shape {
    body: usize,
    connections: usize,
}

const SHAPES: [Shape; 4] = [
    Shape {
        body: 1000,
        connections: 8,
    },
    Shape {
        body: 1000,
        connections: 64,
    },
    Shape {
        body: 1,
        connections: 8,
    },
    Shape {
        body: 1,
        connections: 64,
    },
];

fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    moose_bench::release_moose()?;
    let sink = moose_bench::start_sink()?;
    let embedded = DevHost::start("examples/quickstart");
    let kafka = options.kafka.then(|| {
        let tansu = Tansu::start();
        let host = DevHost::start_with("examples/quickstart", &tansu.streaming_config());
        (tansu, host)
    });
    let mut runs = Runs::default();
    println!(
        "steady offered load for {} s per try; sustained = all records in {} within {} s after the load stops",
        options.seconds,
        TABLES.join(" and "),
        options.lag
    );
    println!(
        "{:>10} {:>6} {:>8} {:>14} {:>14} {:>8}",
        "backend", "body", "conns", "moose rec/s", "sink rec/s", "ratio"
    );
    // Per backend, the sustained rate of the first shape (bodies of 1000, 8 connections).
    let mut first = Vec::new();
    let mut hosts = vec![("embedded", &embedded)];
    if let Some((_, host)) = &kafka {
        hosts.push(("kafka", host));
    }
    for &shape in &options.shapes {
        let sink_rate = unpaced(&format!("{sink}/sink"), shape, options.seconds, &mut runs)?;
        for (backend, host) in &hosts {
            let sustained = sustained(host, shape, &options, &mut runs)?;
            println!(
                "{backend:>10} {:>6} {:>8} {sustained:>14.0} {sink_rate:>14.0} {:>8.3}",
                shape.body,
                shape.connections,
                sustained / sink_rate
            );
            if first.len() < hosts.len() {
                first.push(sustained);
            }
        }
    }

    println!();
    println!(
        "ingest -> queryable in OrderEnriched at half the sustained rate (bodies of {}, {} connections)",
        options.shapes[0].body, options.shapes[0].connections
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>8}",
        "backend", "rec/s", "p50", "p99", "samples"
    );
    for ((backend, host), sustained) in hosts.iter().zip(&first) {
        let rate = sustained / 2.0;
        let mut samples = latency(host, options.shapes[0], rate, options.seconds, &mut runs)?;
        samples.sort();
        let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
        println!(
            "{backend:>10} {rate:>10.0} {:>10.1?} {:>10.1?} {:>8}",
            pct(50),
            pct(99),
            samples.len()
        );
    }
    if let Some((_tansu, host)) = kafka {
        host.stop();
    }
    embedded.stop();
    println!("end-to-end: {:.0} rec/s sustained", first[0]);
    Ok(())
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        seconds: 15,
        lag: 3,
        kafka: false,
        rate: None,
        shapes: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> anyhow::Result<u64> {
            Ok(args.next().context("a value after the flag")?.parse()?)
        };
        match arg.as_str() {
            "--seconds" => options.seconds = value()?,
            "--lag" => options.lag = value()?,
            "--kafka" => options.kafka = true,
            "--rate" => options.rate = Some(value()? as f64),
            "--shape" => {
                let shape = args.next().context("a shape after --shape")?;
                options.shapes.push(parse_shape(&shape)?);
            }
            other => bail!(
                "unknown flag {other}; use --seconds S --lag S --kafka --rate R --shape BODYxCONNECTIONS"
            ),
        }
    }
    if options.shapes.is_empty() {
        options.shapes = SHAPES.to_vec();
    }
    Ok(options)
}

/// `1000x8`: bodies of 1,000 records from 8 connections.
fn parse_shape(text: &str) -> anyhow::Result<Shape> {
    let (body, connections) = text
        .split_once('x')
        .with_context(|| format!("shape `{text}`: write it as BODYxCONNECTIONS, e.g. 1000x8"))?;
    let shape = Shape {
        body: body
            .parse()
            .with_context(|| format!("shape `{text}`: body size"))?,
        connections: connections
            .parse()
            .with_context(|| format!("shape `{text}`: connections"))?,
    };
    if shape.body == 0 || shape.connections == 0 {
        bail!("shape `{text}`: body size and connections must be at least 1");
    }
    Ok(shape)
}

/// Numbers the runs, so that every run's record ids are new.
#[derive(Default)]
struct Runs(usize);

impl Runs {
    fn next(&mut self) -> usize {
        self.0 += 1;
        self.0
    }
}

/// The highest rate of `shape` that `host` sustains end to end.
fn sustained(
    host: &DevHost,
    shape: Shape,
    options: &Options,
    runs: &mut Runs,
) -> anyhow::Result<f64> {
    let ingest = format!("{}/ingest/Order", host.api);
    if let Some(rate) = options.rate {
        return holds(host, &ingest, shape, rate, options, runs)?
            .with_context(|| format!("{rate} rec/s of bodies of {} did not hold", shape.body));
    }
    let mut rate = unpaced(&ingest, shape, options.seconds.min(5), runs)?;
    wait_drained(host, Duration::from_secs(120))?;
    // The lowest rate that did not hold.
    let mut failed = None;
    for _ in 0..MAX_STEPS {
        if let Some(offered) = holds(host, &ingest, shape, rate, options, runs)? {
            // Halve the step once: between this rate and the one above that failed.
            let Some(failed) = failed else {
                return Ok(offered);
            };
            wait_drained(host, Duration::from_secs(300))?;
            let between = (rate + failed) / 2.0;
            let refined = holds(host, &ingest, shape, between, options, runs)?;
            return Ok(refined.unwrap_or(offered));
        }
        wait_drained(host, Duration::from_secs(300))?;
        failed = Some(rate);
        rate *= 0.8;
    }
    bail!("no rate of bodies of {} held", shape.body)
}

/// Offers `rate` records/s of `shape` for the run's seconds; the rate offered when it held
/// (at least 97 % of it was sent and every record reached the tables within the lag).
fn holds(
    host: &DevHost,
    ingest: &str,
    shape: Shape,
    rate: f64,
    options: &Options,
    runs: &mut Runs,
) -> anyhow::Result<Option<f64>> {
    let before = counts(host)?;
    let sent = paced(ingest, shape, rate, options.seconds, runs.next(), None)?;
    let offered = sent as f64 / options.seconds as f64;
    let deadline = Instant::now() + Duration::from_secs(options.lag);
    let (held, arrived) = loop {
        let now = counts(host)?;
        let arrived: Vec<u64> = now.iter().zip(before).map(|(n, b)| n - b).collect();
        if arrived.iter().all(|&n| n >= sent) {
            break (offered >= rate * 0.97, arrived);
        }
        if Instant::now() > deadline {
            break (false, arrived);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Which table fell behind tells the stage that could not keep up.
    let behind: Vec<String> = TABLES
        .iter()
        .zip(&arrived)
        .filter(|(_, &n)| n < sent)
        .map(|(table, n)| format!("{table} {n} of {sent}"))
        .collect();
    eprintln!(
        "  tried {rate:.0} rec/s: offered {offered:.0}, {}",
        match (held, behind.is_empty()) {
            (true, _) => "held".to_string(),
            (false, true) => "did not hold (sent too few)".to_string(),
            (false, false) => format!(
                "did not hold ({} after {} s; {})",
                behind.join(", "),
                options.lag,
                lags(host)
            ),
        }
    );
    Ok(held.then_some(offered))
}

/// The consumer groups still behind, from the host's lag metric: `lag function:f 1200`.
fn lags(host: &DevHost) -> String {
    let metrics = host.metrics();
    let behind: Vec<String> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("moose_consumer_lag_records{"))
        .filter_map(|line| {
            let (labels, value) = line.rsplit_once("} ")?;
            let group = labels.split("group=\"").nth(1)?.split('"').next()?;
            (value.trim() != "0").then(|| format!("{group} {}", value.trim()))
        })
        .collect();
    format!("lag {}", behind.join(", "))
}

/// Records/s taken by `url` from `shape.connections` clients sending as fast as they can.
fn unpaced(url: &str, shape: Shape, seconds: u64, runs: &mut Runs) -> anyhow::Result<f64> {
    let sent = paced(url, shape, f64::INFINITY, seconds, runs.next(), None)?;
    Ok(sent as f64 / seconds as f64)
}

/// Sends bodies of `shape` to `url` at `rate` records/s in total (each connection on its
/// own schedule, catching up at once when behind) for `seconds`; returns the records
/// acknowledged. The connections are tasks of one thread, so the load costs the host under
/// test at most one of the machine's cores. With `marker`, also measures latency on the
/// side.
fn paced(
    url: &str,
    shape: Shape,
    rate: f64,
    seconds: u64,
    run: usize,
    marker: Option<&dyn Fn()>,
) -> anyhow::Result<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let end = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        let load = scope.spawn(|| runtime.block_on(offer(url, shape, rate, end, run)));
        if let Some(marker) = marker {
            while Instant::now() < end {
                marker();
            }
        }
        load.join()
            .map_err(|_| anyhow::anyhow!("the load client panicked"))?
    })
}

/// The connections of [`paced`], each sending its next body when its schedule says so.
async fn offer(
    url: &str,
    shape: Shape,
    rate: f64,
    end: Instant,
    run: usize,
) -> anyhow::Result<u64> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("`{url}` is not a URL"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let interval = Duration::from_secs_f64(shape.body as f64 * shape.connections as f64 / rate);
    let started = tokio::time::Instant::now();
    let end = started + end.saturating_duration_since(Instant::now());
    let mut connections = tokio::task::JoinSet::new();
    for connection in 0..shape.connections {
        let (client, uri) = (client.clone(), uri.clone());
        let offset = interval.mul_f64(connection as f64 / shape.connections as f64);
        let mut next = started + offset.min(Duration::from_secs(1));
        connections.spawn(async move {
            let mut sent = 0;
            for request in 0.. {
                if tokio::time::Instant::now().max(next) >= end {
                    break;
                }
                tokio::time::sleep_until(next).await;
                let post = Request::post(uri.clone())
                    .body(Body::from(body(run, connection, request, shape.body)))?;
                let answer = client
                    .request(post)
                    .await
                    .with_context(|| format!("posting to {uri}"))?;
                let status = answer.status();
                let text = axum::body::to_bytes(Body::new(answer.into_body()), 1 << 20).await?;
                if !status.is_success() {
                    bail!(
                        "{uri} answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    );
                }
                sent += shape.body as u64;
                next += interval;
            }
            anyhow::Ok(sent)
        });
    }
    let mut sent = 0;
    while let Some(connection) = connections.join_next().await {
        sent += connection??;
    }
    Ok(sent)
}

/// Times from posting one marker order alone to finding it in `OrderEnriched`, while
/// bodies of `shape` are offered at `rate`.
fn latency(
    host: &DevHost,
    shape: Shape,
    rate: f64,
    seconds: u64,
    runs: &mut Runs,
) -> anyhow::Result<Vec<Duration>> {
    wait_drained(host, Duration::from_secs(300))?;
    let run = runs.next();
    let samples = std::sync::Mutex::new(Vec::new());
    let failure = std::sync::Mutex::new(None);
    let agent = ureq::Agent::new_with_defaults();
    let count = AtomicU64::new(0);
    let marker = || {
        let id = format!("lat{run}-{}", count.fetch_add(1, Ordering::Relaxed));
        let started = Instant::now();
        let sent = agent
            .post(&format!("{}/ingest/Order", host.api))
            .send(order(&id, 1))
            .map_err(anyhow::Error::from)
            .and_then(|_| {
                moose_bench::wait_visible(host, "OrderEnriched", &id, Duration::from_secs(60))
            });
        match sent {
            Ok(()) => samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(started.elapsed()),
            Err(error) => *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(error),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let ingest = format!("{}/ingest/Order", host.api);
    paced(&ingest, shape, rate, seconds, run, Some(&marker))?;
    if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(error.context("a latency marker"));
    }
    let samples = samples.into_inner().unwrap_or_else(|e| e.into_inner());
    if samples.is_empty() {
        bail!("no latency marker was measured");
    }
    Ok(samples)
}

/// NDJSON body of `size` orders with ids unique to the run, connection and request.
fn body(run: usize, connection: usize, request: usize, size: usize) -> String {
    let mut body = String::with_capacity(size * 96);
    for i in 0..size {
        if i > 0 {
            body.push('\n');
        }
        body.push_str(&order(&format!("r{run}-{connection}-{request}-{i}"), i));
    }
    body
}

fn order(id: &str, i: usize) -> String {
    format!(
        r#"{{"id":"{id}","customer":"c{}","amount":{:.2},"ts":"2024-05-{:02}T{:02}:{:02}:00Z"}}"#,
        i % 97,
        (i % 5000) as f64 * 0.37 + 1.0,
        1 + i % 28,
        i % 24,
        i % 60
    )
}

/// Rows in each of [`TABLES`].
fn counts(host: &DevHost) -> anyhow::Result<[u64; 2]> {
    let mut counts = [0; 2];
    for (count, table) in counts.iter_mut().zip(TABLES) {
        let rows = host.query(&format!("SELECT count() AS n FROM `{table}`"));
        *count = rows
            .first()
            .and_then(|r| r["n"].as_u64())
            .with_context(|| format!("counting {table}"))?;
    }
    Ok(counts)
}

/// Waits until the tables stop growing (what was sent before has arrived).
fn wait_drained(host: &DevHost, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let mut last = counts(host)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = counts(host)?;
        if now == last {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the tables did not settle within {within:?}: {now:?}");
        }
        last = now;
    }
}
