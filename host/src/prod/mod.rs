//! Running from a built artifact against external infrastructure (`moose prod`).
//!
//! - [`artifact`]: the artifact's layout and manifest; loads its components, precompiled
//!   when they fit this host's engine, and assembles the app without building anything.
//! - [`lock`]: named leases: the migration lock that lets exactly one of several replicas
//!   migrate, and the lease of each windowed aggregation.
//! - [`migrate`]: verifies the reviewed plan and applies it under the lock, or refuses
//!   when the database drifted from it.
//! - [`require_external`]: the configuration checks: a ClickHouse URL and Kafka brokers
//!   are required, nothing embedded is ever started.

pub mod artifact;
pub mod migrate;

pub use artifact::{Artifact, ArtifactError, Manifest, ManifestComponent};
pub use migrate::{apply_reviewed_plan, MigrationError, PlanOutcome};

use crate::config::{ProjectConfig, StreamingBackend, BROKERS_ENV};

/// What production needs and the configuration lacks.
#[derive(Debug, thiserror::Error)]
pub enum ConfigMissing {
    #[error(
        "no ClickHouse server: set MOOSE_CLICKHOUSE_URL (or [clickhouse] url); \
         `moose prod` never starts the embedded engine"
    )]
    ClickHouse,
    #[error(
        "no Kafka brokers: set {BROKERS_ENV} (or [streaming] bootstrap_servers); \
         `moose prod` never uses the embedded streams"
    )]
    Kafka,
}

/// Checks that `config` names an external ClickHouse server and Kafka brokers, and
/// switches the streams to Kafka.
pub fn require_external(config: &mut ProjectConfig) -> Result<(), ConfigMissing> {
    let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    if !set(&config.clickhouse.url) {
        return Err(ConfigMissing::ClickHouse);
    }
    if !set(&config.streaming.bootstrap_servers) {
        return Err(ConfigMissing::Kafka);
    }
    config.streaming.backend = StreamingBackend::Kafka;
    Ok(())
}

/// This process's name in the migration lock and its logs: the host name (a container's
/// or pod's) and the process id.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "moose".to_string());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> ProjectConfig {
        toml::from_str(text).expect("valid config")
    }

    #[test]
    fn requires_clickhouse_and_kafka_and_switches_to_kafka() {
        let mut none = config("[app]\nname = \"a\"\n");
        let error = require_external(&mut none).expect_err("no ClickHouse");
        assert!(error.to_string().contains("MOOSE_CLICKHOUSE_URL"));
        let mut no_kafka = config("[app]\nname = \"a\"\n[clickhouse]\nurl = \"http://ch:8123\"\n");
        let error = require_external(&mut no_kafka).expect_err("no brokers");
        assert!(error.to_string().contains("MOOSE_KAFKA_BROKERS"));
        let mut both = config(
            "[app]\nname = \"a\"\n[clickhouse]\nurl = \"http://ch:8123\"\n[streaming]\nbootstrap_servers = \"k:9092\"\n",
        );
        require_external(&mut both).expect("complete");
        assert_eq!(both.streaming.backend, StreamingBackend::Kafka);
    }
}
