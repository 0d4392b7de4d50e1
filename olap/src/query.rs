//! Read-only queries for guests: the OLAP store behind the `query` host import.

use std::sync::Arc;
use std::time::Duration;

use super::client::OlapClient;
use super::error::OlapError;
use moose_runtime::types::{Batch, Encoding, QueryError};
use moose_runtime::{QueryParam, QueryService};

/// Limits of one guest query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// ClickHouse's `max_execution_time`; the client gives up a little later.
    pub max_execution_time: Duration,
    /// Largest result: ClickHouse's `max_result_bytes` (with `result_overflow_mode =
    /// 'throw'`), and the largest JSON result handed to the guest.
    pub max_result_bytes: u64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_execution_time: Duration::from_secs(10),
            max_result_bytes: 64 << 20,
        }
    }
}

/// ISO 8601 date-times in results, on servers that know the setting (older ones write
/// `YYYY-MM-DD hh:mm:ss`).
const ISO_DATE_TIMES: (&str, &str) = ("date_time_output_format", "iso");

/// How long the client waits beyond `max_execution_time` for the server's own timeout.
const CLIENT_GRACE: Duration = Duration::from_secs(5);

/// Runs guests' read-only queries on the OLAP store; implements [`QueryService`].
///
/// Every query runs with `readonly = 1` (no writes, no DDL, no `SET`), the limits of
/// [`QueryLimits`], `output_format_json_quote_64bit_integers = 0` and
/// `date_time_output_format = 'iso'` (where the server has it), in `JSONEachRow`. Parameter
/// values are sent verbatim as `param_<name>` (ClickHouse's Escaped text form), never
/// spliced into the SQL; on a server without query parameters a query with parameters
/// fails as [`QueryError::Invalid`], naming the server's version.
#[derive(Debug, Clone)]
pub struct OlapQueryService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: OlapClient,
    handle: tokio::runtime::Handle,
    limits: QueryLimits,
}

impl OlapQueryService {
    /// A service that runs its queries on the runtime of `handle` (the runtime `client`
    /// was created in).
    pub fn new(client: OlapClient, handle: tokio::runtime::Handle, limits: QueryLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                handle,
                limits,
            }),
        }
    }

    /// The limits every query runs with.
    pub fn limits(&self) -> QueryLimits {
        self.inner.limits
    }

    /// Runs one query; the async form of [`QueryService::query`].
    pub async fn run(&self, sql: &str, params: &[QueryParam]) -> Result<Batch, QueryError> {
        self.inner.run(sql, params).await
    }
}

impl QueryService for OlapQueryService {
    /// Blocks the calling thread (a guest's, outside the async executor) until the query
    /// is done; the query itself runs on the service's runtime.
    fn query(&self, sql: &str, params: &[QueryParam]) -> Result<Batch, QueryError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let inner = Arc::clone(&self.inner);
        let sql = sql.to_string();
        let params = params.to_vec();
        self.inner.handle.spawn(async move {
            let result = inner.run(&sql, &params).await;
            let _ = sender.send(result);
        });
        receiver.recv().unwrap_or_else(|_| {
            Err(QueryError::Unavailable(
                "the host is shutting down; the query did not run to completion".into(),
            ))
        })
    }
}

