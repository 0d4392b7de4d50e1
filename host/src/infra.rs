//! What the host runs for an app: the streams (declared and dead-letter), the
//! stream → table syncs, and the lineage between all of them.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::app::App;
use crate::stream::StreamSpec;

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
        lineage.push(edge(
            format!("ingest:{}", i.name),
            format!("stream:{}", i.stream),
        ));
        if let Some(dl) = &i.dead_letter {
            lineage.push(edge(format!("ingest:{}", i.name), format!("stream:{dl}")));
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
