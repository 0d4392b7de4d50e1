//! The schema and infrastructure an app declares, as plain data: the `types` interface of
//! `wit/moose.wit` minus the call types. The runtime lowers what a component's `describe`
//! returns into these once; nothing else in the host sees the generated bindings.
//!
//! Names and shapes follow the WIT definitions one to one, so the serde form (kept in
//! dev and production state files) is the same as the interface's.

mod lower;
mod names;

pub use lower::{IntType, TypeLowering};

use serde::{Deserialize, Serialize};

/// `Decimal(precision, scale)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecimalSpec {
    pub precision: u8,
    pub scale: u8,
}

/// One member of an `Enum8`/`Enum16`; records carry the member's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumMember {
    pub name: String,
    pub value: i16,
}

/// The innermost part of a field's type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    String,
    LowCardinalityString,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Float32,
    Float64,
    Boolean,
    Decimal(DecimalSpec),
    Date,
    DateTime,
    /// `DateTime64(precision)`, precision 0..=9 digits of sub-second resolution.
    DateTime64(u8),
    Uuid,
    Enum(Vec<EnumMember>),
    Json,
    /// A nested record: the name of another model of the app.
    Nested(String),
    /// 128- and 256-bit integers; records carry them as JSON numbers or strings of digits.
    Int128,
    Int256,
    Uint128,
    Uint256,
    /// `FixedString(n)`: a string of at most `n` bytes.
    FixedString(u32),
    /// An IPv4 address in dotted form.
    Ipv4,
    /// An IPv6 address in IPv6 text; IPv4 addresses are written mapped (`::ffff:10.0.0.1`).
    Ipv6,
    /// A ClickHouse geo type.
    Geo(GeoShape),
}

/// The geo types: a point, and arrays of points nested one to three levels deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GeoShape {
    /// `Point`: `[x, y]`.
    Point,
    /// `Ring`: a polygon without holes, an array of points.
    Ring,
    /// `LineString`: an array of points.
    LineString,
    /// `MultiLineString`: an array of line strings.
    MultiLineString,
    /// `Polygon`: the outer ring, then the holes.
    Polygon,
    /// `MultiPolygon`: an array of polygons.
    MultiPolygon,
}

impl GeoShape {
    /// Every shape.
    pub const ALL: [GeoShape; 6] = [
        GeoShape::Point,
        GeoShape::Ring,
        GeoShape::LineString,
        GeoShape::MultiLineString,
        GeoShape::Polygon,
        GeoShape::MultiPolygon,
    ];

    /// The ClickHouse name: `Point`, `Ring`, ...
    pub fn name(self) -> &'static str {
        match self {
            GeoShape::Point => "Point",
            GeoShape::Ring => "Ring",
            GeoShape::LineString => "LineString",
            GeoShape::MultiLineString => "MultiLineString",
            GeoShape::Polygon => "Polygon",
            GeoShape::MultiPolygon => "MultiPolygon",
        }
    }

    /// How many arrays enclose the `[x, y]` points: 0 for a point, 3 for a multi-polygon.
    pub fn depth(self) -> usize {
        match self {
            GeoShape::Point => 0,
            GeoShape::Ring | GeoShape::LineString => 1,
            GeoShape::MultiLineString | GeoShape::Polygon => 2,
            GeoShape::MultiPolygon => 3,
        }
    }
}

/// A type constructor with one type argument. Map keys are always strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TypeWrapper {
    Array,
    Map,
    Nullable,
}

/// A full type: `wrappers` applied outermost first around `leaf`.
/// `{wrappers: [Array, Nullable], leaf: String}` is `Array(Nullable(String))`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataType {
    pub wrappers: Vec<TypeWrapper>,
    pub leaf: ScalarType,
}

