//! Plain-data description of an app, mirroring the records of `wit/moose.wit`.
//!
//! These are what [`App::describe`](crate::App::describe) returns; the export glue
//! converts them to the generated WIT types. Users rarely build them by hand.

use std::time::Duration;

/// A type constructor with one type argument (`moose:app/types.type-wrapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeWrapper {
    /// `Array(T)`.
    Array,
    /// `Map(String, T)`.
    Map,
    /// `Nullable(T)`.
    Nullable,
}

/// `Decimal(precision, scale)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecimalSpec {
    /// Total number of significant digits.
    pub precision: u8,
    /// Digits after the decimal point.
    pub scale: u8,
}

/// One member of an enum type; records carry the member's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumMember {
    /// Member name as it appears on the wire.
    pub name: String,
    /// Numeric value stored by ClickHouse.
    pub value: i16,
}

/// The innermost part of a field's type (`moose:app/types.scalar-type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// `String`.
    String,
    /// `LowCardinality(String)`.
    LowCardinalityString,
    /// `Int8`.
    Int8,
    /// `Int16`.
    Int16,
    /// `Int32`.
    Int32,
    /// `Int64`.
    Int64,
    /// `UInt8`.
    UInt8,
    /// `UInt16`.
    UInt16,
    /// `UInt32`.
    UInt32,
    /// `UInt64`.
    UInt64,
    /// `Float32`.
    Float32,
    /// `Float64`.
    Float64,
    /// `Bool`.
    Boolean,
    /// `Decimal(P, S)`.
    Decimal(DecimalSpec),
    /// `Date`.
    Date,
    /// `DateTime`.
    DateTime,
    /// `DateTime64(precision)`.
    DateTime64(u8),
    /// `UUID`.
    Uuid,
    /// `Enum8`/`Enum16` with these members.
    Enum(Vec<EnumMember>),
    /// `JSON`.
    Json,
    /// A nested record: the reference (`name` or `name@version`) of another model.
    Nested(String),
    /// `Int128`.
    Int128,
    /// `Int256`.
    Int256,
    /// `UInt128`.
    UInt128,
    /// `UInt256`.
    UInt256,
    /// `FixedString(bytes)`.
    FixedString(u32),
    /// `IPv4`.
    Ipv4,
    /// `IPv6`.
    Ipv6,
    /// A geo type.
    Geo(GeoShape),
}

/// The geo types (`moose:app/types.geo-shape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeoShape {
    /// `Point`: `[x, y]`.
    Point,
    /// `Ring`: a polygon without holes.
    Ring,
    /// `LineString`.
    LineString,
    /// `MultiLineString`.
    MultiLineString,
    /// `Polygon`: the outer ring, then the holes.
    Polygon,
    /// `MultiPolygon`.
    MultiPolygon,
}

/// A full type: `wrappers` applied outermost first around `leaf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataType {
    /// Type constructors, outermost first.
    pub wrappers: Vec<TypeWrapper>,
    /// The innermost type.
    pub leaf: ScalarType,
}

impl DataType {
    /// A type without wrappers.
    pub fn scalar(leaf: ScalarType) -> Self {
        DataType {
            wrappers: Vec::new(),
            leaf,
        }
    }

    /// This type wrapped once more, as the new outermost wrapper.
    pub fn wrapped(mut self, wrapper: TypeWrapper) -> Self {
        self.wrappers.insert(0, wrapper);
        self
    }
}

/// One column of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Column name, as serde names the field.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Part of the model's key.
    pub key: bool,
    /// ClickHouse default expression.
    pub default: Option<String>,
    /// Doc comment of the field.
    pub doc: Option<String>,
    /// Set for a column of an aggregating table (`#[moose(aggregate(...))]`,
    /// `#[moose(simple_aggregate = "...")]`).
    pub aggregate: Option<AggregateColumn>,
    /// The codecs inside `CODEC(...)` (`#[moose(codec = "Delta, ZSTD(1)")]`).
    pub codec: Option<String>,
    /// Column TTL: once it passes the value is reset to the default
    /// (`#[moose(ttl = "ts + INTERVAL 30 DAY")]`).
    pub ttl: Option<String>,
}

/// How a column holds an aggregate (`moose:app/types.aggregate-kind`).
#[derive(Debug, Clone, PartialEq)]
pub enum AggregateKind {
    /// `AggregateFunction(function, arguments...)`: the function's state, written by a
    /// materialized view (`uniqState(user)`) and read with `-Merge`; these are the argument
    /// types, and the field's type is what `-Merge` yields.
    State(Vec<DataType>),
    /// `SimpleAggregateFunction(function, T)`, `T` the field's type.
    Simple,
}

/// A column of an aggregating table (`moose:app/types.aggregate-column`).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateColumn {
    /// The function with its parameters: `uniq`, `quantiles(0.5, 0.9)`.
    pub function: String,
    /// State or simple.
    pub kind: AggregateKind,
}

