//! The engine on its own: a stand-in guest that counts records, no streams, no tokio.

use std::collections::BTreeSet;

use moose_model::app::App;
use moose_model::types::{AppDef, DataType, Field, Model, ScalarType, WindowSpec};
use moose_records::DeadLetter;

use super::*;
use moose_runtime::types::{Encoding, GuestError, RecordError};

/// Counts records per window. A record with `"reject": true` is refused on its own; a
/// batch holding a record with `"boom": true` fails as a whole. Emits `{"start", "n"}`,
/// or a row missing `n` for a window of exactly 7 records.
struct Counter;

fn count(state: &[u8]) -> u64 {
    std::str::from_utf8(state)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl WindowGuest for Counter {
    fn init(&self, _: &str, _: WindowBounds) -> Result<Vec<u8>, GuestCallError> {
        Ok(b"0".to_vec())
    }

    fn accumulate(
        &self,
        _: &str,
        _: WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestCallError> {
        let mut n = count(state);
        let mut errors = Vec::new();
        for (index, line) in input.data.split(|b| *b == b'\n').enumerate() {
            let record: Value = serde_json::from_slice(line).unwrap_or_default();
            if record["boom"] == true {
                return Err(GuestCallError::Refused(GuestError::Failed("boom".into())));
            }
            if record["reject"] == true {
                errors.push(RecordError {
                    index: index as u32,
                    message: "rejected".into(),
                });
            } else {
                n += 1;
            }
        }
        Ok(AccumulateOutput {
            state: n.to_string().into_bytes(),
            errors,
        })
    }

    fn merge(
        &self,
        _: &str,
        _: WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Vec<u8>, GuestCallError> {
        Ok((count(a) + count(b)).to_string().into_bytes())
    }

    fn emit(&self, _: &str, window: WindowBounds, state: &[u8]) -> Result<Batch, GuestCallError> {
        let n = count(state);
        let row = match n {
            7 => format!(r#"{{"start":{}}}"#, window.start_ms),
            n => format!(r#"{{"start":{},"n":{n}}}"#, window.start_ms),
        };
        Ok(Batch {
            encoding: Encoding::Json,
            count: 1,
            data: row.into_bytes(),
        })
    }
}

/// Tumbling windows of 10 s, no lateness, event time in field `t` (Unix seconds).
fn context() -> Context {
    let target = Model::new(
        "Counts",
        vec![
            Field::new("start", DataType::new(vec![], ScalarType::Int64)),
            Field::new("n", DataType::new(vec![], ScalarType::Uint64)),
        ],
    );
    let app = App {
        name: "test".into(),
        components: vec![],
        def: AppDef {
            models: vec![target],
            ..AppDef::default()
        },
    };
    Context {
        name: "counts".into(),
        tiling: Tiling::new(&WindowSpec {
            size_seconds: 10,
            hop_seconds: 10,
            allowed_lateness_seconds: 0,
        }),
        time_field: "t".into(),
        time_type: ScalarType::DateTime,
        target: ModelValidator::new(&app, "Counts").expect("model is declared"),
    }
}

/// Records of partition 0 from `offset` on, one per JSON text.
fn batch(offset: u64, values: &[&str]) -> Vec<StoredRecord> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| StoredRecord {
            partition: 0,
            offset: offset + i as u64,
            key: None,
            value: value.as_bytes().to_vec(),
            timestamp_ms: 0,
        })
        .collect()
}

fn holds() -> Holds {
    Holds {
        quiet: BTreeSet::new(),
        unread: None,
    }
}

fn dead(step: &Step) -> Vec<(String, String)> {
    step.dead_letters
        .iter()
        .map(|r| {
            let d: DeadLetter = serde_json::from_slice(&r.value).expect("a dead letter");
            (d.error_kind.as_str().to_string(), d.error)
        })
        .collect()
}

fn emitted(step: &Step) -> Vec<(i64, String)> {
    step.update
        .emissions
        .iter()
        .map(|(w, e)| (w.start_ms, String::from_utf8_lossy(&e.rows).into_owned()))
        .collect()
}

#[test]
fn records_fill_windows_that_close_once_the_watermark_passes() {
    let context = context();
    let mut live = Live::default();
    let step = context.step(
        &Counter,
        &mut live,
        &batch(0, &[r#"{"t":1}"#, r#"{"t":2}"#, r#"{"t":9}"#]),
        &holds(),
    );
    assert_eq!((step.read, step.accumulated, step.late), (3, 3, 0));
    assert!(emitted(&step).is_empty(), "[0, 10 s) is still open");
    assert_eq!(live.progress.watermark, Some(9_000));
    assert_eq!(step.update.states.len(), 1);

    let step = context.step(&Counter, &mut live, &batch(3, &[r#"{"t":12}"#]), &holds());
    assert_eq!(
        emitted(&step),
        vec![(0, r#"{"start":0,"n":3}"#.to_string())]
    );
    assert_eq!(step.update.closed.len(), 1);
    assert_eq!(live.progress.offsets.get(&0), Some(&4));
    assert!(
        step.update
            .states
            .iter()
            .all(|(w, _, _)| w.start_ms == 10_000),
        "a closed window's state is removed, not stored again"
    );
}

#[test]
fn late_and_unreadable_records_are_dead_lettered_and_repeats_skipped() {
    let context = context();
    let mut live = Live::default();
    context.step(&Counter, &mut live, &batch(0, &[r#"{"t":25}"#]), &holds());
    let step = context.step(
        &Counter,
        &mut live,
        &batch(0, &[r#"{"t":25}"#, r#"{"t":3}"#, r#"{"x":1}"#, "not json"]),
        &holds(),
    );
    assert_eq!(step.read, 3, "offset 0 was already aggregated");
    assert_eq!((step.late, step.failed), (1, 2));
    let dead = dead(&step);
    assert_eq!(dead[0].0, "late");
    assert!(
        dead[0]
            .1
            .contains("late record: event time 1970-01-01T00:00:03.000Z"),
        "{dead:?}"
    );
    assert!(dead[1].1.contains("`t` is missing"), "{dead:?}");
    assert!(dead[2].1.contains("not JSON"), "{dead:?}");
}

#[test]
fn a_failing_batch_is_retried_record_by_record_and_only_failures_are_rejected() {
    let context = context();
    let mut live = Live::default();
    let step = context.step(
        &Counter,
        &mut live,
        &batch(
            0,
            &[
                r#"{"t":1}"#,
                r#"{"t":2,"boom":true}"#,
                r#"{"t":3,"reject":true}"#,
                r#"{"t":4}"#,
            ],
        ),
        &holds(),
    );
    assert_eq!((step.accumulated, step.failed), (2, 2));
    let errors: Vec<String> = dead(&step).into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        errors,
        vec![
            "the guest refused the call: boom".to_string(),
            "rejected".to_string()
        ]
    );
    let step = context.step(&Counter, &mut live, &batch(4, &[r#"{"t":10}"#]), &holds());
    assert_eq!(
        emitted(&step),
        vec![(0, r#"{"start":0,"n":2}"#.to_string())]
    );
}

#[test]
fn rows_that_do_not_match_the_target_model_are_dead_lettered() {
    let context = context();
    let mut live = Live::default();
    let seven: Vec<&str> = vec![r#"{"t":1}"#; 7];
    context.step(&Counter, &mut live, &batch(0, &seven), &holds());
    let step = context.step(&Counter, &mut live, &batch(7, &[r#"{"t":11}"#]), &holds());
    assert!(emitted(&step)[0].1.is_empty());
    assert_eq!(step.emitted_rows, 0);
    let dead = dead(&step);
    assert_eq!(dead[0].0, "output");
    assert!(
        dead[0].1.contains("does not match model `Counts`"),
        "{dead:?}"
    );
}

#[test]
fn partitions_hold_the_watermark_at_the_slowest() {
    let context = context();
    let mut live = Live::default();
    let mut records = batch(0, &[r#"{"t":30}"#]);
    records.extend(batch(0, &[r#"{"t":5}"#]).into_iter().map(|mut r| {
        r.partition = 1;
        r
    }));
    let step = context.step(&Counter, &mut live, &records, &holds());
    assert_eq!(live.progress.watermark, Some(5_000));
    assert!(emitted(&step).is_empty());
}
