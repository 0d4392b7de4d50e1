//! `#[derive(Model)]` maps every supported Rust type to the right column type.

use std::collections::{BTreeMap, HashMap};

use moose_guest::defs::{
    DataType, DecimalSpec, EnumMember, Field, ModelDef, ScalarType, TypeWrapper,
};
use moose_guest::schema::ModelSet;
use moose_guest::{Date, DateTime, Decimal, Json, Model, MooseType, QueryValue, Uuid};
use serde::{Deserialize, Serialize};

use ScalarType as S;
use TypeWrapper as W;

fn dt(wrappers: &[TypeWrapper], leaf: ScalarType) -> DataType {
    DataType {
        wrappers: wrappers.to_vec(),
        leaf,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Scalars {
    s: String,
    i8_: i8,
    i16_: i16,
    i32_: i32,
    i64_: i64,
    u8_: u8,
    u16_: u16,
    u32_: u32,
    u64_: u64,
    f32_: f32,
    f64_: f64,
    b: bool,
    date: Date,
    ts: DateTime,
    id: Uuid,
    price: Decimal<10, 2>,
    payload: Json,
}

fn field_types<T: Model>() -> Vec<(String, DataType)> {
    T::model_def()
        .fields
        .into_iter()
        .map(|f| (f.name, f.data_type))
        .collect()
}

#[test]
fn scalar_types() {
    let expected = vec![
        ("s", S::String),
        ("i8_", S::Int8),
        ("i16_", S::Int16),
        ("i32_", S::Int32),
        ("i64_", S::Int64),
        ("u8_", S::UInt8),
        ("u16_", S::UInt16),
        ("u32_", S::UInt32),
        ("u64_", S::UInt64),
        ("f32_", S::Float32),
        ("f64_", S::Float64),
        ("b", S::Boolean),
        ("date", S::Date),
        ("ts", S::DateTime),
        ("id", S::Uuid),
        (
            "price",
            S::Decimal(DecimalSpec {
                precision: 10,
                scale: 2,
            }),
        ),
        ("payload", S::Json),
    ];
    let expected: Vec<(String, DataType)> = expected
        .into_iter()
        .map(|(n, leaf)| (n.to_owned(), dt(&[], leaf)))
        .collect();
    assert_eq!(field_types::<Scalars>(), expected);
    assert_eq!(Scalars::NAME, "Scalars");
}

#[test]
fn scalar_wire_forms_round_trip() {
    let line = r#"{"s":"x","i8_":-1,"i16_":2,"i32_":3,"i64_":4,"u8_":5,"u16_":6,"u32_":7,"u64_":8,"f32_":1.5,"f64_":2.25,"b":true,"date":"2024-05-01","ts":"2024-05-01T12:00:00Z","id":"67e55044-10b1-426f-9247-bb680e5fe0c8","price":"12.50","payload":{"a":[1,2]}}"#;
    let record: Scalars = serde_json::from_str(line).unwrap();
    assert_eq!(serde_json::to_string(&record).unwrap(), line);
}

/// A status.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Model)]
#[serde(rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
    #[serde(rename = "gone")]
    Deleted = 10,
    Archived,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Model)]
enum Plain {
    A,
    B = -3,
    C,
}

#[test]
fn enums_use_serde_names_and_values() {
    let members = |names: &[(&str, i16)]| {
        dt(
            &[],
            S::Enum(
                names
                    .iter()
                    .map(|(n, v)| EnumMember {
                        name: (*n).to_owned(),
                        value: *v,
                    })
                    .collect(),
            ),
        )
    };
    assert_eq!(
        Status::data_type(),
        members(&[
            ("active", 1),
            ("on_hold", 2),
            ("gone", 10),
            ("archived", 11)
        ])
    );
    assert_eq!(
        Plain::data_type(),
        members(&[("A", 1), ("B", -3), ("C", -2)])
    );
    // The wire form is the member name, which is also what queries bind.
    assert_eq!(
        serde_json::to_string(&Status::OnHold).unwrap(),
        "\"on_hold\""
    );
    assert_eq!(Status::Deleted.to_query_text(), "gone");
}

