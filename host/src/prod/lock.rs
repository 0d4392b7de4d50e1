//! The migration lock: mutual exclusion between the replicas of an app that start at
//! the same time, so that exactly one of them applies the reviewed migration plan.
//!
//! # Why a lease in ClickHouse
//!
//! The lock guards the ClickHouse schema and its applied state (`_moose_state`), so it
//! lives in the same database: every replica that can migrate can take it, nothing else
//! must be reachable, and the lock's history sits next to the state it protects. (A
//! broker-side lock, e.g. a single-partition consumer group, would tie migrations to the
//! broker's rebalance timing and leave no record.)
//!
//! # Protocol
//!
//! Table [`LOCK_TABLE`] holds events, one row each: `claim`, `renew`, `withdraw` and
//! `release`, for one attempt (`claim`, a fresh id per attempt) of one replica, stamped
//! with the **server's** clock (`now64(6)`, or `now()` on servers without `DateTime64`,
//! so replicas' clocks never matter) and carrying an expiry.
//!
//! 1. Wait until no attempt is live (claimed, neither withdrawn nor released, not
//!    expired).
//! 2. Insert a `claim` row; its time is set by the server when the insert runs.
//! 3. Wait the settle delay: any claim stamped before ours has become visible by then
//!    (the delay bounds how long an insert takes to become readable).
//! 4. Read the live claims back, ordered by claim time and id. We hold the lock when ours
//!    is first **and strictly earlier** than every other. Otherwise we withdraw and go
//!    back to 1. A claim that was not visible at our read-back was stamped after our
//!    claim time (step 3), so it can never come first; two claims stamped at the same
//!    time both withdraw (the order cannot tell them apart on every reader).
//!
//! While held, the lease is renewed every third of its length; a replica that dies
//! holding it (kill -9, lost machine) stops renewing and the lease expires, so the others
//! take over after at most one lease length. [`MigrationLock::release`] records the
//! outcome (`applied ...`, `already applied ...`) in the `release` row, which keeps a
//! readable history of who migrated what.
//!
//! The guarantee assumes an insert becomes readable within the settle delay and a
//! holder finishes (or renews) within the lease; on a cluster the table is replicated
//! and the claim is inserted with `insert_distributed_sync = 1`.

use std::time::Duration;

use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::olap::compat::TypeFeature;
use crate::olap::ddl::{self, quote_string, Target};
use crate::olap::{OlapClient, OlapError};

/// The table of lock events, in the app's database.
pub const LOCK_TABLE: &str = "_moose_migration_lock";

/// Timing of the lock.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// How long a claim lives without renewal.
    pub lease: Duration,
    /// How long a claimer waits before reading the claims back.
    pub settle: Duration,
    /// How often a waiting replica looks at the lock again.
    pub poll: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            settle: Duration::from_secs(1),
            poll: Duration::from_millis(500),
        }
    }
}

/// A held migration lock; [`MigrationLock::release`] gives it up.
pub struct MigrationLock {
    table: Table,
    claim: String,
    renewal: JoinHandle<()>,
    stop_renewal: CancellationToken,
}

/// One live claim as read back.
#[derive(Debug, Deserialize)]
struct LiveClaim {
    claim: String,
    replica: String,
    claimed_at: String,
}

/// The lock table on one server, and the server-time expression it uses.
#[derive(Clone)]
struct Table {
    client: OlapClient,
    target: Target,
    replica: String,
    now: &'static str,
}

impl MigrationLock {
    /// Waits until this replica (`replica` names it in the table and the logs) holds the
    /// lock of `client`'s database; creates the database and the table if needed.
    pub async fn acquire(
        client: &OlapClient,
        replica: &str,
        options: &LockOptions,
    ) -> Result<Self, OlapError> {
        let table = Table::open(client, replica).await?;
        let mut waited_for = None;
        loop {
            let live = table.live().await?;
            if let Some(holder) = live.first() {
                if waited_for.as_deref() != Some(holder.claim.as_str()) {
                    tracing::info!(
                        holder = %holder.replica,
                        since = %holder.claimed_at,
                        "waiting for the migration lock"
                    );
                    waited_for = Some(holder.claim.clone());
                }
                tokio::time::sleep(jitter(options.poll)).await;
                continue;
            }
            let claim = format!("{replica}-{}", hex::encode(random_bytes::<8>()));
            table.event(&claim, "claim", options.lease, "").await?;
            tokio::time::sleep(options.settle).await;
            let live = table.live().await?;
            let first = live.first().filter(|c| c.claim == claim);
            let alone = live.get(1).is_none_or(|second| {
                first.is_some_and(|first| second.claimed_at > first.claimed_at)
            });
            if first.is_some() && alone {
                tracing::info!(replica, claim = %claim, "took the migration lock");
                let stop_renewal = CancellationToken::new();
                let renewal = tokio::spawn(renew(
                    table.clone(),
                    claim.clone(),
                    options.lease,
                    stop_renewal.clone(),
                ));
                return Ok(Self {
                    table,
                    claim,
                    renewal,
                    stop_renewal,
                });
            }
            table.event(&claim, "withdraw", Duration::ZERO, "").await?;
            tokio::time::sleep(jitter(options.poll)).await;
        }
    }

