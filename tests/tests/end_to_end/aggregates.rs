//! Aggregate-function columns in every language, run by a real `moose dev`: the dau test
//! app (`tests/apps/dau`, one pipeline per language) keeps daily active users as
//! `AggregateFunction` states and `SimpleAggregateFunction` values in an
//! `AggregatingMergeTree`; its APIs merge the states, and every answer must equal a
//! recomputation from the raw visits, before and after ClickHouse merges the parts. The
//! raw tables declare storage options (partition, primary key, TTL, setting, index,
//! projection, codec, computed columns) in every language, checked against what the
//! server reports.

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use moose_tests::{built_guest, DevHost};
use serde_json::{json, Value};

const APP: &str = "tests/apps/dau";

/// Per language: ingest route and raw table, aggregation table, API.
const LANGUAGES: [(&str, &str, &str, &str); 3] = [
    ("Rust", "Visit", "DailyUsers", "daily_users"),
    ("TypeScript", "VisitTs", "DailyUsersTs", "daily_users_ts"),
    ("Python", "VisitPy", "DailyUsersPy", "daily_users_py"),
];

const VISITS: usize = 600;

/// Visit `i`: 3 days, about 40 users a day among 90 names (some on several days),
/// durations that are binary fractions.
fn visit(i: usize) -> Value {
    let day = 1 + i % 3;
    let user = format!("user-{}", (i * 7) % 90 + (day - 1) * 25);
    let ts = format!(
        "2024-05-0{day}T{:02}:{:02}:{:02}Z",
        i % 24,
        i % 60,
        (i * 13) % 60
    );
    json!({"id": format!("v{i}"), "user": user, "ts": ts, "duration": (i % 17) as f64 * 0.5})
}

/// One day of an API answer: distinct users, visits, the last visit (Unix seconds:
/// TypeScript writes `.000Z` where Rust and Python write `Z`) and the p90 duration.
type Day = (u64, u64, i64, f64);

fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp()
}

/// Per day (`2024-05-0d`): distinct users, visits and the last visit.
fn expected() -> BTreeMap<String, (u64, u64, i64)> {
    let mut days: BTreeMap<String, (BTreeSet<String>, u64, i64)> = BTreeMap::new();
    for v in (0..VISITS).map(visit) {
        let ts = v["ts"].as_str().expect("ts");
        let day = days.entry(ts[..10].to_string()).or_default();
        day.0.insert(v["user"].as_str().expect("user").to_string());
        day.1 += 1;
        day.2 = day.2.max(unix(ts));
    }
    days.into_iter()
        .map(|(day, (users, visits, last))| (day, (users.len() as u64, visits, last)))
        .collect()
}

fn api(host: &DevHost, name: &str, query: &str) -> (u16, Value) {
    let (status, body) = host.get(&format!("/api/{name}{query}"));
    let answer = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, answer)
}

/// Checks every language's answer against the expected days and the raw visits; returns
/// each language's days, which must be the same in every language.
fn check_answers(
    host: &DevHost,
    expected: &BTreeMap<String, (u64, u64, i64)>,
) -> Vec<BTreeMap<String, Day>> {
    let mut answers = Vec::new();
    for (language, raw, _, name) in LANGUAGES {
        let (status, answer) = api(host, name, "");
        assert_eq!(status, 200, "{language}: {answer}");
        let days: BTreeMap<String, Day> = answer
            .as_array()
            .expect("an array of days")
            .iter()
            .map(|r| {
                let day = (
                    r["users"].as_u64().expect("users"),
                    r["visits"].as_u64().expect("visits"),
                    unix(r["last_seen"].as_str().expect("last_seen")),
                    r["p90"].as_f64().expect("p90"),
                );
                (r["day"].as_str().expect("day").to_string(), day)
            })
            .collect();
        let counted: BTreeMap<String, (u64, u64, i64)> = days
            .iter()
            .map(|(day, &(users, visits, last, _))| (day.clone(), (users, visits, last)))
            .collect();
        assert_eq!(&counted, expected, "{language}: {answer}");
        let recomputed = host.query(&format!(
            "SELECT toString(toDate(ts)) AS day, quantiles(0.5, 0.9)(duration)[2] AS p90 \
             FROM {raw} GROUP BY day ORDER BY day"
        ));
        assert_eq!(recomputed.len(), days.len(), "{language}");
        for row in &recomputed {
            let day = row["day"].as_str().expect("day");
            let (got, want) = (days[day].3, row["p90"].as_f64().expect("p90"));
            assert!(
                (got - want).abs() < 1e-9,
                "{language}: {day}: p90 {got}, recomputed {want}"
            );
        }
        let (status, later) = api(host, name, "?from=2024-05-02");
        assert_eq!(status, 200, "{language}: {later}");
        assert_eq!(
            later.as_array().map(Vec::len),
            Some(2),
            "{language}: {later}"
        );
        answers.push(days);
    }
    answers
}

