//! An OpenAPI 3.1 description of an app's HTTP data plane: its ingest endpoints
//! (`POST /ingest/<name>`) and query APIs (`GET /api/<name>[/<version>]`).
//!
//! Every model becomes one JSON Schema (2020-12, the dialect OpenAPI 3.1 uses) in
//! `components.schemas`, following the wire formats of `wit/README.md` ("Records on the
//! wire") and what ingest accepts (see `records::validate`). Models are named by their
//! reference with `@` written `_v` (`Order@1.1` is `Order_v1.1`), since component names
//! may not hold `@`; the host's own bodies (errors, ingest answers) are named `moose.*`.

use serde_json::{json, Map, Value};

use crate::api::parse_params;
use crate::app::{model_ref, App};
use crate::runtime::types::{
    ApiDef, ApiParam, DataType, DecimalSpec, IngestDef, Model, ScalarType, TypeWrapper,
};

/// The `info.version` of every document.
const DOC_VERSION: &str = "0.1.0";

/// `YYYY-MM-DD hh:mm:ss[.f]`, the date-time form without `T` that ingest and parameters
/// also accept (read as UTC).
const SPACE_DATE_TIME: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$";

/// An integer written as a string of digits (how JavaScript sends 64-bit values).
const DIGIT_STRING: &str = r"^\s*[+-]?[0-9]+\s*$";

/// Where a type's schema is used: the two accept slightly different forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usage {
    /// A field of a JSON record (ingest bodies, API rows).
    Record,
    /// A query-string parameter, after the host has typed it.
    Param,
}

