//! Hostile input and hostile guests in all three languages against a real `moose dev`
//! (`moose_tests::hostile`): every answer and dead letter says what went wrong and which
//! limit was hit, and the host's memory stays bounded and goes back down.

use moose_tests::hostile::{self, Measured, APP, CONFIG, LANGUAGES};
use moose_tests::memory::mib;
use std::time::Duration;

use moose_tests::{built_guest, DevHost};
use serde_json::{json, Value};

/// Most the host's resident memory may grow by while a case runs, and stay above its
/// level before the case once it ended (the embedded log's memtables and block cache fill
/// up to about 200 MiB on the first large write, see "Memory" in docs/dev.md).
const MAX_PEAK_GROWTH: u64 = 450 << 20;
const MAX_SETTLED_GROWTH: u64 = 250 << 20;
/// Most the host may hold after all the cases, above its level before them.
const MAX_GROWTH: u64 = 400 << 20;

fn error_of<'a>(seen: &'a hostile::Seen, id: &str) -> &'a str {
    seen.errors
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, e)| e.as_str())
        .unwrap_or_else(|| panic!("no dead letter for {id}: {:?}", seen.errors))
}

/// Each language's dead letter for `op` names one of `limits`.
fn each_names(seen: &hostile::Seen, op: &str, limits: &[&str]) {
    for (language, _) in LANGUAGES {
        let error = error_of(seen, &format!("{op}-{language}"));
        assert!(
            limits.iter().any(|limit| error.contains(limit)),
            "{language}: {error}"
        );
    }
}

