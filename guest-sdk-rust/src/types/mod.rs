//! Field types with a fixed wire form: dates, timestamps, decimals, UUIDs and JSON.
//!
//! | SDK type | Column type | JSON wire form |
//! |---|---|---|
//! | [`Date`] | `Date` | `"2024-05-01"` |
//! | [`DateTime`] | `DateTime` (`DateTime64(P)` with `#[moose(datetime64 = P)]`) | RFC 3339 in UTC: `"2024-05-01T12:00:00Z"`, fractional seconds only when non-zero (3, 6 or 9 digits) |
//! | [`Decimal<P, S>`] | `Decimal(P, S)` | string with exactly `S` decimals: `"12.50"` |
//! | [`Uuid`] | `UUID` | hyphenated string |
//! | [`Json`] | `JSON` | any JSON value |
//! | `i128`, `u128` | `Int128`, `UInt128` | JSON number |
//! | [`Int256`], [`UInt256`] | `Int256`, `UInt256` | string of digits (numbers are read too) |
//! | `String` with `#[moose(fixed_string = N)]` | `FixedString(N)` | string of at most `N` bytes |
//! | [`Ipv4Addr`](std::net::Ipv4Addr), [`Ipv6Addr`](std::net::Ipv6Addr) | `IPv4`, `IPv6` | `"10.0.0.1"`, `"2001:db8::1"` |
//! | [`Point`], [`Ring`], [`LineString`], [`MultiLineString`], [`Polygon`], [`MultiPolygon`] | the geo types | `[x, y]` in nested arrays |

mod decimal;
mod geo;
mod time;
mod wide;

pub use decimal::{Decimal, DecimalError};
pub use geo::{LineString, MultiLineString, MultiPolygon, Point, Polygon, Ring};
pub use time::{Date, DateTime, TimeParseError};
pub use wide::{Int256, UInt256, WideIntError};

/// Any JSON value, `JSON` in ClickHouse.
pub type Json = serde_json::Value;

pub use uuid::Uuid;
