//! The quickstart app: orders are ingested, enriched by a streaming function, rolled up
//! per day and customer by a SQL aggregation, and served by the `revenue` query API.
//!
//! Build: `cargo build --release --target wasm32-wasip2`.

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// An order as posted to `POST /ingest/Order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Order {
    #[moose(key)]
    pub id: String,
    pub customer: String,
    pub amount: f64,
    pub ts: DateTime,
}

/// Order size by amount: below 100 small, below 1000 medium, else large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Model)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Small,
    Medium,
    Large,
}

/// A valid order with derived fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct OrderEnriched {
    #[moose(key)]
    pub id: String,
    pub customer: String,
    pub amount: f64,
    /// `amount * 100`, rounded half away from zero.
    pub amount_cents: i64,
    pub tier: Tier,
    /// UTC date of `ts`.
    pub day: Date,
    pub ts: DateTime,
}

/// Revenue and order count per day and customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct DailyRevenue {
    #[moose(key)]
    pub day: Date,
    #[moose(key)]
    pub customer: String,
    pub revenue: f64,
    pub orders: u64,
}

/// Parameters of `GET /api/revenue`.
#[derive(Debug, Clone, Deserialize, ApiParams)]
pub struct RevenueParams {
    /// Only this customer.
    pub customer: Option<String>,
    /// First day, inclusive.
    pub from: Option<Date>,
    /// Last day, inclusive.
    pub to: Option<Date>,
    /// Maximum number of rows.
    #[moose(default = "100", min = 1, max = 10000)]
    pub limit: u32,
}

/// Drops invalid orders (amount <= 0, or a customer that is empty after trimming) and
/// derives cents, tier and day. Other fields are copied unchanged.
pub fn enrich_order(order: Order) -> Option<OrderEnriched> {
    if order.amount <= 0.0 || order.customer.trim().is_empty() {
        return None;
    }
    let tier = if order.amount < 100.0 {
        Tier::Small
    } else if order.amount < 1000.0 {
        Tier::Medium
    } else {
        Tier::Large
    };
    Some(OrderEnriched {
        amount_cents: (order.amount * 100.0).round() as i64,
        tier,
        day: order.ts.date(),
        id: order.id,
        customer: order.customer,
        amount: order.amount,
        ts: order.ts,
    })
}

const REVENUE_SQL: &str = "SELECT day, customer, sum(revenue) AS revenue, sum(orders) AS orders \
FROM DailyRevenue \
WHERE ({customer:Nullable(String)} IS NULL OR customer = {customer:Nullable(String)}) \
AND ({from:Nullable(Date)} IS NULL OR day >= {from:Nullable(Date)}) \
AND ({to:Nullable(Date)} IS NULL OR day <= {to:Nullable(Date)}) \
GROUP BY day, customer \
ORDER BY day, customer \
LIMIT {limit:UInt32}";

/// Daily revenue, optionally for one customer and a range of days.
pub fn revenue(params: RevenueParams) -> Result<Vec<DailyRevenue>, ApiError> {
    let rows = Query::new(REVENUE_SQL)
        .bind("customer", &params.customer)
        .bind("from", params.from)
        .bind("to", params.to)
        .bind("limit", params.limit)
        .fetch()?;
    Ok(rows)
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    let enriched = app.stream_pipeline::<OrderEnriched>("OrderEnriched", PipelineConfig::default());
    app.transform(
        "enrich_order",
        &orders.stream,
        &enriched.stream,
        enrich_order,
    );
    app.aggregation::<DailyRevenue>(
        "DailyRevenue",
        "SELECT day, customer, sum(amount) AS revenue, count() AS orders \
         FROM OrderEnriched GROUP BY day, customer",
        &["OrderEnriched"],
        TableConfig::new(TableEngine::SummingMergeTree(vec![])).order_by(["day", "customer"]),
    );
    app.api("revenue", revenue);
    app
}

