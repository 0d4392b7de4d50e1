//! `moose build --docker`: the production artifact of an app as one container image,
//! written as an OCI image layout tarball (`oci-archive`) without any container daemon,
//! plus a Dockerfile and build context for `docker build`.
//!
//! The image is built `FROM scratch` in two layers, so an app change re-uploads only the
//! small second one:
//!
//! ```text
//! /usr/local/bin/moose            the host binary (the running `moose`)       layer 1
//! /lib…, /lib64/…                 the shared libraries and loader it needs    layer 1
//! /etc/passwd, group, hosts       root and the user `moose` (uid 10001)       layer 1
//! /etc/ssl/certs/…                this machine's CA bundle, when it has one   layer 1
//! /tmp (1777), /var/lib/moose     writable; the latter owned by `moose`       layer 1
//! /app/moose.config.toml          production config template                  layer 2
//! /app/components/<name>.wasm     raw component                               layer 2
//! /app/components/<name>.cwasm    precompiled for this host's engine          layer 2
//! /app/infra_map.json             the app's infrastructure map                layer 2
//! /app/plan.json                  the migration plan (`moose plan --save`)    layer 2
//! /app/manifest.json              [`crate::prod::Manifest`]                   layer 2
//! ```
//!
//! The image runs `/usr/local/bin/moose prod /app` as `10001:10001` in `/app` with
//! `MOOSE_LOG_FORMAT=json`, exposes the ingest/API and management ports and carries a
//! Docker `Healthcheck` running `moose health`. Builds are reproducible: entries are
//! sorted, owners and modes explicit, every mtime is `SOURCE_DATE_EPOCH` (0 when unset),
//! JSON keys are sorted, so the same input gives the same image digest.

mod artifact;
mod dockerfile;
mod layer;
mod oci;
mod rootfs;
mod template;

pub use template::TemplateError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use crate::config::Project;
use moose_model::app::App;

/// Where the host binary is in the image.
pub const BINARY: &str = "/usr/local/bin/moose";
/// The artifact directory in the image: what `moose prod` runs.
pub const APP_DIR: &str = "/app";
/// The writable state directory of the host in the image (the user's home).
pub const STATE_DIR: &str = "/var/lib/moose";
/// uid and gid of the user `moose` the image runs as.
pub const USER_ID: u32 = 10001;

/// Why an image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("two files of the image have the path {path}")]
    Duplicate { path: String },
    #[error("finding the shared libraries of {} with ldd: {message}", binary.display())]
    Ldd { binary: PathBuf, message: String },
    #[error("component name `{name}` cannot be a file name (letters, digits, `-`, `_`, `.`)")]
    ComponentName { name: String },
    #[error("precompiling component `{component}`: {message}")]
    Precompile { component: String, message: String },
    #[error("migration plan: {message}")]
    Plan { message: String },
    #[error("{}: cannot make the production config from it: {source}", path.display())]
    Template {
        path: PathBuf,
        source: template::TemplateError,
    },
    #[error("writing {what}: {message}")]
    Json { what: String, message: String },
    #[error("OCI image: {message}")]
    Oci { message: String },
    #[error("SOURCE_DATE_EPOCH={value} is not a number of seconds")]
    SourceDateEpoch { value: String },
}

impl ImageError {
    fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// What to put in the image and where to write it.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The `moose` binary to ship, normally [`running_binary`].
    pub binary: PathBuf,
    /// The archive to write; default [`default_archive`].
    pub out: Option<PathBuf>,
    /// A reviewed migration plan (`moose plan --save`); without one the image carries the
    /// plan from an empty database.
    pub plan: Option<PathBuf>,
}

/// What [`build`] wrote.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// The OCI archive.
    pub path: PathBuf,
    /// `name:tag` of the image in the archive.
    pub reference: String,
    /// `sha256:…` of the image manifest.
    pub digest: String,
    /// `sha256:…` of the image config (the image ID Docker shows).
    pub config_digest: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// Size of the uncompressed layers in bytes.
    pub unpacked_size: u64,
    /// The Dockerfile, beside its build context.
    pub dockerfile: PathBuf,
    pub elapsed: Duration,
}

/// The executable of this process, to ship in the image: `/proc/<pid>/exe`, which stays
/// the running file even when its path was replaced meanwhile (e.g. rebuilt), else the
/// path the process was started from.
pub fn running_binary() -> Result<PathBuf, ImageError> {
    let running = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    if running.is_file() {
        return Ok(running);
    }
    std::env::current_exe().map_err(|e| ImageError::io(Path::new("moose"), e))
}

/// `<app>/.moose/dist/<app-name>.oci.tar`.
pub fn default_archive(project: &Project) -> PathBuf {
    dist_dir(project).join(format!("{}.oci.tar", project.config.app.name))
}

fn dist_dir(project: &Project) -> PathBuf {
    project.state_dir().join("dist")
}

