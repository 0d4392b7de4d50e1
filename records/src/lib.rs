//! Records as the host handles them: request bodies split into strictly parsed JSON
//! records, records checked against the app's models, their stream keys, and the
//! dead-letter records that carry the ones that failed.

mod dead_letter;
mod key;
mod parse;
mod validate;

pub use dead_letter::{DeadLetter, ErrorKind};
pub use key::record_key;
pub use parse::{compact, parse_body, parse_record, BodyError, InvalidJson, Records};
pub use validate::{check_scalar, FieldError, LineError, ModelValidator, ValueError};
