//! The DDL of each [`Change`], for a [`Target`] (single server or cluster, as
//! [`ddl`] makes them).
//!
//! Most changes are one statement (`CREATE ... IF NOT EXISTS`, `ALTER TABLE ... ADD /
//! MODIFY / DROP COLUMN`, `MODIFY TTL`, `MODIFY SETTING`, `DROP INDEX`, `DROP ...`); an
//! added index or projection is also materialized for the stored rows; a recreated view
//! is dropped and created. A change of engine, sort key, partition key, primary key,
//! sampling key or index granularity cannot be an `ALTER`: the table is rebuilt:
//!
//! 1. the materialized views that read or write the table are dropped (no rows flow
//!    into the table while it is copied);
//! 2. `<table>__moose_rebuild` is created with the new engine, sort key and columns;
//! 3. `INSERT INTO <table>__moose_rebuild (common columns) SELECT common columns FROM
//!    <table>`: the rows of the columns both versions have (new columns take their
//!    defaults);
//! 4. `EXCHANGE TABLES` swaps both names atomically (on a cluster the `_local` tables,
//!    and the distributed table is recreated with the new columns);
//! 5. the old table, now `<table>__moose_rebuild`, is dropped;
//! 6. the materialized views are created again.
//!
//! Streams, functions, APIs and ingest routes have no DDL: the host creates streams when
//! it starts and runs the rest.

use super::diff::{Action, Change, ObjectKind};
use super::map::{InfraMap, TableKind};
use moose_model::app::App;
use moose_model::types::TableDef;
use moose_olap::ddl::{self, DdlKind, Target};
use moose_olap::OlapError;

/// Suffix of the table a rebuild copies rows into.
pub const REBUILD_SUFFIX: &str = "__moose_rebuild";

/// The statements of `change`, from `app` (the desired app, whose map is `desired`) and
/// `applied`, the map the database has now.
pub fn statements(
    change: &Change,
    app: &App,
    desired: &InfraMap,
    applied: &InfraMap,
    target: &Target,
) -> Result<Vec<String>, OlapError> {
    let name = change.name.as_str();
    Ok(match (change.kind, &change.action) {
        (ObjectKind::Table, Action::Create) => create_table(app, desired, target, name, name)?,
        (ObjectKind::Table, Action::Drop) => ddl::drop_table(target, name),
        (ObjectKind::Table, Action::AddColumn { column, after }) => ddl::add_column(
            target,
            name,
            &column.name,
            &column.ty,
            &column.clauses(),
            after.as_deref(),
        ),
        (ObjectKind::Table, Action::DropColumn { column }) => {
            ddl::drop_column(target, name, column)
        }
        (ObjectKind::Table, Action::ChangeType { column, .. }) => {
            ddl::modify_column(target, name, &column.name, &column.ty, &column.clauses())
        }
        (ObjectKind::Table, Action::ChangeColumn { column, option }) => {
            ddl::modify_column_property(
                target,
                name,
                &column.name,
                *option,
                column.property(*option),
            )
        }
        (ObjectKind::Table, Action::ChangeTtl { ttl }) => {
            ddl::modify_ttl(target, name, ttl.as_deref())
        }
        (ObjectKind::Table, Action::ChangeSetting { setting, value }) => {
            ddl::modify_setting(target, name, setting, value.as_deref())
        }
        (ObjectKind::Table, Action::AddIndex { index }) => ddl::add_index(target, name, index),
        (ObjectKind::Table, Action::DropIndex { index }) => ddl::drop_index(target, name, index),
        (ObjectKind::Table, Action::AddProjection { projection }) => {
            ddl::add_projection(target, name, projection)
        }
        (ObjectKind::Table, Action::DropProjection { projection }) => {
            ddl::drop_projection(target, name, projection)
        }
        (ObjectKind::Table, Action::Rebuild { copied }) => {
            rebuild(app, desired, applied, target, name, copied)?
        }
        (ObjectKind::View | ObjectKind::MaterializedView, Action::Drop) => {
            vec![ddl::drop_view(target, name)]
        }
        (ObjectKind::View, Action::Create) => vec![create_view(app, target, name)?],
        (ObjectKind::View, Action::Recreate) => {
            vec![
                ddl::drop_view(target, name),
                create_view(app, target, name)?,
            ]
        }
        (ObjectKind::MaterializedView, Action::Create) => {
            vec![create_materialized_view(app, target, name)?]
        }
        (ObjectKind::MaterializedView, Action::Recreate) => vec![
            ddl::drop_view(target, name),
            create_materialized_view(app, target, name)?,
        ],
        _ => vec![],
    })
}

