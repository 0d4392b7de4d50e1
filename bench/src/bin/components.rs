//! Component runtime benchmark: the quickstart's `enrich_order` as a WebAssembly component
//! against the very same code compiled natively, side by side in one process.
//!
//! Reports the component's size, compile time, cached load time, instantiate time, and
//! records/s at batch sizes 1, 100 and 1000 with the component/native ratio.
//!
//! Run: `cargo run --release -p moose-bench --bin components [-- --records N --rounds R]`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use moose_host::runtime::types::{Batch, Encoding};
use moose_host::runtime::{GuestComponent, LoadSource, NoQueryService, Runtime, RuntimeConfig};

/// The quickstart's source, compiled natively into this benchmark as the baseline.
#[path = "../../../examples/quickstart/src/lib.rs"]
#[allow(dead_code)]
mod quickstart;

const FUNCTION: &str = "enrich_order";

fn main() -> anyhow::Result<()> {
    let (records, rounds) = parse_args()?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = moose_host::builder::build(&repo.join("examples/quickstart"))?;
    let wasm_size = std::fs::metadata(&built.wasm)?.len();

    let mut compile_times = Vec::new();
    for _ in 0..3 {
        let cache = tempfile::tempdir()?;
        let runtime = new_runtime(cache.path())?;
        let component = runtime.load(&built.name, &built.wasm)?;
        assert_eq!(component.info().source, LoadSource::Compiled);
        compile_times.push(component.info().load_time);
    }
    let cache = tempfile::tempdir()?;
    let runtime = new_runtime(cache.path())?;
    runtime.load(&built.name, &built.wasm)?;
    let mut load_times = Vec::new();
    let mut component = None;
    for _ in 0..5 {
        let loaded = runtime.load(&built.name, &built.wasm)?;
        assert_eq!(loaded.info().source, LoadSource::Cached);
        load_times.push(loaded.info().load_time);
        component = Some(loaded);
    }
    let component = component.context("loaded")?;
    let instantiate = {
        let n = 200;
        let started = Instant::now();
        for _ in 0..n {
            component.instantiate()?;
        }
        started.elapsed() / n
    };

    println!("component  {}", built.wasm.display());
    println!("size       {:.1} KiB", wasm_size as f64 / 1024.0);
    println!(
        "compile    {:.1?} (median of 3)",
        median(&mut compile_times)
    );
    println!(
        "load       {:.2?} from the precompiled cache (median of 5)",
        median(&mut load_times)
    );
    println!("instantiate {:.1?} (mean of 200)", instantiate);
    println!();
    println!("{records} records per run, {rounds} rounds per batch size, alternating; medians");
    println!(
        "{:>6} {:>16} {:>16} {:>10}",
        "batch", "component rec/s", "native rec/s", "ratio"
    );

    let app = quickstart::app();
    let lines = orders(records);
    for batch_size in [1usize, 100, 1000] {
        let host_batches = batches(&lines, batch_size);
        let native_batches: Vec<moose_guest::Batch> = host_batches
            .iter()
            .map(|b| moose_guest::Batch {
                encoding: moose_guest::process::Encoding::Json,
                count: b.count,
                data: b.data.clone(),
            })
            .collect();
        let mut wasm_rates = Vec::new();
        let mut native_rates = Vec::new();
        for _ in 0..rounds {
            wasm_rates.push(rate(records, || run_component(&component, &host_batches))?);
            native_rates.push(rate(records, || {
                for batch in &native_batches {
                    let out = app
                        .process(FUNCTION, batch)
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    std::hint::black_box(out);
                }
                Ok(())
            })?);
        }
        let wasm = median_f64(&mut wasm_rates);
        let native = median_f64(&mut native_rates);
        println!(
            "{batch_size:>6} {:>16.0} {:>16.0} {:>10.2}",
            wasm,
            native,
            wasm / native
        );
    }
    Ok(())
}

fn parse_args() -> anyhow::Result<(usize, usize)> {
    let mut records = 100_000;
    let mut rounds = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().context("flags take a value")?;
        match arg.as_str() {
            "--records" => records = value.parse()?,
            "--rounds" => rounds = value.parse()?,
            other => bail!("unknown flag {other}; use --records N --rounds R"),
        }
    }
    Ok((records, rounds))
}

fn new_runtime(cache: &Path) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(
        RuntimeConfig::default(),
        cache.to_path_buf(),
        Arc::new(NoQueryService),
    )?)
}

fn run_component(component: &GuestComponent, batches: &[Batch]) -> anyhow::Result<()> {
    for batch in batches {
        let out = component
            .process(FUNCTION, batch)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        std::hint::black_box(out);
    }
    Ok(())
}

fn rate(records: usize, run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let started = Instant::now();
    run()?;
    Ok(records as f64 / started.elapsed().max(Duration::from_nanos(1)).as_secs_f64())
}

/// Deterministic orders; one in ten is dropped by the function.
fn orders(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let amount = if i % 10 == 9 {
                -1.0
            } else {
                (i % 5000) as f64 * 0.37
            };
            serde_json::json!({
                "id": format!("o{i}"),
                "customer": format!("c{}", i % 97),
                "amount": amount,
                "ts": format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
            })
            .to_string()
        })
        .collect()
}

fn batches(lines: &[String], size: usize) -> Vec<Batch> {
    lines
        .chunks(size)
        .map(|chunk| Batch {
            encoding: Encoding::Json,
            count: chunk.len() as u32,
            data: chunk.join("\n").into_bytes(),
        })
        .collect()
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
