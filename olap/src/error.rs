//! Errors of the OLAP store, classified for the caller: retry later, or give up on the
//! request (and dead-letter its rows).

/// Why an OLAP operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OlapError {
    /// The store cannot serve the request now: connection refused, a timeout, an
    /// overloaded or failing server, or a store-side condition (a missing table or
    /// database, rejected credentials) that an operator fixes without changing the
    /// request. Retry with backoff; do not dead-letter rows for it.
    #[error("ClickHouse is unavailable: {message}")]
    Unavailable {
        /// ClickHouse's exception code when the server answered with one.
        code: Option<i32>,
        /// What went wrong, with ClickHouse's text when it answered.
        message: String,
    },
    /// ClickHouse refused the SQL or the data itself (a syntax error, a value that does
    /// not parse, a type mismatch): the same request fails the same way every time.
    /// `message` is ClickHouse's text (`Code: N. DB::Exception: ...`); `code` is 0 when
    /// the client refused the request before sending it.
    #[error("{message}")]
    Rejected {
        /// ClickHouse's exception code (0: refused by the client).
        code: i32,
        /// ClickHouse's text.
        message: String,
    },
    /// The embedded engine could not be started or stopped.
    #[error("{0}")]
    Engine(String),
    /// The app cannot be expressed as ClickHouse DDL.
    #[error("{0}")]
    Schema(String),
    /// The OLAP configuration is unusable (e.g. an invalid URL).
    #[error("{0}")]
    Config(String),
    /// The server is too old for column types of the app's schema; nothing was created.
    #[error("{0}")]
    Incompatible(super::compat::Incompatible),
}

impl OlapError {
    /// The same error with `context` (e.g. the statement's purpose) before ClickHouse's text.
    pub fn with_context(self, context: &str) -> Self {
        match self {
            OlapError::Rejected { code, message } => OlapError::Rejected {
                code,
                message: format!("{context}{message}"),
            },
            OlapError::Unavailable { code, message } => OlapError::Unavailable {
                code,
                message: format!("{context}{message}"),
            },
            other => other,
        }
    }

    /// ClickHouse's exception code, when the server reported one.
    pub fn code(&self) -> Option<i32> {
        match self {
            OlapError::Unavailable { code, .. } => *code,
            OlapError::Rejected { code, .. } if *code != 0 => Some(*code),
            _ => None,
        }
    }

    /// Retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, OlapError::Unavailable { .. })
    }

    /// The error ClickHouse reported: `Code: N. DB::Exception: ...` in `text`, else a
    /// reply that did not come from ClickHouse (a proxy, an HTTP status only).
    pub fn from_server_text(text: &str) -> Self {
        let text = text.trim();
        match exception_code(text) {
            Some(code) => classify_code(code, text.to_string()),
            None => OlapError::Unavailable {
                code: None,
                message: if text.is_empty() {
                    "empty error response".into()
                } else {
                    text.to_string()
                },
            },
        }
    }

    /// Classifies an error of the `clickhouse` client; `url` names the server in messages.
    pub fn from_client(error: clickhouse::error::Error, url: &str) -> Self {
        use clickhouse::error::Error;
        match error {
            Error::BadResponse(text) => Self::from_server_text(&text),
            Error::Network(_) => OlapError::Unavailable {
                code: None,
                message: format!("cannot reach {url}: {}", chain(&error)),
            },
            Error::TimedOut => OlapError::Unavailable {
                code: None,
                message: format!("request to {url} timed out"),
            },
            Error::InvalidParams(_) => OlapError::Rejected {
                code: 0,
                message: chain(&error),
            },
            other => OlapError::Unavailable {
                code: None,
                message: format!("{url}: {}", chain(&other)),
            },
        }
    }
}

/// The materialized view named in an insert's error (`... while pushing to view
/// local.DailyRevenue_mv ...`), without its database: ClickHouse stored the inserted rows
/// in the table, and that view failed on them.
pub fn failed_view(text: &str) -> Option<String> {
    const MARK: &str = "while pushing to view ";
    let start = text.find(MARK)? + MARK.len();
    let name = text[start..]
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()?
        .trim_end_matches(['.', ':', ','])
        .replace('`', "");
    let view = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(_, view)| view);
    (!view.is_empty()).then(|| view.to_string())
}

