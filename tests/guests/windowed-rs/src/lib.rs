//! Windowed aggregations in Rust: orders per customer per 60 s tumbling window (count,
//! sum, min and max of the amount) and per 120 s window every 60 s, the same app as
//! tests/guests/windowed-ts and tests/guests/windowed-py. Late and rejected orders go to
//! the dead-letter stream `customer_totals_dead_letter`.

use std::collections::BTreeMap;
use std::time::Duration;

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
pub struct Order {
    #[moose(key)]
    pub id: String,
    pub customer: String,
    pub amount: f64,
    #[moose(datetime64 = 3)]
    pub ts: DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
pub struct CustomerWindow {
    #[moose(key)]
    pub customer: String,
    #[moose(key, datetime64 = 3)]
    pub window_start: DateTime,
    #[moose(datetime64 = 3)]
    pub window_end: DateTime,
    pub orders: u64,
    pub amount_sum: f64,
    pub amount_min: f64,
    pub amount_max: f64,
}

/// Count, sum, min and max of one customer's amounts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Totals {
    orders: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Totals {
    fn combine(self, other: Totals) -> Totals {
        Totals {
            orders: self.orders + other.orders,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

/// Totals per customer in one window.
pub struct CustomerTotals;

impl WindowAggregator for CustomerTotals {
    type Input = Order;
    type State = BTreeMap<String, Totals>;
    type Output = CustomerWindow;

    fn init(&self, _window: &WindowBounds) -> Self::State {
        BTreeMap::new()
    }

    fn accumulate(&self, state: &mut Self::State, order: Order) -> Result<(), String> {
        if !order.amount.is_finite() || order.amount < 0.0 {
            return Err(format!(
                "order {}: negative amount {}",
                order.id, order.amount
            ));
        }
        let one = Totals {
            orders: 1,
            sum: order.amount,
            min: order.amount,
            max: order.amount,
        };
        let totals = state.get(&order.customer).map_or(one, |t| t.combine(one));
        state.insert(order.customer, totals);
        Ok(())
    }

    fn merge(&self, mut a: Self::State, b: Self::State) -> Self::State {
        for (customer, totals) in b {
            let merged = a.get(&customer).map_or(totals, |t| t.combine(totals));
            a.insert(customer, merged);
        }
        a
    }

    fn emit(&self, window: &WindowBounds, state: Self::State) -> Vec<CustomerWindow> {
        state
            .into_iter()
            .map(|(customer, t)| CustomerWindow {
                customer,
                window_start: window.start(),
                window_end: window.end(),
                orders: t.orders,
                amount_sum: t.sum,
                amount_min: t.min,
                amount_max: t.max,
            })
            .collect()
    }
}

pub fn app() -> App {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    let dead_letter = DeadLetterQueue::named("customer_totals_dead_letter");
    let lateness = Duration::from_secs(30);
    let minute = Duration::from_secs(60);
    app.windowed_aggregation(
        "customer_totals_1m",
        &orders.stream,
        "ts",
        Window::tumbling(minute).allowed_lateness(lateness),
        TableConfig::default(),
        CustomerTotals,
    )
    .dead_letter(&dead_letter);
    app.windowed_aggregation(
        "customer_totals_2m",
        &orders.stream,
        "ts",
        Window::hopping(2 * minute, minute).allowed_lateness(lateness),
        TableConfig::default(),
        CustomerTotals,
    )
    .dead_letter(&dead_letter);
    app
}

export_app!(app);