#[test]
fn aggregate_columns_keep_states_that_merge_in_every_language() {
    for dir in ["rs", "ts", "py"] {
        built_guest(&format!("{APP}/{dir}"));
    }
    let host = DevHost::start(APP);

    // The table's columns are the declared aggregates, in the catalog as in ClickHouse.
    for (language, _, table, _) in LANGUAGES {
        let columns: BTreeMap<String, String> = host
            .query(&format!(
                "SELECT name, type FROM system.columns \
                 WHERE database = currentDatabase() AND table = '{table}'"
            ))
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().into(),
                    c["type"].as_str().unwrap_or_default().into(),
                )
            })
            .collect();
        let want: BTreeMap<String, String> = [
            ("day", "Date"),
            ("users", "AggregateFunction(uniq, String)"),
            (
                "durations",
                "AggregateFunction(quantiles(0.5, 0.9), Float64)",
            ),
            ("visits", "SimpleAggregateFunction(sum, UInt64)"),
            ("last_seen", "SimpleAggregateFunction(max, DateTime)"),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
        assert_eq!(columns, want, "{language}: {table}");
    }
    // Each language's raw table is stored as declared: partition, keys, TTL, setting,
    // index, projection and codec, as the server reports them.
    for (language, raw, _, _) in LANGUAGES {
        let described = host.query(&format!(
            "SELECT partition_key, sorting_key, primary_key, create_table_query AS ddl \
             FROM system.tables WHERE database = currentDatabase() AND name = '{raw}'"
        ));
        let row = &described[0];
        assert_eq!(
            (
                &row["partition_key"],
                &row["sorting_key"],
                &row["primary_key"]
            ),
            (&json!("toYYYYMM(ts)"), &json!("id, ts"), &json!("(id)")),
            "{language}: {raw}"
        );
        let ddl = row["ddl"].as_str().expect("ddl");
        for part in [
            "`ts` DateTime CODEC(Delta(4), ZSTD(1))",
            "INDEX user_bf user TYPE bloom_filter(0.01) GRANULARITY 1",
            "PROJECTION by_user",
            "TTL ts + toIntervalYear(100)",
            "index_granularity = 4096",
        ] {
            assert!(ddl.contains(part), "{language}: `{part}` not in {ddl}");
        }
        let computed = host.query(&format!(
            "SELECT name, type, default_kind, default_expression FROM system.columns \
             WHERE database = currentDatabase() AND table = '{raw}' AND default_kind != '' \
             ORDER BY name"
        ));
        assert_eq!(
            computed,
            [
                json!({"name": "day", "type": "Date", "default_kind": "MATERIALIZED", "default_expression": "toDate(ts)"}),
                json!({"name": "minutes", "type": "Float64", "default_kind": "ALIAS", "default_expression": "duration / 60"}),
            ],
            "{language}: {raw}"
        );
    }
    let catalog = host.management_json("/catalog");
    let users_type = catalog["models"]
        .as_array()
        .and_then(|models| models.iter().find(|m| m["name"] == "DailyUsersTs"))
        .and_then(|m| {
            m["fields"]
                .as_array()?
                .iter()
                .find(|f| f["name"] == "users")
                .cloned()
        });
    assert_eq!(
        users_type.map(|f| f["type"].clone()),
        Some(json!("AggregateFunction(uniq, String)"))
    );

    // Two batches, so each table holds several parts whose states merge at query time.
    let visits: Vec<Value> = (0..VISITS).map(visit).collect();
    for (half, batch) in visits.chunks(VISITS / 2).enumerate() {
        for (language, route, table, _) in LANGUAGES {
            let (status, answer) = host.post_records(&format!("/ingest/{route}"), batch);
            assert_eq!(status, 200, "{language}: {answer}");
            host.wait_for_count(
                &format!("SELECT sum(visits) AS n FROM {table}"),
                ((half + 1) * VISITS / 2) as u64,
            );
        }
    }
    let expected = expected();
    assert_eq!(expected.len(), 3);
    // The computed columns are filled for every ingested visit.
    for (language, raw, _, _) in LANGUAGES {
        let wrong = host.query(&format!(
            "SELECT count() AS n FROM {raw} WHERE day != toDate(ts) OR minutes != duration / 60"
        ));
        assert_eq!(wrong[0]["n"], 0, "{language}");
    }
    let before = check_answers(&host, &expected);
    assert_eq!(before[0], before[1], "TypeScript and Rust answer alike");
    assert_eq!(before[0], before[2], "Python and Rust answer alike");

    // Merged into one row per day, the states answer the same.
    for (language, _, table, _) in LANGUAGES {
        host.query(&format!("OPTIMIZE TABLE {table} FINAL"));
        let rows = host.query(&format!("SELECT count() AS n FROM {table}"));
        assert_eq!(rows[0]["n"], 3, "{language}: one row per day once merged");
    }
    assert_eq!(check_answers(&host, &expected), before);
    assert!(host.stop(), "moose dev exits cleanly");
}
