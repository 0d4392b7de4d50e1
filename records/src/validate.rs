//! Checks JSON records against a model: required fields, types, integer widths, enum
//! members, date and time formats, decimals, nested records, arrays and maps.
//!
//! A model is compiled once into a [`ModelValidator`] (nested models resolved), then each
//! record is checked in one pass. Every problem in a record is reported with the path of
//! the field (`items[2].sku`, `attrs["colour"]`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use moose_model::app::App;
use moose_model::types::{
    DataType, DecimalSpec, EnumMember, GeoShape, IntType, ScalarType, TypeLowering,
};

mod scalar;
mod text;

pub use scalar::ValueError;
use scalar::{kind, Check};
use text::KeyValues;

use crate::key::{join_key, record_key};
use crate::parse::parse_record;

/// One problem in a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field, empty for the record itself.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "field `{}`: {}", self.field, self.problem)
        }
    }
}

/// A line that is not a record of a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("is not JSON: {0}")]
    NotJson(String),
    #[error("does not match model `{model}`: {}", joined(.problems))]
    Mismatch {
        model: String,
        problems: Vec<FieldError>,
    },
}

/// Field problems as one message.
fn joined(problems: &[FieldError]) -> String {
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    problems.join("; ")
}

/// A model compiled for checking records.
#[derive(Debug, Clone)]
pub struct ModelValidator {
    model: String,
    fields: Arc<[FieldRule]>,
}

#[derive(Debug)]
struct FieldRule {
    name: String,
    ty: Rule,
    /// Absent is fine: the field is nullable or has a default.
    optional: bool,
}

#[derive(Debug)]
enum Rule {
    Nullable(Box<Rule>),
    Array(Box<Rule>),
    Map(Box<Rule>),
    Record(Arc<[FieldRule]>),
    Scalar(Check),
}

impl ModelValidator {
    /// Compiles model `model` (a reference such as `Order` or `Order@1.1`) of `app`.
    /// `None` when the app has no such model.
    pub fn new(app: &App, model: &str) -> Option<Self> {
        let mut compiled = BTreeMap::new();
        let fields = compile_model(app, model, &mut compiled)?;
        Some(Self {
            model: model.to_string(),
            fields,
        })
    }

    /// The model's reference.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Checks one record's text strictly (a field named twice, at any depth, is refused:
    /// JSON parsers disagree on which value wins) and returns its stream key on
    /// `key_fields`; every problem when it does not fit.
    pub fn check_record(
        &self,
        raw: &[u8],
        key_fields: &[String],
    ) -> Result<Option<Vec<u8>>, Vec<FieldError>> {
        if let Some(key) = self.fits(raw, key_fields) {
            return Ok(key);
        }
        let value = parse_record(raw).map_err(|problem| {
            vec![FieldError {
                field: String::new(),
                problem: problem.to_string(),
            }]
        })?;
        self.validate(&value)?;
        Ok(record_key(&value, key_fields))
    }

    /// Reads one JSON line (a function's output) and checks it as a record of the model;
    /// returns its stream key on `key_fields`.
    pub fn check_line(
        &self,
        line: &[u8],
        key_fields: &[String],
    ) -> Result<Option<Vec<u8>>, LineError> {
        if let Some(key) = self.fits(line, key_fields) {
            return Ok(key);
        }
        let value =
            serde_json::from_slice::<Value>(line).map_err(|e| LineError::NotJson(e.to_string()))?;
        self.validate(&value)
            .map_err(|problems| LineError::Mismatch {
                model: self.model.clone(),
                problems,
            })?;
        Ok(record_key(&value, key_fields))
    }

    /// The stream key of `raw` when it fits the model, read without building a value;
    /// `None` sends it the full way, which names its problems.
    fn fits(&self, raw: &[u8], key_fields: &[String]) -> Option<Option<Vec<u8>>> {
        let mut keys = KeyValues::new(key_fields);
        text::fits(&self.fields, raw, &mut keys)
            .then(|| (!key_fields.is_empty()).then(|| join_key(keys.values())))
    }

