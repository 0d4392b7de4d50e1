//! What the benchmarks share.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::routing::post;

/// Builds the release `moose` and points the harness at it (unless `MOOSE_BIN` is set).
pub fn release_moose() -> anyhow::Result<()> {
    if std::env::var_os("MOOSE_BIN").is_some() {
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "-p", "moose-host"])
        .current_dir(moose_tests::repo_root())
        .status()?;
    if !status.success() {
        bail!("building the release moose failed");
    }
    // Set before any thread starts.
    std::env::set_var(
        "MOOSE_BIN",
        moose_tests::repo_root().join("target/release/moose"),
    );
    Ok(())
}

/// Starts an HTTP server that reads each body posted to `/sink` and counts its lines: the
/// floor of HTTP alone. Returns its `http://127.0.0.1:PORT`.
pub fn start_sink() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/sink",
                    post(|body: Bytes| async move {
                        let lines = body.split(|b| *b == b'\n').count();
                        format!("{{\"accepted\":{lines}}}")
                    }),
                );
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = axum::serve(listener, app).await;
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// Waits until `table` of `host` holds the row with `id`, polling every 2 ms.
pub fn wait_visible(
    host: &moose_tests::DevHost,
    table: &str,
    id: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let rows = host.query(&format!(
            "SELECT count() AS n FROM `{table}` WHERE id = '{id}'"
        ));
        if rows.first().and_then(|r| r["n"].as_u64()) == Some(1) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{id} not in {table} after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The `--flag value` pairs of the command line, in order; every flag must be in `known`.
pub fn flags(known: &[&'static str]) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut pairs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(flag) = known.iter().find(|k| **k == arg) else {
            bail!("unknown flag {arg}; use {}", usage(known));
        };
        let value = args
            .next()
            .with_context(|| format!("{flag} takes a value; use {}", usage(known)))?;
        pairs.push((*flag, value));
    }
    Ok(pairs)
}

fn usage(known: &[&str]) -> String {
    known
        .iter()
        .map(|k| format!("{k} {}", k.trim_start_matches('-').to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--records N --rounds R` from the command line, with these defaults.
pub fn records_and_rounds(records: usize, rounds: usize) -> anyhow::Result<(usize, usize)> {
    records_and_rounds_in(&flags(&["--records", "--rounds"])?, records, rounds)
}

/// `--records` and `--rounds` among `flags` (see [`flags`]), with these defaults.
pub fn records_and_rounds_in(
    flags: &[(&str, String)],
    records: usize,
    rounds: usize,
) -> anyhow::Result<(usize, usize)> {
    let (mut records, mut rounds) = (records, rounds);
    for (flag, value) in flags {
        match *flag {
            "--records" => records = value.parse().context("--records N")?,
            "--rounds" => rounds = value.parse().context("--rounds R")?,
            _ => {}
        }
    }
    Ok((records, rounds))
}

/// The middle of `values` once sorted.
pub fn median<T: PartialOrd + Copy>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

/// `n` deterministic orders as clients post them to the quickstart; one in ten is dropped
/// by `enrich_order`.
pub fn orders(n: usize) -> Vec<String> {
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
