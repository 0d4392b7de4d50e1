//! `moose prod` as production runs it: a built artifact, an external ClickHouse that
//! outlives the replicas (the chDB HTTP server the host embeds, started on its own), a
//! Kafka-compatible broker (tansu), and replicas of the host as separate processes.

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moose_host::prod::{Manifest, ManifestComponent};
use moose_olap::{EmbeddedClickHouse, EmbeddedOptions};
use moose_runtime::{compatibility_hash, NoQueryService, Runtime};
use serde_json::Value;

use crate::image::{build_image, is_root, rootfs_command, unpack_image, ImageInfo};
use crate::tansu::Tansu;
use crate::windows::Stack;
use crate::{built_guest, moose_bin, repo_root};
use moose_host::image::APP_DIR;

/// The app's database, as the quickstart's config names it.
pub const DATABASE: &str = "local";

/// An external ClickHouse (chDB serving the ClickHouse HTTP interface) and a Kafka
/// broker, both outliving every replica.
pub struct Infrastructure {
    pub tansu: Tansu,
    pub clickhouse: EmbeddedClickHouse,
    _data: tempfile::TempDir,
}

impl Infrastructure {
    /// Starts both, empty.
    pub fn start() -> Infrastructure {
        let data = tempfile::tempdir().expect("temp dir");
        let clickhouse = EmbeddedClickHouse::start_with(data.path(), EmbeddedOptions::default())
            .unwrap_or_else(|e| panic!("starting chDB: {e}"));
        Infrastructure {
            tansu: Tansu::start(),
            clickhouse,
            _data: data,
        }
    }

    /// The environment that points `moose` at this infrastructure (the engine's HTTP
    /// interface has no ClickHouse block compression).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("MOOSE_CLICKHOUSE_URL", self.clickhouse.url()),
            ("MOOSE_CLICKHOUSE_COMPRESSION", "none"),
            ("MOOSE_KAFKA_BROKERS", self.tansu.address.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec()
    }

    /// Runs `sql` in the app's database and returns the rows.
    pub fn query(&self, sql: &str) -> Vec<Value> {
        crate::clickhouse_rows(self.clickhouse.url(), DATABASE, sql)
    }

    /// The single number a `SELECT ... AS n` query returns.
    pub fn count(&self, sql: &str) -> u64 {
        self.query(sql)[0]["n"].as_u64().expect("a count")
    }
}

/// A production artifact of the Rust quickstart in a temporary directory, laid out as the
/// image's `/app`.
pub struct Artifact {
    pub dir: tempfile::TempDir,
}

impl Artifact {
    /// The artifact of the Rust quickstart; see [`Artifact::of`].
    pub fn quickstart(infra: &Infrastructure) -> Artifact {
        Artifact::of(infra, "examples/quickstart")
    }

