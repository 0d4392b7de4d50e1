//! Scalar checks: one JSON value against one scalar type, with a typed reason when it
//! does not fit.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

use moose_model::types::{DecimalSpec, EnumMember, GeoShape, IntType};

/// How a scalar value is checked.
#[derive(Debug)]
pub(super) enum Check {
    String,
    Integer(IntType),
    Float(u8),
    Boolean,
    Decimal(DecimalSpec),
    Date,
    DateTime(Option<u8>),
    Uuid,
    Enum(Vec<EnumMember>),
    Json,
    FixedString(u32),
    Ipv4,
    Ipv6,
    Geo(GeoShape),
}

/// Why a value does not fit its scalar type; the message names the value and the type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the type needs, e.g. `a string`.
        expected: &'static str,
        /// What the value is, e.g. `a number`.
        found: String,
    },
    #[error("{value} is out of range for {ty} ({min} to {max})")]
    IntegerOutOfRange {
        value: String,
        ty: String,
        min: &'static str,
        max: &'static str,
    },
    #[error("{0:e} is out of range for Float32")]
    FloatOutOfRange(f64),
    #[error("{text:?} is not {what}")]
    Unreadable {
        text: String,
        /// The form expected, e.g. `a UUID`.
        what: &'static str,
    },
    #[error("{0} is not a Unix time in seconds")]
    NotUnixSeconds(serde_json::Number),
    #[error("{text:?} is not one of {members}")]
    NotAMember { text: String, members: String },
    #[error(
        "{text} has more than {limit} digits before the point for Decimal({precision}, {scale})"
    )]
    TooManyIntegerDigits {
        text: String,
        limit: usize,
        precision: u8,
        scale: u8,
    },
    #[error("{text} has more than {scale} decimal places for Decimal({precision}, {scale})")]
    TooManyDecimalPlaces {
        text: String,
        precision: u8,
        scale: u8,
    },
    #[error("{text} is outside the {ty} range {min} to {max}")]
    OutsideDateRange {
        text: String,
        ty: &'static str,
        min: NaiveDate,
        max: NaiveDate,
    },
    #[error("nested records are checked as records")]
    NestedRecord,
    #[error("{text:?} is {bytes} bytes long; FixedString({limit}) holds at most {limit}")]
    TooLong {
        text: String,
        bytes: usize,
        limit: u32,
    },
    #[error("{found} is not {shape}: expected {expected}")]
    NotAShape {
        /// What the value is at the place that does not fit.
        found: String,
        shape: &'static str,
        /// The form of the shape, e.g. `[x, y]`.
        expected: &'static str,
    },
}

fn expected(expected: &'static str, value: &Value) -> ValueError {
    ValueError::Expected {
        expected,
        found: kind(value).to_string(),
    }
}

impl Check {
    pub(super) fn check(&self, value: &Value) -> Result<(), ValueError> {
        match self {
            Check::String => string(value).map(drop),
            Check::Integer(int) => int_in(value, *int),
            Check::Float(32) => match value.as_f64() {
                Some(x) if x.abs() <= f32::MAX as f64 => Ok(()),
                Some(x) => Err(ValueError::FloatOutOfRange(x)),
                None => Err(expected("a number", value)),
            },
            Check::Float(_) => value
                .as_f64()
                .map(drop)
                .ok_or_else(|| expected("a number", value)),
            Check::Boolean => value
                .as_bool()
                .map(drop)
                .ok_or_else(|| expected("true or false", value)),
            Check::Decimal(spec) => decimal(value, spec),
            Check::Date => {
                let text = string(value)?;
                let date = plain_date(text)
                    .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                    .ok_or_else(|| unreadable(text, "a date (YYYY-MM-DD)"))?;
                in_range(
                    date,
                    (1970, 1, 1),
                    (2149, 6, 6),
                    || text.to_string(),
                    "Date",
                )
            }
            Check::DateTime(None) => date_time(value, (1970, 1, 1), (2106, 2, 7), "DateTime"),
            Check::DateTime(Some(_)) => {
                date_time(value, (1900, 1, 1), (2299, 12, 31), "DateTime64")
            }
            Check::Uuid => {
                let text = string(value)?;
                uuid::Uuid::parse_str(text)
                    .map(drop)
                    .map_err(|_| unreadable(text, "a UUID"))
            }
            Check::Enum(members) => {
                let text = string(value)?;
                if members.iter().any(|m| m.name == text) {
                    Ok(())
                } else {
                    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                    Err(ValueError::NotAMember {
                        text: text.to_string(),
                        members: names.join(", "),
                    })
                }
            }
            Check::Json => match value {
                Value::Object(_) => Ok(()),
                other => Err(expected("a JSON object", other)),
            },
            Check::FixedString(limit) => {
                let text = string(value)?;
                if text.len() <= *limit as usize {
                    Ok(())
                } else {
                    Err(ValueError::TooLong {
                        text: text.to_string(),
                        bytes: text.len(),
                        limit: *limit,
                    })
                }
            }
            Check::Ipv4 => {
                let text = string(value)?;
                text.parse::<std::net::Ipv4Addr>()
                    .map(drop)
                    .map_err(|_| unreadable(text, "an IPv4 address"))
            }
            Check::Ipv6 => {
                let text = string(value)?;
                text.parse::<std::net::Ipv6Addr>().map(drop).map_err(|_| {
                    unreadable(
                        text,
                        "an IPv6 address (write an IPv4 address mapped: ::ffff:a.b.c.d)",
                    )
                })
            }
            Check::Geo(shape) => geo(value, *shape, shape.depth()),
        }
    }
}

