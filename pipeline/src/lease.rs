//! Named leases in ClickHouse: mutual exclusion between the replicas of an app. The
//! migration lock ([`MigrationLock`], lease [`MIGRATION_LEASE`]) lets exactly one replica
//! apply the reviewed migration plan; each windowed aggregation has a lease
//! `window:<name>` whose holder alone runs it (see [`crate::windows`]).
//!
//! # Why a lease in ClickHouse
//!
//! The leases guard the ClickHouse schema, its applied state (`_moose_state`) and the
//! window state (`_moose_window_state`), so they live in the same database: every replica
//! that can migrate can take them, nothing else must be reachable, and their history sits
//! next to the state they protect. (A broker-side lock, e.g. a single-partition consumer
//! group, would tie them to the broker's rebalance timing and leave no record.)
//!
//! # Protocol
//!
//! Table [`LEASE_TABLE`] holds events, one row each: `claim`, `renew`, `withdraw` and
//! `release`, for one attempt (`claim`, a fresh id per attempt) of one replica on one
//! lease (`lease`, its name), stamped with the **server's** clock (`now64(6)`, or `now()`
//! on servers without `DateTime64`, so replicas' clocks never matter) and carrying an
//! expiry.
//!
//! 1. Wait until no attempt on the lease is live (claimed, neither withdrawn nor
//!    released, not expired).
//! 2. Insert a `claim` row; its time is set by the server when the insert runs.
//! 3. Wait the settle delay: any claim stamped before ours has become visible by then
//!    (the delay bounds how long an insert takes to become readable).
//! 4. Read the live claims back, ordered by claim time and id. We hold the lease when
//!    ours is first **and strictly earlier** than every other. Otherwise we withdraw and
//!    go back to 1. A claim that was not visible at our read-back was stamped after our
//!    claim time (step 3), so it can never come first; two claims stamped at the same
//!    time both withdraw (the order cannot tell them apart on every reader).
//!
//! While held, the lease is renewed every quarter of its length; a renewal only counts
//! while the claim is still live (the insert is conditional on it, so an expired claim is
//! never revived) and still first. A replica that dies holding it (kill -9, lost machine)
//! stops renewing and the lease expires, so the others take over after at most one lease
//! length. The holder considers the lease **lost** ([`Lease::lost`]) as soon as a renewal
//! finds another holder, or when no renewal has succeeded for two thirds of the lease
//! (counted from before the last successful renewal was sent): it then has at least a
//! third of the lease, plus the next claimer's settle delay, to stop what the lease
//! guards before anyone else can hold it. [`Lease::release`] records an outcome in the
//! `release` row (the migration lock's: `applied ...`, `already applied ...`), which
//! keeps a readable history.
//!
//! The guarantee assumes an insert becomes readable within the settle delay and a
//! holder stops within a third of the lease once it is lost; on a cluster the table is
//! replicated and events are inserted with `insert_distributed_sync = 1`.

use std::time::Duration;

use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use moose_olap::compat::TypeFeature;
use moose_olap::ddl::{self, quote_string, Target};
use moose_olap::{OlapClient, OlapError};

/// The table of lease events, in the app's database.
pub const LEASE_TABLE: &str = "_moose_leases";

/// The name of the migration lock's lease.
pub const MIGRATION_LEASE: &str = "migration";

/// Timing of a lease.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// How long a claim lives without renewal.
    pub lease: Duration,
    /// How long a claimer waits before reading the claims back.
    pub settle: Duration,
    /// How often a waiting replica looks at the lease again.
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

/// A held lease; [`Lease::release`] gives it up, dropping it lets it expire.
pub struct Lease {
    table: Table,
    claim: String,
    renewal: JoinHandle<()>,
    stop_renewal: CancellationToken,
    lost: CancellationToken,
}

/// The held migration lock (lease [`MIGRATION_LEASE`]).
pub struct MigrationLock(Lease);

/// One live claim as read back.
#[derive(Debug, Deserialize)]
struct LiveClaim {
    claim: String,
    replica: String,
    claimed_at: String,
}

/// One lease's rows on one server, and the server-time expression it uses.
#[derive(Clone)]
struct Table {
    client: OlapClient,
    target: Target,
    lease: String,
    replica: String,
    now: &'static str,
}

