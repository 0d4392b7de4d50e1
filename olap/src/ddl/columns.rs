//! Column types, column clauses and engine clauses as ClickHouse spells them.

use moose_model::app::App;
use moose_model::sql::{quote_ident, quote_string};
use moose_model::types::{
    ComputedColumn, ComputedKind, DataType, Field, ScalarType, TableEngine, TypeWrapper,
};

use super::super::error::OlapError;
use super::target::{REPLICA_NAME, REPLICA_PATH};

/// Nested records deeper than this are refused (validation already rejects cycles).
const MAX_NESTING: usize = 32;

/// The ClickHouse type of a field: [`DataType::type_name`], with nested records resolved
/// to named `Tuple`s of their models' fields, recursively.
pub fn column_type(app: &App, ty: &DataType) -> Result<String, OlapError> {
    column_type_at(app, ty, 0)
}

/// The ClickHouse type of `field`'s column: [`Field::type_name_with`] [`column_type`].
pub fn field_column_type(app: &App, field: &Field) -> Result<String, OlapError> {
    field.type_name_with(|ty| column_type(app, ty))
}

fn column_type_at(app: &App, ty: &DataType, depth: usize) -> Result<String, OlapError> {
    let ScalarType::Nested(model) = &ty.leaf else {
        return Ok(ty.type_name());
    };
    let mut name = tuple_type(app, model, depth + 1)?;
    for wrapper in ty.wrappers.iter().rev() {
        name = match wrapper {
            TypeWrapper::Array => format!("Array({name})"),
            TypeWrapper::Map => format!("Map(String, {name})"),
            TypeWrapper::Nullable => format!("Nullable({name})"),
        };
    }
    Ok(name)
}

fn tuple_type(app: &App, reference: &str, depth: usize) -> Result<String, OlapError> {
    if depth > MAX_NESTING {
        return Err(OlapError::Schema(format!(
            "nested model `{reference}` is nested more than {MAX_NESTING} levels deep"
        )));
    }
    let model = app
        .model(reference)
        .ok_or_else(|| OlapError::Schema(format!("nested model `{reference}` is not declared")))?;
    if model.fields.is_empty() {
        return Err(OlapError::Schema(format!(
            "nested model `{reference}` has no fields"
        )));
    }
    let elements = model
        .fields
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_ident(&f.name),
                column_type_at(app, &f.data_type, depth)?
            ))
        })
        .collect::<Result<Vec<_>, OlapError>>()?;
    Ok(format!("Tuple({})", elements.join(", ")))
}

/// The engine's name and arguments, its column names backquoted.
fn engine_parts(engine: &TableEngine) -> (&'static str, Vec<String>) {
    engine.parts(quote_ident)
}

/// The engine clause, like [`TableEngine::sql`] with its column names backquoted.
pub fn engine(engine: &TableEngine) -> String {
    match engine_parts(engine) {
        (name, args) if args.is_empty() => name.to_string(),
        (name, args) => format!("{name}({})", args.join(", ")),
    }
}

/// The replicated form of `engine`: `Replicated<Engine>('<path>', '{replica}', <args>)`
/// with [`REPLICA_PATH`] and [`REPLICA_NAME`].
pub fn replicated_engine(engine: &TableEngine) -> String {
    let (name, args) = engine_parts(engine);
    let mut all = vec![quote_string(REPLICA_PATH), quote_string(REPLICA_NAME)];
    all.extend(args);
    format!("Replicated{name}({})", all.join(", "))
}

/// What follows a column's type in its declaration, in the order ClickHouse wants:
/// `DEFAULT` (or `MATERIALIZED` or `ALIAS`), `COMMENT`, `CODEC`, `TTL`. Blank values count
/// as absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnClauses<'a> {
    pub default: Option<&'a str>,
    /// `MATERIALIZED` expression (instead of a default).
    pub materialized: Option<&'a str>,
    /// `ALIAS` expression (instead of a default).
    pub alias: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub codec: Option<&'a str>,
    pub ttl: Option<&'a str>,
}

impl<'a> ColumnClauses<'a> {
    /// The clauses `field` declares (its doc as the comment).
    pub fn of(field: &'a Field) -> Self {
        Self {
            default: field.default.as_deref(),
            comment: field.doc.as_deref(),
            codec: field.codec.as_deref(),
            ttl: field.ttl.as_deref(),
            ..Self::default()
        }
    }

    /// The clauses of a computed column (its doc as the comment).
    pub fn computed(column: &'a ComputedColumn) -> Self {
        let expression = Some(column.expression.as_str());
        let (materialized, alias) = match column.kind {
            ComputedKind::Materialized => (expression, None),
            ComputedKind::Alias => (None, expression),
        };
        Self {
            materialized,
            alias,
            comment: column.doc.as_deref(),
            ..Self::default()
        }
    }

    /// ` DEFAULT x COMMENT 'y' CODEC(z) TTL t`, each part only when set.
    pub fn sql(&self) -> String {
        let set = |v: Option<&'a str>| v.filter(|v| !v.trim().is_empty());
        let mut sql = String::new();
        if let Some(default) = set(self.default) {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if let Some(materialized) = set(self.materialized) {
            sql.push_str(&format!(" MATERIALIZED {materialized}"));
        }
        if let Some(alias) = set(self.alias) {
            sql.push_str(&format!(" ALIAS {alias}"));
        }
        if let Some(comment) = set(self.comment) {
            sql.push_str(&format!(" COMMENT {}", quote_string(comment)));
        }
        if let Some(codec) = set(self.codec) {
            sql.push_str(&format!(" CODEC({codec})"));
        }
        if let Some(ttl) = set(self.ttl) {
            sql.push_str(&format!(" TTL {ttl}"));
        }
        sql
    }
}
