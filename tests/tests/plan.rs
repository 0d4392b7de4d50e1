//! `moose plan` against a real engine: the quickstart is applied by `moose dev`, then
//! edited; the plan shows each change marked safe or destructive, `--json` and `--save`
//! give it to machines, and `apply_plan` runs a saved plan once and refuses it after the
//! database moved on.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use moose_host::config::ClickHouseSection;
use moose_host::infra_map::{apply_plan, MigrationPlan, PlanError};
use moose_host::olap::OlapStore;
use moose_tests::{moose_bin, quickstart, repo_root, DevHost};
use serde_json::Value;

fn moose_plan(dir: &Path, extra: &[&str]) -> String {
    let output: Output = Command::new(moose_bin())
        .args(["plan", "."])
        .args(extra)
        .current_dir(dir)
        // The copy builds into the original's target directory, as `DevHost` does.
        .env(
            "CARGO_TARGET_DIR",
            repo_root().join("examples/quickstart/target"),
        )
        .output()
        .expect("moose plan runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "moose plan {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Replaces `from` (which must occur) by `to` in `file`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("source");
    assert!(text.contains(from), "{from:?} is not in {}", file.display());
    std::fs::write(file, text.replace(from, to)).expect("source");
}

fn line_of<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[test]
fn plan_shows_the_changes_of_an_edited_app_and_apply_plan_refuses_drift() {
    quickstart();
    let mut host = DevHost::start("examples/quickstart");
    let states = host.query("SELECT version, map_hash FROM _moose_state");
    assert_eq!(states.len(), 1, "{states:?}");
    // Stop the host (and its engine) before editing: `moose dev` reloads edited sources.
    let engine = host.clickhouse.clone();
    host.kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{engine}/ping")).call().is_ok() {
        assert!(
            Instant::now() < deadline,
            "the embedded engine did not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let dir = host.dir.path().to_path_buf();

    // Unchanged app: nothing to do.
    let out = moose_plan(&dir, &[]);
    assert!(out.contains("against applied state v1"), "{out}");
    assert!(out.contains("No changes."), "{out}");

    // Rename Order.ts to placed_at, add a nullable note, narrow amount_cents.
    let source = dir.join("src/lib.rs");
    edit(
        &source,
        "pub amount: f64,\n    pub ts: DateTime,\n}",
        "pub amount: f64,\n    pub placed_at: DateTime,\n    pub note: Option<String>,\n}",
    );
    edit(&source, "order.ts", "order.placed_at");
    edit(&source, "pub amount_cents: i64,", "pub amount_cents: i32,");
    edit(&source, ".round() as i64", ".round() as i32");

    let out = moose_plan(&dir, &[]);
    println!("{out}");
    let note = line_of(&out, "add column `note`");
    assert_eq!(
        note.trim(),
        "~ table Order: add column `note` Nullable(String) [safe]"
    );
    let placed_at = line_of(&out, "add column `placed_at`");
    assert!(
        placed_at.trim_start().starts_with("~ table Order:"),
        "{out}"
    );
    assert!(placed_at.contains("(possible rename of `ts`)"), "{out}");
    assert!(placed_at.ends_with("[DESTRUCTIVE]"), "{out}");
    let ts = line_of(&out, "drop column `ts`");
    assert!(ts.contains("(possible rename to `placed_at`)"), "{out}");
    assert!(ts.ends_with("[DESTRUCTIVE]"), "{out}");
    assert_eq!(
        line_of(&out, "amount_cents").trim(),
        "~ table OrderEnriched: change type of `amount_cents` Int64 -> Int32 [DESTRUCTIVE]"
    );
    assert!(out.contains("4 changes: 1 safe, 3 destructive."), "{out}");

    let plan_file = dir.join("plan.json");
    let json: Value = serde_json::from_str(&moose_plan(
        &dir,
        &["--json", "--save", plan_file.to_str().expect("utf-8 path")],
    ))
    .expect("--json prints JSON");
    assert_eq!(json["applied_version"], 1);
    assert_eq!(json["applied_hash"], states[0]["map_hash"]);
    let changes = json["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 4, "{json:#}");
    let note = changes
        .iter()
        .find(|c| c["column"]["name"] == "note")
        .expect("the note change");
    assert_eq!(note["op"], "alter");
    assert_eq!(note["kind"], "table");
    assert_eq!(note["action"], "add_column");
    assert_eq!(note["safety"], "safe");
    assert_eq!(
        note["statements"],
        serde_json::json!([
            "ALTER TABLE `local`.`Order` ADD COLUMN IF NOT EXISTS `note` Nullable(String) AFTER `placed_at`"
        ])
    );
    let plan = MigrationPlan::load(&plan_file).expect("the saved plan loads");
    assert_eq!(plan.changes.len(), 4);
    assert_eq!(
        plan.expected_applied_hash.as_ref(),
        states[0]["map_hash"].as_str().map(str::to_string).as_ref()
    );

    // The saved plan runs once; run again, the database has moved on and it is refused.
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(async {
        let store = OlapStore::open(&ClickHouseSection::default(), &dir.join(".moose"))
            .await
            .expect("the embedded engine starts");
        let client = store.client();
        assert_eq!(apply_plan(client, &plan_file).await.expect("applies"), 2);
        let columns = client
            .fetch_bytes(
                "SELECT name, type FROM system.columns WHERE database = 'local' AND table = 'Order' ORDER BY position",
                "TSV",
                &[],
            )
            .await
            .expect("columns");
        assert_eq!(
            String::from_utf8_lossy(&columns),
            "id\tString\ncustomer\tString\namount\tFloat64\nplaced_at\tDateTime\nnote\tNullable(String)\n"
        );
        let refused = apply_plan(client, &plan_file).await.unwrap_err();
        assert!(matches!(refused, PlanError::Drift { .. }), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("the database drifted since the plan was made"),
            "{refused}"
        );
        store.shutdown().await.expect("the engine stops");
    });

    let out = moose_plan(&dir, &[]);
    assert!(out.contains("against applied state v2"), "{out}");
    assert!(out.contains("No changes."), "{out}");
}