/// Builds the image of `app` (assembled from `project`, its components loaded into
/// `engine`'s runtime) and its Dockerfile; `progress` gets a line per step.
pub fn build(
    project: &Project,
    app: &App,
    engine: &Engine,
    options: &ImageOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ImageReport, ImageError> {
    let started = Instant::now();
    let (mtime, created) = source_date()?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| default_archive(project));
    let out_dir = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| ImageError::io(&out_dir, e))?;

    let app_part = artifact::app_part(project, app, engine, options.plan.as_deref(), progress)?;
    let system = rootfs::system(&options.binary)?;
    let run = run_config(app, &app_part, system.has_ca_bundle, created.as_deref());

    let mut layers = Vec::new();
    for (entries, created_by) in [
        (
            &system.entries,
            "moose host binary, shared libraries, system files".to_string(),
        ),
        (
            &app_part.entries,
            format!(
                "app `{}`: components, infrastructure map, plan, config",
                app.name
            ),
        ),
    ] {
        let layer_started = Instant::now();
        let blob = layer::write_layer(entries, mtime, &out_dir)?;
        progress(&format!(
            "layer {} ({} bytes, {} unpacked) in {:.2?}: {created_by}",
            &blob.digest[..12],
            blob.size,
            blob.tar_size,
            layer_started.elapsed()
        ));
        layers.push((blob, created_by));
    }

    let reference = format!("{}:latest", app.name);
    let mut file =
        tempfile::NamedTempFile::new_in(&out_dir).map_err(|e| ImageError::io(&out_dir, e))?;
    let archive = oci::write_archive(
        file.as_file_mut(),
        &layers
            .iter()
            .map(|(blob, created_by)| oci::Layer { blob, created_by })
            .collect::<Vec<_>>(),
        &run,
        &reference,
        created.as_deref(),
        mtime,
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        let archive_file = file.as_file();
        archive_file
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .and_then(|()| archive_file.sync_all())
            .map_err(|e| ImageError::io(file.path(), e))?;
    }
    file.persist(&out)
        .map_err(|e| ImageError::io(&out, e.error))?;
    let size = std::fs::metadata(&out)
        .map_err(|e| ImageError::io(&out, e))?
        .len();

    let dockerfile =
        dockerfile::write(&dist_dir(project), &system.entries, &app_part.entries, &run)?;
    Ok(ImageReport {
        path: out,
        reference,
        digest: archive.digest,
        config_digest: archive.config_digest,
        size,
        unpacked_size: layers.iter().map(|(blob, _)| blob.tar_size).sum(),
        dockerfile,
        elapsed: started.elapsed(),
    })
}

/// How the image runs.
fn run_config(
    app: &App,
    part: &artifact::AppPart,
    has_ca_bundle: bool,
    created: Option<&str>,
) -> oci::RunConfig {
    let [port, management_port] = part.ports;
    let mut env = vec![
        "PATH=/usr/local/bin".to_string(),
        format!("HOME={STATE_DIR}"),
        "MOOSE_LOG_FORMAT=json".to_string(),
    ];
    if has_ca_bundle {
        env.push(format!("SSL_CERT_FILE={}", rootfs::CA_FILE));
    }
    let mut labels = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            app.name.clone(),
        ),
        (
            "org.opencontainers.image.description".to_string(),
            format!("The Moose app `{}`, run by `moose prod`", app.name),
        ),
        (
            "io.moose.host.version".to_string(),
            part.manifest.host_version.clone(),
        ),
        (
            "io.moose.engine-compat-hash".to_string(),
            part.manifest.engine_compat_hash.clone(),
        ),
    ]);
    if let Some(created) = created {
        labels.insert(
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        );
    }
    let second = 1_000_000_000;
    oci::RunConfig {
        user: format!("{USER_ID}:{USER_ID}"),
        entrypoint: vec![BINARY.into(), "prod".into(), APP_DIR.into()],
        working_dir: APP_DIR.into(),
        env,
        exposed_ports: vec![format!("{port}/tcp"), format!("{management_port}/tcp")],
        labels,
        stop_signal: "SIGTERM".into(),
        healthcheck: oci::Healthcheck {
            test: vec![
                "CMD".into(),
                BINARY.into(),
                "health".into(),
                "--url".into(),
                format!("http://127.0.0.1:{management_port}/health"),
            ],
            interval: 10 * second,
            timeout: 5 * second,
            start_period: 60 * second,
            retries: 3,
        },
    }
}

/// The mtime of every file (`SOURCE_DATE_EPOCH`, else 0) and the image's creation time
/// (RFC 3339, only when `SOURCE_DATE_EPOCH` is set).
fn source_date() -> Result<(u64, Option<String>), ImageError> {
    let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") else {
        return Ok((0, None));
    };
    let seconds: i64 = value
        .trim()
        .parse()
        .map_err(|_| ImageError::SourceDateEpoch {
            value: value.clone(),
        })?;
    let created = chrono::DateTime::from_timestamp(seconds, 0)
        .filter(|_| seconds >= 0)
        .ok_or(ImageError::SourceDateEpoch { value })?;
    Ok((
        seconds as u64,
        Some(created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    ))
}
