//! Storage options on the embedded engine: every engine, column codecs and TTLs, and the
//! table options created as declared, read back from the server, changed in place by a
//! migration (or by a rebuild for keys), and refused before anything is applied when the
//! server does not accept them.

use super::*;
use moose_host::infra_map::migrate_dev;
use moose_model::types::{
    ComputedColumn, ComputedKind, Projection, Replacing, TableIndex, TableOptions,
    VersionedCollapsing,
};

/// `Event` rows in four tables: one per engine that names columns, the first with every
/// table option and column codecs and TTLs.
fn storage_app() -> App {
    use ScalarType as S;
    let mut ts = field("ts", scalar(S::DateTime));
    ts.codec = Some("Delta, ZSTD(1)".into());
    let mut note = field("note", scalar(S::String));
    note.ttl = Some("ts + INTERVAL 1 DAY".into());
    let mut def = empty_def();
    def.models = vec![model(
        "Event",
        vec![
            key("id", scalar(S::String)),
            ts,
            field("sign", scalar(S::Int8)),
            field("version", scalar(S::Uint32)),
            field("deleted", scalar(S::Uint8)),
            note,
        ],
    )];
    let options = TableOptions {
        partition_by: Some("toYYYYMM(ts)".into()),
        primary_key: vec!["id".into()],
        sample_by: None,
        ttl: Some("ts + INTERVAL 3650 DAY".into()),
        settings: vec![("index_granularity".into(), "1024".into())],
        indexes: vec![TableIndex {
            name: "note_bf".into(),
            expression: "lower(note)".into(),
            kind: "bloom_filter(0.01)".into(),
            granularity: 2,
        }],
        projections: vec![Projection {
            name: "by_version".into(),
            select: "SELECT * ORDER BY version".into(),
        }],
        computed: vec![
            ComputedColumn {
                name: "day".into(),
                data_type: scalar(S::Date),
                kind: ComputedKind::Materialized,
                expression: "toDate(ts)".into(),
                doc: None,
            },
            ComputedColumn {
                name: "loud".into(),
                data_type: scalar(S::String),
                kind: ComputedKind::Alias,
                expression: "upper(id)".into(),
                doc: None,
            },
        ],
        externally_managed: false,
    };
    let sorted = |t: TableDef| TableDef {
        order_by: vec!["id".into(), "ts".into()],
        ..t
    };
    def.tables = vec![
        TableDef {
            options,
            ..sorted(table("Events", "Event", TableEngine::MergeTree))
        },
        table(
            "Replaced",
            "Event",
            TableEngine::ReplacingMergeTree(Replacing {
                version: Some("version".into()),
                is_deleted: Some("deleted".into()),
            }),
        ),
        table(
            "Collapsed",
            "Event",
            TableEngine::CollapsingMergeTree("sign".into()),
        ),
        table(
            "Versioned",
            "Event",
            TableEngine::VersionedCollapsingMergeTree(VersionedCollapsing {
                sign: "sign".into(),
                version: "version".into(),
            }),
        ),
    ];
    app(def)
}

async fn rows(client: &OlapClient, sql: &str) -> Vec<Value> {
    let bytes = client
        .fetch_bytes(sql, "JSONEachRow", &[])
        .await
        .expect(sql);
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a row"))
        .collect()
}

async fn one(client: &OlapClient, sql: &str) -> Value {
    let mut all = rows(client, sql).await;
    assert_eq!(all.len(), 1, "{sql}: {all:?}");
    all.remove(0)
}

/// How the server describes table `name`: keys, engine and options as it stores them.
async fn described(client: &OlapClient, name: &str) -> Value {
    one(
        client,
        &format!(
            "SELECT engine, partition_key, sorting_key, primary_key, sampling_key, \
             position(engine_full, 'TTL ts + toIntervalDay(3650)') > 0 AS ttl, \
             position(engine_full, 'index_granularity = 1024') > 0 AS granularity \
             FROM system.tables WHERE database = currentDatabase() AND name = '{name}'"
        ),
    )
    .await
}

async fn indexes(client: &OlapClient, table: &str) -> Vec<Value> {
    rows(
        client,
        &format!(
            "SELECT name, type_full, expr, granularity FROM system.data_skipping_indices \
             WHERE database = currentDatabase() AND table = '{table}' ORDER BY name"
        ),
    )
    .await
}

async fn create_sql(client: &OlapClient, table: &str) -> String {
    one(
        client,
        &format!(
            "SELECT create_table_query FROM system.tables \
             WHERE database = currentDatabase() AND name = '{table}'"
        ),
    )
    .await["create_table_query"]
        .as_str()
        .expect("text")
        .to_string()
}

