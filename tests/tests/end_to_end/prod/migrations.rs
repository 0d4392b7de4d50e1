//! Migrations in production: a drifted database and an unreviewed destructive change are refused, the reviewed plan applies.

use super::*;

#[test]
fn refuses_to_start_without_external_infrastructure_or_when_the_database_drifted() {
    let infra = Infrastructure::start();
    let artifact = Artifact::quickstart(&infra);
    let env = infra.env();

    let missing = std::process::Command::new(moose_bin())
        .arg("prod")
        .arg(artifact.root())
        .envs(
            env.iter()
                .filter(|(k, _)| k != "MOOSE_CLICKHOUSE_URL")
                .cloned(),
        )
        .env("MOOSE_LOG_FORMAT", "text")
        .output()
        .expect("moose prod runs");
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains("set MOOSE_CLICKHOUSE_URL") && error.contains("never starts the embedded"),
        "{error}"
    );

    let mut first = Replica::spawn("first", artifact.root(), &env);
    first.wait_ready();
    assert!(first.terminate().success());

    // Someone drops a column by hand and records the result as a new state: the
    // database is neither where the plan starts nor where it leads.
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let client = OlapClient::new(OlapConfig::embedded(
            &ClickHouseSection::default(),
            infra.clickhouse.url(),
        ))
        .expect("client");
        let applied = state::read(&client).await.expect("state").expect("applied");
        let mut map = applied.map.clone();
        let order = map.tables.get_mut("Order").expect("table Order");
        order.columns.retain(|c| c.name != "customer");
        client
            .execute("ALTER TABLE `Order` DROP COLUMN `customer`")
            .await
            .expect("drop column");
        let target = client.target().await.expect("target");
        state::record(&client, &target, Some(&applied), &map, "by hand")
            .await
            .expect("record");
    });

    let mut second = Replica::spawn("second", artifact.root(), &env);
    let status = second.wait_exit();
    assert!(!status.success());
    let errors: Vec<String> = second
        .logs()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    let error = errors.join("\n");
    assert!(
        error.contains("the database drifted from the reviewed plan")
            && error.contains("its applied state is v2")
            && error.contains("table Order: add column `customer`"),
        "{error}"
    );
    assert_eq!(
        infra.count("SELECT count() AS n FROM _moose_state"),
        2,
        "nothing applied"
    );
    let refused = infra.query(&format!(
        "SELECT note FROM {LEASE_TABLE} WHERE lease = 'migration' AND event = 'release' AND startsWith(note, 'refused')"
    ));
    assert_eq!(refused.len(), 1, "the refusal is recorded: {refused:?}");
}

/// The quickstart edited with destructive changes: `Order.ts` renamed to `placed_at` and
/// `OrderEnriched.amount_cents` narrowed to Int32.
fn destructively_edited_quickstart() -> tempfile::TempDir {
    let dir = copy_of_app("examples/quickstart");
    let source = dir.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&source).expect("source");
    let edited = [
        (
            "pub amount: f64,\n    pub ts: DateTime,\n}",
            "pub amount: f64,\n    pub placed_at: DateTime,\n}",
        ),
        ("order.ts", "order.placed_at"),
        ("pub amount_cents: i64,", "pub amount_cents: i32,"),
        (".round() as i64", ".round() as i32"),
    ]
    .iter()
    .fold(text, |text, (from, to)| {
        assert!(text.contains(from), "{from:?} is not in the quickstart");
        text.replace(from, to)
    });
    std::fs::write(&source, edited).expect("source");
    dir
}

/// Production applies destructive changes only through a plan reviewed against the live
/// database: an artifact of the edited quickstart whose plan was made before v1 was applied
/// is refused, naming each destructive change, and changes nothing; once its plan is made
/// again against the database (`moose plan --save`), the same artifact applies it.
#[test]
fn an_unreviewed_destructive_change_is_refused_and_the_reviewed_plan_applies() {
    let infra = Infrastructure::start();
    let env = infra.env();
    let app = destructively_edited_quickstart();
    let app = app.path().to_str().expect("UTF-8 path");
    // Planned against the database while it was still empty: not reviewed against v1.
    let edited = Artifact::of(&infra, app);
    let v1 = Artifact::quickstart(&infra);
    let mut first = Replica::spawn("v1", v1.root(), &env);
    first.wait_ready();
    assert!(first.terminate().success());
    let columns = |table: &str| {
        infra
            .query(&format!(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() \
                 AND table = '{table}' ORDER BY position"
            ))
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["name"].as_str().expect("name"),
                    c["type"].as_str().expect("type")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let order_v1 = columns("Order");
    assert!(order_v1.contains("ts DateTime"), "{order_v1}");

    let mut unreviewed = Replica::spawn("unreviewed", edited.root(), &env);
    assert!(
        !unreviewed.wait_exit().success(),
        "the unreviewed plan is refused"
    );
    let error = unreviewed
        .logs()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.contains("the database drifted from the reviewed plan"),
        "{error}"
    );
    for change in [
        "~ table Order: add column `placed_at` DateTime",
        "~ table Order: drop column `ts` DateTime (possible rename to `placed_at`) [DESTRUCTIVE]",
        "~ table OrderEnriched: change type of `amount_cents` Int64 -> Int32 [DESTRUCTIVE]",
    ] {
        assert!(error.contains(change), "{change:?} is not in:\n{error}");
    }
    assert_eq!(columns("Order"), order_v1, "nothing was applied");

    save_plan(&infra, app, &edited.root().join("plan.json"));
    let mut reviewed = Replica::spawn("reviewed", edited.root(), &env);
    reviewed.wait_ready();
    assert!(
        reviewed
            .messages()
            .iter()
            .any(|m| m.contains("applied the plan as v2")),
        "{:?}",
        reviewed.messages()
    );
    assert_eq!(
        columns("Order"),
        "id String, customer String, amount Float64, placed_at DateTime"
    );
    assert!(
        columns("OrderEnriched").contains("amount_cents Int32"),
        "{}",
        columns("OrderEnriched")
    );
    assert!(reviewed.terminate().success());
}
