//! The host's recent log lines, kept in memory for `GET /logs`: a `tracing` layer that
//! formats every event it sees into a bounded ring buffer.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// How many lines the buffer keeps; older ones are dropped.
pub const CAPACITY: usize = 1000;

static LINES: LazyLock<Mutex<VecDeque<String>>> =
    LazyLock::new(|| Mutex::new(VecDeque::with_capacity(CAPACITY)));

/// The layer that feeds the buffer; add it where the subscriber is set up.
pub fn layer() -> LogBuffer {
    LogBuffer
}

/// The last `n` lines, oldest first.
pub fn tail(n: usize) -> Vec<String> {
    let lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
    lines
        .iter()
        .skip(lines.len().saturating_sub(n))
        .cloned()
        .collect()
}

fn push(line: String) {
    let mut lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
    if lines.len() == CAPACITY {
        lines.pop_front();
    }
    lines.push_back(line);
}

/// A [`Layer`] that writes `TIME LEVEL target: message key=value...` lines into the buffer.
pub struct LogBuffer;

impl<S: Subscriber> Layer<S> for LogBuffer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = format!(
            "{} {:>5} {}:",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            meta.level(),
            meta.target()
        );
        event.record(&mut LineWriter(&mut line));
        push(line);
    }
}

/// Appends an event's message and fields to a line.
struct LineWriter<'a>(&'a mut String);

impl Visit for LineWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // Writing into a String cannot fail.
        let _ = if field.name() == "message" {
            write!(self.0, " {value:?}")
        } else {
            write!(self.0, " {}={value:?}", field.name())
        };
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = if field.name() == "message" {
            write!(self.0, " {value}")
        } else {
            write!(self.0, " {}={value:?}", field.name())
        };
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn keeps_the_last_lines_in_order() {
        let subscriber = tracing_subscriber::registry().with(super::layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..super::CAPACITY + 5 {
                tracing::warn!(target: "logbuf_test", n = i, "line {i}");
            }
        });
        let lines = super::tail(2);
        assert_eq!(lines.len(), 2);
        let last = format!("line {}", super::CAPACITY + 4);
        assert!(lines[1].contains("WARN logbuf_test: ") && lines[1].contains(&last));
        assert!(lines[1].ends_with(&format!("n={}", super::CAPACITY + 4)));
        assert_eq!(super::tail(super::CAPACITY * 2).len(), super::CAPACITY);
    }
}
