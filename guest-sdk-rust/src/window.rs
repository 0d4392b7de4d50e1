//! Windowed aggregations: aggregate a stream over tumbling or hopping event-time windows
//! with your own state, and write each closed window's rows to a table.
//!
//! Implement [`WindowAggregator`] and declare it with
//! [`App::windowed_aggregation`](crate::App::windowed_aggregation). The host assigns
//! records to windows by their event-time field, keeps each open window's state durably
//! (the SDK encodes it as JSON), closes a window once the watermark (the latest event time
//! minus the allowed lateness) passes its end, and writes the rows [`emit`] returns.
//! Records arriving after all their windows closed go to the dead-letter stream.
//!
//! ```
//! use std::time::Duration;
//! use moose_guest::prelude::*;
//! use moose_guest::window::{Window, WindowAggregator, WindowBounds};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Model)]
//! pub struct Order { #[moose(key)] pub id: String, pub customer: String, pub amount: f64, pub ts: DateTime }
//!
//! #[derive(Serialize, Deserialize, Model)]
//! pub struct Revenue { #[moose(key)] pub window_start: DateTime, pub revenue: f64, pub orders: u64 }
//!
//! struct RevenuePerMinute;
//!
//! impl WindowAggregator for RevenuePerMinute {
//!     type Input = Order;
//!     type State = (f64, u64);
//!     type Output = Revenue;
//!     fn init(&self, _: &WindowBounds) -> (f64, u64) { (0.0, 0) }
//!     fn accumulate(&self, s: &mut (f64, u64), order: Order) -> Result<(), String> {
//!         s.0 += order.amount;
//!         s.1 += 1;
//!         Ok(())
//!     }
//!     fn merge(&self, a: (f64, u64), b: (f64, u64)) -> (f64, u64) { (a.0 + b.0, a.1 + b.1) }
//!     fn emit(&self, w: &WindowBounds, s: (f64, u64)) -> Vec<Revenue> {
//!         vec![Revenue { window_start: w.start(), revenue: s.0, orders: s.1 }]
//!     }
//! }
//!
//! let mut app = App::new();
//! let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
//! app.windowed_aggregation(
//!     "revenue_per_minute",
//!     &orders.stream,
//!     "ts",
//!     Window::tumbling(Duration::from_secs(60)).allowed_lateness(Duration::from_secs(10)),
//!     TableConfig::default(),
//!     RevenuePerMinute,
//! );
//! ```
//!
//! [`emit`]: WindowAggregator::emit

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::defs::Window;
use crate::process::{Batch, Encoding, GuestError, RecordError};
use crate::schema::Model;
use crate::types::DateTime;

/// One window of event time: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowBounds {
    /// Start, in milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// End (exclusive), in milliseconds since the Unix epoch.
    pub end_ms: i64,
}

impl WindowBounds {
    /// The start as a date-time (the epoch for an out-of-range value).
    pub fn start(&self) -> DateTime {
        date_time(self.start_ms)
    }

    /// The end (exclusive) as a date-time.
    pub fn end(&self) -> DateTime {
        date_time(self.end_ms)
    }
}

fn date_time(ms: i64) -> DateTime {
    DateTime::from_timestamp(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
    .or_else(|| DateTime::from_timestamp(0, 0))
    .expect("the epoch is a valid date-time")
}

/// An aggregation over windows: typed input records, your own state, typed output rows.
///
/// The host calls `init` for a window's first records of a source partition, then
/// `accumulate` for each record, keeps the state between batches (encoded as JSON, so a
/// change of `State`'s layout needs a new state version, see
/// [`WindowedAggregationOptions::state_version`](crate::WindowedAggregationOptions::state_version)), `merge`s the states of the source's
/// partitions when the window closes, and writes what `emit` returns to the target table.
pub trait WindowAggregator: Send + Sync + 'static {
    /// Records of the source stream.
    type Input: Model;
    /// The state of one window.
    type State: Serialize + DeserializeOwned;
    /// Rows of the target table.
    type Output: Model;

    /// The state of an empty window.
    fn init(&self, window: &WindowBounds) -> Self::State;

    /// Folds one record into the state. An `Err` rejects the record (it goes to the
    /// dead-letter stream); the state must then be left as it was.
    fn accumulate(&self, state: &mut Self::State, record: Self::Input) -> Result<(), String>;

    /// Combines two states of the same window.
    fn merge(&self, a: Self::State, b: Self::State) -> Self::State;

    /// The rows for a closed window.
    fn emit(&self, window: &WindowBounds, state: Self::State) -> Vec<Self::Output>;
}

