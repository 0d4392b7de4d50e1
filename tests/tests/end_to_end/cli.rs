//! The `moose` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use moose_tests::{quickstart, repo_root};
use serde_json::Value;

fn moose(args: &[&str], cwd: &Path) -> Output {
    Command::new(moose_tests::moose_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("moose runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeed(args: &[&str], cwd: &Path) -> String {
    let output = moose(args, cwd);
    assert!(
        output.status.success(),
        "moose {args:?} failed:\n{}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn fail(args: &[&str], cwd: &Path) -> String {
    let output = moose(args, cwd);
    assert!(!output.status.success(), "moose {args:?} should fail");
    text(&output.stderr)
}

#[test]
fn build_prints_the_quickstart_app_and_ls_lists_it() {
    quickstart(); // built once by the harness, so this run only checks it is current
    let root = repo_root();
    let out = succeed(&["build", "examples/quickstart"], &root);
    for expected in [
        "App `quickstart`",
        "Order",
        "id String key",
        "POST /ingest/Order",
        "enrich_order",
        "Order -> OrderEnriched",
        "DailyRevenue -> table DailyRevenue",
        "SummingMergeTree",
        "GET /api/revenue",
        "limit?: UInt32 = 100",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    let models = succeed(&["ls", "models", "examples/quickstart"], &root);
    assert!(models.contains("OrderEnriched"), "{models}");
    assert!(
        !models.contains("GET /api"),
        "only models are listed:\n{models}"
    );

    let apis: Value = serde_json::from_str(&succeed(
        &["ls", "examples/quickstart", "apis", "--json"],
        &root,
    ))
    .expect("ls --json prints JSON");
    assert_eq!(apis[0]["name"], "revenue");

    let json: Value =
        serde_json::from_str(&succeed(&["build", "examples/quickstart", "--json"], &root))
            .expect("build --json prints JSON");
    assert_eq!(json["name"], "quickstart");
    assert_eq!(json["components"][0]["functions"][0], "enrich_order");
}

#[test]
fn init_creates_an_app_that_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = dir.path().join("shop");
    let out = succeed(
        &[
            "init",
            app.to_str().expect("utf-8 path"),
            "--language",
            "rust",
        ],
        dir.path(),
    );
    assert!(out.contains("moose build"), "{out}");
    assert!(app.join("moose.config.toml").is_file());

    // Reuse the quickstart's compiled dependencies.
    let built = Command::new(moose_tests::moose_bin())
        .args(["build", "shop"])
        .current_dir(dir.path())
        .env(
            "CARGO_TARGET_DIR",
            repo_root().join("examples/quickstart/target"),
        )
        .output()
        .expect("moose runs");
    assert!(built.status.success(), "{}", text(&built.stderr));
    let out = text(&built.stdout);
    assert!(out.contains("App `shop`"), "{out}");
    assert!(out.contains("GET /api/revenue"), "{out}");

    let again = fail(&["init", "shop"], dir.path());
    assert!(again.contains("already exists and is not empty"), "{again}");
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fail(&["build", "."], dir.path());
    assert!(err.contains("has no moose.config.toml"), "{err}");

    std::fs::write(
        dir.path().join("moose.config.toml"),
        "[app]\nname = \"x\"\nmemory = 5\n",
    )
    .expect("write");
    let err = fail(&["build", "."], dir.path());
    assert!(err.contains("unknown field `memory`"), "{err}");

    std::fs::write(
        dir.path().join("moose.config.toml"),
        "[app]\nname = \"x\"\n",
    )
    .expect("write");
    let err = fail(&["ls"], dir.path());
    assert!(err.contains("has not been built yet"), "{err}");
    let err = fail(&["build"], dir.path());
    assert!(err.contains("no component found"), "{err}");
}

#[test]
fn init_creates_typescript_and_python_apps_that_build() {
    let dir = tempfile::tempdir().expect("temp dir");
    for language in ["ts", "python"] {
        let name = format!("shop-{language}");
        let out = succeed(&["init", &name, "--language", language], dir.path());
        assert!(out.contains("moose build"), "{out}");
        let out = succeed(&["build", &name], dir.path());
        assert!(out.contains(&format!("App `{name}`")), "{out}");
        assert!(
            out.contains("enrich_order  Order -> OrderEnriched"),
            "{out}"
        );
        assert!(out.contains("GET /api/revenue"), "{out}");
    }
}

/// Appends `code` to the entry file of a fresh app and returns the build's error output
/// and the first line number of the appended code.
fn broken_build(language: &str, entry: &str, code: &str) -> (String, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    succeed(&["init", "app", "--language", language], dir.path());
    let path = dir.path().join("app").join(entry);
    let mut source = std::fs::read_to_string(&path).expect("entry file");
    let line = source.lines().count() + 1;
    source.push_str(code);
    std::fs::write(&path, source).expect("write");
    (fail(&["build", "app"], dir.path()), line)
}

#[test]
fn build_errors_point_at_the_users_file_and_line() {
    let (err, line) = broken_build("ts", "app.ts", "const wrong: number = \"text\";\n");
    assert!(err.contains(&format!("app.ts:{line}:")), "{err}");
    assert!(
        !err.contains("node_modules/"),
        "no toolchain internals: {err}"
    );

    let (err, line) = broken_build("python", "app.py", "def broken(:\n    pass\n");
    assert!(err.contains(&format!("app.py:{line}:")), "{err}");
    assert!(!err.contains("Traceback"), "no toolchain dump: {err}");

    let (err, line) = broken_build(
        "python",
        "app.py",
        "raise ValueError(\"bad declaration\")\n",
    );
    assert!(err.contains(&format!("app.py:{line}:")), "{err}");
    assert!(err.contains("bad declaration"), "{err}");
}
