//! A tansu broker (Kafka-compatible, memory storage) as an outside peer of the Kafka
//! streaming backend; `scripts/setup-kafka.sh` installs it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo_root;

/// A tansu broker on a free local port, killed on drop.
pub struct Tansu {
    child: Child,
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub address: String,
}

impl Tansu {
    /// Installs tansu if needed and starts it; returns once it accepts connections.
    pub fn start() -> Tansu {
        let setup = Command::new(repo_root().join("scripts/setup-kafka.sh"))
            .arg("--print-path")
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/setup-kafka.sh runs");
        assert!(setup.status.success(), "scripts/setup-kafka.sh failed");
        let binary = String::from_utf8(setup.stdout).expect("path");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(binary.trim())
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu does not listen on {address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child, address }
    }

    /// The `moose.config.toml` lines that make an app use this broker.
    pub fn streaming_config(&self) -> String {
        format!(
            "[streaming]\nbackend = \"kafka\"\nbootstrap_servers = \"{}\"\n",
            self.address
        )
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
