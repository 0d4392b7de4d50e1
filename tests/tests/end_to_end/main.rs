//! The end-to-end tests, one binary: the real `moose` binary and host against compiled
//! components, the embedded ClickHouse, Kafka-protocol brokers and outside clients. Each
//! module is one area; the harness they share is the `moose-tests` library (`tests/src`).

mod aggregates;
mod cli;
mod conformance;
mod data;
mod dev;
mod hostile;
mod image;
mod kafka;
mod ops;
mod plan;
mod polyglot;
mod prod;
mod reload;
mod runtime;
mod sdkgen;
mod standalone;
mod windows;
mod windows_polyglot;
