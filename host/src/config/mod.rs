//! An app's project directory and its `moose.config.toml`.
//!
//! Unknown keys are an error, so a misspelt setting never silently falls back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use moose_runtime::{LogLimits, OutputLimits, RuntimeConfig};

pub use moose_olap::embedded::tools_dir;
pub use moose_olap::{ClickHouseCompression, ClickHouseSection};
use moose_streams::kafka::KafkaConfig;
pub use moose_streams::kafka::{KafkaCompression, BROKERS_ENV};
use moose_streams::StreamError;

/// Name of the config file at the root of every app.
pub const CONFIG_FILE: &str = "moose.config.toml";

/// Why a project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{} has no {CONFIG_FILE}; create an app with `moose init`", dir.display())]
    Missing { dir: PathBuf },
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The contents of `moose.config.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub app: AppSection,
    #[serde(default)]
    pub runtime: RuntimeSection,
    #[serde(default)]
    pub clickhouse: ClickHouseSection,
    #[serde(default)]
    pub http: HttpSection,
    /// `[auth]`: credentials for the HTTP surfaces; absent = open.
    #[serde(default)]
    pub auth: crate::auth::AuthConfig,
    /// `[streaming]`: the streams between ingest, functions and tables.
    #[serde(default)]
    pub streaming: StreamingSection,
}

/// `[http]`: the host's servers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address the servers bind to.
    pub host: String,
    /// Ingest (`/ingest/...`) and query APIs (`/api/...`).
    pub port: u16,
    /// Health, readiness, metrics and catalog.
    pub management_port: u16,
    /// Largest request body accepted by ingest, in bytes.
    pub max_body_bytes: usize,
    /// Most MiB of ingest request bodies held at once; further requests wait for room
    /// before their bodies are read.
    pub max_inflight_body_mb: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 4000,
            management_port: 5001,
            max_body_bytes: 16 << 20,
            max_inflight_body_mb: 256,
        }
    }
}

/// `[streaming]`: which backend keeps the streams, and how Kafka is reached.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StreamingSection {
    pub backend: StreamingBackend,
    /// Kafka brokers, `host:port[,host:port...]`; `MOOSE_KAFKA_BROKERS` overrides it.
    pub bootstrap_servers: Option<String>,
    /// Partitions of a stream that declares none (default 4).
    pub partitions: Option<u32>,
    /// Replication factor of the topics the host creates (Kafka).
    pub replication_factor: u16,
    /// Compression of produced batches (Kafka): `lz4`, `zstd` or `none`.
    pub compression: KafkaCompression,
    /// `[streaming.librdkafka]`: librdkafka properties set verbatim on every Kafka client
    /// (`"security.protocol" = "SASL_SSL"`, `"sasl.mechanism"`, ...), over the host's own.
    pub librdkafka: std::collections::BTreeMap<String, String>,
    /// After this many seconds without records, a windowed aggregation's watermark
    /// advances by the idle time, closing windows of a quiet stream; absent: off.
    pub window_idle_flush_seconds: Option<u64>,
    /// A partition of a windowed aggregation's source without records for this many
    /// seconds, with nothing left to read, no longer holds the watermark back.
    pub window_partition_idle_seconds: u64,
    /// Length of the leases under which `moose prod` runs each windowed aggregation on
    /// one replica: a dead holder's aggregation moves on after at most this long.
    pub lease_seconds: u64,
    /// Most MiB of records each reader of a stream (a function, a table sync, a windowed
    /// aggregation) takes in one batch, plus the record that crosses it; with Kafka also
    /// the most it fetches ahead of its batches.
    pub read_buffer_mb: usize,
}

impl StreamingSection {
    /// [`Self::read_buffer_mb`] in bytes.
    pub fn max_poll_bytes(&self) -> usize {
        self.read_buffer_mb.saturating_mul(1 << 20)
    }

    /// The Kafka clients' configuration (where [`BROKERS_ENV`] already replaced the
    /// bootstrap servers, see [`ENV_OVERRIDES`]).
    pub fn kafka(&self) -> Result<KafkaConfig, StreamError> {
        let brokers = self
            .bootstrap_servers
            .clone()
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| {
                StreamError::Backend(format!(
                    "streaming.backend is \"kafka\" but neither streaming.bootstrap_servers nor {BROKERS_ENV} names a broker"
                ))
            })?;
        Ok(KafkaConfig {
            replication_factor: i32::from(self.replication_factor),
            compression: self.compression,
            properties: self.librdkafka.clone(),
            max_poll_bytes: self.max_poll_bytes(),
            ..KafkaConfig::new(brokers)
        })
    }
}

impl Default for StreamingSection {
    fn default() -> Self {
        Self {
            backend: StreamingBackend::Embedded,
            bootstrap_servers: None,
            partitions: None,
            replication_factor: 1,
            compression: KafkaCompression::default(),
            librdkafka: Default::default(),
            window_idle_flush_seconds: None,
            window_partition_idle_seconds: 5,
            lease_seconds: 60,
            read_buffer_mb: moose_streams::DEFAULT_MAX_POLL_BYTES >> 20,
        }
    }
}

/// Where the streams are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamingBackend {
    /// A log in the app's state directory.
    #[default]
    Embedded,
    /// One topic per stream on a Kafka-compatible cluster.
    Kafka,
}

/// `[app]`: what the app is made of.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    pub name: String,
    /// Component source directories, relative to the app root.
    #[serde(default = "default_components")]
    pub components: Vec<PathBuf>,
}

fn default_components() -> Vec<PathBuf> {
    vec![PathBuf::from(".")]
}

/// `[runtime]`: limits applied to every guest call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// Largest linear memory of one instance, in MiB.
    pub memory_limit_mb: u64,
    /// Longest one guest call may run, in milliseconds.
    pub call_timeout_ms: u64,
    /// Most bytes one call may return (a batch's output records, an API response's body,
    /// a window's state), in MiB.
    pub max_output_mb: u64,
    /// Largest output record, in KiB.
    pub max_output_record_kb: u64,
    /// Most output records of one call.
    pub max_output_records: u64,
    /// Longest log line a guest may write (`log`, stdout, stderr); longer lines are cut.
    pub max_log_line_bytes: u64,
    /// Most log lines one call may write; the rest of the call's lines are dropped and
    /// counted in one line.
    pub max_log_lines_per_call: u32,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        let defaults = RuntimeConfig::default();
        Self {
            memory_limit_mb: (defaults.memory_limit >> 20) as u64,
            call_timeout_ms: defaults.call_timeout.as_millis() as u64,
            max_output_mb: (defaults.output.max_bytes >> 20) as u64,
            max_output_record_kb: (defaults.output.max_record_bytes >> 10) as u64,
            max_output_records: defaults.output.max_records as u64,
            max_log_line_bytes: defaults.log.max_line_bytes as u64,
            max_log_lines_per_call: defaults.log.max_lines_per_call,
        }
    }
}

impl RuntimeSection {
    pub fn runtime_config(&self) -> RuntimeConfig {
        let bytes = |n: u64, shift: u32| usize::try_from(n << shift).unwrap_or(usize::MAX);
        RuntimeConfig {
            memory_limit: bytes(self.memory_limit_mb, 20),
            call_timeout: Duration::from_millis(self.call_timeout_ms),
            output: OutputLimits {
                max_bytes: bytes(self.max_output_mb, 20),
                max_record_bytes: bytes(self.max_output_record_kb, 10),
                max_records: bytes(self.max_output_records, 0),
            },
            log: LogLimits {
                max_line_bytes: bytes(self.max_log_line_bytes, 0),
                max_lines_per_call: self.max_log_lines_per_call,
            },
            function_cache: Some(function_cache_dir()),
            dev_runtime_cache: Some(dev_runtime_dir().join("compiled")),
            ..RuntimeConfig::default()
        }
    }
}

/// The machine-wide cache shared by all apps, which anything in it may be rebuilt from:
/// `$XDG_CACHE_HOME/moose`, else `$HOME/.cache/moose`.
pub fn cache_dir() -> PathBuf {
    moose_olap::embedded::user_dir("XDG_CACHE_HOME", ".cache")
}

/// The cargo target directory shared by the Rust apps made by `moose init`, so the
/// dependencies they have in common (the Rust SDK's) compile once per machine. It grows as
/// cargo target directories do; deleting it costs one recompilation.
pub fn cargo_target_dir() -> PathBuf {
    cache_dir().join("cargo-target")
}

/// Compiled functions of components (wasmtime's incremental compilation cache).
pub fn function_cache_dir() -> PathBuf {
    cache_dir().join("functions")
}

/// The development runtimes of the TypeScript and Python SDKs (see
/// [`crate::builder::Profile::Dev`]), one per SDK and WIT version.
pub fn dev_runtime_dir() -> PathBuf {
    cache_dir().join("dev-runtimes")
}

/// Environment variables that override `moose.config.toml` when set and not empty, and
/// what each sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("MOOSE_CLICKHOUSE_URL", "clickhouse.url"),
    ("MOOSE_CLICKHOUSE_USER", "clickhouse.user"),
    ("MOOSE_CLICKHOUSE_PASSWORD", "clickhouse.password"),
    ("MOOSE_CLICKHOUSE_DATABASE", "clickhouse.database"),
    ("MOOSE_CLICKHOUSE_COMPRESSION", "clickhouse.compression"),
    (BROKERS_ENV, "streaming.bootstrap_servers"),
    (
        "MOOSE_KAFKA_SECURITY_PROTOCOL",
        "streaming.librdkafka.\"security.protocol\"",
    ),
    (
        "MOOSE_KAFKA_SASL_MECHANISM",
        "streaming.librdkafka.\"sasl.mechanism\"",
    ),
    (
        "MOOSE_KAFKA_SASL_USERNAME",
        "streaming.librdkafka.\"sasl.username\"",
    ),
    (
        "MOOSE_KAFKA_SASL_PASSWORD",
        "streaming.librdkafka.\"sasl.password\"",
    ),
    (
        "MOOSE_KAFKA_SSL_CA_LOCATION",
        "streaming.librdkafka.\"ssl.ca.location\"",
    ),
    ("MOOSE_HTTP_HOST", "http.host"),
    ("MOOSE_HTTP_PORT", "http.port"),
    ("MOOSE_MANAGEMENT_PORT", "http.management_port"),
    ("MOOSE_LEASE_SECONDS", "streaming.lease_seconds"),
];

/// An environment variable whose value does not fit the setting it overrides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: `{value}` is not {expected}")]
pub struct EnvValueError {
    pub variable: &'static str,
    pub value: String,
    /// What the setting takes, e.g. `a port number`.
    pub expected: &'static str,
}

impl ProjectConfig {
    /// Applies [`ENV_OVERRIDES`]: `lookup` gives a variable's value. Fails naming the
    /// variable whose value does not fit its setting.
    pub fn overlay_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), EnvValueError> {
        for (name, setting) in ENV_OVERRIDES {
            let Some(value) = lookup(name).filter(|v| !v.is_empty()) else {
                continue;
            };
            let invalid = |expected| EnvValueError {
                variable: name,
                value: value.clone(),
                expected,
            };
            let port = || {
                value
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| invalid("a port number"))
            };
            match *setting {
                "clickhouse.url" => self.clickhouse.url = Some(value.clone()),
                "clickhouse.user" => self.clickhouse.user = value.clone(),
                "clickhouse.password" => self.clickhouse.password = value.clone(),
                "clickhouse.database" => self.clickhouse.database = value.clone(),
                "clickhouse.compression" => {
                    self.clickhouse.compression = match value.as_str() {
                        "lz4" => ClickHouseCompression::Lz4,
                        "none" => ClickHouseCompression::None,
                        _ => return Err(invalid("`lz4` or `none`")),
                    }
                }
                "streaming.bootstrap_servers" => {
                    self.streaming.bootstrap_servers = Some(value.clone())
                }
                "http.host" => self.http.host = value.clone(),
                "http.port" => self.http.port = port()?,
                "http.management_port" => self.http.management_port = port()?,
                "streaming.lease_seconds" => {
                    self.streaming.lease_seconds = value
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or_else(|| invalid("a number of seconds"))?
                }
                librdkafka => {
                    let key = librdkafka
                        .trim_start_matches("streaming.librdkafka.")
                        .trim_matches('"');
                    self.streaming
                        .librdkafka
                        .insert(key.to_string(), value.clone());
                }
            }
        }
        Ok(())
    }
}

/// An app directory with its parsed config.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectConfig,
}

impl Project {
    /// Loads the app rooted at `dir`.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        if !path.exists() {
            return Err(ConfigError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Self::parse(&path, &text)?;
        config
            .overlay_env(|name| std::env::var(name).ok())
            .map_err(|error| ConfigError::Invalid {
                path: path.clone(),
                message: error.to_string(),
            })?;
        let root = dir.canonicalize().map_err(|source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self { root, config })
    }

    fn parse(path: &Path, text: &str) -> Result<ProjectConfig, ConfigError> {
        let config: ProjectConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        if config.app.name.trim().is_empty() {
            return Err(invalid("app.name is empty"));
        }
        if config.app.components.is_empty() {
            return Err(invalid("app.components lists no component"));
        }
        let streaming = &config.streaming;
        let zero = [
            ("partitions", streaming.partitions == Some(0)),
            ("replication_factor", streaming.replication_factor == 0),
            ("read_buffer_mb", streaming.read_buffer_mb == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, zero)| *zero) {
            return Err(invalid(&format!("streaming.{name} must be positive")));
        }
        let runtime = &config.runtime;
        let limits = [
            ("memory_limit_mb", runtime.memory_limit_mb),
            ("call_timeout_ms", runtime.call_timeout_ms),
            ("max_output_mb", runtime.max_output_mb),
            ("max_output_record_kb", runtime.max_output_record_kb),
            ("max_output_records", runtime.max_output_records),
            ("max_log_line_bytes", runtime.max_log_line_bytes),
        ];
        if let Some((name, _)) = limits.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(&format!("runtime.{name} must be positive")));
        }
        Ok(config)
    }

    /// Absolute source directories of the app's components.
    pub fn component_dirs(&self) -> Vec<PathBuf> {
        self.config
            .app
            .components
            .iter()
            .map(|dir| self.root.join(dir))
            .collect()
    }

    /// The host's working directory for this app (build output, caches, local data).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".moose")
    }

    /// Where precompiled components are cached.
    pub fn component_cache_dir(&self) -> PathBuf {
        self.state_dir().join("cache").join("components")
    }

    /// Where the app's OpenAPI document is written on every build and start.
    pub fn openapi_file(&self) -> PathBuf {
        self.state_dir().join("openapi.json")
    }

    /// Where `moose build` writes the described app.
    pub fn build_manifest(&self) -> PathBuf {
        self.state_dir().join("build").join("app.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectConfig, ConfigError> {
        Project::parse(Path::new(CONFIG_FILE), text)
    }

    #[test]
    fn fills_defaults() {
        let config = parse("[app]\nname = \"shop\"\n").expect("valid config");
        assert_eq!(config.app.components, vec![PathBuf::from(".")]);
        let runtime = config.runtime.runtime_config();
        assert_eq!(runtime.memory_limit, RuntimeConfig::default().memory_limit);
        assert_eq!(runtime.call_timeout, RuntimeConfig::default().call_timeout);
    }

    #[test]
    fn reads_runtime_limits() {
        let config = parse(
            "[app]\nname = \"shop\"\n[runtime]\nmemory_limit_mb = 64\ncall_timeout_ms = 250\n",
        )
        .expect("valid config");
        let runtime = config.runtime.runtime_config();
        assert_eq!(runtime.memory_limit, 64 << 20);
        assert_eq!(runtime.call_timeout, Duration::from_millis(250));
    }

    #[test]
    fn reads_the_insert_interval() {
        let default = parse("[app]\nname = \"shop\"\n").expect("valid config");
        assert_eq!(default.clickhouse.insert_interval_ms, 200);
        let config = parse("[app]\nname = \"shop\"\n[clickhouse]\ninsert_interval_ms = 0\n")
            .expect("valid config");
        assert_eq!(config.clickhouse.insert_interval_ms, 0);
    }

    #[test]
    fn rejects_unknown_keys_naming_them() {
        let error = parse("[app]\nname = \"shop\"\n[runtime]\nmemory_limit = 64\n")
            .expect_err("unknown key");
        let message = error.to_string();
        assert!(
            message.contains("unknown field `memory_limit`"),
            "{message}"
        );
    }

    #[test]
    fn reads_streaming() {
        let config = parse("[app]\nname = \"shop\"\n").expect("valid config");
        assert_eq!(config.streaming.backend, StreamingBackend::Embedded);
        let config = parse(
            "[app]\nname = \"shop\"\n[streaming]\nbackend = \"kafka\"\nbootstrap_servers = \"b:9092\"\ncompression = \"zstd\"\n[streaming.librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\n",
        )
        .expect("valid config");
        assert_eq!(config.streaming.backend, StreamingBackend::Kafka);
        assert_eq!(
            config.streaming.bootstrap_servers.as_deref(),
            Some("b:9092")
        );
        assert_eq!(
            config
                .streaming
                .librdkafka
                .get("security.protocol")
                .map(String::as_str),
            Some("SASL_SSL")
        );
        assert!(parse("[app]\nname = \"a\"\n[streaming]\nbackend = \"redis\"\n").is_err());
        assert!(parse("[app]\nname = \"a\"\n[streaming]\ncompression = \"snappy\"\n").is_err());
        assert!(parse("[app]\nname = \"a\"\n[streaming]\nbrokers = \"b:9092\"\n").is_err());
    }

    #[test]
    fn reads_the_read_buffer_for_both_backends() {
        let default = parse("[app]\nname = \"shop\"\n").expect("valid config");
        assert_eq!(default.streaming.max_poll_bytes(), 16 << 20);
        let config = parse(
            "[app]\nname = \"shop\"\n[streaming]\nbootstrap_servers = \"b:9092\"\nread_buffer_mb = 2\n",
        )
        .expect("valid config");
        assert_eq!(config.streaming.max_poll_bytes(), 2 << 20);
        let kafka = config.streaming.kafka().expect("kafka config");
        assert_eq!(kafka.max_poll_bytes, 2 << 20);
        let error =
            parse("[app]\nname = \"a\"\n[streaming]\nread_buffer_mb = 0\n").expect_err("zero");
        assert!(
            error
                .to_string()
                .contains("streaming.read_buffer_mb must be positive"),
            "{error}"
        );
    }

    #[test]
    fn environment_wins_over_the_file() {
        let mut config = parse(
            "[app]\nname = \"shop\"\n[clickhouse]\nurl = \"http://file:8123\"\nuser = \"file\"\n[http]\nport = 4000\n",
        )
        .expect("valid config");
        let env: std::collections::HashMap<&str, &str> = [
            ("MOOSE_CLICKHOUSE_URL", "http://env:8123"),
            ("MOOSE_CLICKHOUSE_USER", ""),
            ("MOOSE_CLICKHOUSE_COMPRESSION", "none"),
            ("MOOSE_KAFKA_BROKERS", "b1:9092,b2:9092"),
            ("MOOSE_KAFKA_SASL_PASSWORD", "secret"),
            ("MOOSE_HTTP_PORT", "0"),
            ("MOOSE_LEASE_SECONDS", "6"),
        ]
        .into();
        config
            .overlay_env(|name| env.get(name).map(|v| v.to_string()))
            .expect("valid values");
        assert_eq!(config.clickhouse.url.as_deref(), Some("http://env:8123"));
        assert_eq!(config.clickhouse.user, "file", "empty values are ignored");
        assert_eq!(config.clickhouse.compression, ClickHouseCompression::None);
        assert_eq!(
            config.streaming.bootstrap_servers.as_deref(),
            Some("b1:9092,b2:9092")
        );
        assert_eq!(
            config
                .streaming
                .librdkafka
                .get("sasl.password")
                .map(String::as_str),
            Some("secret")
        );
        assert_eq!(config.http.port, 0);
        assert_eq!(config.streaming.lease_seconds, 6);
        let error = config
            .overlay_env(|name| (name == "MOOSE_LEASE_SECONDS").then(|| "0".to_string()))
            .expect_err("no lease");
        assert_eq!(
            error.to_string(),
            "MOOSE_LEASE_SECONDS: `0` is not a number of seconds"
        );
        let error = config
            .overlay_env(|name| (name == "MOOSE_MANAGEMENT_PORT").then(|| "x".to_string()))
            .expect_err("not a port");
        assert_eq!(
            error.to_string(),
            "MOOSE_MANAGEMENT_PORT: `x` is not a port number"
        );
    }

    #[test]
    fn rejects_empty_name_and_zero_limits() {
        assert!(parse("[app]\nname = \" \"\n").is_err());
        assert!(parse("[app]\nname = \"a\"\n[runtime]\ncall_timeout_ms = 0\n").is_err());
        assert!(parse("[app]\nname = \"a\"\ncomponents = []\n").is_err());
    }
}
