//! Conversions between the SDK's plain types and the generated WIT types.

use crate::api::{ApiError, ApiResponse};
use crate::bindings::moose::app::types as wit;
use crate::defs::{
    AggregateKind, AggregationDef, ApiDef, ApiParam, AppDef, ComputedKind, DataType, EnumMember,
    Field, FunctionDef, GeoShape, IngestDef, ModelDef, ScalarType, StreamDef, TableDef,
    TableEngine, TableOptions, TypeWrapper, ViewDef, WindowedAggregationDef,
};
use crate::process::{Batch, Encoding, GuestError, ProcessOutput, RecordError};
use crate::query::QueryError;
use crate::window::{AccumulateOutput, Window, WindowBounds};

fn vec<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

impl From<TypeWrapper> for wit::TypeWrapper {
    fn from(w: TypeWrapper) -> Self {
        match w {
            TypeWrapper::Array => wit::TypeWrapper::Array,
            TypeWrapper::Map => wit::TypeWrapper::Map,
            TypeWrapper::Nullable => wit::TypeWrapper::Nullable,
        }
    }
}

impl From<EnumMember> for wit::EnumMember {
    fn from(m: EnumMember) -> Self {
        wit::EnumMember {
            name: m.name,
            value: m.value,
        }
    }
}

impl From<ScalarType> for wit::ScalarType {
    fn from(s: ScalarType) -> Self {
        use wit::ScalarType as W;
        match s {
            ScalarType::String => W::String,
            ScalarType::LowCardinalityString => W::LowCardinalityString,
            ScalarType::Int8 => W::Int8,
            ScalarType::Int16 => W::Int16,
            ScalarType::Int32 => W::Int32,
            ScalarType::Int64 => W::Int64,
            ScalarType::UInt8 => W::Uint8,
            ScalarType::UInt16 => W::Uint16,
            ScalarType::UInt32 => W::Uint32,
            ScalarType::UInt64 => W::Uint64,
            ScalarType::Float32 => W::Float32,
            ScalarType::Float64 => W::Float64,
            ScalarType::Boolean => W::Boolean,
            ScalarType::Decimal(d) => W::Decimal(wit::DecimalSpec {
                precision: d.precision,
                scale: d.scale,
            }),
            ScalarType::Date => W::Date,
            ScalarType::DateTime => W::DateTime,
            ScalarType::DateTime64(p) => W::DateTime64(p),
            ScalarType::Uuid => W::Uuid,
            ScalarType::Enum(members) => W::Enum(vec(members)),
            ScalarType::Json => W::Json,
            ScalarType::Nested(name) => W::Nested(name),
            ScalarType::Int128 => W::Int128,
            ScalarType::Int256 => W::Int256,
            ScalarType::UInt128 => W::Uint128,
            ScalarType::UInt256 => W::Uint256,
            ScalarType::FixedString(bytes) => W::FixedString(bytes),
            ScalarType::Ipv4 => W::Ipv4,
            ScalarType::Ipv6 => W::Ipv6,
            ScalarType::Geo(shape) => W::Geo(match shape {
                GeoShape::Point => wit::GeoShape::Point,
                GeoShape::Ring => wit::GeoShape::Ring,
                GeoShape::LineString => wit::GeoShape::LineString,
                GeoShape::MultiLineString => wit::GeoShape::MultiLineString,
                GeoShape::Polygon => wit::GeoShape::Polygon,
                GeoShape::MultiPolygon => wit::GeoShape::MultiPolygon,
            }),
        }
    }
}

impl From<DataType> for wit::DataType {
    fn from(t: DataType) -> Self {
        wit::DataType {
            wrappers: vec(t.wrappers),
            leaf: t.leaf.into(),
        }
    }
}

impl From<Field> for wit::Field {
    fn from(f: Field) -> Self {
        wit::Field {
            name: f.name,
            data_type: f.data_type.into(),
            key: f.key,
            default: f.default,
            doc: f.doc,
            aggregate: f.aggregate.map(|a| wit::AggregateColumn {
                function: a.function,
                kind: match a.kind {
                    AggregateKind::State(arguments) => wit::AggregateKind::State(vec(arguments)),
                    AggregateKind::Simple => wit::AggregateKind::Simple,
                },
            }),
            codec: f.codec,
            ttl: f.ttl,
        }
    }
}

