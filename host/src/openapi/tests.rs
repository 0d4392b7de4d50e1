use super::*;
use moose_model::types::{AppDef, EnumMember, Field, GeoShape};

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
fn wide_integers_addresses_fixed_strings_and_geo_types() {
    // Beyond 64 bits a JSON number loses digits: strings of digits, numbers tolerated.
    let wide = scalar(ScalarType::Uint256);
    assert_eq!(wide["oneOf"][0], json!({"type": "integer"}));
    assert_eq!(wide["oneOf"][1]["pattern"], DIGIT_STRING);
    let description = wide["oneOf"][1]["description"].as_str().expect("text");
    assert!(description.ends_with(
        "0 to 115792089237316195423570985008687907853269984665640564039457584007913129639935."
    ));
    let param = scalar_schema(&app(vec![]), &ScalarType::Int128, Usage::Param);
    assert_eq!(param["type"], "string");
    assert_eq!(scalar(ScalarType::FixedString(3))["maxLength"], json!(3));
    assert_eq!(
        scalar(ScalarType::Ipv4),
        json!({"type": "string", "format": "ipv4"})
    );
    assert_eq!(scalar(ScalarType::Ipv6)["format"], "ipv6");
    let point = scalar(ScalarType::Geo(GeoShape::Point));
    assert_eq!(
        (point["minItems"].clone(), point["maxItems"].clone()),
        (json!(2), json!(2))
    );
    let polygon = scalar(ScalarType::Geo(GeoShape::Polygon));
    assert_eq!(polygon["items"]["items"], point);
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
        type_schema(&a, &ty, Usage::Record),
        json!({"type": "array", "items": {"type": ["string", "null"]}})
    );
    let ty = DataType::new(
        vec![TypeWrapper::Nullable, TypeWrapper::Map],
        ScalarType::Uint8,
    );
    assert_eq!(
        type_schema(&a, &ty, Usage::Record),
        json!({"type": ["object", "null"], "additionalProperties":
            {"type": "integer", "minimum": 0, "maximum": 255}})
    );
    // Enums and alternatives take null through anyOf.
    let ty = DataType::new(vec![TypeWrapper::Nullable], ScalarType::Int64);
    let schema = type_schema(&a, &ty, Usage::Record);
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
