//! Shared harness for the integration tests: paths, guest builds (once per test binary)
//! and the `moose` binary.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use moose_host::builder::{self, BuiltComponent};
use moose_runtime::types::{Batch, Encoding, ProcessOutput};
use moose_runtime::{GuestComponent, NoQueryService, Runtime, RuntimeConfig};
use serde_json::Value;

pub mod hostile;
pub mod image;
pub mod memory;
pub mod prod;
pub mod tansu;
pub mod windows;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// Builds the component in `dir` (relative to the repository root) once per test binary.
pub fn built_guest(dir: &str) -> BuiltComponent {
    static BUILT: OnceLock<Mutex<HashMap<String, BuiltComponent>>> = OnceLock::new();
    let cache = BUILT.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(built) = cache.get(dir) {
        return built.clone();
    }
    let built = builder::build(&repo_root().join(dir), builder::Profile::Release)
        .unwrap_or_else(|error| panic!("building {dir}: {error}"));
    cache.insert(dir.to_string(), built.clone());
    built
}

/// The component in `dir` (relative to the repository root), built once per test binary
/// and loaded by a host runtime whose compile cache outlives the test run (interpreter
/// components take seconds to compile).
pub fn loaded_guest(dir: &str) -> GuestComponent {
    let built = built_guest(dir);
    let config = RuntimeConfig {
        memory_limit: 256 << 20,
        ..RuntimeConfig::default()
    };
    let cache = repo_root().join("target/test-component-cache");
    let runtime = Runtime::new(config, cache, Arc::new(NoQueryService)).expect("runtime");
    runtime
        .load(&built.name, &built.wasm)
        .unwrap_or_else(|e| panic!("loading {}: {e}", built.wasm.display()))
}

/// A JSON batch of `records`, one compact line each, as the host passes to `process`.
pub fn json_batch(records: &[Value]) -> Batch {
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    Batch {
        encoding: Encoding::Json,
        count: records.len() as u32,
        data: lines.join("\n").into_bytes(),
    }
}

/// The records of a `process` call's output batch; panics when they are not one JSON
/// object per line or their number is not the batch's count.
pub fn output_records(output: &ProcessOutput) -> Vec<Value> {
    if output.output.count == 0 {
        return vec![];
    }
    let records: Vec<Value> = output
        .output
        .data
        .split(|b| *b == b'\n')
        .map(|line| serde_json::from_slice(line).expect("an output record is one JSON line"))
        .collect();
    assert_eq!(
        records.len(),
        output.output.count as usize,
        "count matches the data"
    );
    records
}

/// The quickstart app's component.
pub fn quickstart() -> BuiltComponent {
    built_guest("examples/quickstart")
}

/// The test component whose functions trap, spin and exhaust memory.
pub fn misbehave() -> BuiltComponent {
    built_guest("tests/guests/misbehave")
}

