//! The conformance suite: one set of cases (`tests/conformance/cases.json`: a function, an
//! input batch, the expected output records and dead-letter records) run through the
//! conformance component of every guest language, compiled for real and called through
//! the host's runtime. `tests/conformance/README.md` describes the component.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use moose_host::builder::BuiltComponent;
use moose_model::types::{AppDef, DataType, Field, ScalarType, TypeWrapper};
use moose_runtime::{GuestComponent, NoQueryService, Runtime, RuntimeConfig};
use moose_tests::{built_guest, json_batch, output_records, repo_root};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
struct Suite {
    model: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    function: String,
    input: Vec<Value>,
    output: Vec<Value>,
    sources: Vec<u32>,
    errors: Vec<ExpectedError>,
    /// Makes `field` of every input and output record a string of `bytes` bytes.
    large_string: Option<LargeString>,
}

#[derive(Debug, Deserialize)]
struct ExpectedError {
    index: u32,
    message_contains: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LargeString {
    field: String,
    bytes: usize,
}

fn suite() -> Suite {
    let path = repo_root().join("tests/conformance/cases.json");
    let text = std::fs::read_to_string(&path).expect("reading the cases");
    let mut suite: Suite = serde_json::from_str(&text).expect("valid cases");
    for case in &mut suite.cases {
        if let Some(large) = &case.large_string {
            // Multi-byte characters, so a guest that counts characters as bytes is caught.
            let text: String = "ab€😀".repeat(large.bytes / 9 + 1);
            for record in case.input.iter_mut().chain(case.output.iter_mut()) {
                record[&large.field] = Value::String(text.clone());
            }
        }
    }
    suite
}

/// The conformance component of `language`, loaded by a host runtime whose compile cache
/// outlives the test run (interpreter components take seconds to compile).
fn component(language: &str) -> (GuestComponent, BuiltComponent) {
    let built = built_guest(&format!("tests/guests/conformance-{language}"));
    let cache: PathBuf = repo_root().join("target/test-component-cache");
    let config = RuntimeConfig {
        memory_limit: 256 << 20,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, cache, Arc::new(NoQueryService)).expect("runtime");
    let component = runtime
        .load(&built.name, &built.wasm)
        .unwrap_or_else(|e| panic!("loading {}: {e}", built.wasm.display()));
    (component, built)
}

/// Compares values by meaning, guided by the models: numbers numerically (64-bit integers
/// exactly), decimals by value, date-times as instants.
struct Normalizer {
    models: BTreeMap<String, Vec<Field>>,
}

impl Normalizer {
    fn new(def: &AppDef) -> Self {
        Self {
            models: def
                .models
                .iter()
                .map(|m| (m.name.clone(), m.fields.clone()))
                .collect(),
        }
    }

    fn record(&self, model: &str, value: &Value) -> Value {
        let Some(fields) = self.models.get(model) else {
            return mismatch(format!("unknown model {model}"));
        };
        let Some(object) = value.as_object() else {
            return mismatch(format!("not an object: {value}"));
        };
        let mut out = Map::new();
        for field in fields {
            let normalized = match object.get(&field.name) {
                Some(v) => self.value(&field.data_type, 0, v),
                None => mismatch("missing".into()),
            };
            out.insert(field.name.clone(), normalized);
        }
        for extra in object
            .keys()
            .filter(|k| !fields.iter().any(|f| &f.name == *k))
        {
            out.insert(extra.clone(), mismatch("not a field of the model".into()));
        }
        Value::Object(out)
    }

