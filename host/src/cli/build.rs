//! `moose build`.

use std::path::PathBuf;

use anyhow::Context;

use crate::app::{render, Section};
use crate::assemble::{assemble, Step};
use crate::config::Project;
use crate::runtime::LoadSource;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Print the app as JSON instead of a listing.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let runtime = super::offline_runtime(&project)?;
    let assembled = assemble(&project, &runtime, |step| match step {
        Step::Built { component, elapsed } => {
            eprintln!("  built     {component} in {:.2?}", elapsed)
        }
        Step::Loaded {
            component,
            source,
            elapsed,
        } => eprintln!(
            "  {}  {component} in {:.2?}",
            match source {
                LoadSource::Compiled => "compiled",
                LoadSource::Cached => "loaded  ",
            },
            elapsed
        ),
        Step::Described { component, elapsed } => {
            eprintln!("  described {component} in {:.2?}", elapsed)
        }
    })?;

    let manifest = project.build_manifest();
    if let Some(parent) = manifest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(&assembled.app)?;
    std::fs::write(&manifest, &json).with_context(|| format!("writing {}", manifest.display()))?;
    let openapi = project.openapi_file();
    let document = serde_json::to_string_pretty(&crate::openapi::openapi(&assembled.app))?;
    std::fs::write(&openapi, document).with_context(|| format!("writing {}", openapi.display()))?;

    if args.json {
        println!("{json}");
    } else {
        print!("{}", render(&assembled.app, &Section::ALL));
    }
    Ok(())
}
