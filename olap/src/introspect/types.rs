//! ClickHouse column types read back into model types.

use moose_model::types::{
    DataType, DecimalSpec, EnumMember, Field, GeoShape, Model, ScalarType, TypeWrapper,
};

use crate::type_text::{split_top_level, TypeText};

/// Reads column types, collecting the models of named tuples as it goes.
#[derive(Debug, Default)]
pub struct TypeReader {
    /// Models for named `Tuple`s and `Nested` columns, inner ones first.
    pub models: Vec<Model>,
}

impl TypeReader {
    /// The model type of ClickHouse type `text`; a named tuple becomes a model called
    /// `name` (its own named tuples `name` + the element's name, in PascalCase).
    pub fn read(&mut self, text: &str, name: &str) -> Result<DataType, String> {
        let ty = TypeText::parse(text);
        let arg = |index: usize| ty.args.get(index).copied().unwrap_or("");
        let leaf = |leaf: ScalarType| Ok(DataType::new(vec![], leaf));
        let integer = |index: usize| -> Result<u32, String> {
            arg(index)
                .trim()
                .parse()
                .map_err(|_| format!("{text}: expected a number as argument {}", index + 1))
        };
        match ty.name {
            "Nullable" => self.wrapped(TypeWrapper::Nullable, arg(0), name),
            "Array" => self.wrapped(TypeWrapper::Array, arg(0), name),
            "Map" => {
                let key = self.read(arg(0), name)?;
                if !matches!(
                    key.leaf,
                    ScalarType::String | ScalarType::LowCardinalityString
                ) || !key.wrappers.is_empty()
                {
                    return Err(format!("{text}: map keys must be strings"));
                }
                self.wrapped(TypeWrapper::Map, arg(1), name)
            }
            "LowCardinality" => {
                let mut inner = self.read(arg(0), name)?;
                if inner.leaf == ScalarType::String {
                    inner.leaf = ScalarType::LowCardinalityString;
                }
                Ok(inner)
            }
            "String" => leaf(ScalarType::String),
            "FixedString" => leaf(ScalarType::FixedString(integer(0)?)),
            "Int8" => leaf(ScalarType::Int8),
            "Int16" => leaf(ScalarType::Int16),
            "Int32" => leaf(ScalarType::Int32),
            "Int64" => leaf(ScalarType::Int64),
            "Int128" => leaf(ScalarType::Int128),
            "Int256" => leaf(ScalarType::Int256),
            "UInt8" => leaf(ScalarType::Uint8),
            "UInt16" => leaf(ScalarType::Uint16),
            "UInt32" => leaf(ScalarType::Uint32),
            "UInt64" => leaf(ScalarType::Uint64),
            "UInt128" => leaf(ScalarType::Uint128),
            "UInt256" => leaf(ScalarType::Uint256),
            "Float32" => leaf(ScalarType::Float32),
            "Float64" => leaf(ScalarType::Float64),
            "Bool" => leaf(ScalarType::Boolean),
            "Decimal" => {
                let precision = integer(0)?;
                let scale = if ty.args.len() > 1 { integer(1)? } else { 0 };
                decimal(text, precision, scale)
            }
            "Decimal32" => decimal(text, 9, integer(0)?),
            "Decimal64" => decimal(text, 18, integer(0)?),
            "Decimal128" => decimal(text, 38, integer(0)?),
            "Decimal256" => decimal(text, 76, integer(0)?),
            "Date" => leaf(ScalarType::Date),
            "DateTime" => leaf(ScalarType::DateTime),
            "DateTime64" => {
                let precision = u8::try_from(integer(0)?)
                    .map_err(|_| format!("{text}: precision out of range"))?;
                leaf(ScalarType::DateTime64(precision))
            }
            "UUID" => leaf(ScalarType::Uuid),
            "IPv4" => leaf(ScalarType::Ipv4),
            "IPv6" => leaf(ScalarType::Ipv6),
            "JSON" => leaf(ScalarType::Json),
            "Object" if arg(0).trim() == "'json'" => leaf(ScalarType::Json),
            "Enum8" | "Enum16" | "Enum" => leaf(ScalarType::Enum(enum_members(text, &ty.args)?)),
            "Tuple" => self
                .tuple(text, &ty.args, name)
                .map(|model| DataType::new(vec![], ScalarType::Nested(model))),
            "Nested" => self
                .tuple(text, &ty.args, name)
                .map(|model| DataType::new(vec![TypeWrapper::Array], ScalarType::Nested(model))),
            other => match GeoShape::ALL.into_iter().find(|s| s.name() == other) {
                Some(shape) => leaf(ScalarType::Geo(shape)),
                None => Err(format!("{text} has no model type")),
            },
        }
    }

    fn wrapped(
        &mut self,
        wrapper: TypeWrapper,
        inner: &str,
        name: &str,
    ) -> Result<DataType, String> {
        let mut ty = self.read(inner, name)?;
        ty.wrappers.insert(0, wrapper);
        Ok(ty)
    }