#[test]
fn rename_all_rules_on_enums() {
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "SCREAMING-KEBAB-CASE")]
    enum K {
        OnHold,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "camelCase")]
    enum C {
        OnHold,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "lowercase")]
    enum L {
        OnHold,
    }
    let first = |t: DataType| match t.leaf {
        S::Enum(m) => m[0].name.clone(),
        other => panic!("not an enum: {other:?}"),
    };
    assert_eq!(first(K::data_type()), "ON-HOLD");
    assert_eq!(first(C::data_type()), "onHold");
    assert_eq!(first(L::data_type()), "onhold");
    assert_eq!(serde_json::to_string(&K::OnHold).unwrap(), "\"ON-HOLD\"");
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Address {
    street: String,
    geo: Option<Geo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "GeoPoint")]
struct Geo {
    lat: f64,
    lon: f64,
}

/// A customer of the shop.
///
/// Second paragraph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Customer", version = "1.1")]
#[serde(rename_all = "camelCase")]
struct CustomerV1 {
    /// Unique id.
    #[moose(key)]
    customer_id: u64,
    #[moose(low_cardinality)]
    country_code: String,
    #[moose(low_cardinality)]
    tags: Vec<Option<String>>,
    #[moose(datetime64 = 3)]
    created_at: DateTime,
    #[moose(datetime64 = 6)]
    seen_at: Option<DateTime>,
    #[moose(default = "now()")]
    updated_at: DateTime,
    #[serde(rename = "e_mail")]
    email: Option<String>,
    scores: Vec<Option<f64>>,
    matrix: Vec<Vec<i32>>,
    attributes: HashMap<String, String>,
    counters: BTreeMap<String, Vec<u32>>,
    home: Address,
    others: Vec<Address>,
    status: Status,
    maybe_status: Option<Status>,
    boxed: Box<i16>,
    #[serde(skip)]
    cache: u8,
    r#type: String,
}

#[test]
fn struct_attributes_wrappers_and_docs() {
    let def = CustomerV1::model_def();
    assert_eq!(def.name, "Customer");
    assert_eq!(CustomerV1::NAME, "Customer");
    assert_eq!(CustomerV1::REF, "Customer@1.1");
    assert_eq!(def.reference(), "Customer@1.1");
    assert_eq!(
        CustomerV1::data_type(),
        dt(&[], S::Nested("Customer@1.1".to_owned()))
    );
    assert_eq!(def.version.as_deref(), Some("1.1"));
    assert_eq!(
        def.doc.as_deref(),
        Some("A customer of the shop.\n\nSecond paragraph.")
    );

    let field = |name: &str| -> Field {
        def.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name}"))
            .clone()
    };
    let id = field("customerId");
    assert!(id.key);
    assert_eq!(id.doc.as_deref(), Some("Unique id."));
    assert_eq!(id.data_type, dt(&[], S::UInt64));
    assert!(!field("countryCode").key);
    assert_eq!(
        field("countryCode").data_type,
        dt(&[], S::LowCardinalityString)
    );
    assert_eq!(
        field("tags").data_type,
        dt(&[W::Array, W::Nullable], S::LowCardinalityString)
    );
    assert_eq!(field("createdAt").data_type, dt(&[], S::DateTime64(3)));
    assert_eq!(
        field("seenAt").data_type,
        dt(&[W::Nullable], S::DateTime64(6))
    );
    assert_eq!(field("updatedAt").default.as_deref(), Some("now()"));
    assert_eq!(field("updatedAt").data_type, dt(&[], S::DateTime));
    assert_eq!(field("e_mail").data_type, dt(&[W::Nullable], S::String));
    assert_eq!(
        field("scores").data_type,
        dt(&[W::Array, W::Nullable], S::Float64)
    );
    assert_eq!(
        field("matrix").data_type,
        dt(&[W::Array, W::Array], S::Int32)
    );
    assert_eq!(field("attributes").data_type, dt(&[W::Map], S::String));
    assert_eq!(
        field("counters").data_type,
        dt(&[W::Map, W::Array], S::UInt32)
    );
    assert_eq!(
        field("home").data_type,
        dt(&[], S::Nested("Address".to_owned()))
    );
    assert_eq!(
        field("others").data_type,
        dt(&[W::Array], S::Nested("Address".to_owned()))
    );
    assert!(matches!(field("status").data_type.leaf, S::Enum(_)));
    assert_eq!(field("maybeStatus").data_type.wrappers, vec![W::Nullable]);
    assert_eq!(field("boxed").data_type, dt(&[], S::Int16));
    assert_eq!(field("type").data_type, dt(&[], S::String));
    assert!(def.fields.iter().all(|f| f.name != "cache"));
    assert_eq!(def.fields.len(), 17);
    let keys: Vec<&str> = def
        .fields
        .iter()
        .filter(|f| f.key)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(keys, ["customerId"]);
    assert!(def
        .fields
        .iter()
        .filter(|f| f.name != "customerId")
        .all(|f| f.doc.is_none()));
}

