//! Declaring an app: versions, routes and names checked when it is built.

use super::*;

#[test]
#[should_panic(expected = "two streams are named `Order`")]
fn duplicate_names_panic() {
    let mut app = App::new();
    app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    app.stream::<Order>("Order", StreamConfig::default());
}

/// Version 1.1 of `Big`, with one more field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[moose(name = "Big", version = "1.1")]
struct BigV11 {
    id: String,
    note: Option<String>,
}

#[test]
fn versions_of_a_model_get_their_own_pipelines() {
    let mut app = App::new();
    app.ingest_pipeline::<Big>("Big", PipelineConfig::default());
    let v11 = app.ingest_pipeline::<BigV11>("Big", PipelineConfig::default());
    assert_eq!(v11.stream.name(), "Big_1_1");
    assert_eq!(v11.table.as_ref().map(|t| t.name()), Some("Big_1_1"));
    assert_eq!(
        v11.dead_letter,
        Some(DeadLetterQueue::named("Big_1_1_dead_letter"))
    );
    let def = app.describe();
    let ingests: Vec<(&str, &str, &str)> = def
        .ingests
        .iter()
        .map(|i| (i.name.as_str(), i.model.as_str(), i.stream.as_str()))
        .collect();
    assert_eq!(
        ingests,
        vec![("Big", "Big", "Big"), ("Big", "Big@1.1", "Big_1_1")]
    );
    let models: Vec<String> = def.models.iter().map(|m| m.reference()).collect();
    assert_eq!(models, vec!["Big", "Big@1.1"]);
}

#[test]
#[should_panic(expected = "two ingest endpoints are named `Big/1.1`")]
fn one_ingest_route_per_model_version() {
    let mut app = App::new();
    let v11 = app.ingest_pipeline::<BigV11>("Big", PipelineConfig::default());
    app.ingest("Big", &v11.stream, None);
}

#[test]
#[should_panic(expected = "two APIs are named `ping/2.0`")]
fn duplicate_api_versions_panic() {
    let mut app = App::new();
    app.api("ping", ping_v2).version("2.0");
    app.api("ping", ping).version("1.0");
    app.api("ping", ping).version("2.0");
}

#[test]
fn dead_letter_queues_are_not_declared_streams() {
    let mut app = App::new();
    let orders = app.ingest_pipeline::<Order>("Order", PipelineConfig::default());
    assert_eq!(
        orders.dead_letter,
        Some(DeadLetterQueue::named("Order_dead_letter"))
    );
    let no_ingest = app.ingest_pipeline::<Big>("Big", PipelineConfig::default().without_ingest());
    assert_eq!(no_ingest.dead_letter, None);
    let def = app.describe();
    assert!(def
        .streams
        .iter()
        .all(|s| !s.name.ends_with("_dead_letter")));
    assert_eq!(
        def.ingests[0].dead_letter.as_deref(),
        Some("Order_dead_letter")
    );
}

#[test]
#[should_panic(expected = "API `bad`: default of `n` must be a number")]
fn invalid_param_default_panics() {
    #[derive(Deserialize, ApiParams)]
    struct P {
        #[moose(default = "ten")]
        n: u32,
    }
    fn h(p: P) -> Result<Vec<Big>, ApiError> {
        Ok(vec![Big {
            id: p.n.to_string(),
        }])
    }
    App::new().api("bad", h);
}
