//! The OpenAPI document of a rich app, checked by an outside validator (PyPI
//! `openapi-spec-validator`, installed by `scripts/setup.sh` through
//! `scripts/setup-openapi.sh`), and its model schemas checked against the host's own
//! record validation with the `jsonschema` package that comes with it.

use std::path::PathBuf;
use std::process::Command;

use moose_host::openapi::openapi;
use moose_model::app::App;
use moose_model::types::{
    ApiDef, ApiParam, AppDef, DataType, DecimalSpec, EnumMember, Field, IngestDef, Model,
    ScalarType, TypeWrapper,
};
use moose_records::ModelValidator;
use serde_json::{json, Value};

fn python() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = PathBuf::from(home).join(".local/share/moose/tools-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it installs openapi-spec-validator)",
        python.display()
    );
    python
}

fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
    DataType::new(wrappers, leaf)
}

fn field(name: &str, leaf: ScalarType) -> Field {
    Field::new(name, ty(vec![], leaf))
}

fn tiers() -> ScalarType {
    ScalarType::Enum(vec![
        EnumMember {
            name: "small".into(),
            value: 1,
        },
        EnumMember {
            name: "large".into(),
            value: 2,
        },
    ])
}

fn param(name: &str, data_type: DataType) -> ApiParam {
    ApiParam {
        name: name.into(),
        data_type,
        required: false,
        default: None,
        min: None,
        max: None,
        doc: None,
    }
}

/// An app with every type, an ingest endpoint and a versioned API with every parameter kind.
fn rich_app() -> App {
    let mut address = Model::new(
        "Address",
        vec![
            field("city", ScalarType::String),
            Field::new(
                "zip",
                ty(
                    vec![TypeWrapper::Nullable],
                    ScalarType::LowCardinalityString,
                ),
            ),
        ],
    );
    address.version = Some("1.1".into());
    let mut id = field("id", ScalarType::Uuid);
    id.key = true;
    id.doc = Some("The event's id.".into());
    let mut count = field("count", ScalarType::Uint32);
    count.default = Some("0".into());
    let mut event = Model::new(
        "Event",
        vec![
            id,
            field("name", ScalarType::String),
            field("lc", ScalarType::LowCardinalityString),
            field("i8", ScalarType::Int8),
            field("i16", ScalarType::Int16),
            field("i32", ScalarType::Int32),
            field("i64", ScalarType::Int64),
            field("u8", ScalarType::Uint8),
            field("u16", ScalarType::Uint16),
            count,
            field("u64", ScalarType::Uint64),
            field("f32", ScalarType::Float32),
            field("f64", ScalarType::Float64),
            field("flag", ScalarType::Boolean),
            field(
                "price",
                ScalarType::Decimal(DecimalSpec {
                    precision: 10,
                    scale: 2,
                }),
            ),
            field("day", ScalarType::Date),
            field("ts", ScalarType::DateTime),
            field("ts_ms", ScalarType::DateTime64(3)),
            field("tier", tiers()),
            field("attrs", ScalarType::Json),
            field("ship_to", ScalarType::Nested("Address@1.1".into())),
            Field::new("tags", ty(vec![TypeWrapper::Array], ScalarType::String)),
            Field::new("scores", ty(vec![TypeWrapper::Map], ScalarType::Float64)),
            Field::new("note", ty(vec![TypeWrapper::Nullable], ScalarType::String)),
            Field::new("maybe_tier", ty(vec![TypeWrapper::Nullable], tiers())),
            Field::new(
                "history",
                ty(
                    vec![TypeWrapper::Array, TypeWrapper::Nullable],
                    ScalarType::Nested("Address@1.1".into()),
                ),
            ),
            Field::new(
                "matrix",
                ty(
                    vec![TypeWrapper::Map, TypeWrapper::Array],
                    ScalarType::Int64,
                ),
            ),
        ],
    );
    event.doc = Some("One thing that happened.".into());
    let revenue = Model::new(
        "Revenue",
        vec![
            field("day", ScalarType::Date),
            field("total", ScalarType::Float64),
        ],
    );

    let mut limit = param("limit", ty(vec![], ScalarType::Uint32));
    limit.default = Some("100".into());
    limit.min = Some(1.0);
    limit.max = Some(10_000.0);
    let mut customer = param("customer", ty(vec![], ScalarType::String));
    customer.required = true;
    customer.doc = Some("Whose revenue.".into());
    let mut ratio = param("ratio", ty(vec![], ScalarType::Float64));
    ratio.min = Some(0.0);
    ratio.max = Some(0.5);
    let mut tier = param("tier", ty(vec![], tiers()));
    tier.default = Some("small".into());
    let params = vec![
        customer,
        limit,
        ratio,
        tier,
        param("active", ty(vec![], ScalarType::Boolean)),
        param("from", ty(vec![], ScalarType::Date)),
        param("since", ty(vec![], ScalarType::DateTime)),
        param("id", ty(vec![], ScalarType::Uuid)),
        param(
            "price",
            ty(
                vec![],
                ScalarType::Decimal(DecimalSpec {
                    precision: 6,
                    scale: 2,
                }),
            ),
        ),
        param("big", ty(vec![], ScalarType::Int64)),
        param("ids", ty(vec![TypeWrapper::Array], ScalarType::Int64)),
        param("tiers", ty(vec![TypeWrapper::Array], tiers())),
    ];

    App {
        name: "rich".into(),
        components: vec![],
        def: AppDef {
            models: vec![address, event, revenue],
            ingests: vec![
                IngestDef {
                    name: "Event".into(),
                    model: "Event".into(),
                    stream: "Event".into(),
                    dead_letter: Some("EventDeadLetter".into()),
                },
                IngestDef {
                    name: "Address".into(),
                    model: "Address@1.1".into(),
                    stream: "Address_1_1".into(),
                    dead_letter: None,
                },
            ],
            apis: vec![
                ApiDef {
                    name: "revenue".into(),
                    version: Some("2.0".into()),
                    params,
                    response: "Revenue".into(),
                    doc: Some("Revenue per day.".into()),
                },
                ApiDef {
                    name: "events".into(),
                    version: None,
                    params: vec![],
                    response: "Event".into(),
                    doc: None,
                },
            ],
            ..AppDef::default()
        },
    }
}