impl From<ModelDef> for wit::Model {
    fn from(m: ModelDef) -> Self {
        wit::Model {
            name: m.name,
            version: m.version,
            fields: vec(m.fields),
            doc: m.doc,
        }
    }
}

impl From<StreamDef> for wit::StreamDef {
    fn from(s: StreamDef) -> Self {
        wit::StreamDef {
            name: s.name,
            model: s.model,
            partitions: s.partitions,
            retention_hours: s.retention_hours,
        }
    }
}

impl From<TableEngine> for wit::TableEngine {
    fn from(e: TableEngine) -> Self {
        match e {
            TableEngine::MergeTree => wit::TableEngine::MergeTree,
            TableEngine::ReplacingMergeTree(r) => {
                wit::TableEngine::ReplacingMergeTree(wit::Replacing {
                    version: r.version,
                    is_deleted: r.is_deleted,
                })
            }
            TableEngine::SummingMergeTree(c) => wit::TableEngine::SummingMergeTree(c),
            TableEngine::AggregatingMergeTree => wit::TableEngine::AggregatingMergeTree,
            TableEngine::CollapsingMergeTree(sign) => wit::TableEngine::CollapsingMergeTree(sign),
            TableEngine::VersionedCollapsingMergeTree { sign, version } => {
                wit::TableEngine::VersionedCollapsingMergeTree(wit::VersionedCollapsing {
                    sign,
                    version,
                })
            }
        }
    }
}

impl From<TableOptions> for wit::TableOptions {
    fn from(o: TableOptions) -> Self {
        wit::TableOptions {
            partition_by: o.partition_by,
            primary_key: o.primary_key,
            sample_by: o.sample_by,
            ttl: o.ttl,
            settings: o
                .settings
                .into_iter()
                .map(|(name, value)| wit::TableSetting { name, value })
                .collect(),
            indexes: o
                .indexes
                .into_iter()
                .map(|i| wit::TableIndex {
                    name: i.name,
                    expression: i.expression,
                    type_: i.kind,
                    granularity: i.granularity,
                })
                .collect(),
            projections: o
                .projections
                .into_iter()
                .map(|p| wit::Projection {
                    name: p.name,
                    select: p.select,
                })
                .collect(),
            computed: o
                .computed
                .into_iter()
                .map(|c| wit::ComputedColumn {
                    name: c.name,
                    data_type: c.data_type.into(),
                    kind: match c.kind {
                        ComputedKind::Materialized => wit::ComputedKind::Materialized,
                        ComputedKind::Alias => wit::ComputedKind::Alias,
                    },
                    expression: c.expression,
                    doc: c.doc,
                })
                .collect(),
            externally_managed: o.externally_managed,
        }
    }
}

impl From<TableDef> for wit::TableDef {
    fn from(t: TableDef) -> Self {
        wit::TableDef {
            name: t.name,
            model: t.model,
            order_by: t.order_by,
            engine: t.engine.into(),
            source_stream: t.source_stream,
            options: t.options.into(),
        }
    }
}

impl From<IngestDef> for wit::IngestDef {
    fn from(i: IngestDef) -> Self {
        wit::IngestDef {
            name: i.name,
            model: i.model,
            stream: i.stream,
            dead_letter: i.dead_letter,
        }
    }
}

impl From<FunctionDef> for wit::FunctionDef {
    fn from(f: FunctionDef) -> Self {
        wit::FunctionDef {
            name: f.name,
            source: f.source,
            destination: f.destination,
            dead_letter: f.dead_letter,
        }
    }
}

impl From<AggregationDef> for wit::AggregationDef {
    fn from(a: AggregationDef) -> Self {
        wit::AggregationDef {
            name: a.name,
            select: a.select,
            sources: a.sources,
            target: a.target.into(),
        }
    }
}

impl From<ViewDef> for wit::ViewDef {
    fn from(v: ViewDef) -> Self {
        wit::ViewDef {
            name: v.name,
            select: v.select,
            sources: v.sources,
        }
    }
}

impl From<ApiParam> for wit::ApiParam {
    fn from(p: ApiParam) -> Self {
        wit::ApiParam {
            name: p.name,
            data_type: p.data_type.into(),
            required: p.required,
            default: p.default,
            min: p.min,
            max: p.max,
            doc: p.doc,
        }
    }
}

impl From<ApiDef> for wit::ApiDef {
    fn from(a: ApiDef) -> Self {
        wit::ApiDef {
            name: a.name,
            version: a.version,
            params: vec(a.params),
            response: a.response,
            doc: a.doc,
        }
    }
}

