//! The embedded OLAP engine: chDB (the ClickHouse engine as a Python extension) serving
//! the ClickHouse HTTP interface from a child process, so the host needs no ClickHouse
//! server.
//!
//! [`EmbeddedClickHouse::start`] writes `chdb_server.py` and its modules (embedded in the
//! binary, see [`write_server`]) to
//! `<state_dir>/clickhouse/`, runs it with the Python that `scripts/setup.sh` installs,
//! and waits until `/ping` answers. Data lives in `<state_dir>/clickhouse/data`, the log in
//! `<state_dir>/clickhouse/server.log` (the previous run's in `server.log.1`).
//!
//! The child stops when the host closes its standard input ([`EmbeddedClickHouse::shutdown`],
//! or drop), and by itself when the host dies (its standard input reaches end of file and
//! its parent process changes), so it never outlives the host holding the data directory.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::error::OlapError;

/// The server program and its modules, written next to the data at every start: the
/// program first.
const SERVER_FILES: &[(&str, &str)] = &[
    ("chdb_server.py", include_str!("chdb_server.py")),
    ("chdb_errors.py", include_str!("chdb_errors.py")),
    ("chdb_request.py", include_str!("chdb_request.py")),
    ("chdb_sessions.py", include_str!("chdb_sessions.py")),
    ("chdb_sql.py", include_str!("chdb_sql.py")),
    ("engine-requirements.txt", ENGINE_REQUIREMENTS),
];

/// Writes the server program and its modules into `dir` (those already there unchanged
/// are left alone) and returns the program's path.
pub fn write_server(dir: &Path) -> std::io::Result<PathBuf> {
    for (name, text) in SERVER_FILES {
        write_if_changed(&dir.join(name), text)?;
    }
    Ok(dir.join(SERVER_FILES[0].0))
}

/// The `chdb-core` release the server is written and tested against.
pub const CHDB_VERSION: &str = "26.9.0";

/// What the engine's Python needs, one pip requirement per line (installed without their
/// own dependencies): chdb-core, and the codecs the server decodes and encodes compressed
/// bodies with. `scripts/setup-olap.sh` installs them, and `moose` on first use.
pub const ENGINE_REQUIREMENTS: &str = include_str!("engine-requirements.txt");

/// How long a start waits for the engine of a host that died to stop.
const ORPHAN_GRACE: Duration = Duration::from_secs(3);

/// Exit codes of `chdb_server.py`.
const EXIT_NO_CHDB: i32 = 3;
const EXIT_ENGINE: i32 = 4;
const EXIT_BIND: i32 = 5;

/// The machine-wide directory of installed toolchains (the chDB environment here, the
/// language build tools beside it): `$XDG_DATA_HOME/moose`, else
/// `$HOME/.local/share/moose`.
pub fn tools_dir() -> PathBuf {
    user_dir("XDG_DATA_HOME", ".local/share")
}

/// `$<xdg_variable>/moose` when the variable is set and not empty, else
/// `$HOME/<under_home>/moose`: a machine-wide directory of the user's.
pub fn user_dir(xdg_variable: &str, under_home: &str) -> PathBuf {
    std::env::var_os(xdg_variable)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/"), PathBuf::from)
                .join(under_home)
        })
        .join("moose")
}

/// The Python interpreter chdb is installed into: `<tools_dir>/chdb-venv/bin/python`.
pub fn default_python() -> PathBuf {
    tools_dir().join("chdb-venv/bin/python")
}

/// How to start the embedded engine.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Python with `chdb-core`; [`default_python`] when `None`.
    pub python: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// When set, requests must authenticate as this user and password; otherwise any
    /// credentials are accepted.
    pub credentials: Option<(String, String)>,
    /// Longest wait for the engine to answer `/ping`.
    pub start_timeout: Duration,
    /// Longest wait for a graceful stop before the process is killed.
    pub stop_timeout: Duration,
    /// Log every request, not only failed ones.
    pub verbose: bool,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            python: None,
            port: 0,
            credentials: None,
            start_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(15),
            verbose: false,
        }
    }
}

/// A running embedded engine. Stopped by [`EmbeddedClickHouse::shutdown`] or on drop;
/// [`EmbeddedClickHouse::restart`] starts it again on the same port after it died.
#[derive(Debug)]
pub struct EmbeddedClickHouse {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    url: String,
    port: u16,
    dir: PathBuf,
    python: PathBuf,
    options: EmbeddedOptions,
}

