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
