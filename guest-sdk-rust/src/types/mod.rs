//! Field types with a fixed wire form: dates, timestamps, decimals, UUIDs and JSON.
//!
//! | SDK type | Column type | JSON wire form |
//! |---|---|---|
//! | [`Date`] | `Date` | `"2024-05-01"` |
//! | [`DateTime`] | `DateTime` (`DateTime64(P)` with `#[moose(datetime64 = P)]`) | RFC 3339 in UTC: `"2024-05-01T12:00:00Z"`, fractional seconds only when non-zero (3, 6 or 9 digits) |
//! | [`Decimal<P, S>`] | `Decimal(P, S)` | string with exactly `S` decimals: `"12.50"` |
//! | [`Uuid`] | `UUID` | hyphenated string |
//! | [`Json`] | `JSON` | any JSON value |

mod decimal;
mod time;

pub use decimal::{Decimal, DecimalError};
pub use time::{Date, DateTime, TimeParseError};

/// Any JSON value, `JSON` in ClickHouse.
pub type Json = serde_json::Value;

pub use uuid::Uuid;