impl Inner {
    async fn run(&self, sql: &str, params: &[QueryParam]) -> Result<Batch, QueryError> {
        let limits = self.limits;
        let seconds = limits.max_execution_time.as_secs_f64().max(0.001);
        let max_result_bytes = limits.max_result_bytes.to_string();
        let server = self
            .client
            .server_info()
            .await
            .map_err(|e| to_query_error(e, limits))?;
        if !params.is_empty() && !server.query_parameters {
            return Err(QueryError::Invalid(format!(
                "ClickHouse {} does not support query parameters ({{name:Type}} placeholders); \
                 they need a newer server",
                server.version_text
            )));
        }
        let mut query = self
            .client
            .inner()
            .query_raw(sql)
            .with_setting("readonly", "1")
            .with_setting("max_execution_time", format_seconds(seconds))
            .with_setting("max_result_bytes", max_result_bytes)
            .with_setting("result_overflow_mode", "throw")
            .with_setting("output_format_json_quote_64bit_integers", "0");
        if server.has_setting(ISO_DATE_TIMES.0) {
            query = query.with_setting(ISO_DATE_TIMES.0, ISO_DATE_TIMES.1);
        }
        for param in params {
            query = query.with_setting(format!("param_{}", param.name), param.value.clone());
        }
        let mut cursor = query
            .fetch_bytes("JSONEachRow")
            .map_err(|e| to_query_error(self.client.error(e), limits))?;
        let read = async {
            let mut data: Vec<u8> = Vec::new();
            while let Some(chunk) = cursor.next().await? {
                if (data.len() + chunk.len()) as u64 > limits.max_result_bytes {
                    return Ok(None);
                }
                data.extend_from_slice(&chunk);
            }
            Ok(Some(data))
        };
        let data = match tokio::time::timeout(limits.max_execution_time + CLIENT_GRACE, read).await
        {
            Err(_) => return Err(QueryError::Timeout),
            Ok(Err(error)) => return Err(to_query_error(self.client.error(error), limits)),
            Ok(Ok(None)) => return Err(QueryError::TooLarge(limits.max_result_bytes)),
            Ok(Ok(Some(data))) => data,
        };
        batch(data)
    }
}

/// `10`, or `0.5` for fractions of a second.
fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{}", seconds as u64)
    } else {
        format!("{seconds:.3}")
    }
}

/// NDJSON output as a batch: one record per line, no trailing newline.
fn batch(mut data: Vec<u8>) -> Result<Batch, QueryError> {
    while data.last() == Some(&b'\n') {
        data.pop();
    }
    if !data.is_empty() && (data.first() != Some(&b'{') || data.last() != Some(&b'}')) {
        return Err(QueryError::Invalid(
            "the query must return rows as JSON objects; remove its FORMAT clause".into(),
        ));
    }
    let count = if data.is_empty() {
        0
    } else {
        data.iter().filter(|b| **b == b'\n').count() + 1
    };
    let count = u32::try_from(count)
        .map_err(|_| QueryError::Failed(format!("the query returned {count} rows")))?;
    Ok(Batch {
        encoding: Encoding::Json,
        count,
        data,
    })
}

/// Exception codes of invalid SQL or parameters.
const INVALID_CODES: &[i32] = &[
    6,   // CANNOT_PARSE_TEXT
    8,   // THERE_IS_NO_COLUMN
    10,  // NOT_FOUND_COLUMN_IN_BLOCK
    16,  // NO_SUCH_COLUMN_IN_TABLE
    25,  // CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    34,  // TOO_MANY_ARGUMENTS_FOR_FUNCTION
    35,  // TOO_FEW_ARGUMENTS_FOR_FUNCTION
    36,  // BAD_ARGUMENTS
    37,  // UNKNOWN_ELEMENT_IN_AST
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    42,  // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
    43,  // ILLEGAL_TYPE_OF_ARGUMENT
    44,  // ILLEGAL_COLUMN
    46,  // UNKNOWN_FUNCTION
    47,  // UNKNOWN_IDENTIFIER
    50,  // UNKNOWN_TYPE
    53,  // TYPE_MISMATCH
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    63,  // UNKNOWN_AGGREGATE_FUNCTION
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    73,  // UNKNOWN_FORMAT
    80,  // INCORRECT_QUERY
    81,  // UNKNOWN_DATABASE
    115, // UNKNOWN_SETTING
    123, // UNKNOWN_TYPE_OF_AST_NODE
    162, // TOO_DEEP_SUBQUERIES
    167, // TOO_DEEP_AST
    168, // TOO_BIG_AST
    174, // CYCLIC_ALIASES
    179, // MULTIPLE_EXPRESSIONS_FOR_ALIAS
    181, // ILLEGAL_FINAL
    182, // ILLEGAL_PREWHERE
    183, // UNEXPECTED_EXPRESSION
    184, // ILLEGAL_AGGREGATION
    190, // SIZES_OF_ARRAYS_DONT_MATCH
    215, // NOT_AN_AGGREGATE
    321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    352, // AMBIGUOUS_COLUMN_NAME
    376, // CANNOT_PARSE_UUID
    456, // UNKNOWN_QUERY_PARAMETER
    457, // BAD_QUERY_PARAMETER
    467, // CANNOT_PARSE_BOOL
    691, // UNKNOWN_ELEMENT_OF_ENUM
];

