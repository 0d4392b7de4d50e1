//! Model types as ClickHouse names them.

use crate::sql::quote_string;

use super::lower::{IntType, TypeLowering};
use super::{
    AggregateKind, DataType, DecimalSpec, EnumMember, Field, GeoShape, Model, ScalarType,
    TableEngine, TypeWrapper,
};

/// ClickHouse's names of the types.
struct ClickHouseNames;

impl TypeLowering for ClickHouseNames {
    type Output = String;

    fn string(&mut self, low_cardinality: bool) -> String {
        if low_cardinality {
            "LowCardinality(String)".into()
        } else {
            "String".into()
        }
    }
    fn integer(&mut self, int: IntType) -> String {
        int.name()
    }
    fn float(&mut self, bits: u8) -> String {
        format!("Float{bits}")
    }
    fn boolean(&mut self) -> String {
        "Bool".into()
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> String {
        format!("Decimal({}, {})", spec.precision, spec.scale)
    }
    fn date(&mut self) -> String {
        "Date".into()
    }
    fn date_time(&mut self, precision: Option<u8>) -> String {
        match precision {
            Some(precision) => format!("DateTime64({precision})"),
            None => "DateTime".into(),
        }
    }
    fn uuid(&mut self) -> String {
        "UUID".into()
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> String {
        enum_type_name(members)
    }
    fn json(&mut self) -> String {
        "JSON".into()
    }
    /// A nested record is shown by its model's name.
    fn nested(&mut self, model: &str) -> String {
        model.to_string()
    }
    fn fixed_string(&mut self, bytes: u32) -> String {
        format!("FixedString({bytes})")
    }
    fn ipv4(&mut self) -> String {
        "IPv4".into()
    }
    fn ipv6(&mut self) -> String {
        "IPv6".into()
    }
    fn geo(&mut self, shape: GeoShape) -> String {
        shape.name().into()
    }
    fn array(&mut self, item: String) -> String {
        format!("Array({item})")
    }
    fn map(&mut self, value: String) -> String {
        format!("Map(String, {value})")
    }
    /// `LowCardinality` goes outside `Nullable`, as ClickHouse requires.
    fn nullable(&mut self, inner: String) -> String {
        match inner
            .strip_prefix("LowCardinality(")
            .and_then(|s| s.strip_suffix(')'))
        {
            Some(inner) => format!("LowCardinality(Nullable({inner}))"),
            None => format!("Nullable({inner})"),
        }
    }
}

impl ScalarType {
    /// The ClickHouse name of the type; a nested record is shown by its model's name.
    pub fn type_name(&self) -> String {
        self.lower(&mut ClickHouseNames)
    }

    /// Integer and floating-point types (not decimals).
    pub fn is_number(&self) -> bool {
        matches!(
            self,
            ScalarType::Int8
                | ScalarType::Int16
                | ScalarType::Int32
                | ScalarType::Int64
                | ScalarType::Uint8
                | ScalarType::Uint16
                | ScalarType::Uint32
                | ScalarType::Uint64
                | ScalarType::Int128
                | ScalarType::Int256
                | ScalarType::Uint128
                | ScalarType::Uint256
                | ScalarType::Float32
                | ScalarType::Float64
        )
    }
}

fn enum_type_name(members: &[EnumMember]) -> String {
    let fits_int8 = members.iter().all(|m| i8::try_from(m.value).is_ok());
    let body: Vec<String> = members
        .iter()
        .map(|m| format!("{} = {}", quote_string(&m.name), m.value))
        .collect();
    format!(
        "Enum{}({})",
        if fits_int8 { 8 } else { 16 },
        body.join(", ")
    )
}

impl DataType {
    /// The ClickHouse name of the whole type, e.g. `Array(Nullable(String))`.
    /// `LowCardinality` goes outside `Nullable`, as ClickHouse requires.
    pub fn type_name(&self) -> String {
        self.lower(&mut ClickHouseNames)
    }

    /// A value may be null (the outermost wrapper is `nullable`).
    pub fn is_nullable(&self) -> bool {
        self.wrappers.first() == Some(&TypeWrapper::Nullable)
    }

    /// A plain scalar with no wrappers.
    pub fn scalar(&self) -> Option<&ScalarType> {
        self.wrappers.is_empty().then_some(&self.leaf)
    }
}

impl DataType {
    /// `leaf` inside `wrappers`, outermost first.
    pub fn new(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Self {
        Self { wrappers, leaf }
    }
}

impl Field {
    /// A field that is not a key, with no default and no doc.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Self {
            name: name.into(),
            data_type,
            key: false,
            default: None,
            doc: None,
            aggregate: None,
            codec: None,
            ttl: None,
        }
    }

    /// The ClickHouse name of the column's type: the field's type, or for an aggregate
    /// column `AggregateFunction(function, arguments...)` or
    /// `SimpleAggregateFunction(function, type)` (nested records by their model's name).
    pub fn type_name(&self) -> String {
        match self.type_name_with(|ty| Ok::<_, std::convert::Infallible>(ty.type_name())) {
            Ok(name) => name,
            Err(never) => match never {},
        }
    }

    /// [`Field::type_name`] with each type (the field's, the state's arguments) named by
    /// `name`: the DDL resolves nested records to `Tuple`s this way.
    pub fn type_name_with<E>(
        &self,
        name: impl Fn(&DataType) -> Result<String, E>,
    ) -> Result<String, E> {
        let ty = name(&self.data_type)?;
        Ok(match &self.aggregate {
            None => ty,
            Some(aggregate) => match &aggregate.kind {
                AggregateKind::Simple => {
                    format!("SimpleAggregateFunction({}, {ty})", aggregate.function)
                }
                AggregateKind::State(arguments) => {
                    let mut parts = vec![aggregate.function.clone()];
                    for argument in arguments {
                        parts.push(name(argument)?);
                    }
                    format!("AggregateFunction({})", parts.join(", "))
                }
            },
        })
    }

    /// Whether the column holds aggregate states, which records cannot carry.
    pub fn is_aggregate_state(&self) -> bool {
        self.aggregate
            .as_ref()
            .is_some_and(|a| matches!(a.kind, AggregateKind::State(_)))
    }
}

impl Model {
    /// An unversioned model with no doc.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Self {
            name: name.into(),
            version: None,
            fields,
            doc: None,
        }
    }
}

