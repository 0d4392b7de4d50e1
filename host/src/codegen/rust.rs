//! `src/lib.rs`: structs deriving `Model`, enums for enum columns, tables in `app()`.

use moose_model::types::{
    AggregateKind, ComputedKind, DataType, DecimalSpec, EnumMember, Field, GeoShape, IntType,
    Model, ScalarType, TableEngine, TypeLowering,
};

use super::{quoted, snake_identifier, strings, type_name, Declarations};

/// Rust's keywords, which a field needs as a raw identifier.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "typeof", "unsized", "virtual", "yield",
];

/// Rust types of the SDK; enum columns become enums named `enum_name`.
struct RustTypes<'a> {
    enum_name: String,
    enums: &'a mut Vec<(String, Vec<EnumMember>)>,
}

impl TypeLowering for RustTypes<'_> {
    type Output = Result<String, String>;

    fn string(&mut self, _: bool) -> Self::Output {
        Ok("String".into())
    }
    fn integer(&mut self, int: IntType) -> Self::Output {
        Ok(match (int.signed, int.bits) {
            (true, 256) => "moose_guest::types::Int256".into(),
            (false, 256) => "moose_guest::types::UInt256".into(),
            (signed, bits) => format!("{}{bits}", if signed { "i" } else { "u" }),
        })
    }
    fn float(&mut self, bits: u8) -> Self::Output {
        Ok(format!("f{bits}"))
    }
    fn boolean(&mut self) -> Self::Output {
        Ok("bool".into())
    }
    fn decimal(&mut self, spec: &DecimalSpec) -> Self::Output {
        if spec.precision > 28 {
            return Err(format!(
                "Decimal({}, {}): Rust decimals hold at most 28 digits",
                spec.precision, spec.scale
            ));
        }
        Ok(format!("Decimal<{}, {}>", spec.precision, spec.scale))
    }
    fn date(&mut self) -> Self::Output {
        Ok("Date".into())
    }
    fn date_time(&mut self, _: Option<u8>) -> Self::Output {
        Ok("DateTime".into())
    }
    fn uuid(&mut self) -> Self::Output {
        Ok("Uuid".into())
    }
    fn enumeration(&mut self, members: &[EnumMember]) -> Self::Output {
        self.enums.push((self.enum_name.clone(), members.to_vec()));
        Ok(self.enum_name.clone())
    }
    fn json(&mut self) -> Self::Output {
        Ok("Json".into())
    }
    fn nested(&mut self, model: &str) -> Self::Output {
        Ok(type_name(model))
    }
    fn fixed_string(&mut self, _: u32) -> Self::Output {
        Ok("String".into())
    }
    fn ipv4(&mut self) -> Self::Output {
        Ok("std::net::Ipv4Addr".into())
    }
    fn ipv6(&mut self) -> Self::Output {
        Ok("std::net::Ipv6Addr".into())
    }
    fn geo(&mut self, shape: GeoShape) -> Self::Output {
        Ok(format!("moose_guest::types::{}", shape.name()))
    }
    fn array(&mut self, item: Self::Output) -> Self::Output {
        Ok(format!("Vec<{}>", item?))
    }
    fn map(&mut self, value: Self::Output) -> Self::Output {
        Ok(format!("std::collections::BTreeMap<String, {}>", value?))
    }
    fn nullable(&mut self, inner: Self::Output) -> Self::Output {
        Ok(format!("Option<{}>", inner?))
    }
}

struct Writer {
    out: String,
    enums: Vec<(String, Vec<EnumMember>)>,
}

impl Writer {
    fn rust_type(&mut self, ty: &DataType, enum_name: String) -> Result<String, String> {
        ty.lower(&mut RustTypes {
            enum_name,
            enums: &mut self.enums,
        })
    }

