//! Throughput: records per second of each stage over the last [`WINDOW`], counted in
//! one-second buckets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back a rate looks.
pub const WINDOW: Duration = Duration::from_secs(10);

const BUCKETS: usize = WINDOW.as_secs() as usize;

/// `(second since start, records)` per bucket, indexed by the second modulo [`BUCKETS`].
type Ring = [(u64, u64); BUCKETS];

/// Per-stage records counted by the second.
pub struct Rates {
    started: Instant,
    stages: Mutex<HashMap<(String, String), Ring>>,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            stages: Mutex::default(),
        }
    }
}

impl Rates {
    /// Counts `n` records of stage `kind`/`name` now.
    pub fn add(&self, kind: &str, name: &str, n: u64) {
        self.add_at(kind, name, n, self.started.elapsed());
    }

    /// Records per second of stage `kind`/`name` over the last [`WINDOW`].
    pub fn per_second(&self, kind: &str, name: &str) -> f64 {
        self.per_second_at(kind, name, self.started.elapsed())
    }

    fn add_at(&self, kind: &str, name: &str, n: u64, at: Duration) {
        let second = at.as_secs();
        let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        let ring = stages
            .entry((kind.to_string(), name.to_string()))
            .or_insert([(0, 0); BUCKETS]);
        let slot = &mut ring[second as usize % BUCKETS];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += n;
    }

    fn per_second_at(&self, kind: &str, name: &str, at: Duration) -> f64 {
        let now = at.as_secs();
        let first = now.saturating_sub(BUCKETS as u64 - 1);
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        let Some(ring) = stages.get(&(kind.to_string(), name.to_string())) else {
            return 0.0;
        };
        let records: u64 = ring
            .iter()
            .filter(|(second, _)| (first..=now).contains(second))
            .map(|(_, n)| n)
            .sum();
        // The window runs from the start of its first second to now.
        let span = (at.as_secs_f64() - first as f64).max(1.0);
        records as f64 / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn averages_the_last_ten_seconds() {
        let rates = Rates::default();
        assert_eq!(rates.per_second_at("function", "f", secs(5.0)), 0.0);
        for second in 0..30 {
            rates.add_at("function", "f", 100, secs(second as f64 + 0.5));
        }
        // Seconds 20..=29 are in the window, which spans 20.0 to 29.5.
        let rate = rates.per_second_at("function", "f", secs(29.5));
        assert!((rate - 1000.0 / 9.5).abs() < 1e-9, "{rate}");
        assert_eq!(rates.per_second_at("table", "f", secs(29.5)), 0.0);
    }

    #[test]
    fn forgets_what_left_the_window_and_starts_from_zero() {
        let rates = Rates::default();
        rates.add_at("table", "t", 50, secs(2.2));
        rates.add_at("table", "t", 50, secs(2.7));
        assert_eq!(rates.per_second_at("table", "t", secs(3.0)), 100.0 / 3.0);
        assert_eq!(rates.per_second_at("table", "t", secs(12.5)), 0.0);
        // A bucket reused ten seconds later starts over.
        rates.add_at("table", "t", 7, secs(12.9));
        // The window spans seconds 4 to 13.0.
        assert_eq!(rates.per_second_at("table", "t", secs(13.0)), 7.0 / 9.0);
    }
}