    fn value(&self, data_type: &DataType, depth: usize, value: &Value) -> Value {
        match data_type.wrappers.get(depth) {
            Some(TypeWrapper::Nullable) if value.is_null() => Value::Null,
            Some(TypeWrapper::Nullable) => self.value(data_type, depth + 1, value),
            Some(TypeWrapper::Array) => match value.as_array() {
                Some(items) => items
                    .iter()
                    .map(|item| self.value(data_type, depth + 1, item))
                    .collect(),
                None => mismatch(format!("not an array: {value}")),
            },
            Some(TypeWrapper::Map) => match value.as_object() {
                Some(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), self.value(data_type, depth + 1, v)))
                        .collect(),
                ),
                None => mismatch(format!("not an object: {value}")),
            },
            None => self.leaf(&data_type.leaf, value),
        }
    }

    fn leaf(&self, leaf: &ScalarType, value: &Value) -> Value {
        use ScalarType as S;
        match leaf {
            S::Int8
            | S::Int16
            | S::Int32
            | S::Int64
            | S::Uint8
            | S::Uint16
            | S::Uint32
            | S::Uint64 => integer(value),
            S::Int128 | S::Int256 | S::Uint128 | S::Uint256 => match value {
                Value::String(digits) => Value::String(format!("int {digits}")),
                other => integer(other),
            },
            S::Geo(_) => geo(value),
            // Compared as addresses: `::ffff:10.0.0.1` and `::ffff:a00:1` are one address.
            S::Ipv6 => match value.as_str().map(str::parse::<std::net::Ipv6Addr>) {
                Some(Ok(address)) => Value::String(address.to_string()),
                _ => mismatch(format!("not an IPv6 address: {value}")),
            },
            S::Float32 => match value.as_f64() {
                Some(f) => Value::from(f as f32 as f64),
                None => mismatch(format!("not a number: {value}")),
            },
            S::Float64 => match value.as_f64() {
                Some(f) => Value::from(f),
                None => mismatch(format!("not a number: {value}")),
            },
            S::Decimal(_) => decimal(value),
            S::DateTime | S::DateTime64(_) => instant(value),
            S::Uuid => match value.as_str() {
                Some(s) => Value::String(s.to_ascii_lowercase()),
                None => mismatch(format!("not a string: {value}")),
            },
            S::String
            | S::LowCardinalityString
            | S::Date
            | S::Enum(_)
            | S::FixedString(_)
            | S::Ipv4 => match value {
                Value::String(_) => value.clone(),
                _ => mismatch(format!("not a string: {value}")),
            },
            S::Boolean => match value {
                Value::Bool(_) => value.clone(),
                _ => mismatch(format!("not a boolean: {value}")),
            },
            S::Json => json(value),
            S::Nested(model) => self.record(model, value),
        }
    }
}

/// Nested arrays of coordinates, every coordinate as a float.
fn geo(value: &Value) -> Value {
    match value {
        Value::Array(items) => items.iter().map(geo).collect(),
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        other => mismatch(format!("not a coordinate: {other}")),
    }
}

fn mismatch(reason: String) -> Value {
    Value::String(format!("<{reason}>"))
}

/// An integer as exact decimal text; a float is accepted only if it is whole.
fn integer(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::String(format!("int {n}")),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                Value::String(format!("int {}", f as i64))
            }
            _ => mismatch(format!("not an integer: {n}")),
        },
        _ => mismatch(format!("not a number: {value}")),
    }
}

/// A decimal (string or number) as canonical text: no leading or trailing zeros, no `-0`.
fn decimal(value: &Value) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return mismatch(format!("not a decimal: {value}")),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return mismatch(format!("not a decimal: {text}"));
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let magnitude = match (whole.is_empty(), fraction.is_empty()) {
        (true, true) => return Value::String("dec 0".into()),
        (_, true) => whole.to_string(),
        (true, false) => format!("0.{fraction}"),
        (false, false) => format!("{whole}.{fraction}"),
    };
    Value::String(format!(
        "dec {}{magnitude}",
        if negative { "-" } else { "" }
    ))
}

/// An RFC 3339 date-time as nanoseconds since the epoch.
fn instant(value: &Value) -> Value {
    let Some(text) = value.as_str() else {
        return mismatch(format!("not a string: {value}"));
    };
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => match t.timestamp_nanos_opt() {
            Some(nanos) => Value::String(format!("instant {nanos}")),
            None => mismatch(format!("out of range: {text}")),
        },
        Err(e) => mismatch(format!("not RFC 3339 ({e}): {text}")),
    }
}

