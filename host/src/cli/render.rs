//! Human-readable listing of an app, as `moose build` and `moose ls` print it.

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, Table};

use moose_model::app::{model_ref, App};
use moose_model::types::{Field, TableDef, TableOptions};

/// The parts of an app that can be listed on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    Components,
    Models,
    Ingest,
    Streams,
    Tables,
    Functions,
    Aggregations,
    Views,
    Apis,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Components,
        Section::Models,
        Section::Ingest,
        Section::Streams,
        Section::Tables,
        Section::Functions,
        Section::Aggregations,
        Section::Views,
        Section::Apis,
    ];

    fn title(self) -> &'static str {
        match self {
            Section::Components => "Components",
            Section::Models => "Models",
            Section::Ingest => "Ingest endpoints",
            Section::Streams => "Streams",
            Section::Tables => "Tables",
            Section::Functions => "Streaming functions",
            Section::Aggregations => "Aggregations",
            Section::Views => "Views",
            Section::Apis => "Query APIs",
        }
    }
}

/// Renders the given sections of `app`; empty sections are left out.
pub fn render(app: &App, sections: &[Section]) -> String {
    let mut out = format!("App `{}`\n", app.name);
    for &section in sections {
        let rows = rows(app, section);
        if rows.is_empty() {
            continue;
        }
        let mut table = Table::new();
        table.load_preset(NOTHING);
        for row in rows {
            table.add_row(row.into_iter().map(Cell::new));
        }
        out.push_str(&format!("\n{} \n", section.title()));
        for line in table.to_string().lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

fn rows(app: &App, section: Section) -> Vec<Vec<String>> {
    let def = &app.def;
    match section {
        Section::Components => app
            .components
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.language.to_string(),
                    format!("{:.1} KiB", c.wasm_size as f64 / 1024.0),
                    c.source.display().to_string(),
                ]
            })
            .collect(),
        Section::Models => def
            .models
            .iter()
            .map(|m| vec![model_ref(m), fields(&m.fields)])
            .collect(),
        Section::Ingest => def
            .ingests
            .iter()
            .map(|i| {
                vec![
                    format!("POST /ingest/{}", app.ingest_route(i)),
                    format!("{} -> stream {}", i.model, i.stream),
                    dead_letter(i.dead_letter.as_deref()),
                ]
            })
            .collect(),
        Section::Streams => def
            .streams
            .iter()
            .map(|s| {
                let partitions = match s.partitions {
                    0 => "default partitions".to_string(),
                    n => format!("{n} partitions"),
                };
                vec![s.name.clone(), s.model.clone(), partitions]
            })
            .collect(),
        Section::Tables => def
            .tables
            .iter()
            .map(|t| {
                table_row(
                    app,
                    t,
                    t.source_stream.as_ref().map(|s| format!("<- stream {s}")),
                )
            })
            .collect(),
        Section::Functions => def
            .functions
            .iter()
            .map(|f| {
                let component = app
                    .function_component(&f.name)
                    .map(|c| c.name.as_str())
                    .unwrap_or("?");
                vec![
                    f.name.clone(),
                    format!(
                        "{} -> {}",
                        f.source,
                        f.destination.as_deref().unwrap_or("(none)")
                    ),
                    dead_letter(f.dead_letter.as_deref()),
                    format!("in {component}"),
                ]
            })
            .collect(),
        Section::Aggregations => def
            .aggregations
            .iter()
            .map(|a| {
                let mut row = table_row(app, &a.target, None);
                row[0] = format!("{} -> table {}", a.name, a.target.name);
                row.push(format!("<- {}", a.sources.join(", ")));
                row
            })
            .chain(def.windowed_aggregations.iter().map(|w| {
                let mut row = table_row(app, &w.target, None);
                row[0] = format!("{} -> table {}", w.name, w.target.name);
                let window = &w.window;
                let tiling = if window.hop_seconds == window.size_seconds {
                    format!("tumbling {} s", window.size_seconds)
                } else {
                    format!(
                        "hopping {} s every {} s",
                        window.size_seconds, window.hop_seconds
                    )
                };
                row.push(format!(
                    "<- stream {} by {}, {tiling}, lateness {} s",
                    w.source, w.time_field, window.allowed_lateness_seconds
                ));
                row
            }))
            .collect(),
        Section::Views => def
            .views
            .iter()
            .map(|v| vec![v.name.clone(), format!("<- {}", v.sources.join(", "))])
            .collect(),
        Section::Apis => def
            .apis
            .iter()
            .map(|a| {
                let path = match &a.version {
                    Some(v) => format!("GET /api/{}/{v}", a.name),
                    None => format!("GET /api/{}", a.name),
                };
                let params: Vec<String> = a
                    .params
                    .iter()
                    .map(|p| {
                        let mut s = format!(
                            "{}{}: {}",
                            p.name,
                            if p.required { "" } else { "?" },
                            p.data_type.type_name()
                        );
                        if let Some(default) = &p.default {
                            s.push_str(&format!(" = {default}"));
                        }
                        s
                    })
                    .collect();
                vec![path, format!("({}) -> [{}]", params.join(", "), a.response)]
            })
            .collect(),
    }
}

fn fields(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| {
            let mut s = format!("{} {}", f.name, f.type_name());
            if f.key {
                s.push_str(" key");
            }
            if let Some(default) = &f.default {
                s.push_str(&format!(" = {default}"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn dead_letter(stream: Option<&str>) -> String {
    stream
        .map(|s| format!("dead letters -> {s}"))
        .unwrap_or_default()
}

fn table_row(app: &App, table: &TableDef, feed: Option<String>) -> Vec<String> {
    let mut keys = format!("ORDER BY ({})", app.order_by(table).join(", "));
    let storage = storage_summary(&table.options);
    if !storage.is_empty() {
        keys = format!("{keys}, {storage}");
    }
    let mut row = vec![
        table.name.clone(),
        table.model.clone(),
        table.engine.sql(),
        keys,
    ];
    row.extend(feed);
    row
}

/// The storage options a table declares, briefly: `PARTITION BY toYYYYMM(ts), TTL ...,
/// 1 index, 1 projection`.
fn storage_summary(options: &TableOptions) -> String {
    let count = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    [
        options
            .partition_by
            .as_ref()
            .map(|p| format!("PARTITION BY {p}")),
        (!options.primary_key.is_empty())
            .then(|| format!("PRIMARY KEY ({})", options.primary_key.join(", "))),
        options.sample_by.as_ref().map(|s| format!("SAMPLE BY {s}")),
        options.ttl.as_ref().map(|t| format!("TTL {t}")),
        count(options.settings.len(), "setting", "settings"),
        count(options.indexes.len(), "index", "indexes"),
        count(options.projections.len(), "projection", "projections"),
        count(
            options.computed.len(),
            "computed column",
            "computed columns",
        ),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}
