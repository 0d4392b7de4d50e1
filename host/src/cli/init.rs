//! `moose init`: a new app from the quickstart template, or from the tables of an existing
//! ClickHouse database (`--from-clickhouse`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::codegen::{app_source, Declarations};
use crate::config::CONFIG_FILE;
use crate::toolchain;
use moose_model::app::Language;
use moose_olap::introspect::introspect;
use moose_olap::ClickHouseSection;

/// The quickstart is the template, so the template always builds.
const RUST_LIB: &str = include_str!("../../../examples/quickstart/src/lib.rs");
const RUST_MANIFEST: &str = include_str!("../../../examples/quickstart/Cargo.toml");

/// The TypeScript template: the TypeScript quickstart, with `{{name}}` and `{{sdk}}`
/// placeholders in its manifest.
const TS_FILES: [(&str, &str); 4] = [
    (
        "package.json",
        include_str!("../../../guest-sdk-js/template/package.json"),
    ),
    (
        "tsconfig.json",
        include_str!("../../../examples/quickstart-ts/tsconfig.json"),
    ),
    (
        "app.ts",
        include_str!("../../../examples/quickstart-ts/app.ts"),
    ),
    (
        ".gitignore",
        include_str!("../../../guest-sdk-js/template/gitignore"),
    ),
];
/// The Python template: the Python quickstart, with a `{{name}}` placeholder in its
/// manifest.
const PYTHON_FILES: [(&str, &str); 3] = [
    (
        "pyproject.toml",
        include_str!("../../../guest-sdk-python/template/pyproject.toml"),
    ),
    (
        "app.py",
        include_str!("../../../examples/quickstart-python/app.py"),
    ),
    (
        ".gitignore",
        include_str!("../../../guest-sdk-python/template/gitignore"),
    ),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to create (must not exist or be empty).
    dir: PathBuf,
    /// Language of the app's first component.
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    language: Language,
    /// App name; defaults to the directory's name.
    #[arg(long)]
    name: Option<String>,
    /// Read the models and tables from this ClickHouse server (HTTP URL) instead of
    /// starting from the quickstart. Its password is read from `MOOSE_SEED_PASSWORD`.
    #[arg(long, value_name = "URL")]
    from_clickhouse: Option<String>,
    /// The database to read (with `--from-clickhouse`); the app's `[clickhouse] database`.
    #[arg(long, default_value = "default", requires = "from_clickhouse")]
    database: String,
    /// Read only these tables (with `--from-clickhouse`; default: every MergeTree-family
    /// table of the database).
    #[arg(long = "table", value_name = "TABLE", requires = "from_clickhouse")]
    tables: Vec<String>,
    /// The user to read as (with `--from-clickhouse`).
    #[arg(long, default_value = "default", requires = "from_clickhouse")]
    user: String,
    /// Ask for uncompressed answers, for endpoints without ClickHouse's block compression.
    #[arg(long, requires = "from_clickhouse")]
    uncompressed: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("give the app a name with --name")?,
    };
    let crate_name = crate_name(&name)?;
    if args.dir.exists()
        && std::fs::read_dir(&args.dir)
            .with_context(|| format!("reading {}", args.dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} already exists and is not empty", args.dir.display());
    }
    let existing = match &args.from_clickhouse {
        Some(url) => Some(read_database(&args, url)?),
        None => None,
    };
    let mut files = match args.language {
        Language::Rust => rust_files(&name, &crate_name)?,
        Language::TypeScript => {
            let sdk = toolchain::sdk::js()?;
            let sdk = serde_json::Value::String(format!("file:{}", sdk.display())).to_string();
            template(
                &name,
                &TS_FILES,
                &[
                    ("{{name}}", &crate_name.replace('_', "-")),
                    ("\"file:{{sdk}}\"", &sdk),
                ],
            )
        }
        Language::Python => template(
            &name,
            &PYTHON_FILES,
            &[("{{name}}", &crate_name.replace('_', "-"))],
        ),
    };
    if let Some((source_path, source)) = &existing {
        for (path, contents) in &mut files {
            if path == source_path {
                *contents = source.clone();
            } else if *path == CONFIG_FILE {
                contents.push_str(&format!(
                    "\n[clickhouse]\n# The database the tables were read from.\ndatabase = {}\n",
                    toml_string(&args.database)
                ));
            }
        }
    }
    for (path, contents) in files {
        let path = args.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "Created {} app `{name}` in {}.\nNext: moose build {}",
        args.language,
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}

