//! Checks JSON records against a model: required fields, types, integer widths, enum
//! members, date and time formats, decimals, nested records, arrays and maps.
//!
//! A model is compiled once into a [`ModelValidator`] (nested models resolved), then each
//! record is checked in one pass. Every problem in a record is reported with the path of
//! the field (`items[2].sku`, `attrs["colour"]`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use moose_model::app::App;
use moose_model::types::{DataType, DecimalSpec, EnumMember, IntType, ScalarType, TypeLowering};

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

/// How a scalar value is checked.
#[derive(Debug)]
enum Check {
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

    /// Checks one record; all problems are reported.
    pub fn validate(&self, record: &Value) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match record {
            Value::Object(object) => check_record(&self.fields, object, "", &mut errors),
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

fn check_record(
    fields: &[FieldRule],
    object: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for field in fields {
        let field_path = join(path, &field.name);
        match object.get(&field.name) {
            None if field.optional => {}
            None => errors.push(FieldError {
                field: field_path,
                problem: "is required but missing".into(),
            }),
            Some(value) => check(&field.ty, value, &field_path, errors),
        }
    }
    for key in object.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            errors.push(FieldError {
                field: join(path, key),
                problem: "is not a field of the model".into(),
            });
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn check(rule: &Rule, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
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
                check(inner, item, &format!("{path}[{i}]"), errors);
            }
        }
        (Rule::Array(_), other) => fail(format!("expected an array, found {}", kind(other))),
        (Rule::Map(inner), Value::Object(entries)) => {
            for (key, item) in entries {
                check(inner, item, &format!("{path}[{key:?}]"), errors);
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
                fail(problem);
            }
        }
    }
}

/// Checks one scalar value against its type; the message says what is wrong.
pub fn check_scalar(scalar: &ScalarType, value: &Value) -> Result<(), String> {
    let mut compiled = BTreeMap::new();
    let mut scalars = Compiler {
        app: None,
        compiled: &mut compiled,
    };
    match scalar.lower(&mut scalars) {
        Some(Rule::Scalar(check)) => check.check(value),
        _ => Err("nested records are checked as records".into()),
    }
}

impl Check {
    fn check(&self, value: &Value) -> Result<(), String> {
        match self {
            Check::String => string(value).map(drop),
            Check::Integer(int) => int_in(value, *int),
            Check::Float(32) => match value.as_f64() {
                Some(x) if x.abs() <= f32::MAX as f64 => Ok(()),
                Some(x) => Err(format!("{x:e} is out of range for Float32")),
                None => Err(format!("expected a number, found {}", kind(value))),
            },
            Check::Float(_) => value
                .as_f64()
                .map(drop)
                .ok_or_else(|| format!("expected a number, found {}", kind(value))),
            Check::Boolean => value
                .as_bool()
                .map(drop)
                .ok_or_else(|| format!("expected true or false, found {}", kind(value))),
            Check::Decimal(spec) => decimal(value, spec),
            Check::Date => {
                let text = string(value)?;
                let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))?;
                in_range(date, (1970, 1, 1), (2149, 6, 6), text, "Date")
            }
            Check::DateTime(None) => date_time(value, (1970, 1, 1), (2106, 2, 7), "DateTime"),
            Check::DateTime(Some(_)) => {
                date_time(value, (1900, 1, 1), (2299, 12, 31), "DateTime64")
            }
            Check::Uuid => {
                let text = string(value)?;
                uuid::Uuid::parse_str(text)
                    .map(drop)
                    .map_err(|_| format!("{text:?} is not a UUID"))
            }
            Check::Enum(members) => {
                let text = string(value)?;
                if members.iter().any(|m| m.name == text) {
                    Ok(())
                } else {
                    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                    Err(format!("{text:?} is not one of {}", names.join(", ")))
                }
            }
            Check::Json => match value {
                Value::Object(_) => Ok(()),
                other => Err(format!("expected a JSON object, found {}", kind(other))),
            },
        }
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {}", kind(value)))
}

/// Integers as JSON numbers, or as strings of digits (how JavaScript sends 64-bit values).
fn int_in(value: &Value, int: IntType) -> Result<(), String> {
    let (min, max) = (int.min(), int.max());
    let parsed: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(()),
        Some(n) => Err(format!(
            "{n} is out of range for {} ({min} to {max})",
            int.name()
        )),
        None => Err(format!("expected an integer, found {}", describe(value))),
    }
}

fn decimal(value: &Value, spec: &DecimalSpec) -> Result<(), String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => {
            return Err(format!(
                "expected a decimal number or string, found {}",
                kind(other)
            ))
        }
    };
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(&text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let int_digits = int.trim_start_matches('0').len();
    let (precision, scale) = (spec.precision as usize, spec.scale as usize);
    if int_digits > precision - scale {
        return Err(format!(
            "{text} has more than {} digits before the point for Decimal({precision}, {scale})",
            precision - scale
        ));
    }
    if frac.trim_end_matches('0').len() > scale {
        return Err(format!(
            "{text} has more than {scale} decimal places for Decimal({precision}, {scale})"
        ));
    }
    Ok(())
}

/// RFC 3339 (`2024-05-01T12:00:00Z`, any offset), `YYYY-MM-DD hh:mm:ss[.f]` in UTC, or
/// Unix seconds as an integer.
fn date_time(
    value: &Value,
    min: (i32, u32, u32),
    max: (i32, u32, u32),
    name: &str,
) -> Result<(), String> {
    let utc = match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.naive_utc())
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
            .map_err(|_| {
                format!("{text:?} is not a date-time (RFC 3339, e.g. 2024-05-01T12:00:00Z)")
            })?,
        Value::Number(n) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(|t| t.naive_utc())
            .ok_or_else(|| format!("{n} is not a Unix time in seconds"))?,
        other => {
            return Err(format!(
                "expected a date-time string, found {}",
                kind(other)
            ))
        }
    };
    in_range(utc.date(), min, max, &value.to_string(), name)
}

fn in_range(
    date: NaiveDate,
    min: (i32, u32, u32),
    max: (i32, u32, u32),
    text: &str,
    name: &str,
) -> Result<(), String> {
    let bound =
        |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
    if date < bound(min) || date > bound(max) {
        Err(format!(
            "{text} is outside the {name} range {} to {}",
            bound(min),
            bound(max)
        ))
    } else {
        Ok(())
    }
}

fn kind(value: &Value) -> &'static str {
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
        other => kind(other).to_string(),
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
            "tags": ["a", null], "scores": {"x": 1}
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
    }

    #[test]
    fn names_each_bad_field() {
        let cases = [
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
        ];
        for (key, value, expected) in cases {
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
}
