//! The Moose host: builds an app's components and runs its data stack.

pub mod api;
pub mod assemble;
pub mod auth;
pub mod builder;
pub mod cli;
pub mod codegen;
pub mod config;
pub mod image;
pub mod infra;
pub mod infra_map;
pub mod ingest;
pub mod mgmt;
pub mod openapi;
pub mod prod;
pub mod reload;
pub mod sdkgen;
pub mod serve;
pub mod toolchain;