    /// A named tuple's model; its name.
    fn tuple(&mut self, text: &str, args: &[&str], name: &str) -> Result<String, String> {
        let mut fields = Vec::with_capacity(args.len());
        for element in args {
            let parts = split_top_level(element, ' ');
            let [field, ty] = parts.as_slice() else {
                return Err(format!(
                    "{text}: only tuples with named elements have a model type"
                ));
            };
            let field = field.trim_matches('`');
            let data_type = self.read(ty, &format!("{name}{}", pascal_case(field)))?;
            fields.push(Field::new(field, data_type));
        }
        let mut unique = name.to_string();
        let mut n = 2;
        while self.models.iter().any(|m| m.name == unique) {
            unique = format!("{name}{n}");
            n += 1;
        }
        self.models.push(Model {
            name: unique.clone(),
            version: None,
            fields,
            doc: None,
        });
        Ok(unique)
    }
}

fn decimal(text: &str, precision: u32, scale: u32) -> Result<DataType, String> {
    let spec = DecimalSpec {
        precision: u8::try_from(precision).map_err(|_| format!("{text}: precision too large"))?,
        scale: u8::try_from(scale).map_err(|_| format!("{text}: scale too large"))?,
    };
    Ok(DataType::new(vec![], ScalarType::Decimal(spec)))
}

/// `'a' = 1, 'it\'s' = 2`.
fn enum_members(text: &str, args: &[&str]) -> Result<Vec<EnumMember>, String> {
    args.iter()
        .map(|member| {
            let (name, value) = member
                .rsplit_once('=')
                .ok_or_else(|| format!("{text}: enum member {member} has no value"))?;
            let name = unquote(name.trim())
                .ok_or_else(|| format!("{text}: enum member {member} is not a quoted name"))?;
            let value = value
                .trim()
                .parse()
                .map_err(|_| format!("{text}: enum member {member} has no Int16 value"))?;
            Ok(EnumMember { name, value })
        })
        .collect()
}

/// A ClickHouse string literal's text.
fn unquote(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `user_id` → `UserId`.
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> DataType {
        TypeReader::default()
            .read(text, "T")
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Every type the DDL writes reads back as the type it was written from.
    #[test]
    fn reads_back_what_the_ddl_writes() {
        use ScalarType as S;
        use TypeWrapper as W;
        let cases = [
            DataType::new(vec![], S::String),
            DataType::new(vec![W::Nullable], S::LowCardinalityString),
            DataType::new(vec![W::Array, W::Nullable], S::Int8),
            DataType::new(vec![W::Map, W::Array], S::Uint256),
            DataType::new(
                vec![],
                S::Decimal(DecimalSpec {
                    precision: 18,
                    scale: 4,
                }),
            ),
            DataType::new(vec![], S::DateTime64(3)),
            DataType::new(vec![], S::FixedString(16)),
            DataType::new(vec![W::Nullable], S::Ipv6),
            DataType::new(vec![], S::Geo(GeoShape::MultiPolygon)),
            DataType::new(vec![], S::Json),
            DataType::new(
                vec![],
                S::Enum(vec![
                    EnumMember {
                        name: "it's".into(),
                        value: 1,
                    },
                    EnumMember {
                        name: "b = c".into(),
                        value: -3,
                    },
                ]),
            ),
        ];
        for ty in cases {
            assert_eq!(read(&ty.type_name()), ty);
        }
    }

    #[test]
    fn reads_server_spellings() {
        use ScalarType as S;
        assert_eq!(read("DateTime('UTC')"), DataType::new(vec![], S::DateTime));
        assert_eq!(
            read("DateTime64(6, 'Europe/Paris')"),
            DataType::new(vec![], S::DateTime64(6))
        );
        assert_eq!(
            read("Decimal64(2)"),
            DataType::new(
                vec![],
                S::Decimal(DecimalSpec {
                    precision: 18,
                    scale: 2
                })
            )
        );
        assert_eq!(
            read("LowCardinality(UInt32)"),
            DataType::new(vec![], S::Uint32)
        );
        assert_eq!(read("Object('json')"), DataType::new(vec![], S::Json));
    }

    #[test]
    fn named_tuples_and_nested_columns_become_models() {
        let mut reader = TypeReader::default();
        let ty = reader
            .read(
                "Tuple(street String, geo Tuple(`lat` Float64, lon Float64), tags Nested(k String, v UInt8))",
                "EventsAddress",
            )
            .expect("a named tuple");
        assert_eq!(
            ty,
            DataType::new(vec![], ScalarType::Nested("EventsAddress".into()))
        );
        let names: Vec<&str> = reader.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["EventsAddressGeo", "EventsAddressTags", "EventsAddress"]
        );
        let address = &reader.models[2];
        assert_eq!(
            address.fields[2].data_type,
            DataType::new(
                vec![TypeWrapper::Array],
                ScalarType::Nested("EventsAddressTags".into())
            )
        );
    }

    #[test]
    fn names_what_has_no_model_type() {
        let mut reader = TypeReader::default();
        for (text, problem) in [
            (
                "Map(UInt64, String)",
                "Map(UInt64, String): map keys must be strings",
            ),
            ("Tuple(String, UInt8)", "only tuples with named elements"),
            (
                "Variant(String, UInt64)",
                "Variant(String, UInt64) has no model type",
            ),
            ("Date32", "Date32 has no model type"),
        ] {
            let error = reader.read(text, "T").expect_err(text);
            assert!(error.contains(problem), "{text}: {error}");
        }
    }
}
