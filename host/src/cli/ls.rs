//! `moose ls`.

use std::path::PathBuf;

use anyhow::Context;

use moose_model::app::App;

use super::render::{render, Section};
use crate::config::Project;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to list (components, models, ingest, streams, tables, functions,
    /// aggregations, views or apis; everything when left out), then the app directory
    /// (default `.`), in either order.
    #[arg(value_name = "WHAT|DIR", num_args = 0..=2)]
    targets: Vec<String>,
    /// Print JSON instead of a listing.
    #[arg(long)]
    json: bool,
}

/// The section and app directory named by `moose ls`'s arguments.
fn section_and_dir(targets: &[String]) -> anyhow::Result<(Option<Section>, PathBuf)> {
    let mut section = None;
    let mut dir = None;
    for target in targets {
        match <Section as clap::ValueEnum>::from_str(target, true) {
            Ok(named) if section.is_none() => section = Some(named),
            _ if dir.is_none() => dir = Some(PathBuf::from(target)),
            _ => anyhow::bail!(
                "`moose ls` takes one section and one app directory, not `{target}` too"
            ),
        }
    }
    Ok((section, dir.unwrap_or_else(|| PathBuf::from("."))))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (section, dir) = section_and_dir(&args.targets)?;
    let project = Project::load(&dir)?;
    let manifest = project.build_manifest();
    if !manifest.exists() {
        anyhow::bail!(
            "{} has not been built yet; run `moose build {}` first",
            project.root.display(),
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let app: App = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is unreadable; run `moose build` again",
            manifest.display()
        )
    })?;
    let sections = match section {
        Some(section) => vec![section],
        None => Section::ALL.to_vec(),
    };
    if args.json {
        println!("{}", section_json(&app, &sections)?);
    } else {
        print!("{}", render(&app, &sections));
    }
    Ok(())
}

fn section_json(app: &App, sections: &[Section]) -> anyhow::Result<String> {
    if sections.len() > 1 {
        return Ok(serde_json::to_string_pretty(app)?);
    }
    let def = &app.def;
    let value = match sections[0] {
        Section::Components => serde_json::to_value(&app.components)?,
        Section::Models => serde_json::to_value(&def.models)?,
        Section::Ingest => serde_json::to_value(&def.ingests)?,
        Section::Streams => serde_json::to_value(&def.streams)?,
        Section::Tables => serde_json::to_value(&def.tables)?,
        Section::Functions => serde_json::to_value(&def.functions)?,
        Section::Aggregations => serde_json::to_value(&def.aggregations)?,
        Section::Views => serde_json::to_value(&def.views)?,
        Section::Apis => serde_json::to_value(&def.apis)?,
    };
    Ok(serde_json::to_string_pretty(&value)?)
}
