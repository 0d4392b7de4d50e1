//! The one place where the interface's generated schema types become the app model:
//! what a component's `describe` returns is lowered into [`moose_model::types`] here, and
//! nothing else in the host sees the generated schema types.

use moose_model::types as model;

use super::bindings::types as wit;

impl From<wit::DecimalSpec> for model::DecimalSpec {
    fn from(d: wit::DecimalSpec) -> Self {
        Self {
            precision: d.precision,
            scale: d.scale,
        }
    }
}

impl From<wit::EnumMember> for model::EnumMember {
    fn from(m: wit::EnumMember) -> Self {
        Self {
            name: m.name,
            value: m.value,
        }
    }
}

impl From<wit::ScalarType> for model::ScalarType {
    fn from(t: wit::ScalarType) -> Self {
        use wit::ScalarType as W;
        match t {
            W::String => Self::String,
            W::LowCardinalityString => Self::LowCardinalityString,
            W::Int8 => Self::Int8,
            W::Int16 => Self::Int16,
            W::Int32 => Self::Int32,
            W::Int64 => Self::Int64,
            W::Uint8 => Self::Uint8,
            W::Uint16 => Self::Uint16,
            W::Uint32 => Self::Uint32,
            W::Uint64 => Self::Uint64,
            W::Float32 => Self::Float32,
            W::Float64 => Self::Float64,
            W::Boolean => Self::Boolean,
            W::Decimal(d) => Self::Decimal(d.into()),
            W::Date => Self::Date,
            W::DateTime => Self::DateTime,
            W::DateTime64(precision) => Self::DateTime64(precision),
            W::Uuid => Self::Uuid,
            W::Enum(members) => Self::Enum(lower_all(members)),
            W::Json => Self::Json,
            W::Nested(model) => Self::Nested(model),
            W::Int128 => Self::Int128,
            W::Int256 => Self::Int256,
            W::Uint128 => Self::Uint128,
            W::Uint256 => Self::Uint256,
            W::FixedString(bytes) => Self::FixedString(bytes),
            W::Ipv4 => Self::Ipv4,
            W::Ipv6 => Self::Ipv6,
            W::Geo(shape) => Self::Geo(shape.into()),
        }
    }
}

impl From<wit::GeoShape> for model::GeoShape {
    fn from(shape: wit::GeoShape) -> Self {
        use wit::GeoShape as W;
        match shape {
            W::Point => Self::Point,
            W::Ring => Self::Ring,
            W::LineString => Self::LineString,
            W::MultiLineString => Self::MultiLineString,
            W::Polygon => Self::Polygon,
            W::MultiPolygon => Self::MultiPolygon,
        }
    }
}

impl From<wit::TypeWrapper> for model::TypeWrapper {
    fn from(w: wit::TypeWrapper) -> Self {
        match w {
            wit::TypeWrapper::Array => Self::Array,
            wit::TypeWrapper::Map => Self::Map,
            wit::TypeWrapper::Nullable => Self::Nullable,
        }
    }
}

impl From<wit::DataType> for model::DataType {
    fn from(t: wit::DataType) -> Self {
        Self {
            wrappers: lower_all(t.wrappers),
            leaf: t.leaf.into(),
        }
    }
}

impl From<wit::Field> for model::Field {
    fn from(f: wit::Field) -> Self {
        Self {
            name: f.name,
            data_type: f.data_type.into(),
            key: f.key,
            default: f.default,
            doc: f.doc,
            codec: f.codec,
            ttl: f.ttl,
            aggregate: f.aggregate.map(|a| model::AggregateColumn {
                function: a.function,
                kind: match a.kind {
                    wit::AggregateKind::State(arguments) => {
                        model::AggregateKind::State(lower_all(arguments))
                    }
                    wit::AggregateKind::Simple => model::AggregateKind::Simple,
                },
            }),
        }
    }
}

impl From<wit::Model> for model::Model {
    fn from(m: wit::Model) -> Self {
        Self {
            name: m.name,
            version: m.version,
            fields: lower_all(m.fields),
            doc: m.doc,
        }
    }
}

impl From<wit::StreamDef> for model::StreamDef {
    fn from(s: wit::StreamDef) -> Self {
        Self {
            name: s.name,
            model: s.model,
            partitions: s.partitions,
            retention_hours: s.retention_hours,
        }
    }
}

