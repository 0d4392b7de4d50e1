//! The Dockerfile of the image and its build context, for `docker build`: the context
//! holds the image's files as plain files (`system/`, `state/`, `app/`), the Dockerfile
//! copies them `FROM scratch` and sets what the image config sets.

use std::path::{Path, PathBuf};

use super::layer::{materialize, Entry};
use super::oci::RunConfig;
use super::ImageError;

/// The context directories this module writes, removed before each write.
const CONTEXT_DIRS: [&str; 3] = ["system", "state", "app"];

/// Writes `dir/Dockerfile`, `dir/.dockerignore` and the build context beside them
/// (`system` and `app` entries; entries not owned by root go to `state/` and are copied
/// with their owner). Returns the Dockerfile's path.
pub(super) fn write(
    dir: &Path,
    system: &[Entry],
    app: &[Entry],
    run: &RunConfig,
) -> Result<PathBuf, ImageError> {
    for name in CONTEXT_DIRS {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| ImageError::io(&path, e))?;
        }
    }
    let (owned, root): (Vec<Entry>, Vec<Entry>) =
        system.iter().cloned().partition(|e| e.owner != 0);
    materialize(&root, &dir.join("system"))?;
    materialize(app, dir)?;

    let mut text = String::from(
        "# Written by `moose build --docker`: the same image as the .oci.tar beside it.\n\
         # Build it from this directory: docker build -t NAME .\n\
         FROM scratch\n\
         COPY system/ /\n",
    );
    for entry in &owned {
        let state = dir.join("state").join(&entry.path);
        materialize(std::slice::from_ref(entry), &dir.join("state"))?;
        let slash = if state.is_dir() { "/" } else { "" };
        text.push_str(&format!(
            "COPY --chown={0}:{0} state/{1}{slash} /{1}{slash}\n",
            entry.owner, entry.path
        ));
    }
    text.push_str("COPY app/ /app/\n");
    text.push_str(&format!("USER {}\n", run.user));
    text.push_str(&format!("WORKDIR {}\n", run.working_dir));
    for variable in &run.env {
        if let Some((name, value)) = variable.split_once('=') {
            text.push_str(&format!("ENV {name}={}\n", quoted(value)));
        }
    }
    let ports: Vec<&str> = run.exposed_ports.iter().map(String::as_str).collect();
    text.push_str(&format!("EXPOSE {}\n", ports.join(" ")));
    for (name, value) in &run.labels {
        text.push_str(&format!("LABEL {name}={}\n", quoted(value)));
    }
    let check = &run.healthcheck;
    let seconds = |nanos: u64| format!("{}s", nanos / 1_000_000_000);
    text.push_str(&format!(
        "HEALTHCHECK --interval={} --timeout={} --start-period={} --retries={} CMD {}\n",
        seconds(check.interval),
        seconds(check.timeout),
        seconds(check.start_period),
        check.retries,
        json_array(check.test.iter().skip(1)),
    ));
    text.push_str(&format!("STOPSIGNAL {}\n", run.stop_signal));
    text.push_str(&format!(
        "ENTRYPOINT {}\n",
        json_array(run.entrypoint.iter())
    ));

    let dockerfile = dir.join("Dockerfile");
    std::fs::write(&dockerfile, text).map_err(|e| ImageError::io(&dockerfile, e))?;
    let ignore = dir.join(".dockerignore");
    std::fs::write(&ignore, "*.oci.tar\n.tmp*\n").map_err(|e| ImageError::io(&ignore, e))?;
    Ok(dockerfile)
}

/// `value` as a Dockerfile double-quoted string.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// The exec form of a Dockerfile instruction: a JSON array of strings.
fn json_array<'a>(items: impl Iterator<Item = &'a String>) -> String {
    serde_json::Value::from(items.cloned().collect::<Vec<_>>()).to_string()
}
