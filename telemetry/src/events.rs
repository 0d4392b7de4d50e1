//! Typed telemetry: the stages records pass through ([`Stage`]), and events that are
//! counted and logged in one place, so a metric and the log line about the same thing
//! never disagree.

use super::metrics::{Metrics, Outcome};

/// What counts records: each has a name (the function's, the table's, ...) in the
/// metrics, `/ps` and consumer groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Ingest,
    Function,
    Table,
    Window,
    Aggregation,
    Api,
}

impl Stage {
    /// The `kind` label of the metrics and `/ps`.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Function => "function",
            Stage::Table => "table",
            Stage::Window => "window",
            Stage::Aggregation => "aggregation",
            Stage::Api => "api",
        }
    }

    /// The consumer group of stage `name` on its source stream: `function:NAME`,
    /// `table:NAME`, `window:NAME`.
    pub fn group(self, name: &str) -> String {
        format!("{}:{name}", self.label())
    }

    /// The stage and name a consumer group belongs to.
    pub fn of_group(group: &str) -> Option<(Stage, &str)> {
        let (label, name) = group.split_once(':')?;
        let stage = [Stage::Function, Stage::Table, Stage::Window]
            .into_iter()
            .find(|s| s.label() == label)?;
        Some((stage, name))
    }
}

/// Something that happened, recorded once: counted in the metrics and logged.
pub trait Event {
    fn record(self, metrics: &Metrics);
}

/// A batch a stage finished (a function's or a sync's batch, an ingest request, an API
/// call): its records counted by outcome, its first failure kept for `/ps`, its time
/// recorded.
pub struct BatchDone<'a> {
    pub stage: Stage,
    pub name: &'a str,
    /// Records taken in.
    pub read: u64,
    /// Records written on (outputs, rows stored, answers).
    pub written: u64,
    /// Records that failed.
    pub failed: u64,
    pub first_error: Option<&'a str>,
    pub seconds: f64,
}

impl Event for BatchDone<'_> {
    fn record(self, metrics: &Metrics) {
        let Self {
            stage,
            name,
            read,
            written,
            failed,
            first_error,
            seconds,
        } = self;
        metrics.count(stage, name, Outcome::In, read);
        metrics.count(stage, name, Outcome::Out, written);
        metrics.count(stage, name, Outcome::Failed, failed);
        if let Some(error) = first_error {
            metrics.note_failure(stage, name, error);
        }
        metrics.batch(stage, name, seconds);
        tracing::debug!(
            stage = stage.label(),
            name,
            read,
            written,
            failed,
            seconds,
            "batch done"
        );
    }
}

/// Rows stored in a table on which a materialized view (an aggregation) then failed:
/// they are missing from the view's table.
pub struct ViewFailed<'a> {
    pub table: &'a str,
    pub view: &'a str,
    pub aggregation: &'a str,
    pub rows: usize,
    pub message: &'a str,
}

impl Event for ViewFailed<'_> {
    fn record(self, metrics: &Metrics) {
        let Self {
            table,
            view,
            aggregation,
            rows,
            message,
        } = self;
        metrics.count(
            Stage::Aggregation,
            aggregation,
            Outcome::Failed,
            rows as u64,
        );
        metrics.note_failure(Stage::Aggregation, aggregation, message);
        tracing::error!(
            table,
            "{rows} row(s) were stored in `{table}` but materialized view `{view}` (aggregation \
             `{aggregation}`) failed on them, so they are missing from its table: {message}"
        );
    }
}

/// Records a stage failed on (dead-lettered, or dropped when it has no dead-letter
/// stream), with the first failure's message for `/ps`.
pub struct RecordsFailed<'a> {
    pub stage: Stage,
    pub name: &'a str,
    pub records: usize,
    pub first_error: Option<&'a str>,
}

impl Event for RecordsFailed<'_> {
    fn record(self, metrics: &Metrics) {
        metrics.count(self.stage, self.name, Outcome::Failed, self.records as u64);
        if let Some(error) = self.first_error {
            metrics.note_failure(self.stage, self.name, error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_name_their_stage() {
        assert_eq!(Stage::Function.group("enrich"), "function:enrich");
        assert_eq!(
            Stage::of_group("table:Order"),
            Some((Stage::Table, "Order"))
        );
        assert_eq!(Stage::of_group("window:w:1"), Some((Stage::Window, "w:1")));
        assert_eq!(Stage::of_group("api:x"), None);
        assert_eq!(Stage::of_group("plain"), None);
    }

    #[test]
    fn a_batch_counts_each_outcome_and_keeps_its_first_error() {
        let metrics = Metrics::new();
        BatchDone {
            stage: Stage::Function,
            name: "enrich",
            read: 10,
            written: 7,
            failed: 3,
            first_error: Some("bad amount"),
            seconds: 0.01,
        }
        .record(&metrics);
        let count = |outcome| metrics.records(Stage::Function, "enrich", outcome);
        assert_eq!(
            (
                count(Outcome::In),
                count(Outcome::Out),
                count(Outcome::Failed)
            ),
            (10, 7, 3)
        );
        assert_eq!(
            metrics.last_failure(Stage::Function, "enrich").as_deref(),
            Some("bad amount")
        );
    }

    #[test]
    fn a_failed_view_counts_for_its_aggregation() {
        let metrics = Metrics::new();
        ViewFailed {
            table: "Order",
            view: "Daily_mv",
            aggregation: "Daily",
            rows: 3,
            message: "type mismatch",
        }
        .record(&metrics);
        assert_eq!(
            metrics.records(Stage::Aggregation, "Daily", Outcome::Failed),
            3
        );
        assert_eq!(
            metrics.last_failure(Stage::Aggregation, "Daily").as_deref(),
            Some("type mismatch")
        );
    }
}
