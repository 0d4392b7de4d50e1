//! What the host tells about itself: counters and gauges ([`metrics`], rendered by
//! `/metrics`), throughput per stage ([`rate`]), typed events that count and log together ([`events`]) and its recent log lines ([`logbuf`], served
//! by `/logs`). A leaf: every stage records here, nothing here knows the stages.

pub mod events;
pub mod logbuf;
pub mod metrics;
pub mod rate;