fn unreadable(text: &str, what: &'static str) -> ValueError {
    ValueError::Unreadable {
        text: text.to_string(),
        what,
    }
}

fn string(value: &Value) -> Result<&str, ValueError> {
    value.as_str().ok_or_else(|| expected("a string", value))
}

/// Integers as JSON numbers, or as strings of digits (how JavaScript sends 64-bit values
/// and how ClickHouse writes them in JSON).
fn int_in(value: &Value, int: IntType) -> Result<(), ValueError> {
    let verdict = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .map(|n| int.admits_value(n)),
        Value::String(s) => int.admits(s.trim()),
        _ => None,
    };
    match verdict {
        Some(true) => Ok(()),
        Some(false) => Err(ValueError::IntegerOutOfRange {
            value: match value {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            },
            ty: int.name(),
            min: int.min(),
            max: int.max(),
        }),
        None => Err(ValueError::Expected {
            expected: "an integer",
            found: describe(value),
        }),
    }
}

/// A point `[x, y]` inside `depth` levels of arrays.
fn geo(value: &Value, shape: GeoShape, depth: usize) -> Result<(), ValueError> {
    let not_shape = |found: &Value| ValueError::NotAShape {
        found: describe(found),
        shape: shape.name(),
        expected: match shape.depth() {
            0 => "[x, y]",
            1 => "an array of [x, y] points",
            2 => "an array of arrays of [x, y] points",
            _ => "an array of arrays of arrays of [x, y] points",
        },
    };
    let Value::Array(items) = value else {
        return Err(not_shape(value));
    };
    if depth > 0 {
        return items
            .iter()
            .try_for_each(|item| geo(item, shape, depth - 1));
    }
    match items.as_slice() {
        [x, y] if x.is_number() && y.is_number() => Ok(()),
        _ => Err(not_shape(value)),
    }
}

fn decimal(value: &Value, spec: &DecimalSpec) -> Result<(), ValueError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(expected("a decimal number or string", other)),
    };
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(&text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return Err(unreadable(&text, "a decimal number"));
    }
    let int_digits = int.trim_start_matches('0').len();
    let (precision, scale) = (spec.precision, spec.scale);
    let limit = usize::from(precision.saturating_sub(scale));
    if int_digits > limit {
        return Err(ValueError::TooManyIntegerDigits {
            text,
            limit,
            precision,
            scale,
        });
    }
    if frac.trim_end_matches('0').len() > usize::from(scale) {
        return Err(ValueError::TooManyDecimalPlaces {
            text,
            precision,
            scale,
        });
    }
    Ok(())
}

/// RFC 3339 (`2024-05-01T12:00:00Z`, any offset), `YYYY-MM-DD hh:mm:ss[.f]` in UTC, or
/// Unix seconds as an integer.
fn date_time(
    value: &Value,
    min: (i32, u32, u32),
    max: (i32, u32, u32),
    name: &'static str,
) -> Result<(), ValueError> {
    let utc = match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.naive_utc())
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
            .map_err(|_| unreadable(text, "a date-time (RFC 3339, e.g. 2024-05-01T12:00:00Z)"))?,
        Value::Number(n) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(|t| t.naive_utc())
            .ok_or_else(|| ValueError::NotUnixSeconds(n.clone()))?,
        other => return Err(expected("a date-time string", other)),
    };
    in_range(utc.date(), min, max, || value.to_string(), name)
}

/// A valid date written exactly `YYYY-MM-DD`, read without a format parser (the common
/// case; anything else goes to chrono's `%Y-%m-%d`).
fn plain_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..])?)
}

/// Checks that `date` lies within `min..=max`; `text` shows the value in the error.
fn in_range(
    date: NaiveDate,
    min: (i32, u32, u32),
    max: (i32, u32, u32),
    text: impl FnOnce() -> String,
    ty: &'static str,
) -> Result<(), ValueError> {
    let bound =
        |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
    if date < bound(min) || date > bound(max) {
        Err(ValueError::OutsideDateRange {
            text: text(),
            ty,
            min: bound(min),
            max: bound(max),
        })
    } else {
        Ok(())
    }
}

/// A value's JSON kind as a phrase: `a string`, `null`, ...
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) if items.len() <= 4 && items.iter().all(|i| !i.is_array()) => {
            Value::Array(items.clone()).to_string()
        }
        other => kind(other).to_string(),
    }
}