/// The code of a ClickHouse exception text (`Code: 62. DB::Exception: ...`).
pub fn exception_code(text: &str) -> Option<i32> {
    let start = text.find("Code: ")? + "Code: ".len();
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Exception codes that say nothing about the request itself: the server is overloaded,
/// failing or misconfigured, or a replica or the network misbehaved.
const TRANSIENT_CODES: &[i32] = &[
    76,  // CANNOT_OPEN_FILE
    159, // TIMEOUT_EXCEEDED
    160, // TOO_SLOW
    173, // CANNOT_ALLOCATE_MEMORY
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    243, // NOT_ENOUGH_SPACE
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    439, // CANNOT_SCHEDULE_TASK
    745, // SERVER_OVERLOADED
    999, // KEEPER_EXCEPTION
];

/// Exception codes about the store's state rather than the request: fixed by an
/// operator (create the table, fix the credentials), after which the request succeeds.
const STORE_STATE_CODES: &[i32] = &[
    60,  // UNKNOWN_TABLE
    81,  // UNKNOWN_DATABASE
    164, // READONLY (the configured user is read-only)
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// `Unavailable` for transient and store-state codes, `Rejected` for the rest.
pub fn classify_code(code: i32, message: String) -> OlapError {
    if TRANSIENT_CODES.contains(&code) || STORE_STATE_CODES.contains(&code) {
        OlapError::Unavailable {
            code: Some(code),
            message,
        }
    } else {
        OlapError::Rejected { code, message }
    }
}

/// An error and its sources, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_view_an_insert_failed_in() {
        let text = "Code: 6. DB::Exception: Cannot parse string 'x' as UInt64: while converting \
                    source column n to destination column n: while pushing to view local.mv. \
                    (CANNOT_PARSE_TEXT) (version 26.9.2.1)";
        assert_eq!(failed_view(text).as_deref(), Some("mv"));
        assert_eq!(
            failed_view("while pushing to view `db`.`Daily_mv` (3f2a...)").as_deref(),
            Some("Daily_mv")
        );
        assert_eq!(failed_view("Code: 62. DB::Exception: Syntax error"), None);
    }

    #[test]
    fn reads_exception_codes() {
        assert_eq!(
            exception_code("Code: 62. DB::Exception: Syntax error"),
            Some(62)
        );
        assert_eq!(
            exception_code("prefix: Code: 164. DB::Exception: x"),
            Some(164)
        );
        assert_eq!(exception_code("502 Bad Gateway"), None);
        assert_eq!(exception_code("Code: x"), None);
    }

    #[test]
    fn classifies_data_errors_as_rejected() {
        let error = OlapError::from_server_text(
            "Code: 27. DB::Exception: Cannot parse input: expected '\"' (CANNOT_PARSE_INPUT_ASSERTION_FAILED)\n",
        );
        assert!(
            matches!(error, OlapError::Rejected { code: 27, .. }),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert!(error.to_string().starts_with("Code: 27. DB::Exception"));
    }

    #[test]
    fn classifies_transient_and_store_state_errors_as_unavailable() {
        for code in [159, 241, 252, 60, 81, 516] {
            let error = OlapError::from_server_text(&format!("Code: {code}. DB::Exception: x"));
            assert!(error.is_retryable(), "{code}: {error:?}");
            assert_eq!(error.code(), Some(code));
        }
        let proxy = OlapError::from_server_text("<html>502 Bad Gateway</html>");
        assert!(matches!(proxy, OlapError::Unavailable { code: None, .. }));
        assert!(OlapError::from_server_text("").is_retryable());
    }

    #[test]
    fn classifies_client_errors() {
        let timed_out = OlapError::from_client(clickhouse::error::Error::TimedOut, "http://x");
        assert!(timed_out.is_retryable());
        let bad = OlapError::from_client(
            clickhouse::error::Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into()),
            "http://x",
        );
        assert_eq!(bad.code(), Some(53));
        assert!(!bad.is_retryable());
    }
}
