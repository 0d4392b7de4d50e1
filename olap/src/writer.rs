//! The table writer: validated records, as NDJSON, into a table with
//! `INSERT INTO t FORMAT JSONEachRow`; and rows copied from another server in `Native`.

use std::time::Instant;

use bytes::Bytes;

use super::client::OlapClient;
use super::ddl::quote_ident;
use super::error::OlapError;

/// Settings of every insert: records carry RFC 3339 date-times (`2024-05-01T12:00:00Z`).
const INSERT_SETTINGS: &[(&str, &str)] = &[("date_time_input_format", "best_effort")];

impl OlapClient {
    /// Inserts `rows` records into `table` of the app's database in one `INSERT`;
    /// `ndjson` holds one compact JSON object per line (see wit/README.md, "Records on
    /// the wire"). The insert is atomic per request: on error no row is written (for
    /// inserts below ClickHouse's block size, about a million rows).
    ///
    /// [`OlapError::Rejected`] means ClickHouse refused the data or the statement: the
    /// same rows fail again, so dead-letter them. [`OlapError::Unavailable`] means the
    /// store could not take them now (unreachable, timed out, overloaded, the table is
    /// missing): retry with backoff. After an `Unavailable` whose request may have reached
    /// the server (a timeout waiting for the reply), a retry can write the rows twice.
    pub async fn insert_json(
        &self,
        table: &str,
        ndjson: impl Into<Bytes>,
        rows: usize,
    ) -> Result<(), OlapError> {
        let data: Bytes = ndjson.into();
        if rows == 0 || data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let started = Instant::now();
        let size = data.len();
        self.send_insert(
            format!("INSERT INTO {} FORMAT JSONEachRow", quote_ident(table)),
            data,
            INSERT_SETTINGS,
        )
        .await?;
        tracing::debug!(
            table,
            rows,
            bytes = size,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "inserted"
        );
        Ok(())
    }

    /// Inserts `data`, rows of `columns` in ClickHouse's `Native` format (as a `SELECT ...
    /// FORMAT Native` of another server wrote them), into `table` of the app's database.
    /// Errors as [`OlapClient::insert_json`].
    pub async fn insert_native(
        &self,
        table: &str,
        columns: &[String],
        data: Bytes,
    ) -> Result<(), OlapError> {
        if data.is_empty() {
            return Ok(());
        }
        let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        self.send_insert(
            format!(
                "INSERT INTO {} ({}) FORMAT Native",
                quote_ident(table),
                columns.join(", ")
            ),
            data,
            &[],
        )
        .await
    }

    /// Sends one `INSERT ... FORMAT ...` statement with `data` as its body.
    async fn send_insert(
        &self,
        statement: String,
        data: Bytes,
        settings: &[(&str, &str)],
    ) -> Result<(), OlapError> {
        let timeout = Some(self.config().request_timeout);
        let mut insert = self
            .inner()
            .insert_formatted_with(statement)
            .with_timeouts(timeout, timeout);
        for (name, value) in settings {
            insert = insert.with_setting(*name, *value);
        }
        let result = match insert.send(data).await {
            Ok(()) => insert.end().await,
            Err(error) => Err(error),
        };
        result.map_err(|e| self.error(e))
    }
}
