//! Dead-letter records: a record that could not go where it was headed, with why, from
//! where and when. Every dead-letter stream carries these, and its table stores them.

use serde::{Deserialize, Serialize};

/// Why a record was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The record did not match its model at ingest.
    Validation,
    /// A streaming function rejected the record or failed on it.
    Function,
    /// A streaming function's output did not match the destination model.
    Output,
    /// ClickHouse refused to store the record.
    Storage,
    /// The record arrived after every window of its windowed aggregation had closed.
    Late,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Function => "function",
            ErrorKind::Output => "output",
            ErrorKind::Storage => "storage",
            ErrorKind::Late => "late",
        }
    }
}

/// One dead-letter record, as it is written to a dead-letter stream (JSON) and table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The original record as JSON text (or as received, when it was not JSON).
    pub record: String,
    pub error: String,
    pub error_kind: ErrorKind,
    /// Where it failed: `ingest:<endpoint>`, `function:<name>`, `table:<name>` or `window:<name>`.
    pub source: String,
    /// RFC 3339 with milliseconds, UTC.
    pub failed_at: String,
}

impl DeadLetter {
    /// A dead letter stamped with the current time.
    pub fn new(
        record: impl Into<String>,
        error: impl Into<String>,
        error_kind: ErrorKind,
        source: impl Into<String>,
    ) -> Self {
        Self {
            record: record.into(),
            error: error.into(),
            error_kind,
            source: source.into(),
            failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }

    /// The error of a dead letter given as its JSON line, if it is one.
    pub fn error_of(json: &[u8]) -> Option<String> {
        serde_json::from_slice::<DeadLetter>(json)
            .ok()
            .map(|d| d.error)
    }

    /// The dead letter as one line of JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
