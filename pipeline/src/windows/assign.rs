//! Which windows a record belongs to, and the watermark that decides when they close.
//!
//! Windows are aligned to the Unix epoch: a record with event time `t` (milliseconds)
//! belongs to every window `[s, s + size)` with `s` a multiple of `hop` and
//! `s <= t < s + size`: exactly one for a tumbling window (`hop == size`), `size / hop`
//! for a hopping one. Times before 1970 work the same way (floor division).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

use super::state::Progress;
use moose_model::types::{ScalarType, WindowSpec};
use moose_runtime::types::WindowBounds;

/// A window definition in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub size_ms: i64,
    pub hop_ms: i64,
    pub lateness_ms: i64,
}

impl Tiling {
    /// The tiling of a validated `window-spec` (size > 0, hop in 1..=size).
    pub fn new(spec: &WindowSpec) -> Self {
        Self {
            size_ms: i64::from(spec.size_seconds) * 1000,
            hop_ms: i64::from(spec.hop_seconds.max(1)) * 1000,
            lateness_ms: i64::from(spec.allowed_lateness_seconds) * 1000,
        }
    }

    /// The windows containing event time `t_ms`, earliest start first.
    pub fn windows_of(&self, t_ms: i64) -> Vec<WindowBounds> {
        let last_start = t_ms.div_euclid(self.hop_ms) * self.hop_ms;
        let mut windows = Vec::with_capacity((self.size_ms / self.hop_ms) as usize);
        let mut start = last_start;
        while start > t_ms - self.size_ms {
            windows.push(WindowBounds {
                start_ms: start,
                end_ms: start + self.size_ms,
            });
            start -= self.hop_ms;
        }
        windows.reverse();
        windows
    }

    /// The watermark after seeing event times up to `max_event_ms`: windows ending at or
    /// before it are closed.
    pub fn watermark(&self, max_event_ms: i64) -> i64 {
        max_event_ms.saturating_sub(self.lateness_ms)
    }
}

/// A window is closed once the watermark reached its end.
pub fn is_closed(window: &WindowBounds, watermark: i64) -> bool {
    window.end_ms <= watermark
}

/// The watermark while the source is idle: the event time seen last, advanced by the
/// processing time spent without records, minus the allowed lateness.
pub fn idle_watermark(tiling: &Tiling, max_event_ms: i64, idle_ms: i64) -> i64 {
    tiling.watermark(max_event_ms.saturating_add(idle_ms))
}

/// What the watermark of a batch may pass, besides the event times: which partitions
/// delivered nothing for a while, and where each partition of the source ends.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    /// Partitions without records for the idle time.
    pub quiet: BTreeSet<u32>,
    /// Each partition's unread offsets as the consumer group sees them (from its
    /// committed offset, or the first kept one, to the end), read recently; `None` when
    /// unknown.
    pub unread: Option<BTreeMap<u32, Range<u64>>>,
}

/// The event time the watermark follows, given `progress` (after the batch): the least
/// latest event time of the partitions that hold it back. A partition holds it back
/// unless it is quiet and has nothing left to read (idle); a partition with records left
/// that never delivered one holds it where it is (`None`). When every partition is idle,
/// the latest event time of all. `None` before the first record.
pub fn watermark_event_time(progress: &Progress, holds: &Holds) -> Option<i64> {
    let left = |partition: &u32| {
        holds.unread.as_ref().is_some_and(|unread| {
            unread.get(partition).is_some_and(|range| {
                let next = progress.offsets.get(partition).copied().unwrap_or(0);
                next.max(range.start) < range.end
            })
        })
    };
    if let Some(unread) = &holds.unread {
        if unread
            .keys()
            .any(|p| !progress.offsets.contains_key(p) && left(p))
        {
            return None;
        }
    }
    let idle = |partition: &u32| {
        holds.quiet.contains(partition) && holds.unread.is_some() && !left(partition)
    };
    let times = &progress.partition_event_ms;
    times
        .iter()
        .filter(|(partition, _)| !idle(partition))
        .map(|(_, ms)| *ms)
        .min()
        .or_else(|| times.values().copied().max())
}

/// Why a record has no event time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTimeError {
    #[error("the record is not JSON: {0}")]
    NotJson(String),
    #[error("the event-time field `{0}` is missing")]
    Missing(String),
    #[error("the event-time field `{field}` is not a date-time: {value}")]
    NotATime { field: String, value: Value },
}