    fn model(&mut self, model: &Model) -> Result<(), String> {
        let name = type_name(&model.name);
        let mut body = String::new();
        for field in &model.fields {
            body.push_str(
                &self
                    .field(&name, field)
                    .map_err(|e| format!("{}.{}: {e}", model.name, field.name))?,
            );
        }
        if let Some(doc) = &model.doc {
            self.out.push_str(&doc_comment(doc, ""));
        }
        self.out
            .push_str("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]\n");
        if name != model.name {
            self.out
                .push_str(&format!("#[moose(name = {})]\n", quoted(&model.name)));
        }
        self.out
            .push_str(&format!("pub struct {name} {{\n{body}}}\n\n"));
        Ok(())
    }

    fn field(&mut self, model: &str, field: &Field) -> Result<String, String> {
        let enum_name = format!("{model}{}", type_name(&field.name));
        let ty = self.rust_type(&field.data_type, enum_name)?;
        let mut out = String::new();
        if let Some(doc) = &field.doc {
            out.push_str(&doc_comment(doc, "    "));
        }
        let mut attributes = Vec::new();
        match &field.data_type.leaf {
            ScalarType::LowCardinalityString => attributes.push("low_cardinality".to_string()),
            ScalarType::DateTime64(p) => attributes.push(format!("datetime64 = {p}")),
            ScalarType::FixedString(n) => attributes.push(format!("fixed_string = {n}")),
            _ => {}
        }
        if let Some(default) = &field.default {
            attributes.push(format!("default = {}", quoted(default)));
        }
        if let Some(codec) = &field.codec {
            attributes.push(format!("codec = {}", quoted(codec)));
        }
        if let Some(ttl) = &field.ttl {
            attributes.push(format!("ttl = {}", quoted(ttl)));
        }
        if let Some(aggregate) = &field.aggregate {
            match &aggregate.kind {
                AggregateKind::State(arguments) => {
                    let mut args = vec![quoted(&aggregate.function)];
                    for (i, argument) in arguments.iter().enumerate() {
                        args.push(self.rust_type(argument, format!("{model}Arg{i}"))?);
                    }
                    attributes.push(format!("aggregate({})", args.join(", ")));
                }
                AggregateKind::Simple => attributes.push(format!(
                    "simple_aggregate = {}",
                    quoted(&aggregate.function)
                )),
            }
        }
        if !attributes.is_empty() {
            out.push_str(&format!("    #[moose({})]\n", attributes.join(", ")));
        }
        let ident = snake_identifier(&field.name);
        if ident != field.name {
            out.push_str(&format!("    #[serde(rename = {})]\n", quoted(&field.name)));
        }
        let ident = if KEYWORDS.contains(&ident.as_str()) {
            format!("r#{ident}")
        } else {
            ident
        };
        out.push_str(&format!("    pub {ident}: {ty},\n"));
        Ok(out)
    }

    fn enums(&mut self) {
        for (name, members) in std::mem::take(&mut self.enums) {
            self.out.push_str(
                "#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Model)]\n",
            );
            self.out.push_str(&format!("pub enum {name} {{\n"));
            let mut used = Vec::new();
            for member in members {
                let mut variant = type_name(&member.name);
                while used.contains(&variant) {
                    variant.push('_');
                }
                used.push(variant.clone());
                self.out.push_str(&format!(
                    "    #[serde(rename = {})]\n    {variant} = {},\n",
                    quoted(&member.name),
                    member.value
                ));
            }
            self.out.push_str("}\n\n");
        }
    }
}

fn doc_comment(doc: &str, indent: &str) -> String {
    doc.lines()
        .map(|line| format!("{indent}/// {line}\n"))
        .collect()
}