/// Output of one `window-accumulate` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccumulateOutput {
    /// The encoded state after the batch.
    pub state: Vec<u8>,
    /// Records rejected (not part of `state`).
    pub errors: Vec<RecordError>,
}

/// A registered aggregator with its types erased: the four calls over encoded state.
pub(crate) trait WindowFunction: Send + Sync {
    fn init(&self, window: &WindowBounds) -> Result<Vec<u8>, GuestError>;
    fn accumulate(
        &self,
        window: &WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestError>;
    fn merge(&self, a: &[u8], b: &[u8]) -> Result<Vec<u8>, GuestError>;
    fn emit(&self, window: &WindowBounds, state: &[u8]) -> Result<Batch, GuestError>;
}

pub(crate) struct Erased<A>(pub A, PhantomData<fn() -> A>);

impl<A> Erased<A> {
    pub(crate) fn new(aggregator: A) -> Self {
        Erased(aggregator, PhantomData)
    }
}

fn encode<S: Serialize>(state: &S) -> Result<Vec<u8>, GuestError> {
    serde_json::to_vec(state)
        .map_err(|e| GuestError::Failed(format!("cannot encode the state: {e}")))
}

fn decode<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, GuestError> {
    serde_json::from_slice(bytes).map_err(|e| {
        GuestError::Failed(format!(
            "cannot decode the stored state (did its type change without a new state version?): {e}"
        ))
    })
}

impl<A: WindowAggregator> WindowFunction for Erased<A> {
    fn init(&self, window: &WindowBounds) -> Result<Vec<u8>, GuestError> {
        encode(&self.0.init(window))
    }

    fn accumulate(
        &self,
        window: &WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestError> {
        let mut state: A::State = if state.is_empty() {
            self.0.init(window)
        } else {
            decode(state)?
        };
        let mut errors = Vec::new();
        for (index, line) in input.lines().into_iter().enumerate() {
            let index = index as u32;
            let outcome = serde_json::from_str::<A::Input>(line)
                .map_err(|e| format!("invalid input record: {e}"))
                .and_then(|record| self.0.accumulate(&mut state, record));
            if let Err(message) = outcome {
                errors.push(RecordError { index, message });
            }
        }
        if input.lines().len() != input.count as usize {
            return Err(GuestError::Failed(format!(
                "batch count is {} but its data holds {} lines",
                input.count,
                input.lines().len()
            )));
        }
        Ok(AccumulateOutput {
            state: encode(&state)?,
            errors,
        })
    }

    fn merge(&self, a: &[u8], b: &[u8]) -> Result<Vec<u8>, GuestError> {
        encode(&self.0.merge(decode(a)?, decode(b)?))
    }

    fn emit(&self, window: &WindowBounds, state: &[u8]) -> Result<Batch, GuestError> {
        let rows = self.0.emit(window, decode(state)?);
        let batch = Batch::from_records(&rows)
            .map_err(|e| GuestError::Failed(format!("cannot encode an emitted row: {e}")))?;
        debug_assert_eq!(batch.encoding, Encoding::Json);
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{App, Model, PipelineConfig, TableConfig};
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Serialize, Deserialize, Model)]
    struct Sale {
        #[moose(key)]
        id: String,
        amount: f64,
        ts: DateTime,
    }

    #[derive(Serialize, Deserialize, Model)]
    struct Totals {
        #[moose(key)]
        window_start: DateTime,
        window_end: DateTime,
        count: u64,
        total: f64,
    }

    struct Sum;

