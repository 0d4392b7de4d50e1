//! What a guest writes besides its results: `log` calls and its standard output and error.
//!
//! Every line becomes a host log event (target `guest`, field `component`): `log` at its
//! own level, stdout at INFO, stderr at WARN. Each line is cut to
//! [`LogLimits::max_line_bytes`]; each call may write [`LogLimits::max_lines_per_call`]
//! lines, and the rest of that call's lines are dropped and counted in one WARN line at its
//! end. Nothing a guest writes is kept beyond the current line and the last
//! [`STDERR_TAIL_BYTES`] of its stderr, which explain a trap (a Rust panic's message).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::bindings::LogLevel;

/// How much of a call's stderr is kept to explain a trap.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// Bounds on what one guest call may log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Longest log line, in bytes; longer lines are cut, saying how much was cut.
    pub max_line_bytes: usize,
    /// Most lines one call may log; later lines of the call are dropped and counted.
    pub max_lines_per_call: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: 8 << 10,
            max_lines_per_call: 1000,
        }
    }
}

/// The guest's output channels of one instance, shared by its `log` import and its WASI
/// stdout and stderr.
#[derive(Clone)]
pub struct GuestIo {
    inner: Arc<Mutex<State>>,
}

/// Which WASI stream a write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Stdout,
    Stderr,
}

struct State {
    component: Arc<str>,
    limits: LogLimits,
    lines: u32,
    dropped: u64,
    stdout: Partial,
    stderr: Partial,
    stderr_tail: VecDeque<u8>,
}

/// The unfinished last line of a byte stream: at most `max_line_bytes` of it, and how many
/// bytes past that were cut.
#[derive(Default)]
struct Partial {
    kept: Vec<u8>,
    cut: usize,
}

impl GuestIo {
    pub fn new(component: Arc<str>, limits: LogLimits) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                component,
                limits,
                lines: 0,
                dropped: 0,
                stdout: Partial::default(),
                stderr: Partial::default(),
                stderr_tail: VecDeque::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a call: its line budget is full and the stderr tail is empty.
    pub fn begin_call(&self) {
        let mut state = self.state();
        state.lines = 0;
        state.dropped = 0;
        state.stderr_tail.clear();
    }

    /// Ends a call: unfinished lines are logged and dropped lines counted.
    pub fn end_call(&self) {
        let mut state = self.state();
        for channel in [Channel::Stdout, Channel::Stderr] {
            state.flush(channel);
        }
        if state.dropped > 0 {
            tracing::warn!(
                target: "guest",
                component = &*state.component,
                "{} more log lines of one call were dropped: a call may log at most {} \
                 ([runtime] max_log_lines_per_call)",
                state.dropped,
                state.limits.max_lines_per_call
            );
        }
    }

    /// The last [`STDERR_TAIL_BYTES`] the guest wrote to stderr during this call.
    pub fn stderr_tail(&self) -> String {
        let state = self.state();
        let (a, b) = state.stderr_tail.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// One `log` call of the guest.
    pub fn log(&self, level: LogLevel, message: &str) {
        let mut state = self.state();
        let max = state.limits.max_line_bytes;
        let (kept, cut) = cut_line(message, max);
        state.emit(level, kept, cut);
    }

    /// The guest's stdout, for WASI.
    pub fn stdout(&self) -> impl StdoutStream + 'static {
        Writer {
            io: self.clone(),
            channel: Channel::Stdout,
        }
    }

    /// The guest's stderr, for WASI.
    pub fn stderr(&self) -> impl StdoutStream + 'static {
        Writer {
            io: self.clone(),
            channel: Channel::Stderr,
        }
    }

    fn write(&self, channel: Channel, mut bytes: &[u8]) {
        let mut state = self.state();
        if channel == Channel::Stderr {
            let tail = &mut state.stderr_tail;
            let keep = bytes.len().min(STDERR_TAIL_BYTES);
            tail.extend(&bytes[bytes.len() - keep..]);
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
        while !bytes.is_empty() {
            let line_end = bytes.iter().position(|b| *b == b'\n');
            let piece = &bytes[..line_end.unwrap_or(bytes.len())];
            let max = state.limits.max_line_bytes;
            let partial = state.partial(channel);
            let room = max.saturating_sub(partial.kept.len());
            let taken = piece.len().min(room);
            partial.kept.extend_from_slice(&piece[..taken]);
            partial.cut += piece.len() - taken;
            match line_end {
                Some(end) => {
                    state.flush(channel);
                    bytes = &bytes[end + 1..];
                }
                None => break,
            }
        }
    }
}

