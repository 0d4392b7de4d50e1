//! `moose build`, and with `--docker` the production image ([`crate::image`]).

use std::path::PathBuf;

use anyhow::Context;

use super::olap;
use super::render::{render, Section};
use crate::assemble::{assemble, Step};
use crate::builder::Profile;
use crate::config::Project;
use crate::image::{self, ImageOptions, ImageReport};
use moose_runtime::LoadSource;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Print the app as JSON instead of a listing.
    #[arg(long)]
    json: bool,
    /// Also package the app as a production container image: an OCI archive and a
    /// Dockerfile with its build context, in `.moose/dist/`.
    #[arg(long)]
    docker: bool,
    /// Where to write the image archive (default `.moose/dist/<app>.oci.tar`).
    #[arg(long, value_name = "FILE", requires = "docker")]
    out: Option<PathBuf>,
    /// The reviewed migration plan to ship (`moose plan --save`); without it the image
    /// carries the plan from an empty database.
    #[arg(long, value_name = "PLAN.json", requires = "docker")]
    plan: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let runtime = super::offline_runtime(&project)?;
    let assembled = assemble(&project, &runtime, Profile::Release, |step| match step {
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

    check_views(&project, &assembled.app)?;

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
    if args.docker {
        let options = ImageOptions {
            binary: image::running_binary()?,
            out: args.out,
            plan: args.plan,
        };
        let report = image::build(
            &project,
            &assembled.app,
            runtime.engine(),
            &options,
            &mut |line| eprintln!("  {line}"),
        )?;
        // With --json, stdout stays one JSON document.
        let summary = image_summary(&report);
        if args.json {
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
    }
    Ok(())
}

/// Checks the app's views and materialized views against its planned tables on the
/// configured ClickHouse, else the embedded engine; apps without views need no engine.
fn check_views(project: &Project, app: &moose_model::app::App) -> anyhow::Result<()> {
    if app.def.aggregations.is_empty() && app.def.views.is_empty() {
        return Ok(());
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let (client, store) = olap::connect(project, None, "to check the views").await?;
        let checked = olap::check_views(&client, app).await;
        if let Some(store) = store {
            store.shutdown().await?;
        }
        checked
    })
}

fn image_summary(report: &ImageReport) -> String {
    const MIB: f64 = (1 << 20) as f64;
    format!(
        "\nImage {}\n digest      {}\n id          {}\n size        {:.1} MiB ({:.1} MiB unpacked)\n path        {}\n dockerfile  {}\n built in    {:.2?}\n",
        report.reference,
        report.digest,
        report.config_digest,
        report.size as f64 / MIB,
        report.unpacked_size as f64 / MIB,
        report.path.display(),
        report.dockerfile.display(),
        report.elapsed,
    )
}
