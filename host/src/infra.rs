//! What the host runs for an app: the streams (declared and dead-letter), the
//! stream → table syncs, and the lineage between all of them. Lineage nodes are
//! `kind:name`; ingest endpoints are named by their route (`ingest:Order/1.1`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use moose_model::app::App;
use moose_streams::StreamSpec;

/// Partitions of a stream that declares none.
pub const DEFAULT_PARTITIONS: u32 = 4;
/// Retention of a stream that declares none.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A stream copied into a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncSpec {
    pub stream: String,
    pub table: String,
    /// Where rows the table refuses go.
    pub dead_letter: Option<String>,
}

/// One edge of the app's lineage: data flows from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// The running parts of an app.
#[derive(Debug, Clone)]
pub struct Infra {
    pub streams: Vec<StreamSpec>,
    /// Dead-letter streams, each also stored in a table of the same name.
    pub dead_letters: Vec<String>,
    pub syncs: Vec<SyncSpec>,
    pub lineage: Vec<Edge>,
}

fn edge(from: String, to: String) -> Edge {
    Edge { from, to }
}

/// Derives the infrastructure of a validated app.
pub fn infra(app: &App) -> Infra {
    let def = &app.def;
    let mut streams: Vec<StreamSpec> = def
        .streams
        .iter()
        .map(|s| StreamSpec {
            name: s.name.clone(),
            partitions: if s.partitions == 0 {
                DEFAULT_PARTITIONS
            } else {
                s.partitions
            },
            retention: s
                .retention_hours
                .map(|h| Duration::from_secs(u64::from(h) * 3600))
                .unwrap_or(DEFAULT_RETENTION),
        })
        .collect();
    let dead_letters: BTreeSet<String> = def
        .ingests
        .iter()
        .filter_map(|i| i.dead_letter.clone())
        .chain(def.functions.iter().filter_map(|f| f.dead_letter.clone()))
        .chain(
            def.windowed_aggregations
                .iter()
                .filter_map(|w| w.dead_letter.clone()),
        )
        .collect();
    streams.extend(dead_letters.iter().map(|name| StreamSpec {
        name: name.clone(),
        partitions: 1,
        retention: DEFAULT_RETENTION,
    }));

    // Rows a table refuses go to the dead-letter stream of whatever writes its stream.
    let writer_dead_letter = |stream: &str| {
        def.ingests
            .iter()
            .filter(|i| i.stream == stream)
            .find_map(|i| i.dead_letter.clone())
            .or_else(|| {
                def.functions
                    .iter()
                    .filter(|f| f.destination.as_deref() == Some(stream))
                    .find_map(|f| f.dead_letter.clone())
            })
    };
    let mut syncs: Vec<SyncSpec> = def
        .tables
        .iter()
        .filter_map(|t| {
            let stream = t.source_stream.clone()?;
            Some(SyncSpec {
                dead_letter: writer_dead_letter(&stream),
                stream,
                table: t.name.clone(),
            })
        })
        .collect();
    syncs.extend(dead_letters.iter().map(|name| SyncSpec {
        stream: name.clone(),
        table: name.clone(),
        dead_letter: None,
    }));

    let mut lineage = Vec::new();
    for i in &def.ingests {
        // Named by route (`ingest:Order/1.1`): versions of a model share an endpoint name.
        let node = format!("ingest:{}", app.ingest_route(i));
        lineage.push(edge(node.clone(), format!("stream:{}", i.stream)));
        if let Some(dl) = &i.dead_letter {
            lineage.push(edge(node.clone(), format!("stream:{dl}")));
        }
    }
    for f in &def.functions {
        lineage.push(edge(
            format!("stream:{}", f.source),
            format!("function:{}", f.name),
        ));
        for to in f.destination.iter().chain(&f.dead_letter) {
            lineage.push(edge(format!("function:{}", f.name), format!("stream:{to}")));
        }
    }
    for s in &syncs {
        lineage.push(edge(
            format!("stream:{}", s.stream),
            format!("table:{}", s.table),
        ));
    }
    for a in &def.aggregations {
        for source in &a.sources {
            lineage.push(edge(
                format!("table:{source}"),
                format!("aggregation:{}", a.name),
            ));
        }
        lineage.push(edge(
            format!("aggregation:{}", a.name),
            format!("table:{}", a.target.name),
        ));
    }
    for w in &def.windowed_aggregations {
        lineage.push(edge(
            format!("stream:{}", w.source),
            format!("aggregation:{}", w.name),
        ));
        lineage.push(edge(
            format!("aggregation:{}", w.name),
            format!("table:{}", w.target.name),
        ));
        if let Some(dl) = &w.dead_letter {
            lineage.push(edge(
                format!("aggregation:{}", w.name),
                format!("stream:{dl}"),
            ));
        }
    }
    for v in &def.views {
        for source in &v.sources {
            lineage.push(edge(format!("table:{source}"), format!("view:{}", v.name)));
        }
    }
    Infra {
        streams,
        dead_letters: dead_letters.into_iter().collect(),
        syncs,
        lineage,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use moose_model::types::{
        AppDef, DataType, Field, IngestDef, Model, ScalarType, StreamDef, TableDef, TableEngine,
    };

    /// Pipeline `Order` of `Order@1.0` and of `Order@1.1` (which adds `currency`), as the
    /// SDKs declare them (`tests/guests/versioned-rs`).
    pub(crate) fn versioned_app() -> App {
        let mut def = AppDef::default();
        let string = || DataType::new(vec![], ScalarType::String);
        for version in ["1.0", "1.1"] {
            let mut fields = vec![Field::new("id", string())];
            if version == "1.1" {
                fields.push(Field::new("currency", string()));
            }
            let mut model = Model::new("Order", fields);
            model.version = Some(version.into());
            def.models.push(model);
            let reference = format!("Order@{version}");
            let storage = format!("Order_{}", version.replace('.', "_"));
            def.streams.push(StreamDef {
                name: storage.clone(),
                model: reference.clone(),
                partitions: 0,
                retention_hours: None,
            });
            def.tables.push(TableDef {
                name: storage.clone(),
                model: reference.clone(),
                order_by: vec![],
                engine: TableEngine::MergeTree,
                source_stream: Some(storage.clone()),
                options: Default::default(),
            });
            def.ingests.push(IngestDef {
                name: "Order".into(),
                model: reference,
                stream: storage.clone(),
                dead_letter: Some(format!("{storage}_dead_letter")),
            });
        }
        App {
            name: "versioned".into(),
            components: vec![],
            def,
        }
    }
}
