//! The changes that turn the applied [`InfraMap`] into the desired one, each marked safe
//! or destructive, in the order they can run.
//!
//! Order: streams are created first; views and materialized views that go away are
//! dropped before the tables they read; then tables are dropped, created and altered;
//! then views and materialized views are created or recreated, each after the views it
//! reads; then functions, APIs and ingest routes; streams are dropped last.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use moose_model::types::{Projection, TableIndex};
use moose_olap::ddl::ColumnProperty;

use super::map::{ColumnSpec, InfraMap, TableSpec};

/// What a change does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Alter,
    Drop,
}

impl Op {
    /// `+`, `~` or `-`.
    pub fn symbol(self) -> char {
        match self {
            Op::Create => '+',
            Op::Alter => '~',
            Op::Drop => '-',
        }
    }
}

/// The kind of object a change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Stream,
    Table,
    View,
    MaterializedView,
    Function,
    Api,
    Ingest,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::Stream => "stream",
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Api => "api",
            ObjectKind::Ingest => "ingest",
        })
    }
}

/// Whether applying a change can lose data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    Safe,
    Destructive,
}

/// What exactly changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The object is created.
    Create,
    /// The object is dropped, with its data.
    Drop,
    /// A column is added after column `after` (first when `None`).
    AddColumn {
        column: ColumnSpec,
        after: Option<String>,
    },
    /// A column is dropped, with its data.
    DropColumn { column: String },
    /// A column's type changes (from `from`); ClickHouse converts the stored values.
    ChangeType { column: ColumnSpec, from: String },
    /// A column's default, computed expression, comment, codec or TTL changes (`column`
    /// holds the new one); stored values stay, except that a new TTL resets the values it
    /// has passed.
    ChangeColumn {
        column: ColumnSpec,
        option: ColumnProperty,
    },
    /// The table's TTL is set, changed or removed (`None`); rows past a new TTL are
    /// deleted or moved.
    ChangeTtl { ttl: Option<String> },
    /// A data-skipping index is added and built for the stored rows.
    AddIndex { index: TableIndex },
    /// A data-skipping index is dropped (the rows stay).
    DropIndex { index: String },
    /// A projection is added and built for the stored rows.
    AddProjection { projection: Projection },
    /// A projection is dropped (the rows stay).
    DropProjection { projection: String },
    /// A table setting is set, or reset to the server's default (`None`).
    ChangeSetting {
        setting: String,
        value: Option<String>,
    },
    /// The engine, sort key, partition key, primary key, sampling key or index
    /// granularity changes: the table is rebuilt and the rows of the columns both versions
    /// have (`copied`) are copied into it.
    Rebuild { copied: Vec<String> },
    /// A view's or a materialized view's SQL or target changes: it is dropped and created.
    Recreate,
    /// Something the host runs changes (stream settings, function, API, ingest route);
    /// no DDL.
    Update,
}

/// Settings ClickHouse fixes when a table is created: changing one rebuilds the table.
const FIXED_SETTINGS: &[&str] = &["index_granularity"];

/// One change of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub op: Op,
    pub kind: ObjectKind,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    /// What changes, for people.
    pub detail: String,
    pub safety: Safety,
}

impl std::fmt::Display for Change {
    /// `~ table Order: add column ... [safe]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = match self.safety {
            Safety::Safe => "[safe]",
            Safety::Destructive => "[DESTRUCTIVE]",
        };
        write!(
            f,
            "{} {} {}: {} {mark}",
            self.op.symbol(),
            self.kind,
            self.name,
            self.detail
        )
    }
}

