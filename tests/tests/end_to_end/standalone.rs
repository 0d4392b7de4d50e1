//! `moose` as a user who has only the binary runs it: copied out of the source tree, with
//! caches and toolchains of its own, it creates, builds and runs an app in each language,
//! installing what the builds and the embedded engine need on first use; and the guest
//! SDKs it carries pack as the packages of their ecosystems.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moose_tests::{moose_bin, repo_root, DevHost};
use serde_json::{json, Value};

/// A copy of the `moose` binary outside the source tree, with machine-wide directories
/// of its own (the SDKs it unpacks, the toolchains it installs, the cargo target its Rust
/// apps share).
struct Standalone {
    root: tempfile::TempDir,
    bin: PathBuf,
}

impl Standalone {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let bin = root.path().join("bin/moose");
        std::fs::create_dir_all(bin.parent().expect("bin/")).expect("bin/");
        std::fs::copy(moose_bin(), &bin).expect("copy of the binary");
        Self { root, bin }
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let dir = |name: &str| self.root.path().join(name);
        vec![
            ("XDG_CACHE_HOME", dir("cache")),
            ("XDG_DATA_HOME", dir("data")),
        ]
    }

    /// Runs the copy with `args` in `cwd`, with the copy's environment and `PATH`.
    fn run(&self, args: &[&str], cwd: &Path, path: Option<&Path>) -> Output {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(cwd)
            .envs(self.env())
            .env_remove("MOOSE_PYTHON_BUILD")
            .env_remove("MOOSE_PYTHON_BUILD_VENV");
        if let Some(path) = path {
            command.env("PATH", path);
        }
        command.output().expect("moose runs")
    }

    /// `moose init --language <language>` into a new directory; returns it.
    fn init(&self, language: &str) -> tempfile::TempDir {
        let app = tempfile::tempdir_in(self.root.path()).expect("app dir");
        let name = format!("shop-{language}");
        let out = self.run(
            &["init", ".", "--name", &name, "--language", language],
            app.path(),
            None,
        );
        assert!(out.status.success(), "{}", text_of(&out.stderr));
        app
    }
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, as text.
fn texts(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry"))
    {
        let path = entry.path();
        if path.is_dir() {
            out.extend(texts(&path));
        } else {
            out.push((path.clone(), std::fs::read_to_string(&path).expect("text")));
        }
    }
    out
}

#[test]
fn a_binary_outside_the_source_tree_inits_and_runs_an_app_in_each_language() {
    let moose = Standalone::new();
    let repo = repo_root().display().to_string();
    for language in ["ts", "python", "rust"] {
        let app = moose.init(language);
        for (path, contents) in texts(app.path()) {
            assert!(
                !contents.contains(&repo),
                "{} points into the source tree:\n{contents}",
                path.display()
            );
        }
        if language != "rust" {
            // The first build installs what it needs, saying so.
            let built = moose.run(&["build", "."], app.path(), None);
            let stderr = text_of(&built.stderr);
            assert!(built.status.success(), "{stderr}");
            let installed = match language {
                "ts" => "installing the TypeScript SDK's dependencies",
                _ => "installing the Python build tools (componentize-py==",
            };
            assert!(stderr.contains(installed), "{stderr}");
            assert!(stderr.contains("installed in "), "{stderr}");
        }
        let host = DevHost::start_in(app, moose.bin.clone(), moose.env());
        let order =
            json!({"id": "o1", "customer": "c1", "amount": 1200.0, "ts": "2024-05-01T10:00:00Z"});
        assert_eq!(host.post_records("/ingest/Order", &[order]).0, 200);
        host.wait_for_count(
            "SELECT count() AS n FROM OrderEnriched WHERE tier = 'large'",
            1,
        );
        assert!(host.stop(), "{language}: moose dev exits cleanly");
    }
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        let shared = moose.root.path().join("cache/moose/cargo-target");
        assert!(
            shared.join("wasm32-wasip2").is_dir(),
            "Rust apps made by moose init compile in the shared target directory"
        );
    }
    let data = moose.root.path().join("data/moose");
    for installed in ["chdb-venv", "python-build-venv"] {
        assert!(
            data.join(installed)
                .join("moose-requirements.txt")
                .is_file(),
            "{installed} was installed on first use"
        );
    }
}

