//! Query APIs: `GET /api/<name>` and `GET /api/<name>/<version>`. Parameters are checked
//! against the API's declaration before the component's `handle-api` runs; the component
//! reaches data only through the host's read-only `query` import.

mod params;
mod routes;

pub use params::{parse_params, ParamError, ParamProblem};
pub use routes::{router, ApiEndpoint, ApiEndpoints, ApiState};
