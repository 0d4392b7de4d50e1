//! Production images: built by the real `moose build --docker`, unpacked by outside tools
//! (Debian's skopeo and umoci, which `scripts/setup-image-tools.sh` installs), and the
//! host run from the unpacked root file system.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{copy_of_app, moose_bin, repo_root};

/// One `moose build --docker` run.
#[derive(Debug, Clone)]
pub struct ImageBuild {
    /// The OCI archive.
    pub archive: PathBuf,
    /// `sha256:…` the build printed (the image manifest's digest).
    pub digest: String,
    /// Wall time of the whole command (components, precompilation, layers).
    pub build_time: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// A private copy of an app and the image built from it.
pub struct ImageInfo {
    /// The app's copy; the Dockerfile and its context are in `.moose/dist/`.
    pub dir: tempfile::TempDir,
    pub build: ImageBuild,
    target: PathBuf,
}

/// Copies the app at `app` (relative to the repository root) and builds its image with
/// `moose build --docker`, with `extra` arguments (e.g. `--plan FILE`). Rust components
/// build in a target directory of their own under `target/image-apps/` (kept between
/// runs), so no other copy of the app rebuilds them between two image builds. Panics
/// when the build fails.
pub fn build_image(app: &str, extra: &[&str]) -> ImageInfo {
    let dir = copy_of_app(app);
    let target = repo_root()
        .join("target/image-apps")
        .join(app.replace('/', "-"));
    let build = run_build(dir.path(), &target, extra);
    ImageInfo { dir, build, target }
}

impl ImageInfo {
    /// Builds the image of the same copy again, with `extra` arguments.
    pub fn build_again(&self, extra: &[&str]) -> ImageBuild {
        run_build(self.dir.path(), &self.target, extra)
    }

    /// The `moose build --docker` command of the copy, with `extra` arguments, not run.
    pub fn build_command(&self, extra: &[&str]) -> Command {
        build_command(self.dir.path(), &self.target, extra)
    }
}

/// A copy of the `moose` binary taken once per test process (`target/image-apps/moose-PID`;
/// copies of finished processes are removed), so every image a test builds carries the
/// same binary even when `target/debug/moose` is rebuilt meanwhile.
pub fn image_moose() -> PathBuf {
    static PINNED: OnceLock<PathBuf> = OnceLock::new();
    PINNED
        .get_or_init(|| {
            let dir = repo_root().join("target/image-apps");
            std::fs::create_dir_all(&dir).expect("mkdir");
            for entry in std::fs::read_dir(&dir).expect("dir").filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let pid = name
                    .strip_prefix("moose-")
                    .map(|p| p.trim_end_matches(".partial"));
                if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            let pinned = dir.join(format!("moose-{}", std::process::id()));
            let partial = pinned.with_extension("partial");
            std::fs::copy(moose_bin(), &partial).expect("copying moose");
            std::fs::rename(&partial, &pinned).expect("renaming moose");
            pinned
        })
        .clone()
}

fn build_command(dir: &Path, target: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(image_moose());
    command
        .args(["build", "--docker", "."])
        .args(extra)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target);
    command
}

fn run_build(dir: &Path, target: &Path, extra: &[&str]) -> ImageBuild {
    let started = Instant::now();
    let output = build_command(dir, target, extra)
        .output()
        .expect("moose build runs");
    let build_time = started.elapsed();
    let (stdout, stderr) = texts(&output);
    assert!(
        output.status.success(),
        "moose build --docker failed:\n{stderr}"
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("the build printed no `{name}`:\n{stdout}"))
    };
    ImageBuild {
        archive: PathBuf::from(field("path ")),
        digest: field("digest "),
        build_time,
        stdout,
        stderr,
    }
}

/// Unpacks the OCI archive `archive` under `dest` with the outside tools: skopeo copies it
/// to an OCI layout directory (`dest/oci`), umoci unpacks that into a runtime bundle
/// (`dest/bundle`: `config.json` and `rootfs/`, owners kept when run as root, else
/// `--rootless`). Returns the root file system.
pub fn unpack_image(archive: &Path, dest: &Path) -> PathBuf {
    let layout = format!("{}:image", dest.join("oci").display());
    run(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        &format!("oci-archive:{}", archive.display()),
        &format!("oci:{layout}"),
    ]));
    let bundle = dest.join("bundle");
    let mut umoci = Command::new("umoci");
    umoci.arg("unpack");
    if !is_root() {
        umoci.arg("--rootless");
    }
    run(umoci.args(["--image", &layout]).arg(&bundle));
    bundle.join("rootfs")
}

/// What `skopeo inspect` reports about the image in `archive`.
pub fn skopeo_inspect(archive: &Path) -> Value {
    let output = run(
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{}", archive.display())])
    );
    serde_json::from_slice(&output.stdout).expect("skopeo inspect prints JSON")
}

/// The runtime configuration (`config.json`) umoci wrote beside `rootfs`.
pub fn runtime_config(rootfs: &Path) -> Value {
    let path = rootfs.with_file_name("config.json");
    serde_json::from_slice(&std::fs::read(&path).expect("config.json")).expect("JSON")
}

/// A command running the image's `/usr/local/bin/moose` with `args` from the unpacked
/// `rootfs`: inside it with `chroot` when run as root (paths in `args` are the image's,
/// e.g. `/app`); otherwise through the root file system's own dynamic loader and
/// libraries (paths in `args` are then this machine's).
pub fn rootfs_command(rootfs: &Path, args: &[&str]) -> Command {
    let mut command = if is_root() {
        let mut chroot = Command::new("chroot");
        chroot.arg(rootfs).arg(moose_host::image::BINARY);
        chroot
    } else {
        let loader = std::fs::read_dir(rootfs.join("lib64"))
            .expect("the image has /lib64")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().contains("ld-linux"))
            .expect("the image has its dynamic loader");
        let libraries: Vec<String> = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64"]
            .iter()
            .map(|dir| rootfs.join(dir))
            .filter(|dir| dir.is_dir())
            .map(|dir| dir.display().to_string())
            .collect();
        let mut direct = Command::new(loader);
        direct
            .arg("--library-path")
            .arg(libraries.join(":"))
            .arg(rootfs.join(moose_host::image::BINARY.trim_start_matches('/')));
        direct
    };
    command.args(args);
    command
}

/// True when this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `command`, panicking with its output when it fails.
fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| {
        panic!("running {command:?}: {e} (scripts/setup-image-tools.sh installs it)")
    });
    let (stdout, stderr) = texts(&output);
    assert!(
        output.status.success(),
        "{command:?} failed:\n{stdout}\n{stderr}"
    );
    output
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