/// The `moose` binary: `$MOOSE_BIN`, else `target/debug/moose` (scripts/test.sh builds it).
pub fn moose_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("MOOSE_BIN") {
        return PathBuf::from(bin);
    }
    let bin = repo_root().join("target").join("debug").join("moose");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p moose-host` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A running `moose dev` on a private copy of an app, with free ports and its own state.
pub struct DevHost {
    /// The app's copy and its state (`.moose/`).
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` of ingest and APIs.
    pub api: String,
    /// `http://127.0.0.1:PORT` of the management API.
    pub management: String,
    /// The ClickHouse HTTP URL the host uses.
    pub clickhouse: String,
    /// The `moose` binary and the environment it runs in.
    bin: PathBuf,
    env: Vec<(&'static str, PathBuf)>,
    child: std::process::Child,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl DevHost {
    /// Copies the app at `app` (relative to the repository root; no `target/` or `.moose/`)
    /// and starts `moose dev` on it. The copy reuses the original's compiled dependencies.
    pub fn start(app: &str) -> DevHost {
        Self::start_with(app, "")
    }

    /// Like [`DevHost::start`], with `extra` appended to the copy's moose.config.toml.
    pub fn start_with(app: &str, extra: &str) -> DevHost {
        let source = repo_root().join(app);
        let dir = copy_of_app(app);
        let config = dir.path().join("moose.config.toml");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push('\n');
        text.push_str(extra);
        std::fs::write(&config, text).expect("config");
        // Builds share the original's compiled dependencies: those of its Rust component.
        let rust = std::iter::once(source.clone())
            .chain(
                std::fs::read_dir(&source)
                    .expect("app dir")
                    .filter_map(|e| e.ok().map(|e| e.path())),
            )
            .find(|dir| dir.join("Cargo.toml").is_file())
            .unwrap_or_else(|| source.clone());
        Self::start_in(
            dir,
            moose_bin(),
            vec![("CARGO_TARGET_DIR", rust.join("target"))],
        )
    }

    /// Starts `bin dev .` in the app at the root of `dir`, with the variables of `env` set,
    /// on free ports.
    pub fn start_in(
        dir: tempfile::TempDir,
        bin: PathBuf,
        env: Vec<(&'static str, PathBuf)>,
    ) -> DevHost {
        let config = dir.path().join("moose.config.toml");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str("\n[http]\nport = 0\nmanagement_port = 0\n");
        std::fs::write(&config, text).expect("config");
        let (child, stdout, [api, management, clickhouse]) = spawn(dir.path(), &bin, &env);
        DevHost {
            dir,
            api,
            management,
            clickhouse,
            bin,
            env,
            child,
            stdout,
        }
    }

    /// Kills the host at once (SIGKILL), if it still runs, and starts it again on the same
    /// app and state.
    pub fn restart(&mut self) {
        self.kill();
        let (child, stdout, [api, management, clickhouse]) =
            spawn(self.dir.path(), &self.bin, &self.env);
        self.child = child;
        self.stdout = stdout;
        self.api = api;
        self.management = management;
        self.clickhouse = clickhouse;
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `moose ARGS --url <management URL>` in the app's directory.
    pub fn moose(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(&self.bin)
            .args(args)
            .args(["--url", &self.management])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .output()
            .expect("moose runs")
    }

    /// Kills the host at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the host with SIGTERM and waits; true when it exited successfully.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    /// Stops the host with SIGTERM and waits, keeping its app and state for
    /// [`DevHost::restart`]; true when it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let status = self.child.wait().expect("wait");
        while self.stdout.try_recv().is_ok() {}
        status.success()
    }

    /// Waits up to `timeout` for a line of the host's stdout that contains `text`, skipping
    /// the lines before it; returns the line.
    pub fn wait_for_line(&self, text: &str, timeout: std::time::Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(remaining) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the host printed no line with {text:?} within {timeout:?}"),
            }
        }
    }

    /// The lines the host printed since the last read, without waiting.
    pub fn printed(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// Waits up to `timeout` for the hot reload of `component` to end; returns the lines
    /// it printed (`reload <component>: ...`), the last one with its steps' durations (or
    /// "unchanged"). Panics with the host's message when the reload failed.
    pub fn wait_for_reload(&self, component: &str, timeout: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + timeout;
        let (ours, failed) = (
            format!("reload {component}:"),
            format!("reload {component} failed"),
        );
        let mut lines = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = self.stdout.recv_timeout(remaining) else {
                panic!("the reload of {component} did not end within {timeout:?}: {lines:#?}");
            };
            assert!(!line.starts_with(&failed), "{line}");
            if !line.starts_with(&ours) {
                continue;
            }
            let done = line.contains(": build ") || line.ends_with("unchanged, nothing to do");
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Posts `records` as NDJSON to `path` of the ingest address (e.g. `/ingest/Order/1.1`);
    /// returns the status and the JSON answer.
    pub fn post_records(&self, path: &str, records: &[serde_json::Value]) -> (u16, Value) {
        let body: Vec<String> = records.iter().map(Value::to_string).collect();
        let mut response = ureq::post(&format!("{}{path}", self.api))
            .config()
            .http_status_as_error(false)
            .build()
            .content_type("application/x-ndjson")
            .send(body.join("\n"))
            .unwrap_or_else(|e| panic!("posting to {path}: {e}"));
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json().expect("JSON answer"),
        )
    }

    /// `GET path` of the ingest and API address (e.g. `/api/revenue?limit=3`): the status
    /// and the body, whatever the status.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut response = ureq::get(&format!("{}{path}", self.api))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("body"))
    }

    /// `GET path` of the management API, as JSON.
    pub fn management_json(&self, path: &str) -> Value {
        ureq::get(&format!("{}{path}", self.management))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .body_mut()
            .read_json()
            .expect("JSON")
    }

    /// The host's metrics, as `/metrics` renders them.
    pub fn metrics(&self) -> String {
        ureq::get(&format!("{}/metrics", self.management))
            .call()
            .expect("metrics")
            .body_mut()
            .read_to_string()
            .expect("text")
    }

    /// Waits up to two minutes until `sql`, a query of one count `n`, gives `expected`.
    pub fn wait_for_count(&self, sql: &str, expected: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let n = self.query(sql)[0]["n"].as_u64().expect("count");
            if n == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{sql}: {n}, not {expected}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Runs a query on the host's ClickHouse (the app's database) and returns the rows.
    pub fn query(&self, sql: &str) -> Vec<serde_json::Value> {
        clickhouse_rows(&self.clickhouse, "local", sql)
    }

    /// Asserts the quickstart's `DailyRevenue` aggregation equals `expected`: per (day,
    /// customer), the revenue (to a relative 1e-6) and the order count.
    pub fn assert_daily_revenue(&self, expected: &BTreeMap<(String, String), (f64, u64)>) {
        let rows = self.query(
            "SELECT toString(day) AS day, customer, sum(revenue) AS revenue, sum(orders) AS orders \
             FROM DailyRevenue GROUP BY day, customer ORDER BY day, customer",
        );
        assert_eq!(rows.len(), expected.len());
        for row in rows {
            let key = (
                row["day"].as_str().expect("day").to_string(),
                row["customer"].as_str().expect("customer").to_string(),
            );
            let (revenue, orders) = expected[&key];
            assert_eq!(row["orders"].as_u64(), Some(orders), "{key:?}");
            let got = row["revenue"].as_f64().expect("revenue");
            assert!(
                (got - revenue).abs() <= 1e-6 * revenue.max(1.0),
                "{key:?}: {got} != {revenue}"
            );
        }
    }

    /// Runs a query on the host's ClickHouse (the app's database) and returns the result
    /// as the server wrote it in `format`.
    pub fn query_text(&self, sql: &str, format: &str) -> String {
        clickhouse_text(&self.clickhouse, "local", sql, format)
    }
}