    /// Builds the Rust app in `app` (relative to the repository root), makes its
    /// migration plan with `moose plan --save` against `infra`'s (empty) ClickHouse, and
    /// writes the artifact: config template, `.wasm` and `.cwasm` components,
    /// infrastructure map, plan and manifest.
    pub fn of(infra: &Infrastructure, app: &str) -> Artifact {
        let built = built_guest(app);
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let config = std::fs::read_to_string(repo_root().join(app).join("moose.config.toml"))
            .expect("config");
        // Short Kafka sessions, so a killed replica's partitions move on within seconds.
        let template = format!(
            "{config}\n[streaming]\nbackend = \"kafka\"\n\n[streaming.librdkafka]\n{KAFKA_SESSIONS}"
        );
        std::fs::write(root.join("moose.config.toml"), template).expect("config");

        let plan = root.join("plan.json");
        save_plan(infra, app, &plan);
        let plan_json: Value =
            serde_json::from_slice(&std::fs::read(&plan).expect("plan")).expect("plan JSON");
        std::fs::write(
            root.join("infra_map.json"),
            serde_json::to_vec_pretty(&plan_json["desired_map"]).expect("map"),
        )
        .expect("infra map");

        let components = root.join("components");
        std::fs::create_dir_all(&components).expect("mkdir");
        let wasm = std::fs::read(&built.wasm).expect("wasm");
        std::fs::write(components.join(format!("{}.wasm", built.name)), &wasm).expect("wasm");
        let project = moose_host::config::Project::load(root).expect("the template loads");
        let runtime = Runtime::new(
            project.config.runtime.runtime_config(),
            root.join("unused-cache"),
            Arc::new(NoQueryService),
        )
        .expect("runtime");
        let precompiled = runtime
            .engine()
            .precompile_component(&wasm)
            .expect("precompiles");
        std::fs::write(
            components.join(format!("{}.cwasm", built.name)),
            precompiled,
        )
        .expect("cwasm");
        let manifest = Manifest {
            app: project.config.app.name.clone(),
            host_version: env!("CARGO_PKG_VERSION").to_string(),
            engine_compat_hash: compatibility_hash(runtime.engine()),
            components: vec![ManifestComponent {
                name: built.name.clone(),
                language: built.language,
                sha256: sha256_hex(&wasm),
            }],
        };
        std::fs::write(
            root.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest).expect("manifest"),
        )
        .expect("manifest");
        Artifact { dir }
    }

    /// The artifact's root (`/app`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A copy of this artifact without its precompiled components.
    pub fn without_precompiled(&self) -> Artifact {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(self.root(), dir.path(), &|path| {
            path.extension().is_some_and(|e| e == "cwasm")
        });
        Artifact { dir }
    }
}