    impl WindowAggregator for Sum {
        type Input = Sale;
        type State = (u64, f64);
        type Output = Totals;
        fn init(&self, _: &WindowBounds) -> (u64, f64) {
            (0, 0.0)
        }
        fn accumulate(&self, s: &mut (u64, f64), sale: Sale) -> Result<(), String> {
            if sale.amount < 0.0 {
                return Err(format!("negative amount in {}", sale.id));
            }
            s.0 += 1;
            s.1 += sale.amount;
            Ok(())
        }
        fn merge(&self, a: (u64, f64), b: (u64, f64)) -> (u64, f64) {
            (a.0 + b.0, a.1 + b.1)
        }
        fn emit(&self, w: &WindowBounds, s: (u64, f64)) -> Vec<Totals> {
            vec![Totals {
                window_start: w.start(),
                window_end: w.end(),
                count: s.0,
                total: s.1,
            }]
        }
    }

    const MINUTE: WindowBounds = WindowBounds {
        start_ms: 60_000,
        end_ms: 120_000,
    };

    fn app() -> App {
        let mut app = App::new();
        let sales = app.ingest_pipeline::<Sale>("Sale", PipelineConfig::default());
        app.windowed_aggregation(
            "sales_per_minute",
            &sales.stream,
            "ts",
            Window::hopping(Duration::from_secs(120), Duration::from_secs(60))
                .allowed_lateness(Duration::from_secs(5)),
            TableConfig::default(),
            Sum,
        )
        .state_version(3)
        .dead_letter(&crate::DeadLetterQueue::named("sales_late"));
        app
    }

    #[test]
    fn describes_the_aggregation_and_its_target() {
        let def = app().describe();
        let windowed = &def.windowed_aggregations[0];
        assert_eq!(windowed.name, "sales_per_minute");
        assert_eq!(windowed.source, "Sale");
        assert_eq!(windowed.time_field, "ts");
        assert_eq!(
            windowed.window,
            Window {
                size_seconds: 120,
                hop_seconds: 60,
                allowed_lateness_seconds: 5
            }
        );
        assert_eq!(windowed.target.name, "sales_per_minute");
        assert_eq!(windowed.target.model, "Totals");
        assert_eq!(windowed.state_version, 3);
        assert_eq!(windowed.dead_letter.as_deref(), Some("sales_late"));
        assert!(def.models.iter().any(|m| m.name == "Totals"));
    }

    #[test]
    fn state_round_trips_through_the_four_calls() {
        let app = app();
        let name = "sales_per_minute";
        let empty = app.window_init(name, &MINUTE).unwrap();
        let batch = Batch::from_lines([
            r#"{"id":"a","amount":2.5,"ts":"1970-01-01T00:01:10Z"}"#,
            r#"{"id":"b","amount":-1,"ts":"1970-01-01T00:01:20Z"}"#,
            r#"{"id":"c"}"#,
        ]);
        let first = app
            .window_accumulate(name, &MINUTE, &empty, &batch)
            .unwrap();
        let indexes: Vec<u32> = first.errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, vec![1, 2]);
        assert!(first.errors[0].message.contains("negative amount in b"));
        let second = app
            .window_accumulate(
                name,
                &MINUTE,
                &empty,
                &Batch::from_lines([r#"{"id":"d","amount":1.5,"ts":"1970-01-01T00:01:30Z"}"#]),
            )
            .unwrap();
        let merged = app
            .window_merge(name, &MINUTE, &first.state, &second.state)
            .unwrap();
        let rows = app.window_emit(name, &MINUTE, &merged).unwrap();
        assert_eq!(
            rows.lines(),
            vec![
                r#"{"window_start":"1970-01-01T00:01:00Z","window_end":"1970-01-01T00:02:00Z","count":2,"total":4.0}"#
            ]
        );
        assert_eq!(
            app.window_init("nope", &MINUTE),
            Err(GuestError::UnknownFunction("nope".into()))
        );
        assert!(matches!(
            app.window_merge(name, &MINUTE, b"not json", &merged),
            Err(GuestError::Failed(_))
        ));
    }

    #[test]
    fn bounds_before_the_epoch_are_date_times_too() {
        let w = WindowBounds {
            start_ms: -1_500,
            end_ms: 0,
        };
        assert_eq!(w.start().to_string(), "1969-12-31T23:59:58.500Z");
        assert_eq!(w.end().to_string(), "1970-01-01T00:00:00Z");
    }
}