/// Any JSON value, with numbers compared numerically.
fn json(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                Value::from(f as i64)
            }
            _ => value.clone(),
        },
        Value::Array(items) => items.iter().map(json).collect(),
        Value::Object(entries) => {
            Value::Object(entries.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        _ => value.clone(),
    }
}

/// Runs every case through `language`'s component; panics with every failure at once.
fn conforms(language: &str) {
    let suite = suite();
    let (component, built) = component(language);
    let def = component.describe().expect("describe");
    let normalizer = Normalizer::new(&def);
    let mut failures = Vec::new();
    for case in &suite.cases {
        let result = component
            .process(&case.function, &json_batch(&case.input))
            .unwrap_or_else(|e| panic!("{language} {}: the call failed: {e}", case.name));
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                failures.push(format!("{}: guest error {e:?}", case.name));
                continue;
            }
        };
        let actual = output_records(&output);
        if actual.len() != case.output.len() {
            failures.push(format!(
                "{}: {} output records, expected {}",
                case.name,
                actual.len(),
                case.output.len()
            ));
        }
        for (i, (got, want)) in actual.iter().zip(&case.output).enumerate() {
            let got = normalizer.record(&suite.model, got);
            let want = normalizer.record(&suite.model, want);
            for (field, expected) in want.as_object().into_iter().flatten() {
                let actual = &got[field];
                if actual != expected {
                    let shown = |v: &Value| {
                        let text = v.to_string();
                        if text.len() > 200 {
                            format!(
                                "{}… ({} bytes)",
                                &text[..text.floor_char_boundary(200)],
                                text.len()
                            )
                        } else {
                            text
                        }
                    };
                    failures.push(format!(
                        "{}: record {i} field {field}: got {}, expected {}",
                        case.name,
                        shown(actual),
                        shown(expected)
                    ));
                }
            }
        }
        if output.sources != case.sources {
            failures.push(format!(
                "{}: sources {:?}, expected {:?}",
                case.name, output.sources, case.sources
            ));
        }
        let indexes: Vec<u32> = output.errors.iter().map(|e| e.index).collect();
        let expected: Vec<u32> = case.errors.iter().map(|e| e.index).collect();
        if indexes != expected {
            failures.push(format!(
                "{}: errors at {indexes:?}, expected at {expected:?} ({:?})",
                case.name, output.errors
            ));
        }
        for (error, want) in output.errors.iter().zip(&case.errors) {
            if error.message.is_empty()
                || want
                    .message_contains
                    .as_ref()
                    .is_some_and(|part| !error.message.contains(part.as_str()))
            {
                failures.push(format!(
                    "{}: error message {:?} should contain {:?}",
                    case.name, error.message, want.message_contains
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the {language} component ({}) fails {} check(s):\n{}",
        built.wasm.display(),
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rust_conforms() {
    conforms("rs");
}

#[test]
fn typescript_conforms() {
    conforms("ts");
}

#[test]
fn python_conforms() {
    conforms("py");
}

/// What the `language` conformance guest's function `stdlib` answers: its standard
/// library probe, as JSON.
fn stdlib_answer(language: &str) -> Value {
    let (component, _) = component(language);
    let record = suite().cases[0].input[0].clone();
    let output = component
        .process("stdlib", &json_batch(&[record]))
        .expect("the call")
        .unwrap_or_else(|e| panic!("guest error {e:?}"));
    assert!(output.errors.is_empty(), "{:?}", output.errors);
    let records = output_records(&output);
    let text = records[0]["s"].as_str().expect("the probe's answer");
    serde_json::from_str(text).expect("JSON")
}

/// The standard library modules Python authors reach for (zoneinfo with real time zones,
/// decimal, re, dataclasses, collections, datetime, json, math, statistics, hashlib, uuid,
/// base64) answer inside a component as on native CPython: `stdlib_probe.probe()` of the
/// conformance guest, called through function `stdlib`, against the same call run by the
/// Python that builds components.
#[test]
fn python_standard_library_answers_as_natively() {
    let inside = stdlib_answer("py");

    let guest = repo_root().join("tests/guests/conformance-py");
    let native = moose_host::toolchain::python::build_python()
        .expect("the build Python")
        .command()
        .arg("-c")
        .arg("import json, sys; sys.path.insert(0, sys.argv[1]); from stdlib_probe import probe; print(json.dumps(probe(), sort_keys=True))")
        .arg(&guest)
        .output()
        .expect("the build Python runs");
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );
    let native: Value = serde_json::from_slice(&native.stdout).expect("JSON");
    assert_eq!(inside, native);
    assert_eq!(
        inside["zoneinfo"],
        serde_json::json!([
            "2024-07-01T14:00:00+02:00",
            "2024-07-01T08:00:00-04:00",
            3600.0,
            true
        ])
    );
}

/// The JavaScript standard library TypeScript authors reach for (`Intl` with real time
/// zones, number formats and plural rules, from the SDK's polyfills; regular expressions,
/// JSON, Math, BigInt, dates, collections) answers inside a component as on native Node:
/// `probe()` of the conformance guest's `stdlib_probe.ts`, called through function
/// `stdlib`, against the same file bundled by esbuild and run by `node`.
#[test]
fn typescript_standard_library_answers_as_natively() {
    let mut inside = stdlib_answer("ts");

    let guest = repo_root().join("tests/guests/conformance-ts");
    let bundled =
        std::process::Command::new(repo_root().join("guest-sdk-js/node_modules/.bin/esbuild"))
            .args(["stdlib_probe.ts", "--format=esm", "--log-level=warning"])
            .current_dir(&guest)
            .output()
            .expect("esbuild runs (npm ci in guest-sdk-js)");
    assert!(
        bundled.status.success(),
        "{}",
        String::from_utf8_lossy(&bundled.stderr)
    );
    let script = format!(
        "{}\nconsole.log(JSON.stringify(probe()));",
        String::from_utf8_lossy(&bundled.stdout)
    );
    let native = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node runs");
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );
    let mut native: Value = serde_json::from_slice(&native.stdout).expect("JSON");
    // The one known difference: without ICU, `localeCompare` compares UTF-16 code units
    // (docs/languages.md); Node collates `C` after `b`.
    assert_eq!(native["sorted"], serde_json::json!(["a", "b", "C"]));
    assert_eq!(inside["sorted"], serde_json::json!(["C", "a", "b"]));
    for answer in [&mut inside, &mut native] {
        answer.as_object_mut().map(|o| o.remove("sorted"));
    }
    assert_eq!(inside, native);
    assert_eq!(
        inside["intl"],
        serde_json::json!([
            "01/07/2024, 14:00 GMT+2",
            "01/07/2024, 08:00 GMT-4",
            "01/07/2024, 17:30 GMT+5:30"
        ])
    );
}

/// A model as comparable text: its name and each field's name, type and key flag.
type ModelShape = (String, Vec<(String, String, bool)>);

/// The SDKs map their languages' types to the same model types.
#[test]
fn every_language_declares_the_same_models() {
    let models = |language: &str| {
        let (component, _) = component(language);
        let def = component.describe().expect("describe");
        let mut models: Vec<ModelShape> = def
            .models
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    m.fields
                        .iter()
                        .map(|f| (f.name.clone(), format!("{:?}", f.data_type), f.key))
                        .collect(),
                )
            })
            .collect();
        models.sort();
        models
    };
    let rust = models("rs");
    assert_eq!(models("ts"), rust, "TypeScript models differ from Rust's");
    assert_eq!(models("py"), rust, "Python models differ from Rust's");
}
