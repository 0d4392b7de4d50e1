//! Host-side bindings generated from `wit/moose.wit`.
//!
//! The generated record and variant types double as the host's description of an app
//! (`app-def` and everything in it), so they also derive serde and `PartialEq`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "moose-app",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

pub use moose::app::host::{LogLevel, QueryParam};
pub use moose::app::types;