/// The OpenAPI 3.1.0 document of `app`: one `POST /ingest/<name>` (or
/// `/ingest/<name>/<version>` for a versioned model) per ingest endpoint,
/// one `GET /api/<name>` (or `/api/<name>/<version>`) per query API, and one schema per
/// model plus the host's error and answer bodies in `components.schemas`.
pub fn openapi(app: &App) -> Value {
    let mut paths = Map::new();
    for ingest in &app.def.ingests {
        paths.insert(
            format!("/ingest/{}", app.ingest_route(ingest)),
            json!({ "post": ingest_operation(app, ingest) }),
        );
    }
    for api in &app.def.apis {
        let path = match &api.version {
            Some(version) => format!("/api/{}/{version}", api.name),
            None => format!("/api/{}", api.name),
        };
        paths.insert(path, json!({ "get": api_operation(app, api) }));
    }

    let mut schemas = Map::new();
    for model in &app.def.models {
        schemas.insert(schema_name(&model_ref(model)), model_schema(app, model));
    }
    schemas.extend(host_schemas());

    let mut tags = Vec::new();
    if !app.def.ingests.is_empty() {
        tags.push(
            json!({ "name": "ingest", "description": "Send records into the app's streams." }),
        );
    }
    if !app.def.apis.is_empty() {
        tags.push(json!({ "name": "api", "description": "Query the app's data." }));
    }

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": app.name,
            "version": DOC_VERSION,
            "description": format!(
                "Ingest endpoints and query APIs of the Moose app `{}`, as served by `moose dev`.",
                app.name
            ),
        },
        "tags": tags,
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// The `components.schemas` key of model reference `reference` (`Order@1.1` → `Order_v1.1`).
pub fn schema_name(reference: &str) -> String {
    reference
        .replace('@', "_v")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A `$ref` to model `reference`, or an open schema saying the model is unknown (so the
/// document stays valid for an app that failed validation).
fn model_ref_schema(app: &App, reference: &str) -> Value {
    match app.model(reference) {
        Some(model) => {
            json!({ "$ref": format!("#/components/schemas/{}", schema_name(&model_ref(model))) })
        }
        None => json!({ "description": format!("unknown model `{reference}`") }),
    }
}

fn host_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/moose.{name}") })
}

/// The JSON Schema of one model: an object of its fields, unknown fields refused.
fn model_schema(app: &App, model: &Model) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in &model.fields {
        let mut schema = type_schema(app, &field.data_type, 0, Usage::Record);
        let mut notes = Vec::new();
        if let Some(doc) = &field.doc {
            notes.push(doc.clone());
        }
        notes.push(format!(
            "ClickHouse type `{}`.",
            field.data_type.type_name()
        ));
        if field.key {
            notes.push("Part of the model's key.".into());
        }
        if let Some(default) = &field.default {
            notes.push(format!(
                "May be omitted: defaults to the ClickHouse expression `{default}`."
            ));
        }
        set(&mut schema, "description", Value::String(notes.join(" ")));
        properties.insert(field.name.clone(), schema);
        if !field.data_type.is_nullable() && field.default.is_none() {
            required.push(Value::String(field.name.clone()));
        }
    }
    let mut schema = json!({
        "type": "object",
        "title": model_ref(model),
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        set(&mut schema, "required", Value::Array(required));
    }
    if let Some(doc) = &model.doc {
        set(&mut schema, "description", Value::String(doc.clone()));
    }
    schema
}

fn set(schema: &mut Value, key: &str, value: Value) {
    if let Value::Object(object) = schema {
        object.insert(key.to_string(), value);
    }
}

/// The schema of `ty` from wrapper `depth` inwards.
fn type_schema(app: &App, ty: &DataType, depth: usize, usage: Usage) -> Value {
    match ty.wrappers.get(depth) {
        Some(TypeWrapper::Nullable) => nullable(type_schema(app, ty, depth + 1, usage)),
        Some(TypeWrapper::Array) => {
            json!({ "type": "array", "items": type_schema(app, ty, depth + 1, usage) })
        }
        Some(TypeWrapper::Map) => json!({
            "type": "object",
            "additionalProperties": type_schema(app, ty, depth + 1, usage),
        }),
        None => scalar_schema(app, &ty.leaf, usage),
    }
}

/// `inner` or null: `type: [T, "null"]` for a plain typed schema, else `anyOf`.
fn nullable(inner: Value) -> Value {
    let simple = inner.as_object().is_some_and(|o| {
        o.get("type").is_some_and(Value::is_string)
            && !o.contains_key("enum")
            && !o.contains_key("const")
    });
    if simple {
        let mut schema = inner;
        let kind = schema["type"].clone();
        schema["type"] = json!([kind, "null"]);
        schema
    } else {
        json!({ "anyOf": [inner, { "type": "null" }] })
    }
}

fn integer(min: i128, max: i128, wide: bool, usage: Usage) -> Value {
    // i128 is not a serde_json number: the bounds fit i64 or u64.
    let bound = |n: i128| -> Value {
        i64::try_from(n)
            .map(Value::from)
            .or_else(|_| u64::try_from(n).map(Value::from))
            .unwrap_or(Value::Null)
    };
    let number = json!({ "type": "integer", "minimum": bound(min), "maximum": bound(max) });
    if wide && usage == Usage::Record {
        json!({ "oneOf": [number, {
            "type": "string",
            "pattern": DIGIT_STRING,
            "description": "The integer as a string of digits (how JavaScript sends 64-bit values).",
        }] })
    } else {
        number
    }
}

/// The pattern of a `Decimal(precision, scale)` string: at most `precision - scale`
/// digits before the point and `scale` after it (leading and trailing zeros aside).
fn decimal_pattern(spec: &DecimalSpec) -> String {
    let whole = spec.precision.saturating_sub(spec.scale);
    let int = if whole == 0 {
        "0+".to_string()
    } else {
        format!("(0*[1-9][0-9]{{0,{}}}|0+)", whole - 1)
    };
    format!(r"^\s*[+-]?{int}(\.[0-9]{{0,{}}}0*)?\s*$", spec.scale)
}

fn scalar_schema(app: &App, leaf: &ScalarType, usage: Usage) -> Value {
    match leaf {
        ScalarType::String | ScalarType::LowCardinalityString => json!({ "type": "string" }),
        ScalarType::Int8 => integer(i8::MIN.into(), i8::MAX.into(), false, usage),
        ScalarType::Int16 => integer(i16::MIN.into(), i16::MAX.into(), false, usage),
        ScalarType::Int32 => integer(i32::MIN.into(), i32::MAX.into(), false, usage),
        ScalarType::Int64 => integer(i64::MIN.into(), i64::MAX.into(), true, usage),
        ScalarType::Uint8 => integer(0, u8::MAX.into(), false, usage),
        ScalarType::Uint16 => integer(0, u16::MAX.into(), false, usage),
        ScalarType::Uint32 => integer(0, u32::MAX.into(), false, usage),
        ScalarType::Uint64 => integer(0, u64::MAX.into(), true, usage),
        ScalarType::Float32 => json!({
            "type": "number",
            "format": "float",
            "minimum": -(f32::MAX as f64),
            "maximum": f32::MAX as f64,
        }),
        ScalarType::Float64 => json!({ "type": "number", "format": "double" }),
        ScalarType::Boolean => json!({ "type": "boolean" }),
        ScalarType::Decimal(spec) => {
            let text = json!({ "type": "string", "pattern": decimal_pattern(spec) });
            match usage {
                Usage::Record => json!({ "oneOf": [text, { "type": "number" }] }),
                Usage::Param => text,
            }
        }
        ScalarType::Date => json!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        }),
        ScalarType::DateTime | ScalarType::DateTime64(_) => {
            let mut forms = vec![
                json!({ "type": "string", "format": "date-time" }),
                json!({ "type": "string", "pattern": SPACE_DATE_TIME, "description": "UTC" }),
            ];
            if usage == Usage::Record {
                forms.push(json!({ "type": "integer", "description": "Unix time in seconds" }));
            }
            json!({ "anyOf": forms })
        }
        ScalarType::Uuid => json!({ "type": "string", "format": "uuid" }),
        ScalarType::Enum(members) => {
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            json!({ "type": "string", "enum": names })
        }
        ScalarType::Json => json!({ "type": "object" }),
        ScalarType::Nested(model) => model_ref_schema(app, model),
    }
}