/// The migration plan of the app in `app` (relative to the repository root) against
/// `infra`'s ClickHouse, made by `moose plan --save FILE`.
pub fn save_plan(infra: &Infrastructure, app: &str, file: &Path) {
    let output = Command::new(moose_bin())
        .arg("plan")
        .arg(repo_root().join(app))
        .arg("--save")
        .arg(file)
        .args(["--clickhouse-url", infra.clickhouse.url()])
        .envs(infra.env())
        .output()
        .expect("moose plan runs");
    assert!(
        output.status.success(),
        "moose plan failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The quickstart's production image, built by `moose build --docker` with the plan
/// `moose plan --save` made against `infra`, and unpacked by skopeo and umoci.
pub struct Image {
    pub info: ImageInfo,
    /// The unpacked root file system.
    pub rootfs: PathBuf,
    _unpacked: tempfile::TempDir,
}

impl Image {
    /// Builds and unpacks the image; its config template gets short Kafka sessions, so a
    /// killed replica's partitions move on within seconds.
    pub fn quickstart(infra: &Infrastructure) -> Image {
        let plan = tempfile::NamedTempFile::new().expect("temp file");
        save_plan(infra, "examples/quickstart", plan.path());
        let plan_arg = plan.path().display().to_string();
        let info = build_image("examples/quickstart", &["--plan", &plan_arg]);
        let unpacked = tempfile::tempdir().expect("temp dir");
        let rootfs = unpack_image(&info.build.archive, unpacked.path());
        let config = rootfs.join("app/moose.config.toml");
        let text = std::fs::read_to_string(&config).expect("the image's config");
        let text = if text.contains("[streaming.librdkafka]") {
            text.replace(
                "[streaming.librdkafka]",
                &format!("[streaming.librdkafka]\n{KAFKA_SESSIONS}"),
            )
        } else {
            format!("{text}\n[streaming.librdkafka]\n{KAFKA_SESSIONS}")
        };
        std::fs::write(&config, text).expect("config");
        Image {
            info,
            rootfs,
            _unpacked: unpacked,
        }
    }

    /// A command that runs the image's `moose prod /app` from the root file system, and
    /// the state directory to give it for the replica `name` (inside the root file
    /// system).
    fn prod(&self, name: &str) -> (Command, PathBuf) {
        let state = self.rootfs.join("tmp").join(name);
        if is_root() {
            // In the chroot, paths are the image's.
            let command = rootfs_command(&self.rootfs, &["prod", APP_DIR]);
            (command, Path::new("/tmp").join(name))
        } else {
            let app = self.rootfs.join(APP_DIR.trim_start_matches('/'));
            let app = app.display().to_string();
            (rootfs_command(&self.rootfs, &["prod", &app]), state)
        }
    }
}

/// librdkafka settings of short consumer-group sessions.
const KAFKA_SESSIONS: &str =
    "\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n";

fn copy_dir(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) {
    for entry in std::fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&path, &target, skip);
        } else if !skip(&path) {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// A `moose prod` process on fixed free ports, its JSON log lines collected.
pub struct Replica {
    pub name: String,
    /// `http://127.0.0.1:PORT` of ingest and APIs.
    pub api: String,
    /// `http://127.0.0.1:PORT` of the management API.
    pub management: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Collects stdout into `lines` until the process closes it.
    reader: Option<std::thread::JoinHandle<()>>,
    started: Instant,
    _state: Option<tempfile::TempDir>,
}

impl Replica {
    /// Starts `moose prod` on `artifact` with `env` (see [`Infrastructure::env`]); the
    /// replica's name (`HOSTNAME`) is `name`. Does not wait for it to be ready.
    pub fn spawn(name: &str, artifact: &Path, env: &[(String, String)]) -> Replica {
        let state = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(moose_bin());
        command.arg("prod").arg(artifact);
        let state_dir = state.path().to_path_buf();
        Self::spawn_command(name, command, &state_dir, Some(state), env)
    }

    /// Like [`Replica::spawn`], from the image's root file system.
    pub fn spawn_image(name: &str, image: &Image, env: &[(String, String)]) -> Replica {
        let (command, state_dir) = image.prod(name);
        Self::spawn_command(name, command, &state_dir, None, env)
    }

    fn spawn_command(
        name: &str,
        mut command: Command,
        state_dir: &Path,
        state: Option<tempfile::TempDir>,
        env: &[(String, String)],
    ) -> Replica {
        let (api_port, management_port) = (free_port(), free_port());
        let started = Instant::now();
        let mut child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("HOSTNAME", name)
            .env("MOOSE_STATE_DIR", state_dir)
            .env("MOOSE_HTTP_PORT", api_port.to_string())
            .env("MOOSE_MANAGEMENT_PORT", management_port.to_string())
            .env_remove("MOOSE_LOG_FORMAT")
            .env_remove("MOOSE_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("moose prod starts");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Replica {
            name: name.to_string(),
            api: format!("http://127.0.0.1:{api_port}"),
            management: format!("http://127.0.0.1:{management_port}"),
            child,
            lines,
            reader: Some(reader),
            started,
            _state: state,
        }
    }

    /// Waits until `/ready` answers 200 and returns the time from process start; panics
    /// with the replica's log if it exits first.
    pub fn wait_ready(&mut self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let ready = ureq::get(&format!("{}/ready", self.management))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return self.started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "replica {} exited ({status}) before it was ready:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not ready:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit by itself, and for its last log lines.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("wait");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the log reader");
        }
        status
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.wait_exit()
    }

    /// The JSON log lines so far.
    pub fn logs(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The messages of the log lines so far.
    pub fn messages(&self) -> Vec<String> {
        self.logs()
            .iter()
            .filter_map(|l| l["message"].as_str().map(str::to_string))
            .collect()
    }

    /// The log lines at WARN and ERROR so far.
    pub fn warnings(&self) -> Vec<Value> {
        self.logs()
            .into_iter()
            .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
            .collect()
    }

    fn log_text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// `GET /ps` of the management API.
    pub fn ps(&self) -> Value {
        ureq::get(&format!("{}/ps", self.management))
            .call()
            .expect("/ps")
            .body_mut()
            .read_json()
            .expect("JSON")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A replica's ingest and management APIs with the infrastructure's ClickHouse, for the
/// scenario helpers of [`crate::windows`].
pub struct ReplicaStack<'a> {
    pub replica: &'a Replica,
    pub infra: &'a Infrastructure,
}

impl Stack for ReplicaStack<'_> {
    fn api(&self) -> &str {
        &self.replica.api
    }
    fn management(&self) -> &str {
        &self.replica.management
    }
    fn query(&self, sql: &str) -> Vec<Value> {
        self.infra.query(sql)
    }
}
