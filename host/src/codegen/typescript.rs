//! `app.ts`: models with `t.*` column types, tables with `app.table`.

use moose_model::types::{
    AggregateKind, ComputedKind, DataType, DecimalSpec, EnumMember, Field, GeoShape, IntType,
    TableEngine, TypeLowering,
};

use super::{plain_options, quoted, strings, type_name, Declarations};

struct TsTypes;

impl TypeLowering for TsTypes {
    type Output = String;

    fn string(&mut self, low_cardinality: bool) -> String {
        if low_cardinality {
            "t.lowCardinality()"
        } else {
            "t.string()"
        }
        .into()
    }
    fn integer(&mut self, int: IntType) -> String {
        format!("t.{}int{}()", if int.signed { "" } else { "u" }, int.bits)
    }
    fn float(&mut self, bits: u8) -> String {
        format!("t.float{bits}()")
    }
    fn boolean(&mut self) -> String {
        "t.boolean()".into()
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> String {
        format!("t.decimal({}, {})", spec.precision, spec.scale)
    }
    fn date(&mut self) -> String {
        "t.date()".into()
    }
    fn date_time(&mut self, precision: Option<u8>) -> String {
        match precision {
            Some(p) => format!("t.dateTime64({p})"),
            None => "t.dateTime()".into(),
        }
    }
    fn uuid(&mut self) -> String {
        "t.uuid()".into()
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|m| format!("{}: {}", quoted(&m.name), m.value))
            .collect();
        format!("t.enum({{ {} }})", members.join(", "))
    }
    fn json(&mut self) -> String {
        "t.json()".into()
    }
    fn nested(&mut self, model: &str) -> String {
        format!("t.nested({})", type_name(model))
    }
    fn fixed_string(&mut self, bytes: u32) -> String {
        format!("t.fixedString({bytes})")
    }
    fn ipv4(&mut self) -> String {
        "t.ipv4()".into()
    }
    fn ipv6(&mut self) -> String {
        "t.ipv6()".into()
    }
    fn geo(&mut self, shape: GeoShape) -> String {
        let builder = match shape {
            GeoShape::Point => "point",
            GeoShape::Ring => "ring",
            GeoShape::LineString => "lineString",
            GeoShape::MultiLineString => "multiLineString",
            GeoShape::Polygon => "polygon",
            GeoShape::MultiPolygon => "multiPolygon",
        };
        format!("t.{builder}()")
    }
    fn array(&mut self, item: String) -> String {
        format!("t.array({item})")
    }
    fn map(&mut self, value: String) -> String {
        format!("t.map({value})")
    }
    fn nullable(&mut self, inner: String) -> String {
        format!("t.nullable({inner})")
    }
}

fn ts_type(ty: &DataType) -> String {
    ty.lower(&mut TsTypes)
}

fn field(field: &Field) -> String {
    let mut out = ts_type(&field.data_type);
    if let Some(aggregate) = &field.aggregate {
        match &aggregate.kind {
            AggregateKind::State(arguments) => {
                let mut args = vec![quoted(&aggregate.function)];
                args.extend(arguments.iter().map(ts_type));
                out.push_str(&format!(".aggregateState({})", args.join(", ")));
            }
            AggregateKind::Simple => out.push_str(&format!(
                ".simpleAggregate({})",
                quoted(&aggregate.function)
            )),
        }
    }
    if let Some(default) = &field.default {
        out.push_str(&format!(".default({})", quoted(default)));
    }
    if let Some(codec) = &field.codec {
        out.push_str(&format!(".codec({})", quoted(codec)));
    }
    if let Some(ttl) = &field.ttl {
        out.push_str(&format!(".ttl({})", quoted(ttl)));
    }
    if let Some(doc) = &field.doc {
        out.push_str(&format!(".doc({})", quoted(doc)));
    }
    format!("  {}: {out},\n", quoted(&field.name))
}