impl From<wit::TableEngine> for model::TableEngine {
    fn from(e: wit::TableEngine) -> Self {
        use wit::TableEngine as W;
        match e {
            W::MergeTree => Self::MergeTree,
            W::ReplacingMergeTree(r) => Self::ReplacingMergeTree(model::Replacing {
                version: r.version,
                is_deleted: r.is_deleted,
            }),
            W::SummingMergeTree(columns) => Self::SummingMergeTree(columns),
            W::AggregatingMergeTree => Self::AggregatingMergeTree,
            W::CollapsingMergeTree(sign) => Self::CollapsingMergeTree(sign),
            W::VersionedCollapsingMergeTree(v) => {
                Self::VersionedCollapsingMergeTree(model::VersionedCollapsing {
                    sign: v.sign,
                    version: v.version,
                })
            }
        }
    }
}

impl From<wit::TableOptions> for model::TableOptions {
    fn from(o: wit::TableOptions) -> Self {
        Self {
            partition_by: o.partition_by,
            primary_key: o.primary_key,
            sample_by: o.sample_by,
            ttl: o.ttl,
            settings: o.settings.into_iter().map(|s| (s.name, s.value)).collect(),
            indexes: o
                .indexes
                .into_iter()
                .map(|i| model::TableIndex {
                    name: i.name,
                    expression: i.expression,
                    kind: i.type_,
                    granularity: i.granularity,
                })
                .collect(),
            projections: o
                .projections
                .into_iter()
                .map(|p| model::Projection {
                    name: p.name,
                    select: p.select,
                })
                .collect(),
            computed: o
                .computed
                .into_iter()
                .map(|c| model::ComputedColumn {
                    name: c.name,
                    data_type: c.data_type.into(),
                    kind: match c.kind {
                        wit::ComputedKind::Materialized => model::ComputedKind::Materialized,
                        wit::ComputedKind::Alias => model::ComputedKind::Alias,
                    },
                    expression: c.expression,
                    doc: c.doc,
                })
                .collect(),
            externally_managed: o.externally_managed,
        }
    }
}

impl From<wit::TableDef> for model::TableDef {
    fn from(t: wit::TableDef) -> Self {
        Self {
            name: t.name,
            model: t.model,
            order_by: t.order_by,
            engine: t.engine.into(),
            source_stream: t.source_stream,
            options: t.options.into(),
        }
    }
}

impl From<wit::IngestDef> for model::IngestDef {
    fn from(i: wit::IngestDef) -> Self {
        Self {
            name: i.name,
            model: i.model,
            stream: i.stream,
            dead_letter: i.dead_letter,
        }
    }
}

impl From<wit::FunctionDef> for model::FunctionDef {
    fn from(f: wit::FunctionDef) -> Self {
        Self {
            name: f.name,
            source: f.source,
            destination: f.destination,
            dead_letter: f.dead_letter,
        }
    }
}

impl From<wit::AggregationDef> for model::AggregationDef {
    fn from(a: wit::AggregationDef) -> Self {
        Self {
            name: a.name,
            select: a.select,
            sources: a.sources,
            target: a.target.into(),
        }
    }
}

impl From<wit::ViewDef> for model::ViewDef {
    fn from(v: wit::ViewDef) -> Self {
        Self {
            name: v.name,
            select: v.select,
            sources: v.sources,
        }
    }
}

impl From<wit::ApiParam> for model::ApiParam {
    fn from(p: wit::ApiParam) -> Self {
        Self {
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

impl From<wit::WindowSpec> for model::WindowSpec {
    fn from(w: wit::WindowSpec) -> Self {
        Self {
            size_seconds: w.size_seconds,
            hop_seconds: w.hop_seconds,
            allowed_lateness_seconds: w.allowed_lateness_seconds,
        }
    }
}

impl From<wit::WindowedAggregationDef> for model::WindowedAggregationDef {
    fn from(w: wit::WindowedAggregationDef) -> Self {
        Self {
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

impl From<wit::ApiDef> for model::ApiDef {
    fn from(a: wit::ApiDef) -> Self {
        Self {
            name: a.name,
            version: a.version,
            params: lower_all(a.params),
            response: a.response,
            doc: a.doc,
        }
    }
}

impl From<wit::AppDef> for model::AppDef {
    fn from(a: wit::AppDef) -> Self {
        Self {
            models: lower_all(a.models),
            streams: lower_all(a.streams),
            tables: lower_all(a.tables),
            ingests: lower_all(a.ingests),
            functions: lower_all(a.functions),
            aggregations: lower_all(a.aggregations),
            windowed_aggregations: lower_all(a.windowed_aggregations),
            views: lower_all(a.views),
            apis: lower_all(a.apis),
        }
    }
}

fn lower_all<W, M: From<W>>(items: Vec<W>) -> Vec<M> {
    items.into_iter().map(M::from).collect()
}
