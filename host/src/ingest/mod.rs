//! `POST /ingest/<endpoint>` (`POST /ingest/<endpoint>/<version>` for a versioned model):
//! records are parsed, checked against the endpoint's model, and written durably to its
//! stream before the client gets an answer.
//!
//! Policy for a request with some bad records: the valid records are accepted and
//! written; each bad record goes to the endpoint's dead-letter stream (original text,
//! error, source, time) and its problems are listed in a 400 answer with index, field and
//! problem, the first [`MAX_PROBLEMS`] of them (`problems_total` counts all). A client
//! that resends the whole request therefore duplicates its valid records; send only the
//! rejected ones again.
//!
//! A request is read one record at a time and written in pieces of a few MiB, so it holds
//! little more than its body however many records it has; bodies held at once are bounded
//! by [`IngestLimits::max_inflight_bytes`] (requests wait for room). A 503 means the stream
//! could not take a piece: for a body of one piece (up to 4 MiB and 20,000 records)
//! nothing was written; for a larger one the answer's `accepted` records before index
//! `resend_from` were written, and the body should be sent again from that record on.

mod routes;

pub use routes::{
    router, IngestEndpoint, IngestEndpoints, IngestLimits, IngestState, MAX_PROBLEMS,
};
