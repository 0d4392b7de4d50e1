//! Records as the host handles them: JSON values checked against the app's models, and
//! the dead-letter records that carry the ones that failed.

mod dead_letter;
mod validate;

pub use dead_letter::{DeadLetter, ErrorKind};
pub use validate::{check_scalar, FieldError, ModelValidator};