impl Change {
    fn new(op: Op, kind: ObjectKind, name: &str, action: Action, detail: String) -> Self {
        let safety = match (&action, kind) {
            (Action::Drop, ObjectKind::Table | ObjectKind::Stream)
            | (Action::DropColumn { .. } | Action::ChangeType { .. }, _)
            | (Action::Rebuild { .. }, _) => Safety::Destructive,
            (Action::AddColumn { column, .. }, _) if !column.is_optional() => Safety::Destructive,
            (Action::ChangeTtl { ttl: Some(_) }, _)
            | (
                Action::ChangeColumn {
                    option: ColumnProperty::Ttl,
                    column: ColumnSpec { ttl: Some(_), .. },
                },
                _,
            ) => Safety::Destructive,
            _ => Safety::Safe,
        };
        Self {
            op,
            kind,
            name: name.to_string(),
            action,
            detail,
            safety,
        }
    }
}

/// The changes from `applied` to `desired`, in the order they can run (module docs).
pub fn diff(applied: &InfraMap, desired: &InfraMap) -> Vec<Change> {
    let mut phases: [Vec<Change>; 7] = Default::default();
    let [new_streams, dropped_readers, dropped_tables, tables, readers, routes, dropped_streams] =
        &mut phases;

    for (name, change) in compare(&applied.streams, &desired.streams) {
        match change {
            Compared::Added(s) => new_streams.push(Change::new(
                Op::Create,
                ObjectKind::Stream,
                name,
                Action::Create,
                format!(
                    "{} partitions, retention {}",
                    s.partitions,
                    hours(s.retention_secs)
                ),
            )),
            Compared::Removed(_) => dropped_streams.push(Change::new(
                Op::Drop,
                ObjectKind::Stream,
                name,
                Action::Drop,
                "drop the stream and the records in it".into(),
            )),
            Compared::Changed(old, new) => new_streams.push(Change::new(
                Op::Alter,
                ObjectKind::Stream,
                name,
                Action::Update,
                format!(
                    "{} -> {} partitions, retention {} -> {}",
                    old.partitions,
                    new.partitions,
                    hours(old.retention_secs),
                    hours(new.retention_secs)
                ),
            )),
        }
    }

    // Someone else's tables are never created, altered or dropped, whichever side says so.
    let external = |name: &str| {
        [applied, desired]
            .iter()
            .any(|map| map.tables.get(name).is_some_and(|t| t.external))
    };
    for (name, change) in compare(&applied.tables, &desired.tables) {
        if external(name) {
            continue;
        }
        match change {
            Compared::Added(t) => tables.push(Change::new(
                Op::Create,
                ObjectKind::Table,
                name,
                Action::Create,
                format!(
                    "{} columns, {} ORDER BY ({})",
                    t.columns.len(),
                    t.engine,
                    t.order_by.join(", ")
                ),
            )),
            Compared::Removed(_) => dropped_tables.push(Change::new(
                Op::Drop,
                ObjectKind::Table,
                name,
                Action::Drop,
                "drop the table and its rows".into(),
            )),
            Compared::Changed(old, new) => tables.extend(table_changes(name, old, new)),
        }
    }

    let mut dropped = Vec::new();
    let mut created = Vec::new();
    for (name, change) in compare(&applied.views, &desired.views) {
        let (op, action, detail) = match change {
            Compared::Added(_) => (Op::Create, Action::Create, "create".to_string()),
            Compared::Removed(_) => (Op::Drop, Action::Drop, "drop".to_string()),
            Compared::Changed(..) => (Op::Alter, Action::Recreate, "SQL changed: recreate".into()),
        };
        let change = Change::new(op, ObjectKind::View, name, action, detail);
        match op {
            Op::Drop => dropped.push(change),
            _ => created.push(change),
        }
    }
    for (name, change) in compare(&applied.materialized_views, &desired.materialized_views) {
        let (op, action, detail) = match change {
            Compared::Added(mv) => (
                Op::Create,
                Action::Create,
                format!("create, writing to {}", mv.target),
            ),
            Compared::Removed(_) => (Op::Drop, Action::Drop, "drop".to_string()),
            Compared::Changed(..) => (Op::Alter, Action::Recreate, "SQL changed: recreate".into()),
        };
        let change = Change::new(op, ObjectKind::MaterializedView, name, action, detail);
        match op {
            Op::Drop => dropped.push(change),
            _ => created.push(change),
        }
    }
    // Readers of other views are dropped first and created last.
    dropped.sort_by_key(|c| std::cmp::Reverse(reader_depth(applied, &c.name)));
    created.sort_by_key(|c| reader_depth(desired, &c.name));
    dropped_readers.extend(dropped);
    readers.extend(created);

    routes.extend(plain_changes(
        ObjectKind::Function,
        compare(&applied.functions, &desired.functions),
        |f| match &f.destination {
            Some(destination) => format!("{} -> {destination}", f.source),
            None => format!("{} -> (none)", f.source),
        },
    ));
    routes.extend(plain_changes(
        ObjectKind::Ingest,
        compare(&applied.ingests, &desired.ingests),
        |i| format!("{} records -> stream {}", i.model, i.stream),
    ));
    routes.extend(plain_changes(
        ObjectKind::Api,
        compare(&applied.apis, &desired.apis),
        |a| format!("({}) -> {}", a.params.join(", "), a.response),
    ));

    phases.into_iter().flatten().collect()
}

