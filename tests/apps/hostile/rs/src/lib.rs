//! The Rust part of the hostile test app: ingest pipeline `HostileRs` feeds function
//! `hostile_rs`, which writes to stream `HostileRsOut` whatever its input's `op` asks for.
//! The TypeScript (`ts/`) and Python (`py/`) parts declare the same with `Ts` and `Py`.
//!
//! Only here, `HostileRsOut` has a table, read by aggregation `payload_numbers`, whose
//! select parses a String into its table's UInt64 with `toUInt64`: the types fit, so the
//! app is accepted, and the view fails on every payload that is not a number.
//!
//! | `op` | the function |
//! |---|---|
//! | `echo` | one output |
//! | `big` | one output whose `payload` is `n` bytes |
//! | `many` | `n` outputs |
//! | `log` | `n` log lines of `size` bytes each, then one output |
//! | `print` | `n` lines of `size` bytes on stdout, then one output |
//! | `panic` | panics with `boom <id>` |
//! | `recurse` | recurses `n` levels deep (without end for a large `n`) |
//! | `net` | opens a TCP connection; its error becomes the record's error |
//! | `number` | one output whose `payload` is `n` as text |
//! | `fixme` | fails with `not fixed yet` (a test edits this) |

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// What the function is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Hostile {
    #[moose(key)]
    pub id: String,
    pub op: String,
    pub n: u64,
    pub size: u64,
}

/// One output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct HostileOut {
    #[moose(key)]
    pub id: String,
    pub i: u64,
    pub payload: String,
}

fn out(id: &str, i: u64, payload: String) -> HostileOut {
    HostileOut {
        id: id.to_string(),
        i,
        payload,
    }
}

/// Recurses `depth` levels, each with 1 KiB on the stack.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    std::hint::black_box(&mut frame);
    if depth == 0 {
        return 0;
    }
    recurse(depth - 1) + u64::from(frame[0])
}

/// Does what `record.op` asks.
pub fn hostile(record: Hostile) -> Result<Vec<HostileOut>, String> {
    let id = record.id.as_str();
    Ok(match record.op.as_str() {
        "echo" => vec![out(id, 0, String::new())],
        "big" => vec![out(id, 0, "x".repeat(record.n as usize))],
        "many" => (0..record.n).map(|i| out(id, i, String::new())).collect(),
        "log" => {
            let line = "l".repeat(record.size as usize);
            for _ in 0..record.n {
                log::info(&line);
            }
            vec![out(id, 0, String::new())]
        }
        "print" => {
            let line = "p".repeat(record.size as usize);
            for _ in 0..record.n {
                println!("{line}");
            }
            vec![out(id, 0, String::new())]
        }
        "panic" => panic!("boom {id}"),
        "recurse" => {
            let total = recurse(record.n);
            vec![out(id, total, String::new())]
        }
        "number" => vec![out(id, 0, record.n.to_string())],
        "fixme" => return Err("not fixed yet".into()),
        "net" => match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => vec![out(id, 0, "connected".into())],
            Err(e) => return Err(format!("no network: {e}")),
        },
        other => return Err(format!("unknown op `{other}`")),
    })
}

/// A payload read as a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct PayloadNumber {
    #[moose(key)]
    pub id: String,
    pub n: u64,
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    let input =
        app.ingest_pipeline::<Hostile>("HostileRs", PipelineConfig::default().without_table());
    let output = app.stream_pipeline::<HostileOut>("HostileRsOut", PipelineConfig::default());
    app.transform("hostile_rs", &input.stream, &output.stream, hostile);
    app.aggregation::<PayloadNumber>(
        "payload_numbers",
        "SELECT id, toUInt64(payload) AS n FROM HostileRsOut",
        &["HostileRsOut"],
        TableConfig::default(),
    );
    app
}

export_app!(app);
