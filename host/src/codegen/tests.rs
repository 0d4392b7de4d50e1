use moose_model::types::{
    AggregateColumn, AggregateKind, ComputedColumn, ComputedKind, DataType, DecimalSpec,
    EnumMember, Field, GeoShape, Model, Replacing, ScalarType as S, TableDef, TableEngine,
    TableIndex, TableOptions, TypeWrapper as W,
};

use super::*;

fn declarations() -> (Vec<Model>, Vec<TableDef>) {
    let ty = |wrappers: Vec<W>, leaf| DataType::new(wrappers, leaf);
    let mut visits = Field::new("visits", ty(vec![], S::Uint64));
    visits.aggregate = Some(AggregateColumn {
        function: "uniq".into(),
        kind: AggregateKind::State(vec![ty(vec![], S::String)]),
    });
    let mut note = Field::new("note", ty(vec![], S::String));
    note.default = Some("'none'".into());
    note.doc = Some("Free text.".into());
    note.codec = Some("ZSTD(3)".into());
    note.ttl = Some("at + INTERVAL 1 DAY".into());
    let models = vec![
        Model::new(
            "events_geo",
            vec![Field::new("lat", ty(vec![], S::Float64))],
        ),
        Model {
            doc: Some("Page views.".into()),
            ..Model::new(
                "events",
                vec![
                    Field::new("id", ty(vec![], S::Uint128)),
                    Field::new("type", ty(vec![], S::LowCardinalityString)),
                    Field::new("at", ty(vec![], S::DateTime64(3))),
                    Field::new("code", ty(vec![W::Nullable], S::FixedString(2))),
                    Field::new(
                        "price",
                        ty(
                            vec![],
                            S::Decimal(DecimalSpec {
                                precision: 18,
                                scale: 4,
                            }),
                        ),
                    ),
                    Field::new(
                        "level",
                        ty(
                            vec![],
                            S::Enum(vec![EnumMember {
                                name: "a b".into(),
                                value: 5,
                            }]),
                        ),
                    ),
                    Field::new("where", ty(vec![W::Array], S::Nested("events_geo".into()))),
                    Field::new("zone", ty(vec![], S::Geo(GeoShape::Polygon))),
                    Field::new("ip", ty(vec![], S::Ipv6)),
                    Field::new("User Id", ty(vec![W::Map], S::Int256)),
                    visits,
                    note,
                ],
            )
        },
    ];
    let tables = vec![TableDef {
        name: "events".into(),
        model: "events".into(),
        order_by: vec!["id".into(), "at".into()],
        engine: TableEngine::ReplacingMergeTree(Replacing {
            version: Some("at".into()),
            is_deleted: None,
        }),
        source_stream: None,
        options: TableOptions {
            partition_by: Some("toYYYYMM(at)".into()),
            settings: vec![("storage_policy".into(), "'it\\'s'".into())],
            indexes: vec![TableIndex {
                name: "ip_bf".into(),
                expression: "ip".into(),
                kind: "bloom_filter(0.01)".into(),
                granularity: 1,
            }],
            projections: vec![moose_model::types::Projection {
                name: "by_ip".into(),
                select: "SELECT * ORDER BY ip".into(),
            }],
            computed: vec![ComputedColumn {
                name: "day".into(),
                data_type: ty(vec![], S::Date),
                kind: ComputedKind::Materialized,
                expression: "toDate(at)".into(),
                doc: None,
            }],
            externally_managed: true,
            ..TableOptions::default()
        },
    }];
    (models, tables)
}

fn generated(language: Language) -> String {
    let (models, tables) = declarations();
    let declarations = Declarations {
        models: &models,
        tables: &tables,
        origin: "database `shop`",
    };
    app_source(language, declarations).expect("generates").1
}

fn assert_contains(source: &str, expected: &[&str]) {
    for line in expected {
        assert!(source.contains(line), "missing {line:?} in\n{source}");
    }
}