/// A parameter's schema: its type, bounds, members and default.
fn param_schema(app: &App, param: &ApiParam) -> Value {
    let leaf = &param.data_type.leaf;
    let mut item = scalar_schema(app, leaf, Usage::Param);
    if leaf.is_number() {
        let integral = !matches!(leaf, ScalarType::Float32 | ScalarType::Float64);
        let bound = |x: f64| -> Value {
            if integral && x.fract() == 0.0 && x.abs() < 9.0e15 {
                Value::from(x as i64)
            } else {
                Value::from(x)
            }
        };
        if let Some(min) = param.min {
            set(&mut item, "minimum", bound(min));
        }
        if let Some(max) = param.max {
            set(&mut item, "maximum", bound(max));
        }
    }
    let mut schema = if param.data_type.wrappers.contains(&TypeWrapper::Array) {
        json!({ "type": "array", "items": item })
    } else {
        item
    };
    if param.default.is_some() {
        // The host types the default as it would a value given in the query string.
        let typed = parse_params(std::slice::from_ref(param), &[])
            .ok()
            .and_then(|object| object.get(&param.name).cloned())
            .filter(|value| !value.is_null());
        if let Some(default) = typed {
            set(&mut schema, "default", default);
        }
    }
    schema
}

fn api_operation(app: &App, api: &ApiDef) -> Value {
    let parameters: Vec<Value> = api
        .params
        .iter()
        .map(|param| {
            let mut object = json!({
                "name": param.name,
                "in": "query",
                "required": param.required,
                "schema": param_schema(app, param),
            });
            if let Some(doc) = &param.doc {
                set(&mut object, "description", Value::String(doc.clone()));
            }
            if param.data_type.wrappers.contains(&TypeWrapper::Array) {
                set(&mut object, "style", json!("form"));
                set(&mut object, "explode", json!(true));
            }
            object
        })
        .collect();
    let id = match &api.version {
        Some(version) => format!("api_{}_v{version}", api.name),
        None => format!("api_{}", api.name),
    };
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": host_ref("Error") } },
        })
    };
    let mut operation = json!({
        "tags": ["api"],
        "operationId": id,
        "summary": format!("Query API `{}`", api.name),
        "parameters": parameters,
        "responses": {
            "200": {
                "description": format!("The rows, each a `{}`.", api.response),
                "content": { "application/json": { "schema": {
                    "type": "array",
                    "items": model_ref_schema(app, &api.response),
                } } },
            },
            "400": error("A parameter is unknown, missing or has a bad value, the API refused the request, or its query is invalid."),
            "403": error("The API's query was denied (it would write)."),
            "404": error("Not found (as the API decides)."),
            "413": error("The query's result is too large."),
            "500": error("The API failed."),
            "503": error("The data store is unavailable."),
            "504": error("The API or its query ran out of time."),
        },
    });
    if let Some(doc) = &api.doc {
        set(&mut operation, "description", Value::String(doc.clone()));
    }
    operation
}