/// The event time in milliseconds of field `field` of `record`, whose type is `ty`
/// (Date, DateTime or DateTime64). Accepts what ingest accepts: RFC 3339,
/// `YYYY-MM-DD hh:mm:ss[.f]` (UTC), Unix seconds, and `YYYY-MM-DD` for a Date.
pub fn event_time_ms(record: &Value, field: &str, ty: &ScalarType) -> Result<i64, EventTimeError> {
    let value = record
        .get(field)
        .ok_or_else(|| EventTimeError::Missing(field.to_string()))?;
    let parsed = match (ty, value) {
        (ScalarType::Date, Value::String(text)) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis()),
        (ScalarType::Date, Value::Number(n)) => n.as_i64().map(|days| days * 86_400_000),
        (_, Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .or_else(|_| {
                NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                    .map(|t| t.and_utc().timestamp_millis())
            })
            .ok(),
        (_, Value::Number(n)) => n
            .as_i64()
            .map(|secs| secs.saturating_mul(1000))
            .or_else(|| n.as_f64().map(|secs| (secs * 1000.0).floor() as i64)),
        _ => None,
    };
    parsed.ok_or_else(|| EventTimeError::NotATime {
        field: field.to_string(),
        value: value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiling(size: i64, hop: i64, lateness: i64) -> Tiling {
        Tiling {
            size_ms: size * 1000,
            hop_ms: hop * 1000,
            lateness_ms: lateness * 1000,
        }
    }

    fn bounds(start_s: i64, end_s: i64) -> WindowBounds {
        WindowBounds {
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
        }
    }

    #[test]
    fn the_watermark_follows_the_slowest_partition_that_is_not_idle() {
        // Partitions 0..3 read up to offset 10; partition 3 never delivered a record and
        // its first kept offset is 2.
        let progress = Progress {
            partition_event_ms: [(0, 90_000), (1, 30_000), (2, 60_000)].into(),
            offsets: [(0, 10), (1, 10), (2, 10)].into(),
            ..Default::default()
        };
        let holds = |quiet: &[u32], ends: Option<[u64; 4]>| Holds {
            quiet: quiet.iter().copied().collect(),
            unread: ends.map(|ends| {
                (0..)
                    .zip(ends)
                    .map(|(p, end)| (p, if p == 3 { 2..end.max(2) } else { 0..end }))
                    .collect()
            }),
        };
        let caught_up = Some([10, 10, 10, 2]);
        let at = |quiet: &[u32], ends| watermark_event_time(&progress, &holds(quiet, ends));
        assert_eq!(at(&[], caught_up), Some(30_000));
        assert_eq!(at(&[1], caught_up), Some(60_000), "1 is idle");
        assert_eq!(at(&[1, 2], caught_up), Some(90_000));
        assert_eq!(
            at(&[0, 1, 2], caught_up),
            Some(90_000),
            "all idle: the latest"
        );
        assert_eq!(
            at(&[1], Some([10, 12, 10, 2])),
            Some(30_000),
            "quiet, with records left: not idle"
        );
        assert_eq!(at(&[1], None), Some(30_000), "ends unknown: nobody is idle");
        assert_eq!(
            at(&[], Some([10, 10, 10, 5])),
            None,
            "3 has records, its event time is unknown"
        );
        assert_eq!(
            watermark_event_time(&Progress::default(), &holds(&[], caught_up)),
            None
        );
    }

    #[test]
    fn tumbling_windows_hold_exactly_one_window_each() {
        let t = tiling(60, 60, 0);
        assert_eq!(t.windows_of(0), vec![bounds(0, 60)]);
        assert_eq!(t.windows_of(59_999), vec![bounds(0, 60)]);
        assert_eq!(t.windows_of(60_000), vec![bounds(60, 120)]);
        assert_eq!(t.windows_of(125_500), vec![bounds(120, 180)]);
    }

    #[test]
    fn hopping_windows_overlap_by_size_over_hop() {
        let t = tiling(120, 60, 0);
        assert_eq!(
            t.windows_of(130_000),
            vec![bounds(60, 180), bounds(120, 240)]
        );
        // On a boundary: the window starting there and the one before.
        assert_eq!(
            t.windows_of(120_000),
            vec![bounds(60, 180), bounds(120, 240)]
        );
        let t = tiling(60, 20, 0);
        assert_eq!(t.windows_of(45_000).len(), 3);
        for w in t.windows_of(45_000) {
            assert!(w.start_ms <= 45_000 && 45_000 < w.end_ms);
            assert_eq!(w.start_ms % 20_000, 0);
        }
    }

    #[test]
    fn times_before_the_epoch_floor_to_earlier_windows() {
        let t = tiling(60, 60, 0);
        assert_eq!(t.windows_of(-1), vec![bounds(-60, 0)]);
        assert_eq!(t.windows_of(-60_000), vec![bounds(-60, 0)]);
        assert_eq!(t.windows_of(-60_001), vec![bounds(-120, -60)]);
        let t = tiling(120, 60, 0);
        assert_eq!(t.windows_of(-1), vec![bounds(-120, 0), bounds(-60, 60)]);
    }

    #[test]
    fn watermark_is_the_latest_event_time_minus_the_lateness() {
        let t = tiling(60, 60, 30);
        assert_eq!(t.watermark(100_000), 70_000);
        assert!(is_closed(&bounds(0, 60), t.watermark(90_000)));
        assert!(!is_closed(&bounds(0, 60), t.watermark(89_999)));
        assert_eq!(t.watermark(i64::MIN), i64::MIN);
        // Idle: 40 s without records after event time 100 s closes [60, 120) too.
        assert!(is_closed(
            &bounds(60, 120),
            idle_watermark(&t, 100_000, 50_000)
        ));
        assert!(!is_closed(
            &bounds(60, 120),
            idle_watermark(&t, 100_000, 49_999)
        ));
    }

    #[test]
    fn event_times_parse_in_every_ingest_form() {
        let dt = ScalarType::DateTime;
        let record = |v: Value| serde_json::json!({ "ts": v });
        let at = |v: Value, ty: &ScalarType| event_time_ms(&record(v), "ts", ty);
        assert_eq!(at("1970-01-01T00:01:00Z".into(), &dt), Ok(60_000));
        assert_eq!(at("1970-01-01T01:01:00+01:00".into(), &dt), Ok(60_000));
        assert_eq!(at("1970-01-01 00:01:00".into(), &dt), Ok(60_000));
        assert_eq!(at(60.into(), &dt), Ok(60_000));
        assert_eq!(
            at("1970-01-01 00:00:01.250".into(), &ScalarType::DateTime64(3)),
            Ok(1_250)
        );
        assert_eq!(at("1970-01-02".into(), &ScalarType::Date), Ok(86_400_000));
        assert_eq!(at("1969-12-31T23:59:59Z".into(), &dt), Ok(-1_000));
        assert!(at("yesterday".into(), &dt)
            .unwrap_err()
            .to_string()
            .contains("`ts`"));
        assert!(event_time_ms(&serde_json::json!({}), "ts", &dt)
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }
}
