//! `moose ls`.

use std::path::PathBuf;

use anyhow::Context;

use crate::app::{render, App, Section};
use crate::config::Project;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to list; everything when left out.
    #[arg(value_enum)]
    section: Option<Section>,
    /// The app directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Print JSON instead of a listing.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let manifest = project.build_manifest();
    if !manifest.exists() {
        anyhow::bail!(
            "{} has not been built yet; run `moose build {}` first",
            project.root.display(),
            args.dir.display()
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
    let sections = match args.section {
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