fn engine(engine: &TableEngine) -> String {
    let list = |names: &[String]| -> String {
        names
            .iter()
            .map(|n| quoted(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match engine {
        TableEngine::MergeTree => "engines.mergeTree()".into(),
        TableEngine::ReplacingMergeTree(r) => {
            let args: Vec<String> = [&r.version, &r.is_deleted]
                .into_iter()
                .map_while(|c| c.as_deref().map(quoted))
                .collect();
            format!("engines.replacingMergeTree({})", args.join(", "))
        }
        TableEngine::SummingMergeTree(columns) if columns.is_empty() => {
            "engines.summingMergeTree()".into()
        }
        TableEngine::SummingMergeTree(columns) => {
            format!("engines.summingMergeTree([{}])", list(columns))
        }
        TableEngine::AggregatingMergeTree => "engines.aggregatingMergeTree()".into(),
        TableEngine::CollapsingMergeTree(sign) => {
            format!("engines.collapsingMergeTree({})", quoted(sign))
        }
        TableEngine::VersionedCollapsingMergeTree(v) => format!(
            "engines.versionedCollapsingMergeTree({}, {})",
            quoted(&v.sign),
            quoted(&v.version)
        ),
    }
}

/// The source of `app.ts`.
pub fn source(d: Declarations<'_>) -> String {
    let mut out = format!(
        "// The tables of {}, read by `moose init --from-clickhouse`.\n\
         // They are externally managed: plans and migrations never create, alter or drop\n\
         // them, and `moose dev` creates a missing one as a local mirror.\n\n\
         import {{ App, {}engines, model, t, type Infer }} from \"@moose/guest\";\n\n",
        d.origin,
        if d.tables.iter().any(|t| !t.options.computed.is_empty()) {
            "computed, "
        } else {
            ""
        }
    );
    for model in d.models {
        let name = type_name(&model.name);
        if let Some(doc) = &model.doc {
            out.push_str(&format!("/** {} */\n", doc.replace("*/", "*\\/")));
        }
        out.push_str(&format!(
            "export const {name} = model({}, {{\n",
            quoted(&model.name)
        ));
        for f in &model.fields {
            out.push_str(&field(f));
        }
        out.push_str(&format!(
            "}});\nexport type {name} = Infer<typeof {name}>;\n\n"
        ));
    }
    out.push_str("const app = new App();\n");
    for table in d.tables {
        let options = &table.options;
        let mut config = vec![];
        if !table.order_by.is_empty() {
            config.push(format!("orderBy: {}", strings(&table.order_by)));
        }
        config.push(format!("engine: {}", engine(&table.engine)));
        for (option, literal) in plain_options(options) {
            let name = match option {
                "partition_by" => "partitionBy",
                "primary_key" => "primaryKey",
                "sample_by" => "sampleBy",
                other => other,
            };
            config.push(format!("{name}: {literal}"));
        }
        if !options.indexes.is_empty() {
            let indexes: Vec<String> = options
                .indexes
                .iter()
                .map(|i| {
                    format!(
                        "{{ name: {}, expression: {}, type: {}, granularity: {} }}",
                        quoted(&i.name),
                        quoted(&i.expression),
                        quoted(&i.kind),
                        i.granularity
                    )
                })
                .collect();
            config.push(format!("indexes: [{}]", indexes.join(", ")));
        }
        if !options.projections.is_empty() {
            let projections: Vec<String> = options
                .projections
                .iter()
                .map(|p| {
                    format!(
                        "{{ name: {}, select: {} }}",
                        quoted(&p.name),
                        quoted(&p.select)
                    )
                })
                .collect();
            config.push(format!("projections: [{}]", projections.join(", ")));
        }
        if !options.computed.is_empty() {
            let columns: Vec<String> = options
                .computed
                .iter()
                .map(|c| {
                    let kind = match c.kind {
                        ComputedKind::Materialized => "materialized",
                        ComputedKind::Alias => "alias",
                    };
                    format!(
                        "{}: computed.{kind}({}, {})",
                        quoted(&c.name),
                        ts_type(&c.data_type),
                        quoted(&c.expression)
                    )
                })
                .collect();
            config.push(format!("computed: {{ {} }}", columns.join(", ")));
        }
        config.push("externallyManaged: true".into());
        out.push_str(&format!(
            "app.table({}, {}, {{\n  {},\n}});\n",
            quoted(&table.name),
            type_name(&table.model),
            config.join(",\n  ")
        ));
    }
    out.push_str("\nexport default app;\n");
    out
}
