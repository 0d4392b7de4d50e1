//! Ready after a crash: `moose dev` on the quickstart takes orders from several clients
//! (bodies of 1,000) for a while, is killed with SIGKILL mid-ingest, and is started again
//! on the same state; reported is the time from the new start until it serves ingest
//! again (its embedded log replays what was not yet flushed), next to a start of the same
//! host after a clean stop.
//!
//! Run: `cargo run --release -p moose-bench --bin recovery [-- --seconds S --clients C]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moose_tests::DevHost;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut clients) = (20u64, 4usize);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--seconds" => seconds = value.parse()?,
            "--clients" => clients = value.parse()?,
            other => anyhow::bail!("unknown argument {other}; use --seconds S --clients C"),
        }
    }
    moose_bench::release_moose()?;
    let mut host = DevHost::start("examples/quickstart");
    let stop = AtomicBool::new(false);
    let acknowledged = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (api, stop, acknowledged) = (host.api.clone(), &stop, &acknowledged);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body: Vec<String> = (0..1000)
                        .map(|i| format!(r#"{{"id":"c{client}-{n}-{i}","customer":"c{}","amount":{}.5,"ts":"2024-05-01T10:00:00Z"}}"#, i % 37, i))
                        .collect();
                    n += 1;
                    match ureq::post(&format!("{api}/ingest/Order")).send(body.join("\n")) {
                        Ok(_) => acknowledged.fetch_add(1000, Ordering::Relaxed),
                        Err(_) => return,
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        host.kill();
        stop.store(true, Ordering::Relaxed);
    });
    println!(
        "killed after {seconds} s with {} records acknowledged",
        acknowledged.load(Ordering::Relaxed)
    );
    let started = Instant::now();
    host.restart();
    let after_crash = started.elapsed();
    assert!(host.terminate(), "stopped cleanly");
    let started = Instant::now();
    host.restart();
    let after_stop = started.elapsed();
    println!("ready after a SIGKILL under load: {after_crash:.2?}");
    println!("ready after a clean stop:         {after_stop:.2?}");
    println!(
        "ratio: {:.2}",
        after_crash.as_secs_f64() / after_stop.as_secs_f64()
    );
    Ok(())
}