    /// Checks one record; all problems are reported.
    pub fn validate(&self, record: &Value) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match record {
            Value::Object(object) => check_record(&self.fields, object, Path::Root, &mut errors),
            other => errors.push(FieldError {
                field: String::new(),
                problem: format!("expected a JSON object, found {}", kind(other)),
            }),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn compile_model(
    app: &App,
    model: &str,
    compiled: &mut BTreeMap<String, Arc<[FieldRule]>>,
) -> Option<Arc<[FieldRule]>> {
    if let Some(done) = compiled.get(model) {
        return Some(done.clone());
    }
    let def = app.model(model)?;
    let mut fields = Vec::with_capacity(def.fields.len());
    for field in &def.fields {
        fields.push(FieldRule {
            name: field.name.clone(),
            ty: compile_type(app, &field.data_type, compiled)?,
            optional: field.data_type.is_nullable() || field.default.is_some(),
        });
    }
    let fields: Arc<[FieldRule]> = fields.into();
    compiled.insert(model.to_string(), fields.clone());
    Some(fields)
}

/// Types lowered into rules; nested models are compiled once each (none without an app).
struct Compiler<'a> {
    app: Option<&'a App>,
    compiled: &'a mut BTreeMap<String, Arc<[FieldRule]>>,
}

impl Compiler<'_> {
    fn scalar(check: Check) -> Option<Rule> {
        Some(Rule::Scalar(check))
    }
}

impl TypeLowering for Compiler<'_> {
    type Output = Option<Rule>;

    fn string(&mut self, _: bool) -> Option<Rule> {
        Self::scalar(Check::String)
    }
    fn integer(&mut self, int: IntType) -> Option<Rule> {
        Self::scalar(Check::Integer(int))
    }
    fn float(&mut self, bits: u8) -> Option<Rule> {
        Self::scalar(Check::Float(bits))
    }
    fn boolean(&mut self) -> Option<Rule> {
        Self::scalar(Check::Boolean)
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> Option<Rule> {
        Self::scalar(Check::Decimal(*spec))
    }
    fn date(&mut self) -> Option<Rule> {
        Self::scalar(Check::Date)
    }
    fn date_time(&mut self, precision: Option<u8>) -> Option<Rule> {
        Self::scalar(Check::DateTime(precision))
    }
    fn uuid(&mut self) -> Option<Rule> {
        Self::scalar(Check::Uuid)
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> Option<Rule> {
        Self::scalar(Check::Enum(members.to_vec()))
    }
    fn json(&mut self) -> Option<Rule> {
        Self::scalar(Check::Json)
    }
    fn fixed_string(&mut self, bytes: u32) -> Option<Rule> {
        Self::scalar(Check::FixedString(bytes))
    }
    fn ipv4(&mut self) -> Option<Rule> {
        Self::scalar(Check::Ipv4)
    }
    fn ipv6(&mut self) -> Option<Rule> {
        Self::scalar(Check::Ipv6)
    }
    fn geo(&mut self, shape: GeoShape) -> Option<Rule> {
        Self::scalar(Check::Geo(shape))
    }
    fn nested(&mut self, model: &str) -> Option<Rule> {
        Some(Rule::Record(compile_model(
            self.app?,
            model,
            self.compiled,
        )?))
    }
    fn array(&mut self, item: Option<Rule>) -> Option<Rule> {
        Some(Rule::Array(Box::new(item?)))
    }
    fn map(&mut self, value: Option<Rule>) -> Option<Rule> {
        Some(Rule::Map(Box::new(value?)))
    }
    fn nullable(&mut self, inner: Option<Rule>) -> Option<Rule> {
        Some(Rule::Nullable(Box::new(inner?)))
    }
}

fn compile_type(
    app: &App,
    ty: &DataType,
    compiled: &mut BTreeMap<String, Arc<[FieldRule]>>,
) -> Option<Rule> {
    ty.lower(&mut Compiler {
        app: Some(app),
        compiled,
    })
}

/// Where a value sits in a record; spelled out only for an error (`items[2].sku`,
/// `attrs["colour"]`, empty for the record itself).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, key) => write!(f, "{parent}[{key:?}]"),
        }
    }
}