/// A data model: the schema of a stream, a table or a nested record.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDef {
    /// Model name.
    pub name: String,
    /// Model version such as `1.1`.
    pub version: Option<String>,
    /// Columns in declaration order.
    pub fields: Vec<Field>,
    /// Doc comment of the struct.
    pub doc: Option<String>,
}

impl ModelDef {
    /// How other definitions refer to this model: `name`, or `name@version`.
    pub fn reference(&self) -> String {
        match &self.version {
            Some(version) => format!("{}@{version}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDef {
    /// Stream name.
    pub name: String,
    /// Model of the records (`name` or `name@version`).
    pub model: String,
    /// Partition count; 0 lets the host choose.
    pub partitions: u32,
    /// Retention; `None` lets the host choose.
    pub retention_hours: Option<u32>,
}

/// ClickHouse table engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TableEngine {
    /// `MergeTree`.
    #[default]
    MergeTree,
    /// `ReplacingMergeTree([version[, is_deleted]])`: keeps the newest row per key.
    ReplacingMergeTree(Replacing),
    /// `SummingMergeTree([columns])`; empty sums every numeric column.
    SummingMergeTree(Vec<String>),
    /// `AggregatingMergeTree`.
    AggregatingMergeTree,
    /// `CollapsingMergeTree(sign)`: merging drops pairs of rows with equal keys and
    /// opposite signs; `sign` names an `i8` column (1 state, -1 cancel).
    CollapsingMergeTree(String),
    /// `VersionedCollapsingMergeTree(sign, version)`: like `CollapsingMergeTree`, and rows
    /// may arrive in any order.
    VersionedCollapsingMergeTree {
        /// The `i8` sign column.
        sign: String,
        /// The column ordering a key's versions.
        version: String,
    },
}

impl TableEngine {
    /// `ReplacingMergeTree` keeping the last inserted row per key.
    pub fn replacing() -> Self {
        TableEngine::ReplacingMergeTree(Replacing::default())
    }

    /// `ReplacingMergeTree(version)`: the row with the greatest `version` wins.
    pub fn replacing_by(version: impl Into<String>) -> Self {
        TableEngine::ReplacingMergeTree(Replacing {
            version: Some(version.into()),
            is_deleted: None,
        })
    }
}

/// The columns of `ReplacingMergeTree(version, is_deleted)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replacing {
    /// The column deciding which row of a key is newest; the last inserted when none.
    pub version: Option<String>,
    /// A `u8` column: a newest row with 1 deletes its key. Needs `version`.
    pub is_deleted: Option<String>,
}

/// A data-skipping index (`INDEX name expression TYPE kind GRANULARITY granularity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableIndex {
    /// Index name.
    pub name: String,
    /// A column or an expression of columns.
    pub expression: String,
    /// `minmax`, `set(100)`, `bloom_filter(0.01)`, `ngrambf_v1(3, 256, 2, 0)`, ...
    pub kind: String,
    /// Granules per index block; 0 means 1.
    pub granularity: u32,
}

/// A projection: the rows kept a second time, sorted or aggregated differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Projection name.
    pub name: String,
    /// Its query without `FROM`: `SELECT * ORDER BY user_id`.
    pub select: String,
}

/// How ClickHouse computes a column that records do not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputedKind {
    /// `MATERIALIZED expression`: computed on insert and stored.
    Materialized,
    /// `ALIAS expression`: computed when read.
    Alias,
}

/// A column the table adds to its model's, computed by ClickHouse from the other columns;
/// `SELECT *` leaves it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedColumn {
    /// Column name.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Stored or computed when read.
    pub kind: ComputedKind,
    /// ClickHouse SQL over the table's columns: `toDate(ts)`.
    pub expression: String,
    /// Description.
    pub doc: Option<String>,
}

/// How ClickHouse stores a table beyond its engine and sort key; empty by default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// `PARTITION BY` expression.
    pub partition_by: Option<String>,
    /// `PRIMARY KEY`: a prefix of the sort key; empty means the whole sort key.
    pub primary_key: Vec<String>,
    /// `SAMPLE BY` expression, part of the primary key.
    pub sample_by: Option<String>,
    /// Table TTL: `ts + INTERVAL 90 DAY`, `ts + INTERVAL 7 DAY TO VOLUME 'cold'`.
    pub ttl: Option<String>,
    /// `SETTINGS name = value`, in order.
    pub settings: Vec<(String, String)>,
    /// Data-skipping indexes.
    pub indexes: Vec<TableIndex>,
    /// Projections.
    pub projections: Vec<Projection>,
    /// Columns computed by ClickHouse, after the model's.
    pub computed: Vec<ComputedColumn>,
    /// The table belongs to someone else: never created by plans, altered or dropped.
    pub externally_managed: bool,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Table name.
    pub name: String,
    /// Model of the rows.
    pub model: String,
    /// Sort key; empty means the model's key fields.
    pub order_by: Vec<String>,
    /// Table engine.
    pub engine: TableEngine,
    /// Stream the host copies into this table.
    pub source_stream: Option<String>,
    /// Partitioning, TTL, indexes, projections, settings.
    pub options: TableOptions,
}

