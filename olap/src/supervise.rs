//! Keeps the embedded engine running: a thread watches the child process, reaps it when
//! it exits, reports the store as down, and starts it again with backoff (same port, same
//! data), so table syncs resume from their committed offsets once it answers again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::embedded::EmbeddedClickHouse;
use super::error::OlapError;
use moose_retry::Backoff;

/// How often the engine process is checked.
const CHECK_EVERY: Duration = Duration::from_millis(200);
/// First and longest pause between restart attempts.
const RESTART_BACKOFF: Backoff =
    Backoff::doubling(Duration::from_millis(250), Duration::from_secs(30));

/// Whether the OLAP store is up, as `/ready`, `/health` and the metrics report it.
#[derive(Debug)]
pub struct OlapHealth {
    up: AtomicBool,
    restarts: AtomicU64,
    problem: Mutex<Option<String>>,
}

impl Default for OlapHealth {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
            restarts: AtomicU64::new(0),
            problem: Mutex::new(None),
        }
    }
}

impl OlapHealth {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// How often the embedded engine was started again after it died.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Why the store is down, while it is.
    pub fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn down(&self, problem: String) {
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = Some(problem);
        self.up.store(false, Ordering::Release);
    }

    fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.up.store(true, Ordering::Release);
    }
}

/// The thread that supervises a running embedded engine; [`Supervisor::stop`] stops both.
#[derive(Debug)]
pub struct Supervisor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<EmbeddedClickHouse>>,
}

impl Supervisor {
    /// Supervises `engine`, reporting to `health`.
    pub fn start(engine: EmbeddedClickHouse, health: Arc<OlapHealth>) -> Result<Self, OlapError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("moose-olap-supervisor".into())
            .spawn(move || watch(engine, &health, &flag))
            .map_err(|e| OlapError::Engine(format!("cannot start the engine supervisor: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops supervising and stops the engine gracefully (blocking).
    pub fn stop(mut self) -> Result<(), OlapError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(mut engine)) => engine.stop(),
            Some(Err(_)) => Err(OlapError::Engine(
                "the engine supervisor panicked; the engine is left to stop by itself".into(),
            )),
            None => Ok(()),
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // Dropping the engine stops it.
            let _ = thread.join();
        }
    }
}

/// Sleeps `pause` unless asked to stop first; true when stopped.
fn stopped_after(pause: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep(CHECK_EVERY.min(until.saturating_duration_since(Instant::now())));
    }
    stop.load(Ordering::Acquire)
}

fn watch(
    mut engine: EmbeddedClickHouse,
    health: &OlapHealth,
    stop: &AtomicBool,
) -> EmbeddedClickHouse {
    loop {
        if stopped_after(CHECK_EVERY, stop) {
            return engine;
        }
        let Some(status) = engine.exited() else {
            continue;
        };
        let died = Instant::now();
        let problem = format!("the embedded ClickHouse engine exited ({status})");
        tracing::error!(
            "{problem}; restarting it. End of {}:\n{}",
            engine.log_path().display(),
            engine.log_tail()
        );
        health.down(format!("{problem}; restarting"));
        let mut pauses = RESTART_BACKOFF.pauses();
        for attempt in 1.. {
            match engine.restart() {
                Ok(()) => {
                    health.restarted();
                    tracing::warn!(
                        "the embedded ClickHouse engine runs again after {:.1?} (attempt {attempt}); \
                         table syncs resume from their committed offsets",
                        died.elapsed()
                    );
                    break;
                }
                Err(error) => {
                    tracing::error!("restarting the embedded ClickHouse engine failed (attempt {attempt}): {error}");
                    health.down(format!(
                        "{problem}; restart attempt {attempt} failed: {error}"
                    ));
                }
            }
            if stopped_after(pauses.next().unwrap_or(RESTART_BACKOFF.max), stop) {
                return engine;
            }
        }
    }
}
