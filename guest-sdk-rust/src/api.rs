//! Query APIs: typed parameters in, rows of a model out.
//!
//! The host sends the parameters as a JSON object. The SDK fills in declared defaults for
//! absent parameters, accepts numbers and booleans sent as strings, checks `min`/`max`,
//! then deserializes the object into the handler's parameter struct.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::defs::{ApiParam, ScalarType};
use crate::query::QueryError;
use crate::schema::Model;

/// A struct of API parameters; implement it with `#[derive(ApiParams)]` (plus serde's
/// `Deserialize`).
///
/// Field attributes: `#[moose(default = "100", min = 1, max = 10000)]`. An `Option<T>`
/// field, or one with a default, is not required.
pub trait ApiParams: DeserializeOwned {
    /// The parameters, in declaration order.
    fn params() -> Vec<ApiParam>;
}

/// Parameters of an API that takes none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct NoParams {}

impl ApiParams for NoParams {
    fn params() -> Vec<ApiParam> {
        Vec::new()
    }
}

/// A successful API response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
}

/// Why an API call failed; the host turns it into an HTTP error.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No API of that name.
    UnknownApi(String),
    /// The parameters are invalid (HTTP 400).
    BadRequest(String),
    /// Nothing matches (HTTP 404).
    NotFound(String),
    /// A query failed.
    Query(QueryError),
    /// Anything else (HTTP 500).
    Failed(String),
}

impl ApiError {
    /// A bad-request error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    /// A not-found error.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }

    /// A generic failure.
    pub fn failed(message: impl Into<String>) -> Self {
        ApiError::Failed(message.into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::UnknownApi(name) => write!(f, "unknown API `{name}`"),
            ApiError::BadRequest(m) => write!(f, "bad request: {m}"),
            ApiError::NotFound(m) => write!(f, "not found: {m}"),
            ApiError::Query(e) => write!(f, "query failed: {e}"),
            ApiError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::Query(e)
    }
}

/// A registered API with its types erased.
pub(crate) trait ApiHandler: Send + Sync {
    fn call(&self, declared: &[ApiParam], params: &[u8]) -> Result<ApiResponse, ApiError>;
}

pub(crate) struct Handler<P, R, F> {
    f: F,
    types: PhantomData<fn(P) -> R>,
}

impl<P, R, F> Handler<P, R, F> {
    pub(crate) fn new(f: F) -> Self {
        Handler {
            f,
            types: PhantomData,
        }
    }
}

impl<P, R, F> ApiHandler for Handler<P, R, F>
where
    P: ApiParams,
    R: Model,
    F: Fn(P) -> Result<Vec<R>, ApiError> + Send + Sync,
{
    fn call(&self, declared: &[ApiParam], params: &[u8]) -> Result<ApiResponse, ApiError> {
        let object = prepare(declared, params)?;
        let typed: P = serde_path_to_error::deserialize(object).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                ApiError::BadRequest(format!("invalid parameters: {inner}"))
            } else {
                ApiError::BadRequest(format!("invalid parameter `{path}`: {inner}"))
            }
        })?;
        let rows = (self.f)(typed)?;
        let body = serde_json::to_vec(&rows)
            .map_err(|e| ApiError::Failed(format!("cannot serialize response: {e}")))?;
        Ok(ApiResponse { status: 200, body })
    }
}

fn is_number(param: &ApiParam) -> bool {
    param.data_type.wrappers.is_empty()
        && matches!(
            param.data_type.leaf,
            ScalarType::Int8
                | ScalarType::Int16
                | ScalarType::Int32
                | ScalarType::Int64
                | ScalarType::UInt8
                | ScalarType::UInt16
                | ScalarType::UInt32
                | ScalarType::UInt64
                | ScalarType::Float32
                | ScalarType::Float64
        )
}

fn is_boolean(param: &ApiParam) -> bool {
    param.data_type.wrappers.is_empty() && param.data_type.leaf == ScalarType::Boolean
}

/// `text` (query-string form) as the JSON value of `param`'s type.
fn text_value(param: &ApiParam, text: &str) -> Result<Value, String> {
    if is_number(param) {
        serde_json::from_str::<serde_json::Number>(text.trim())
            .map(Value::Number)
            .map_err(|_| format!("`{}` must be a number, got {text:?}", param.name))
    } else if is_boolean(param) {
        match text.trim() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "`{}` must be true or false, got {text:?}",
                param.name
            )),
        }
    } else {
        Ok(Value::String(text.to_owned()))
    }
}

/// The JSON value of `param`'s default, if it has one.
pub(crate) fn default_value(param: &ApiParam) -> Result<Option<Value>, String> {
    param
        .default
        .as_deref()
        .map(|text| text_value(param, text).map_err(|e| format!("default of {e}")))
        .transpose()
}

/// Parses `params`, fills in defaults, converts strings to numbers and booleans where
/// the declared type asks for them, and checks bounds.
fn prepare(declared: &[ApiParam], params: &[u8]) -> Result<Value, ApiError> {
    let mut object: Map<String, Value> = if params.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(params)
            .map_err(|e| ApiError::BadRequest(format!("parameters are not a JSON object: {e}")))?
    };
    for param in declared {
        let value = match object.get(&param.name) {
            None | Some(Value::Null) => match default_value(param).map_err(ApiError::Failed)? {
                Some(default) => default,
                None => continue,
            },
            Some(Value::String(text)) if is_number(param) || is_boolean(param) => {
                text_value(param, text).map_err(ApiError::BadRequest)?
            }
            Some(other) => other.clone(),
        };
        if let Some(number) = value.as_f64() {
            if let Some(min) = param.min.filter(|min| number < *min) {
                return Err(ApiError::BadRequest(format!(
                    "parameter `{}` must be at least {min}, got {number}",
                    param.name
                )));
            }
            if let Some(max) = param.max.filter(|max| number > *max) {
                return Err(ApiError::BadRequest(format!(
                    "parameter `{}` must be at most {max}, got {number}",
                    param.name
                )));
            }
        }
        object.insert(param.name.clone(), value);
    }
    Ok(Value::Object(object))
}

/// Support for code generated by `#[derive(ApiParams)]`; not a public API.
#[doc(hidden)]
pub mod __derive {
    use crate::defs::{ApiParam, TypeWrapper};
    use crate::schema::MooseType;

    /// The declaration of parameter `name` of Rust type `T`.
    pub fn param<T: MooseType>(
        name: &str,
        has_default: bool,
        default: Option<String>,
        min: Option<f64>,
        max: Option<f64>,
        doc: Option<String>,
    ) -> ApiParam {
        let mut data_type = T::data_type();
        if T::OPTIONAL && data_type.wrappers.first() == Some(&TypeWrapper::Nullable) {
            data_type.wrappers.remove(0);
        }
        ApiParam {
            name: name.to_owned(),
            data_type,
            required: !(T::OPTIONAL || has_default),
            default,
            min,
            max,
            doc,
        }
    }
}
