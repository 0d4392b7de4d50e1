//! The one walk over the model's types. Every target that turns a type into something
//! else (ClickHouse column types, JSON Schema, client SDK types, record validators)
//! implements [`TypeLowering`], one method per kind of type; [`DataType::lower`] and
//! [`ScalarType::lower`] are the only matches over the types, so a new type is a compile
//! error in every target until each handles it.

use super::{DataType, DecimalSpec, EnumMember, ScalarType, TypeWrapper};

/// Width and sign of an integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntType {
    /// 8, 16, 32 or 64.
    pub bits: u8,
    pub signed: bool,
}

impl IntType {
    /// The smallest value.
    pub fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    /// The largest value.
    pub fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    /// Wider than JavaScript's safe integers (`Int64`, `UInt64`).
    pub fn is_wide(self) -> bool {
        self.bits > 32
    }

    /// The ClickHouse name, e.g. `Int8` or `UInt64`.
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
    /// `Int8` to `UInt64`.
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
        let int8 = IntType {
            bits: 8,
            signed: true,
        };
        assert_eq!(
            (int8.min(), int8.max(), int8.name()),
            (-128, 127, "Int8".into())
        );
        let uint64 = IntType {
            bits: 64,
            signed: false,
        };
        assert_eq!(
            (uint64.min(), uint64.max(), uint64.name()),
            (0, u64::MAX as i128, "UInt64".into())
        );
        assert!(uint64.is_wide() && !int8.is_wide());
    }
}
