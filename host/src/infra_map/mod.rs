//! The infrastructure map of an app, the diff against what was applied, and migrations.
//!
//! - [`InfraMap`] ([`map`]): streams, tables (columns, engine, sort key), views,
//!   materialized views, functions, APIs and ingest routes, derived from an [`App`](moose_model::app::App).
//! - [`diff()`] ([`diff`]): the [`Change`]s from the applied map to the desired one, each
//!   [`Safety::Safe`] or [`Safety::Destructive`], in dependency order.
//! - [`sql`]: the DDL of each change, on a single server or a cluster.
//! - [`state`]: the applied map, stored in the app's database (`_moose_state`).
//! - [`migrate`]: plans and runs changes; [`migrate_dev`] is `moose dev`'s schema step.
//! - [`plan_file`]: the reviewable plan `moose plan --save` writes and [`apply_plan`] runs,
//!   refusing when the database drifted since the plan was made.

pub mod diff;
pub mod map;
pub mod migrate;
pub mod plan_file;
pub mod sql;
pub mod state;

pub use diff::{diff, Action, Change, ObjectKind, Op, Safety};
pub use map::{ColumnSpec, InfraMap, TableKind, TableSpec};
pub use migrate::{migrate_dev, plan_changes, plan_hash, Migrated, PlannedChange};
pub use plan_file::{apply_plan, MigrationPlan, PlanError, PLAN_FORMAT};
pub use state::{AppliedState, STATE_TABLE};