fn check_record(
    fields: &[FieldRule],
    object: &Map<String, Value>,
    path: Path<'_>,
    errors: &mut Vec<FieldError>,
) {
    let mut present = 0;
    for field in fields {
        let field_path = Path::Field(&path, &field.name);
        match object.get(&field.name) {
            None if field.optional => {}
            None => errors.push(FieldError {
                field: field_path.to_string(),
                problem: "is required but missing".into(),
            }),
            Some(value) => {
                present += 1;
                check(&field.ty, value, field_path, errors);
            }
        }
    }
    // Keys are unique: when each matched a field, none is unknown.
    if object.len() > present {
        for key in object.keys() {
            if !fields.iter().any(|f| &f.name == key) {
                errors.push(FieldError {
                    field: Path::Field(&path, key).to_string(),
                    problem: "is not a field of the model".into(),
                });
            }
        }
    }
}

fn check(rule: &Rule, value: &Value, path: Path<'_>, errors: &mut Vec<FieldError>) {
    let mut fail = |problem: String| {
        errors.push(FieldError {
            field: path.to_string(),
            problem,
        })
    };
    match (rule, value) {
        (Rule::Nullable(_), Value::Null) => {}
        (Rule::Nullable(inner), value) => check(inner, value, path, errors),
        (_, Value::Null) => fail("must not be null".into()),
        (Rule::Array(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(inner, item, Path::Index(&path, i), errors);
            }
        }
        (Rule::Array(_), other) => fail(format!("expected an array, found {}", kind(other))),
        (Rule::Map(inner), Value::Object(entries)) => {
            for (key, item) in entries {
                check(inner, item, Path::Key(&path, key), errors);
            }
        }
        (Rule::Map(_), other) => fail(format!("expected an object (map), found {}", kind(other))),
        (Rule::Record(fields), Value::Object(object)) => check_record(fields, object, path, errors),
        (Rule::Record(_), other) => fail(format!(
            "expected an object (nested record), found {}",
            kind(other)
        )),
        (Rule::Scalar(scalar), value) => {
            if let Err(problem) = scalar.check(value) {
                fail(problem.to_string());
            }
        }
    }
}

