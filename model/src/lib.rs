//! The app a developer declares, as plain data: models and their types, streams, tables,
//! ingest endpoints, functions, aggregations, views and APIs ([`types`]), and the app they
//! make once merged from its components and validated ([`app`]).
//!
//! This crate is the leaf every other part of the host builds on; it knows nothing of
//! WebAssembly, ClickHouse connections or streams.

pub mod app;
pub mod sql;
pub mod types;
