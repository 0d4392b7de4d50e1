//! The infrastructure map: every object an app needs, as plain data that can be stored,
//! compared and printed. Objects are keyed by name (`BTreeMap`), so the JSON form is
//! stable: the same app always gives the same map and the same [`InfraMap::hash`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use moose_model::app::App;
use moose_model::types::{ComputedKind, Projection, TableDef, TableIndex};
use moose_olap::ddl::{self, DEAD_LETTER_COLUMNS};
use moose_olap::OlapError;

/// Everything an app needs from the streams, ClickHouse and the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraMap {
    pub streams: BTreeMap<String, StreamSpec>,
    pub tables: BTreeMap<String, TableSpec>,
    pub views: BTreeMap<String, ViewSpec>,
    pub materialized_views: BTreeMap<String, MaterializedViewSpec>,
    pub functions: BTreeMap<String, FunctionSpec>,
    /// Windowed aggregations run by the host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub windowed_aggregations: BTreeMap<String, WindowedAggregationSpec>,
    /// Keyed by `name` or `name/version`.
    pub apis: BTreeMap<String, ApiSpec>,
    /// Keyed by route: `name` or `name/version` (see [`App::ingest_route`]).
    pub ingests: BTreeMap<String, IngestSpec>,
}

/// A stream (declared or dead-letter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    pub partitions: u32,
    pub retention_secs: u64,
}

/// What a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// A table of the app (rows of its model).
    Table,
    /// The table an aggregation's materialized view writes into.
    AggregationTarget,
    /// The table a windowed aggregation writes closed windows' rows into.
    WindowTarget,
    /// Records a stream, an ingest or a function refused.
    DeadLetter,
}

/// A ClickHouse table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub kind: TableKind,
    /// In declaration order.
    pub columns: Vec<ColumnSpec>,
    /// The engine clause, e.g. `SummingMergeTree`.
    pub engine: String,
    pub order_by: Vec<String>,
    /// `PARTITION BY` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// `PRIMARY KEY` when it is not the whole sort key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// `SAMPLE BY` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_by: Option<String>,
    /// Table `TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// `SETTINGS`, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// Data-skipping indexes, in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<TableIndex>,
    /// Projections, in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projections: Vec<Projection>,
    /// Someone else's table: plans never create, alter or drop it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

impl TableSpec {
    /// A table with no storage options.
    pub fn new(
        kind: TableKind,
        columns: Vec<ColumnSpec>,
        engine: &str,
        order_by: Vec<String>,
    ) -> Self {
        Self {
            kind,
            columns,
            engine: engine.to_string(),
            order_by,
            partition_by: None,
            primary_key: vec![],
            sample_by: None,
            ttl: None,
            settings: BTreeMap::new(),
            indexes: vec![],
            projections: vec![],
            external: false,
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// The ClickHouse type, e.g. `Nullable(String)`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The `DEFAULT` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The `MATERIALIZED` expression of a computed column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialized: Option<String>,
    /// The `ALIAS` expression of a computed column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The column's `COMMENT`: its field's doc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The codecs inside `CODEC(...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// The column `TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

impl ColumnSpec {
    /// A column of type `ty` with no default, computation, comment, codec or TTL.
    pub fn new(name: &str, ty: &str) -> Self {
        Self {
            name: name.to_string(),
            ty: ty.to_string(),
            default: None,
            materialized: None,
            alias: None,
            comment: None,
            codec: None,
            ttl: None,
        }
    }

    /// Rows that lack the column read as `NULL`, as its default or, for an aggregate
    /// state, as the empty state (what the rows aggregated before the column existed).
    pub fn is_optional(&self) -> bool {
        self.default.is_some()
            || self.is_computed()
            || self.ty.starts_with("Nullable(")
            || self.is_aggregate_state()
    }

    /// A `MATERIALIZED` or `ALIAS` column: ClickHouse computes it, inserts never name it.
    pub fn is_computed(&self) -> bool {
        self.materialized.is_some() || self.alias.is_some()
    }

    /// An `AggregateFunction(...)` column.
    pub fn is_aggregate_state(&self) -> bool {
        self.ty.starts_with("AggregateFunction(")
    }

    /// The value of `property`, if the column has it.
    pub fn property(&self, property: ddl::ColumnProperty) -> Option<&str> {
        use ddl::ColumnProperty as P;
        match property {
            P::Default => self.default.as_deref(),
            P::Materialized => self.materialized.as_deref(),
            P::Alias => self.alias.as_deref(),
            P::Comment => self.comment.as_deref(),
            P::Codec => self.codec.as_deref(),
            P::Ttl => self.ttl.as_deref(),
        }
    }

    /// What follows the column's type in `CREATE` and `ALTER` statements.
    pub fn clauses(&self) -> ddl::ColumnClauses<'_> {
        ddl::ColumnClauses {
            default: self.default.as_deref(),
            materialized: self.materialized.as_deref(),
            alias: self.alias.as_deref(),
            comment: self.comment.as_deref(),
            codec: self.codec.as_deref(),
            ttl: self.ttl.as_deref(),
        }
    }
}

/// A plain view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSpec {
    pub select: String,
    pub sources: Vec<String>,
}

/// A materialized view feeding an aggregation's target table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterializedViewSpec {
    pub select: String,
    pub sources: Vec<String>,
    /// The table it writes into.
    pub target: String,
}