fn ingest_operation(app: &App, ingest: &IngestDef) -> Value {
    let record = model_ref_schema(app, &ingest.model);
    let error = |description: &str, schema: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": host_ref(schema) } },
        })
    };
    let dead_letter = match &ingest.dead_letter {
        Some(stream) => format!(" Rejected records go to the dead-letter stream `{stream}`."),
        None => String::new(),
    };
    json!({
        "tags": ["ingest"],
        "operationId": match app.model(&ingest.model).and_then(|m| m.version.as_ref()) {
            Some(version) => format!("ingest_{}_v{version}", ingest.name),
            None => format!("ingest_{}", ingest.name),
        },
        "summary": format!("Ingest `{}` records", ingest.model),
        "description": format!(
            "Checks each record against `{}` and writes the valid ones to stream `{}`; \
             the answer comes once they are durable on disk.{dead_letter} When some records \
             are bad the valid ones are still accepted: resend only the rejected ones.",
            ingest.model, ingest.stream
        ),
        "requestBody": {
            "required": true,
            "content": {
                "application/json": { "schema": {
                    "oneOf": [record, { "type": "array", "items": record }],
                } },
                "application/x-ndjson": { "schema": {
                    "type": "string",
                    "description": format!("Newline-delimited JSON: one `{}` object per line.", ingest.model),
                } },
            },
        },
        "responses": {
            "200": error("Every record was accepted and is durable.", "IngestAccepted"),
            "400": error(
                "The body is not JSON (only `error`), or some records failed validation: the others were accepted.",
                "IngestRejected",
            ),
            "404": error("No such ingest endpoint.", "IngestNotFound"),
            "413": { "description": "The body is larger than `[http] max_body_bytes`." },
            "503": error("Nothing of the request was stored.", "Error"),
        },
    })
}

