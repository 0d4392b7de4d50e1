//! The state store of `moose prod`: window state in ClickHouse, shared by the replicas,
//! so whichever replica holds an aggregation's lease continues where the last holder
//! stopped.
//!
//! Table [`WINDOW_STATE_TABLE`] holds **snapshots**: one row per write, `(aggregation,
//! seq, snapshot)`, the snapshot being everything [`StateStore::load`] returns (the
//! fingerprint, the progress with every partition's next offset, the open windows'
//! states, the closed windows' pending rows) as JSON. Every [`StateStore`] call that
//! changes something writes the next snapshot (`seq + 1`) as **one single-row insert**,
//! which ClickHouse applies atomically: a reader finds the whole batch or none of it,
//! like the embedded store's one write. Reading takes the row with the highest `seq`.
//!
//! Each store keeps the latest snapshot of each aggregation it wrote in memory, and
//! [`StateStore::load`] always reads ClickHouse again (a new holder starts with a load).
//! Every [`CLEANUP_EVERY`]th snapshot of an aggregation deletes its older ones
//! (`ALTER TABLE ... DELETE`, an asynchronous mutation).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::state::{Emission, Progress, Snapshot, StateError, StateStore, Update, WindowKey};
use moose_olap::ddl::{self, quote_ident, quote_string, Target};
use moose_olap::{OlapClient, OlapError};

/// The table of window state snapshots, in the app's database.
pub const WINDOW_STATE_TABLE: &str = "_moose_window_state";

/// Every this many snapshots of an aggregation, the older ones are deleted.
pub const CLEANUP_EVERY: u64 = 100;

/// Window state in ClickHouse (see the module docs). Its calls block: run them off the
/// async runtime, as the window runner does.
pub struct ClickHouseStateStore {
    client: OlapClient,
    target: Target,
    runtime: tokio::runtime::Handle,
    /// Per aggregation, the latest snapshot written or read, and its sequence number.
    latest: Mutex<HashMap<String, (u64, Snapshot)>>,
}

/// A snapshot as stored: byte strings in base64.
#[derive(Serialize, Deserialize)]
struct Stored {
    fingerprint: Option<String>,
    progress: Progress,
    windows: Vec<StoredState>,
    pending: Vec<StoredEmission>,
}

#[derive(Serialize, Deserialize)]
struct StoredState {
    window: WindowKey,
    partition: u32,
    state: String,
}

#[derive(Serialize, Deserialize)]
struct StoredEmission {
    window: WindowKey,
    count: u32,
    rows: String,
}

/// One row as read back.
#[derive(Deserialize)]
struct Row {
    /// `seq` as text (64-bit integers are quoted in JSON).
    seq_text: String,
    snapshot: String,
}

impl From<OlapError> for StateError {
    fn from(e: OlapError) -> Self {
        StateError::Store(e.to_string())
    }
}

fn encode(snapshot: &Snapshot) -> Result<String, StateError> {
    let stored = Stored {
        fingerprint: snapshot.fingerprint.clone(),
        progress: snapshot.progress.clone(),
        windows: snapshot
            .windows
            .iter()
            .flat_map(|(window, states)| {
                states.iter().map(|(partition, state)| StoredState {
                    window: *window,
                    partition: *partition,
                    state: STANDARD.encode(state),
                })
            })
            .collect(),
        pending: snapshot
            .pending
            .iter()
            .map(|(window, emission)| StoredEmission {
                window: *window,
                count: emission.count,
                rows: STANDARD.encode(&emission.rows),
            })
            .collect(),
    };
    serde_json::to_string(&stored).map_err(|e| StateError::Store(e.to_string()))
}

fn decode(aggregation: &str, text: &str) -> Result<Snapshot, StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        aggregation: aggregation.to_string(),
        message,
    };
    let stored: Stored = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let bytes = |text: &str| STANDARD.decode(text).map_err(|e| corrupt(e.to_string()));
    let mut windows: BTreeMap<WindowKey, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    for state in stored.windows {
        windows
            .entry(state.window)
            .or_default()
            .insert(state.partition, bytes(&state.state)?);
    }
    let mut pending = BTreeMap::new();
    for emission in stored.pending {
        pending.insert(
            emission.window,
            Emission {
                rows: bytes(&emission.rows)?,
                count: emission.count,
            },
        );
    }
    Ok(Snapshot {
        fingerprint: stored.fingerprint,
        progress: stored.progress,
        windows,
        pending,
    })
}

impl ClickHouseStateStore {
    /// The store in `client`'s database; creates the database and the table if needed.
    /// Must be called on the runtime whose handle the store's blocking calls use.
    pub async fn open(client: &OlapClient) -> Result<Self, StateError> {
        let columns = [
            ("aggregation", "String"),
            ("seq", "UInt64"),
            ("snapshot", "String"),
        ];
        let target =
            ddl::ensure_host_table(client, WINDOW_STATE_TABLE, &columns, "aggregation").await?;
        Ok(Self {
            client: client.clone(),
            target,
            runtime: tokio::runtime::Handle::current(),
            latest: Mutex::new(HashMap::new()),
        })
    }

