//! The host crate's integration tests, in one binary (one link of wasmtime and librdkafka
//! instead of one per file): each module tests one part against the real thing it talks
//! to.

mod auth;
mod clickhouse_server;
mod kafka;
mod olap;
mod openapi;
mod stream;
mod sync;
