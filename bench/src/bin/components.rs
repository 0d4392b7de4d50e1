//! Component runtime benchmark: the quickstart's `enrich_order` as a WebAssembly component
//! in each guest language (Rust, TypeScript, Python) against the same function run
//! natively, side by side in one run. Two native baselines:
//! - *plain*: the transform written without Moose (`bench/native/enrich.mjs` on Node.js,
//!   `bench/native/enrich.py` on CPython);
//! - *app*: the quickstart app itself with its SDK on the native runtime
//!   (`bench/native/app.ts`, bundled with esbuild, on Node.js; `bench/native/app.py` on
//!   CPython). Its ratio is what running in WebAssembly costs; the two baselines' ratio
//!   is what the SDK's typed models cost.
//!
//! For Rust both are the quickstart compiled into this process.
//!
//! Reports each component's size, compile time, cached load time and instantiate time,
//! then records/s at batch sizes 1, 100 and 1000, rounds alternating between subjects.
//!
//! Run: `cargo run --release -p moose-bench --bin components [-- --records N --rounds R]
//! [--language rust|ts|python]`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use moose_bench::median;
use moose_runtime::types::{Batch, Encoding};
use moose_runtime::{GuestComponent, LoadSource, NoQueryService, Runtime, RuntimeConfig};

/// The quickstart's source, compiled natively into this benchmark as the baseline.
#[path = "../../../examples/quickstart/src/lib.rs"]
#[allow(dead_code)]
mod quickstart;

const FUNCTION: &str = "enrich_order";

/// A language's native scripts, both run by `program`: the plain transform, and the app
/// with its SDK (a `.ts` script is bundled with esbuild first). `P` is a path relative to
/// the repository in [`LANGUAGES`], the path to run in a [`Subject`].
struct Scripts<P> {
    program: &'static str,
    plain: P,
    app: P,
}

/// Each guest language: its quickstart and its native scripts (`None`: the Rust
/// quickstart compiled into this benchmark, app and plain transform alike).
const LANGUAGES: [(&str, &str, Option<Scripts<&str>>); 3] = [
    ("rust", "examples/quickstart", None),
    (
        "ts",
        "examples/quickstart-ts",
        Some(Scripts {
            program: "node",
            plain: "bench/native/enrich.mjs",
            app: "bench/native/app.ts",
        }),
    ),
    (
        "python",
        "examples/quickstart-python",
        Some(Scripts {
            program: "python3",
            plain: "bench/native/enrich.py",
            app: "bench/native/app.py",
        }),
    ),
];

/// One language's component and its native baselines.
struct Subject {
    language: &'static str,
    component: GuestComponent,
    scripts: Option<Scripts<PathBuf>>,
}