/// A streaming function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub source: String,
    pub destination: Option<String>,
    pub dead_letter: Option<String>,
}

/// A windowed aggregation: what it reads, how it tiles time, where it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowedAggregationSpec {
    pub source: String,
    pub time_field: String,
    pub size_seconds: u32,
    pub hop_seconds: u32,
    pub allowed_lateness_seconds: u32,
    pub target: String,
    pub state_version: u32,
    pub dead_letter: Option<String>,
}

/// A query API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSpec {
    /// `name type` of each parameter, `?` after optional ones.
    pub params: Vec<String>,
    pub response: String,
}

/// An ingest route, `POST /ingest/<name>` or `POST /ingest/<name>/<version>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSpec {
    pub model: String,
    pub stream: String,
    pub dead_letter: Option<String>,
}

impl InfraMap {
    /// The map of a validated app. Fails on a table whose columns cannot be typed.
    pub fn from_app(app: &App) -> Result<Self, OlapError> {
        let def = &app.def;
        let mut map = InfraMap::default();
        for stream in crate::infra::infra(app).streams {
            map.streams.insert(
                stream.name,
                StreamSpec {
                    partitions: stream.partitions,
                    retention_secs: stream.retention.as_secs(),
                },
            );
        }
        for table in &def.tables {
            map.tables.insert(
                table.name.clone(),
                table_spec(app, table, TableKind::Table)?,
            );
        }
        for aggregation in &def.aggregations {
            let target = &aggregation.target;
            map.tables.insert(
                target.name.clone(),
                table_spec(app, target, TableKind::AggregationTarget)?,
            );
            map.materialized_views.insert(
                ddl::materialized_view_name(aggregation),
                MaterializedViewSpec {
                    select: normalize_sql(&aggregation.select),
                    sources: aggregation.sources.clone(),
                    target: target.name.clone(),
                },
            );
        }
        for windowed in &def.windowed_aggregations {
            let target = &windowed.target;
            map.tables.insert(
                target.name.clone(),
                table_spec(app, target, TableKind::WindowTarget)?,
            );
            map.windowed_aggregations.insert(
                windowed.name.clone(),
                WindowedAggregationSpec {
                    source: windowed.source.clone(),
                    time_field: windowed.time_field.clone(),
                    size_seconds: windowed.window.size_seconds,
                    hop_seconds: windowed.window.hop_seconds,
                    allowed_lateness_seconds: windowed.window.allowed_lateness_seconds,
                    target: target.name.clone(),
                    state_version: windowed.state_version,
                    dead_letter: windowed.dead_letter.clone(),
                },
            );
        }
        for name in ddl::dead_letter_streams(app) {
            let columns = DEAD_LETTER_COLUMNS
                .iter()
                .map(|(name, ty)| ColumnSpec::new(name, ty))
                .collect();
            map.tables.insert(
                name,
                TableSpec::new(
                    TableKind::DeadLetter,
                    columns,
                    "MergeTree",
                    vec!["failed_at".into()],
                ),
            );
        }
        for view in &def.views {
            map.views.insert(
                view.name.clone(),
                ViewSpec {
                    select: normalize_sql(&view.select),
                    sources: view.sources.clone(),
                },
            );
        }
        for function in &def.functions {
            map.functions.insert(
                function.name.clone(),
                FunctionSpec {
                    source: function.source.clone(),
                    destination: function.destination.clone(),
                    dead_letter: function.dead_letter.clone(),
                },
            );
        }
        for api in &def.apis {
            let key = match &api.version {
                Some(version) => format!("{}/{version}", api.name),
                None => api.name.clone(),
            };
            let params = api
                .params
                .iter()
                .map(|p| {
                    let optional = if p.required { "" } else { "?" };
                    format!("{}{optional} {}", p.name, p.data_type.type_name())
                })
                .collect();
            map.apis.insert(
                key,
                ApiSpec {
                    params,
                    response: api.response.clone(),
                },
            );
        }
        for ingest in &def.ingests {
            map.ingests.insert(
                app.ingest_route(ingest),
                IngestSpec {
                    model: ingest.model.clone(),
                    stream: ingest.stream.clone(),
                    dead_letter: ingest.dead_letter.clone(),
                },
            );
        }
        Ok(map)
    }