impl TableEngine {
    /// The engine's name and arguments, each column name passed through `column`:
    /// `("ReplacingMergeTree", ["updated_at"])`.
    pub fn parts(&self, column: impl Fn(&str) -> String) -> (&'static str, Vec<String>) {
        match self {
            TableEngine::MergeTree => ("MergeTree", vec![]),
            TableEngine::ReplacingMergeTree(replacing) => (
                "ReplacingMergeTree",
                replacing
                    .version
                    .iter()
                    .chain(&replacing.is_deleted)
                    .map(|c| column(c))
                    .collect(),
            ),
            TableEngine::SummingMergeTree(columns) if columns.is_empty() => {
                ("SummingMergeTree", vec![])
            }
            TableEngine::SummingMergeTree(columns) => {
                let columns: Vec<String> = columns.iter().map(|c| column(c)).collect();
                (
                    "SummingMergeTree",
                    vec![format!("({})", columns.join(", "))],
                )
            }
            TableEngine::AggregatingMergeTree => ("AggregatingMergeTree", vec![]),
            TableEngine::CollapsingMergeTree(sign) => ("CollapsingMergeTree", vec![column(sign)]),
            TableEngine::VersionedCollapsingMergeTree(v) => (
                "VersionedCollapsingMergeTree",
                vec![column(&v.sign), column(&v.version)],
            ),
        }
    }

    /// The engine clause, e.g. `ReplacingMergeTree(updated_at)`.
    pub fn sql(&self) -> String {
        match self.parts(str::to_string) {
            (name, args) if args.is_empty() => name.to_string(),
            (name, args) => format!("{name}({})", args.join(", ")),
        }
    }

    /// The columns the engine names, each with what it is for: (`version`, column).
    pub fn columns(&self) -> Vec<(&'static str, &str)> {
        match self {
            TableEngine::MergeTree | TableEngine::AggregatingMergeTree => vec![],
            TableEngine::ReplacingMergeTree(r) => r
                .version
                .iter()
                .map(|c| ("version", c.as_str()))
                .chain(r.is_deleted.iter().map(|c| ("is_deleted", c.as_str())))
                .collect(),
            TableEngine::SummingMergeTree(columns) => {
                columns.iter().map(|c| ("summed", c.as_str())).collect()
            }
            TableEngine::CollapsingMergeTree(sign) => vec![("sign", sign.as_str())],
            TableEngine::VersionedCollapsingMergeTree(v) => {
                vec![("sign", v.sign.as_str()), ("version", v.version.as_str())]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DecimalSpec;

    fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
        DataType { wrappers, leaf }
    }

    #[test]
    fn names_wrapped_types_outermost_first() {
        let t = ty(
            vec![TypeWrapper::Array, TypeWrapper::Nullable],
            ScalarType::String,
        );
        assert_eq!(t.type_name(), "Array(Nullable(String))");
        let t = ty(
            vec![TypeWrapper::Map, TypeWrapper::Array],
            ScalarType::Uint8,
        );
        assert_eq!(t.type_name(), "Map(String, Array(UInt8))");
    }

    #[test]
    fn low_cardinality_goes_outside_nullable() {
        let t = ty(
            vec![TypeWrapper::Nullable],
            ScalarType::LowCardinalityString,
        );
        assert_eq!(t.type_name(), "LowCardinality(Nullable(String))");
        let t = ty(
            vec![TypeWrapper::Array, TypeWrapper::Nullable],
            ScalarType::LowCardinalityString,
        );
        assert_eq!(t.type_name(), "Array(LowCardinality(Nullable(String)))");
    }

    #[test]
    fn names_parameterised_scalars() {
        let d = ScalarType::Decimal(DecimalSpec {
            precision: 18,
            scale: 4,
        });
        assert_eq!(d.type_name(), "Decimal(18, 4)");
        assert_eq!(ScalarType::DateTime64(3).type_name(), "DateTime64(3)");
        let small = ScalarType::Enum(vec![
            EnumMember {
                name: "it's".into(),
                value: 1,
            },
            EnumMember {
                name: "b".into(),
                value: -2,
            },
        ]);
        assert_eq!(small.type_name(), r"Enum8('it\'s' = 1, 'b' = -2)");
        let wide = ScalarType::Enum(vec![EnumMember {
            name: "x".into(),
            value: 300,
        }]);
        assert_eq!(wide.type_name(), "Enum16('x' = 300)");
    }
}