fn insert_line(id: &str, sign: i8, version: u32, deleted: u8) -> String {
    format!(
        "{{\"id\":\"{id}\",\"ts\":\"2024-05-01 00:00:00\",\"sign\":{sign},\"version\":{version},\"deleted\":{deleted},\"note\":\"Hello\"}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_options_are_created_read_back_and_migrated_in_place() {
    let client = client("t_storage").await;
    let app = storage_app();
    migrate_dev(&client, &app, &mut |_| {})
        .await
        .expect("first start");

    assert_eq!(
        described(&client, "Events").await,
        json!({"engine": "MergeTree", "partition_key": "toYYYYMM(ts)", "sorting_key": "id, ts",
               "primary_key": "(id)", "sampling_key": "", "ttl": 1, "granularity": 1})
    );
    assert_eq!(
        indexes(&client, "Events").await,
        [
            json!({"name": "note_bf", "type_full": "bloom_filter(0.01)", "expr": "lower(note)", "granularity": 2})
        ]
    );
    let events = create_sql(&client, "Events").await;
    for part in [
        "`ts` DateTime CODEC(Delta(4), ZSTD(1))",
        "`note` String TTL ts + toIntervalDay(1)",
        "PROJECTION by_version",
    ] {
        assert!(events.contains(part), "`{part}` not in {events}");
    }
    let engines = rows(
        &client,
        "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() \
         AND name IN ('Replaced', 'Collapsed', 'Versioned') ORDER BY name",
    )
    .await;
    let engines: Vec<String> = engines
        .iter()
        .map(|r| {
            let full = r["engine_full"].as_str().expect("text");
            full.split(" ORDER BY").next().unwrap_or(full).to_string()
        })
        .collect();
    assert_eq!(
        engines,
        [
            "CollapsingMergeTree(sign)",
            "ReplacingMergeTree(version, deleted)",
            "VersionedCollapsingMergeTree(sign, version)",
        ]
    );

    // The engines do what their columns say: a state and its cancel collapse; a newer
    // row with `deleted = 1` removes its key.
    let body = insert_line("a", 1, 1, 0) + &insert_line("a", -1, 1, 0) + &insert_line("b", 1, 1, 0);
    for name in ["Collapsed", "Versioned"] {
        client
            .insert_json(name, body.clone(), 3)
            .await
            .expect("insert");
        assert_eq!(
            rows(
                &client,
                &format!("SELECT id FROM `{name}` FINAL ORDER BY id")
            )
            .await,
            [json!({"id": "b"})],
            "{name}"
        );
    }
    let body = insert_line("a", 1, 1, 0) + &insert_line("a", 1, 2, 1) + &insert_line("b", 1, 1, 0);
    client
        .insert_json("Replaced", body, 3)
        .await
        .expect("insert");
    assert_eq!(
        rows(&client, "SELECT id FROM `Replaced` FINAL ORDER BY id").await,
        [json!({"id": "b"})]
    );
    client
        .insert_json("Events", insert_line("a", 1, 1, 0), 1)
        .await
        .expect("insert");

    // Computed columns: records never carry them; the server fills them.
    assert_eq!(
        rows(
            &client,
            "SELECT name, default_kind, default_expression FROM system.columns \
             WHERE database = currentDatabase() AND table = 'Events' AND default_kind != '' \
             ORDER BY name"
        )
        .await,
        [
            json!({"name": "day", "default_kind": "MATERIALIZED", "default_expression": "toDate(ts)"}),
            json!({"name": "loud", "default_kind": "ALIAS", "default_expression": "upper(id)"}),
        ]
    );
    assert_eq!(
        rows(&client, "SELECT toString(day) AS day, loud FROM Events").await,
        [json!({"day": "2024-05-01", "loud": "A"})]
    );

    // Applied again, nothing differs.
    let again = migrate_dev(&client, &app, &mut |_| {})
        .await
        .expect("second start");
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    // Options changed in place: new TTL, a changed index, another projection, a setting,
    // a codec, a computed expression, a comment, and a column TTL removed. The row stays.
    let mut changed = app.clone();
    let options = &mut changed.def.tables[0].options;
    options.ttl = Some("ts + INTERVAL 7300 DAY".into());
    options.indexes[0].kind = "ngrambf_v1(3, 256, 2, 0)".into();
    options.projections = vec![Projection {
        name: "per_id".into(),
        select: "SELECT id, count() GROUP BY id".into(),
    }];
    options
        .settings
        .push(("merge_with_ttl_timeout".into(), "3600".into()));
    options.computed[0].expression = "toDate(ts) + 1".into();
    options.computed[1].expression = "lower(concat(id, id))".into();
    let fields = &mut changed.def.models[0].fields;
    fields[1].codec = Some("ZSTD(3)".into());
    fields[5].ttl = None;
    fields[5].doc = Some("A note.".into());
    let mut warned = Vec::new();
    let migrated = migrate_dev(&client, &changed, &mut |l| warned.push(l.to_string()))
        .await
        .expect("options change");
    let applied: Vec<String> = migrated
        .changes
        .iter()
        .map(|c| c.change.to_string())
        .collect();
    // The codec, the column TTL and the comment change in all four tables of the model.
    assert_eq!(applied.len(), 4 * 3 + 8, "{applied:#?}");
    assert!(
        applied.iter().all(|c| !c.contains("rebuild")),
        "{applied:#?}"
    );
    let events = create_sql(&client, "Events").await;
    for part in [
        "`ts` DateTime CODEC(ZSTD(3))",
        "`note` String COMMENT 'A note.',",
        "PROJECTION per_id",
        "TTL ts + toIntervalDay(7300)",
        "merge_with_ttl_timeout = 3600",
        "ngrambf_v1(3, 256, 2, 0)",
    ] {
        assert!(events.contains(part), "`{part}` not in {events}");
    }
    assert!(!events.contains("by_version"), "{events}");
    assert_eq!(count(&client, "Events").await, 1);
    assert_eq!(
        rows(&client, "SELECT loud FROM Events").await,
        [json!({"loud": "aa"})]
    );
    // The stored values of a MATERIALIZED column follow its new expression (a mutation,
    // which the server runs in the background).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let day = rows(&client, "SELECT toString(day) AS day FROM Events").await;
        if day == [json!({"day": "2024-05-02"})] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stored value kept the old expression: {day:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let again = migrate_dev(&client, &changed, &mut |_| {})
        .await
        .expect("third start");
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    // A new partition key rebuilds the table and keeps its rows.
    let mut repartitioned = changed.clone();
    repartitioned.def.tables[0].options.partition_by = Some("toDate(ts)".into());
    let migrated = migrate_dev(&client, &repartitioned, &mut |_| {})
        .await
        .expect("rebuild");
    assert_eq!(migrated.changes.len(), 1, "{:?}", migrated.changes);
    assert_eq!(
        described(&client, "Events").await["partition_key"],
        "toDate(ts)"
    );
    assert_eq!(count(&client, "Events").await, 1);
    assert_eq!(
        rows(&client, "SELECT toString(day) AS day, loud FROM Events").await,
        [json!({"day": "2024-05-02", "loud": "aa"})],
        "computed columns are computed again in the rebuilt table"
    );
}

/// An option the server does not accept is refused, naming the table, before anything is
/// created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_the_server_refuses_stop_the_app_before_anything_is_created() {
    let client = client("t_storage_refused").await;
    let mut app = storage_app();
    app.def.tables[0].options.partition_by = Some("no_such_function(ts)".into());
    let text = migrate_dev(&client, &app, &mut |_| {})
        .await
        .expect_err("an unknown function")
        .to_string();
    assert!(
        text.contains("table `Events`: the server refused its definition")
            && text.contains("no_such_function"),
        "{text}"
    );
    let tables = rows(
        &client,
        "SELECT name FROM system.tables WHERE database = 't_storage_refused'",
    )
    .await;
    assert_eq!(tables, Vec::<Value>::new());
}

/// An externally managed table: `moose dev`'s migration creates it where it is missing (a
/// local mirror) and otherwise never touches it, whatever its declaration says; an
/// existing one keeps its own columns and rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn externally_managed_tables_are_mirrored_when_missing_and_never_altered() {
    use ScalarType as S;
    let client = client("t_external").await;
    // Someone else's table, already there, with a column the app does not declare.
    client
        .execute("CREATE TABLE Theirs (id String, extra UInt8) ENGINE = MergeTree ORDER BY id")
        .await
        .expect("their table");
    client
        .insert_json("Theirs", "{\"id\":\"a\",\"extra\":7}\n", 1)
        .await
        .expect("their row");
    let external = |name: &str| TableDef {
        options: TableOptions {
            externally_managed: true,
            ..TableOptions::default()
        },
        ..table(name, "Row", TableEngine::MergeTree)
    };
    let mut def = empty_def();
    def.models = vec![model("Row", vec![key("id", scalar(S::String))])];
    def.tables = vec![external("Theirs"), external("Mirror")];
    let app = app(def);
    let first = migrate_dev(&client, &app, &mut |_| {})
        .await
        .expect("first start");
    assert!(first.changes.is_empty(), "{:?}", first.changes);
    // The missing one is mirrored; the existing one is as it was.
    assert!(create_sql(&client, "Mirror").await.contains("`id` String"));
    assert_eq!(
        rows(&client, "SELECT id, extra FROM Theirs").await,
        [json!({"id": "a", "extra": 7})]
    );

    // A changed declaration (a new column, another engine) changes nothing either.
    let mut changed = app.clone();
    changed.def.models[0]
        .fields
        .push(field("n", scalar(S::Int64)));
    changed.def.tables[1].engine = TableEngine::ReplacingMergeTree(Replacing::default());
    let again = migrate_dev(&client, &changed, &mut |_| {})
        .await
        .expect("second start");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    let mirror = create_sql(&client, "Mirror").await;
    assert!(
        !mirror.contains("`n`") && mirror.contains("ENGINE = MergeTree"),
        "{mirror}"
    );

    // Dropped from the app, it stays.
    let mut dropped = changed.clone();
    dropped.def.tables.clear();
    let gone = migrate_dev(&client, &dropped, &mut |_| {})
        .await
        .expect("third start");
    assert!(gone.changes.is_empty(), "{:?}", gone.changes);
    assert_eq!(count(&client, "Theirs").await, 1);
    assert!(create_sql(&client, "Mirror").await.contains("`id` String"));
}