/// Runs `sql` in `database` of the ClickHouse HTTP interface at `url` and returns the
/// result as the server wrote it in `format` (64-bit integers unquoted).
pub fn clickhouse_text(url: &str, database: &str, sql: &str, format: &str) -> String {
    ureq::post(url)
        .query("database", database)
        .query("default_format", format)
        .query("output_format_json_quote_64bit_integers", "0")
        .send(sql)
        .unwrap_or_else(|e| panic!("query {sql}: {e}"))
        .body_mut()
        .read_to_string()
        .expect("body")
}

/// The rows of `sql` in `database` at `url`, as JSON objects.
pub fn clickhouse_rows(url: &str, database: &str, sql: &str) -> Vec<serde_json::Value> {
    clickhouse_text(url, database, sql, "JSONEachRow")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("row is JSON"))
        .collect()
}

impl Drop for DevHost {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `bin dev .` in `dir` with `env` and waits until it is ready; returns the
/// process, its stdout lines and the URLs it printed (ingest, management, ClickHouse).
fn spawn(
    dir: &Path,
    bin: &Path,
    env: &[(&'static str, PathBuf)],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    [String; 3],
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(bin)
        .args(["dev", "."])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("moose dev starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url_in = |line: &str| {
        line.split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|w| {
                let rest = &w["http://".len()..];
                format!("http://{}", rest.split('/').next().unwrap_or(rest))
            })
    };
    let (mut api, mut management, mut clickhouse) = (None, None, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(remaining) else {
            let _ = child.kill();
            panic!("moose dev did not become ready");
        };
        if line.contains("ingest ") && api.is_none() {
            api = url_in(&line);
        } else if line.contains("management ") {
            management = url_in(&line);
        } else if line.contains("clickhouse ") {
            clickhouse = url_in(&line);
        } else if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let urls = [api, management, clickhouse].map(|url| url.expect("the host printed its URLs"));
    (child, rx, urls)
}

/// A temporary copy of the app at `app` (relative to the repository root) that builds on
/// its own: sources plus component builds and compile cache, pointed at the repository's
/// guest SDKs.
pub fn copy_of_app(app: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_app(&repo_root().join(app), dir.path());
    point_at_sdks(dir.path());
    dir
}

/// Makes a copied example app find the guest SDKs it names by relative path: the Rust
/// SDK's path in Cargo.toml becomes absolute, and the JS SDK is linked into `node_modules`
/// as `npm install` would (so `package.json` stays unchanged and the build stays fresh),
/// for the app's root and each directory in it.
///
/// A Rust copy also gets a version of its own: copies build in their original's target
/// directory, and cargo identifies a package of a workspace by name, version and path
/// relative to the workspace root, so copies of one version would share (and overwrite)
/// each other's fingerprints, and a copy could be found fresh after another was edited.
fn point_at_sdks(dir: &Path) {
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("app dir")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    for component in std::iter::once(dir.to_path_buf()).chain(subdirs) {
        let manifest = component.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let sdk = repo_root().join("guest-sdk-rust").display().to_string();
            // Examples sit two levels below the root, test guests three, parts of test
            // apps four.
            let mut text = (2..=4).fold(text, |text, depth| {
                let relative = format!("{}guest-sdk-rust", "../".repeat(depth));
                text.replace(&format!("path = {relative:?}"), &format!("path = {sdk:?}"))
            });
            let copy = COPIES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let version = text.find("\nversion = \"").expect("[package] version") + 12;
            let end = version + text[version..].find('"').expect("version string");
            text.insert_str(end, &format!("-copy.{}.{copy}", std::process::id()));
            std::fs::write(&manifest, text).expect("Cargo.toml");
        }
        if component.join("package.json").is_file() {
            let scope = component.join("node_modules/@moose");
            std::fs::create_dir_all(&scope).expect("mkdir");
            std::os::unix::fs::symlink(repo_root().join("guest-sdk-js"), scope.join("guest"))
                .expect("linking the JS SDK");
        }
    }
}

/// Copies an app's sources, plus its component builds and compile cache (`.moose/build`,
/// `.moose/cache`) so the copy need not rebuild what the original built; never its state,
/// its installed dependencies or Rust's `target/`.
fn copy_app(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("app dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "node_modules" {
            continue;
        }
        if name == ".moose" {
            for kept in ["build", "cache"] {
                let kept_from = entry.path().join(kept);
                if kept_from.is_dir() {
                    let kept_to = to.join(".moose").join(kept);
                    std::fs::create_dir_all(&kept_to).expect("mkdir");
                    copy_app(&kept_from, &kept_to);
                }
            }
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::create_dir_all(to.join(&name)).expect("mkdir");
            copy_app(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}
