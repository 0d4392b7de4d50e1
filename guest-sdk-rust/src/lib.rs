#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// The derives generate `::moose_guest::...` paths; this makes them work inside the SDK.
extern crate self as moose_guest;

pub mod api;
pub mod app;
#[doc(hidden)]
pub mod bindings;
mod convert;
pub mod defs;
mod export;
pub mod log;
pub mod process;
pub mod query;
pub mod schema;
pub mod types;
pub mod window;

pub use api::{ApiError, ApiParams, ApiResponse, NoParams};
pub use app::{
    ApiOptions, App, DeadLetterQueue, FunctionOptions, Ingest, Pipeline, PipelineConfig, Stream,
    StreamConfig, Table, TableConfig, WindowedAggregationOptions,
};
pub use defs::{Replacing, TableEngine};
pub use process::{Batch, ConsumerOutcome, IntoOutputs};
pub use query::{Identifier, Query, QueryError, QueryValue};
pub use schema::{Model, MooseType};
pub use types::{Date, DateTime, Decimal, Json, Uuid};
pub use window::{Window, WindowAggregator, WindowBounds};

/// `#[derive(Model)]`: a struct becomes a model (implements [`Model`] and [`MooseType`]);
/// a unit enum becomes an enum column type (implements [`MooseType`] and [`QueryValue`]).
pub use moose_guest_macros::Model;

/// `#[derive(ApiParams)]`: a struct becomes the typed parameters of a query API.
pub use moose_guest_macros::ApiParams;

pub use chrono;
pub use rust_decimal;
pub use serde_json;
pub use uuid;

/// Everything a component usually needs: `use moose_guest::prelude::*;`.
pub mod prelude {
    pub use crate::log;
    pub use crate::{
        export_app, ApiError, ApiParams, App, Date, DateTime, DeadLetterQueue, Decimal, Json,
        Model, NoParams, PipelineConfig, Query, QueryError, Stream, StreamConfig, Table,
        TableConfig, TableEngine, Uuid, Window, WindowAggregator, WindowBounds,
    };
}

/// Support for the code `export_app!` and the derives generate; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::exports::moose::app::guest::Guest;
    pub use crate::export::{
        describe, handle_api, process, window_accumulate, window_emit, window_init, window_merge,
    };
    pub use wit_bindgen;

    /// The generated WIT types.
    pub mod wit {
        pub use crate::bindings::moose::app::types::*;
    }
}