/// The statements that create table `name` of `desired` under the name `as_name`.
fn create_table(
    app: &App,
    desired: &InfraMap,
    target: &Target,
    name: &str,
    as_name: &str,
) -> Result<Vec<String>, OlapError> {
    let missing = || OlapError::Schema(format!("table `{name}` is not part of the app"));
    let spec = desired.tables.get(name).ok_or_else(missing)?;
    let statements = match spec.kind {
        TableKind::DeadLetter => std::iter::once(ddl::dead_letter_table(target, as_name))
            .chain(ddl::distributed_table(target, as_name, &[]))
            .collect(),
        TableKind::Table | TableKind::AggregationTarget | TableKind::WindowTarget => {
            let (def, kind) = table_def(app, name).ok_or_else(missing)?;
            let def = TableDef {
                name: as_name.to_string(),
                ..def.clone()
            };
            ddl::create_table(app, target, &def, kind)?
        }
    };
    Ok(statements.into_iter().map(|s| s.sql).collect())
}

/// The declaration of table `name`: an app table or an aggregation's or windowed
/// aggregation's target.
fn table_def<'a>(app: &'a App, name: &str) -> Option<(&'a TableDef, DdlKind)> {
    app.def
        .tables
        .iter()
        .find(|t| t.name == name)
        .map(|t| (t, DdlKind::Table))
        .or_else(|| {
            app.def
                .aggregations
                .iter()
                .map(|a| &a.target)
                .find(|t| t.name == name)
                .map(|t| (t, DdlKind::AggregationTarget))
        })
        .or_else(|| {
            app.def
                .windowed_aggregations
                .iter()
                .map(|w| &w.target)
                .find(|t| t.name == name)
                .map(|t| (t, DdlKind::WindowTarget))
        })
}

fn create_view(app: &App, target: &Target, name: &str) -> Result<String, OlapError> {
    let view = app
        .def
        .views
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| OlapError::Schema(format!("view `{name}` is not part of the app")))?;
    Ok(ddl::create_view(target, view))
}

fn create_materialized_view(app: &App, target: &Target, name: &str) -> Result<String, OlapError> {
    let aggregation = app
        .def
        .aggregations
        .iter()
        .find(|a| ddl::materialized_view_name(a) == name)
        .ok_or_else(|| {
            OlapError::Schema(format!("materialized view `{name}` is not part of the app"))
        })?;
    Ok(ddl::create_materialized_view(target, aggregation))
}