fn main() -> anyhow::Result<()> {
    let flags = moose_bench::flags(&["--records", "--rounds", "--language"])?;
    let (records, rounds) = moose_bench::records_and_rounds_in(&flags, 100_000, 5)?;
    let only = flags
        .iter()
        .find(|(flag, _)| *flag == "--language")
        .map(|(_, language)| language.as_str());
    if let Some(only) = only {
        if !LANGUAGES.iter().any(|(language, ..)| *language == only) {
            bail!("--language {only}: not one of rust, ts, python");
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = tempfile::tempdir()?;
    let runtime = new_runtime(cache.path())?;
    let mut subjects = Vec::new();
    println!(
        "{:<8} {:>10} {:>12} {:>12} {:>12}",
        "language", "size", "compile", "cached load", "instantiate"
    );
    for (language, app, native) in LANGUAGES {
        if only.is_some_and(|only| only != language) {
            continue;
        }
        let built =
            moose_host::builder::build(&repo.join(app), moose_host::builder::Profile::Release)
                .with_context(|| format!("building {app}"))?;
        let (component, row) = measure_loading(&runtime, &built)?;
        println!("{language:<8} {row}");
        let scripts = match native {
            None => None,
            Some(Scripts {
                program,
                plain,
                app,
            }) => Some(Scripts {
                program,
                plain: repo.join(plain),
                app: runnable(&repo, app, cache.path())?,
            }),
        };
        subjects.push(Subject {
            language,
            component,
            scripts,
        });
    }

    let lines = moose_bench::orders(records);
    let orders_file = tempfile::NamedTempFile::new()?;
    std::fs::write(orders_file.path(), lines.join("\n"))?;
    let app = quickstart::app();
    println!();
    println!(
        "{records} records per run, {rounds} rounds per batch size, alternating; median records/s"
    );
    println!(
        "{:>6} {:<8} {:>12} {:>12} {:>6} {:>12} {:>6}",
        "batch", "language", "component", "plain", "ratio", "app native", "ratio"
    );
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
        let mut rates = vec![[Vec::new(), Vec::new(), Vec::new()]; subjects.len()];
        for _ in 0..rounds {
            for (subject, [wasm, plain, app_native]) in subjects.iter().zip(rates.iter_mut()) {
                wasm.push(rate(records, || {
                    run_component(&subject.component, &host_batches)
                })?);
                match &subject.scripts {
                    None => {
                        let native = rate(records, || {
                            for batch in &native_batches {
                                let out = app
                                    .process(FUNCTION, batch)
                                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                                std::hint::black_box(out);
                            }
                            Ok(())
                        })?;
                        plain.push(native);
                        app_native.push(native);
                    }
                    Some(scripts) => {
                        let orders = orders_file.path();
                        let run = |script| run_script(scripts.program, script, orders, batch_size);
                        plain.push(run(&scripts.plain)?);
                        app_native.push(run(&scripts.app)?);
                    }
                }
            }
        }
        for (subject, [wasm, plain, app_native]) in subjects.iter().zip(rates.iter_mut()) {
            let (wasm, plain, app_native) = (median(wasm), median(plain), median(app_native));
            println!(
                "{batch_size:>6} {:<8} {wasm:>12.0} {plain:>12.0} {:>6.2} {app_native:>12.0} {:>6.2}",
                subject.language,
                wasm / plain,
                wasm / app_native
            );
        }
    }
    Ok(())
}

/// Loads `built` three times uncached (compile) and five times cached, and instantiates
/// it 200 times; returns the cached component and the table row.
fn measure_loading(
    runtime: &Runtime,
    built: &moose_host::builder::BuiltComponent,
) -> anyhow::Result<(GuestComponent, String)> {
    let wasm_size = std::fs::metadata(&built.wasm)?.len();
    let mut compile_times = Vec::new();
    for _ in 0..3 {
        let cache = tempfile::tempdir()?;
        let fresh = new_runtime(cache.path())?;
        let component = fresh.load(&built.name, &built.wasm)?;
        assert_eq!(component.info().source, LoadSource::Compiled);
        compile_times.push(component.info().load_time);
    }
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
    let n = 200;
    let started = Instant::now();
    for _ in 0..n {
        component.instantiate()?;
    }
    let instantiate = started.elapsed() / n;
    let size = if wasm_size >= 1 << 20 {
        format!("{:.1} MiB", wasm_size as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", wasm_size as f64 / 1024.0)
    };
    let row = format!(
        "{size:>10} {:>12} {:>12} {:>12}",
        format!("{:.1?}", median(&mut compile_times)),
        format!("{:.2?}", median(&mut load_times)),
        format!("{instantiate:.1?}"),
    );
    Ok((component, row))
}

/// `script` as `program` runs it: a `.ts` script bundled (with the SDK it imports) by the
/// TypeScript SDK's esbuild into `dir`, any other as it is.
fn runnable(repo: &Path, script: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let source = repo.join(script);
    if source.extension().is_none_or(|e| e != "ts") {
        return Ok(source);
    }
    let bundle = dir.join("app-native.mjs");
    let esbuild = repo.join("guest-sdk-js/node_modules/.bin/esbuild");
    let status = Command::new(&esbuild)
        .arg(&source)
        .args([
            "--bundle",
            "--format=esm",
            "--platform=node",
            "--target=node20",
        ])
        .arg(format!(
            "--alias:@moose/guest={}",
            repo.join("guest-sdk-js/src/index.ts").display()
        ))
        .arg("--log-level=warning")
        .arg(format!("--outfile={}", bundle.display()))
        .status()
        .with_context(|| {
            format!(
                "running {} (./scripts/setup-guests.sh installs it)",
                esbuild.display()
            )
        })?;
    if !status.success() {
        bail!("bundling {script} failed");
    }
    Ok(bundle)
}

/// Runs a native script over the orders file and reads the records/s it printed.
fn run_script(
    program: &str,
    script: &Path,
    orders: &Path,
    batch_size: usize,
) -> anyhow::Result<f64> {
    let output = Command::new(program)
        .arg(script)
        .arg(orders)
        .arg(batch_size.to_string())
        .output()
        .with_context(|| format!("running {program} {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    report["records_per_s"]
        .as_f64()
        .with_context(|| format!("{program} {} printed no records_per_s", script.display()))
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