/// An ingest endpoint, `POST /ingest/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestDef {
    /// Endpoint name.
    pub name: String,
    /// Model of the records.
    pub model: String,
    /// Stream that receives valid records.
    pub stream: String,
    /// Stream that receives invalid records.
    pub dead_letter: Option<String>,
}

/// A streaming function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// Function name, as passed to `process`.
    pub name: String,
    /// Source stream.
    pub source: String,
    /// Destination stream; `None` for a consumer.
    pub destination: Option<String>,
    /// Stream for records the function rejected or failed on.
    pub dead_letter: Option<String>,
}

/// A SQL aggregation kept up to date as a materialized view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationDef {
    /// Aggregation name.
    pub name: String,
    /// The `SELECT` statement.
    pub select: String,
    /// Tables the select reads.
    pub sources: Vec<String>,
    /// Table the view writes into.
    pub target: TableDef,
}

/// An aggregation over event-time windows of a stream, computed by the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowedAggregationDef {
    /// Aggregation name, as passed to the `window-*` calls.
    pub name: String,
    /// Source stream.
    pub source: String,
    /// Field of the source model holding the event time.
    pub time_field: String,
    /// How the windows tile event time.
    pub window: Window,
    /// Table receiving the rows of each closed window.
    pub target: TableDef,
    /// Version of the state's layout; the host drops kept state when it changes.
    pub state_version: u32,
    /// Stream for late and rejected records.
    pub dead_letter: Option<String>,
}

/// A SQL view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDef {
    /// View name.
    pub name: String,
    /// The `SELECT` statement.
    pub select: String,
    /// Tables or views the select reads.
    pub sources: Vec<String>,
}

/// One query-string parameter of an API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiParam {
    /// Parameter name.
    pub name: String,
    /// Parameter type (an `Option<T>` parameter has `T`'s type).
    pub data_type: DataType,
    /// Whether a request must give it.
    pub required: bool,
    /// Default in query-string form.
    pub default: Option<String>,
    /// Inclusive lower bound for numbers.
    pub min: Option<f64>,
    /// Inclusive upper bound for numbers.
    pub max: Option<f64>,
    /// Doc comment of the field.
    pub doc: Option<String>,
}

/// A query API, `GET /api/<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiDef {
    /// API name.
    pub name: String,
    /// API version.
    pub version: Option<String>,
    /// Query-string parameters.
    pub params: Vec<ApiParam>,
    /// Model of each response row.
    pub response: String,
    /// Description.
    pub doc: Option<String>,
}

/// A component's part of the app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppDef {
    /// Every model used by the app, nested ones included.
    pub models: Vec<ModelDef>,
    /// Streams.
    pub streams: Vec<StreamDef>,
    /// Tables.
    pub tables: Vec<TableDef>,
    /// Ingest endpoints.
    pub ingests: Vec<IngestDef>,
    /// Streaming functions.
    pub functions: Vec<FunctionDef>,
    /// SQL aggregations.
    pub aggregations: Vec<AggregationDef>,
    /// Windowed aggregations.
    pub windowed_aggregations: Vec<WindowedAggregationDef>,
    /// SQL views.
    pub views: Vec<ViewDef>,
    /// Query APIs.
    pub apis: Vec<ApiDef>,
}

/// How a windowed aggregation tiles event time. Windows are aligned to the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Window length, in whole seconds.
    pub size_seconds: u32,
    /// Distance between window starts: equal to the size for tumbling windows.
    pub hop_seconds: u32,
    /// How long after its end a window still accepts records.
    pub allowed_lateness_seconds: u32,
}

fn seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

impl Window {
    /// Back-to-back windows of `size` (whole seconds): each record is in exactly one.
    pub fn tumbling(size: Duration) -> Self {
        Window {
            size_seconds: seconds(size),
            hop_seconds: seconds(size),
            allowed_lateness_seconds: 0,
        }
    }

    /// Windows of `size` starting every `hop` (which must divide `size`): each record is
    /// in `size / hop` windows.
    pub fn hopping(size: Duration, hop: Duration) -> Self {
        Window {
            size_seconds: seconds(size),
            hop_seconds: seconds(hop),
            allowed_lateness_seconds: 0,
        }
    }

    /// Keeps windows open for `lateness` after their end (default: none).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness_seconds = seconds(lateness);
        self
    }
}
