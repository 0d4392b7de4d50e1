//! ClickHouse as the [`TableWriter`] of syncs: what its insert errors mean for a batch.

use bytes::Bytes;

use super::{InsertError, TableWriter};
use moose_olap::error::failed_view;
use moose_olap::{OlapClient, OlapError};

#[async_trait::async_trait]
impl TableWriter for OlapClient {
    async fn insert_json(&self, table: &str, rows: &[u8], count: usize) -> Result<(), InsertError> {
        OlapClient::insert_json(self, table, Bytes::copy_from_slice(rows), count)
            .await
            .map_err(|error| {
                let message = error.to_string();
                match (failed_view(&message), error) {
                    (Some(view), _) => InsertError::ViewFailed { view, message },
                    (None, OlapError::Rejected { .. } | OlapError::Schema(_)) => {
                        InsertError::Rejected(message)
                    }
                    (None, _) => InsertError::Unavailable(message),
                }
            })
    }
}
