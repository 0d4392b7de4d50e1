//! `process`: fan-out, filters, consumers, record and batch errors.

use super::*;

fn order(id: &str, customer: &str, amount: f64, items: &[(&str, u32)]) -> String {
    serde_json::to_string(&Order {
        id: id.into(),
        customer: customer.into(),
        amount,
        ts: "2024-05-01T12:00:00Z".parse().unwrap(),
        items: items
            .iter()
            .map(|(sku, qty)| Item {
                sku: (*sku).into(),
                qty: *qty,
            })
            .collect(),
    })
    .unwrap()
}

#[test]
fn process_fans_out_and_keeps_sources() {
    let app = sample_app();
    let input = Batch::from_lines([
        order("a", "c1", 10.0, &[("x", 1), ("y", 2)]),
        order("b", "c1", 10.0, &[]),
        order("c", "c2", 10.0, &[("z", 3)]),
    ]);
    let out = app.process("explode", &input).unwrap();
    assert_eq!(out.output.count, 3);
    assert_eq!(out.sources, vec![0, 0, 2]);
    assert!(out.errors.is_empty());
    assert_eq!(
        out.output.lines(),
        vec![
            r#"{"order_id":"a","sku":"x","qty":1}"#,
            r#"{"order_id":"a","sku":"y","qty":2}"#,
            r#"{"order_id":"c","sku":"z","qty":3}"#,
        ]
    );
    assert_eq!(
        std::str::from_utf8(&out.output.data).unwrap(),
        "{\"order_id\":\"a\",\"sku\":\"x\",\"qty\":1}\n{\"order_id\":\"a\",\"sku\":\"y\",\"qty\":2}\n{\"order_id\":\"c\",\"sku\":\"z\",\"qty\":3}"
    );
}

#[test]
fn process_filters_and_reports_errors_and_bad_lines() {
    let app = sample_app();
    let mut lines = vec![
        order("a", "c1", 150.0, &[]),
        order("b", "c1", 5.0, &[]),
        order("c", "c1", -1.0, &[]),
        "{not json".to_owned(),
        r#"{"id":"e"}"#.to_owned(),
        r#"{"id":"g","customer":"c","amount":"lots","ts":"2024-05-01T12:00:00Z","items":[]}"#
            .to_owned(),
        r#"{"id":"h","customer":"c","amount":1,"ts":"2024-05-01T12:00:00Z","items":[{"sku":1}]}"#
            .to_owned(),
        order("f", "c1", 100.0, &[]),
    ];
    let out = app.process("only_big", &Batch::from_lines(&lines)).unwrap();
    assert_eq!(out.output.lines(), vec![r#"{"id":"a"}"#, r#"{"id":"f"}"#]);
    assert_eq!(out.output.count, 2);
    assert_eq!(out.sources, vec![0, 7]);
    assert_eq!(out.errors.len(), 5);
    assert_eq!(
        out.errors[0],
        RecordError {
            index: 2,
            message: "negative amount -1".into()
        }
    );
    assert_eq!(out.errors[1].index, 3);
    assert!(
        out.errors[1]
            .message
            .starts_with("invalid input record: key must be a string"),
        "{}",
        out.errors[1].message
    );
    assert_eq!(out.errors[2].index, 4);
    assert!(
        out.errors[2]
            .message
            .starts_with("invalid input record: missing field `customer`"),
        "{}",
        out.errors[2].message
    );
    // Type errors name the field, nested ones with their path.
    assert_eq!(out.errors[3].index, 5);
    assert!(
        out.errors[3].message.starts_with(
            "invalid input record: field `amount`: invalid type: string \"lots\", expected f64"
        ),
        "{}",
        out.errors[3].message
    );
    assert!(
        out.errors[4]
            .message
            .starts_with("invalid input record: field `items[0].sku`: invalid type: integer `1`"),
        "{}",
        out.errors[4].message
    );

    // A trailing newline is tolerated.
    lines.truncate(1);
    let mut batch = Batch::from_lines(&lines);
    batch.data.push(b'\n');
    let out = app.process("only_big", &batch).unwrap();
    assert_eq!(out.sources, vec![0]);
}

#[test]
fn process_consumer_has_no_output() {
    let app = sample_app();
    let input = Batch::from_lines([order("a", "c1", 1.0, &[]), order("b", "", 1.0, &[])]);
    let out = app.process("audit", &input).unwrap();
    assert_eq!(out.output.count, 0);
    assert!(out.output.data.is_empty());
    assert!(out.sources.is_empty());
    assert_eq!(
        out.errors,
        vec![RecordError {
            index: 1,
            message: "no customer".into()
        }]
    );
}

#[test]
fn process_whole_call_errors() {
    let app = sample_app();
    let empty = Batch::from_lines(Vec::<String>::new());
    assert_eq!(
        app.process("nope", &empty),
        Err(GuestError::UnknownFunction("nope".into()))
    );
    let out = app.process("explode", &empty).unwrap();
    assert_eq!(out.output.count, 0);

    let mut wrong_count = Batch::from_lines([order("a", "c", 1.0, &[]), order("b", "c", 1.0, &[])]);
    wrong_count.count = 3;
    assert_eq!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(
            "batch count is 3 but its data holds 2 lines".into()
        ))
    );
    wrong_count.count = 1;
    assert!(matches!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(_))
    ));
    wrong_count.count = 0;
    assert!(matches!(
        app.process("explode", &wrong_count),
        Err(GuestError::Failed(_))
    ));
}

#[test]
fn process_serialization_failure_leaves_no_partial_output() {
    use moose_guest::MooseType;

    #[derive(Debug, Serialize, Deserialize, Model)]
    struct In {
        n: i64,
    }
    /// Serializes to an error.
    #[derive(Debug, Deserialize)]
    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("boom"))
        }
    }
    impl MooseType for Failing {
        fn data_type() -> DataType {
            DataType::scalar(ScalarType::String)
        }
    }
    #[derive(Debug, Serialize, Deserialize, Model)]
    struct Out {
        n: i64,
        bad: Option<Failing>,
    }
    fn f(input: In) -> Vec<Out> {
        let second = (input.n == 2).then_some(Failing);
        vec![
            Out {
                n: input.n,
                bad: None,
            },
            Out {
                n: input.n,
                bad: second,
            },
        ]
    }
    let mut app = App::new();
    let a = app.stream::<In>("a", StreamConfig::default());
    let b = app.stream::<Out>("b", StreamConfig::default());
    app.transform("f", &a, &b, f);
    let input = Batch::from_lines([r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    let out = app.process("f", &input).unwrap();
    assert_eq!(out.sources, vec![0, 0, 2, 2]);
    assert_eq!(
        out.output.lines(),
        vec![
            r#"{"n":1,"bad":null}"#,
            r#"{"n":1,"bad":null}"#,
            r#"{"n":3,"bad":null}"#,
            r#"{"n":3,"bad":null}"#,
        ]
    );
    assert_eq!(
        out.errors,
        vec![RecordError {
            index: 1,
            message: "cannot serialize output record: boom".into()
        }]
    );
}
