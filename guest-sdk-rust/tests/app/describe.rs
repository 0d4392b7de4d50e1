//! What `describe` reports of the sample app.

use super::*;

#[test]
fn describe_lists_everything() {
    let def = sample_app().describe();
    let models: Vec<String> = def.models.iter().map(|m| m.reference()).collect();
    assert_eq!(models, ["Order", "Item", "Line", "Big", "Total", "Big@2.0"]);
    assert_eq!(
        def.streams,
        vec![
            StreamDef {
                name: "Order".into(),
                model: "Order".into(),
                partitions: 0,
                retention_hours: None
            },
            StreamDef {
                name: "Line".into(),
                model: "Line".into(),
                partitions: 0,
                retention_hours: None
            },
            StreamDef {
                name: "Big".into(),
                model: "Big".into(),
                partitions: 4,
                retention_hours: Some(24)
            },
        ]
    );
    let totals_table = TableDef {
        name: "Totals".into(),
        model: "Total".into(),
        order_by: vec!["day".into()],
        engine: TableEngine::SummingMergeTree(vec![]),
        source_stream: None,
        options: TableOptions::default(),
    };
    assert_eq!(
        def.tables,
        vec![
            TableDef {
                name: "Order".into(),
                model: "Order".into(),
                order_by: vec![],
                engine: TableEngine::MergeTree,
                source_stream: Some("Order".into()),
                options: TableOptions::default(),
            },
            TableDef {
                name: "Line".into(),
                model: "Line".into(),
                order_by: vec!["order_id".into(), "sku".into()],
                engine: TableEngine::ReplacingMergeTree(Replacing::default()),
                source_stream: Some("Line".into()),
                options: TableOptions {
                    primary_key: vec!["order_id".into()],
                    settings: vec![("index_granularity".into(), "1024".into())],
                    indexes: vec![TableIndex {
                        name: "sku_set".into(),
                        expression: "sku".into(),
                        kind: "set(100)".into(),
                        granularity: 2,
                    }],
                    projections: vec![Projection {
                        name: "by_sku".into(),
                        select: "SELECT * ORDER BY sku".into(),
                    }],
                    ..TableOptions::default()
                },
            },
        ],
        "an aggregation's target table is declared by the aggregation only"
    );
    assert_eq!(
        def.ingests,
        vec![IngestDef {
            name: "Order".into(),
            model: "Order".into(),
            stream: "Order".into(),
            dead_letter: Some("Order_dead_letter".into())
        }]
    );
    assert_eq!(
        def.functions,
        vec![
            FunctionDef {
                name: "explode".into(),
                source: "Order".into(),
                destination: Some("Line".into()),
                dead_letter: Some("explode_dead_letter".into())
            },
            FunctionDef {
                name: "only_big".into(),
                source: "Order".into(),
                destination: Some("Big".into()),
                dead_letter: Some("failures".into())
            },
            FunctionDef {
                name: "audit".into(),
                source: "Order".into(),
                destination: None,
                dead_letter: None
            },
        ]
    );
    assert_eq!(
        def.aggregations,
        vec![AggregationDef {
            name: "Totals".into(),
            select: "SELECT toDate(ts) AS day, sum(amount) AS revenue FROM Order GROUP BY day"
                .into(),
            sources: vec!["Order".into()],
            target: totals_table,
        }]
    );
    assert_eq!(
        def.views,
        vec![ViewDef {
            name: "BigOrders".into(),
            select: "SELECT * FROM Order WHERE amount >= 100".into(),
            sources: vec!["Order".into()],
        }]
    );
    assert_eq!(def.apis.len(), 3);
    let totals = &def.apis[0];
    assert_eq!(totals.name, "totals");
    assert_eq!(totals.version.as_deref(), Some("1.0"));
    assert_eq!(totals.doc.as_deref(), Some("Revenue per day."));
    assert_eq!(totals.response, "Total");
    let scalar = |leaf| DataType {
        wrappers: vec![],
        leaf,
    };
    assert_eq!(
        totals.params,
        vec![
            ApiParam {
                name: "from".into(),
                data_type: scalar(ScalarType::Date),
                required: false,
                default: None,
                min: None,
                max: None,
                doc: Some("First day.".into())
            },
            ApiParam {
                name: "limit".into(),
                data_type: scalar(ScalarType::UInt32),
                required: false,
                default: Some("10".into()),
                min: Some(1.0),
                max: Some(100.0),
                doc: None
            },
            ApiParam {
                name: "minRevenue".into(),
                data_type: scalar(ScalarType::Float64),
                required: false,
                default: None,
                min: Some(0.0),
                max: None,
                doc: None
            },
            ApiParam {
                name: "customer".into(),
                data_type: scalar(ScalarType::String),
                required: true,
                default: None,
                min: None,
                max: None,
                doc: None
            },
            ApiParam {
                name: "verbose".into(),
                data_type: scalar(ScalarType::Boolean),
                required: false,
                default: Some("false".into()),
                min: None,
                max: None,
                doc: None
            },
        ]
    );
    assert_eq!(def.apis[1].name, "ping");
    assert!(def.apis[1].params.is_empty());
    assert_eq!(def.apis[1].version, None);
    assert_eq!(def.apis[1].response, "Big");
    assert_eq!(
        (def.apis[2].name.as_str(), def.apis[2].version.as_deref()),
        ("ping", Some("2.0"))
    );
    assert_eq!(def.apis[2].response, "Big@2.0");
    // A nested model's wrappers survive into describe.
    let order = &def.models[0];
    assert_eq!(order.fields[4].data_type.wrappers, vec![TypeWrapper::Array]);
}
