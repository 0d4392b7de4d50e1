//! The one walk over the model's types. Every target that turns a type into something
//! else (ClickHouse column types, JSON Schema, client SDK types, record validators)
//! implements [`TypeLowering`], one method per kind of type; [`DataType::lower`] and
//! [`ScalarType::lower`] are the only matches over the types, so a new type is a compile
//! error in every target until each handles it.

use super::{DataType, DecimalSpec, EnumMember, GeoShape, ScalarType, TypeWrapper};

/// Width and sign of an integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntType {
    /// 8, 16, 32, 64, 128 or 256.
    pub bits: u16,
    pub signed: bool,
}

impl IntType {
    /// The smallest value, as decimal text.
    pub fn min(self) -> &'static str {
        match (self.signed, self.bits) {
            (false, _) => "0",
            (true, 8) => "-128",
            (true, 16) => "-32768",
            (true, 32) => "-2147483648",
            (true, 64) => "-9223372036854775808",
            (true, 128) => "-170141183460469231731687303715884105728",
            (true, _) => {
                "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
            }
        }
    }

    /// The largest value, as decimal text.
    pub fn max(self) -> &'static str {
        match (self.signed, self.bits) {
            (true, 8) => "127",
            (true, 16) => "32767",
            (true, 32) => "2147483647",
            (true, 64) => "9223372036854775807",
            (true, 128) => "170141183460469231731687303715884105727",
            (true, _) => {
                "57896044618658097711785492504343953926634992332820282019728792003956564819967"
            }
            (false, 8) => "255",
            (false, 16) => "65535",
            (false, 32) => "4294967295",
            (false, 64) => "18446744073709551615",
            (false, 128) => "340282366920938463463374607431768211455",
            (false, _) => {
                "115792089237316195423570985008687907853269984665640564039457584007913129639935"
            }
        }
    }

    /// Whether `text`, an optional sign and decimal digits, is an integer in range; `None`
    /// when it is not an integer.
    pub fn admits(self, text: &str) -> Option<bool> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let magnitude = digits.trim_start_matches('0');
        if magnitude.is_empty() {
            return Some(true);
        }
        let bound = if negative { self.min() } else { self.max() };
        let bound = bound.trim_start_matches('-');
        Some(negative <= self.signed && (magnitude.len(), magnitude) <= (bound.len(), bound))
    }

    /// Whether `value` is in range: the check of a JSON number, without its text. Every
    /// `i128` fits a signed type of 128 bits or more, every non-negative one an unsigned.
    pub fn admits_value(self, value: i128) -> bool {
        if self.bits >= 128 {
            return self.signed || value >= 0;
        }
        let (min, max) = if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        };
        (min..=max).contains(&value)
    }

    /// Wider than JavaScript's safe integers (`Int64` and wider).
    pub fn is_wide(self) -> bool {
        self.bits > 32
    }

    /// The ClickHouse name, e.g. `Int8` or `UInt256`.
    pub fn name(self) -> String {
        format!("{}Int{}", if self.signed { "" } else { "U" }, self.bits)
    }
}

/// What a target makes of each kind of type. Scalars are lowered first, then each
/// wrapper from the innermost out, with what the inner type lowered to.
pub trait TypeLowering {
    type Output;

    /// `String`, or `LowCardinality(String)`.
    fn string(&mut self, low_cardinality: bool) -> Self::Output;
    /// `Int8` to `UInt256`.
    fn integer(&mut self, int: IntType) -> Self::Output;
    /// `Float32` (`bits` 32) or `Float64`.
    fn float(&mut self, bits: u8) -> Self::Output;
    fn boolean(&mut self) -> Self::Output;
    fn decimal(&mut self, spec: &DecimalSpec) -> Self::Output;
    fn date(&mut self) -> Self::Output;
    /// `DateTime` (`precision` none) or `DateTime64(precision)`.
    fn date_time(&mut self, precision: Option<u8>) -> Self::Output;
    fn uuid(&mut self) -> Self::Output;
    fn enumeration(&mut self, members: &[EnumMember]) -> Self::Output;
    fn json(&mut self) -> Self::Output;
    /// A record of another model of the app (`model` is its reference).
    fn nested(&mut self, model: &str) -> Self::Output;
    /// `FixedString(bytes)`.
    fn fixed_string(&mut self, bytes: u32) -> Self::Output;
    fn ipv4(&mut self) -> Self::Output;
    fn ipv6(&mut self) -> Self::Output;
    fn geo(&mut self, shape: GeoShape) -> Self::Output;
    fn array(&mut self, item: Self::Output) -> Self::Output;
    /// `Map(String, value)`.
    fn map(&mut self, value: Self::Output) -> Self::Output;
    fn nullable(&mut self, inner: Self::Output) -> Self::Output;
}

