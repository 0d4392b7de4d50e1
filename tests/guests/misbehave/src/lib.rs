//! A component that misbehaves on purpose, for the host's runtime tests.
//!
//! Streams `items` and `items_out` (model `Item`, no tables, no ingest). Functions, all
//! `items` -> `items_out`:
//!
//! | function | per record |
//! |---|---|
//! | `passthrough` | the record unchanged |
//! | `fail_odd` | record error `odd n: <n>` for odd `n`, else unchanged |
//! | `fan_out` | `n` copies for `n` in `0..=3`, else one |
//! | `trap` | `panic!("boom")`: the whole call traps |
//! | `spin` | loops forever (only fuel or epoch interruption stops it) |
//! | `hog` | allocates and touches 1 MiB chunks, keeping them, until allocation fails (the allocation failure aborts: a trap) |
//!
//! API `echo?text=..&times=..` returns `[{"text": text, "times": times or 1}]`.

use moose_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// A test record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Item {
    #[moose(key)]
    pub n: i64,
    pub label: String,
}

/// Response row of `echo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
pub struct Echo {
    pub text: String,
    pub times: u32,
}

/// Parameters of `echo`.
#[derive(Debug, Clone, Deserialize, ApiParams)]
pub struct EchoParams {
    /// Text to echo back.
    pub text: String,
    /// Echoed back; 1 when absent.
    pub times: Option<u32>,
}

/// The record unchanged.
pub fn passthrough(item: Item) -> Item {
    item
}

/// An error for odd `n`.
pub fn fail_odd(item: Item) -> Result<Item, String> {
    if item.n % 2 != 0 {
        Err(format!("odd n: {}", item.n))
    } else {
        Ok(item)
    }
}

/// `n` copies for `n` in `0..=3`, else one.
pub fn fan_out(item: Item) -> Vec<Item> {
    let copies = match item.n {
        n @ 0..=3 => n as usize,
        _ => 1,
    };
    vec![item; copies]
}

/// Panics on every record.
pub fn trap(_item: Item) -> Item {
    panic!("boom")
}

/// Never returns.
pub fn spin(item: Item) -> Item {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
        std::hint::black_box(&item);
    }
}

/// Allocates and touches 1 MiB chunks forever, keeping them.
pub fn hog(item: Item) -> Item {
    const CHUNK: usize = 1 << 20;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        chunk.resize(CHUNK, 0xA5u8);
        kept.push(std::hint::black_box(chunk));
        std::hint::black_box(&item);
    }
}

/// `[{"text": text, "times": times or 1}]`.
pub fn echo(params: EchoParams) -> Result<Vec<Echo>, ApiError> {
    Ok(vec![Echo {
        text: params.text,
        times: params.times.unwrap_or(1),
    }])
}

/// The app.
pub fn app() -> App {
    let mut app = App::new();
    let items = app.stream::<Item>("items", StreamConfig::default());
    let out = app.stream::<Item>("items_out", StreamConfig::default());
    app.transform("passthrough", &items, &out, passthrough);
    app.transform("fail_odd", &items, &out, fail_odd);
    app.transform("fan_out", &items, &out, fan_out);
    app.transform("trap", &items, &out, trap);
    app.transform("spin", &items, &out, spin);
    app.transform("hog", &items, &out, hog);
    app.api("echo", echo);
    app
}

export_app!(app);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::app;
    use moose_guest::process::Batch;

    fn batch() -> Batch {
        Batch::from_lines((0..5).map(|n| format!(r#"{{"n":{n},"label":"l{n}"}}"#)))
    }

    #[test]
    fn well_behaved_functions() {
        let app = app();
        let out = app.process("passthrough", &batch()).unwrap();
        assert_eq!(out.output.data, batch().data);
        assert_eq!(out.sources, vec![0, 1, 2, 3, 4]);

        let out = app.process("fail_odd", &batch()).unwrap();
        assert_eq!(out.sources, vec![0, 2, 4]);
        let errors: Vec<_> = out
            .errors
            .iter()
            .map(|e| (e.index, e.message.as_str()))
            .collect();
        assert_eq!(errors, vec![(1, "odd n: 1"), (3, "odd n: 3")]);

        let out = app.process("fan_out", &batch()).unwrap();
        assert_eq!(out.sources, vec![1, 2, 2, 3, 3, 3, 4]);
    }

    #[test]
    fn echo_api() {
        let app = app();
        let r = app
            .handle_api("echo", br#"{"text":"hi","times":3}"#)
            .unwrap();
        assert_eq!(r.body, br#"[{"text":"hi","times":3}]"#);
        let r = app.handle_api("echo", br#"{"text":"hi"}"#).unwrap();
        assert_eq!(r.body, br#"[{"text":"hi","times":1}]"#);
        assert!(app.handle_api("echo", b"{}").is_err());
    }
}
