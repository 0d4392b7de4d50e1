//! [`Decimal<P, S>`]: fixed-point numbers with a precision and a scale.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Why a value does not fit a [`Decimal<P, S>`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalError(String);

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecimalError {}

/// A fixed-point number with `P` significant digits, `S` of them after the point:
/// `Decimal(P, S)` in ClickHouse. `1 <= P <= 28`, `S <= P` (checked at compile time).
///
/// Values are rounded to `S` decimals (half away from zero) when built or parsed, and
/// rejected when they need more than `P - S` integer digits. On the wire it is a JSON
/// string with exactly `S` decimals (`"12.50"`); parsing also accepts JSON numbers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal<const P: u8, const S: u8>(rust_decimal::Decimal);

impl<const P: u8, const S: u8> Decimal<P, S> {
    pub(crate) const VALID: () = assert!(
        P >= 1 && P <= 28 && S <= P,
        "Decimal<P, S> needs 1 <= P <= 28 and S <= P"
    );

    /// `value` rounded to `S` decimals, or an error when it needs more than `P` digits.
    pub fn new(value: rust_decimal::Decimal) -> Result<Self, DecimalError> {
        let () = Self::VALID;
        let mut rounded = value.round_dp_with_strategy(
            S as u32,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        rounded.rescale(S as u32);
        let limit = 10i128.pow(P as u32);
        if rounded.mantissa().abs() >= limit {
            return Err(DecimalError(format!(
                "{value} does not fit Decimal({P}, {S})"
            )));
        }
        Ok(Decimal(rounded))
    }

    /// The value.
    pub fn value(self) -> rust_decimal::Decimal {
        self.0
    }
}

impl<const P: u8, const S: u8> fmt::Debug for Decimal<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal<{P}, {S}>({})", self.0)
    }
}

impl<const P: u8, const S: u8> fmt::Display for Decimal<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<const P: u8, const S: u8> FromStr for Decimal<P, S> {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = rust_decimal::Decimal::from_str(s)
            .or_else(|_| rust_decimal::Decimal::from_scientific(s))
            .map_err(|e| DecimalError(format!("invalid decimal {s:?}: {e}")))?;
        Self::new(value)
    }
}

impl<const P: u8, const S: u8> TryFrom<rust_decimal::Decimal> for Decimal<P, S> {
    type Error = DecimalError;
    fn try_from(value: rust_decimal::Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const P: u8, const S: u8> From<Decimal<P, S>> for rust_decimal::Decimal {
    fn from(value: Decimal<P, S>) -> Self {
        value.0
    }
}

impl<const P: u8, const S: u8> Serialize for Decimal<P, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de, const P: u8, const S: u8> Deserialize<'de> for Decimal<P, S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecimalVisitor<const P: u8, const S: u8>;

        impl<const P: u8, const S: u8> Visitor<'_> for DecimalVisitor<P, S> {
            type Value = Decimal<P, S>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a Decimal({P}, {S}) as a string or a number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Decimal::new(v.into()).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Decimal::new(v.into()).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                let value = rust_decimal::Decimal::try_from(v)
                    .map_err(|e| E::custom(format!("invalid decimal {v}: {e}")))?;
                Decimal::new(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(DecimalVisitor::<P, S>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rounds_and_prints_scale() {
        let d: Decimal<10, 2> = "12.5".parse().unwrap();
        assert_eq!(d.to_string(), "12.50");
        let d: Decimal<10, 2> = "0.125".parse().unwrap();
        assert_eq!(d.to_string(), "0.13");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"0.13\"");
    }

    #[test]
    fn decimal_wire_accepts_strings_and_numbers() {
        let d: Decimal<5, 2> = serde_json::from_str("\"-1.5\"").unwrap();
        assert_eq!(d.to_string(), "-1.50");
        let d: Decimal<5, 2> = serde_json::from_str("3.14159").unwrap();
        assert_eq!(d.to_string(), "3.14");
        let d: Decimal<5, 0> = serde_json::from_str("42").unwrap();
        assert_eq!(d.to_string(), "42");
    }

    #[test]
    fn decimal_rejects_overflow() {
        assert!("1000.00".parse::<Decimal<5, 2>>().is_err());
        assert!("999.994".parse::<Decimal<5, 2>>().is_ok());
        assert!("999.995".parse::<Decimal<5, 2>>().is_err());
        assert!(serde_json::from_str::<Decimal<5, 2>>("\"abc\"").is_err());
    }
}
