//! Ingest on any bytes: a body is split into records, each checked against a model with
//! a field of every type and its stream key made. Nothing may panic; a record passes
//! exactly when its strictly parsed value passes the full check, with the same key, and
//! its compacted text is one line of the same JSON.
//!
//! Run: `scripts/fuzz.sh [SECONDS]` (cargo fuzz, seeded from `fuzz/corpus/ingest`).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use moose_model::app::App;
use moose_model::types::{
    AppDef, DataType, DecimalSpec, EnumMember, Field, Model, ScalarType, TypeWrapper,
};
use moose_records::ModelValidator;
use moose_records::{compact, parse_body, parse_record, record_key};

fn field(name: &str, wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> Field {
    Field::new(name, DataType::new(wrappers, leaf))
}

/// `Every`: one field of each type and wrapper, and a nested `Address`.
fn validator() -> &'static ModelValidator {
    static VALIDATOR: OnceLock<ModelValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        use ScalarType as S;
        let address = Model::new("Address", vec![field("city", vec![], S::String)]);
        let mut region = field("region", vec![], S::LowCardinalityString);
        region.default = Some("'eu'".into());
        let every = Model::new(
            "Every",
            vec![
                field("s", vec![], S::String),
                field("i8", vec![], S::Int8),
                field("i64", vec![], S::Int64),
                field("u64", vec![], S::Uint64),
                field("f32", vec![], S::Float32),
                field("f64", vec![], S::Float64),
                field("b", vec![], S::Boolean),
                field(
                    "price",
                    vec![],
                    S::Decimal(DecimalSpec {
                        precision: 9,
                        scale: 2,
                    }),
                ),
                field("day", vec![], S::Date),
                field("at", vec![], S::DateTime),
                field("at_ms", vec![], S::DateTime64(3)),
                field("id", vec![], S::Uuid),
                field(
                    "tier",
                    vec![],
                    S::Enum(vec![EnumMember {
                        name: "gold".into(),
                        value: 1,
                    }]),
                ),
                field("doc", vec![], S::Json),
                field("home", vec![], S::Nested("Address".into())),
                field(
                    "tags",
                    vec![TypeWrapper::Array, TypeWrapper::Nullable],
                    S::String,
                ),
                field("scores", vec![TypeWrapper::Map], S::Int32),
                field("note", vec![TypeWrapper::Nullable], S::String),
                region,
            ],
        );
        let app = App {
            name: "fuzz".into(),
            components: vec![],
            def: AppDef {
                models: vec![address, every],
                ..AppDef::default()
            },
        };
        ModelValidator::new(&app, "Every").expect("the model exists")
    })
}

fuzz_target!(|body: &[u8]| {
    let Ok(records) = parse_body(body) else {
        return;
    };
    let keys = ["id".to_string(), "s".to_string()];
    for raw in records {
        let full = parse_record(raw)
            .ok()
            .filter(|value| validator().validate(value).is_ok());
        let checked = validator().check_record(raw, &keys);
        match (checked, full) {
            (Ok(key), Some(value)) => {
                assert_eq!(key, record_key(&value, &keys));
                let compacted = compact(raw);
                assert!(!compacted.contains(&b'\n'));
                assert_eq!(parse_record(&compacted).ok(), Some(value));
            }
            (Err(_), None) => {}
            (checked, full) => panic!("check_record {checked:?}, full check {full:?}"),
        }
    }
});