    /// The map as pretty JSON; the same map always gives the same text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an infrastructure map always serializes")
    }

    /// Hex SHA-256 of [`InfraMap::to_json`].
    pub fn hash(&self) -> String {
        sha256_hex(&self.to_json())
    }
}

/// Hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A view's SQL as the DDL uses it: trimmed, without a trailing `;`.
fn normalize_sql(select: &str) -> String {
    select.trim().trim_end_matches(';').trim_end().to_string()
}

/// `value` trimmed, none when blank.
fn set(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn table_spec(app: &App, table: &TableDef, kind: TableKind) -> Result<TableSpec, OlapError> {
    let model = app.model(&table.model).ok_or_else(|| {
        OlapError::Schema(format!(
            "table `{}`: model `{}` is not declared",
            table.name, table.model
        ))
    })?;
    let mut columns = model
        .fields
        .iter()
        .map(|field| {
            let ty = ddl::field_column_type(app, field).map_err(|e| {
                OlapError::Schema(format!(
                    "table `{}`, field `{}`: {e}",
                    table.name, field.name
                ))
            })?;
            Ok(ColumnSpec {
                default: field.default.clone().filter(|d| !d.trim().is_empty()),
                comment: set(&field.doc),
                codec: set(&field.codec),
                ttl: set(&field.ttl),
                ..ColumnSpec::new(&field.name, &ty)
            })
        })
        .collect::<Result<Vec<_>, OlapError>>()?;
    for computed in &table.options.computed {
        let expression = Some(computed.expression.trim().to_string());
        let (materialized, alias) = match computed.kind {
            ComputedKind::Materialized => (expression, None),
            ComputedKind::Alias => (None, expression),
        };
        let ty = ddl::column_type(app, &computed.data_type).map_err(|e| {
            OlapError::Schema(format!(
                "table `{}`, computed column `{}`: {e}",
                table.name, computed.name
            ))
        })?;
        columns.push(ColumnSpec {
            materialized,
            alias,
            comment: set(&computed.doc),
            ..ColumnSpec::new(&computed.name, &ty)
        });
    }
    let options = &table.options;
    Ok(TableSpec {
        kind,
        columns,
        engine: ddl::engine(&table.engine),
        order_by: app.order_by(table),
        partition_by: set(&options.partition_by),
        primary_key: options.primary_key.clone(),
        sample_by: set(&options.sample_by),
        ttl: set(&options.ttl),
        settings: options
            .settings
            .iter()
            .map(|(name, value)| (name.clone(), value.trim().to_string()))
            .collect(),
        indexes: options.indexes.clone(),
        projections: options.projections.clone(),
        external: options.externally_managed,
    })
}
