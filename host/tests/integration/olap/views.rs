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
