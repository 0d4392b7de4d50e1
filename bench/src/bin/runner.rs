//! Function runner benchmark: how fast one streaming function's runner drains its source
//! stream, against its component called alone on the same records, side by side in one
//! run.
//!
//! The quickstart's `enrich_order` (Rust component, release build) runs from `Order` to
//! `OrderEnriched` on the embedded log, both streams of 4 partitions as `moose dev` makes
//! them. Each round writes the orders into a fresh log first (not timed), then times the
//! runner from its start until its consumer group has committed every order: polling the
//! log, the component call, checking each output against `OrderEnriched`, writing the
//! outputs durably and committing the offsets. The baseline is `process` called on the
//! same records in batches of the runner's size, nothing else. The ratio is the share of
//! the component's own speed the whole loop keeps. The runner runs twice per round: with
//! one call per batch, and with the batch split into parallel calls as the host runs it.
//!
//! Run: `cargo run --release -p moose-bench --bin runner [-- --records N --rounds R]`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use moose_bench::median;
use moose_pipeline::functions::{group, Destination, FunctionRunner, RunnerOptions};
use moose_runtime::types::{Batch, Encoding};
use moose_runtime::{ComponentHandle, GuestComponent, NoQueryService, Runtime, RuntimeConfig};
use moose_streams::embedded::EmbeddedStreams;
use moose_streams::{Record, StreamSpec, Streams};
use tokio_util::sync::CancellationToken;

const PARTITIONS: u32 = 4;

/// The allocator of `moose` itself, so the runner allocates as it does in the host.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let (records, rounds) = moose_bench::records_and_rounds(200_000, 5)?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = moose_host::builder::build(
        &repo.join("examples/quickstart"),
        moose_host::builder::Profile::Release,
    )
    .context("building examples/quickstart")?;
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(
        RuntimeConfig::default(),
        cache.path().to_path_buf(),
        Arc::new(NoQueryService),
    )?;
    let handle = moose_runtime::handle(runtime.load(&built.name, &built.wasm)?);
    let component = handle.load_full();
    let app = moose_model::app::App {
        name: "quickstart".into(),
        components: vec![],
        def: component.describe()?,
    };
    let orders: Vec<Vec<u8>> = moose_bench::orders(records)
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let options = RunnerOptions::default();
    let batches: Vec<Batch> = orders
        .chunks(options.batch_size)
        .map(|chunk| Batch {
            encoding: Encoding::Json,
            count: chunk.len() as u32,
            data: chunk.join(&b'\n'),
        })
        .collect();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    println!(
        "{records} orders, {} per batch, {rounds} rounds alternating; median records/s",
        options.batch_size
    );
    let serial = RunnerOptions {
        parallel_calls: 1,
        ..options.clone()
    };
    let (mut alone, mut one, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        alone.push(component_alone(&component, &batches, records)?);
        one.push(tokio.block_on(drain(&app, &handle, &orders, &serial))?);
        parts.push(tokio.block_on(drain(&app, &handle, &orders, &options))?);
    }
    let alone = median(&mut alone);
    println!("{:<36} {:>12}", "component alone", format!("{alone:.0}"));
    for (label, rates) in [
        ("runner, one call per batch".to_string(), &mut one),
        (
            format!("runner, up to {} calls per batch", options.parallel_calls),
            &mut parts,
        ),
    ] {
        let rate = median(rates);
        println!(
            "{label:<36} {:>12}   / component: {:.2}",
            format!("{rate:.0}"),
            rate / alone
        );
    }
    Ok(())
}

/// Records/s of `process` over `batches`.
fn component_alone(
    component: &GuestComponent,
    batches: &[Batch],
    records: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for batch in batches {
        let output = component
            .process("enrich_order", batch)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        std::hint::black_box(output);
    }
    Ok(records as f64 / started.elapsed().as_secs_f64())
}

/// Records/s of a runner draining `orders` from a fresh log.
async fn drain(
    app: &moose_model::app::App,
    component: &ComponentHandle,
    orders: &[Vec<u8>],
    options: &RunnerOptions,
) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let streams: Arc<dyn Streams> =
        Arc::new(EmbeddedStreams::open(dir.path(), Default::default())?);
    for name in ["Order", "OrderEnriched"] {
        streams
            .ensure_stream(&StreamSpec {
                name: name.into(),
                partitions: PARTITIONS,
                retention: Duration::from_secs(3600),
            })
            .await?;
    }
    let key_fields = app.key_fields("Order");
    for chunk in orders.chunks(10_000) {
        let records = chunk
            .iter()
            .map(|value| {
                let parsed: serde_json::Value = serde_json::from_slice(value)?;
                Ok(Record {
                    key: moose_records::record_key(&parsed, &key_fields),
                    value: value.clone(),
                    timestamp_ms: 0,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        streams.produce("Order", records).await?;
    }
    let runner = FunctionRunner {
        name: "enrich_order".into(),
        source: "Order".into(),
        destination: Some(Destination::of(app, "OrderEnriched")?),
        dead_letter: None,
        component: component.clone(),
        streams: streams.clone(),
        metrics: Arc::new(moose_telemetry::metrics::Metrics::new()),
        options: options.clone(),
    };
    let stop = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(runner.run(stop.clone()));
    let group = group("enrich_order");
    loop {
        let lag = streams.lag("Order", &group).await?;
        let committed: u64 = lag.iter().map(|p| p.committed).sum();
        if committed >= orders.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = orders.len() as f64 / started.elapsed().as_secs_f64();
    stop.cancel();
    running.await?;
    Ok(rate)
}