/// Exception codes of statements a read-only query may not run.
const DENIED_CODES: &[i32] = &[
    164, // READONLY
    358, // INTO_OUTFILE_NOT_ALLOWED
    497, // ACCESS_DENIED
];

/// Exception codes of queries that ran too long.
const TIMEOUT_CODES: &[i32] = &[
    159, // TIMEOUT_EXCEEDED
    160, // TOO_SLOW
];

/// TOO_MANY_ROWS_OR_BYTES: the result passed `max_result_bytes`.
const TOO_LARGE_CODE: i32 = 396;

/// The guest's view of an OLAP error; messages keep ClickHouse's text.
pub fn to_query_error(error: OlapError, limits: QueryLimits) -> QueryError {
    let code = error.code();
    match (code, error) {
        (Some(code), _) if TIMEOUT_CODES.contains(&code) => QueryError::Timeout,
        (Some(TOO_LARGE_CODE), _) => QueryError::TooLarge(limits.max_result_bytes),
        (Some(code), error) if DENIED_CODES.contains(&code) => QueryError::Denied(message(error)),
        (Some(code), error) if INVALID_CODES.contains(&code) => QueryError::Invalid(message(error)),
        (_, OlapError::Rejected { code: 0, message }) => QueryError::Invalid(message),
        (_, error @ OlapError::Unavailable { .. }) => QueryError::Unavailable(message(error)),
        (_, error) => QueryError::Failed(message(error)),
    }
}

fn message(error: OlapError) -> String {
    match error {
        OlapError::Unavailable { message, .. } | OlapError::Rejected { message, .. } => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: i32) -> OlapError {
        OlapError::from_server_text(&format!("Code: {code}. DB::Exception: text ({code})"))
    }

    #[test]
    fn maps_clickhouse_errors_to_query_errors() {
        let limits = QueryLimits::default();
        let map = |code| to_query_error(server(code), limits);
        assert!(
            matches!(map(62), QueryError::Invalid(m) if m.starts_with("Code: 62. DB::Exception"))
        );
        assert!(matches!(map(47), QueryError::Invalid(_)));
        assert!(matches!(map(60), QueryError::Invalid(_)));
        assert!(matches!(map(456), QueryError::Invalid(_)));
        assert!(matches!(map(457), QueryError::Invalid(_)));
        assert!(matches!(map(164), QueryError::Denied(_)));
        assert!(matches!(map(358), QueryError::Denied(_)));
        assert!(matches!(map(159), QueryError::Timeout));
        assert!(matches!(map(396), QueryError::TooLarge(n) if n == 64 << 20));
        assert!(matches!(map(241), QueryError::Unavailable(_)));
        assert!(matches!(map(395), QueryError::Failed(m) if m.contains("Code: 395")));
        let down = OlapError::Unavailable {
            code: None,
            message: "cannot reach http://x".into(),
        };
        assert!(matches!(
            to_query_error(down, limits),
            QueryError::Unavailable(_)
        ));
        let client_side = OlapError::Rejected {
            code: 0,
            message: "invalid params".into(),
        };
        assert!(matches!(
            to_query_error(client_side, limits),
            QueryError::Invalid(_)
        ));
    }

    #[test]
    fn makes_batches_of_ndjson() {
        let batch = batch(b"{\"a\":1}\n{\"a\":2}\n".to_vec()).unwrap();
        assert_eq!(batch.count, 2);
        assert_eq!(batch.data, b"{\"a\":1}\n{\"a\":2}");
        let empty = super::batch(Vec::new()).unwrap();
        assert_eq!((empty.count, empty.data.len()), (0, 0));
        assert!(matches!(
            super::batch(b"a,b\n1,2\n".to_vec()),
            Err(QueryError::Invalid(_))
        ));
    }

    #[test]
    fn formats_seconds() {
        assert_eq!(format_seconds(10.0), "10");
        assert_eq!(format_seconds(0.5), "0.500");
    }
}