fn check(measured: &Measured) {
    let seen = &measured.seen;
    assert!(seen.finished, "{}: did not finish: {seen:?}", measured.name);
    match measured.name {
        name if name.starts_with("ingest:") => {
            for (status, answer) in &seen.answers {
                assert_eq!(*status, 400, "{answer}");
                assert_eq!(answer["rejected"], 1_000_000);
                assert_eq!(answer["accepted"], 0);
                assert_eq!(answer["problems_total"], 1_000_000);
                let problems = answer["problems"].as_array().expect("problems");
                assert_eq!(problems.len(), hostile_max_problems());
                assert_eq!(problems[99]["index"], 99);
                assert!(answer.to_string().len() < 64 << 10, "a small answer");
                assert!(
                    answer["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("the first 100 of 1000000 problems")),
                    "{answer}"
                );
            }
        }
        "guest logs ten 50 MB lines (Rust)" => {
            let bytes: usize = seen.logs.iter().map(String::len).sum();
            assert!(bytes <= 2 << 20, "/logs keeps {bytes} bytes");
            assert!(
                seen.logs
                    .iter()
                    .any(|l| l.contains("more bytes cut: [runtime] max_log_line_bytes")),
                "a cut line"
            );
        }
        "guest logs 100,000 lines (TypeScript)" => assert!(
            seen.logs.iter().any(|l| l.contains(
                "99000 more log lines of one call were dropped: a call may log at most 1000"
            )),
            "{:?}",
            &seen.logs[seen.logs.len().saturating_sub(3)..]
        ),
        "guest prints ten 50 MB lines to stdout (Python)" => assert!(
            seen.logs.iter().any(|l| l.contains("more bytes cut")),
            "a cut line"
        ),
        "guest returns a 100 MB record (all three)" => each_names(
            seen,
            "big",
            &["[runtime] max_output_mb", "[runtime] memory_limit_mb"],
        ),
        "guest returns 1,000,000 records for one (all three)" => each_names(
            seen,
            "many",
            &[
                "[runtime] max_output_records",
                "[runtime] memory_limit_mb",
                "out of memory",
            ],
        ),
        "guest panics, recurses without end, opens a socket (all three)" => {
            let expected = [
                ("panic-Rs", "the guest panicked at src/lib.rs:"),
                ("panic-Rs", "boom panic-Rs"),
                ("panic-Ts", "boom panic-Ts"),
                ("panic-Py", "RuntimeError: boom panic-Py"),
                ("recurse-Rs", "overflowed its stack"),
                ("recurse-Ts", "too much recursion"),
                ("recurse-Py", "RecursionError"),
                ("net-Rs", "no network"),
                ("net-Ts", "fetch() is not available in Moose components"),
                (
                    "net-Py",
                    "network access is not available in Moose components",
                ),
            ];
            for (id, words) in expected {
                let error = error_of(seen, id);
                assert!(error.contains(words), "{id}: {error}");
            }
        }
        other => panic!("unchecked case {other}"),
    }
}

fn hostile_max_problems() -> usize {
    moose_host::ingest::MAX_PROBLEMS
}

#[test]
fn hostile_input_and_guests_are_explained_and_cost_bounded_memory() {
    for (_, dir) in LANGUAGES {
        built_guest(&format!("{APP}/{dir}"));
    }
    let host = DevHost::start_with(APP, CONFIG);
    let mut report = Vec::new();
    for case in hostile::cases() {
        let measured = hostile::measure(&host, &case);
        eprintln!(
            "{}: before {}, peak {}, settled {}",
            measured.name,
            mib(measured.before),
            mib(measured.peak),
            mib(measured.settled)
        );
        check(&measured);
        report.push(measured);
    }
    for m in &report {
        assert!(
            m.peak <= m.before + MAX_PEAK_GROWTH,
            "{}: the peak {} is more than {} above {}",
            m.name,
            mib(m.peak),
            mib(MAX_PEAK_GROWTH),
            mib(m.before)
        );
        assert!(
            m.settled <= m.before + MAX_SETTLED_GROWTH,
            "{}: {} three seconds after, more than {} above {}",
            m.name,
            mib(m.settled),
            mib(MAX_SETTLED_GROWTH),
            mib(m.before)
        );
    }
    let (first, last) = (&report[0], &report[report.len() - 1]);
    assert!(
        last.settled <= first.before + MAX_GROWTH,
        "{} after all the cases, more than {} above {}",
        mib(last.settled),
        mib(MAX_GROWTH),
        mib(first.before)
    );
    // Every failure above is counted where a user looks.
    let ps: Value = host.management_json("/ps");
    let failed = |name: &str| {
        ps["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .map(|p| (p["failed"].as_u64().unwrap_or(0), p["last_error"].clone()))
            .unwrap_or_else(|| panic!("{name} is not in /ps: {ps}"))
    };
    for name in ["hostile_rs", "hostile_ts", "hostile_py"] {
        let (count, last) = failed(name);
        assert!(count >= 5, "{name}: {count} failed");
        assert!(last.is_string(), "{name}: {last}");
    }

    a_failing_view_is_seen_and_its_rows_are_stored_once(&host);
    dead_letters_are_replayed_after_a_fix(&host);
    assert!(host.stop());
}

/// The aggregation `payload_numbers` reads `HostileRsOut` with a select that parses a
/// String column into its UInt64 table, failing on text that is not a number: the rows of `HostileRsOut` are stored once, and the
/// view's failure shows in `/ps`, the metrics and the log.
fn a_failing_view_is_seen_and_its_rows_are_stored_once(host: &DevHost) {
    let outputs = |sql: &str| host.query(sql)[0]["n"].as_u64().expect("count");
    let before = outputs("SELECT count() AS n FROM HostileRsOut");
    let records: Vec<String> = (0..50)
        .map(|i| json!({"id": format!("view-{i}"), "op": "echo", "n": 0, "size": 0}).to_string())
        .collect();
    let (status, answer) = hostile::post(
        &host.api,
        "/ingest/HostileRs",
        records.join("\n").into_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    let aggregation = || {
        let ps = host.management_json("/ps");
        ps["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["kind"] == "aggregation" && p["name"] == "payload_numbers")
            .cloned()
            .unwrap_or_else(|| panic!("no payload_numbers in /ps: {ps}"))
    };
    assert!(
        hostile::wait_until(Duration::from_secs(60), || {
            aggregation()["failed"].as_u64() >= Some(50)
        }),
        "{}",
        aggregation()
    );
    let row = aggregation();
    assert!(
        row["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("Cannot parse")),
        "{row}"
    );
    assert_eq!(
        outputs("SELECT count() AS n FROM HostileRsOut") - before,
        50
    );
    assert_eq!(
        outputs("SELECT count() AS n FROM HostileRsOut WHERE id LIKE 'view-%'"),
        50,
        "each row stored once"
    );
    let metrics = host.metrics();
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "moose_records_total{kind=\"aggregation\",name=\"payload_numbers\",outcome=\"failed\"}"
        )),
        "{metrics}"
    );
    let logs = host.management_json("/logs");
    assert!(
        logs.to_string()
            .contains("materialized view `payload_numbers_mv`"),
        "{logs}"
    );
}

/// Records the function failed on wait in its dead-letter table; after the code is fixed
/// (a hot reload), `moose dlq replay` sends them through again.
fn dead_letters_are_replayed_after_a_fix(host: &DevHost) {
    let records: Vec<String> = (0..20)
        .map(|i| json!({"id": format!("fix-{i}"), "op": "fixme", "n": i, "size": 0}).to_string())
        .collect();
    let (status, answer) = hostile::post(
        &host.api,
        "/ingest/HostileRs",
        records.join("\n").into_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    let failed = |sql: &str| host.query(sql)[0]["n"].as_u64().expect("count");
    assert!(hostile::wait_until(Duration::from_secs(60), || failed(
        "SELECT count() AS n FROM hostile_rs_dead_letter WHERE error = 'not fixed yet'"
    ) == 20));

    // The fix, and a new pipeline whose creation the reload reports under the component's
    // name (not the app's).
    let source = host.dir.path().join("rs/src/lib.rs");
    let text = std::fs::read_to_string(&source)
        .expect("lib.rs")
        .replacen(
            r#""fixme" => return Err("not fixed yet".into()),"#,
            r#""fixme" => vec![out(id, record.n, "fixed".into())],"#,
            1,
        )
        .replacen(
            "    app.aggregation::<PayloadNumber>(",
            "    app.ingest_pipeline::<PayloadNumber>(\"Extra\", PipelineConfig::default());\n    \
             app.aggregation::<PayloadNumber>(",
            1,
        );
    std::fs::write(&source, text).expect("lib.rs");
    let lines = host.wait_for_reload("hostile_rs", Duration::from_secs(300));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("reload hostile_rs: applied + table Extra")),
        "{lines:#?}"
    );

    let output = host.moose(&[
        "dlq",
        "replay",
        "hostile_rs_dead_letter",
        ".",
        "--where",
        "error = 'not fixed yet' AND record LIKE '%fix-1%'",
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // fix-1 and fix-10 to fix-19.
    assert!(
        said.contains(
            "replayed 11 of 11 dead letters from hostile_rs_dead_letter (11 to HostileRs)"
        ),
        "{said}"
    );
    assert!(hostile::wait_until(Duration::from_secs(60), || failed(
        "SELECT count() AS n FROM HostileRsOut WHERE payload = 'fixed'"
    ) == 11));
    // The dead letters stay; a replay into a stream that is not the app's is refused.
    assert_eq!(
        failed("SELECT count() AS n FROM hostile_rs_dead_letter WHERE error = 'not fixed yet'"),
        20
    );
    let refused = host.moose(&[
        "dlq",
        "replay",
        "hostile_rs_dead_letter",
        ".",
        "--to",
        "Nope",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("`Nope` is not a stream of the app"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
