//! Where DDL runs: a database on one server or on a cluster, where each table is a
//! replicated `<name>_local` on every replica behind a `Distributed` table.

use moose_model::sql::{quote_ident, quote_string};

use super::super::compat::{ServerVersion, TypeFeature};
use super::{DdlKind, DdlStatement};

/// Suffix of the replicated table behind a distributed table on a cluster.
pub const LOCAL_TABLE_SUFFIX: &str = "_local";

/// ZooKeeper path of a replicated table; ClickHouse expands the macros on each replica.
pub const REPLICA_PATH: &str = "/clickhouse/tables/{shard}/{database}/{table}";

/// Replica name of a replicated table: the `{replica}` macro of each server.
pub const REPLICA_NAME: &str = "{replica}";

/// Where the schema is created.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The app's database.
    pub database: String,
    /// The cluster every statement runs on, or `None` for a single server.
    pub cluster: Option<String>,
    /// The server's version when known: the host's own dead-letter columns fall back to
    /// `String` and `DateTime` on servers without `LowCardinality` and `DateTime64`.
    /// `None` assumes a current server.
    pub server: Option<ServerVersion>,
}

impl From<&str> for Target {
    /// A single current server.
    fn from(database: &str) -> Self {
        Self {
            database: database.to_string(),
            ..Self::default()
        }
    }
}

impl From<&Target> for Target {
    fn from(target: &Target) -> Self {
        target.clone()
    }
}

impl Target {
    /// ` ON CLUSTER `c`` on a cluster, else nothing.
    pub(super) fn on_cluster(&self) -> String {
        match &self.cluster {
            Some(cluster) => format!(" ON CLUSTER {}", quote_ident(cluster)),
            None => String::new(),
        }
    }

    /// `` `database`.`name` ``.
    pub(super) fn qualified(&self, name: &str) -> String {
        qualified(&self.database, name)
    }

    /// The server stores `feature` (assumed when the version is unknown).
    pub(super) fn stores(&self, feature: TypeFeature) -> bool {
        self.server.is_none_or(|version| feature.available(version))
    }
}

/// `` `database`.`name` ``.
pub fn qualified(database: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(database), quote_ident(name))
}

/// `<name>_local`: the replicated table behind distributed table `name` on a cluster.
pub fn local_table_name(name: &str) -> String {
    format!("{name}{LOCAL_TABLE_SUFFIX}")
}

/// On a cluster, the `Distributed` table `name` over the `<name>_local` tables of the
/// cluster, with their columns, sharded by `cityHash64` of `sharding` (`rand()` when
/// empty); `None` on a single server.
pub fn distributed_table(target: &Target, name: &str, sharding: &[String]) -> Option<DdlStatement> {
    let cluster = target.cluster.as_deref()?;
    let local = local_table_name(name);
    let sharding_key = if sharding.is_empty() {
        "rand()".to_string()
    } else {
        let columns: Vec<String> = sharding.iter().map(|c| quote_ident(c)).collect();
        format!("cityHash64({})", columns.join(", "))
    };
    Some(DdlStatement {
        kind: DdlKind::DistributedTable,
        name: name.to_string(),
        sql: format!(
            "CREATE TABLE IF NOT EXISTS {}{}\nAS {}\nENGINE = Distributed({}, {}, {}, {sharding_key})",
            target.qualified(name),
            target.on_cluster(),
            target.qualified(&local),
            quote_string(cluster),
            quote_string(&target.database),
            quote_string(&local),
        ),
        columns: vec![],
        options: vec![],
    })
}