/// Checks one scalar value against its type.
pub fn check_scalar(scalar: &ScalarType, value: &Value) -> Result<(), ValueError> {
    let mut compiled = BTreeMap::new();
    let mut scalars = Compiler {
        app: None,
        compiled: &mut compiled,
    };
    match scalar.lower(&mut scalars) {
        Some(Rule::Scalar(check)) => check.check(value),
        _ => Err(ValueError::NestedRecord),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moose_model::types::{AppDef, Field, Model, TypeWrapper};
    use serde_json::json;

    fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Field {
        Field::new(name, DataType::new(wrappers, leaf))
    }

    fn app() -> App {
        let address = Model {
            name: "Address".into(),
            version: None,
            fields: vec![field("city", vec![], ScalarType::String)],
            doc: None,
        };
        let mut with_default = field("region", vec![], ScalarType::LowCardinalityString);
        with_default.default = Some("'eu'".into());
        let every = Model {
            name: "Every".into(),
            version: None,
            fields: vec![
                field("s", vec![], ScalarType::String),
                field("i8", vec![], ScalarType::Int8),
                field("u64", vec![], ScalarType::Uint64),
                field("f32", vec![], ScalarType::Float32),
                field("b", vec![], ScalarType::Boolean),
                field(
                    "price",
                    vec![],
                    ScalarType::Decimal(DecimalSpec {
                        precision: 6,
                        scale: 2,
                    }),
                ),
                field("day", vec![], ScalarType::Date),
                field("at", vec![], ScalarType::DateTime),
                field("at_ms", vec![], ScalarType::DateTime64(3)),
                field("id", vec![], ScalarType::Uuid),
                field(
                    "tier",
                    vec![],
                    ScalarType::Enum(vec![EnumMember {
                        name: "gold".into(),
                        value: 1,
                    }]),
                ),
                field("doc", vec![], ScalarType::Json),
                field("home", vec![], ScalarType::Nested("Address".into())),
                field(
                    "tags",
                    vec![TypeWrapper::Array, TypeWrapper::Nullable],
                    ScalarType::String,
                ),
                field("scores", vec![TypeWrapper::Map], ScalarType::Int32),
                field("note", vec![TypeWrapper::Nullable], ScalarType::String),
                with_default,
                field("i128", vec![], ScalarType::Int128),
                field("u256", vec![], ScalarType::Uint256),
                field("code", vec![], ScalarType::FixedString(3)),
                field("v4", vec![], ScalarType::Ipv4),
                field("v6", vec![], ScalarType::Ipv6),
                field("at_point", vec![], ScalarType::Geo(GeoShape::Point)),
                field("area", vec![], ScalarType::Geo(GeoShape::Polygon)),
            ],
            doc: None,
        };
        App {
            name: "t".into(),
            components: vec![],
            def: AppDef {
                models: vec![address, every],
                ..AppDef::default()
            },
        }
    }

    fn valid() -> Value {
        json!({
            "s": "x", "i8": -128, "u64": "18446744073709551615", "f32": 1.5, "b": true,
            "price": "1234.50", "day": "2024-02-29", "at": "2024-05-01T12:00:00+02:00",
            "at_ms": "2024-05-01T12:00:00.123Z", "id": "550e8400-e29b-41d4-a716-446655440000",
            "tier": "gold", "doc": {"any": [1, 2]}, "home": {"city": "Oslo"},
            "tags": ["a", null], "scores": {"x": 1},
            "i128": "-170141183460469231731687303715884105728",
            "u256": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "code": "NOK", "v4": "10.0.0.1", "v6": "2001:db8::1", "at_point": [10.5, -3],
            "area": [[[0, 0], [10, 0], [10, 10], [0, 0]], [[2, 2], [3, 3], [2, 3]]]
        })
    }

    fn problems(record: Value) -> Vec<String> {
        let validator = ModelValidator::new(&app(), "Every").expect("model exists");
        match validator.validate(&record) {
            Ok(()) => vec![],
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn with(key: &str, value: Value) -> Value {
        let mut record = valid();
        record[key] = value;
        record
    }

    #[test]
    fn accepts_every_type_and_omitted_optional_fields() {
        assert_eq!(problems(valid()), Vec::<String>::new());
        assert_eq!(
            problems(with("at", json!(1714564800))),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(with("at", json!("2024-05-01 12:00:00"))),
            Vec::<String>::new()
        );
        for (key, value) in [
            ("i128", json!(-5)),
            ("u256", json!(18446744073709551615u64)),
            ("code", json!("")),
            ("v6", json!("::ffff:10.0.0.1")),
            ("area", json!([])),
        ] {
            assert_eq!(problems(with(key, value)), Vec::<String>::new(), "{key}");
        }
    }

    /// One bad value per case, with (part of) the message it gets.
    fn bad_values() -> Vec<(&'static str, Value, &'static str)> {
        vec![
            (
                "s",
                json!(5),
                "field `s`: expected a string, found a number",
            ),
            (
                "i8",
                json!(128),
                "field `i8`: 128 is out of range for Int8 (-128 to 127)",
            ),
            (
                "i8",
                json!(1.5),
                "field `i8`: expected an integer, found 1.5",
            ),
            (
                "u64",
                json!(-1),
                "field `u64`: -1 is out of range for UInt64",
            ),
            (
                "f32",
                json!(1e300),
                "field `f32`: 1e300 is out of range for Float32",
            ),
            (
                "b",
                json!("yes"),
                "field `b`: expected true or false, found a string",
            ),
            (
                "price",
                json!("12345.6"),
                "more than 4 digits before the point",
            ),
            ("price", json!(1.234), "more than 2 decimal places"),
            (
                "day",
                json!("2023-02-29"),
                "field `day`: \"2023-02-29\" is not a date (YYYY-MM-DD)",
            ),
            ("day", json!("1969-12-31"), "outside the Date range"),
            ("at", json!("yesterday"), "is not a date-time (RFC 3339"),
            (
                "id",
                json!("not-a-uuid"),
                "field `id`: \"not-a-uuid\" is not a UUID",
            ),
            (
                "tier",
                json!("silver"),
                "field `tier`: \"silver\" is not one of gold",
            ),
            (
                "doc",
                json!([1]),
                "field `doc`: expected a JSON object, found an array",
            ),
            (
                "home",
                json!({"city": 1}),
                "field `home.city`: expected a string",
            ),
            (
                "tags",
                json!(["a", 2]),
                "field `tags[1]`: expected a string",
            ),
            (
                "scores",
                json!({"x": "a"}),
                "field `scores[\"x\"]`: expected an integer",
            ),
            ("s", Value::Null, "field `s`: must not be null"),
            (
                "i128",
                json!("170141183460469231731687303715884105728"),
                "field `i128`: 170141183460469231731687303715884105728 is out of range for Int128 (-170141183460469231731687303715884105728 to 170141183460469231731687303715884105727)",
            ),
            (
                "u256",
                json!(1e80),
                "field `u256`: expected an integer, found 1e+80",
            ),
            (
                "code",
                json!("NOKK"),
                "field `code`: \"NOKK\" is 4 bytes long; FixedString(3) holds at most 3",
            ),
            (
                "v4",
                json!("10.0.0.256"),
                "field `v4`: \"10.0.0.256\" is not an IPv4 address",
            ),
            (
                "v6",
                json!("10.0.0.1"),
                "field `v6`: \"10.0.0.1\" is not an IPv6 address (write an IPv4 address mapped: ::ffff:a.b.c.d)",
            ),
            (
                "at_point",
                json!([1, 2, 3]),
                "field `at_point`: [1,2,3] is not Point: expected [x, y]",
            ),
            (
                "area",
                json!([[[0, 0], [1, "a"]]]),
                "field `area`: [1,\"a\"] is not Polygon: expected an array of arrays of [x, y] points",
            ),
            (
                "area",
                json!([[0, 0]]),
                "field `area`: 0 is not Polygon",
            ),
        ]
    }

    #[test]
    fn names_each_bad_field() {
        for (key, value, expected) in bad_values() {
            let found = problems(with(key, value.clone()));
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{key} = {value}: expected {expected:?}, got {found:?}"
            );
        }
    }

    #[test]
    fn reports_missing_and_unknown_fields_together() {
        let mut record = valid();
        record.as_object_mut().expect("object").remove("s");
        record["colour"] = json!("red");
        let found = problems(record);
        assert_eq!(
            found,
            vec![
                "field `s`: is required but missing".to_string(),
                "field `colour`: is not a field of the model".to_string()
            ]
        );
        assert_eq!(
            problems(json!([1])),
            vec!["expected a JSON object, found an array".to_string()]
        );
    }

    #[test]
    fn reading_the_text_agrees_with_checking_the_value() {
        let validator = ModelValidator::new(&app(), "Every").expect("model exists");
        let keys = ["id".to_string(), "s".to_string(), "note".to_string()];
        let mut records: Vec<String> = vec![valid().to_string()];
        for (key, value) in [
            ("at", json!(1714564800)),
            ("i128", json!(-5)),
            ("note", Value::Null),
            ("tags", Value::Null),
            ("home", json!({"city": "Oslo", "city": "Bergen"})),
            ("scores", json!({})),
            ("colour", json!("red")),
        ] {
            records.push(with(key, value).to_string());
        }
        for (key, value, _) in bad_values() {
            records.push(with(key, value).to_string());
        }
        let mut missing = valid();
        missing.as_object_mut().expect("object").remove("s");
        records.push(missing.to_string());
        let without_optional = json!({"s": "x"});
        records.push(without_optional.to_string());
        let text = valid().to_string();
        records.extend([
            // Named twice: at the top, in a nested record, in a map, in a JSON value.
            text.replacen("\"s\":\"x\"", "\"s\":\"x\",\"s\":\"y\"", 1),
            text.replacen("{\"city\"", "{\"city\":\"a\",\"city\"", 1),
            text.replacen("{\"x\":1}", "{\"x\":1,\"x\":2}", 1),
            text.replacen("{\"any\"", "{\"any\":1,\"any\"", 1),
            format!("{text} {{}}"),
            "[1]".into(),
            "{\"s\": \"a\\u00e9\\n\"}".into(),
        ]);
        for record in &records {
            let full = parse_record(record.as_bytes())
                .ok()
                .filter(|value| validator.validate(value).is_ok());
            let read = validator.fits(record.as_bytes(), &keys);
            assert_eq!(read.is_some(), full.is_some(), "{record}");
            if let (Some(key), Some(value)) = (read, full) {
                assert_eq!(key, record_key(&value, &keys), "{record}");
            }
        }
    }
}
