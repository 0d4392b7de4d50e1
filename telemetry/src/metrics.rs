//! The host's metrics, registered once and rendered in Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::events::Stage;

/// What happened to records at a stage.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Taken in (accepted by ingest, read by a function).
    In,
    /// Written on (function outputs, rows stored in a table).
    Out,
    /// Sent to a dead-letter stream or refused.
    Failed,
}

/// Label values are lower-case, as Prometheus conventions have them.
impl prometheus_client::encoding::EncodeLabelValue for Outcome {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            Outcome::In => "in",
            Outcome::Out => "out",
            Outcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `ingest`, `function` or `table`.
    pub kind: String,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BatchLabels {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LagLabels {
    pub stream: String,
    pub group: String,
}

/// What happened in a windowed aggregation.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum WindowEvent {
    /// A record was folded into its windows' state.
    Accumulated,
    /// A record arrived after all its windows had closed (dead-lettered).
    Late,
    /// A record was rejected by the guest or had no readable event time (dead-lettered).
    Failed,
    /// A window closed and its rows were written to the target table.
    Emitted,
}

impl prometheus_client::encoding::EncodeLabelValue for WindowEvent {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            WindowEvent::Accumulated => "accumulated",
            WindowEvent::Late => "late",
            WindowEvent::Failed => "failed",
            WindowEvent::Emitted => "emitted",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WindowLabels {
    pub aggregation: String,
    pub event: WindowEvent,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AggregationLabels {
    pub aggregation: String,
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric of a host.
pub struct Metrics {
    registry: Registry,
    records: Family<StageLabels, Counter>,
    batch_seconds: Family<BatchLabels, Histogram, fn() -> Histogram>,
    lag: Family<LagLabels, Gauge>,
    /// Records taken in per stage, over the last seconds.
    rates: super::rate::Rates,
    windows: Family<WindowLabels, Counter>,
    open_windows: Family<AggregationLabels, Gauge>,
    olap_up: Gauge,
    olap_restarts: Counter,
    /// The last failure per stage, for `/ps`.
    last_failures: std::sync::Mutex<std::collections::HashMap<(Stage, String), String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("moose");
        let records = Family::<StageLabels, Counter>::default();
        registry.register(
            "records",
            "Records per stage (ingest endpoint, function, table) and outcome",
            records.clone(),
        );
        let batch_seconds =
            Family::<BatchLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                batch_histogram,
            );
        registry.register(
            "batch_seconds",
            "Time to handle one batch or request, per stage",
            batch_seconds.clone(),
        );
        let lag = Family::<LagLabels, Gauge>::default();
        registry.register(
            "consumer_lag_records",
            "Records written to a stream and not yet committed by a consumer group",
            lag.clone(),
        );
        let windows = Family::<WindowLabels, Counter>::default();
        registry.register(
            "window_events",
            "Records accumulated, late or failed, and windows emitted, per windowed aggregation",
            windows.clone(),
        );
        let open_windows = Family::<AggregationLabels, Gauge>::default();
        registry.register(
            "open_windows",
            "Windows of a windowed aggregation holding state and not yet closed",
            open_windows.clone(),
        );
        let olap_up = Gauge::default();
        registry.register(
            "olap_up",
            "1 while the OLAP store is up (the embedded engine runs), else 0",
            olap_up.clone(),
        );
        let olap_restarts = Counter::default();
        registry.register(
            "olap_restarts",
            "Times the embedded ClickHouse engine was started again after it died",
            olap_restarts.clone(),
        );
        Self {
            registry,
            records,
            batch_seconds,
            lag,
            rates: Default::default(),
            windows,
            open_windows,
            olap_up,
            olap_restarts,
            last_failures: Default::default(),
        }
    }

    /// Counts `n` records of stage `stage`/`name` with `outcome`.
    pub(crate) fn count(&self, stage: Stage, name: &str, outcome: Outcome, n: u64) {
        if n > 0 && outcome == Outcome::In {
            self.rates.add(stage.label(), name, n);
        }
        if n > 0 {
            self.records
                .get_or_create(&StageLabels {
                    kind: stage.label().to_string(),
                    name: name.to_string(),
                    outcome,
                })
                .inc_by(n);
        }
    }

    /// How many records of stage `stage`/`name` had `outcome` so far.
    pub fn records(&self, stage: Stage, name: &str, outcome: Outcome) -> u64 {
        self.records
            .get(&StageLabels {
                kind: stage.label().to_string(),
                name: name.to_string(),
                outcome,
            })
            .map_or(0, |counter| counter.get())
    }

    /// Records of stage `stage`/`name` taken in per second over the last
    /// [`WINDOW`](super::rate::WINDOW).
    pub fn per_second(&self, stage: Stage, name: &str) -> f64 {
        self.rates.per_second(stage.label(), name)
    }

    /// Records how long one batch of stage `stage`/`name` took.
    pub(crate) fn batch(&self, stage: Stage, name: &str, seconds: f64) {
        self.batch_seconds
            .get_or_create(&BatchLabels {
                kind: stage.label().to_string(),
                name: name.to_string(),
            })
            .observe(seconds);
    }

    /// Sets the lag of consumer group `group` on `stream`.
    pub fn set_lag(&self, stream: &str, group: &str, records: u64) {
        self.lag
            .get_or_create(&LagLabels {
                stream: stream.to_string(),
                group: group.to_string(),
            })
            .set(records.min(i64::MAX as u64) as i64);
    }

    /// Counts `n` events of windowed aggregation `aggregation`.
    pub fn window_count(&self, aggregation: &str, event: WindowEvent, n: u64) {
        if n > 0 {
            self.windows
                .get_or_create(&WindowLabels {
                    aggregation: aggregation.to_string(),
                    event,
                })
                .inc_by(n);
        }
    }

    /// Sets how many windows of `aggregation` are open.
    pub fn set_open_windows(&self, aggregation: &str, open: usize) {
        self.open_windows
            .get_or_create(&AggregationLabels {
                aggregation: aggregation.to_string(),
            })
            .set(open.min(i64::MAX as usize) as i64);
    }

    /// Remembers `message` as the last failure of stage `stage`/`name` (cut to 1 KiB).
    pub(crate) fn note_failure(&self, stage: Stage, name: &str, message: &str) {
        let mut end = message.len().min(1024);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.last_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((stage, name.to_string()), message[..end].to_string());
    }

    /// The last failure of stage `stage`/`name`, if any.
    pub fn last_failure(&self, stage: Stage, name: &str) -> Option<String> {
        self.last_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(stage, name.to_string()))
            .cloned()
    }

    /// Sets whether the OLAP store is up and how often its engine was restarted.
    pub fn set_olap(&self, up: bool, restarts: u64) {
        self.olap_up.set(i64::from(up));
        self.olap_restarts
            .inc_by(restarts.saturating_sub(self.olap_restarts.get()));
    }

    /// The metrics in Prometheus/OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
