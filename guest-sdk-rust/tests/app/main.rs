//! `App` declarations, `describe`, `process` and `handle_api` on a sample app.

use moose_guest::defs::{
    AggregationDef, ApiParam, DataType, FunctionDef, IngestDef, Projection, Replacing, ScalarType,
    StreamDef, TableDef, TableEngine, TableIndex, TableOptions, TypeWrapper, ViewDef,
};
use moose_guest::process::{Batch, GuestError, RecordError};
use moose_guest::query::native;
use moose_guest::{
    ApiError, ApiParams, App, Date, DateTime, DeadLetterQueue, Model, NoParams, PipelineConfig,
    Query, QueryError, StreamConfig, TableConfig,
};
use serde::{Deserialize, Serialize};

mod api;
mod declare;
mod describe;
mod process;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Order {
    #[moose(key)]
    id: String,
    customer: String,
    amount: f64,
    ts: DateTime,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Item {
    sku: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Line {
    #[moose(key)]
    order_id: String,
    sku: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Total {
    #[moose(key)]
    day: Date,
    revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Big {
    id: String,
}

/// One line per item; orders without items are dropped.
fn explode(order: Order) -> Vec<Line> {
    order
        .items
        .into_iter()
        .map(|item| Line {
            order_id: order.id.clone(),
            sku: item.sku,
            qty: item.qty,
        })
        .collect()
}

fn only_big(order: Order) -> Result<Option<Big>, String> {
    if order.amount < 0.0 {
        return Err(format!("negative amount {}", order.amount));
    }
    Ok((order.amount >= 100.0).then_some(Big { id: order.id }))
}

fn audit(order: Order) -> Result<(), String> {
    if order.customer.is_empty() {
        Err("no customer".to_owned())
    } else {
        Ok(())
    }
}

#[derive(Debug, Deserialize, ApiParams)]
struct TotalsParams {
    /// First day.
    from: Option<Date>,
    #[moose(default = "10", min = 1, max = 100)]
    limit: u32,
    #[serde(rename = "minRevenue")]
    #[moose(min = 0)]
    min_revenue: Option<f64>,
    customer: String,
    #[moose(default = false)]
    verbose: bool,
}

fn totals(params: TotalsParams) -> Result<Vec<Total>, ApiError> {
    if params.customer == "nobody" {
        return Err(ApiError::not_found("no such customer"));
    }
    if params.verbose {
        moose_guest::log::info(format!("totals for {}", params.customer));
    }
    let rows = Query::new(
        "SELECT day, revenue FROM Totals WHERE customer = {customer:String} \
         AND ({from:Nullable(Date)} IS NULL OR day >= {from:Nullable(Date)}) LIMIT {limit:UInt32}",
    )
    .bind("customer", &params.customer)
    .bind("from", params.from)
    .bind("limit", params.limit)
    .fetch::<Total>()?;
    let min = params.min_revenue.unwrap_or(f64::MIN);
    Ok(rows.into_iter().filter(|r| r.revenue >= min).collect())
}

/// Version 2 of `Big`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Big", version = "2.0")]
struct BigV2 {
    id: String,
    score: f64,
}

fn ping_v2(_: NoParams) -> Result<Vec<BigV2>, ApiError> {
    Ok(vec![BigV2 {
        id: "pong".to_owned(),
        score: 2.0,
    }])
}

fn ping(_: NoParams) -> Result<Vec<Big>, ApiError> {
    Ok(vec![Big {
        id: "pong".to_owned(),
    }])
}

fn sample_app() -> App {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    let lines = app.stream_pipeline::<Line>(
        "Line",
        PipelineConfig::default().with_table(
            TableConfig::new(TableEngine::replacing())
                .order_by(["order_id", "sku"])
                .primary_key(["order_id"])
                .setting("index_granularity", "1024")
                .index("sku_set", "sku", "set(100)", 2)
                .projection("by_sku", "SELECT * ORDER BY sku"),
        ),
    );
    let big = app.ingest_pipeline::<Big>(
        "Big",
        PipelineConfig::default()
            .without_table()
            .without_dead_letter()
            .without_ingest()
            .with_stream(StreamConfig {
                partitions: 4,
                retention_hours: Some(24),
            }),
    );
    let failures = DeadLetterQueue::named("failures");
    app.transform("explode", &orders.stream, &lines.stream, explode);
    app.transform("only_big", &orders.stream, &big.stream, only_big)
        .dead_letter(&failures);
    app.consumer("audit", &orders.stream, audit)
        .without_dead_letter();
    app.aggregation::<Total>(
        "Totals",
        "SELECT toDate(ts) AS day, sum(amount) AS revenue FROM Order GROUP BY day",
        &["Order"],
        TableConfig::new(TableEngine::SummingMergeTree(vec![])).order_by(["day"]),
    );
    app.view(
        "BigOrders",
        "SELECT * FROM Order WHERE amount >= 100",
        &["Order"],
    );
    app.api("totals", totals)
        .version("1.0")
        .doc("Revenue per day.");
    app.api("ping", ping);
    app.api("ping", ping_v2).version("2.0");
    app
}