impl MigrationLock {
    /// Waits until this replica (`replica` names it in the table and the logs) holds the
    /// migration lock of `client`'s database; creates the database and the table if
    /// needed.
    pub async fn acquire(
        client: &OlapClient,
        replica: &str,
        options: &LockOptions,
    ) -> Result<Self, OlapError> {
        Lease::acquire(client, MIGRATION_LEASE, replica, options)
            .await
            .map(Self)
    }

    /// Gives the lock up, recording `outcome` (what the holder did) with the release.
    pub async fn release(self, outcome: &str) -> Result<(), OlapError> {
        self.0.release(outcome).await
    }
}

impl Lease {
    /// Waits until this replica (`replica` names it in the table and the logs) holds
    /// lease `name` of `client`'s database; creates the database and the table if needed.
    pub async fn acquire(
        client: &OlapClient,
        name: &str,
        replica: &str,
        options: &LockOptions,
    ) -> Result<Self, OlapError> {
        let table = Table::open(client, name, replica).await?;
        let mut waited_for = None;
        loop {
            let live = table.live().await?;
            if let Some(holder) = live.first() {
                if waited_for.as_deref() != Some(holder.claim.as_str()) {
                    tracing::info!(
                        lease = name,
                        holder = %holder.replica,
                        since = %holder.claimed_at,
                        "waiting for lease `{name}`"
                    );
                    waited_for = Some(holder.claim.clone());
                }
                tokio::time::sleep(jitter(options.poll)).await;
                continue;
            }
            let claim = format!("{replica}-{}", hex::encode(random_bytes::<8>()));
            let claimed = Instant::now();
            table.event(&claim, "claim", options.lease, "").await?;
            tokio::time::sleep(options.settle).await;
            let live = table.live().await?;
            let first = live.first().filter(|c| c.claim == claim);
            let alone = live.get(1).is_none_or(|second| {
                first.is_some_and(|first| second.claimed_at > first.claimed_at)
            });
            if first.is_some() && alone {
                tracing::info!(lease = name, replica, claim = %claim, "took lease `{name}`");
                let stop_renewal = CancellationToken::new();
                let lost = CancellationToken::new();
                let renewal = tokio::spawn(renew(
                    table.clone(),
                    claim.clone(),
                    options.lease,
                    claimed,
                    stop_renewal.clone(),
                    lost.clone(),
                ));
                return Ok(Self {
                    table,
                    claim,
                    renewal,
                    stop_renewal,
                    lost,
                });
            }
            table.event(&claim, "withdraw", Duration::ZERO, "").await?;
            tokio::time::sleep(jitter(options.poll)).await;
        }
    }

    /// Cancelled once the lease is lost: another holder appeared, or renewals failed
    /// for two thirds of the lease. What it guards must stop then.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Gives the lease up, recording `outcome` (what the holder did) with the release.
    pub async fn release(mut self, outcome: &str) -> Result<(), OlapError> {
        self.stop_renewal.cancel();
        let _ = (&mut self.renewal).await;
        self.table
            .event(&self.claim, "release", Duration::ZERO, outcome)
            .await?;
        tracing::info!(lease = %self.table.lease, replica = %self.table.replica, outcome, "released lease `{}`", self.table.lease);
        Ok(())
    }
}

impl Drop for Lease {
    /// A lease dropped without [`Lease::release`] stops being renewed and expires
    /// after its length, as if its holder had died.
    fn drop(&mut self) {
        self.stop_renewal.cancel();
    }
}

impl Table {
    async fn open(client: &OlapClient, lease: &str, replica: &str) -> Result<Self, OlapError> {
        let version = client.server_info().await?.version;
        let (time, now) = if TypeFeature::DateTime64.available(version) {
            ("DateTime64(6)", "now64(6)")
        } else {
            ("DateTime", "now()")
        };
        let columns = [
            ("lease", "String"),
            ("claim", "String"),
            ("replica", "String"),
            ("event", "String"),
            ("at", time),
            ("expires_at", time),
            ("note", "String"),
        ];
        let target = ddl::ensure_host_table(client, LEASE_TABLE, &columns, "at").await?;
        Ok(Self {
            client: client.clone(),
            target,
            lease: lease.to_string(),
            replica: replica.to_string(),
            now,
        })
    }