impl ScalarType {
    /// This type as `target` makes it.
    pub fn lower<L: TypeLowering + ?Sized>(&self, target: &mut L) -> L::Output {
        let int = |bits, signed| IntType { bits, signed };
        match self {
            ScalarType::String => target.string(false),
            ScalarType::LowCardinalityString => target.string(true),
            ScalarType::Int8 => target.integer(int(8, true)),
            ScalarType::Int16 => target.integer(int(16, true)),
            ScalarType::Int32 => target.integer(int(32, true)),
            ScalarType::Int64 => target.integer(int(64, true)),
            ScalarType::Uint8 => target.integer(int(8, false)),
            ScalarType::Uint16 => target.integer(int(16, false)),
            ScalarType::Uint32 => target.integer(int(32, false)),
            ScalarType::Uint64 => target.integer(int(64, false)),
            ScalarType::Float32 => target.float(32),
            ScalarType::Float64 => target.float(64),
            ScalarType::Boolean => target.boolean(),
            ScalarType::Decimal(spec) => target.decimal(spec),
            ScalarType::Date => target.date(),
            ScalarType::DateTime => target.date_time(None),
            ScalarType::DateTime64(precision) => target.date_time(Some(*precision)),
            ScalarType::Uuid => target.uuid(),
            ScalarType::Enum(members) => target.enumeration(members),
            ScalarType::Json => target.json(),
            ScalarType::Nested(model) => target.nested(model),
            ScalarType::Int128 => target.integer(int(128, true)),
            ScalarType::Int256 => target.integer(int(256, true)),
            ScalarType::Uint128 => target.integer(int(128, false)),
            ScalarType::Uint256 => target.integer(int(256, false)),
            ScalarType::FixedString(bytes) => target.fixed_string(*bytes),
            ScalarType::Ipv4 => target.ipv4(),
            ScalarType::Ipv6 => target.ipv6(),
            ScalarType::Geo(shape) => target.geo(*shape),
        }
    }
}

impl DataType {
    /// This type as `target` makes it: the leaf, then the wrappers from the innermost out.
    pub fn lower<L: TypeLowering + ?Sized>(&self, target: &mut L) -> L::Output {
        let mut lowered = self.leaf.lower(target);
        for wrapper in self.wrappers.iter().rev() {
            lowered = match wrapper {
                TypeWrapper::Array => target.array(lowered),
                TypeWrapper::Map => target.map(lowered),
                TypeWrapper::Nullable => target.nullable(lowered),
            };
        }
        lowered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bounds_and_names() {
        let int = |bits, signed| IntType { bits, signed };
        assert_eq!(
            (int(8, true).min(), int(8, true).max(), int(8, true).name()),
            ("-128", "127", "Int8".into())
        );
        assert_eq!(int(64, false).max(), u64::MAX.to_string());
        assert_eq!(int(128, true).min(), i128::MIN.to_string());
        assert_eq!(int(128, true).max(), i128::MAX.to_string());
        assert_eq!(int(128, false).max(), u128::MAX.to_string());
        assert_eq!(int(256, false).name(), "UInt256");
        assert!(int(64, false).is_wide() && !int(8, true).is_wide());
        // Every bound is the one its width implies: 2^(bits-1) or 2^bits - 1.
        for bits in [8u16, 16, 32, 64] {
            let signed = int(bits, true);
            assert_eq!(
                signed.max().parse::<i128>().unwrap(),
                (1i128 << (bits - 1)) - 1
            );
            assert_eq!(
                signed.min().parse::<i128>().unwrap(),
                -(1i128 << (bits - 1))
            );
            let unsigned = int(bits, false);
            assert_eq!(unsigned.max().parse::<i128>().unwrap(), (1i128 << bits) - 1);
        }
    }

    #[test]
    fn admits_integers_in_range_only() {
        let int = |bits, signed| IntType { bits, signed };
        let uint8 = int(8, false);
        assert_eq!(uint8.admits("255"), Some(true));
        assert_eq!(uint8.admits("+0255"), Some(true));
        assert_eq!(uint8.admits("256"), Some(false));
        assert_eq!(uint8.admits("-1"), Some(false));
        assert_eq!(uint8.admits("-0"), Some(true));
        assert_eq!(uint8.admits("1.5"), None);
        assert_eq!(uint8.admits(""), None);
        assert_eq!(uint8.admits("-"), None);
        let int256 = int(256, true);
        assert_eq!(int256.admits(int256.min()), Some(true));
        assert_eq!(int256.admits(int256.max()), Some(true));
        let past = format!("{}8", &int256.max()[..int256.max().len() - 1]);
        assert_eq!(int256.admits(&past), Some(false));
        let uint256 = int(256, false);
        assert_eq!(uint256.admits(&format!("1{}", "0".repeat(78))), Some(false));
        assert_eq!(uint256.admits(uint256.max()), Some(true));
        // Numbers and their text agree, at and past every bound a 64-bit value can reach.
        for bits in [8u16, 16, 32, 64, 128, 256] {
            for signed in [true, false] {
                let ty = int(bits, signed);
                for value in [
                    i128::from(i64::MIN),
                    -129,
                    -1,
                    0,
                    127,
                    128,
                    255,
                    256,
                    i128::from(i64::MAX),
                    i128::from(u64::MAX),
                ] {
                    assert_eq!(
                        Some(ty.admits_value(value)),
                        ty.admits(&value.to_string()),
                        "{} {value}",
                        ty.name()
                    );
                }
            }
        }
    }
}