/// How one object compares.
enum Compared<'a, T> {
    Added(&'a T),
    Removed(&'a T),
    Changed(&'a T, &'a T),
}

/// The objects added, removed or changed from `old` to `new`, by name.
fn compare<'a, T: PartialEq>(
    old: &'a BTreeMap<String, T>,
    new: &'a BTreeMap<String, T>,
) -> Vec<(&'a str, Compared<'a, T>)> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let compared = match (old.get(name), new.get(name)) {
                (None, Some(n)) => Compared::Added(n),
                (Some(o), None) => Compared::Removed(o),
                (Some(o), Some(n)) if o != n => Compared::Changed(o, n),
                _ => return None,
            };
            Some((name.as_str(), compared))
        })
        .collect()
}

/// Changes of objects the host runs (no DDL): create, drop or update, all safe.
fn plain_changes<T>(
    kind: ObjectKind,
    compared: Vec<(&str, Compared<'_, T>)>,
    describe: impl Fn(&T) -> String,
) -> Vec<Change> {
    compared
        .into_iter()
        .map(|(name, change)| match change {
            Compared::Added(new) => {
                Change::new(Op::Create, kind, name, Action::Create, describe(new))
            }
            Compared::Removed(old) => {
                Change::new(Op::Drop, kind, name, Action::Drop, describe(old))
            }
            Compared::Changed(old, new) => Change::new(
                Op::Alter,
                kind,
                name,
                Action::Update,
                format!("{} => {}", describe(old), describe(new)),
            ),
        })
        .collect()
}

/// The changes of table `name` from `old` to `new`: one rebuild when a key or the
/// engine changes (see [`Action::Rebuild`]), else one change per column (adds, type and
/// option changes, drops) and per table option (TTL, settings, indexes, projections).
fn table_changes(name: &str, old: &TableSpec, new: &TableSpec) -> Vec<Change> {
    let alter = |action: Action, detail: String| {
        Change::new(Op::Alter, ObjectKind::Table, name, action, detail)
    };
    let rebuilt = rebuild_reasons(old, new);
    if !rebuilt.is_empty() {
        let copied: Vec<String> = new
            .columns
            .iter()
            .filter(|c| !c.is_computed() && old.column(&c.name).is_some_and(|o| !o.is_computed()))
            .map(|c| c.name.clone())
            .collect();
        let detail = format!(
            "{}: rebuild the table, copying columns {}",
            rebuilt.join(", "),
            copied.join(", ")
        );
        return vec![alter(Action::Rebuild { copied }, detail)];
    }

    let added: Vec<(usize, &ColumnSpec)> = new
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| old.column(&c.name).is_none())
        .collect();
    let removed: Vec<&ColumnSpec> = old
        .columns
        .iter()
        .filter(|c| new.column(&c.name).is_none())
        .collect();
    // A column dropped and one of the same type added may be the same column renamed.
    let mut renames: BTreeMap<&str, &str> = BTreeMap::new();
    let mut paired = BTreeSet::new();
    for dropped in &removed {
        if let Some((_, added)) = added
            .iter()
            .find(|(_, a)| a.ty == dropped.ty && !paired.contains(a.name.as_str()))
        {
            paired.insert(added.name.as_str());
            renames.insert(dropped.name.as_str(), added.name.as_str());
        }
    }
    let renamed_from = |column: &str| {
        renames
            .iter()
            .find(|(_, to)| **to == column)
            .map(|(from, _)| format!(" (possible rename of `{from}`)"))
            .unwrap_or_default()
    };

    let mut changes = Vec::new();
    for (index, column) in added {
        let after = index.checked_sub(1).map(|i| new.columns[i].name.clone());
        let default = column.clauses().sql();
        let caveat = if column.is_aggregate_state() {
            ": existing rows hold empty states"
        } else if column.is_optional() {
            ""
        } else {
            ": not nullable and no default, existing rows get the type's zero value"
        };
        changes.push(alter(
            Action::AddColumn {
                column: column.clone(),
                after,
            },
            format!(
                "add column `{}` {}{default}{caveat}{}",
                column.name,
                column.ty,
                renamed_from(&column.name)
            ),
        ));
    }
    for column in &new.columns {
        let Some(previous) = old.column(&column.name) else {
            continue;
        };
        if previous.ty != column.ty {
            changes.push(alter(
                Action::ChangeType {
                    column: column.clone(),
                    from: previous.ty.clone(),
                },
                format!(
                    "change type of `{}` {} -> {}",
                    column.name, previous.ty, column.ty
                ),
            ));
        } else {
            // Removals first, so a column can turn from DEFAULT to MATERIALIZED.
            let mut options = ColumnProperty::ALL;
            options.sort_by_key(|o| column.property(*o).is_some());
            for option in options {
                if previous.property(option) != column.property(option) {
                    changes.push(alter(
                        Action::ChangeColumn {
                            column: column.clone(),
                            option,
                        },
                        format!(
                            "change {} of `{}` {} -> {}",
                            option.name(),
                            column.name,
                            show(previous.property(option)),
                            show(column.property(option))
                        ),
                    ));
                }
            }
        }
    }
    for column in removed {
        let rename = match renames.get(column.name.as_str()) {
            Some(to) => format!(" (possible rename to `{to}`)"),
            None => String::new(),
        };
        changes.push(alter(
            Action::DropColumn {
                column: column.name.clone(),
            },
            format!("drop column `{}` {}{rename}", column.name, column.ty),
        ));
    }
    changes.extend(
        option_changes(old, new)
            .into_iter()
            .map(|(action, detail)| alter(action, detail)),
    );
    changes
}