/// One field of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub data_type: DataType,
    /// Part of the model's key: table order and stream partitioning.
    pub key: bool,
    /// A ClickHouse default expression; a field with a default may be omitted on ingest.
    pub default: Option<String>,
    pub doc: Option<String>,
    /// Set for a column that holds an aggregate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateColumn>,
    /// The column's codecs inside `CODEC(...)`: `ZSTD(3)`, `Delta, ZSTD(1)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Column `TTL`: once it passes, the value is reset to the column's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// How a column holds an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregateKind {
    /// `AggregateFunction(function, arguments...)`: the function's intermediate state,
    /// written by a materialized view (`uniqState(user)`) and read with `-Merge`; these are
    /// the argument types. Records never carry states; the field's type is what `-Merge`
    /// yields.
    State(Vec<DataType>),
    /// `SimpleAggregateFunction(function, T)`, `T` the field's type: plain values that
    /// merge with the function.
    Simple,
}

/// A column of an aggregating table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateColumn {
    /// The function with its parameters as ClickHouse spells it: `uniq`,
    /// `quantiles(0.5, 0.9)`.
    pub function: String,
    pub kind: AggregateKind,
}

/// A data model: the schema of a stream, a table or a nested record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    /// A version such as `1.1`; versioned models get their own streams, tables and routes.
    pub version: Option<String>,
    pub fields: Vec<Field>,
    pub doc: Option<String>,
}

/// A stream of records of one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDef {
    pub name: String,
    /// Model of the records in the stream.
    pub model: String,
    /// Partition count; 0 lets the host choose.
    pub partitions: u32,
    /// How long records are kept; none lets the host choose.
    pub retention_hours: Option<u32>,
}

/// The MergeTree engine of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableEngine {
    MergeTree,
    /// Keeps the newest row per key.
    ReplacingMergeTree(Replacing),
    /// Sums the listed columns per key (all numeric columns when empty).
    SummingMergeTree(Vec<String>),
    AggregatingMergeTree,
    /// Merging drops pairs of rows with equal keys and opposite signs; names the `Int8`
    /// sign column.
    CollapsingMergeTree(String),
    /// Like `CollapsingMergeTree`, and rows may arrive in any order.
    VersionedCollapsingMergeTree(VersionedCollapsing),
}

/// The columns of `ReplacingMergeTree(version, is_deleted)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacing {
    /// Decides which row of a key is newest; without it the last inserted row wins.
    pub version: Option<String>,
    /// A `UInt8` column: a newest row with 1 deletes its key. Needs `version`.
    pub is_deleted: Option<String>,
}

/// The columns of `VersionedCollapsingMergeTree(sign, version)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedCollapsing {
    /// `Int8`: 1 for a row of state, -1 for the row that cancels it.
    pub sign: String,
    /// Orders the versions of a key's state.
    pub version: String,
}

/// A data-skipping index: `INDEX name expression TYPE kind GRANULARITY granularity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndex {
    pub name: String,
    /// A column or an expression of columns.
    pub expression: String,
    /// The index type with its parameters: `minmax`, `set(100)`, `bloom_filter(0.01)`.
    pub kind: String,
    /// Granules per index block; 0 means 1.
    pub granularity: u32,
}

/// A projection: the rows kept a second time, sorted or aggregated differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    pub name: String,
    /// Its query without `FROM`: `SELECT * ORDER BY user_id`.
    pub select: String,
}

/// How ClickHouse computes a column that records do not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComputedKind {
    /// `MATERIALIZED expression`: computed on insert and stored.
    Materialized,
    /// `ALIAS expression`: computed when read.
    Alias,
}

/// A column a table adds to its model's, computed by ClickHouse from the other columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputedColumn {
    pub name: String,
    pub data_type: DataType,
    pub kind: ComputedKind,
    /// ClickHouse SQL over the table's columns.
    pub expression: String,
    pub doc: Option<String>,
}

