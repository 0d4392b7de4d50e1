//! Read-only queries on the OLAP store, with bound parameters.
//!
//! ```no_run
//! # use moose_guest::query::{Query, QueryError};
//! # #[derive(serde::Deserialize)] struct Row { day: String }
//! # fn f(customer: Option<String>) -> Result<Vec<Row>, QueryError> {
//! let rows: Vec<Row> = Query::new(
//!     "SELECT day FROM DailyRevenue WHERE customer = {customer:Nullable(String)}",
//! )
//! .bind("customer", &customer)
//! .fetch()?;
//! # Ok(rows) }
//! ```
//!
//! Values are never spliced into the SQL: each `{name:Type}` placeholder is bound to a
//! value in ClickHouse's text form for query parameters (the *Escaped* format: `\N` for
//! NULL, backslash, tab, newline and carriage return escaped in strings). The host runs
//! the statement and returns one JSON object per row.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::bindings::moose::app::host;

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The SQL or a parameter is invalid.
    Invalid(String),
    /// The statement would write or change settings.
    Denied(String),
    /// The query ran longer than the host allows.
    Timeout,
    /// The result is larger than the host allows, in bytes.
    TooLarge(u64),
    /// The OLAP store cannot be reached.
    Unavailable(String),
    /// Anything else, including rows that do not decode into the requested type.
    Failed(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Invalid(m) => write!(f, "invalid query: {m}"),
            QueryError::Denied(m) => write!(f, "query denied: {m}"),
            QueryError::Timeout => f.write_str("query timed out"),
            QueryError::TooLarge(limit) => write!(f, "query result exceeds {limit} bytes"),
            QueryError::Unavailable(m) => write!(f, "OLAP store unavailable: {m}"),
            QueryError::Failed(m) => write!(f, "query failed: {m}"),
        }
    }
}

impl std::error::Error for QueryError {}

/// A value that can be bound to a query parameter.
pub trait QueryValue {
    /// The value in ClickHouse's text (Escaped) form.
    fn to_query_text(&self) -> String;
}

impl<T: QueryValue + ?Sized> QueryValue for &T {
    fn to_query_text(&self) -> String {
        (**self).to_query_text()
    }
}

impl QueryValue for str {
    fn to_query_text(&self) -> String {
        let mut out = String::with_capacity(self.len());
        for c in self.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        out
    }
}

impl QueryValue for String {
    fn to_query_text(&self) -> String {
        self.as_str().to_query_text()
    }
}