/// `(none)` for an absent value.
fn show(value: Option<&str>) -> &str {
    value.unwrap_or("(none)")
}

/// What makes a change from `old` to `new` a rebuild, for people; empty when none does.
fn rebuild_reasons(old: &TableSpec, new: &TableSpec) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut compare = |what: &str, old: String, new: String| {
        if old != new {
            reasons.push(format!("{what} {old} -> {new}"));
        }
    };
    let list = |columns: &[String]| format!("({})", columns.join(", "));
    let expression = |e: &Option<String>| show(e.as_deref()).to_string();
    compare("engine", old.engine.clone(), new.engine.clone());
    compare("order by", list(&old.order_by), list(&new.order_by));
    compare(
        "partition by",
        expression(&old.partition_by),
        expression(&new.partition_by),
    );
    compare(
        "primary key",
        list(&old.primary_key),
        list(&new.primary_key),
    );
    compare(
        "sample by",
        expression(&old.sample_by),
        expression(&new.sample_by),
    );
    for setting in FIXED_SETTINGS {
        compare(
            &format!("setting {setting}"),
            expression(&old.settings.get(*setting).cloned()),
            expression(&new.settings.get(*setting).cloned()),
        );
    }
    reasons
}

/// The changes of the options an `ALTER` changes in place: TTL, settings, indexes and
/// projections (a changed index or projection is dropped and added again).
fn option_changes(old: &TableSpec, new: &TableSpec) -> Vec<(Action, String)> {
    let mut changes = Vec::new();
    if old.ttl != new.ttl {
        let detail = match &new.ttl {
            Some(ttl) => format!(
                "change TTL {} -> {ttl}: rows past it are deleted or moved",
                show(old.ttl.as_deref())
            ),
            None => format!("remove TTL {}", show(old.ttl.as_deref())),
        };
        changes.push((
            Action::ChangeTtl {
                ttl: new.ttl.clone(),
            },
            detail,
        ));
    }
    let names: BTreeSet<&String> = old.settings.keys().chain(new.settings.keys()).collect();
    for name in names {
        if FIXED_SETTINGS.contains(&name.as_str()) {
            continue;
        }
        let (before, after) = (old.settings.get(name), new.settings.get(name));
        if before != after {
            let detail = match after {
                Some(value) => format!(
                    "set {name} = {value} (was {})",
                    show(before.map(String::as_str))
                ),
                None => format!("reset {name} to the server's default"),
            };
            changes.push((
                Action::ChangeSetting {
                    setting: name.clone(),
                    value: after.cloned(),
                },
                detail,
            ));
        }
    }
    for index in &old.indexes {
        if !new.indexes.contains(index) {
            changes.push((
                Action::DropIndex {
                    index: index.name.clone(),
                },
                format!("drop index `{}`", index.name),
            ));
        }
    }
    for index in &new.indexes {
        if !old.indexes.contains(index) {
            changes.push((
                Action::AddIndex {
                    index: index.clone(),
                },
                format!(
                    "add index `{}` {} TYPE {} and build it for the stored rows",
                    index.name, index.expression, index.kind
                ),
            ));
        }
    }
    for projection in &old.projections {
        if !new.projections.contains(projection) {
            changes.push((
                Action::DropProjection {
                    projection: projection.name.clone(),
                },
                format!("drop projection `{}`", projection.name),
            ));
        }
    }
    for projection in &new.projections {
        if !old.projections.contains(projection) {
            changes.push((
                Action::AddProjection {
                    projection: projection.clone(),
                },
                format!(
                    "add projection `{}` ({}) and build it for the stored rows",
                    projection.name, projection.select
                ),
            ));
        }
    }
    changes
}