/// The host's own bodies, named `moose.*`.
fn host_schemas() -> Map<String, Value> {
    let schemas = json!({
        "moose.Error": {
            "type": "object",
            "description": "An error answer.",
            "properties": { "error": { "type": "string" } },
            "required": ["error"],
        },
        "moose.IngestAccepted": {
            "type": "object",
            "properties": { "accepted": { "type": "integer", "minimum": 0 } },
            "required": ["accepted"],
        },
        "moose.IngestProblem": {
            "type": "object",
            "properties": {
                "index": { "type": "integer", "minimum": 0, "description": "Index of the record in the request." },
                "field": { "type": "string", "description": "Path of the field (`items[2].sku`), empty for the record itself." },
                "problem": { "type": "string" },
            },
            "required": ["index", "field", "problem"],
        },
        "moose.IngestRejected": {
            "type": "object",
            "properties": {
                "error": { "type": "string" },
                "accepted": { "type": "integer", "minimum": 0 },
                "rejected": { "type": "integer", "minimum": 0 },
                "problems": { "type": "array", "items": host_ref("IngestProblem") },
            },
            "required": ["error"],
        },
        "moose.IngestNotFound": {
            "type": "object",
            "properties": {
                "error": { "type": "string" },
                "endpoints": { "type": "array", "items": { "type": "string" } },
            },
            "required": ["error", "endpoints"],
        },
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{AppDef, EnumMember, Field};

    fn app(models: Vec<Model>) -> App {
        App {
            name: "shop".into(),
            components: vec![],
            def: AppDef {
                models,
                ..AppDef::default()
            },
        }
    }

    fn scalar(leaf: ScalarType) -> Value {
        scalar_schema(&app(vec![]), &leaf, Usage::Record)
    }

    #[test]
    fn integers_carry_their_width() {
        assert_eq!(
            scalar(ScalarType::Int8),
            json!({"type": "integer", "minimum": -128, "maximum": 127})
        );
        assert_eq!(
            scalar(ScalarType::Int16),
            json!({"type": "integer", "minimum": -32768, "maximum": 32767})
        );
        assert_eq!(
            scalar(ScalarType::Int32),
            json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX})
        );
        assert_eq!(
            scalar(ScalarType::Uint8),
            json!({"type": "integer", "minimum": 0, "maximum": 255})
        );
        assert_eq!(
            scalar(ScalarType::Uint16),
            json!({"type": "integer", "minimum": 0, "maximum": 65535})
        );
        assert_eq!(
            scalar(ScalarType::Uint32),
            json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
        );
        let wide = scalar(ScalarType::Uint64);
        assert_eq!(
            wide["oneOf"][0],
            json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
        );
        assert_eq!(wide["oneOf"][1]["type"], "string");
        assert_eq!(wide["oneOf"][1]["pattern"], DIGIT_STRING);
        let wide = scalar(ScalarType::Int64);
        assert_eq!(
            wide["oneOf"][0],
            json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
        );
        // Parameters are typed by the host: plain integers.
        assert_eq!(
            scalar_schema(&app(vec![]), &ScalarType::Int64, Usage::Param),
            json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
        );
    }

    #[test]
    fn other_scalars_follow_the_wire_formats() {
        assert_eq!(scalar(ScalarType::String), json!({"type": "string"}));
        assert_eq!(
            scalar(ScalarType::LowCardinalityString),
            json!({"type": "string"})
        );
        assert_eq!(scalar(ScalarType::Float32)["type"], "number");
        assert_eq!(scalar(ScalarType::Float32)["maximum"], f32::MAX as f64);
        assert_eq!(scalar(ScalarType::Float64)["type"], "number");
        assert_eq!(scalar(ScalarType::Boolean), json!({"type": "boolean"}));
        assert_eq!(scalar(ScalarType::Date)["format"], "date");
        assert_eq!(
            scalar(ScalarType::Uuid),
            json!({"type": "string", "format": "uuid"})
        );
        assert_eq!(scalar(ScalarType::Json), json!({"type": "object"}));
        let members = vec![
            EnumMember {
                name: "small".into(),
                value: 1,
            },
            EnumMember {
                name: "large".into(),
                value: 2,
            },
        ];
        assert_eq!(
            scalar(ScalarType::Enum(members)),
            json!({"type": "string", "enum": ["small", "large"]})
        );
    }

    #[test]
    fn date_times_take_three_forms_in_records() {
        for leaf in [ScalarType::DateTime, ScalarType::DateTime64(3)] {
            let record = scalar(leaf.clone());
            let forms = record["anyOf"].as_array().expect("anyOf");
            assert_eq!(forms[0], json!({"type": "string", "format": "date-time"}));
            assert_eq!(forms[1]["pattern"], SPACE_DATE_TIME);
            assert_eq!(forms[2]["type"], "integer");
            let param = scalar_schema(&app(vec![]), &leaf, Usage::Param);
            assert_eq!(param["anyOf"].as_array().map(Vec::len), Some(2));
        }
    }

    #[test]
    fn decimals_are_strings_or_numbers_with_digit_limits() {
        let spec = DecimalSpec {
            precision: 10,
            scale: 2,
        };
        let schema = scalar(ScalarType::Decimal(spec));
        assert_eq!(schema["oneOf"][1], json!({"type": "number"}));
        assert_eq!(
            schema["oneOf"][0]["pattern"],
            r"^\s*[+-]?(0*[1-9][0-9]{0,7}|0+)(\.[0-9]{0,2}0*)?\s*$"
        );
        let all_fraction = DecimalSpec {
            precision: 3,
            scale: 3,
        };
        assert_eq!(
            decimal_pattern(&all_fraction),
            r"^\s*[+-]?0+(\.[0-9]{0,3}0*)?\s*$"
        );
    }

    #[test]
    fn wrappers_nest_outermost_first() {
        let a = app(vec![]);
        let ty = DataType::new(
            vec![TypeWrapper::Array, TypeWrapper::Nullable],
            ScalarType::String,
        );
        assert_eq!(
            type_schema(&a, &ty, 0, Usage::Record),
            json!({"type": "array", "items": {"type": ["string", "null"]}})
        );
        let ty = DataType::new(
            vec![TypeWrapper::Nullable, TypeWrapper::Map],
            ScalarType::Uint8,
        );
        assert_eq!(
            type_schema(&a, &ty, 0, Usage::Record),
            json!({"type": ["object", "null"], "additionalProperties":
                {"type": "integer", "minimum": 0, "maximum": 255}})
        );
        // Enums and alternatives take null through anyOf.
        let ty = DataType::new(vec![TypeWrapper::Nullable], ScalarType::Int64);
        let schema = type_schema(&a, &ty, 0, Usage::Record);
        assert_eq!(schema["anyOf"][1], json!({"type": "null"}));
        assert!(schema["anyOf"][0]["oneOf"].is_array());
    }

    #[test]
    fn models_require_fields_without_null_or_default_and_refuse_others() {
        let mut with_default = Field::new("n", DataType::new(vec![], ScalarType::Int32));
        with_default.default = Some("0".into());
        let mut address = Model::new(
            "Address",
            vec![Field::new(
                "city",
                DataType::new(vec![], ScalarType::String),
            )],
        );
        address.version = Some("1.1".into());
        let order = Model::new(
            "Order",
            vec![
                Field::new("id", DataType::new(vec![], ScalarType::String)),
                Field::new(
                    "note",
                    DataType::new(vec![TypeWrapper::Nullable], ScalarType::String),
                ),
                with_default,
                Field::new(
                    "ship_to",
                    DataType::new(vec![], ScalarType::Nested("Address@1.1".into())),
                ),
            ],
        );
        let a = app(vec![order.clone(), address]);
        let schema = model_schema(&a, &order);
        assert_eq!(schema["required"], json!(["id", "ship_to"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(
            schema["properties"]["ship_to"]["$ref"],
            "#/components/schemas/Address_v1.1"
        );
        let doc = openapi(&a);
        assert!(doc["components"]["schemas"]["Address_v1.1"].is_object());
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["info"],
            json!({"title": "shop", "version": "0.1.0",
            "description": doc["info"]["description"]})
        );
    }

    #[test]
    fn parameters_have_bounds_defaults_and_array_style() {
        let mut limit = ApiParam {
            name: "limit".into(),
            data_type: DataType::new(vec![], ScalarType::Uint32),
            required: false,
            default: Some("100".into()),
            min: Some(1.0),
            max: Some(1000.0),
            doc: Some("Rows at most".into()),
        };
        let a = app(vec![Model::new("Row", vec![])]);
        assert_eq!(
            param_schema(&a, &limit),
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})
        );
        limit.data_type.wrappers = vec![TypeWrapper::Array];
        assert_eq!(
            param_schema(&a, &limit),
            json!({"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 1000},
                   "default": [100]})
        );
        let api = ApiDef {
            name: "rows".into(),
            version: Some("2".into()),
            params: vec![limit],
            response: "Row".into(),
            doc: None,
        };
        let operation = api_operation(&a, &api);
        let param = &operation["parameters"][0];
        assert_eq!(param["in"], "query");
        assert_eq!(param["style"], "form");
        assert_eq!(param["explode"], true);
        assert_eq!(param["description"], "Rows at most");
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Row"}})
        );
        for status in ["400", "403", "404", "413", "500", "503", "504"] {
            assert!(operation["responses"][status].is_object(), "{status}");
        }
    }

    #[test]
    fn ingest_takes_an_object_an_array_or_ndjson() {
        let a = app(vec![Model::new("Order", vec![])]);
        let ingest = IngestDef {
            name: "Order".into(),
            model: "Order".into(),
            stream: "Order".into(),
            dead_letter: None,
        };
        let operation = ingest_operation(&a, &ingest);
        let content = &operation["requestBody"]["content"];
        assert_eq!(
            content["application/json"]["schema"]["oneOf"][1]["type"],
            "array"
        );
        assert_eq!(content["application/x-ndjson"]["schema"]["type"], "string");
        for status in ["200", "400", "404", "413", "503"] {
            assert!(operation["responses"][status].is_object(), "{status}");
        }
    }

    #[test]
    fn versions_of_a_model_get_their_own_ingest_paths() {
        let mut v11 = Model::new("Order", vec![]);
        v11.version = Some("1.1".into());
        let mut a = app(vec![Model::new("Order", vec![]), v11]);
        for (model, stream) in [("Order", "Order"), ("Order@1.1", "Order_1_1")] {
            a.def.ingests.push(IngestDef {
                name: "Order".into(),
                model: model.into(),
                stream: stream.into(),
                dead_letter: None,
            });
        }
        let document = openapi(&a);
        let ids: Vec<&Value> = ["/ingest/Order", "/ingest/Order/1.1"]
            .iter()
            .map(|path| &document["paths"][path]["post"]["operationId"])
            .collect();
        assert_eq!(ids, [&json!("ingest_Order"), &json!("ingest_Order_v1.1")]);
    }

    #[test]
    fn schema_names_are_valid_component_keys() {
        assert_eq!(schema_name("Order"), "Order");
        assert_eq!(schema_name("Order@1.1"), "Order_v1.1");
        assert_eq!(schema_name("a b/c"), "a_b_c");
    }
}