fn engine(engine: &TableEngine) -> String {
    let option = |value: &Option<String>| match value {
        Some(v) => format!("Some({}.into())", quoted(v)),
        None => "None".into(),
    };
    match engine {
        TableEngine::MergeTree => "TableEngine::MergeTree".into(),
        TableEngine::ReplacingMergeTree(r) => format!(
            "TableEngine::ReplacingMergeTree(moose_guest::Replacing {{ version: {}, is_deleted: {} }})",
            option(&r.version),
            option(&r.is_deleted)
        ),
        TableEngine::SummingMergeTree(columns) => {
            let columns: Vec<String> = columns.iter().map(|c| format!("{}.into()", quoted(c))).collect();
            format!("TableEngine::SummingMergeTree(vec![{}])", columns.join(", "))
        }
        TableEngine::AggregatingMergeTree => "TableEngine::AggregatingMergeTree".into(),
        TableEngine::CollapsingMergeTree(sign) => {
            format!("TableEngine::CollapsingMergeTree({}.into())", quoted(sign))
        }
        TableEngine::VersionedCollapsingMergeTree(v) => format!(
            "TableEngine::VersionedCollapsingMergeTree {{ sign: {}.into(), version: {}.into() }}",
            quoted(&v.sign),
            quoted(&v.version)
        ),
    }
}

/// The source of `src/lib.rs`.
pub fn source(d: Declarations<'_>) -> Result<String, String> {
    let mut writer = Writer {
        out: format!(
            "//! The tables of {}, read by `moose init --from-clickhouse`.\n\
             //! They are externally managed: plans and migrations never create, alter or drop\n\
             //! them, and `moose dev` creates a missing one as a local mirror.\n\n\
             use moose_guest::prelude::*;\n\
             use serde::{{Deserialize, Serialize}};\n\n",
            d.origin
        ),
        enums: Vec::new(),
    };
    for model in d.models {
        writer.model(model)?;
    }
    writer.enums();
    let mut app =
        String::from("/// The app.\npub fn app() -> App {\n    let mut app = App::new();\n");
    for table in d.tables {
        let options = &table.options;
        let mut config = format!("TableConfig::new({})", engine(&table.engine));
        if !table.order_by.is_empty() {
            config.push_str(&format!(
                "\n            .order_by({})",
                strings(&table.order_by)
            ));
        }
        if let Some(partition) = &options.partition_by {
            config.push_str(&format!(
                "\n            .partition_by({})",
                quoted(partition)
            ));
        }
        if !options.primary_key.is_empty() {
            config.push_str(&format!(
                "\n            .primary_key({})",
                strings(&options.primary_key)
            ));
        }
        if let Some(sample) = &options.sample_by {
            config.push_str(&format!("\n            .sample_by({})", quoted(sample)));
        }
        if let Some(ttl) = &options.ttl {
            config.push_str(&format!("\n            .ttl({})", quoted(ttl)));
        }
        for (name, value) in &options.settings {
            config.push_str(&format!(
                "\n            .setting({}, {})",
                quoted(name),
                quoted(value)
            ));
        }
        for index in &options.indexes {
            config.push_str(&format!(
                "\n            .index({}, {}, {}, {})",
                quoted(&index.name),
                quoted(&index.expression),
                quoted(&index.kind),
                index.granularity
            ));
        }
        for projection in &options.projections {
            config.push_str(&format!(
                "\n            .projection({}, {})",
                quoted(&projection.name),
                quoted(&projection.select)
            ));
        }
        for computed in &options.computed {
            let ty = writer
                .rust_type(
                    &computed.data_type,
                    format!("{}{}", type_name(&table.name), type_name(&computed.name)),
                )
                .map_err(|e| format!("{}.{}: {e}", table.name, computed.name))?;
            let kind = match computed.kind {
                ComputedKind::Materialized => "materialized",
                ComputedKind::Alias => "alias",
            };
            config.push_str(&format!(
                "\n            .{kind}::<{ty}>({}, {})",
                quoted(&computed.name),
                quoted(&computed.expression)
            ));
        }
        config.push_str("\n            .externally_managed()");
        app.push_str(&format!(
            "    app.table::<{}>(\n        {},\n        {config},\n        None,\n    );\n",
            type_name(&table.model),
            quoted(&table.name)
        ));
    }
    app.push_str("    app\n}\n\nexport_app!(app);\n");
    writer.enums();
    writer.out.push_str(&app);
    Ok(writer.out)
}