/// How many views deep view or materialized view `name` reads in `map` (0: only tables).
fn reader_depth(map: &InfraMap, name: &str) -> usize {
    fn depth(map: &InfraMap, name: &str, limit: usize) -> usize {
        let sources = match (map.views.get(name), map.materialized_views.get(name)) {
            (Some(view), _) => &view.sources,
            (None, Some(mv)) => &mv.sources,
            (None, None) => return 0,
        };
        if limit == 0 {
            return 0;
        }
        sources
            .iter()
            .filter(|s| map.views.contains_key(*s))
            .map(|s| 1 + depth(map, s, limit - 1))
            .max()
            .unwrap_or(0)
    }
    // Validation rejects cycles; the limit only bounds the walk.
    depth(map, name, map.views.len() + 1)
}

fn hours(secs: u64) -> String {
    format!("{}h", secs / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra_map::map::{MaterializedViewSpec, TableKind, ViewSpec};

    fn column(name: &str, ty: &str) -> ColumnSpec {
        ColumnSpec::new(name, ty)
    }

    fn table(columns: Vec<ColumnSpec>, order_by: &[&str]) -> TableSpec {
        let order_by = order_by.iter().map(|s| s.to_string()).collect();
        TableSpec::new(TableKind::Table, columns, "MergeTree", order_by)
    }

    fn with_table(name: &str, spec: TableSpec) -> InfraMap {
        let mut map = InfraMap::default();
        map.tables.insert(name.into(), spec);
        map
    }

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn adding_a_nullable_or_defaulted_column_is_safe() {
        let old = with_table("T", table(vec![column("id", "String")], &["id"]));
        let mut defaulted = column("n", "UInt8");
        defaulted.default = Some("1".into());
        let new = with_table(
            "T",
            table(
                vec![
                    column("id", "String"),
                    column("note", "Nullable(String)"),
                    defaulted,
                    column("users", "AggregateFunction(uniq, String)"),
                    column("x", "UInt8"),
                ],
                &["id"],
            ),
        );
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "~ table T: add column `note` Nullable(String) [safe]",
                "~ table T: add column `n` UInt8 DEFAULT 1 [safe]",
                "~ table T: add column `users` AggregateFunction(uniq, String): existing rows hold empty states [safe]",
                "~ table T: add column `x` UInt8: not nullable and no default, existing rows get the type's zero value [DESTRUCTIVE]",
            ]
        );
    }

    #[test]
    fn type_changes_and_drops_are_destructive_and_defaults_safe() {
        let mut defaulted = column("b", "UInt8");
        defaulted.default = Some("7".into());
        let old = with_table(
            "T",
            table(
                vec![
                    column("id", "String"),
                    column("a", "Int64"),
                    column("b", "UInt8"),
                    column("gone", "Date"),
                ],
                &["id"],
            ),
        );
        let new = with_table(
            "T",
            table(
                vec![column("id", "String"), column("a", "Int32"), defaulted],
                &["id"],
            ),
        );
        let changes = diff(&old, &new);
        assert_eq!(
            lines(&changes),
            [
                "~ table T: change type of `a` Int64 -> Int32 [DESTRUCTIVE]",
                "~ table T: change default of `b` (none) -> 7 [safe]",
                "~ table T: drop column `gone` Date [DESTRUCTIVE]",
            ]
        );
        let dropped = diff(&old, &InfraMap::default());
        assert_eq!(
            lines(&dropped),
            ["- table T: drop the table and its rows [DESTRUCTIVE]"]
        );
    }

    #[test]
    fn column_options_change_in_place_and_a_new_column_ttl_is_destructive() {
        let old = with_table(
            "T",
            table(vec![column("id", "String"), column("a", "Int64")], &["id"]),
        );
        let mut a = column("a", "Int64");
        a.codec = Some("Delta, ZSTD(1)".into());
        a.ttl = Some("now() + INTERVAL 1 DAY".into());
        a.comment = Some("cents".into());
        let new = with_table("T", table(vec![column("id", "String"), a], &["id"]));
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "~ table T: change comment of `a` (none) -> cents [safe]",
                "~ table T: change codec of `a` (none) -> Delta, ZSTD(1) [safe]",
                "~ table T: change TTL of `a` (none) -> now() + INTERVAL 1 DAY [DESTRUCTIVE]",
            ]
        );
        assert_eq!(
            lines(&diff(&new, &old)),
            [
                "~ table T: change comment of `a` cents -> (none) [safe]",
                "~ table T: change codec of `a` Delta, ZSTD(1) -> (none) [safe]",
                "~ table T: change TTL of `a` now() + INTERVAL 1 DAY -> (none) [safe]",
            ]
        );
    }

    #[test]
    fn computed_columns_add_and_change_in_place_and_are_never_copied() {
        let mut defaulted = column("day", "Date");
        defaulted.default = Some("today()".into());
        let old = with_table("T", table(vec![column("id", "String"), defaulted], &["id"]));
        let mut day = column("day", "Date");
        day.materialized = Some("toDate(ts)".into());
        let mut loud = column("loud", "String");
        loud.alias = Some("upper(id)".into());
        let new = with_table("T", table(vec![column("id", "String"), day, loud], &["id"]));
        let changes = diff(&old, &new);
        assert_eq!(
            lines(&changes),
            [
                "~ table T: add column `loud` String ALIAS upper(id) [safe]",
                "~ table T: change default of `day` today() -> (none) [safe]",
                "~ table T: change MATERIALIZED expression of `day` (none) -> toDate(ts) [safe]",
            ]
        );
        let mut resorted = new.clone();
        resorted.tables.get_mut("T").unwrap().order_by = vec!["id".into(), "day".into()];
        let Action::Rebuild { copied } = &diff(&new, &resorted)[0].action else {
            panic!("a rebuild");
        };
        assert_eq!(
            copied,
            &["id"],
            "computed columns are computed again, not copied"
        );
    }

    #[test]
    fn table_options_alter_in_place_and_keys_rebuild() {
        let index = |name: &str, kind: &str| TableIndex {
            name: name.into(),
            expression: "a".into(),
            kind: kind.into(),
            granularity: 1,
        };
        let mut before = table(vec![column("id", "String"), column("a", "Int64")], &["id"]);
        before
            .settings
            .insert("merge_with_ttl_timeout".into(), "60".into());
        before.indexes = vec![index("kept", "minmax"), index("changed", "set(10)")];
        before.projections = vec![Projection {
            name: "gone".into(),
            select: "SELECT * ORDER BY a".into(),
        }];
        let mut after = before.clone();
        after.ttl = Some("toDate('2100-01-01')".into());
        after.settings.clear();
        after
            .settings
            .insert("min_bytes_for_wide_part".into(), "0".into());
        after.indexes = vec![index("kept", "minmax"), index("changed", "set(100)")];
        after.projections = vec![Projection {
            name: "by_a".into(),
            select: "SELECT a, count() GROUP BY a".into(),
        }];
        let (old, new) = (
            with_table("T", before.clone()),
            with_table("T", after.clone()),
        );
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "~ table T: change TTL (none) -> toDate('2100-01-01'): rows past it are deleted or moved [DESTRUCTIVE]",
                "~ table T: reset merge_with_ttl_timeout to the server's default [safe]",
                "~ table T: set min_bytes_for_wide_part = 0 (was (none)) [safe]",
                "~ table T: drop index `changed` [safe]",
                "~ table T: add index `changed` a TYPE set(100) and build it for the stored rows [safe]",
                "~ table T: drop projection `gone` [safe]",
                "~ table T: add projection `by_a` (SELECT a, count() GROUP BY a) and build it for the stored rows [safe]",
            ]
        );
        assert_eq!(
            lines(&diff(&new, &old))[0],
            "~ table T: remove TTL toDate('2100-01-01') [safe]"
        );

        let mut rebuilt = after.clone();
        rebuilt.partition_by = Some("a % 10".into());
        rebuilt.primary_key = vec!["id".into()];
        rebuilt
            .settings
            .insert("index_granularity".into(), "1024".into());
        assert_eq!(
            lines(&diff(&new, &with_table("T", rebuilt))),
            ["~ table T: partition by (none) -> a % 10, primary key () -> (id), setting index_granularity (none) -> 1024: rebuild the table, copying columns id, a [DESTRUCTIVE]"]
        );
    }

    #[test]
    fn a_dropped_and_an_added_column_of_one_type_may_be_a_rename() {
        let old = with_table(
            "T",
            table(
                vec![column("id", "String"), column("ts", "DateTime")],
                &["id"],
            ),
        );
        let new = with_table(
            "T",
            table(
                vec![column("id", "String"), column("at", "DateTime")],
                &["id"],
            ),
        );
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "~ table T: add column `at` DateTime: not nullable and no default, existing rows get the type's zero value (possible rename of `ts`) [DESTRUCTIVE]",
                "~ table T: drop column `ts` DateTime (possible rename to `at`) [DESTRUCTIVE]",
            ]
        );
    }

    #[test]
    fn externally_managed_tables_are_never_created_altered_or_dropped() {
        let mut external = table(vec![column("id", "String")], &["id"]);
        external.external = true;
        let mut changed = table(vec![column("id", "String"), column("n", "Int64")], &["n"]);
        changed.external = true;
        let managed = table(vec![column("id", "String")], &["id"]);
        let cases = [
            (InfraMap::default(), with_table("T", external.clone())),
            (with_table("T", external.clone()), InfraMap::default()),
            (with_table("T", external.clone()), with_table("T", changed)),
            (
                with_table("T", managed.clone()),
                with_table("T", external.clone()),
            ),
            (with_table("T", external), with_table("T", managed.clone())),
        ];
        for (old, new) in cases {
            assert_eq!(lines(&diff(&old, &new)), Vec::<String>::new());
        }
        // The same table, managed, is created.
        assert_eq!(
            lines(&diff(&InfraMap::default(), &with_table("T", managed))).len(),
            1
        );
    }

    #[test]
    fn a_new_sort_key_rebuilds_the_table() {
        let old = with_table(
            "T",
            table(vec![column("id", "String"), column("a", "Int64")], &["id"]),
        );
        let mut spec = table(vec![column("id", "String"), column("b", "Int64")], &["b"]);
        spec.engine = "ReplacingMergeTree".into();
        let changes = diff(&old, &with_table("T", spec));
        assert_eq!(
            lines(&changes),
            ["~ table T: engine MergeTree -> ReplacingMergeTree, order by (id) -> (b): rebuild the table, copying columns id [DESTRUCTIVE]"]
        );
        assert_eq!(
            changes[0].action,
            Action::Rebuild {
                copied: vec!["id".into()]
            }
        );
    }

    #[test]
    fn orders_changes_by_dependency() {
        let mut old = with_table("Old", table(vec![column("id", "String")], &["id"]));
        old.materialized_views.insert(
            "OldAgg_mv".into(),
            MaterializedViewSpec {
                select: "SELECT id FROM Old".into(),
                sources: vec!["Old".into()],
                target: "Old".into(),
            },
        );
        old.views.insert(
            "V".into(),
            ViewSpec {
                select: "SELECT 1".into(),
                sources: vec![],
            },
        );
        let mut new = with_table("New", table(vec![column("id", "String")], &["id"]));
        new.materialized_views.insert(
            "Agg_mv".into(),
            MaterializedViewSpec {
                select: "SELECT id FROM Top".into(),
                sources: vec!["Top".into()],
                target: "New".into(),
            },
        );
        new.views.insert(
            "Top".into(),
            ViewSpec {
                select: "SELECT * FROM V".into(),
                sources: vec!["V".into()],
            },
        );
        new.views.insert(
            "V".into(),
            ViewSpec {
                select: "SELECT 2".into(),
                sources: vec![],
            },
        );
        new.streams.insert(
            "S".into(),
            crate::infra_map::map::StreamSpec {
                partitions: 4,
                retention_secs: 7 * 24 * 3600,
            },
        );
        let changes = diff(&old, &new);
        let order: Vec<(Op, ObjectKind, &str)> = changes
            .iter()
            .map(|c| (c.op, c.kind, c.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (Op::Create, ObjectKind::Stream, "S"),
                (Op::Drop, ObjectKind::MaterializedView, "OldAgg_mv"),
                (Op::Drop, ObjectKind::Table, "Old"),
                (Op::Create, ObjectKind::Table, "New"),
                (Op::Alter, ObjectKind::View, "V"),
                (Op::Create, ObjectKind::View, "Top"),
                (Op::Create, ObjectKind::MaterializedView, "Agg_mv"),
            ]
        );
    }
}
