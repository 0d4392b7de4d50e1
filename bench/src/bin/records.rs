//! Record checking benchmark: the quickstart's records checked against their models the
//! way the host does it (reading the text against the model's rules, with the stream key,
//! and at ingest the text compacted for storage) against the full way as a baseline
//! (parse into a JSON value, check the value, make the key from it, and at ingest
//! serialise the value again), side by side in one run.
//!
//! Two steps: ingest (`Order` records posted to `/ingest/Order`, checked strictly) and a
//! function's outputs (`OrderEnriched` lines from `enrich_order`).
//!
//! Run: `cargo run --release -p moose-bench --bin records [-- --records N --rounds R]`

use std::time::Instant;

use anyhow::Context;
use moose_bench::median;
use moose_model::app::App;
use moose_model::types::{AppDef, DataType, EnumMember, Field, Model, ScalarType};
use moose_records::{compact, parse_record, record_key, ModelValidator};
use serde_json::{json, Value};

fn main() -> anyhow::Result<()> {
    let (records, rounds) = moose_bench::records_and_rounds(200_000, 7)?;
    let app = quickstart_models();
    let keys = ["id".to_string()];
    let order = ModelValidator::new(&app, "Order").context("Order")?;
    let enriched = ModelValidator::new(&app, "OrderEnriched").context("OrderEnriched")?;
    let (orders, outputs) = lines(records);

    let ingest_value = |raw: &[u8]| -> usize {
        let value = parse_record(raw).expect("valid");
        order.validate(&value).expect("fits");
        let key = record_key(&value, &keys);
        value.to_string().len() + key.map_or(0, |k| k.len())
    };
    let ingest_text = |raw: &[u8]| -> usize {
        let key = order.check_record(raw, &keys).expect("fits");
        compact(raw).len() + key.map_or(0, |k| k.len())
    };
    let output_value = |line: &[u8]| -> usize {
        let value: Value = serde_json::from_slice(line).expect("valid");
        enriched.validate(&value).expect("fits");
        record_key(&value, &keys).map_or(0, |k| k.len())
    };
    let output_text = |line: &[u8]| -> usize {
        let key = enriched.check_line(line, &keys).expect("fits");
        key.map_or(0, |k| k.len())
    };

    println!("{records} records per run, {rounds} rounds alternating; median ns per record");
    println!(
        "{:<24} {:>12} {:>12} {:>8}",
        "step", "full (value)", "text", "speed-up"
    );
    for (step, data, full, text) in [
        (
            "ingest Order",
            &orders,
            &ingest_value as &dyn Fn(&[u8]) -> usize,
            &ingest_text as &dyn Fn(&[u8]) -> usize,
        ),
        (
            "output OrderEnriched",
            &outputs,
            &output_value,
            &output_text,
        ),
    ] {
        let (mut full_ns, mut text_ns) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            full_ns.push(per_record(data, full));
            text_ns.push(per_record(data, text));
        }
        let (full_ns, text_ns) = (median(&mut full_ns), median(&mut text_ns));
        println!(
            "{step:<24} {full_ns:>12.0} {text_ns:>12.0} {:>8.2}",
            full_ns / text_ns
        );
    }
    Ok(())
}

/// Nanoseconds per record of `run` over `data`.
fn per_record(data: &[String], run: &dyn Fn(&[u8]) -> usize) -> f64 {
    let started = Instant::now();
    let mut total = 0usize;
    for line in data {
        total += run(line.as_bytes());
    }
    std::hint::black_box(total);
    started.elapsed().as_nanos() as f64 / data.len() as f64
}

/// The quickstart's `Order` and `OrderEnriched` (examples/quickstart/src/lib.rs).
fn quickstart_models() -> App {
    use ScalarType as S;
    let field = |name: &str, leaf: ScalarType| Field::new(name, DataType::new(vec![], leaf));
    let tier = S::Enum(
        ["small", "medium", "large"]
            .iter()
            .zip(1..)
            .map(|(name, value)| EnumMember {
                name: (*name).into(),
                value,
            })
            .collect(),
    );
    let order = Model::new(
        "Order",
        vec![
            field("id", S::String),
            field("customer", S::String),
            field("amount", S::Float64),
            field("ts", S::DateTime),
        ],
    );
    let enriched = Model::new(
        "OrderEnriched",
        vec![
            field("id", S::String),
            field("customer", S::String),
            field("amount", S::Float64),
            field("amount_cents", S::Int64),
            field("tier", tier),
            field("day", S::Date),
            field("ts", S::DateTime),
        ],
    );
    App {
        name: "quickstart".into(),
        components: vec![],
        def: AppDef {
            models: vec![order, enriched],
            ..AppDef::default()
        },
    }
}

/// `n` orders as clients post them, and `enrich_order`'s output for each.
fn lines(n: usize) -> (Vec<String>, Vec<String>) {
    (0..n)
        .map(|i| {
            let amount = (i % 5000) as f64 * 0.37 + 0.5;
            let (day, hour, minute) = (1 + i % 28, i % 24, i % 60);
            let ts = format!("2024-05-{day:02}T{hour:02}:{minute:02}:00Z");
            let (id, customer) = (format!("o{i}"), format!("c{}", i % 97));
            let tier = match amount {
                a if a < 100.0 => "small",
                a if a < 1000.0 => "medium",
                _ => "large",
            };
            let order = json!({"id": id, "customer": customer, "amount": amount, "ts": ts});
            let output = json!({
                "id": id, "customer": customer, "amount": amount,
                "amount_cents": (amount * 100.0).round() as i64, "tier": tier,
                "day": format!("2024-05-{day:02}"), "ts": ts,
            });
            (order.to_string(), output.to_string())
        })
        .unzip()
}
