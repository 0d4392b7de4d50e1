//! Watching component source directories for changes.
//!
//! Every directory of a component is watched on its own (not recursively), skipping
//! dependency, build-output and cache directories, so a large `target/` or `node_modules/`
//! costs no watches; directories created later are watched as they appear. Changes are
//! debounced; reads and editor temporary files are ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::EventKind;
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last change before a component counts as changed.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Directories that hold no component sources.
const IGNORED_DIRS: &[&str] = &[
    "target",
    "node_modules",
    ".moose",
    "__pycache__",
    ".git",
    ".venv",
    "venv",
    ".mypy_cache",
];

/// Starts watching `dirs`; the index (into `dirs`) of each component whose sources
/// changed is sent on the returned channel, once per burst of changes that ends with
/// [`DEBOUNCE`] of quiet. Reads (a build opening the sources) are no changes. The
/// watching ends at the first change after the receiver is dropped.
pub fn watch(dirs: Vec<PathBuf>) -> notify::Result<mpsc::UnboundedReceiver<usize>> {
    let (events_tx, events_rx) = std::sync::mpsc::channel::<notify::Result<Event>>();
    let config = notify::Config::default().with_follow_symlinks(false);
    let mut watcher = RecommendedWatcher::new(events_tx, config)?;
    for dir in &dirs {
        watch_tree(&mut watcher, dir)?;
    }
    let (changed_tx, changed_rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("moose-watch".into())
        .spawn(move || {
            let mut changed: Vec<usize> = Vec::new();
            loop {
                // Block for the first change of a burst, then gather until it is quiet.
                let event = if changed.is_empty() {
                    match events_rx.recv() {
                        Ok(event) => event,
                        Err(_) => return,
                    }
                } else {
                    match events_rx.recv_timeout(DEBOUNCE) {
                        Ok(event) => event,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            for index in changed.drain(..) {
                                if changed_tx.send(index).is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                };
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::warn!("watching sources: {e}");
                        continue;
                    }
                };
                if matches!(event.kind, EventKind::Access(_)) {
                    continue;
                }
                for path in &event.paths {
                    let Some(index) = dirs.iter().position(|d| path.starts_with(d)) else {
                        continue;
                    };
                    let relative = path.strip_prefix(&dirs[index]).unwrap_or(path);
                    if is_ignored(relative) {
                        continue;
                    }
                    if matches!(event.kind, EventKind::Create(_)) && path.is_dir() {
                        if let Err(e) = watch_tree(&mut watcher, path) {
                            tracing::warn!("watching {}: {e}", path.display());
                        }
                    }
                    if !changed.contains(&index) {
                        changed.push(index);
                    }
                }
            }
        })
        .map_err(notify::Error::io)?;
    Ok(changed_rx)
}

/// Watches `dir` and its subdirectories, except ignored ones and symbolic links.
fn watch_tree(watcher: &mut RecommendedWatcher, dir: &Path) -> notify::Result<()> {
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !IGNORED_DIRS.iter().any(|d| entry.file_name() == *d) {
            watch_tree(watcher, &entry.path())?;
        }
    }
    Ok(())
}

/// Whether a change at `relative` (inside a component directory) is no source change: a
/// path in an ignored directory or an editor's temporary or backup file.
fn is_ignored(relative: &Path) -> bool {
    let in_ignored_dir = relative
        .components()
        .any(|c| IGNORED_DIRS.iter().any(|d| c.as_os_str() == *d));
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || [".swp", ".swx", ".swo", ".tmp", ".bak"]
            .iter()
            .any(|ext| name.ends_with(ext))
        || name == "4913";
    in_ignored_dir || temporary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_outputs_and_editor_files() {
        for path in [
            "target/debug/x.rs",
            "node_modules/a/index.js",
            ".moose/build/app.wasm",
            "pkg/__pycache__/m.pyc",
            "app.ts~",
            ".#app.ts",
            "#app.ts#",
            ".app.ts.swp",
            "4913",
        ] {
            assert!(is_ignored(Path::new(path)), "{path}");
        }
        for path in ["app.ts", "src/lib.rs", "pkg/main.py", "Cargo.toml"] {
            assert!(!is_ignored(Path::new(path)), "{path}");
        }
    }
}