#[test]
fn a_missing_system_tool_is_named_with_how_to_get_it() {
    let moose = Standalone::new();
    let empty = tempfile::tempdir().expect("an empty PATH");
    for (language, expected) in [
        ("ts", "node is not available: install Node.js 20 or newer"),
        (
            "python",
            "python3 is not available: install Python 3.11 or newer",
        ),
        ("rust", "cargo is not available: install Rust with rustup"),
    ] {
        let app = moose.init(language);
        let out = moose.run(&["build", "."], app.path(), Some(empty.path()));
        let stderr = text_of(&out.stderr);
        assert!(!out.status.success(), "{language}: {stderr}");
        assert!(stderr.contains(expected), "{language}: {stderr}");
    }
}

#[test]
fn an_app_on_the_gone_sdk_of_another_version_is_told_which_to_use() {
    let moose = Standalone::new();
    for (language, manifest) in [("ts", "package.json"), ("rust", "Cargo.toml")] {
        let app = moose.init(language);
        let path = app.path().join(manifest);
        let text = std::fs::read_to_string(&path).expect("manifest");
        let unpacked = moose.root.path().join("cache/moose/sdk");
        let current = std::fs::read_dir(&unpacked)
            .expect("the SDKs were unpacked")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .find(|name| !name.starts_with('.'))
            .expect("one version");
        assert!(text.contains(&current), "{text}");
        std::fs::write(&path, text.replace(&current, "0.0.1-0000000000000000")).expect("write");
        let out = moose.run(&["build", "."], app.path(), None);
        let stderr = text_of(&out.stderr);
        assert!(!out.status.success(), "{language}: {stderr}");
        assert!(
            stderr.contains("a guest SDK of another moose version that is gone")
                && stderr.contains(&current),
            "{language}: {stderr}"
        );
    }
}

/// A copy of the SDK `name` as the binary carries it, without installed dependencies.
fn carried_sdk(name: &str, into: &Path) -> PathBuf {
    let sdk = moose_host::toolchain::sdk::root()
        .expect("the SDKs unpack")
        .join(name);
    let copy = into.join(name);
    let status = Command::new("cp")
        .arg("-r")
        .arg(&sdk)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(copy.join("node_modules"));
    copy
}

#[test]
fn the_carried_sdks_pack_as_packages_versioned_as_the_wit() {
    let version = moose_host::toolchain::sdk::wit_version();
    let dir = tempfile::tempdir().expect("temp dir");

    let js = carried_sdk("guest-sdk-js", dir.path());
    let packed = Command::new("npm")
        .args(["pack", "--dry-run", "--json", "--loglevel=error"])
        .current_dir(&js)
        .output()
        .expect("npm runs");
    assert!(packed.status.success(), "{}", text_of(&packed.stderr));
    let packed: Value = serde_json::from_slice(&packed.stdout).expect("npm pack --json");
    assert_eq!(packed[0]["name"], "@moose/guest");
    assert_eq!(packed[0]["version"], version);
    let files: Vec<&str> = packed[0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    for expected in ["bin/moose-build.mjs", "src/index.ts", "package.json"] {
        assert!(files.contains(&expected), "{expected} in {files:?}");
    }

    let python = carried_sdk("guest-sdk-python", dir.path());
    let wheels = dir.path().join("wheels");
    let build_python = moose_host::toolchain::python::build_python().expect("the build Python");
    let built = Command::new(&build_python.python)
        .args(["-m", "pip", "wheel", "--quiet", "--no-deps", "-w"])
        .arg(&wheels)
        .arg(&python)
        .output()
        .expect("pip runs");
    assert!(built.status.success(), "{}", text_of(&built.stderr));
    let wheel = wheels.join(format!("moose_guest-{version}-py3-none-any.whl"));
    assert!(wheel.is_file(), "{} was built", wheel.display());

    let crates = dir.path().join("crates");
    let packaged = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "package",
            "-p",
            "moose-guest-macros",
            "-p",
            "moose-guest",
            "--allow-dirty",
            "--target-dir",
        ])
        .arg(&crates)
        .current_dir(repo_root())
        .output()
        .expect("cargo runs");
    assert!(packaged.status.success(), "{}", text_of(&packaged.stderr));
    for name in ["moose-guest", "moose-guest-macros"] {
        let file = crates.join(format!("package/{name}-{version}.crate"));
        assert!(file.is_file(), "{} was packaged and built", file.display());
    }
}