export_app!(app);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use moose_guest::process::Batch;

    #[test]
    fn enrich_drops_invalid_and_derives_fields() {
        let input = Batch::from_lines([
            r#"{"id":"1","customer":"acme","amount":12.345,"ts":"2024-05-01T23:30:00Z"}"#,
            r#"{"id":"2","customer":"   ","amount":10,"ts":"2024-05-01T12:00:00Z"}"#,
            r#"{"id":"3","customer":"acme","amount":0,"ts":"2024-05-01T12:00:00Z"}"#,
            r#"{"id":"4","customer":"beta","amount":999.99,"ts":"2024-05-02T00:00:00+02:00"}"#,
            r#"{"id":"5","customer":"beta","amount":1000,"ts":"2024-05-02T10:00:00Z"}"#,
            r#"{"id":"6","customer":"beta"}"#,
        ]);
        let out = app().process("enrich_order", &input).unwrap();
        assert_eq!(out.sources, vec![0, 3, 4]);
        assert_eq!(
            out.output.lines(),
            vec![
                r#"{"id":"1","customer":"acme","amount":12.345,"amount_cents":1235,"tier":"small","day":"2024-05-01","ts":"2024-05-01T23:30:00Z"}"#,
                r#"{"id":"4","customer":"beta","amount":999.99,"amount_cents":99999,"tier":"medium","day":"2024-05-01","ts":"2024-05-01T22:00:00Z"}"#,
                r#"{"id":"5","customer":"beta","amount":1000.0,"amount_cents":100000,"tier":"large","day":"2024-05-02","ts":"2024-05-02T10:00:00Z"}"#,
            ]
        );
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].index, 5);
    }

    #[test]
    fn describe_has_the_quickstart_parts() {
        let def = app().describe();
        let names = |v: Vec<&str>| v.join(",");
        assert_eq!(
            names(def.models.iter().map(|m| m.name.as_str()).collect()),
            "Order,OrderEnriched,DailyRevenue"
        );
        assert_eq!(
            names(def.streams.iter().map(|s| s.name.as_str()).collect()),
            "Order,OrderEnriched"
        );
        assert_eq!(
            names(def.tables.iter().map(|t| t.name.as_str()).collect()),
            "Order,OrderEnriched"
        );
        assert_eq!(
            def.ingests[0].dead_letter.as_deref(),
            Some("Order_dead_letter")
        );
        assert_eq!(def.functions[0].name, "enrich_order");
        assert_eq!(
            def.functions[0].destination.as_deref(),
            Some("OrderEnriched")
        );
        let target = &def.aggregations[0].target;
        assert_eq!(target.name, "DailyRevenue");
        assert_eq!(target.order_by, vec!["day", "customer"]);
        assert_eq!(
            target.engine,
            moose_guest::TableEngine::SummingMergeTree(vec![])
        );
        let api = &def.apis[0];
        assert_eq!(api.response, "DailyRevenue");
        let params: Vec<_> = api
            .params
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.required,
                    p.default.as_deref(),
                    p.min,
                    p.max,
                )
            })
            .collect();
        assert_eq!(
            params,
            vec![
                ("customer", false, None, None, None),
                ("from", false, None, None, None),
                ("to", false, None, None, None),
                ("limit", false, Some("100"), Some(1.0), Some(10000.0)),
            ]
        );
    }

    #[test]
    fn revenue_binds_every_value() {
        moose_guest::query::native::set_mock(|q| {
            let params: Vec<_> = q.params().collect();
            assert_eq!(
                params,
                vec![
                    ("customer", "acme"),
                    ("from", "2024-05-01"),
                    ("to", "\\N"),
                    ("limit", "100"),
                ]
            );
            Ok(br#"{"day":"2024-05-01","customer":"acme","revenue":12.345,"orders":1}"#.to_vec())
        });
        let response = app()
            .handle_api("revenue", br#"{"customer":"acme","from":"2024-05-01"}"#)
            .unwrap();
        assert_eq!(
            response.body,
            br#"[{"day":"2024-05-01","customer":"acme","revenue":12.345,"orders":1}]"#
        );
        assert!(matches!(
            app().handle_api("revenue", br#"{"limit":0}"#),
            Err(ApiError::BadRequest(_))
        ));
    }
}