/// The rebuild of table `name` (module docs).
fn rebuild(
    app: &App,
    desired: &InfraMap,
    applied: &InfraMap,
    target: &Target,
    name: &str,
    copied: &[String],
) -> Result<Vec<String>, OlapError> {
    let touches =
        |sources: &[String], written: &str| written == name || sources.iter().any(|s| s == name);
    let temporary = format!("{name}{REBUILD_SUFFIX}");
    let mut statements: Vec<String> = applied
        .materialized_views
        .iter()
        .filter(|(_, mv)| touches(&mv.sources, &mv.target))
        .map(|(mv, _)| ddl::drop_view(target, mv))
        .collect();
    statements.extend(ddl::drop_table(target, &temporary));
    statements.extend(create_table(app, desired, target, name, &temporary)?);
    statements.push(ddl::copy_rows(target, name, &temporary, copied));
    statements.push(ddl::exchange_tables(target, &temporary, name));
    if target.cluster.is_some() {
        // The distributed table keeps the old columns: drop it (the first statement
        // `drop_table` gives) and create it again over the swapped `_local` table.
        statements.extend(ddl::drop_table(target, name).into_iter().take(1));
        statements.extend(create_table(app, desired, target, name, name)?);
    }
    statements.extend(ddl::drop_table(target, &temporary));
    for (mv, spec) in &desired.materialized_views {
        if touches(&spec.sources, &spec.target) {
            statements.push(create_materialized_view(app, target, mv)?);
        }
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra_map::diff::diff;
    use moose_model::types::{AppDef, DataType, Field, Model, ScalarType, TableEngine};

    fn app(fields: &[&str], order_by: &str) -> App {
        let fields = fields
            .iter()
            .map(|name| Field::new(*name, DataType::new(vec![], ScalarType::Int64)))
            .collect();
        App {
            name: "t".into(),
            components: vec![],
            def: AppDef {
                models: vec![Model::new("T", fields)],
                tables: vec![TableDef {
                    name: "T".into(),
                    model: "T".into(),
                    order_by: vec![order_by.into()],
                    engine: TableEngine::MergeTree,
                    source_stream: None,
                    options: Default::default(),
                }],
                ..AppDef::default()
            },
        }
    }

    fn ddl(old: &App, new: &App, target: &Target) -> Vec<String> {
        let (applied, desired) = (
            InfraMap::from_app(old).unwrap(),
            InfraMap::from_app(new).unwrap(),
        );
        diff(&applied, &desired)
            .iter()
            .flat_map(|c| statements(c, new, &desired, &applied, target).unwrap())
            .collect()
    }

    #[test]
    fn alters_columns() {
        let old = app(&["id", "a", "gone"], "id");
        let mut new = app(&["id", "a", "added"], "id");
        new.def.models[0].fields[1].data_type = DataType::new(vec![], ScalarType::Int32);
        assert_eq!(
            ddl(&old, &new, &"db".into()),
            [
                "ALTER TABLE `db`.`T` ADD COLUMN IF NOT EXISTS `added` Int64 AFTER `a`",
                "ALTER TABLE `db`.`T` MODIFY COLUMN `a` Int32",
                "ALTER TABLE `db`.`T` DROP COLUMN IF EXISTS `gone`",
            ]
        );
        let cluster = Target {
            database: "db".into(),
            cluster: Some("c".into()),
            server: None,
        };
        assert_eq!(
            ddl(&old, &app(&["id", "a"], "id"), &cluster),
            [
                "ALTER TABLE `db`.`T_local` ON CLUSTER `c` DROP COLUMN IF EXISTS `gone`",
                "ALTER TABLE `db`.`T` ON CLUSTER `c` DROP COLUMN IF EXISTS `gone`",
            ]
        );
    }

    #[test]
    fn rebuilds_a_table_with_a_new_sort_key() {
        let old = app(&["id", "a"], "id");
        let new = app(&["id", "a", "b"], "a");
        assert_eq!(
            ddl(&old, &new, &"db".into()),
            [
                "DROP TABLE IF EXISTS `db`.`T__moose_rebuild`",
                "CREATE TABLE IF NOT EXISTS `db`.`T__moose_rebuild`\n(\n    `id` Int64,\n    `a` Int64,\n    `b` Int64\n)\nENGINE = MergeTree\nORDER BY (`a`)",
                "INSERT INTO `db`.`T__moose_rebuild` (`id`, `a`)\nSELECT `id`, `a`\nFROM `db`.`T`",
                "EXCHANGE TABLES `db`.`T__moose_rebuild` AND `db`.`T`",
                "DROP TABLE IF EXISTS `db`.`T__moose_rebuild`",
            ]
        );
    }
}