    fn latest(&self) -> MutexGuard<'_, HashMap<String, (u64, Snapshot)>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest stored snapshot of `aggregation` and its sequence number (0 and an
    /// empty snapshot when none is stored).
    async fn read(&self, aggregation: &str) -> Result<(u64, Snapshot), StateError> {
        let sql = format!(
            "SELECT toString(seq) AS seq_text, snapshot FROM {} WHERE aggregation = {} \
             ORDER BY seq DESC LIMIT 1",
            ddl::qualified(&self.target.database, WINDOW_STATE_TABLE),
            quote_string(aggregation)
        );
        let bytes = self.client.fetch_bytes(&sql, "JSONEachRow", &[]).await?;
        let Some(line) = bytes.split(|b| *b == b'\n').find(|l| !l.is_empty()) else {
            return Ok((0, Snapshot::default()));
        };
        let corrupt = |message: String| StateError::Corrupt {
            aggregation: aggregation.to_string(),
            message,
        };
        let row: Row = serde_json::from_slice(line).map_err(|e| corrupt(e.to_string()))?;
        let seq = row
            .seq_text
            .parse()
            .map_err(|_| corrupt("bad seq".into()))?;
        Ok((seq, decode(aggregation, &row.snapshot)?))
    }

    /// Inserts snapshot `seq` of `aggregation`: one row, one insert.
    async fn write(
        &self,
        aggregation: &str,
        seq: u64,
        snapshot: &Snapshot,
    ) -> Result<(), StateError> {
        let row = serde_json::json!({
            "aggregation": aggregation,
            "seq": seq,
            "snapshot": encode(snapshot)?,
        });
        let timeout = Some(self.client.config().request_timeout);
        let mut insert = self
            .client
            .inner()
            .insert_formatted_with(format!(
                "INSERT INTO {} FORMAT JSONEachRow",
                quote_ident(WINDOW_STATE_TABLE)
            ))
            .with_timeouts(timeout, timeout);
        if self.target.cluster.is_some() {
            insert = insert.with_setting("insert_distributed_sync", "1");
        }
        let result = match insert.send(bytes::Bytes::from(row.to_string())).await {
            Ok(()) => insert.end().await,
            Err(error) => Err(error),
        };
        result.map_err(|e| StateError::from(self.client.error(e)))
    }

    /// Deletes the snapshots of `aggregation` older than `seq`.
    async fn clean_up(&self, aggregation: &str, seq: u64) -> Result<(), StateError> {
        let (table, on_cluster) = match &self.target.cluster {
            Some(cluster) => (
                ddl::local_table_name(WINDOW_STATE_TABLE),
                format!(" ON CLUSTER {}", quote_ident(cluster)),
            ),
            None => (WINDOW_STATE_TABLE.to_string(), String::new()),
        };
        self.client
            .execute(&format!(
                "ALTER TABLE {}{on_cluster} DELETE WHERE aggregation = {} AND seq < {seq}",
                ddl::qualified(&self.target.database, &table),
                quote_string(aggregation)
            ))
            .await?;
        Ok(())
    }

    /// Writes the next snapshot of `aggregation`: the latest one changed by `change`.
    fn change(
        &self,
        aggregation: &str,
        change: impl FnOnce(&mut Snapshot),
    ) -> Result<(), StateError> {
        let mut latest = self.latest();
        let (seq, mut snapshot) = match latest.get(aggregation) {
            Some((seq, snapshot)) => (*seq, snapshot.clone()),
            None => self.runtime.block_on(self.read(aggregation))?,
        };
        change(&mut snapshot);
        let seq = seq + 1;
        self.runtime
            .block_on(self.write(aggregation, seq, &snapshot))?;
        latest.insert(aggregation.to_string(), (seq, snapshot));
        drop(latest);
        if seq % CLEANUP_EVERY == 0 {
            if let Err(e) = self.runtime.block_on(self.clean_up(aggregation, seq)) {
                tracing::warn!(
                    aggregation,
                    "deleting old window state snapshots failed: {e}"
                );
            }
        }
        Ok(())
    }
}

impl StateStore for ClickHouseStateStore {
    fn load(&self, aggregation: &str) -> Result<Snapshot, StateError> {
        let (seq, snapshot) = self.runtime.block_on(self.read(aggregation))?;
        self.latest()
            .insert(aggregation.to_string(), (seq, snapshot.clone()));
        Ok(snapshot)
    }

    fn commit(
        &self,
        aggregation: &str,
        fingerprint: &str,
        update: &Update,
    ) -> Result<(), StateError> {
        self.change(aggregation, |snapshot| snapshot.apply(fingerprint, update))
    }

    fn emitted(&self, aggregation: &str, windows: &[WindowKey]) -> Result<(), StateError> {
        self.change(aggregation, |snapshot| snapshot.emitted(windows))
    }

    fn reset(&self, aggregation: &str, fingerprint: &str) -> Result<(), StateError> {
        self.change(aggregation, |snapshot| snapshot.reset(fingerprint))
    }
}
