//! Rust components: `cargo build --release --target wasm32-wasip2`, or for
//! [`Profile::Dev`] the same with the `moose-dev` profile ([`DEV_PROFILE`]): an edit then
//! recompiles one crate incrementally, without whole-program optimisation (0.7 s instead
//! of 4.6 s for the quickstart), into its own target subdirectory, so release builds stay
//! fresh beside it.
//!
//! Apps made by `moose init` (on this binary's SDK) share one machine-wide target
//! directory, [`crate::config::cargo_target_dir`], so once one app compiled the SDK's
//! dependencies, a new app compiles only its own crate.
//!
//! The built `.wasm` is copied to `<component>/.moose/build/` while a lock on the cargo
//! target directory is held, and that copy is what a later build reuses when cargo finds
//! the crate fresh. So builds sharing one target directory (apps made by `moose init`,
//! one `CARGO_TARGET_DIR`, two copies of an app, or two `moose` processes) never pick up
//! each other's artifact: cargo names a `cdylib`'s
//! output after the crate alone, so the shared `.wasm` is whichever copy compiled last.
//! (A `cargo build` run by hand for this target, outside `moose`, is therefore not picked
//! up until the sources change again.)

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use cargo_metadata::Message;

use super::{BuildError, BuiltComponent, Profile};
use crate::toolchain::hold_lock;
use crate::toolchain::rust::{check_sdk_dependency, ensure_target, TARGET};
use moose_model::app::Language;

/// The `moose-dev` cargo profile, defined on the command line: it inherits the crate's
/// release profile and overrides what makes an edit slow to rebuild.
const DEV_PROFILE: &[&str] = &[
    "profile.moose-dev.inherits=\"release\"",
    "profile.moose-dev.lto=false",
    "profile.moose-dev.codegen-units=16",
    "profile.moose-dev.opt-level=2",
    "profile.moose-dev.incremental=true",
];

pub fn build(dir: &Path, profile: Profile) -> Result<BuiltComponent, BuildError> {
    ensure_target()?;
    let started = Instant::now();
    let spawn_error = |source| BuildError::Spawn {
        tool: "cargo",
        dir: dir.to_path_buf(),
        source,
    };
    let manifest = dir.join("Cargo.toml").canonicalize().map_err(spawn_error)?;
    let on_this_sdk = check_sdk_dependency(&manifest)?;
    let mut cargo = Command::new(cargo());
    cargo.args(["build", "--target", TARGET]);
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target),
        None if on_this_sdk => {
            let shared = crate::config::cargo_target_dir();
            cargo.env("CARGO_TARGET_DIR", &shared);
            shared
        }
        None => dir.join("target"),
    };
    let _turn = lock_target_dir(&target)?;
    match profile {
        Profile::Release => cargo.arg("--release"),
        Profile::Dev => {
            for setting in DEV_PROFILE {
                cargo.arg("--config").arg(setting);
            }
            cargo.args(["--profile", "moose-dev"])
        }
    };
    let mut child = cargo
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;

    let mut artifact: Option<(String, PathBuf, bool)> = None;
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let Ok(Message::CompilerArtifact(built)) = message else {
                continue;
            };
            if built.manifest_path.as_std_path() != manifest {
                continue;
            }
            if let Some(wasm) = built
                .filenames
                .iter()
                .find(|f| f.extension() == Some("wasm"))
            {
                artifact = Some((
                    built.target.name.clone(),
                    wasm.clone().into_std_path_buf(),
                    built.fresh,
                ));
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if !status.success() {
        return Err(BuildError::Failed {
            language: Language::Rust,
            dir: dir.to_path_buf(),
        });
    }
    let (name, wasm, fresh) = artifact.ok_or_else(|| BuildError::NoArtifact {
        language: Language::Rust,
        dir: dir.to_path_buf(),
        reason: "the crate needs `crate-type = [\"cdylib\"]` in its [lib] section".into(),
    })?;
    let kept = kept_copy(dir, &name, profile);
    let wasm = if fresh && kept.is_file() {
        kept
    } else {
        copy_out(&kept, &wasm)?
    };
    Ok(BuiltComponent {
        name,
        language: Language::Rust,
        source: dir.to_path_buf(),
        wasm,
        dev_source: None,
        build_time: started.elapsed(),
        fresh: false,
    })
}

/// Waits for, then holds, the lock of the cargo target directory `target`.
fn lock_target_dir(target: &Path) -> Result<std::fs::File, BuildError> {
    let path = target.join(".moose-build.lock");
    hold_lock(&path).map_err(|source| BuildError::Write { path, source })
}

/// `<dir>/.moose/build/<name>.wasm` (`<name>.dev.wasm` for [`Profile::Dev`]): the
/// component's own copy of its last build of that profile.
fn kept_copy(dir: &Path, name: &str, profile: Profile) -> PathBuf {
    let file = match profile {
        Profile::Release => format!("{name}.wasm"),
        Profile::Dev => format!("{name}.dev.wasm"),
    };
    dir.join(".moose").join("build").join(file)
}

/// Copies the built `wasm` to `copy` (by rename, so a reader never sees a partial file)
/// and returns the copy's path.
fn copy_out(copy: &Path, wasm: &Path) -> Result<PathBuf, BuildError> {
    let partial = copy.with_extension("wasm.partial");
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Write { path, source }
    };
    if let Some(out) = copy.parent() {
        std::fs::create_dir_all(out).map_err(write_error(out))?;
    }
    std::fs::copy(wasm, &partial).map_err(write_error(&partial))?;
    std::fs::rename(&partial, copy).map_err(write_error(copy))?;
    Ok(copy.to_path_buf())
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}
