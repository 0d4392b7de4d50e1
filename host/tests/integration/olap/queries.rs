//! Guest queries: read-only, typed errors, parameters bound and never spliced.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_queries_cannot_write_and_errors_are_typed() {
    let client = client("t_guard").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS kept (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json("kept", "{\"id\":1,\"name\":\"a\"}", 1)
        .await
        .expect("row");
    let service = service(&client, QueryLimits::default());
    let writes = [
        "INSERT INTO kept VALUES (2, 'b')",
        "INSERT INTO kept SELECT * FROM kept",
        "CREATE TABLE other (a UInt8) ENGINE = Memory",
        "DROP TABLE kept",
        "TRUNCATE TABLE kept",
        "ALTER TABLE kept DELETE WHERE 1",
        "SET max_execution_time = 0",
        "SELECT * FROM kept SETTINGS max_result_bytes = 0",
        "SELECT 1 INTO OUTFILE '/tmp/moose-olap-test-outfile'",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
        "SYSTEM DROP DNS CACHE",
        "KILL QUERY WHERE 1",
    ];
    for sql in writes {
        let error = guest_query(&service, sql, &[]).await.unwrap_err();
        assert!(
            matches!(error, QueryError::Denied(ref m) if m.contains("Code: ")),
            "{sql}: {error:?}"
        );
    }
    assert!(!Path::new("/tmp/moose-olap-test-outfile").exists());
    let error = guest_query(&service, "SELECT 1; DROP TABLE kept", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, QueryError::Invalid(ref m) if m.contains("Multi-statements")),
        "{error:?}"
    );
    assert_eq!(
        count(&client, "kept").await,
        1,
        "nothing was written or dropped"
    );

    let invalid = [
        ("SELEC 1", vec![]),
        ("SELECT * FROM missing_table", vec![]),
        ("SELECT missing_column FROM kept", vec![]),
        ("SELECT {n:UInt8}", vec![("n", "not a number")]),
        ("SELECT {n:UInt8}", vec![]),
    ];
    for (sql, pairs) in invalid {
        let error = guest_query(&service, sql, &pairs).await.unwrap_err();
        assert!(
            matches!(error, QueryError::Invalid(ref m) if m.starts_with("Code: ")),
            "{sql}: {error:?}"
        );
    }
    let error = guest_query(&service, "SELECT throwIf(1, 'boom')", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, QueryError::Failed(ref m) if m.contains("boom")),
        "{error:?}"
    );
    let error = guest_query(&service, "SELECT 1 FORMAT CSV", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::Invalid(_)), "{error:?}");

    let strict = OlapQueryService::new(
        client.clone(),
        tokio::runtime::Handle::current(),
        QueryLimits {
            max_execution_time: Duration::from_secs(1),
            max_result_bytes: 1000,
        },
    );
    let started = Instant::now();
    let error = guest_query(
        &strict,
        "SELECT sum(cityHash64(number)) FROM numbers(100000000000)",
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(error, QueryError::Timeout), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let error = guest_query(&strict, "SELECT number FROM numbers(100000)", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::TooLarge(1000)), "{error:?}");
    let small = guest_query(&strict, "SELECT number FROM numbers(3)", &[])
        .await
        .expect("a small result");
    assert_eq!(
        small,
        vec![
            json!({"number": 0}),
            json!({"number": 1}),
            json!({"number": 2})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_bound_never_spliced() {
    let client = client("t_params").await;
    client
        .execute("CREATE TABLE IF NOT EXISTS people (id UInt32, name String, nick Nullable(String)) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("table");
    client
        .insert_json(
            "people",
            "{\"id\":1,\"name\":\"alice\",\"nick\":null}\n{\"id\":2,\"name\":\"tab\\there\\\\back\\nline\",\"nick\":\"b\"}\n",
            2,
        )
        .await
        .expect("rows");
    let service = service(&client, QueryLimits::default());
    let sql = "SELECT id FROM people WHERE name = {name:String} ORDER BY id";
    for attack in [
        "x' OR 1=1 --",
        "alice' OR '1'='1",
        "'; DROP TABLE people; --",
        "alice\\' OR 1=1 --",
        "{name:String}",
    ] {
        let rows = guest_query(&service, sql, &[("name", attack)])
            .await
            .expect(attack);
        assert!(rows.is_empty(), "{attack}: {rows:?}");
    }
    let rows = guest_query(&service, sql, &[("name", "alice")])
        .await
        .expect("alice");
    assert_eq!(rows, vec![json!({"id": 1})]);
    // Escaped text form: `\t`, `\\` and `\n` arrive escaped and match the real characters.
    let rows = guest_query(&service, sql, &[("name", "tab\\there\\\\back\\nline")])
        .await
        .expect("escaped");
    assert_eq!(rows, vec![json!({"id": 2})]);
    let rows = guest_query(
        &service,
        "SELECT {nick:Nullable(String)} IS NULL AS missing, {id:UInt32} + 1 AS next",
        &[("nick", "\\N"), ("id", "41")],
    )
    .await
    .expect("null and number");
    assert_eq!(rows, vec![json!({"missing": 1, "next": 42})]);
    // Identifiers are bound too: the server quotes them, so a name cannot carry SQL.
    let by_name = "SELECT {column:Identifier} AS v FROM {table:Identifier} ORDER BY id";
    let rows = guest_query(
        &service,
        by_name,
        &[("column", "name"), ("table", "people")],
    )
    .await
    .expect("identifiers");
    assert_eq!(rows.len(), 2);
    for attack in [
        "people; DROP TABLE people",
        "people WHERE 1=0 --",
        "people`",
    ] {
        let error = guest_query(&service, by_name, &[("column", "id"), ("table", attack)])
            .await
            .expect_err(attack);
        assert!(
            matches!(error, QueryError::Invalid(_)),
            "{attack}: {error:?}"
        );
    }
    assert_eq!(count(&client, "people").await, 2);
}