#[test]
fn rust_models_and_tables() {
    assert_contains(
        &generated(Language::Rust),
        &[
            "#[moose(name = \"events\")]\npub struct Events {\n",
            "    pub id: u128,\n",
            "    #[moose(low_cardinality)]\n    pub r#type: String,\n",
            "    #[moose(datetime64 = 3)]\n    pub at: DateTime,\n",
            "    #[moose(fixed_string = 2)]\n    pub code: Option<String>,\n",
            "    pub price: Decimal<18, 4>,\n",
            "    pub level: EventsLevel,\n",
            "    pub r#where: Vec<EventsGeo>,\n",
            "    pub zone: moose_guest::types::Polygon,\n",
            "    pub ip: std::net::Ipv6Addr,\n",
            "    #[serde(rename = \"User Id\")]\n    pub user_id: std::collections::BTreeMap<String, moose_guest::types::Int256>,\n",
            "    #[moose(aggregate(\"uniq\", String))]\n    pub visits: u64,\n",
            "    /// Free text.\n    #[moose(default = \"'none'\", codec = \"ZSTD(3)\", ttl = \"at + INTERVAL 1 DAY\")]\n    pub note: String,\n",
            ".projection(\"by_ip\", \"SELECT * ORDER BY ip\")",
            "pub enum EventsLevel {\n    #[serde(rename = \"a b\")]\n    AB = 5,\n}",
            "TableEngine::ReplacingMergeTree(moose_guest::Replacing { version: Some(\"at\".into()), is_deleted: None })",
            ".order_by([\"id\", \"at\"])",
            ".setting(\"storage_policy\", \"'it\\\\'s'\")",
            ".index(\"ip_bf\", \"ip\", \"bloom_filter(0.01)\", 1)",
            ".materialized::<Date>(\"day\", \"toDate(at)\")",
            ".externally_managed()",
            "export_app!(app);",
        ],
    );
}

#[test]
fn typescript_models_and_tables() {
    assert_contains(
        &generated(Language::TypeScript),
        &[
            "import { App, computed, engines, model, t, type Infer } from \"@moose/guest\";",
            "export const EventsGeo = model(\"events_geo\", {\n  \"lat\": t.float64(),\n});",
            "/** Page views. */\nexport const Events = model(\"events\", {",
            "  \"id\": t.uint128(),\n",
            "  \"code\": t.nullable(t.fixedString(2)),\n",
            "  \"level\": t.enum({ \"a b\": 5 }),\n",
            "  \"where\": t.array(t.nested(EventsGeo)),\n",
            "  \"User Id\": t.map(t.int256()),\n",
            "  \"visits\": t.uint64().aggregateState(\"uniq\", t.string()),\n",
            "  \"note\": t.string().default(\"'none'\").codec(\"ZSTD(3)\").ttl(\"at + INTERVAL 1 DAY\").doc(\"Free text.\"),\n",
            "projections: [{ name: \"by_ip\", select: \"SELECT * ORDER BY ip\" }]",
            "engine: engines.replacingMergeTree(\"at\")",
            "settings: { \"storage_policy\": \"it's\" }",
            "computed: { \"day\": computed.materialized(t.date(), \"toDate(at)\") }",
            "externallyManaged: true",
        ],
    );
}

#[test]
fn python_models_and_tables() {
    assert_contains(
        &generated(Language::Python),
        &[
            "from ipaddress import IPv6Address\n",
            "EventsLevel = Enum(\"EventsLevel\", [(\"a b\", 5)])",
            "@model(name=\"events\")\n@dataclass\nclass Events:\n    \"Page views.\"\n",
            "    id: UInt128\n",
            "    type: LowCardinality[str]\n",
            "    at: DateTime64[3]\n",
            "    code: Optional[FixedString[2]]\n",
            "    price: Annotated[Decimal, decimal(18, 4)]\n",
            "    where: list[EventsGeo]\n",
            "    user_id: dict[str, Int256] = field(name=\"User Id\")\n",
            "    visits: Annotated[UInt64, AggregateState(\"uniq\", str)]\n",
            "    note: str = field(doc=\"Free text.\", clickhouse_default=\"'none'\", codec=\"ZSTD(3)\", ttl=\"at + INTERVAL 1 DAY\")\n",
            "projections=[Projection(\"by_ip\", \"SELECT * ORDER BY ip\")]",
            "engine=ReplacingMergeTree(\"at\", None)",
            "settings={ \"storage_policy\": \"it's\" }",
            "computed={\"day\": Materialized(date, \"toDate(at)\")}",
            "externally_managed=True",
        ],
    );
}

#[test]
fn rust_refuses_decimals_it_cannot_hold() {
    let models = vec![Model::new(
        "t",
        vec![Field::new(
            "big",
            DataType::new(
                vec![],
                S::Decimal(DecimalSpec {
                    precision: 38,
                    scale: 2,
                }),
            ),
        )],
    )];
    let error = app_source(
        Language::Rust,
        Declarations {
            models: &models,
            tables: &[],
            origin: "x",
        },
    )
    .unwrap_err();
    assert_eq!(
        error,
        "t.big: Decimal(38, 2): Rust decimals hold at most 28 digits"
    );
}
