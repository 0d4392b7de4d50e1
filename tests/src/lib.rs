//! Shared harness for the integration tests: paths, guest builds (once per test binary)
//! and the `moose` binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use moose_host::builder::{self, BuiltComponent};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// Builds the component in `dir` (relative to the repository root) once per test binary.
pub fn built_guest(dir: &str) -> BuiltComponent {
    static BUILT: OnceLock<Mutex<HashMap<String, BuiltComponent>>> = OnceLock::new();
    let cache = BUILT.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(built) = cache.get(dir) {
        return built.clone();
    }
    let built = builder::build(&repo_root().join(dir))
        .unwrap_or_else(|error| panic!("building {dir}: {error}"));
    cache.insert(dir.to_string(), built.clone());
    built
}

/// The quickstart app's component.
pub fn quickstart() -> BuiltComponent {
    built_guest("examples/quickstart")
}

/// The test component whose functions trap, spin and exhaust memory.
pub fn misbehave() -> BuiltComponent {
    built_guest("tests/guests/misbehave")
}

/// The `moose` binary: `$MOOSE_BIN`, else `target/debug/moose` (scripts/test.sh builds it).
pub fn moose_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("MOOSE_BIN") {
        return PathBuf::from(bin);
    }
    let bin = repo_root().join("target").join("debug").join("moose");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p moose-host` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}