#[test]
fn nested_models_are_collected_once_in_first_seen_order() {
    let mut models = ModelSet::new();
    models.add_model::<CustomerV1>();
    models.add_model::<Address>();
    let names: Vec<String> = models.as_slice().iter().map(|m| m.reference()).collect();
    assert_eq!(names, ["Customer@1.1", "Address", "GeoPoint"]);
    let address = &models.as_slice()[1];
    assert_eq!(address.doc.as_deref(), Some("A postal address."));
    assert_eq!(
        address.fields[1].data_type,
        dt(&[W::Nullable], S::Nested("GeoPoint".to_owned()))
    );
}

#[derive(Debug, Serialize, Deserialize, Model)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

#[test]
fn recursive_models_terminate() {
    let mut models = ModelSet::new();
    models.add_model::<Tree>();
    assert_eq!(models.as_slice().len(), 1);
    assert_eq!(
        models.as_slice()[0].fields[1].data_type,
        dt(&[W::Array], S::Nested("Tree".to_owned()))
    );
}

#[test]
#[should_panic(expected = "two different models are named `Address`")]
fn conflicting_model_names_panic() {
    #[derive(Serialize, Deserialize, Model)]
    #[moose(name = "Address")]
    struct OtherAddress {
        line: String,
    }
    let mut models = ModelSet::new();
    models.add_model::<Address>();
    models.add_model::<OtherAddress>();
}

#[test]
fn model_def_is_plain_data() {
    #[derive(Serialize, Deserialize, Model)]
    struct One {
        #[moose(key, default = "0", codec = "Delta, ZSTD(1)")]
        n: i32,
        #[moose(ttl = "toDateTime(n) + INTERVAL 1 DAY")]
        note: String,
    }
    assert_eq!(
        One::model_def(),
        ModelDef {
            name: "One".to_owned(),
            version: None,
            fields: vec![
                Field {
                    name: "n".to_owned(),
                    data_type: dt(&[], S::Int32),
                    key: true,
                    default: Some("0".to_owned()),
                    doc: None,
                    aggregate: None,
                    codec: Some("Delta, ZSTD(1)".to_owned()),
                    ttl: None,
                },
                Field {
                    name: "note".to_owned(),
                    data_type: dt(&[], S::String),
                    key: false,
                    default: None,
                    doc: None,
                    aggregate: None,
                    codec: None,
                    ttl: Some("toDateTime(n) + INTERVAL 1 DAY".to_owned()),
                },
            ],
            doc: None,
        }
    );
}

