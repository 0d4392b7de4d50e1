//! Hostile input and hostile guests against a running `moose dev` on `tests/apps/hostile`
//! (one component per language, see `tests/apps/hostile/rs/src/lib.rs`): each case does
//! something a careless or malicious client or guest might do, waits until the host has
//! dealt with it, and reports what it saw. `tests/tests/end_to_end/hostile.rs` checks the outcomes
//! and bounds the host's memory; `bench --bin hostile` prints the memory of each case.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::memory::{peak_rss, reset_peak, rss};
use crate::DevHost;

/// The app, relative to the repository root.
pub const APP: &str = "tests/apps/hostile";

/// Extra config of the host the cases run on: guests get 256 MiB.
pub const CONFIG: &str = "[runtime]\nmemory_limit_mb = 256\n";

/// The languages: ingest endpoint suffix and component directory.
pub const LANGUAGES: [(&str, &str); 3] = [("Rs", "rs"), ("Ts", "ts"), ("Py", "py")];

/// What one case saw, for the test to check.
#[derive(Debug, Default)]
pub struct Seen {
    /// HTTP answers: status and JSON body (or its size when too large to keep).
    pub answers: Vec<(u16, Value)>,
    /// The dead-letter errors of the case's records, by record id.
    pub errors: Vec<(String, String)>,
    /// The host's log lines, when the case is about logs.
    pub logs: Vec<String>,
    /// Whether everything the case waited for happened in time.
    pub finished: bool,
}

/// A case and the memory it cost.
#[derive(Debug)]
pub struct Measured {
    pub name: &'static str,
    /// Resident memory of the host before the case.
    pub before: u64,
    /// Its peak while the case ran.
    pub peak: u64,
    /// Its resident memory 3 s after the case ended.
    pub settled: u64,
    pub seen: Seen,
}

/// One case: a name and what it does.
pub struct Case {
    pub name: &'static str,
    pub run: fn(&DevHost) -> Seen,
}

/// Every case, in the order they run.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "ingest: 2 MB body of 1,000,000 invalid lines",
            run: |host| invalid_lines(host, 1),
        },
        Case {
            name: "ingest: 3 such bodies at once",
            run: |host| invalid_lines(host, 3),
        },
        Case {
            name: "guest logs ten 50 MB lines (Rust)",
            run: |host| guest_logs(host, "Rs", "log", 10, 50 << 20),
        },
        Case {
            name: "guest logs 100,000 lines (TypeScript)",
            run: |host| guest_logs(host, "Ts", "log", 100_000, 10),
        },
        Case {
            name: "guest prints ten 50 MB lines to stdout (Python)",
            run: |host| guest_logs(host, "Py", "print", 10, 50 << 20),
        },
        Case {
            name: "guest returns a 100 MB record (all three)",
            run: |host| guest_fails(host, "big", 100 << 20),
        },
        Case {
            name: "guest returns 1,000,000 records for one (all three)",
            run: |host| guest_fails(host, "many", 1_000_000),
        },
        Case {
            name: "guest panics, recurses without end, opens a socket (all three)",
            run: guest_errors,
        },
    ]
}

/// Runs `case` on `host`, measuring the host's memory.
pub fn measure(host: &DevHost, case: &Case) -> Measured {
    let pid = host.pid();
    let before = rss(pid);
    reset_peak(pid);
    let seen = (case.run)(host);
    let peak = peak_rss(pid);
    std::thread::sleep(Duration::from_secs(3));
    Measured {
        name: case.name,
        before,
        peak,
        settled: rss(pid),
        seen,
    }
}

/// Posts `body` to `path` of the ingest and API address `api`: the status and the JSON
/// answer (`{"bytes": N}` when it is not JSON or larger than 1 MiB).
pub fn post(api: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let response = ureq::post(&format!("{api}{path}"))
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .content_type("application/x-ndjson")
        .send(&body[..]);
    match response {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .unwrap_or_default();
            let value = if text.len() <= 1 << 20 {
                serde_json::from_slice(&text).unwrap_or(json!({"bytes": text.len()}))
            } else {
                json!({"bytes": text.len()})
            };
            (status, value)
        }
        Err(error) => (0, json!({"error": error.to_string()})),
    }
}

