//! The host's recent log lines, kept in memory for `GET /logs`: a `tracing` layer that
//! formats every event it sees into a ring buffer bounded in lines and bytes; a line longer
//! than [`MAX_LINE_BYTES`] is cut.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// How many lines the buffer keeps; older ones are dropped.
pub const CAPACITY: usize = 1000;
/// Most bytes of one kept line: room for a guest line at its own limit and its context.
pub const MAX_LINE_BYTES: usize = 16 << 10;
/// Most bytes of all kept lines; older ones are dropped to stay below.
pub const MAX_BYTES: usize = 2 << 20;

/// The kept lines and their total size.
#[derive(Default)]
struct Buffer {
    lines: VecDeque<String>,
    bytes: usize,
}

static LINES: LazyLock<Mutex<Buffer>> = LazyLock::new(Default::default);

/// The layer that feeds the buffer; add it where the subscriber is set up.
pub fn layer() -> LogBuffer {
    LogBuffer
}

/// The last `n` lines, oldest first.
pub fn tail(n: usize) -> Vec<String> {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).tail(n)
}

fn push(line: String) {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
}

impl Buffer {
    fn tail(&self, n: usize) -> Vec<String> {
        let lines = &self.lines;
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    fn push(&mut self, mut line: String) {
        if line.len() > MAX_LINE_BYTES {
            let mut end = MAX_LINE_BYTES;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let cut = line.len() - end;
            line.truncate(end);
            let _ = write!(line, " [{cut} more bytes cut]");
        }
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > CAPACITY || self.bytes > MAX_BYTES {
            match self.lines.pop_front() {
                Some(old) => self.bytes -= old.len(),
                None => break,
            }
        }
    }
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

    #[test]
    fn cuts_long_lines_and_bounds_the_bytes_kept() {
        let mut buffer = super::Buffer::default();
        let long = "x".repeat(super::MAX_LINE_BYTES * 3);
        for _ in 0..super::CAPACITY {
            buffer.push(long.clone());
        }
        let lines = buffer.tail(super::CAPACITY);
        let bytes: usize = lines.iter().map(String::len).sum();
        assert!(bytes <= super::MAX_BYTES, "{bytes} bytes kept");
        assert!(lines.len() >= super::MAX_BYTES / (super::MAX_LINE_BYTES + 64));
        let last = lines.last().expect("a line");
        assert!(last.ends_with(&format!(" [{} more bytes cut]", super::MAX_LINE_BYTES * 2)));
    }
}