impl EmbeddedClickHouse {
    /// Starts the engine over `<state_dir>/clickhouse/data`, serving on 127.0.0.1:`port`
    /// (0 picks a free port), with `python` (by default [`default_python`]).
    pub async fn start(
        state_dir: &Path,
        python: Option<&Path>,
        port: u16,
    ) -> Result<Self, OlapError> {
        let state_dir = state_dir.to_path_buf();
        let options = EmbeddedOptions {
            python: python.map(Path::to_path_buf),
            port,
            ..EmbeddedOptions::default()
        };
        tokio::task::spawn_blocking(move || Self::start_with(&state_dir, options))
            .await
            .map_err(|e| OlapError::Engine(format!("the embedded engine's start failed: {e}")))?
    }

    /// Starts the engine, blocking the calling thread until it answers `/ping`.
    pub fn start_with(state_dir: &Path, options: EmbeddedOptions) -> Result<Self, OlapError> {
        let python = options.python.clone().unwrap_or_else(default_python);
        let mut engine = Self {
            child: None,
            stdin: None,
            url: String::new(),
            port: 0,
            dir: state_dir.join("clickhouse"),
            python,
            options,
        };
        engine.launch()?;
        Ok(engine)
    }

    /// Starts the engine again after it exited, on the port it had, blocking until it
    /// answers `/ping`. The data directory is the same, so nothing stored is lost.
    pub fn restart(&mut self) -> Result<(), OlapError> {
        self.stop_quietly();
        self.options.port = self.port;
        self.launch()
    }

    /// Runs the server program and waits for it to answer.
    fn launch(&mut self) -> Result<(), OlapError> {
        let started = Instant::now();
        let options = self.options.clone();
        let python = self.python.clone();
        if !python.exists() {
            return Err(OlapError::Engine(format!(
                "the embedded ClickHouse engine needs Python with chdb-core {CHDB_VERSION}, but \
                 {} does not exist: set [clickhouse] python to one (left unset, moose installs \
                 it), or [clickhouse] url to a ClickHouse server",
                python.display()
            )));
        }
        let dir = self.dir.clone();
        let io = |what: &str, path: &Path, e: std::io::Error| {
            OlapError::Engine(format!("{what} {}: {e}", path.display()))
        };
        fs::create_dir_all(dir.join("data")).map_err(|e| io("cannot create", &dir, e))?;
        let script = write_server(&dir).map_err(|e| io("cannot write the server into", &dir, e))?;
        let port_file = dir.join("server.port");
        // An engine whose host was just killed stops within half a second (its parent is
        // gone, its standard input closed); only one that stays up belongs to a live host.
        let orphan_gone = Instant::now() + ORPHAN_GRACE;
        let serving = |port: u16| {
            while ping(port) {
                if Instant::now() >= orphan_gone {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        };
        if let Some(port) = read_port(&port_file).filter(|port| serving(*port)) {
            return Err(OlapError::Engine(format!(
                "an embedded ClickHouse engine already serves {} at http://127.0.0.1:{port}: \
                 is another moose host running on this app?",
                dir.join("data").display()
            )));
        }
        let _ = fs::remove_file(&port_file);
        let log = dir.join("server.log");
        if log.exists() {
            let _ = fs::rename(&log, dir.join("server.log.1"));
        }
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| io("cannot open", &log, e))?;
        let log_file_2 = log_file
            .try_clone()
            .map_err(|e| io("cannot open", &log, e))?;

        let mut command = Command::new(&python);
        command
            .arg("-u")
            .arg(&script)
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--host", "127.0.0.1", "--port"])
            .arg(options.port.to_string())
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--watch-stdin")
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_file_2)
            .env("TZ", "UTC")
            .env_remove("MOOSE_CHDB_USER")
            .env_remove("MOOSE_CHDB_PASSWORD");
        if options.verbose {
            command.arg("--verbose");
        }
        if let Some((user, password)) = &options.credentials {
            command
                .env("MOOSE_CHDB_USER", user)
                .env("MOOSE_CHDB_PASSWORD", password);
        }
        let mut child = command.spawn().map_err(|e| {
            OlapError::Engine(format!(
                "cannot run {} for the embedded ClickHouse engine: {e}",
                python.display()
            ))
        })?;
        self.stdin = child.stdin.take();
        self.child = Some(child);
        let port = self.wait_ready(&python, &port_file, started + options.start_timeout)?;
        self.port = port;
        self.url = format!("http://127.0.0.1:{port}");
        tracing::info!(
            url = %self.url,
            data = %self.data_dir().display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded ClickHouse engine (chDB) started"
        );
        Ok(())
    }

