//! Streaming function runners: read a batch from the source stream, run the component's
//! `process` on it, check the outputs against the destination model, write outputs and
//! dead letters, and only then commit the batch's offsets.
//!
//! Delivery is at-least-once: a crash between writing outputs and committing makes the
//! batch run again after restart, so its outputs may appear twice; nothing is skipped.
//! A batch whose call traps (or runs out of time or memory) is retried one record at a
//! time, so only the records that fail on their own are dead-lettered.

mod runner;

pub(crate) use runner::json_batch;
pub use runner::{group, Destination, FunctionRunner, RunnerOptions};