impl From<Window> for wit::WindowSpec {
    fn from(w: Window) -> Self {
        wit::WindowSpec {
            size_seconds: w.size_seconds,
            hop_seconds: w.hop_seconds,
            allowed_lateness_seconds: w.allowed_lateness_seconds,
        }
    }
}

impl From<WindowedAggregationDef> for wit::WindowedAggregationDef {
    fn from(w: WindowedAggregationDef) -> Self {
        wit::WindowedAggregationDef {
            name: w.name,
            source: w.source,
            time_field: w.time_field,
            window: w.window.into(),
            target: w.target.into(),
            state_version: w.state_version,
            dead_letter: w.dead_letter,
        }
    }
}

impl From<wit::WindowBounds> for WindowBounds {
    fn from(w: wit::WindowBounds) -> Self {
        WindowBounds {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
        }
    }
}

impl From<AccumulateOutput> for wit::AccumulateOutput {
    fn from(o: AccumulateOutput) -> Self {
        wit::AccumulateOutput {
            state: o.state,
            errors: vec(o.errors),
        }
    }
}

impl From<AppDef> for wit::AppDef {
    fn from(a: AppDef) -> Self {
        wit::AppDef {
            models: vec(a.models),
            streams: vec(a.streams),
            tables: vec(a.tables),
            ingests: vec(a.ingests),
            functions: vec(a.functions),
            aggregations: vec(a.aggregations),
            windowed_aggregations: vec(a.windowed_aggregations),
            views: vec(a.views),
            apis: vec(a.apis),
        }
    }
}

impl From<wit::Encoding> for Encoding {
    fn from(e: wit::Encoding) -> Self {
        match e {
            wit::Encoding::Json => Encoding::Json,
        }
    }
}

impl From<Encoding> for wit::Encoding {
    fn from(e: Encoding) -> Self {
        match e {
            Encoding::Json => wit::Encoding::Json,
        }
    }
}

impl From<wit::Batch> for Batch {
    fn from(b: wit::Batch) -> Self {
        Batch {
            encoding: b.encoding.into(),
            count: b.count,
            data: b.data,
        }
    }
}

impl From<Batch> for wit::Batch {
    fn from(b: Batch) -> Self {
        wit::Batch {
            encoding: b.encoding.into(),
            count: b.count,
            data: b.data,
        }
    }
}

impl From<RecordError> for wit::RecordError {
    fn from(e: RecordError) -> Self {
        wit::RecordError {
            index: e.index,
            message: e.message,
        }
    }
}

impl From<ProcessOutput> for wit::ProcessOutput {
    fn from(o: ProcessOutput) -> Self {
        wit::ProcessOutput {
            output: o.output.into(),
            sources: o.sources,
            errors: vec(o.errors),
        }
    }
}

impl From<GuestError> for wit::GuestError {
    fn from(e: GuestError) -> Self {
        match e {
            GuestError::UnknownFunction(name) => wit::GuestError::UnknownFunction(name),
            GuestError::UnsupportedEncoding(enc) => {
                wit::GuestError::UnsupportedEncoding(enc.into())
            }
            GuestError::Failed(m) => wit::GuestError::Failed(m),
        }
    }
}

impl From<QueryError> for wit::QueryError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Invalid(m) => wit::QueryError::Invalid(m),
            QueryError::Denied(m) => wit::QueryError::Denied(m),
            QueryError::Timeout => wit::QueryError::Timeout,
            QueryError::TooLarge(n) => wit::QueryError::TooLarge(n),
            QueryError::Unavailable(m) => wit::QueryError::Unavailable(m),
            QueryError::Failed(m) => wit::QueryError::Failed(m),
        }
    }
}

impl From<ApiResponse> for wit::ApiResponse {
    fn from(r: ApiResponse) -> Self {
        wit::ApiResponse {
            status: r.status,
            body: r.body,
        }
    }
}

impl From<ApiError> for wit::ApiError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::UnknownApi(name) => wit::ApiError::UnknownApi(name),
            ApiError::BadRequest(m) => wit::ApiError::BadRequest(m),
            ApiError::NotFound(m) => wit::ApiError::NotFound(m),
            ApiError::Query(q) => wit::ApiError::Query(q.into()),
            ApiError::Failed(m) => wit::ApiError::Failed(m),
        }
    }
}
