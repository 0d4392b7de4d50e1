//! [`Int256`] and [`UInt256`]: integers wider than Rust's primitives, kept as their digits.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Why text is not a 256-bit integer of the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WideIntError(String);

impl fmt::Display for WideIntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WideIntError {}

/// Canonical digits of `text` (no `+`, no leading zeros, no `-0`) when it is an integer
/// whose magnitude is at most `bound` (for negative values `negative_bound`).
fn canonical(
    text: &str,
    name: &str,
    bound: &str,
    negative_bound: Option<&str>,
) -> Result<String, WideIntError> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WideIntError(format!("{text:?} is not an integer")));
    }
    let magnitude = digits.trim_start_matches('0');
    if magnitude.is_empty() {
        return Ok("0".into());
    }
    let limit = match (negative, negative_bound) {
        (false, _) => bound,
        (true, Some(limit)) => limit,
        (true, None) => return Err(WideIntError(format!("{text} is out of range for {name}"))),
    };
    if (magnitude.len(), magnitude) > (limit.len(), limit) {
        return Err(WideIntError(format!("{text} is out of range for {name}")));
    }
    Ok(if negative {
        format!("-{magnitude}")
    } else {
        magnitude.to_string()
    })
}

/// Reads a JSON number or string of digits exactly (a JSON number of 78 digits would lose
/// them as a float).
fn read_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => Ok(inner.to_string()),
        None => Ok(text.to_string()),
    }
}

macro_rules! wide_int {
    ($name:ident, $label:literal, $max:literal, $min:expr) => {
        #[doc = concat!("`", $label, "`: held as its decimal digits, checked against the range.")]
        ///
        /// On the wire it is a JSON string of digits; parsing also accepts JSON numbers
        /// (read exactly, whatever their length).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The decimal digits, with a `-` for negative values.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = WideIntError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                canonical(text, $label, $max, $min).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<i128> for $name {
            fn from(value: i128) -> Self {
                $name(value.to_string())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                read_digits(deserializer)?
                    .parse()
                    .map_err(de::Error::custom)
            }
        }
    };
}

wide_int!(
    Int256,
    "Int256",
    "57896044618658097711785492504343953926634992332820282019728792003956564819967",
    Some("57896044618658097711785492504343953926634992332820282019728792003956564819968")
);

wide_int!(
    UInt256,
    "UInt256",
    "115792089237316195423570985008687907853269984665640564039457584007913129639935",
    None
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_prints_the_digits() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(max.parse::<UInt256>().unwrap().as_str(), max);
        assert_eq!("+007".parse::<UInt256>().unwrap().as_str(), "7");
        assert_eq!("-0".parse::<Int256>().unwrap().as_str(), "0");
        assert!("-1".parse::<UInt256>().is_err());
        assert!(format!("{max}0").parse::<UInt256>().is_err());
        assert!("1.5".parse::<Int256>().is_err());
        let min = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
        assert_eq!(min.parse::<Int256>().unwrap().to_string(), min);
        assert!(min.replace("968", "969").parse::<Int256>().is_err());
    }

    #[test]
    fn reads_numbers_and_strings_exactly_and_writes_strings() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let from_number: UInt256 = serde_json::from_str(max).unwrap();
        let from_string: UInt256 = serde_json::from_str(&format!("\"{max}\"")).unwrap();
        assert_eq!(from_number, from_string);
        assert_eq!(
            serde_json::to_string(&from_number).unwrap(),
            format!("\"{max}\"")
        );
        let error = serde_json::from_str::<Int256>("\"x\"").unwrap_err();
        assert!(
            error.to_string().contains("\"x\" is not an integer"),
            "{error}"
        );
    }
}
