//! The read-only query capability that the host lends to guests.

use super::bindings::types::{Batch, QueryError};
use super::bindings::QueryParam;

/// Runs a guest's read-only query on the OLAP store.
///
/// Called on the guest's thread while the guest waits; implementations block until the
/// query is done (they run outside any async executor).
pub trait QueryService: Send + Sync {
    fn query(&self, sql: &str, params: &[QueryParam]) -> Result<Batch, QueryError>;
}

/// The service for hosts without an OLAP store, such as `moose build`: every query fails
/// as unavailable.
#[derive(Debug, Default)]
pub struct NoQueryService;

impl QueryService for NoQueryService {
    fn query(&self, _sql: &str, _params: &[QueryParam]) -> Result<Batch, QueryError> {
        Err(QueryError::Unavailable(
            "no OLAP store is attached to this host".into(),
        ))
    }
}
