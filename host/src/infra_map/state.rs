//! The applied state, stored in ClickHouse itself: table [`STATE_TABLE`] in the app's
//! database gets one row per successful apply (version, time, plan hash, map hash and
//! the map as JSON); the row with the highest version is the applied state.

use serde::Deserialize;

use super::map::InfraMap;
use moose_olap::ddl::{self, quote_string, Target};
use moose_olap::{OlapClient, OlapError};

/// The table of applied states.
pub const STATE_TABLE: &str = "_moose_state";

/// ClickHouse's `UNKNOWN_TABLE` and `UNKNOWN_DATABASE`: nothing was applied yet.
const NOTHING_APPLIED: [i32; 2] = [60, 81];

/// The state recorded by the last successful apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedState {
    pub version: u64,
    /// `YYYY-MM-DD hh:mm:ss`, the server's time zone.
    pub applied_at: String,
    /// Hex SHA-256 of the statements that were run.
    pub plan_hash: String,
    /// [`InfraMap::hash`] of `map` when it was recorded.
    pub map_hash: String,
    pub map: InfraMap,
}

#[derive(Deserialize)]
struct Row {
    version: String,
    applied_at: String,
    plan_hash: String,
    map_hash: String,
    map: String,
}

/// The last recorded state, `None` when nothing was applied yet.
pub async fn read(client: &OlapClient) -> Result<Option<AppliedState>, OlapError> {
    let sql = format!(
        "SELECT toString(version) AS version, toString(applied_at) AS applied_at, plan_hash, \
         map_hash, map FROM {} ORDER BY version DESC LIMIT 1",
        ddl::qualified(client.database(), STATE_TABLE)
    );
    let bytes = match client.fetch_bytes(&sql, "JSONEachRow", &[]).await {
        Ok(bytes) => bytes,
        Err(e) if e.code().is_some_and(|c| NOTHING_APPLIED.contains(&c)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let corrupt = |what: String| {
        OlapError::Schema(format!(
            "the applied state in `{STATE_TABLE}` is unreadable ({what})"
        ))
    };
    let row: Row = serde_json::from_str(line).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(AppliedState {
        version: row
            .version
            .parse()
            .map_err(|_| corrupt(format!("version `{}`", row.version)))?,
        applied_at: row.applied_at,
        plan_hash: row.plan_hash,
        map_hash: row.map_hash,
        map: serde_json::from_str(&row.map).map_err(|e| corrupt(e.to_string()))?,
    }))
}

/// The statements that create [`STATE_TABLE`] on `target`.
pub fn create_state_table(target: &Target) -> Vec<String> {
    ddl::host_table(
        target,
        STATE_TABLE,
        &[
            ("version", "UInt64"),
            ("applied_at", "DateTime"),
            ("plan_hash", "String"),
            ("map_hash", "String"),
            ("map", "String"),
        ],
        "version",
    )
}

/// Records `map` as applied by the statements hashed `plan_hash`, as the version after
/// `previous`; returns the new version.
pub async fn record(
    client: &OlapClient,
    target: &Target,
    previous: Option<&AppliedState>,
    map: &InfraMap,
    plan_hash: &str,
) -> Result<u64, OlapError> {
    for statement in create_state_table(target) {
        client.execute(&statement).await?;
    }
    let version = previous.map_or(1, |p| p.version + 1);
    client
        .execute(&format!(
            "INSERT INTO {} (version, applied_at, plan_hash, map_hash, map) VALUES ({version}, now(), {}, {}, {})",
            ddl::qualified(&target.database, STATE_TABLE),
            quote_string(plan_hash),
            quote_string(&map.hash()),
            quote_string(&map.to_json()),
        ))
        .await?;
    Ok(version)
}
