//! `POST /ingest/<endpoint>` (`POST /ingest/<endpoint>/<version>` for a versioned model):
//! records are parsed, checked against the endpoint's model, and written durably to its
//! stream before the client gets an answer.
//!
//! Policy for a request with some bad records: the valid records are accepted and
//! written; each bad record goes to the endpoint's dead-letter stream (original text,
//! error, source, time) and is listed in a 400 answer with its index, field and problem.
//! A client that resends the whole request therefore duplicates its valid records; send
//! only the rejected ones again. A 503 means nothing of the request was written.

mod parse;
mod routes;

pub use parse::{parse_body, BodyError, Parsed};
pub use routes::{record_key, router, IngestEndpoint, IngestEndpoints, IngestState};