/// Waits up to `timeout` for `check`; whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// The count of `sql`, a query of one count `n` (0 while the table cannot be read).
fn count(host: &DevHost, sql: &str) -> u64 {
    let text = crate::clickhouse_text(&host.clickhouse, "local", sql, "JSONEachRow");
    serde_json::from_str::<Value>(text.trim())
        .ok()
        .and_then(|row| row["n"].as_u64())
        .unwrap_or(0)
}

fn invalid_lines(host: &DevHost, bodies: usize) -> Seen {
    let table = "HostileRs_dead_letter";
    let before = count(host, &format!("SELECT count() AS n FROM {table}"));
    let body = b"x\n".repeat(1_000_000);
    let api = host.api.as_str();
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let posts: Vec<_> = (0..bodies)
            .map(|_| scope.spawn(|| post(api, "/ingest/HostileRs", body.clone())))
            .collect();
        posts.into_iter().map(|p| p.join().expect("post")).collect()
    });
    let expected = before + 1_000_000 * bodies as u64;
    let finished = wait_until(Duration::from_secs(300), || {
        count(host, &format!("SELECT count() AS n FROM {table}")) >= expected
    });
    Seen {
        answers,
        finished,
        ..Seen::default()
    }
}

/// One record asking the `language` component to do `op`.
pub fn ask(host: &DevHost, language: &str, id: &str, op: &str, n: u64, size: u64) -> (u16, Value) {
    let record = json!({"id": id, "op": op, "n": n, "size": size});
    post(
        &host.api,
        &format!("/ingest/Hostile{language}"),
        record.to_string().into_bytes(),
    )
}

/// Whether the output of record `id` reached stream `Hostile<language>Out`.
fn output_arrived(host: &DevHost, language: &str, id: &str) -> bool {
    let path = format!("{}/peek/Hostile{language}Out?limit=100", host.management);
    let Ok(mut response) = ureq::get(&path).call() else {
        return false;
    };
    let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    body["records"]
        .as_array()
        .is_some_and(|records| records.iter().any(|r| r["id"] == id))
}

fn guest_logs(host: &DevHost, language: &str, op: &str, n: u64, size: u64) -> Seen {
    let id = format!("{op}-{n}-{size}");
    let answer = ask(host, language, &id, op, n, size);
    let finished = wait_until(Duration::from_secs(120), || {
        output_arrived(host, language, &id)
    });
    let logs = ureq::get(&format!("{}/logs", host.management))
        .call()
        .ok()
        .and_then(|mut r| {
            r.body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_json::<Value>()
                .ok()
        })
        .and_then(|body| {
            body["lines"].as_array().map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    Seen {
        answers: vec![answer],
        logs,
        finished,
        ..Seen::default()
    }
}

/// The dead-letter error of record `id` of the `language` function, once there is one.
pub fn dead_letter_error(
    host: &DevHost,
    language: &str,
    id: &str,
    timeout: Duration,
) -> Option<String> {
    let sql = format!(
        "SELECT error FROM hostile_{}_dead_letter WHERE record LIKE '%\"id\":\"{id}\"%' LIMIT 1",
        language.to_lowercase()
    );
    let mut found = None;
    wait_until(timeout, || {
        let text = crate::clickhouse_text(&host.clickhouse, "local", &sql, "JSONEachRow");
        found = serde_json::from_str::<Value>(text.trim())
            .ok()
            .and_then(|row| row["error"].as_str().map(str::to_string));
        found.is_some()
    });
    found
}

/// Asks every component to do `op`, which must fail; collects the dead-letter errors.
fn guest_fails(host: &DevHost, op: &str, n: u64) -> Seen {
    let mut seen = Seen {
        finished: true,
        ..Seen::default()
    };
    for (language, _) in LANGUAGES {
        let id = format!("{op}-{language}");
        seen.answers.push(ask(host, language, &id, op, n, 0));
        match dead_letter_error(host, language, &id, Duration::from_secs(180)) {
            Some(error) => seen.errors.push((id, error)),
            None => seen.finished = false,
        }
    }
    seen
}

fn guest_errors(host: &DevHost) -> Seen {
    let mut seen = Seen {
        finished: true,
        ..Seen::default()
    };
    for (language, _) in LANGUAGES {
        for (op, n) in [("panic", 0), ("recurse", 100_000_000), ("net", 0)] {
            let id = format!("{op}-{language}");
            seen.answers.push(ask(host, language, &id, op, n, 0));
            match dead_letter_error(host, language, &id, Duration::from_secs(120)) {
                Some(error) => seen.errors.push((id, error)),
                None => seen.finished = false,
            }
        }
    }
    seen
}
