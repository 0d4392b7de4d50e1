//! `export_app!` compiles in a downstream crate, and the glue converts to WIT types.

use moose_guest::__private::{self, wit};
use moose_guest::{App, Model, PipelineConfig, StreamConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, Model)]
struct N {
    #[moose(key)]
    n: i64,
    tags: Vec<Option<String>>,
}

fn double(x: N) -> Result<N, String> {
    if x.n < 0 {
        return Err(format!("negative: {}", x.n));
    }
    Ok(N {
        n: x.n * 2,
        tags: x.tags,
    })
}

pub fn app() -> App {
    let mut app = App::new();
    let input = app.ingest_pipeline::<N>("in", PipelineConfig::default());
    let output = app.stream::<N>("out", StreamConfig::default());
    app.transform("double", &input.stream, &output, double);
    app
}

moose_guest::export_app!(app);

#[test]
fn describe_converts_to_wit() {
    let def = __private::describe(&app());
    assert_eq!(def.models.len(), 1);
    assert_eq!(def.models[0].name, "N");
    let tags = &def.models[0].fields[1].data_type;
    assert!(matches!(
        tags.wrappers.as_slice(),
        [wit::TypeWrapper::Array, wit::TypeWrapper::Nullable]
    ));
    assert!(matches!(tags.leaf, wit::ScalarType::String));
    assert_eq!(def.streams.len(), 2);
    assert_eq!(def.tables[0].source_stream.as_deref(), Some("in"));
    assert_eq!(
        def.ingests[0].dead_letter.as_deref(),
        Some("in_dead_letter")
    );
    assert_eq!(def.functions[0].destination.as_deref(), Some("out"));
}

#[test]
fn process_converts_to_wit() {
    let input = wit::Batch {
        encoding: wit::Encoding::Json,
        count: 2,
        data: b"{\"n\":2,\"tags\":[null,\"a\"]}\n{\"n\":-1,\"tags\":[]}".to_vec(),
    };
    let out = __private::process(&app(), "double", input).unwrap();
    assert_eq!(out.output.count, 1);
    assert_eq!(out.output.data, br#"{"n":4,"tags":[null,"a"]}"#);
    assert_eq!(out.sources, vec![0]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].index, 1);
    assert_eq!(out.errors[0].message, "negative: -1");
    let empty = wit::Batch {
        encoding: wit::Encoding::Json,
        count: 0,
        data: Vec::new(),
    };
    match __private::process(&app(), "nope", empty) {
        Err(wit::GuestError::UnknownFunction(name)) => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
    match __private::handle_api(&app(), "nope", b"{}") {
        Err(wit::ApiError::UnknownApi(name)) => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
}
