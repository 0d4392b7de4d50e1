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
use moose_model::app::{model_ref, App};
use moose_model::types::{
    ApiDef, ApiParam, DataType, DecimalSpec, EnumMember, GeoShape, IngestDef, IntType, Model,
    ScalarType, TypeLowering, TypeWrapper,
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
        let mut schema = type_schema(app, &field.data_type, Usage::Record);
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

/// Types lowered into JSON Schema, for a record field or a query parameter.
struct Schemas<'a> {
    app: &'a App,
    usage: Usage,
}

impl TypeLowering for Schemas<'_> {
    type Output = Value;

    fn string(&mut self, _: bool) -> Value {
        json!({ "type": "string" })
    }
    fn integer(&mut self, int: IntType) -> Value {
        integer(int, self.usage)
    }
    fn float(&mut self, bits: u8) -> Value {
        if bits == 32 {
            json!({
                "type": "number",
                "format": "float",
                "minimum": -(f32::MAX as f64),
                "maximum": f32::MAX as f64,
            })
        } else {
            json!({ "type": "number", "format": "double" })
        }
    }
    fn boolean(&mut self) -> Value {
        json!({ "type": "boolean" })
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> Value {
        let text = json!({ "type": "string", "pattern": decimal_pattern(spec) });
        match self.usage {
            Usage::Record => json!({ "oneOf": [text, { "type": "number" }] }),
            Usage::Param => text,
        }
    }
    fn date(&mut self) -> Value {
        json!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        })
    }
    fn date_time(&mut self, _: Option<u8>) -> Value {
        let mut forms = vec![
            json!({ "type": "string", "format": "date-time" }),
            json!({ "type": "string", "pattern": SPACE_DATE_TIME, "description": "UTC" }),
        ];
        if self.usage == Usage::Record {
            forms.push(json!({ "type": "integer", "description": "Unix time in seconds" }));
        }
        json!({ "anyOf": forms })
    }
    fn uuid(&mut self) -> Value {
        json!({ "type": "string", "format": "uuid" })
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> Value {
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        json!({ "type": "string", "enum": names })
    }
    fn json(&mut self) -> Value {
        json!({ "type": "object" })
    }
    fn nested(&mut self, model: &str) -> Value {
        model_ref_schema(self.app, model)
    }
    fn fixed_string(&mut self, bytes: u32) -> Value {
        json!({
            "type": "string",
            "maxLength": bytes,
            "description": format!("At most {bytes} bytes of UTF-8."),
        })
    }
    fn ipv4(&mut self) -> Value {
        json!({ "type": "string", "format": "ipv4" })
    }
    fn ipv6(&mut self) -> Value {
        json!({
            "type": "string",
            "format": "ipv6",
            "description": "An IPv6 address; IPv4 addresses are written mapped (`::ffff:a.b.c.d`).",
        })
    }
    fn geo(&mut self, shape: GeoShape) -> Value {
        let point = json!({
            "type": "array",
            "items": { "type": "number" },
            "minItems": 2,
            "maxItems": 2,
            "description": "[x, y]",
        });
        (0..shape.depth()).fold(point, |inner, _| json!({ "type": "array", "items": inner }))
    }
    fn array(&mut self, item: Value) -> Value {
        json!({ "type": "array", "items": item })
    }
    fn map(&mut self, value: Value) -> Value {
        json!({ "type": "object", "additionalProperties": value })
    }
    fn nullable(&mut self, inner: Value) -> Value {
        nullable(inner)
    }
}

/// The schema of a whole type.
fn type_schema(app: &App, ty: &DataType, usage: Usage) -> Value {
    ty.lower(&mut Schemas { app, usage })
}

/// The schema of a scalar type.
fn scalar_schema(app: &App, leaf: &ScalarType, usage: Usage) -> Value {
    leaf.lower(&mut Schemas { app, usage })
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

fn integer(int: IntType, usage: Usage) -> Value {
    let digits = json!({
        "type": "string",
        "pattern": DIGIT_STRING,
        "description": format!(
            "The integer as a string of digits (how JavaScript sends 64-bit values), {} to {}.",
            int.min(),
            int.max()
        ),
    });
    if int.bits > 64 {
        // A JSON number of more than 64 bits loses digits on the way: such values are
        // exact only as strings.
        return match usage {
            Usage::Record => json!({ "oneOf": [{ "type": "integer" }, digits] }),
            Usage::Param => digits,
        };
    }
    let bound = |text: &str| -> Value {
        text.parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .unwrap_or(Value::Null)
    };
    let number =
        json!({ "type": "integer", "minimum": bound(int.min()), "maximum": bound(int.max()) });
    if int.is_wide() && usage == Usage::Record {
        json!({ "oneOf": [number, digits] })
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
mod tests;
