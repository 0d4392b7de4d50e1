//! What moves records between an app's streams and tables, the same under `moose dev` and
//! `moose prod`:
//!
//! - [`functions`]: a runner per streaming function: consume the source stream, call the
//!   component, validate and write its outputs, dead-letter the rest, commit.
//! - [`sync`]: a sync per table: batches of a stream inserted into ClickHouse, refused
//!   rows isolated and dead-lettered, offsets committed after the insert.
//! - [`windows`]: windowed aggregations: the event-time engine, its durable state, the
//!   runner that feeds it.
//! - [`lease`]: named leases in ClickHouse, so one replica runs what must run once.

pub mod functions;
mod guest_call;
pub mod lease;
pub mod sync;
pub mod windows;

pub use guest_call::GuestCallError;

/// What an app lacks that a runner needs (an app that passed validation lacks nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WiringError {
    #[error("stream `{0}` is not declared")]
    UnknownStream(String),
    #[error("model `{0}` is not declared")]
    UnknownModel(String),
    #[error("no component runs windowed aggregation `{0}`")]
    NoComponent(String),
}
