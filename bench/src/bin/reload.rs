//! The author's loop as a user feels it: for each quickstart (Rust, TypeScript, Python)
//! under `moose dev`, the time from saving an edit of `enrich_order` to the first record
//! processed by the new code being queryable in `OrderEnriched`; 5 edits per language,
//! median and max.
//!
//! Each edit adds `k` (1, 2, ...) to `amount_cents`. While the host reloads, a client posts
//! an order of amount 1.00 every 50 ms; the edit counts as serving once a row with
//! `amount_cents = 100 + k` is in the table (polled every 20 ms). The caches are warm: the
//! host has built each component once before the first edit, as after any start.
//!
//! Run: `cargo run --release -p moose-bench --bin reload [-- --edits N] [--language NAME]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use moose_tests::DevHost;
use serde_json::json;

/// Per language: the app, its source file, and the line of `enrich_order` that sets
/// `amount_cents`, with `{k}` where the edit adds `k`.
const QUICKSTARTS: [(&str, &str, &str, &str); 3] = [
    (
        "Rust",
        "examples/quickstart",
        "src/lib.rs",
        "amount_cents: (order.amount * 100.0).round() as i64{k},",
    ),
    (
        "TypeScript",
        "examples/quickstart-ts",
        "app.ts",
        "amount_cents: BigInt(roundHalfAwayFromZero(order.amount * 100)){k},",
    ),
    (
        "Python",
        "examples/quickstart-python",
        "app.py",
        "amount_cents=round_half_away_from_zero(order.amount * 100){k},",
    ),
];

/// Longest wait for one edit to serve.
const EDIT_TIMEOUT: Duration = Duration::from_secs(180);

fn main() -> anyhow::Result<()> {
    let mut edits = 5;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--edits" => edits = args.next().context("--edits N")?.parse()?,
            "--language" => only = Some(args.next().context("--language NAME")?),
            other => bail!(
                "unknown argument {other}; usage: reload [--edits N] [--language Rust|TypeScript|Python]"
            ),
        }
    }
    moose_bench::release_moose()?;
    println!("save -> first record by the new code queryable in OrderEnriched, {edits} edits each");
    println!(
        "{:<11} {:>9} {:>9}  each (s)",
        "language", "median s", "max s"
    );
    for (language, app, file, line) in QUICKSTARTS {
        if only
            .as_deref()
            .is_some_and(|only| !only.eq_ignore_ascii_case(language))
        {
            continue;
        }
        let times = measure(app, file, line, language, edits)?;
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let each: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
        println!(
            "{language:<11} {:>9.2} {:>9.2}  {}",
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1],
            each.join(" ")
        );
    }
    Ok(())
}

/// The seconds each of `edits` edits of `app`'s `file` took to serve.
fn measure(
    app: &str,
    file: &str,
    line: &str,
    language: &str,
    edits: u64,
) -> anyhow::Result<Vec<f64>> {
    let host = DevHost::start(app);
    let source = host.dir.path().join(file);
    let original_line = line.replace("{k}", "");
    let text = std::fs::read_to_string(&source)?;
    if !text.contains(&original_line) {
        bail!(
            "{language}: `{original_line}` is not in {}",
            source.display()
        );
    }
    let posting = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicU64::new(0));
    let poster = {
        let (posting, sent) = (posting.clone(), sent.clone());
        let api = host.api.clone();
        std::thread::spawn(move || {
            while posting.load(Ordering::Relaxed) {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                let order = json!({"id": format!("r{n}"), "customer": "c", "amount": 1.0, "ts": "2024-05-01T10:00:00Z"});
                let _ = ureq::post(&format!("{api}/ingest/Order"))
                    .content_type("application/x-ndjson")
                    .send(order.to_string());
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut times = Vec::new();
    for k in 1..=edits {
        let edited = text.replace(&original_line, &line.replace("{k}", &format!(" + {k}")));
        // The TypeScript line adds a BigInt.
        let edited = if language == "TypeScript" {
            edited.replace(&format!(" + {k},"), &format!(" + {k}n,"))
        } else {
            edited
        };
        let saved = Instant::now();
        std::fs::write(&source, edited)?;
        let wanted = format!(
            "SELECT count() AS n FROM OrderEnriched WHERE amount_cents = {}",
            100 + k
        );
        loop {
            if host.query(&wanted)[0]["n"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            if saved.elapsed() > EDIT_TIMEOUT {
                bail!("{language}: edit {k} did not serve within {EDIT_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = saved.elapsed().as_secs_f64();
        times.push(took);
        for step in host.printed().iter().filter(|l| l.contains(": build ")) {
            println!("  {language} edit {k}: {took:.2} s; {step}");
        }
    }
    posting.store(false, Ordering::Relaxed);
    let _ = poster.join();
    host.stop();
    Ok(times)
}
