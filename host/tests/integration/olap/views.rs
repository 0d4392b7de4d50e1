//! Materialized-view failures and dev migrations, as the host sees them.

use super::*;

/// When a materialized view fails on inserted rows, ClickHouse stores them in the table
/// and reports the view's error; the embedded engine does the same, and the table writer
/// reports it as a view failure (the rows must not be inserted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_materialized_view_is_reported_and_its_rows_stay_stored() {
    use moose_pipeline::sync::{InsertError, TableWriter};
    let client = client("t_mv_fail").await;
    for sql in [
        "CREATE TABLE src (id String, v String) ENGINE = MergeTree ORDER BY id",
        "CREATE TABLE dst (id String, n UInt64) ENGINE = MergeTree ORDER BY id",
        "CREATE MATERIALIZED VIEW totals_mv TO dst AS SELECT id, v AS n FROM src",
    ] {
        client.execute(sql).await.expect(sql);
    }
    let good = b"{\"id\":\"a\",\"v\":\"5\"}\n";
    TableWriter::insert_json(&client, "src", good, 1)
        .await
        .expect("a row the view takes");
    let bad = b"{\"id\":\"b\",\"v\":\"x\"}\n{\"id\":\"c\",\"v\":\"7\"}\n";
    match TableWriter::insert_json(&client, "src", bad, 2).await {
        Err(InsertError::ViewFailed { view, message }) => {
            assert_eq!(view, "totals_mv");
            assert!(
                message.contains("Cannot parse string 'x' as UInt64"),
                "{message}"
            );
        }
        other => panic!("expected a view failure, got {other:?}"),
    }
    assert_eq!(
        count(&client, "src").await,
        3,
        "the rows are in the table once"
    );
    assert_eq!(
        count(&client, "dst").await,
        1,
        "the failed block is not in the view"
    );
}

/// `moose dev`'s migration: the first start reports what it created; later, a dead-letter
/// table the app no longer has is kept with its rows, and said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_migrations_report_creations_and_keep_dead_letter_tables() {
    use moose_host::infra_map::migrate_dev;
    use moose_model::types::{FunctionDef, StreamDef};
    let client = client("t_dev_migrate").await;
    let mut with_dead_letters = revenue_app();
    with_dead_letters.def.streams = vec![StreamDef {
        name: "OrderEnriched".into(),
        model: "OrderEnriched".into(),
        partitions: 0,
        retention_hours: None,
    }];
    with_dead_letters.def.functions = vec![FunctionDef {
        name: "audit".into(),
        source: "OrderEnriched".into(),
        destination: None,
        dead_letter: Some("audit_dead_letter".into()),
    }];
    let mut said = Vec::new();
    let first = migrate_dev(&client, &with_dead_letters, &mut |line| {
        said.push(line.to_string())
    })
    .await
    .expect("first start");
    let created: Vec<String> = first
        .changes
        .iter()
        .map(|c| c.change.name.clone())
        .collect();
    for name in [
        "OrderEnriched",
        "DailyRevenue",
        "audit_dead_letter",
        "TopCustomers",
    ] {
        assert!(
            created.contains(&name.to_string()),
            "{name} not in {created:?}"
        );
    }
    client
        .insert_json(
            "audit_dead_letter",
            "{\"record\":\"{}\",\"error\":\"e\",\"error_kind\":\"function\",\"source\":\"function:audit\",\"failed_at\":\"2024-05-01 00:00:00.000\"}\n",
            1,
        )
        .await
        .expect("a dead letter");
    let again = migrate_dev(&client, &with_dead_letters, &mut |line| {
        said.push(line.to_string())
    })
    .await
    .expect("second start");
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    let mut without = with_dead_letters.clone();
    without.def.functions[0].dead_letter = None;
    migrate_dev(&client, &without, &mut |line| said.push(line.to_string()))
        .await
        .expect("the dead letter goes");
    assert!(
        said.iter()
            .any(|l| l.contains("kept dead-letter table `audit_dead_letter` and its rows")),
        "{said:?}"
    );
    assert_eq!(count(&client, "audit_dead_letter").await, 1);
}

/// Daily active users with a plain `UInt64` column where `uniqState` yields a state.
fn daily_active_users(select: &str, engine: TableEngine) -> App {
    use ScalarType as S;
    let mut def = empty_def();
    def.models = vec![
        model(
            "Event",
            vec![
                key("user", scalar(S::String)),
                field("day", scalar(S::Date)),
            ],
        ),
        model(
            "DailyActiveUsers",
            vec![
                key("day", scalar(S::Date)),
                field("users", scalar(S::Uint64)),
            ],
        ),
    ];
    def.tables = vec![table("Event", "Event", TableEngine::MergeTree)];
    def.aggregations = vec![AggregationDef {
        name: "dau".into(),
        select: select.into(),
        sources: vec!["Event".into()],
        target: table("DailyActiveUsers", "DailyActiveUsers", engine),
    }];
    app(def)
}

async fn names(client: &OlapClient, sql: &str) -> Vec<String> {
    let bytes = client
        .fetch_bytes(sql, "TabSeparated", &[])
        .await
        .expect(sql);
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Before anything is applied, a materialized view whose SELECT does not fit its target
/// is refused naming the aggregation, the column and both types, and a view whose SELECT
/// does not run is refused naming the view; nothing is created and the scratch database
/// of the check is gone. A fitting app is then applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_that_do_not_fit_the_planned_tables_are_refused_before_anything_is_created() {
    use moose_host::infra_map::migrate_dev;
    let client = client("t_view_check").await;
    let tables = "SELECT name FROM system.tables WHERE database = 't_view_check'";
    let scratch = "SELECT name FROM system.databases WHERE name LIKE '\\_moose\\_check\\_t\\_view\\_check\\_%'";

    let state_into_count = daily_active_users(
        "SELECT day, uniqState(user) AS users FROM Event GROUP BY day",
        TableEngine::AggregatingMergeTree,
    );
    let error = migrate_dev(&client, &state_into_count, &mut |_| {})
        .await
        .expect_err("a state into a UInt64 column");
    let text = error.to_string();
    for part in [
        "aggregation `dau`",
        "target table `DailyActiveUsers`",
        "column `users` is AggregateFunction(uniq, String) in the SELECT but UInt64 in the table",
    ] {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
    assert_eq!(names(&client, tables).await, Vec::<String>::new());
    assert_eq!(names(&client, scratch).await, Vec::<String>::new());

    let mut bad_view = daily_active_users(
        "SELECT day, count() AS users FROM Event GROUP BY day",
        TableEngine::SummingMergeTree(vec![]),
    );
    bad_view.def.views = vec![ViewDef {
        name: "recent".into(),
        select: "SELECT nope FROM Event".into(),
        sources: vec!["Event".into()],
    }];
    let text = migrate_dev(&client, &bad_view, &mut |_| {})
        .await
        .expect_err("a view of an unknown column")
        .to_string();
    assert!(
        text.contains("view `recent`: its SQL does not run against the planned tables")
            && text.contains("nope"),
        "{text}"
    );
    assert_eq!(names(&client, tables).await, Vec::<String>::new());

    bad_view.def.views.clear();
    migrate_dev(&client, &bad_view, &mut |_| {})
        .await
        .expect("count() fits a UInt64 column");
    assert!(names(&client, tables).await.contains(&"dau_mv".to_string()));
    assert_eq!(names(&client, scratch).await, Vec::<String>::new());
}