    /// Gives the lock up, recording `outcome` (what the holder did) with the release.
    pub async fn release(mut self, outcome: &str) -> Result<(), OlapError> {
        self.stop_renewal.cancel();
        let _ = (&mut self.renewal).await;
        self.table
            .event(&self.claim, "release", Duration::ZERO, outcome)
            .await?;
        tracing::info!(replica = %self.table.replica, outcome, "released the migration lock");
        Ok(())
    }
}

impl Drop for MigrationLock {
    /// A lock dropped without [`MigrationLock::release`] stops being renewed and expires
    /// after its lease, as if its holder had died.
    fn drop(&mut self) {
        self.stop_renewal.cancel();
    }
}

impl Table {
    async fn open(client: &OlapClient, replica: &str) -> Result<Self, OlapError> {
        let target = client.target().await?;
        let version = client.server_info().await?.version;
        let (time, now) = if TypeFeature::DateTime64.available(version) {
            ("DateTime64(6)", "now64(6)")
        } else {
            ("DateTime", "now()")
        };
        client
            .execute_on_server(&ddl::create_database(&target))
            .await?;
        let columns = [
            ("claim", "String"),
            ("replica", "String"),
            ("event", "String"),
            ("at", time),
            ("expires_at", time),
            ("note", "String"),
        ];
        for statement in ddl::host_table(&target, LOCK_TABLE, &columns, "at") {
            client.execute(&statement).await?;
        }
        Ok(Self {
            client: client.clone(),
            target,
            replica: replica.to_string(),
            now,
        })
    }

    /// Records `event` of attempt `claim`, expiring `lease` after the server's now.
    async fn event(
        &self,
        claim: &str,
        event: &str,
        lease: Duration,
        note: &str,
    ) -> Result<(), OlapError> {
        let settings = if self.target.cluster.is_some() {
            " SETTINGS insert_distributed_sync = 1"
        } else {
            ""
        };
        let now = self.now;
        self.client
            .execute(&format!(
                "INSERT INTO {}{settings} (claim, replica, event, at, expires_at, note) \
                 SELECT {}, {}, {}, {now}, addMilliseconds({now}, {}), {}",
                ddl::qualified(&self.target.database, LOCK_TABLE),
                quote_string(claim),
                quote_string(&self.replica),
                quote_string(event),
                lease.as_millis(),
                quote_string(note),
            ))
            .await
    }

    /// The live claims, earliest first (ties by claim id, so every reader agrees).
    async fn live(&self) -> Result<Vec<LiveClaim>, OlapError> {
        let now = self.now;
        let sql = format!(
            "SELECT claim, any(replica) AS replica, minIf(at, event = 'claim') AS claimed, \
             toString(claimed) AS claimed_at \
             FROM {} GROUP BY claim \
             HAVING countIf(event = 'claim') > 0 AND countIf(event IN ('withdraw', 'release')) = 0 \
             AND max(expires_at) > {now} \
             ORDER BY claimed, claim",
            ddl::qualified(&self.target.database, LOCK_TABLE),
        );
        let bytes = self.client.fetch_bytes(&sql, "JSONEachRow", &[]).await?;
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line).map_err(|e| {
                    OlapError::Schema(format!("a row of `{LOCK_TABLE}` is unreadable: {e}"))
                })
            })
            .collect()
    }
}

/// Renews the lease of `claim` every third of `lease` until stopped.
async fn renew(table: Table, claim: String, lease: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(lease / 3) => {}
        }
        if let Err(e) = table.event(&claim, "renew", lease, "").await {
            tracing::warn!("renewing the migration lock failed (retrying): {e}");
        }
    }
}

/// `base` plus up to half of it again, so waiting replicas do not retry in step.
fn jitter(base: Duration) -> Duration {
    let random = u64::from_le_bytes(random_bytes::<8>());
    base + Duration::from_millis(random % (base.as_millis() as u64 / 2 + 1))
}

/// `N` random bytes; zeros should the system's generator fail (claims stay unique by
/// their replica's name, retries are only less spread out).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    let _ = getrandom::fill(&mut bytes);
    bytes
}