#[test]
fn rename_all_rules_on_fields() {
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "PascalCase")]
    struct P {
        order_id: u8,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    struct Sc {
        order_id: u8,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "kebab-case")]
    struct K {
        order_id: u8,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[serde(rename_all = "UPPERCASE")]
    struct U {
        order_id: u8,
    }
    assert_eq!(P::model_def().fields[0].name, "OrderId");
    assert_eq!(Sc::model_def().fields[0].name, "ORDER_ID");
    assert_eq!(K::model_def().fields[0].name, "order-id");
    assert_eq!(U::model_def().fields[0].name, "ORDER_ID");
    let json = serde_json::to_string(&K { order_id: 1 }).unwrap();
    assert_eq!(json, r#"{"order-id":1}"#);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
struct Wide {
    i128_: i128,
    u128_: u128,
    i256: moose_guest::types::Int256,
    u256: moose_guest::types::UInt256,
    #[moose(fixed_string = 3)]
    code: String,
    #[moose(fixed_string = 2)]
    codes: Vec<Option<String>>,
    v4: std::net::Ipv4Addr,
    v6: std::net::Ipv6Addr,
    at: moose_guest::types::Point,
    ring: moose_guest::types::Ring,
    route: moose_guest::types::LineString,
    routes: moose_guest::types::MultiLineString,
    area: moose_guest::types::Polygon,
    areas: Option<moose_guest::types::MultiPolygon>,
}

#[test]
fn wide_integers_fixed_strings_addresses_and_geo_types() {
    use moose_guest::defs::GeoShape as G;
    let expected = vec![
        ("i128_", dt(&[], S::Int128)),
        ("u128_", dt(&[], S::UInt128)),
        ("i256", dt(&[], S::Int256)),
        ("u256", dt(&[], S::UInt256)),
        ("code", dt(&[], S::FixedString(3))),
        ("codes", dt(&[W::Array, W::Nullable], S::FixedString(2))),
        ("v4", dt(&[], S::Ipv4)),
        ("v6", dt(&[], S::Ipv6)),
        ("at", dt(&[], S::Geo(G::Point))),
        ("ring", dt(&[], S::Geo(G::Ring))),
        ("route", dt(&[], S::Geo(G::LineString))),
        ("routes", dt(&[], S::Geo(G::MultiLineString))),
        ("area", dt(&[], S::Geo(G::Polygon))),
        ("areas", dt(&[W::Nullable], S::Geo(G::MultiPolygon))),
    ];
    let expected: Vec<(String, DataType)> = expected
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t))
        .collect();
    assert_eq!(field_types::<Wide>(), expected);

    let record = r#"{"i128_":-170141183460469231731687303715884105728,"u128_":340282366920938463463374607431768211455,
        "i256":"-5","u256":115792089237316195423570985008687907853269984665640564039457584007913129639935,
        "code":"NOK","codes":["ab",null],"v4":"10.0.0.1","v6":"2001:db8::1","at":[1.5,-2.0],
        "ring":[[0.0,0.0],[1.0,0.0]],"route":[],"routes":[[[0.0,0.0]]],"area":[[[0.0,0.0],[1.0,1.0]]],"areas":null}"#;
    let wide: Wide = serde_json::from_str(record).expect("a record of every wide type");
    assert_eq!(wide.i128_, i128::MIN);
    assert_eq!(wide.u128_, u128::MAX);
    assert_eq!(
        wide.v6,
        "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap()
    );
    // Records are written with `to_writer`: 128-bit integers stay exact JSON numbers.
    let back = serde_json::to_string(&wide).expect("encode");
    for part in [
        r#""i128_":-170141183460469231731687303715884105728"#,
        r#""u256":"115792089237316195423570985008687907853269984665640564039457584007913129639935""#,
        r#""at":[1.5,-2.0]"#,
        r#""v4":"10.0.0.1""#,
    ] {
        assert!(back.contains(part), "{part} in {back}");
    }
    assert_eq!(serde_json::from_str::<Wide>(&back).expect("decode"), wide);
}