    /// Waits for the port file and a successful `/ping`; on failure the child is stopped
    /// and the error carries the end of its log.
    fn wait_ready(
        &mut self,
        python: &Path,
        port_file: &Path,
        deadline: Instant,
    ) -> Result<u16, OlapError> {
        loop {
            if let Some(status) = self.exited() {
                return Err(self.start_failure(python, status));
            }
            if let Some(port) = read_port(port_file) {
                if ping(port) {
                    return Ok(port);
                }
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                return Err(OlapError::Engine(format!(
                    "the embedded ClickHouse engine did not answer /ping in time; end of {}:\n{}",
                    self.log_path().display(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status once the engine has exited (the process is then reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn start_failure(&mut self, python: &Path, status: ExitStatus) -> OlapError {
        self.child = None;
        self.stdin = None;
        let tail = self.log_tail();
        let reason = match status.code() {
            Some(EXIT_NO_CHDB) => format!(
                "chdb-core is not installed for {}: install {} into it (pip install --no-deps -r), \
                 or leave [clickhouse] python unset and moose installs it",
                python.display(),
                self.dir.join("engine-requirements.txt").display()
            ),
            Some(EXIT_ENGINE) => format!(
                "the engine could not open {} (is another host running on this app?)",
                self.data_dir().display()
            ),
            Some(EXIT_BIND) => "the engine could not listen on its port".to_string(),
            _ => format!(
                "the engine exited ({status}); if {} lacks chdb-core {CHDB_VERSION}, install it",
                python.display()
            ),
        };
        OlapError::Engine(format!(
            "the embedded ClickHouse engine failed to start: {reason}; end of {}:\n{tail}",
            self.log_path().display()
        ))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the engine serves on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chDB data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The engine's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The engine's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The engine process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// The last lines of the engine's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read(self.log_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the engine gracefully (it finishes running queries), killing it if it has not
    /// stopped within the stop timeout.
    pub async fn shutdown(mut self) -> Result<(), OlapError> {
        tokio::task::spawn_blocking(move || self.stop())
            .await
            .map_err(|e| OlapError::Engine(format!("stopping the embedded engine failed: {e}")))?
    }

    /// Blocking form of [`EmbeddedClickHouse::shutdown`]; does nothing once stopped.
    pub fn stop(&mut self) -> Result<(), OlapError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // End of file on its standard input tells the server to stop.
        drop(self.stdin.take());
        let deadline = Instant::now() + self.options.stop_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = fs::remove_file(self.dir.join("server.port"));
                    return Err(OlapError::Engine(format!(
                        "the embedded ClickHouse engine did not stop within {:?} and was killed",
                        self.options.stop_timeout
                    )));
                }
            }
        }
        let _ = fs::remove_file(self.dir.join("server.port"));
        tracing::info!("embedded ClickHouse engine stopped");
        Ok(())
    }
}

impl EmbeddedClickHouse {
    /// Forgets an exited process (reaped) or kills a running one, without a log line.
    fn stop_quietly(&mut self) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EmbeddedClickHouse {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!("{error}");
        }
    }
}

/// Writes `text` to `path` unless it already holds it (by rename, never in place).
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if fs::read(path).is_ok_and(|current| current == text.as_bytes()) {
        return Ok(());
    }
    let temporary = path.with_extension("py.tmp");
    fs::write(&temporary, text)?;
    fs::rename(&temporary, path)
}

/// The port in the server's port file.
fn read_port(port_file: &Path) -> Option<u16> {
    fs::read_to_string(port_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

/// `GET /ping` answers `Ok.`.
fn ping(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    if stream.take(64 * 1024).read_to_end(&mut response).is_err() {
        return false;
    }
    response.starts_with(b"HTTP/1.1 200") && response.ends_with(b"Ok.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_requirements_pin_the_chdb_release_the_server_is_written_for() {
        assert!(ENGINE_REQUIREMENTS
            .lines()
            .any(|line| line == format!("chdb-core=={CHDB_VERSION}")));
    }
}
