//! The Rust part of the dau test app: visits are ingested into table `Visit`, and
//! aggregation `DailyUsers` keeps per day, in an `AggregatingMergeTree`, the states of
//! `uniq(user)` and `quantiles(0.5, 0.9)(duration)` beside simple aggregates (`sum` of
//! visits, `max` of the last visit). API `daily_users` merges the states per day.
//! Table `Visit` declares the storage options (partition, primary key, TTL, setting,
//! index, projection, codec, computed columns). The TypeScript (`ts/`) and Python (`py/`) parts declare the
//! same with `Ts` and `Py` suffixes.

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// A visit as posted to `POST /ingest/Visit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Visit {
    #[moose(key)]
    pub id: String,
    pub user: String,
    #[moose(codec = "Delta, ZSTD(1)")]
    pub ts: DateTime,
    /// Seconds on the site.
    pub duration: f64,
}

/// Per day: aggregate states and simple aggregates, merged as parts merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct DailyUsers {
    #[moose(key)]
    pub day: Date,
    /// `uniqState(user)`.
    #[moose(aggregate(uniq, String))]
    pub users: u64,
    /// `quantilesState(0.5, 0.9)(duration)`.
    #[moose(aggregate("quantiles(0.5, 0.9)", f64))]
    pub durations: Vec<f64>,
    #[moose(simple_aggregate = "sum")]
    pub visits: u64,
    #[moose(simple_aggregate = "max")]
    pub last_seen: DateTime,
}

/// One day of `GET /api/daily_users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct DailyActive {
    #[moose(key)]
    pub day: Date,
    pub users: u64,
    pub visits: u64,
    pub last_seen: DateTime,
    /// The 90th percentile of the day's durations.
    pub p90: f64,
}

/// Parameters of `GET /api/daily_users`.
#[derive(Debug, Clone, Deserialize, ApiParams)]
pub struct DailyParams {
    /// First day, inclusive.
    pub from: Option<Date>,
}

/// What `DailyUsers` rolls up per day.
pub const DAILY_USERS_SQL: &str = "SELECT toDate(ts) AS day, uniqState(user) AS users, \
quantilesState(0.5, 0.9)(duration) AS durations, count() AS visits, max(ts) AS last_seen \
FROM Visit GROUP BY day";

const DAILY_ACTIVE_SQL: &str = "SELECT day, uniqMerge(users) AS users, sum(visits) AS visits, \
max(last_seen) AS last_seen, quantilesMerge(0.5, 0.9)(durations)[2] AS p90 \
FROM DailyUsers \
WHERE {from:Nullable(Date)} IS NULL OR day >= {from:Nullable(Date)} \
GROUP BY day ORDER BY day";

/// Distinct users, visits, last visit and 90th percentile duration per day.
pub fn daily_users(params: DailyParams) -> Result<Vec<DailyActive>, ApiError> {
    Ok(Query::new(DAILY_ACTIVE_SQL)
        .bind("from", params.from)
        .fetch()?)
}

/// How the raw visits are stored: by month, for 100 years, with a bloom filter on users,
/// a copy of the rows sorted by user, the day stored beside each visit and its minutes
/// computed when read.
fn visit_table() -> TableConfig {
    TableConfig::new(TableEngine::MergeTree)
        .order_by(["id", "ts"])
        .primary_key(["id"])
        .partition_by("toYYYYMM(ts)")
        .ttl("ts + INTERVAL 100 YEAR")
        .setting("index_granularity", "4096")
        .index("user_bf", "user", "bloom_filter(0.01)", 1)
        .projection("by_user", "SELECT * ORDER BY user")
        .materialized::<Date>("day", "toDate(ts)")
        .alias::<f64>("minutes", "duration / 60")
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    app.ingest_pipeline::<Visit>("Visit", PipelineConfig::default().with_table(visit_table()));
    app.aggregation::<DailyUsers>(
        "DailyUsers",
        DAILY_USERS_SQL,
        &["Visit"],
        TableConfig::new(TableEngine::AggregatingMergeTree),
    );
    app.api("daily_users", daily_users);
    app
}

export_app!(app);