macro_rules! display_value {
    ($($ty:ty),*) => {$(
        impl QueryValue for $ty {
            fn to_query_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
display_value!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    i128,
    u128,
    f32,
    f64,
    uuid::Uuid,
    crate::types::Int256,
    crate::types::UInt256,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr
);

/// `(x, y)`, as ClickHouse reads a `Point` parameter.
impl QueryValue for crate::types::Point {
    fn to_query_text(&self) -> String {
        format!("({},{})", self.0, self.1)
    }
}

impl<const P: u8, const S: u8> QueryValue for crate::types::Decimal<P, S> {
    fn to_query_text(&self) -> String {
        self.to_string()
    }
}

impl QueryValue for crate::types::Date {
    fn to_query_text(&self) -> String {
        self.to_string()
    }
}

/// `YYYY-MM-DD hh:mm:ss[.fraction]` in UTC: bind it to `{t:DateTime('UTC')}` (or
/// `DateTime64(P, 'UTC')`) so the server does not read it in its own time zone.
impl QueryValue for crate::types::DateTime {
    fn to_query_text(&self) -> String {
        self.clickhouse_text()
    }
}

impl QueryValue for chrono::NaiveDate {
    fn to_query_text(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

/// As for [`DateTime`](crate::DateTime).
impl QueryValue for chrono::DateTime<chrono::Utc> {
    fn to_query_text(&self) -> String {
        crate::types::DateTime::from(*self).clickhouse_text()
    }
}

/// A table, view or column name bound to an `{name:Identifier}` placeholder: the server
/// quotes it as an identifier, so a name is never spliced into the SQL.
///
/// ```no_run
/// # use moose_guest::query::{Identifier, Query};
/// let query = Query::new("SELECT count() FROM {table:Identifier}")
///     .bind("table", Identifier::new("DailyRevenue"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl Identifier {
    /// The identifier `name`, verbatim (no quoting needed).
    pub fn new(name: impl Into<String>) -> Self {
        Identifier(name.into())
    }
}

impl QueryValue for Identifier {
    fn to_query_text(&self) -> String {
        self.0.to_query_text()
    }
}

/// `None` binds NULL (`\N`); use a `Nullable(T)` placeholder.
impl<T: QueryValue> QueryValue for Option<T> {
    fn to_query_text(&self) -> String {
        match self {
            Some(value) => value.to_query_text(),
            None => "\\N".to_owned(),
        }
    }
}

/// A SQL statement and its bound parameters.
#[derive(Debug, Clone)]
pub struct Query {
    sql: String,
    params: Vec<host::QueryParam>,
}

impl Query {
    /// A statement with `{name:Type}` placeholders.
    pub fn new(sql: impl Into<String>) -> Self {
        Query {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Binds placeholder `name` (rebinding replaces the earlier value).
    pub fn bind(mut self, name: &str, value: impl QueryValue) -> Self {
        let value = value.to_query_text();
        match self.params.iter_mut().find(|p| p.name == name) {
            Some(param) => param.value = value,
            None => self.params.push(host::QueryParam {
                name: name.to_owned(),
                value,
            }),
        }
        self
    }

    /// The statement.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The bound parameters as `(name, text value)`.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
    }

    /// Runs the query and returns the raw result: one JSON object per line.
    pub fn fetch_json_lines(&self) -> Result<Vec<u8>, QueryError> {
        run(self)
    }

    /// Runs the query and deserializes each row into `R`.
    pub fn fetch<R: DeserializeOwned>(&self) -> Result<Vec<R>, QueryError> {
        let data = run(self)?;
        crate::process::split_lines(&data)
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_slice(line).map_err(|e| {
                    QueryError::Failed(format!(
                        "cannot decode result row {i} as {}: {e}",
                        std::any::type_name::<R>()
                    ))
                })
            })
            .collect()
    }
}

impl From<host::QueryError> for QueryError {
    fn from(e: host::QueryError) -> Self {
        match e {
            host::QueryError::Invalid(m) => QueryError::Invalid(m),
            host::QueryError::Denied(m) => QueryError::Denied(m),
            host::QueryError::Timeout => QueryError::Timeout,
            host::QueryError::TooLarge(n) => QueryError::TooLarge(n),
            host::QueryError::Unavailable(m) => QueryError::Unavailable(m),
            host::QueryError::Failed(m) => QueryError::Failed(m),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn run(query: &Query) -> Result<Vec<u8>, QueryError> {
    let batch = host::query(&query.sql, &query.params)?;
    match batch.encoding {
        crate::bindings::moose::app::types::Encoding::Json => Ok(batch.data),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run(query: &Query) -> Result<Vec<u8>, QueryError> {
    native::run(query)
}

/// Outside a component (native unit tests) there is no host: queries go to a mock.
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use std::cell::RefCell;

    use super::{Query, QueryError};

    type Mock = Box<dyn Fn(&Query) -> Result<Vec<u8>, QueryError>>;

    thread_local! {
        static MOCK: RefCell<Option<Mock>> = RefCell::new(None);
    }

    /// Answers this thread's queries with `mock` (JSON lines), for native tests.
    pub fn set_mock(mock: impl Fn(&Query) -> Result<Vec<u8>, QueryError> + 'static) {
        MOCK.with(|m| *m.borrow_mut() = Some(Box::new(mock)));
    }

    /// Removes this thread's mock.
    pub fn clear_mock() {
        MOCK.with(|m| *m.borrow_mut() = None);
    }

    pub(super) fn run(query: &Query) -> Result<Vec<u8>, QueryError> {
        MOCK.with(|m| match m.borrow().as_ref() {
            Some(mock) => mock(query),
            None => Err(QueryError::Unavailable(
                "no Moose host: outside a component, set a mock with query::native::set_mock"
                    .to_owned(),
            )),
        })
    }
}