/// The app source for the tables of `args.database` at `url`, in `args.language`.
fn read_database(args: &Args, url: &str) -> anyhow::Result<(&'static str, String)> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let read = tokio.block_on(async {
        let client = super::olap::source(
            &ClickHouseSection::default(),
            url,
            &args.database,
            &args.user,
            args.uncompressed,
        )
        .await?;
        anyhow::Ok(introspect(&client, &args.tables).await?)
    })?;
    for skipped in &read.skipped {
        eprintln!("Skipped {skipped}.");
    }
    if read.tables.is_empty() {
        bail!(
            "database `{}` has no MergeTree-family table to read",
            args.database
        );
    }
    let origin = format!(
        "database `{}` at {}",
        args.database,
        without_credentials(url)
    );
    let declarations = Declarations {
        models: &read.models,
        tables: &read.tables,
        origin: &origin,
    };
    let source = app_source(args.language, declarations)
        .map_err(|e| anyhow::anyhow!("{e}; read those tables into a TypeScript or Python app"))?;
    eprintln!(
        "Read {} tables of database `{}`: {}.",
        read.tables.len(),
        args.database,
        read.tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(source)
}

/// `url` without a `user:password@` part.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn crate_name(name: &str) -> anyhow::Result<String> {
    let crate_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !crate_name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        bail!("app name `{name}` must start with a letter");
    }
    Ok(crate_name)
}

/// The config file plus a template's files with their placeholders replaced.
fn template(
    name: &str,
    files: &[(&'static str, &str)],
    replacements: &[(&str, &str)],
) -> Vec<(&'static str, String)> {
    let mut out = vec![(CONFIG_FILE, config_toml(name))];
    for (path, text) in files {
        let text = replacements
            .iter()
            .fold(text.to_string(), |text, (from, to)| text.replace(from, to));
        out.push((path, text));
    }
    out
}

fn rust_files(name: &str, crate_name: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let sdk = toolchain::sdk::rust()?;
    Ok(vec![
        (CONFIG_FILE, config_toml(name)),
        ("Cargo.toml", cargo_toml(crate_name, &sdk)),
        ("src/lib.rs", RUST_LIB.to_string()),
        (".gitignore", "/target\n/.moose\n".to_string()),
    ])
}

fn config_toml(name: &str) -> String {
    format!(
        "[app]\nname = {}\n# Component source directories, relative to this file.\ncomponents = [\".\"]\n\n[runtime]\n# Largest memory one instance of a component may use.\nmemory_limit_mb = 512\n# Longest one call into a component (one batch, one API request) may run.\ncall_timeout_ms = 10000\n",
        toml_string(name)
    )
}

/// The quickstart's manifest with the app's crate name and the SDK's absolute path.
fn cargo_toml(crate_name: &str, sdk: &Path) -> String {
    let sdk = format!("path = {}", toml_string(&sdk.display().to_string()));
    RUST_MANIFEST
        .replacen(
            "name = \"quickstart\"",
            &format!("name = \"{crate_name}\""),
            1,
        )
        .replacen("path = \"../../guest-sdk-rust\"", &sdk, 1)
        .lines()
        .filter(|line| !line.starts_with("description = "))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_the_app_and_points_at_the_sdk() {
        let manifest = cargo_toml("shop", Path::new("/opt/moose/guest-sdk-rust"));
        let parsed: toml::Table = manifest.parse().expect("valid TOML");
        assert_eq!(parsed["package"]["name"].as_str(), Some("shop"));
        assert_eq!(
            parsed["dependencies"]["moose-guest"]["path"].as_str(),
            Some("/opt/moose/guest-sdk-rust")
        );
        assert!(parsed["package"].get("description").is_none());
        assert!(
            parsed.contains_key("workspace"),
            "a component is its own workspace"
        );
    }

    #[test]
    fn crate_names_are_rust_identifiers() {
        assert_eq!(crate_name("My Shop-2").expect("valid"), "my_shop_2");
        assert!(crate_name("2shop").is_err());
    }
}
