//! The conformance-suite component in Rust. `tests/conformance/README.md` describes the
//! models and functions every language's conformance component declares.

use std::collections::BTreeMap;

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// A nested record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Inner {
    pub name: String,
    pub tags: Vec<String>,
}

/// An enum column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Model)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 3,
}

/// One field of every type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Everything {
    #[moose(key)]
    pub id: String,
    pub s: String,
    #[moose(low_cardinality)]
    pub lc: String,
    pub i8: i8,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
    pub f32: f32,
    pub f64: f64,
    pub b: bool,
    pub dec: Decimal<18, 4>,
    pub d: Date,
    pub dt: DateTime,
    #[moose(datetime64 = 3)]
    pub dt64: DateTime,
    pub uid: Uuid,
    pub e: Color,
    pub j: Json,
    pub inner: Inner,
    pub opt_s: Option<String>,
    pub opt_i: Option<i32>,
    pub arr_i: Vec<i32>,
    pub arr_opt: Vec<Option<String>>,
    pub m: BTreeMap<String, f64>,
    pub m_arr: BTreeMap<String, Vec<u8>>,
    pub inners: Vec<Inner>,
    pub i128: i128,
    pub u256: moose_guest::types::UInt256,
    #[moose(fixed_string = 4)]
    pub fs: String,
    pub v4: std::net::Ipv4Addr,
    pub v6: std::net::Ipv6Addr,
    pub pt: moose_guest::types::Point,
    pub poly: moose_guest::types::Polygon,
}

fn identity(record: Everything) -> Everything {
    record
}

fn filter(record: Everything) -> Option<Everything> {
    record.b.then_some(record)
}

fn fan_out(record: Everything) -> Vec<Everything> {
    (0..record.u8 % 4)
        .map(|k| Everything {
            id: format!("{}-{k}", record.id),
            ..record.clone()
        })
        .collect()
}

fn fail_on_boom(record: Everything) -> Result<Everything, String> {
    if record.s == "boom" {
        Err(format!("boom: {}", record.id))
    } else {
        Ok(record)
    }
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    app.model::<Inner>();
    let source = app.stream::<Everything>("Everything", StreamConfig::default());
    let out = app.stream::<Everything>("EverythingOut", StreamConfig::default());
    app.transform("identity", &source, &out, identity);
    app.transform("filter", &source, &out, filter);
    app.transform("fan_out", &source, &out, fan_out);
    app.transform("fail_on_boom", &source, &out, fail_on_boom);
    app
}

export_app!(app);
