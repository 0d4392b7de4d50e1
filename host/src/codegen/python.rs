//! `app.py`: dataclass models, `Enum`s for enum columns, tables with `app.table`.

use std::collections::BTreeSet;

use moose_model::types::{
    AggregateKind, ComputedKind, DataType, DecimalSpec, EnumMember, Field, GeoShape, IntType,
    TableEngine, TypeLowering,
};

use super::{plain_options, quoted, snake_identifier, strings, type_name, Declarations};

/// Python's keywords and the names an app module imports.
const RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "field", "model", "app", "date", "datetime",
];

/// Python annotations of the SDK; enum columns become `Enum`s named `enum_name`. Records
/// what the module must import.
struct PyTypes<'a> {
    enum_name: String,
    enums: &'a mut Vec<(String, Vec<EnumMember>)>,
    imports: &'a mut BTreeSet<&'static str>,
}

impl PyTypes<'_> {
    fn import(&mut self, name: &'static str) -> String {
        self.imports.insert(name);
        name.rsplit('.').next().unwrap_or(name).to_string()
    }
}

impl TypeLowering for PyTypes<'_> {
    type Output = String;

    fn string(&mut self, low_cardinality: bool) -> String {
        if low_cardinality {
            format!("{}[str]", self.import("moose_guest.LowCardinality"))
        } else {
            "str".into()
        }
    }
    fn integer(&mut self, int: IntType) -> String {
        let name = int.name();
        let imported: &'static str = match name.as_str() {
            "Int8" => "moose_guest.Int8",
            "Int16" => "moose_guest.Int16",
            "Int32" => "moose_guest.Int32",
            "Int64" => "moose_guest.Int64",
            "Int128" => "moose_guest.Int128",
            "Int256" => "moose_guest.Int256",
            "UInt8" => "moose_guest.UInt8",
            "UInt16" => "moose_guest.UInt16",
            "UInt32" => "moose_guest.UInt32",
            "UInt64" => "moose_guest.UInt64",
            "UInt128" => "moose_guest.UInt128",
            _ => "moose_guest.UInt256",
        };
        self.import(imported)
    }
    fn float(&mut self, bits: u8) -> String {
        if bits == 32 {
            self.import("moose_guest.Float32")
        } else {
            "float".into()
        }
    }
    fn boolean(&mut self) -> String {
        "bool".into()
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> String {
        format!(
            "{}[{}, {}({}, {})]",
            self.import("typing.Annotated"),
            self.import("decimal.Decimal"),
            self.import("moose_guest.decimal"),
            spec.precision,
            spec.scale
        )
    }
    fn date(&mut self) -> String {
        self.import("datetime.date")
    }
    fn date_time(&mut self, precision: Option<u8>) -> String {
        match precision {
            Some(p) => format!("{}[{p}]", self.import("moose_guest.DateTime64")),
            None => self.import("datetime.datetime"),
        }
    }
    fn uuid(&mut self) -> String {
        self.import("uuid.UUID")
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> String {
        self.import("enum.Enum");
        self.enums.push((self.enum_name.clone(), members.to_vec()));
        self.enum_name.clone()
    }
    fn json(&mut self) -> String {
        self.import("moose_guest.Json")
    }
    fn nested(&mut self, model: &str) -> String {
        type_name(model)
    }
    fn fixed_string(&mut self, bytes: u32) -> String {
        format!("{}[{bytes}]", self.import("moose_guest.FixedString"))
    }
    fn ipv4(&mut self) -> String {
        self.import("ipaddress.IPv4Address")
    }
    fn ipv6(&mut self) -> String {
        self.import("ipaddress.IPv6Address")
    }
    fn geo(&mut self, shape: GeoShape) -> String {
        self.import(match shape {
            GeoShape::Point => "moose_guest.Point",
            GeoShape::Ring => "moose_guest.Ring",
            GeoShape::LineString => "moose_guest.LineString",
            GeoShape::MultiLineString => "moose_guest.MultiLineString",
            GeoShape::Polygon => "moose_guest.Polygon",
            GeoShape::MultiPolygon => "moose_guest.MultiPolygon",
        })
    }
    fn array(&mut self, item: String) -> String {
        format!("list[{item}]")
    }
    fn map(&mut self, value: String) -> String {
        format!("dict[str, {value}]")
    }
    fn nullable(&mut self, inner: String) -> String {
        format!("{}[{inner}]", self.import("typing.Optional"))
    }
}

struct Writer {
    enums: Vec<(String, Vec<EnumMember>)>,
    imports: BTreeSet<&'static str>,
}

impl Writer {
    fn annotation(&mut self, ty: &DataType, enum_name: String) -> String {
        ty.lower(&mut PyTypes {
            enum_name,
            enums: &mut self.enums,
            imports: &mut self.imports,
        })
    }

    fn field(&mut self, model: &str, field: &Field) -> String {
        let mut annotation = self.annotation(
            &field.data_type,
            format!("{model}{}", type_name(&field.name)),
        );
        if let Some(aggregate) = &field.aggregate {
            let marker = match &aggregate.kind {
                AggregateKind::State(arguments) => {
                    self.imports.insert("moose_guest.AggregateState");
                    let mut args = vec![quoted(&aggregate.function)];
                    for (i, argument) in arguments.iter().enumerate() {
                        args.push(self.annotation(argument, format!("{model}Arg{i}")));
                    }
                    format!("AggregateState({})", args.join(", "))
                }
                AggregateKind::Simple => {
                    self.imports.insert("moose_guest.SimpleAggregate");
                    format!("SimpleAggregate({})", quoted(&aggregate.function))
                }
            };
            self.imports.insert("typing.Annotated");
            annotation = format!("Annotated[{annotation}, {marker}]");
        }
        let mut ident = snake_identifier(&field.name);
        if RESERVED.contains(&ident.as_str()) {
            ident.push('_');
        }
        let mut options = Vec::new();
        if ident != field.name {
            options.push(format!("name={}", quoted(&field.name)));
        }
        if let Some(doc) = &field.doc {
            options.push(format!("doc={}", quoted(doc)));
        }
        if let Some(default) = &field.default {
            options.push(format!("clickhouse_default={}", quoted(default)));
        }
        if let Some(codec) = &field.codec {
            options.push(format!("codec={}", quoted(codec)));
        }
        if let Some(ttl) = &field.ttl {
            options.push(format!("ttl={}", quoted(ttl)));
        }
        if options.is_empty() {
            format!("    {ident}: {annotation}\n")
        } else {
            self.imports.insert("moose_guest.field");
            format!(
                "    {ident}: {annotation} = field({})\n",
                options.join(", ")
            )
        }
    }
}

fn engine(engine: &TableEngine, imports: &mut BTreeSet<&'static str>) -> String {
    let option = |value: &Option<String>| value.as_deref().map_or("None".into(), quoted);
    let (import, text) = match engine {
        TableEngine::MergeTree => ("moose_guest.MergeTree", "MergeTree()".to_string()),
        TableEngine::ReplacingMergeTree(r) => (
            "moose_guest.ReplacingMergeTree",
            format!(
                "ReplacingMergeTree({}, {})",
                option(&r.version),
                option(&r.is_deleted)
            ),
        ),
        TableEngine::SummingMergeTree(columns) => (
            "moose_guest.SummingMergeTree",
            format!("SummingMergeTree({})", strings(columns)),
        ),
        TableEngine::AggregatingMergeTree => (
            "moose_guest.AggregatingMergeTree",
            "AggregatingMergeTree()".to_string(),
        ),
        TableEngine::CollapsingMergeTree(sign) => (
            "moose_guest.CollapsingMergeTree",
            format!("CollapsingMergeTree({})", quoted(sign)),
        ),
        TableEngine::VersionedCollapsingMergeTree(v) => (
            "moose_guest.VersionedCollapsingMergeTree",
            format!(
                "VersionedCollapsingMergeTree({}, {})",
                quoted(&v.sign),
                quoted(&v.version)
            ),
        ),
    };
    imports.insert(import);
    text
}

/// The source of `app.py`.
pub fn source(d: Declarations<'_>) -> String {
    let mut writer = Writer {
        enums: Vec::new(),
        imports: BTreeSet::from([
            "dataclasses.dataclass",
            "moose_guest.App",
            "moose_guest.TableConfig",
            "moose_guest.model",
        ]),
    };
    let mut models = String::new();
    for model in d.models {
        let name = type_name(&model.name);
        let fields: String = model
            .fields
            .iter()
            .map(|f| writer.field(&name, f))
            .collect();
        models.push_str("\n\n");
        if name != model.name {
            models.push_str(&format!("@model(name={})\n", quoted(&model.name)));
        }
        models.push_str(&format!("@dataclass\nclass {name}:\n"));
        if let Some(doc) = &model.doc {
            models.push_str(&format!("    {}\n\n", quoted(doc)));
        }
        models.push_str(if fields.is_empty() {
            "    pass\n"
        } else {
            &fields
        });
    }
    let mut tables = String::from("\n\napp = App()\n");
    for table in d.tables {
        let options = &table.options;
        let mut config = Vec::new();
        if !table.order_by.is_empty() {
            config.push(format!("order_by={}", strings(&table.order_by)));
        }
        config.push(format!(
            "engine={}",
            engine(&table.engine, &mut writer.imports)
        ));
        for (option, literal) in plain_options(options) {
            config.push(format!("{option}={literal}"));
        }
        if !options.indexes.is_empty() {
            writer.imports.insert("moose_guest.TableIndex");
            let indexes: Vec<String> = options
                .indexes
                .iter()
                .map(|i| {
                    format!(
                        "TableIndex({}, {}, {}, {})",
                        quoted(&i.name),
                        quoted(&i.expression),
                        quoted(&i.kind),
                        i.granularity
                    )
                })
                .collect();
            config.push(format!("indexes=[{}]", indexes.join(", ")));
        }
        if !options.projections.is_empty() {
            writer.imports.insert("moose_guest.Projection");
            let projections: Vec<String> = options
                .projections
                .iter()
                .map(|p| format!("Projection({}, {})", quoted(&p.name), quoted(&p.select)))
                .collect();
            config.push(format!("projections=[{}]", projections.join(", ")));
        }
        if !options.computed.is_empty() {
            let mut columns = Vec::new();
            for c in &options.computed {
                let kind = match c.kind {
                    ComputedKind::Materialized => "Materialized",
                    ComputedKind::Alias => "Alias",
                };
                writer.imports.insert(match c.kind {
                    ComputedKind::Materialized => "moose_guest.Materialized",
                    ComputedKind::Alias => "moose_guest.Alias",
                });
                let annotation = writer.annotation(
                    &c.data_type,
                    format!("{}{}", type_name(&table.name), type_name(&c.name)),
                );
                columns.push(format!(
                    "{}: {kind}({annotation}, {})",
                    quoted(&c.name),
                    quoted(&c.expression)
                ));
            }
            config.push(format!("computed={{{}}}", columns.join(", ")));
        }
        config.push("externally_managed=True".into());
        tables.push_str(&format!(
            "app.table(\n    {},\n    {},\n    TableConfig(\n        {},\n    ),\n)\n",
            quoted(&table.name),
            type_name(&table.model),
            config.join(",\n        ")
        ));
    }
    let mut enums = String::new();
    for (name, members) in std::mem::take(&mut writer.enums) {
        let members: Vec<String> = members
            .iter()
            .map(|m| format!("({}, {})", quoted(&m.name), m.value))
            .collect();
        enums.push_str(&format!(
            "\n\n{name} = Enum({}, [{}])\n",
            quoted(&name),
            members.join(", ")
        ));
    }
    let mut out = format!(
        "\"\"\"The tables of {}, read by `moose init --from-clickhouse`.\n\n\
         They are externally managed: plans and migrations never create, alter or drop them,\n\
         and `moose dev` creates a missing one as a local mirror.\n\"\"\"\n\n\
         from __future__ import annotations\n\n",
        d.origin
    );
    let mut by_module: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for import in &writer.imports {
        if let Some((module, name)) = import.rsplit_once('.') {
            by_module.entry(module).or_default().push(name);
        }
    }
    let (sdk, standard): (Vec<_>, Vec<_>) = by_module
        .into_iter()
        .partition(|(module, _)| *module == "moose_guest");
    for (module, names) in standard.iter().chain(&sdk) {
        if *module == "moose_guest" {
            out.push('\n');
        }
        out.push_str(&format!("from {module} import {}\n", names.join(", ")));
    }
    out.push_str(&enums);
    out.push_str(&models);
    out.push_str(&tables);
    out
}
