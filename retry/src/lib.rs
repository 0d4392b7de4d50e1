//! The host's one retry policy: an operation that failed for a reason that may pass (a
//! store or broker unreachable, a lease table busy) is tried again after a pause that
//! doubles from [`Backoff::first`] up to [`Backoff::max`] (`backon`'s exponential
//! schedule, without jitter), until it succeeds or the host stops. The pause ends at once
//! when the host stops; an attempt in flight is never cut short, so a write either
//! happens or is left for the next start.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// Pauses between attempts: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after the first failure.
    pub first: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Backoff {
    /// Pauses from `first`, doubling up to `max`.
    pub const fn doubling(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// The same pause after every failure.
    pub const fn fixed(pause: Duration) -> Self {
        Self {
            first: pause,
            max: pause,
        }
    }

    /// The pauses, one per failure, without end.
    pub fn pauses(&self) -> impl Iterator<Item = Duration> {
        let schedule = ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max.max(self.first))
            .with_factor(2.0)
            .without_max_times()
            .build();
        schedule.chain(std::iter::repeat(self.max))
    }
}

/// The retries of one operation: after each failure, [`Retry::failed`] waits the next
/// pause of the schedule unless the host stops first.
pub struct Retry<'a> {
    backoff: Backoff,
    pauses: Box<dyn Iterator<Item = Duration> + Send>,
    stop: &'a CancellationToken,
}

impl<'a> Retry<'a> {
    /// Retries paused per `backoff`, until `stop`.
    pub fn new(backoff: Backoff, stop: &'a CancellationToken) -> Self {
        Self {
            backoff,
            pauses: Box::new(backoff.pauses()),
            stop,
        }
    }

    /// After a failed attempt: tells `log` the pause, then waits it. False when the host
    /// stopped (before or during the pause): give up, nothing more is tried.
    pub async fn failed(&mut self, log: impl FnOnce(Duration)) -> bool {
        let pause = self.pauses.next().unwrap_or(self.backoff.max);
        log(pause);
        if self.stop.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

/// Runs `attempt` until it succeeds, pausing per `backoff` after each failure and calling
/// `failed` with the error and the pause first. `None` when `stop` was cancelled before an
/// attempt succeeded.
pub async fn until_stopped<T, E, Fut>(
    backoff: Backoff,
    stop: &CancellationToken,
    attempt: impl FnMut() -> Fut,
    failed: impl FnMut(&E, Duration),
) -> Option<T>
where
    Fut: Future<Output = Result<T, E>>,
{
    transient_until_stopped(backoff, stop, attempt, |_| true, failed)
        .await
        .and_then(Result::ok)
}

/// [`until_stopped`] for operations with errors that do not pass: an error for which
/// `transient` is false is returned at once (`Some(Err(_))`).
pub async fn transient_until_stopped<T, E, Fut>(
    backoff: Backoff,
    stop: &CancellationToken,
    mut attempt: impl FnMut() -> Fut,
    transient: impl Fn(&E) -> bool,
    mut failed: impl FnMut(&E, Duration),
) -> Option<Result<T, E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut retry = Retry::new(backoff, stop);
    loop {
        match attempt().await {
            Ok(value) => return Some(Ok(value)),
            Err(error) if !transient(&error) => return Some(Err(error)),
            Err(error) => {
                if !retry.failed(|pause| failed(&error, pause)).await {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let backoff = Backoff::doubling(Duration::from_millis(100), Duration::from_millis(500));
        let pauses: Vec<u128> = backoff.pauses().take(6).map(|p| p.as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500, 500]);
        let fixed: Vec<u128> = Backoff::fixed(Duration::from_millis(30))
            .pauses()
            .take(3)
            .map(|p| p.as_millis())
            .collect();
        assert_eq!(fixed, [30, 30, 30]);
    }

    #[tokio::test]
    async fn retries_until_success_and_stops_on_a_lasting_error() {
        let stop = CancellationToken::new();
        let backoff = Backoff::fixed(Duration::from_millis(1));
        let mut attempts = 0;
        let mut seen = Vec::new();
        let value = until_stopped(
            backoff,
            &stop,
            || {
                attempts += 1;
                let result = if attempts < 3 {
                    Err(format!("attempt {attempts}"))
                } else {
                    Ok(attempts)
                };
                async move { result }
            },
            |e: &String, _| seen.push(e.clone()),
        )
        .await;
        assert_eq!(value, Some(3));
        assert_eq!(seen, ["attempt 1", "attempt 2"]);

        let lasting = transient_until_stopped(
            backoff,
            &stop,
            || async { Err::<(), _>("refused") },
            |e| *e != "refused",
            |_, _| panic!("a lasting error is not retried"),
        )
        .await;
        assert_eq!(lasting, Some(Err("refused")));
    }

    #[tokio::test]
    async fn a_stop_ends_the_pause() {
        let stop = CancellationToken::new();
        let canceller = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            canceller.cancel();
        });
        let mut attempts = 0;
        let outcome = until_stopped(
            Backoff::fixed(Duration::from_secs(3600)),
            &stop,
            || {
                attempts += 1;
                async { Err::<(), _>("unreachable") }
            },
            |_, _| {},
        )
        .await;
        assert_eq!(outcome, None);
        assert_eq!(attempts, 1, "no attempt after the stop");
    }
}
