//! Two versions of the `Order` model running side by side: `Order@1.0` and `Order@1.1`
//! (which adds `currency`). Each version's ingest pipeline has its own route
//! (`POST /ingest/Order/1.0`, `POST /ingest/Order/1.1`), stream and table (`Order_1_0`,
//! `Order_1_1`).

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// The first version of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Order", version = "1.0")]
pub struct OrderV10 {
    #[moose(key)]
    pub id: String,
    pub customer: String,
    pub amount: f64,
}

/// Version 1.1 adds the currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Order", version = "1.1")]
pub struct OrderV11 {
    #[moose(key)]
    pub id: String,
    pub customer: String,
    pub amount: f64,
    pub currency: String,
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    app.ingest_pipeline::<OrderV10>("Order", PipelineConfig::default());
    app.ingest_pipeline::<OrderV11>("Order", PipelineConfig::default());
    app
}

export_app!(app);