    fn qualified(&self) -> String {
        ddl::qualified(&self.target.database, LEASE_TABLE)
    }

    /// Records `event` of attempt `claim`, expiring `lease` after the server's now; with
    /// `only_live`, only while the claim is live (a renewal never revives a claim).
    async fn insert(
        &self,
        claim: &str,
        event: &str,
        lease: Duration,
        note: &str,
        only_live: bool,
    ) -> Result<(), OlapError> {
        let settings = if self.target.cluster.is_some() {
            " SETTINGS insert_distributed_sync = 1"
        } else {
            ""
        };
        let now = self.now;
        let table = self.qualified();
        let condition = if only_live {
            format!(
                " FROM (SELECT max(expires_at) AS expires, countIf(event IN ('withdraw', 'release')) AS ended \
                 FROM {table} WHERE lease = {} AND claim = {}) WHERE expires > {now} AND ended = 0",
                quote_string(&self.lease),
                quote_string(claim),
            )
        } else {
            String::new()
        };
        self.client
            .execute(&format!(
                "INSERT INTO {table}{settings} (lease, claim, replica, event, at, expires_at, note) \
                 SELECT {}, {}, {}, {}, {now}, addMilliseconds({now}, {}), {}{condition}",
                quote_string(&self.lease),
                quote_string(claim),
                quote_string(&self.replica),
                quote_string(event),
                lease.as_millis(),
                quote_string(note),
            ))
            .await
    }

    /// Records `event` of attempt `claim`, expiring `lease` after the server's now.
    async fn event(
        &self,
        claim: &str,
        event: &str,
        lease: Duration,
        note: &str,
    ) -> Result<(), OlapError> {
        self.insert(claim, event, lease, note, false).await
    }

    /// The live claims, earliest first (ties by claim id, so every reader agrees).
    async fn live(&self) -> Result<Vec<LiveClaim>, OlapError> {
        let now = self.now;
        let sql = format!(
            "SELECT claim, any(replica) AS replica, minIf(at, event = 'claim') AS claimed, \
             toString(claimed) AS claimed_at \
             FROM {} WHERE lease = {} GROUP BY claim \
             HAVING countIf(event = 'claim') > 0 AND countIf(event IN ('withdraw', 'release')) = 0 \
             AND max(expires_at) > {now} \
             ORDER BY claimed, claim",
            self.qualified(),
            quote_string(&self.lease),
        );
        let bytes = self.client.fetch_bytes(&sql, "JSONEachRow", &[]).await?;
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line).map_err(|e| {
                    OlapError::Schema(format!("a row of `{LEASE_TABLE}` is unreadable: {e}"))
                })
            })
            .collect()
    }
}

/// Renews the lease of `claim` (taken at `claimed`) every quarter of `lease` until
/// stopped; cancels `lost` when another claim comes first or when no renewal succeeded
/// for two thirds of the lease.
async fn renew(
    table: Table,
    claim: String,
    lease: Duration,
    claimed: Instant,
    stop: CancellationToken,
    lost: CancellationToken,
) {
    let lost_after = lease - lease / 3;
    let mut valid_from = claimed;
    loop {
        let deadline = valid_from + lost_after;
        let next = (Instant::now() + lease / 4).min(deadline);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        if Instant::now() >= deadline {
            tracing::warn!(lease = %table.lease, "lease `{}` lost: not renewed for {lost_after:?}", table.lease);
            lost.cancel();
            return;
        }
        let sent = Instant::now();
        let renewed = async {
            table.insert(&claim, "renew", lease, "", true).await?;
            table.live().await
        };
        match renewed.await {
            Ok(live) if live.first().is_some_and(|c| c.claim == claim) => valid_from = sent,
            Ok(live) => {
                let holder = live.first().map_or("nobody", |c| c.replica.as_str());
                tracing::warn!(lease = %table.lease, "lease `{}` lost: its claim expired (first now: {holder})", table.lease);
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(lease = %table.lease, "renewing lease `{}` failed (retrying): {e}", table.lease)
            }
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