/// How ClickHouse stores a table beyond its engine and sort key; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableOptions {
    /// `PARTITION BY` expression.
    pub partition_by: Option<String>,
    /// `PRIMARY KEY`, a prefix of the sort key; empty means the whole sort key.
    pub primary_key: Vec<String>,
    /// `SAMPLE BY` expression, part of the primary key.
    pub sample_by: Option<String>,
    /// Table `TTL`: when rows are deleted or moved.
    pub ttl: Option<String>,
    /// `SETTINGS name = value`, in order.
    pub settings: Vec<(String, String)>,
    pub indexes: Vec<TableIndex>,
    pub projections: Vec<Projection>,
    /// Columns computed by ClickHouse, after the model's.
    pub computed: Vec<ComputedColumn>,
    /// The table belongs to someone else: plans and migrations never create, alter or
    /// drop it; `moose dev` creates it where it is missing.
    pub externally_managed: bool,
}

/// A ClickHouse table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// Model of the rows in the table.
    pub model: String,
    /// Sort key; empty means the model's key fields.
    pub order_by: Vec<String>,
    pub engine: TableEngine,
    /// Stream whose records the host copies into this table, if any.
    pub source_stream: Option<String>,
    #[serde(default)]
    pub options: TableOptions,
}

/// `POST /ingest/<name>` (`/ingest/<name>/<version>` for a versioned model): validated
/// records are written to `stream`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestDef {
    pub name: String,
    pub model: String,
    pub stream: String,
    /// Stream that receives records failing validation.
    pub dead_letter: Option<String>,
}

/// A streaming function: each record of `source` becomes 0..n records of `destination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    pub source: String,
    /// None for a function that only consumes (side effects through logs).
    pub destination: Option<String>,
    /// Stream that receives records the function rejected or failed on.
    pub dead_letter: Option<String>,
}

/// A SQL aggregation, kept up to date as a materialized view writing into `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationDef {
    pub name: String,
    pub select: String,
    /// Tables the select reads.
    pub sources: Vec<String>,
    pub target: TableDef,
}

/// A SQL view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: String,
    pub select: String,
    /// Tables or views the select reads.
    pub sources: Vec<String>,
}

/// A typed query-string parameter of a query API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiParam {
    pub name: String,
    pub data_type: DataType,
    pub required: bool,
    /// Default value in query-string form, used when the parameter is absent.
    pub default: Option<String>,
    /// Inclusive bounds for numeric parameters.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub doc: Option<String>,
}

/// How a windowed aggregation tiles event time: tumbling when `hop_seconds` equals
/// `size_seconds`, hopping (overlapping windows) when it is smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub size_seconds: u32,
    pub hop_seconds: u32,
    /// How long after its end a window still accepts records; then it is emitted and closed.
    pub allowed_lateness_seconds: u32,
}

/// An aggregation the component computes over event-time windows of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowedAggregationDef {
    pub name: String,
    /// Stream whose records are aggregated.
    pub source: String,
    /// Field of the source model holding the event time: Date, DateTime or DateTime64.
    pub time_field: String,
    pub window: WindowSpec,
    /// Table receiving the rows emitted for each closed window.
    pub target: TableDef,
    /// Version of the state bytes' layout; kept state is reused only while it is unchanged.
    pub state_version: u32,
    /// Stream that receives late records and records the guest rejected.
    pub dead_letter: Option<String>,
}

/// `GET /api/<name>` (and `/api/<name>/<version>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiDef {
    pub name: String,
    pub version: Option<String>,
    pub params: Vec<ApiParam>,
    /// Model of each row in the response.
    pub response: String,
    pub doc: Option<String>,
}

/// What one component declares, or (merged) the whole app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppDef {
    pub models: Vec<Model>,
    pub streams: Vec<StreamDef>,
    pub tables: Vec<TableDef>,
    pub ingests: Vec<IngestDef>,
    pub functions: Vec<FunctionDef>,
    pub aggregations: Vec<AggregationDef>,
    pub windowed_aggregations: Vec<WindowedAggregationDef>,
    pub views: Vec<ViewDef>,
    pub apis: Vec<ApiDef>,
}
