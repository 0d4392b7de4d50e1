//! The Moose host: builds an app's components and runs its data stack.

pub mod app;
pub mod assemble;
pub mod builder;
pub mod cli;
pub mod config;
pub mod runtime;