fn write(dir: &tempfile::TempDir, name: &str, value: &Value) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("JSON")).expect("write");
    path
}

#[test]
fn the_document_of_a_rich_app_passes_openapi_spec_validator() {
    let python = python();
    let doc = openapi(&rich_app());
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "rich");
    assert_eq!(doc["info"]["version"], "0.1.0");
    for path in [
        "/ingest/Event",
        "/ingest/Address/1.1",
        "/api/revenue/2.0",
        "/api/events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is missing");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(&dir, "openapi.json", &doc);
    let output = Command::new(&python)
        .args([
            "-m",
            "openapi_spec_validator",
            "--schema",
            "3.1",
            "--validation-errors",
            "all",
        ])
        .arg(&file)
        .output()
        .expect("run openapi_spec_validator");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("OK"), "{stdout}\n{stderr}");
}

/// Checks each record against the model schema with the `jsonschema` package.
const CHECK: &str = r##"
import json, sys
from jsonschema import Draft202012Validator
doc = json.load(open(sys.argv[1]))
cases = json.load(open(sys.argv[2]))
out = []
for case in cases:
    schema = dict(doc)
    schema["$ref"] = "#/components/schemas/" + case["schema"]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    out.append(validator.is_valid(case["record"]))
print(json.dumps(out))
"##;

#[test]
fn model_schemas_agree_with_ingest_validation() {
    let python = python();
    let app = rich_app();
    let good = json!({
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "name": "n", "lc": "l",
        "i8": -128, "i16": 32767, "i32": -5, "i64": "-9223372036854775808",
        "u8": 255, "u16": 0, "u64": 18446744073709551615u64,
        "f32": 1.5, "f64": -2.25, "flag": true, "price": "12.50",
        "day": "2024-05-01", "ts": "2024-05-01T12:00:00Z", "ts_ms": "2024-05-01 12:00:00.123",
        "tier": "small", "attrs": {"a": [1]},
        "ship_to": {"city": "Oslo", "zip": null},
        "tags": ["a"], "scores": {"x": 1.0},
        "history": [null, {"city": "Rome"}], "matrix": {"m": [1, "2"]}
    });
    let with = |changes: Value| {
        let mut record = good.clone();
        for (key, value) in changes.as_object().expect("object") {
            if value == &json!("<absent>") {
                record.as_object_mut().expect("object").remove(key);
            } else {
                record[key] = value.clone();
            }
        }
        record
    };
    let records = vec![
        good.clone(),
        with(json!({"count": 7, "note": "hi", "maybe_tier": null, "price": 3, "ts": 1714564800})),
        with(json!({"ts_ms": "2024-05-01T12:00:00.5+02:00", "price": "-0.1"})),
        with(json!({"i8": 128})),
        with(json!({"u8": -1})),
        with(json!({"u64": "12x"})),
        with(json!({"i64": 1.5})),
        with(json!({"colour": "red"})),
        with(json!({"name": "<absent>"})),
        with(json!({"name": null})),
        with(json!({"tier": "medium"})),
        with(json!({"maybe_tier": "medium"})),
        with(json!({"price": "1.234"})),
        with(json!({"price": "123456789.5"})),
        with(json!({"flag": "yes"})),
        with(json!({"attrs": [1]})),
        with(json!({"ship_to": {"city": "Oslo", "street": "x"}})),
        with(json!({"ship_to": {"zip": "1"}})),
        with(json!({"tags": "a"})),
        with(json!({"scores": {"x": "high"}})),
        with(json!({"history": [{"city": 1}]})),
        with(json!({"matrix": {"m": [1.5]}})),
        with(json!({"day": "May 1"})),
        with(json!({"ts": true})),
        with(json!({"id": 5})),
    ];
    let validator = ModelValidator::new(&app, "Event").expect("model");
    let expected: Vec<bool> = records
        .iter()
        .map(|record| validator.validate(record).is_ok())
        .collect();
    assert_eq!(expected.iter().filter(|ok| **ok).count(), 3, "{expected:?}");

    let cases: Vec<Value> = records
        .iter()
        .map(|record| json!({"schema": "Event", "record": record}))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let doc = write(&dir, "openapi.json", &openapi(&app));
    let cases_file = write(&dir, "cases.json", &Value::Array(cases));
    let output = Command::new(&python)
        .args(["-c", CHECK])
        .arg(&doc)
        .arg(&cases_file)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: Vec<bool> = serde_json::from_slice(&output.stdout).expect("a JSON list");
    for (i, (host, schema)) in expected.iter().zip(&found).enumerate() {
        assert_eq!(
            host, schema,
            "record {i} {}: the host says {host}, the schema says {schema}",
            records[i]
        );
    }
    assert_eq!(found.len(), records.len());
}