impl State {
    fn partial(&mut self, channel: Channel) -> &mut Partial {
        match channel {
            Channel::Stdout => &mut self.stdout,
            Channel::Stderr => &mut self.stderr,
        }
    }

    /// Logs the channel's unfinished line, if any.
    fn flush(&mut self, channel: Channel) {
        let Partial { kept, cut } = std::mem::take(self.partial(channel));
        if kept.is_empty() && cut == 0 {
            return;
        }
        let level = match channel {
            Channel::Stdout => LogLevel::Info,
            Channel::Stderr => LogLevel::Warn,
        };
        let text = String::from_utf8_lossy(&kept);
        self.emit(level, text.trim_end_matches('\r'), cut);
    }

    fn emit(&mut self, level: LogLevel, text: &str, cut: usize) {
        if self.lines >= self.limits.max_lines_per_call {
            self.dropped += 1;
            return;
        }
        self.lines += 1;
        let component = &*self.component;
        let suffix = if cut > 0 {
            format!(" [{cut} more bytes cut: [runtime] max_log_line_bytes]")
        } else {
            String::new()
        };
        match level {
            LogLevel::Trace => tracing::trace!(target: "guest", component, "{text}{suffix}"),
            LogLevel::Debug => tracing::debug!(target: "guest", component, "{text}{suffix}"),
            LogLevel::Info => tracing::info!(target: "guest", component, "{text}{suffix}"),
            LogLevel::Warn => tracing::warn!(target: "guest", component, "{text}{suffix}"),
            LogLevel::Error => tracing::error!(target: "guest", component, "{text}{suffix}"),
        }
    }
}

/// The first `max` bytes of `text` (cut back to a character boundary), and how many bytes
/// were cut.
fn cut_line(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], text.len() - end)
}

/// One WASI output stream of a guest.
#[derive(Clone)]
struct Writer {
    io: GuestIo,
    channel: Channel,
}

impl IsTerminal for Writer {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Writer {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Writer {
    async fn ready(&mut self) {}
}

impl OutputStream for Writer {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.io.write(self.channel, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.io.write(self.channel, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_long_lines_at_a_character_boundary() {
        assert_eq!(cut_line("short", 8), ("short", 0));
        assert_eq!(cut_line("aé", 2), ("a", 2));
        assert_eq!(cut_line("xxxxxxxxxx", 4), ("xxxx", 6));
    }

    #[test]
    fn splits_streams_into_lines_and_keeps_the_stderr_tail() {
        let io = GuestIo::new(
            "c".into(),
            LogLimits {
                max_line_bytes: 4,
                max_lines_per_call: 2,
            },
        );
        io.begin_call();
        io.write(Channel::Stderr, b"first li");
        io.write(Channel::Stderr, b"ne\nsecond\nthird\n");
        {
            let state = io.state();
            assert_eq!(state.lines, 2);
            assert_eq!(state.dropped, 1);
        }
        assert_eq!(io.stderr_tail(), "first line\nsecond\nthird\n");
        io.begin_call();
        assert_eq!(io.stderr_tail(), "");
        let big = vec![b'y'; STDERR_TAIL_BYTES * 2];
        io.write(Channel::Stderr, &big);
        assert_eq!(io.stderr_tail().len(), STDERR_TAIL_BYTES);
        assert_eq!(io.state().stderr.kept.len(), 4, "the open line is cut");
        assert_eq!(io.state().stderr.cut, STDERR_TAIL_BYTES * 2 - 4);
    }
}
